//! The compact JWS and its header ([`Jws::parse`], [`Jws::verify`]), then
//! the claim rules: whatever the input, no panic; a header decides as a
//! model of the rules over serde_json's reading of it says; and no edit of a
//! signed token, in its text or inside its decoded parts, is accepted.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};

use super::edits::{apply, apply_str, edits};
use super::json_text::{Json, Text, json, members, object_text, text_of};
use super::{depths, settings};
use crate::error::TokenError;
use crate::token::test_support::{ED25519, P256, RSA_A, b64, jwks, sign_token};
use crate::token::{Expectations, IssuerRule, Jws, KeySet, check_claims};
use crate::{Algorithm, ClientSecret};

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "client-1";
const NOW: i64 = 1_700_000_000;
const SECRET: &str = "a-client-secret-of-at-least-32-bytes!!";

/// The provider's keys: one RSA, one P-256, one Ed25519.
static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let document = jwks(&[RSA_A.jwk("r"), P256.jwk("e"), ED25519.jwk("d")]);
    let (keys, skipped) = KeySet::from_jwks(&document).expect("JWKS");
    assert_eq!(skipped, 0);
    keys
});

/// Every algorithm of those keys, and HMAC with the client secret.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::HS256,
];

/// Valid ID tokens, one per algorithm, signed once (RSA signing is slow).
static TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let claims = json!({
        "iss": ISSUER, "sub": "user-1", "aud": CLIENT, "exp": NOW + 600, "iat": NOW - 5,
        "nonce": "n-1", "groups": ["a", "b"],
    });
    let hmac = {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "HS256"}).to_string()),
            b64(claims.to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    };
    vec![
        sign_token(&RSA_A, Algorithm::RS256, Some("r"), &claims),
        sign_token(&RSA_A, Algorithm::PS256, None, &claims),
        sign_token(&P256, Algorithm::ES256, Some("e"), &claims),
        sign_token(&ED25519, Algorithm::EdDSA, Some("d"), &claims),
        hmac,
    ]
});

/// The whole check of an ID token: parse, signature, claims.
fn accepts(token: &str) -> bool {
    let Ok(jws) = Jws::parse(token) else {
        return false;
    };
    let secret = ClientSecret::new(SECRET);
    let Ok(payload) = jws.verify(&KEYS, ALLOWED, Some(&secret)) else {
        return false;
    };
    let expect = Expectations {
        issuer: IssuerRule::Exact(ISSUER),
        client_id: CLIENT,
        trusted_audiences: &[],
        now: NOW,
        skew_seconds: 60,
        nonce: Some("n-1"),
        max_age: None,
        access_token: None,
        code: None,
    };
    check_claims(payload, jws.alg(), &expect).is_ok()
}

/// What [`Jws::parse`] must make of a header, by the rules its docs give.
#[derive(Debug, PartialEq)]
enum Expected {
    /// Not an object of valid members (a repeated `alg`, `kid`, `crit` or
    /// `b64`, or one of the wrong type).
    Invalid,
    NoAlg,
    Unsigned,
    NotAllowed,
    Crit,
    Unencoded,
    Parsed(Algorithm, Option<String>),
}

fn model(members: &[(String, Value)]) -> Expected {
    let read = ["alg", "kid", "crit", "b64"];
    let find = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let repeated = read
        .iter()
        .any(|r| members.iter().filter(|(n, _)| n == r).count() > 1);
    let alg = find("alg");
    let kid = find("kid");
    let b64 = find("b64");
    if repeated
        || alg.is_some_and(|a| !a.is_string())
        || kid.is_some_and(|k| !k.is_string())
        || b64.is_some_and(|b| !b.is_boolean())
    {
        return Expected::Invalid;
    }
    let Some(alg) = alg.and_then(Value::as_str) else {
        return Expected::NoAlg;
    };
    if alg.eq_ignore_ascii_case("none") {
        return Expected::Unsigned;
    }
    let Ok(alg) = alg.parse::<Algorithm>() else {
        return Expected::NotAllowed;
    };
    if find("crit").is_some() {
        return Expected::Crit;
    }
    if b64 == Some(&Value::Bool(false)) {
        return Expected::Unencoded;
    }
    Expected::Parsed(alg, kid.and_then(Value::as_str).map(str::to_owned))
}

fn outcome(result: Result<Jws<'_>, TokenError>) -> Expected {
    match result {
        Ok(jws) => Expected::Parsed(jws.alg(), jws.kid().map(str::to_owned)),
        Err(TokenError::Unsigned) => Expected::Unsigned,
        Err(TokenError::AlgorithmNotAllowed { .. }) => Expected::NotAllowed,
        Err(TokenError::Malformed(why)) if why.contains("no `alg`") => Expected::NoAlg,
        Err(TokenError::Malformed(why)) if why.contains("`crit`") => Expected::Crit,
        Err(TokenError::Malformed(why)) if why.contains("`b64: false`") => Expected::Unencoded,
        Err(TokenError::Malformed(why)) if why.starts_with("the header is not valid") => {
            Expected::Invalid
        }
        Err(other) => panic!("unexpected refusal of a header: {other:?}"),
    }
}

