//! Byte-level mutations of valid inputs: they reach deeper than random bytes,
//! because most of the input stays well-formed.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// One change to a byte string.
#[derive(Debug, Clone)]
pub(super) enum Edit {
    /// Flips one bit.
    Flip(Index, u8),
    /// Overwrites one byte.
    Set(Index, u8),
    /// Inserts bytes before a position (or at the end).
    Insert(Index, Vec<u8>),
    /// Removes up to this many bytes.
    Remove(Index, u8),
    /// Cuts the input here.
    Truncate(Index),
    /// Copies up to `len` bytes from one place to another.
    Copy { from: Index, len: u8, to: Index },
}

/// Bytes that matter to the grammars fuzzed here, beside random ones.
const INTERESTING: &[u8] = b"{}[]\":,.=&%+-_/\\ \n\t\r019aAzZ~\x00\x7f\x80\xc3\xa9\xff";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), select(INTERESTING)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Edit::Flip(at, bit)),
        (any::<Index>(), byte()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<Index>(), vec(byte(), 1..6)).prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<Index>(), 1..8u8).prop_map(|(at, len)| Edit::Remove(at, len)),
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), 1..16u8, any::<Index>()).prop_map(|(from, len, to)| Edit::Copy {
            from,
            len,
            to
        }),
    ]
}

/// One to four edits.
pub(super) fn edits() -> impl Strategy<Value = Vec<Edit>> {
    vec(edit(), 1..=4)
}

/// Edits that change the input only where they are: no [`Edit::Copy`], which
/// could carry part of a secret into a field whose value is shown.
pub(super) fn local_edits() -> impl Strategy<Value = Vec<Edit>> {
    edits().prop_map(|edits| {
        edits
            .into_iter()
            .filter(|edit| !matches!(edit, Edit::Copy { .. }))
            .collect()
    })
}

/// A position in `0..len`, or 0 for an empty input.
fn at(index: &Index, len: usize) -> usize {
    if len == 0 { 0 } else { index.index(len) }
}

/// `input` with the edits applied in order.
pub(super) fn apply(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = input.to_vec();
    for edit in edits {
        let len = out.len();
        match edit {
            Edit::Flip(i, bit) if len > 0 => out[at(i, len)] ^= 1 << bit,
            Edit::Set(i, b) if len > 0 => out[at(i, len)] = *b,
            Edit::Insert(i, bytes) => {
                let pos = at(i, len + 1);
                out.splice(pos..pos, bytes.iter().copied());
            }
            Edit::Remove(i, n) if len > 0 => {
                let pos = at(i, len);
                let end = (pos + usize::from(*n)).min(len);
                out.drain(pos..end);
            }
            Edit::Truncate(i) => out.truncate(at(i, len + 1)),
            Edit::Copy { from, len: n, to } if len > 0 => {
                let start = at(from, len);
                let end = (start + usize::from(*n)).min(len);
                let chunk = out[start..end].to_vec();
                let pos = at(to, len + 1);
                out.splice(pos..pos, chunk);
            }
            _ => {}
        }
    }
    out
}

/// `input` with the edits applied, as text (invalid UTF-8 replaced).
pub(super) fn apply_str(input: &str, edits: &[Edit]) -> String {
    String::from_utf8_lossy(&apply(input.as_bytes(), edits)).into_owned()
}
