//! JWKS documents ([`KeySet::from_jwks`]): a document is read exactly when
//! serde_json reads it as an object with a `keys` array; every entry is
//! either used or counted as skipped, at most 32 are used; an edited key is
//! used only when its `use`, `key_ops`, `alg` and members allow it, and then
//! verifies exactly the signatures of the key it still is.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::edits::{apply, edits};
use super::json_text::{Json, json, nested};
use super::{depths, settings};
use crate::Algorithm;
use crate::token::test_support::{ED25519, P256, P384, P521, RSA_A, TestKey, b64, sign_token};
use crate::token::{Jws, KeySet};

/// A key, the algorithm it signs with here, and a token it signed (no
/// `kid`, so every key of the set that fits the algorithm is tried).
struct Signed {
    jwk: Value,
    alg: Algorithm,
    token: String,
}

static SIGNED: LazyLock<Vec<Signed>> = LazyLock::new(|| {
    let keys: [(&TestKey, Algorithm); 6] = [
        (&RSA_A, Algorithm::RS256),
        (&RSA_A, Algorithm::PS512),
        (&P256, Algorithm::ES256),
        (&P384, Algorithm::ES384),
        (&P521, Algorithm::ES512),
        (&ED25519, Algorithm::EdDSA),
    ];
    keys.into_iter()
        .map(|(key, alg)| Signed {
            jwk: key.jwk("k"),
            alg,
            token: sign_token(key, alg, None, &json!({"sub": "user-1"})),
        })
        .collect()
});