/// Header members: the ones the parser reads, with values of the right
/// kind or any other, and members it ignores.
fn header() -> impl Strategy<Value = Vec<(Text, Json)>> {
    let alg = prop_oneof![
        4 => select(&[
            "RS256", "PS256", "ES256", "EdDSA", "HS256", "ES512", "none", "NONE", "nOnE", "rs256",
            "RS1", "", "RS256 ",
        ][..])
        .prop_map(Json::from),
        1 => json(false),
    ];
    let kid = prop_oneof![
        4 => text_of("(?s).{0,6}").prop_map(Json::Str),
        1 => json(false),
    ];
    let b64 = prop_oneof![4 => any::<bool>().prop_map(Json::Bool), 1 => json(false)];
    let named =
        |name: &'static str, value: BoxedStrategy<Json>| (text_of(Just(name.to_owned())), value);
    let ignored = (
        text_of(
            select(&["typ", "jwk", "jku", "x5c", "x5u", "cty", "Alg", "x"][..])
                .prop_map(str::to_owned),
        ),
        json(false),
    );
    (
        prop::option::weighted(0.9, named("alg", alg.boxed())),
        prop::option::weighted(0.6, named("kid", kid.boxed())),
        prop::option::weighted(0.1, named("crit", json(false))),
        prop::option::weighted(0.2, named("b64", b64.boxed())),
        vec(ignored, 0..3),
        prop::option::weighted(0.05, any::<Index>()),
    )
        .prop_map(|(alg, kid, crit, b64, mut members, repeat)| {
            members.extend([alg, kid, crit, b64].into_iter().flatten());
            if let Some(index) = repeat
                && !members.is_empty()
            {
                members.push(members[index.index(members.len())].clone());
            }
            members
        })
        .prop_shuffle()
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn any_text_is_parsed_or_refused(
        token in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_=+/.-]{0,80}",
            "e[wy][A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}",
        ],
    ) {
        if let Ok(jws) = Jws::parse(&token) {
            prop_assert_eq!(token.matches('.').count(), 2);
            prop_assert!(!jws.alg().as_str().eq_ignore_ascii_case("none"));
            prop_assert!(!accepts(&token));
        }
    }

    #[test]
    fn a_header_decides_as_the_model_says(header in header(), spaced: bool) {
        let text = object_text(&header, spaced);
        let token = format!("{}.e30.c2ln", b64(&text));
        let reference = members(text.as_bytes()).expect("valid JSON");
        prop_assert_eq!(outcome(Jws::parse(&token)), model(&reference), "{}", text);
    }

    #[test]
    fn no_edit_of_a_signed_token_is_accepted(
        token in select(&TOKENS[..]),
        edits in edits(),
    ) {
        let edited = apply_str(&token, &edits);
        prop_assert_eq!(accepts(&edited), edited == token, "{}", edited);
    }

    #[test]
    fn no_edit_inside_a_part_is_accepted(
        token in select(&TOKENS[..]),
        part in 0..3usize,
        edits in edits(),
    ) {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let decoded = URL_SAFE_NO_PAD.decode(&parts[part]).expect("base64url");
        let edited = apply(&decoded, &edits);
        parts[part] = b64(&edited);
        prop_assert_eq!(accepts(&parts.join(".")), edited == decoded);
    }

    #[test]
    fn a_payload_of_other_claims_under_a_valid_signature_is_refused(
        token in select(&TOKENS[..]),
        claims in vec((text_of("[a-z]{1,4}"), json(true)), 0..6),
    ) {
        let (header, rest) = token.split_once('.').expect("three parts");
        let (_, signature) = rest.split_once('.').expect("three parts");
        let payload = object_text(&claims, false);
        let forged = format!("{header}.{}.{signature}", b64(payload));
        prop_assert!(!accepts(&forged));
    }

    #[test]
    fn deep_nesting_in_a_header_is_refused_or_skipped_without_overflow(
        depth in depths(),
        in_alg: bool,
    ) {
        // In `alg`, which is read: refused. In a member the parser ignores:
        // serde_json skips it without recursion, within the 64 KiB cap.
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let header = if in_alg {
            format!(r#"{{"alg":{nested}}}"#)
        } else {
            format!(r#"{{"alg":"ES256","x":{nested}}}"#)
        };
        let token = format!("{}.e30.c2ln", b64(&header));
        match Jws::parse(&token) {
            Err(TokenError::Malformed("it is longer than 64 KiB")) => {
                prop_assert!(token.len() > 64 * 1024);
            }
            Ok(jws) => prop_assert!(!in_alg && jws.alg() == Algorithm::ES256),
            Err(TokenError::Malformed(_)) => prop_assert!(in_alg),
            Err(other) => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn tokens_over_64_kib_are_refused_before_decoding(
        token in select(&TOKENS[..]),
        extra in 1..4096usize,
    ) {
        // A valid token padded inside its payload to just over the limit.
        let (header, rest) = token.split_once('.').expect("three parts");
        let filler = "A".repeat(64 * 1024 + extra - token.len());
        let long = format!("{header}.{filler}{rest}");
        prop_assert_eq!(long.len(), 64 * 1024 + extra);
        prop_assert!(matches!(
            Jws::parse(&long),
            Err(TokenError::Malformed("it is longer than 64 KiB"))
        ));
    }
}

#[test]
fn the_signed_tokens_are_accepted_unchanged() {
    for token in TOKENS.iter() {
        assert!(accepts(token), "{token}");
    }
}

#[test]
fn the_header_generator_reaches_every_outcome() {
    let mut seen = std::collections::BTreeMap::new();
    super::share((header(), any::<bool>()), 500, |(members, spaced)| {
        let text = object_text(&members, spaced);
        let token = format!("{}.e30.c2ln", b64(&text));
        let shown = format!("{:?}", outcome(Jws::parse(&token)));
        let kind = shown.split('(').next().unwrap_or_default().to_owned();
        *seen.entry(kind).or_insert(0) += 1;
        true
    });
    assert_eq!(seen.len(), 7, "{seen:?}");
}
