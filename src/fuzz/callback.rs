//! The callback query and form ([`Callback`]): the same parameters as a
//! plain `application/x-www-form-urlencoded` decoder (written here from the
//! WHATWG URL standard) reads, refused on a repeated name, past 64
//! parameters or past 64 KiB, and values never in `Debug`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::edits::{apply, edits};
use super::settings;
use crate::Callback;
use crate::error::{CallbackError, clip};

/// `application/x-www-form-urlencoded` parsing (WHATWG URL, section 5.1):
/// split on `&`, drop empty pieces, split each at its first `=`, turn `+`
/// into a space, percent-decode, and read the bytes as UTF-8 (lossy).
fn decode(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &[][..]),
            };
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(bytes: &[u8]) -> String {
    let hex = |b: &u8| (*b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes.get(i + 1..i + 3) {
            Some([high, low]) if bytes[i] == b'%' => hex(high).zip(hex(low)),
            _ => None,
        };
        match (bytes[i], escape) {
            (_, Some((high, low))) => {
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What [`Callback::from_pairs`] must make of these pairs.
fn model(pairs: &[(String, String)]) -> Result<(), CallbackError> {
    let mut seen = std::collections::HashSet::new();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if i == 64 {
            return Err(CallbackError::Malformed);
        }
        if !seen.insert(name) {
            return Err(CallbackError::DuplicateParameter(clip(name, 64)));
        }
    }
    Ok(())
}

/// The callback read from `input` holds what the reference decoder reads.
fn agrees(input: &[u8], got: Result<Callback, CallbackError>) -> Result<(), TestCaseError> {
    if input.len() > 64 * 1024 {
        prop_assert!(matches!(got, Err(CallbackError::Malformed)));
        return Ok(());
    }
    let pairs = decode(input);
    match (got, model(&pairs)) {
        (Ok(callback), Ok(())) => {
            for (name, value) in &pairs {
                prop_assert_eq!(callback.get(name), Some(value.as_str()));
            }
            prop_assert_eq!(callback.get("\u{0}absent"), None);
        }
        (Err(got), Err(expected)) => prop_assert_eq!(format!("{got:?}"), format!("{expected:?}")),
        (got, expected) => prop_assert!(false, "{:?} vs {:?}", got.map(|_| ()), expected),
    }
    Ok(())
}

/// One part of a name or value, written plainly, percent-encoded, or with
/// `+` for a space.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "code", "state", "iss", "id_token", "error", "a", " ", "é", "&", "=", "+", "%"
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-z]{0,3}",
        "(?s).{0,4}",
    ]
}

fn encoded() -> impl Strategy<Value = String> {
    (vec(piece(), 0..3), 0..4u8).prop_map(|(pieces, how)| {
        let text = pieces.concat();
        match how {
            // Plain (an `&`, `=` or `%` in it splits or breaks it).
            0 => text,
            // Every byte percent-encoded, in either case.
            1 => text.bytes().map(|b| format!("%{b:02X}")).collect(),
            2 => text.bytes().map(|b| format!("%{b:02x}")).collect(),
            // Form style.
            _ => url::form_urlencoded::byte_serialize(text.as_bytes()).collect(),
        }
    })
}

fn query() -> impl Strategy<Value = String> {
    vec((encoded(), prop::option::weighted(0.9, encoded())), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{name}={value}"),
                None => name,
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn a_query_reads_as_the_reference_decoder_reads_it(query in query(), edits in prop::option::of(edits())) {
        let query = match &edits {
            Some(edits) => String::from_utf8_lossy(&apply(query.as_bytes(), edits)).into_owned(),
            None => query,
        };
        let got = Callback::from_query(&query);
        if let Ok(callback) = &got {
            prop_assert!(callback.in_url());
        }
        agrees(query.as_bytes(), got)?;
    }

    #[test]
    fn any_form_body_reads_as_the_reference_decoder_reads_it(body in vec(any::<u8>(), 0..128)) {
        agrees(&body, Callback::from_form(&body))?;
    }

    #[test]
    fn parameter_floods_are_refused(count in 0..200usize, repeat in prop::option::of(0..200usize)) {
        let mut query: Vec<String> = (0..count).map(|i| format!("p{i}=v")).collect();
        if let Some(i) = repeat {
            query.push(format!("p{i}=again"));
        }
        let query = query.join("&");
        agrees(query.as_bytes(), Callback::from_query(&query))?;
    }

    #[test]
    fn bodies_over_64_kib_are_refused(extra in 1..4096usize) {
        let body = "a".repeat(64 * 1024 + extra);
        prop_assert!(matches!(Callback::from_form(body.as_bytes()), Err(CallbackError::Malformed)));
        prop_assert!(matches!(Callback::from_query(&body), Err(CallbackError::Malformed)));
    }

    #[test]
    fn debug_shows_no_value(pairs in vec(("[a-z]{1,6}", "[A-Z0-9]{8,16}"), 0..8)) {
        if let Ok(callback) = Callback::from_pairs(pairs.clone()) {
            let shown = format!("{callback:?}");
            for (_, value) in &pairs {
                prop_assert!(!shown.contains(value.as_str()), "{}", shown);
            }
        }
    }
}

#[test]
fn the_reference_decoder_reads_the_usual_forms() {
    assert_eq!(
        decode(b"code=a%2Bb+c&&state=%E2%82%AC&x&%zz=%4"),
        [
            ("code".to_owned(), "a+b c".to_owned()),
            ("state".to_owned(), "€".to_owned()),
            ("x".to_owned(), String::new()),
            ("%zz".to_owned(), "%4".to_owned()),
        ]
    );
}