/// A change to one JWK member.
#[derive(Debug, Clone)]
enum MemberEdit {
    Remove(&'static str),
    Set(&'static str, Value),
    /// A base64url member's bytes edited (or a leading zero added).
    Bytes(&'static str, Vec<super::edits::Edit>),
    LeadingZero(&'static str),
}

const NAMES: &[&str] = &[
    "kty", "crv", "n", "e", "x", "y", "kid", "use", "key_ops", "alg", "d", "k", "p", "oth", "x5c",
];
const MATERIAL: &[&str] = &["n", "e", "x", "y"];

fn value() -> impl Strategy<Value = Value> {
    let text = select(
        &[
            "sig", "enc", "RSA", "EC", "OKP", "oct", "P-256", "P-384", "P-521", "Ed25519",
            "X25519", "RS256", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "none", "",
            "AQAB", "AA",
        ][..],
    )
    .prop_map(|s| Value::String(s.to_owned()));
    let ops = vec(
        select(&["verify", "sign", "encrypt", "wrapKey"][..]).prop_map(|s| json!(s)),
        0..3,
    )
    .prop_map(Value::Array);
    prop_oneof![
        3 => text,
        2 => ops,
        1 => json(false).prop_map(|j| serde_json::from_str(&j.to_text()).unwrap_or(Value::Null)),
        1 => vec(any::<u8>(), 0..80).prop_map(|bytes| Value::String(b64(bytes))),
    ]
}

fn member_edit() -> impl Strategy<Value = MemberEdit> {
    prop_oneof![
        select(NAMES).prop_map(MemberEdit::Remove),
        (select(NAMES), value()).prop_map(|(n, v)| MemberEdit::Set(n, v)),
        (select(MATERIAL), edits()).prop_map(|(n, e)| MemberEdit::Bytes(n, e)),
        select(MATERIAL).prop_map(MemberEdit::LeadingZero),
    ]
}

fn edit_member(jwk: &mut Map<String, Value>, edit: &MemberEdit) {
    match edit {
        MemberEdit::Remove(name) => {
            jwk.remove(*name);
        }
        MemberEdit::Set(name, value) => {
            jwk.insert((*name).to_owned(), value.clone());
        }
        MemberEdit::Bytes(name, _) | MemberEdit::LeadingZero(name) => {
            let Some(Ok(bytes)) = jwk
                .get(*name)
                .and_then(Value::as_str)
                .map(|s| URL_SAFE_NO_PAD.decode(s))
            else {
                return;
            };
            let edited = match edit {
                MemberEdit::Bytes(_, edits) => apply(&bytes, edits),
                _ => [&[0][..], &bytes].concat(),
            };
            jwk.insert((*name).to_owned(), Value::String(b64(edited)));
        }
    }
}

/// The key material of a JWK as the key it is: its type and curve, the
/// RSA integers without leading zeros, the EC and OKP coordinates as they
/// are.
fn material(jwk: &Map<String, Value>) -> Vec<Option<Vec<u8>>> {
    let kty = jwk.get("kty").and_then(Value::as_str);
    let decode = |name: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()?;
        Some(match kty {
            Some("RSA") => bytes.into_iter().skip_while(|b| *b == 0).collect(),
            _ => bytes,
        })
    };
    let members: &[&str] = match kty {
        Some("RSA") => &["n", "e"],
        Some("EC") => &["crv", "x", "y"],
        _ => &["crv", "x"],
    };
    let mut out = vec![kty.map(|k| k.as_bytes().to_vec())];
    for name in members {
        out.push(match *name {
            "crv" => jwk.get("crv").map(|v| v.to_string().into_bytes()),
            name => decode(name),
        });
    }
    out
}

/// Whether the members other than the key material allow the key to be
/// used for `alg`: no private member, `use` absent or `sig`, `key_ops`
/// absent or naming `verify`, `alg` absent or this one, `kid` a string.
fn allowed(jwk: &Map<String, Value>, alg: Algorithm) -> bool {
    let private = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    !private.iter().any(|m| jwk.contains_key(*m))
        && jwk.get("use").is_none_or(|u| u == "sig")
        && jwk.get("key_ops").is_none_or(|ops| {
            ops.as_array().is_some_and(|ops| {
                ops.iter().all(Value::is_string) && ops.iter().any(|op| op == "verify")
            })
        })
        && jwk.get("alg").is_none_or(|a| a == alg.as_str())
        && jwk.get("kid").is_none_or(Value::is_string)
}

fn verifies(set: &KeySet, signed: &Signed) -> bool {
    let jws = Jws::parse(&signed.token).expect("a signed token");
    jws.verify(set, &[signed.alg], None).is_ok()
}

proptest! {
    #![proptest_config(settings(128))]

    #[test]
    fn any_document_is_read_as_serde_json_reads_it(
        document in prop_oneof![
            vec(any::<u8>(), 0..64),
            json(true).prop_map(|j| j.to_text().into_bytes()),
            vec(json(true), 0..6).prop_map(|keys| {
                let mut text = r#"{"keys":"#.to_owned();
                Json::Array(keys).write(&mut text, false);
                text.push('}');
                text.into_bytes()
            }),
        ],
        edits in prop::option::of(edits()),
    ) {
        let document = match &edits {
            Some(edits) => apply(&document, edits),
            None => document,
        };
        let reference = serde_json::from_slice::<Value>(&document)
            .ok()
            .and_then(|v| v.get("keys").and_then(Value::as_array).map(Vec::len));
        match (KeySet::from_jwks(&document), reference) {
            (Ok((set, skipped)), Some(entries)) => {
                prop_assert_eq!(set.len() + skipped, entries);
                prop_assert!(set.len() <= 32);
            }
            (Err(_), None) => {}
            (got, reference) => prop_assert!(false, "{:?} vs {:?}", got.map(|(s, n)| (s.len(), n)), reference),
        }
    }

    #[test]
    fn an_edited_key_is_used_only_as_its_members_allow(
        signed in 0..6usize,
        member_edits in vec(member_edit(), 1..4),
    ) {
        let signed = &SIGNED[signed];
        let original = signed.jwk.as_object().expect("an object").clone();
        let mut jwk = original.clone();
        for edit in &member_edits {
            edit_member(&mut jwk, edit);
        }
        let document = serde_json::to_vec(&json!({ "keys": [jwk] })).expect("JSON");
        let (set, skipped) = KeySet::from_jwks(&document).expect("a document");
        prop_assert_eq!(set.len() + skipped, 1);
        let same_key = material(&jwk) == material(&original);
        if same_key && allowed(&jwk, signed.alg) {
            prop_assert!(verifies(&set, signed), "{:?}", jwk);
        }
        if verifies(&set, signed) {
            prop_assert!(same_key && allowed(&jwk, signed.alg), "{:?}", jwk);
        }
        if !allowed(&jwk, signed.alg) && jwk.get("alg").is_none_or(|a| a == signed.alg.as_str()) {
            // Refused for a reason other than an `alg` that names another
            // algorithm of the same key: no entry at all.
            prop_assert!(set.is_empty(), "{:?}", jwk);
        }
    }

    #[test]
    fn at_most_32_keys_are_used(count in 0..100usize, other in 0..6usize) {
        let mut keys = vec![SIGNED[other].jwk.clone(); count];
        keys.push(json!({"kty": "oct", "k": "c2VjcmV0"}));
        let document = serde_json::to_vec(&json!({ "keys": keys })).expect("JSON");
        let (set, skipped) = KeySet::from_jwks(&document).expect("a document");
        prop_assert_eq!(set.len(), count.min(32));
        prop_assert_eq!(skipped, count + 1 - set.len());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow(depth in depths(), objects: bool) {
        let document = format!(r#"{{"keys":[{}]}}"#, nested(depth, objects));
        let result = KeySet::from_jwks(document.as_bytes());
        // serde_json reads at most 127 levels; the document and `keys` are two.
        prop_assert_eq!(result.is_ok(), depth <= 125, "{}", depth);
    }
}

#[test]
fn every_signed_key_verifies_its_token_unchanged() {
    for signed in SIGNED.iter() {
        let document = serde_json::to_vec(&json!({ "keys": [signed.jwk] })).expect("JSON");
        let (set, _) = KeySet::from_jwks(&document).expect("a document");
        assert!(verifies(&set, signed), "{}", signed.alg);
    }
}
