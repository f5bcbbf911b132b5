//! Access-token claims: the one-pass parser of [`check_access_claims`]
//! against serde_json and a model of RFC 9068's rules. For any payload, it
//! is refused as malformed exactly when serde_json does not read it as one
//! object with unique member names; otherwise it decides as on serde_json's
//! canonical re-writing, and what it accepts holds the rules.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::edits::{apply, edits};
use super::json_text::{
    Json, Text, claim_set, int, json, member, name, numeric_date, object_text, optional, required,
    string, text_of, unique_object,
};
use super::settings;
use crate::error::BearerError;
use crate::token::{
    AccessExpectations, AccessTokenClaims, AccessTokenProfile, IssuerRule, check_access_claims,
};

const ISSUER: &str = "https://login.example";
const API: &str = "https://api.example";
const NOW: i64 = 1_700_000_000;
const SKEW: u64 = 60;

/// RFC 9068 claims, mostly valid, in any order, with extra claims of any
/// shape, and now and then a repeated name.
fn claims() -> impl Strategy<Value = Vec<(Text, Json)>> {
    let registered = vec![
        member(
            "iss",
            required(string(&[ISSUER])),
            string(&["https://evil.example", ""]),
        ),
        member("sub", required(string(&["user-1", "ü"])), string(&[""])),
        member(
            "aud",
            required(
                prop_oneof![
                    string(&[API]),
                    Just(Json::Array(vec!["x".into(), API.into()]))
                ]
                .boxed(),
            ),
            prop_oneof![string(&["client-1", ""]), Just(Json::Array(vec![]))].boxed(),
        ),
        member("exp", required(int(NOW + 60..NOW + 3600)), near_now()),
        member("iat", required(int(NOW - 3600..NOW + 60)), near_now()),
        member("nbf", optional(int(NOW - 3600..NOW + 60)), near_now()),
        member("client_id", required(string(&["client-1"])), string(&[""])),
        member("jti", required(string(&["j-1"])), string(&[""])),
        member(
            "scope",
            optional(string(&["read", "read write", " read  write "])),
            Just(Json::Array(vec!["read".into()])).boxed(),
        ),
        member(
            "roles",
            optional(
                prop_oneof![
                    string(&["Reader"]),
                    Just(Json::Array(vec!["Reader".into()]))
                ]
                .boxed(),
            ),
            Just(Json::Int(7)).boxed(),
        ),
    ];
    let extra = vec((text_of(name()), json(true)), 0..4);
    claim_set(registered, extra)
}

fn near_now() -> BoxedStrategy<Json> {
    prop_oneof![
        (NOW - 1000..NOW + 1000).prop_map(Json::Int),
        (-1000.0..1000.0f64).prop_map(|d| Json::Float(NOW as f64 + d)),
    ]
    .boxed()
}

fn check(typ: Option<&str>, payload: &[u8]) -> Result<AccessTokenClaims, BearerError> {
    let audiences = [API.to_owned()];
    check_access_claims(
        typ,
        payload,
        &AccessExpectations {
            profile: AccessTokenProfile::Jwt,
            issuer: IssuerRule::Exact(ISSUER),
            audiences: &audiences,
            now: NOW,
            skew_seconds: SKEW,
        },
    )
}

/// RFC 9068's rules on serde_json's reading.
fn model_accepts(c: &Map<String, Value>) -> bool {
    let text = |name: &str| c.get(name).and_then(Value::as_str);
    let non_empty = |name: &str| text(name).is_some_and(|v| !v.is_empty());
    let now = i128::from(NOW);
    let skew = i128::from(SKEW);
    let aud_ok = match c.get("aud") {
        Some(Value::String(aud)) => aud == API,
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.iter().any(|a| a == API)
        }
        _ => false,
    };
    let exp = numeric_date(c.get("exp"));
    let iat = numeric_date(c.get("iat"));
    let nbf_ok = match c.get("nbf") {
        None => true,
        value => numeric_date(value).is_some_and(|nbf| i128::from(nbf) <= now + skew),
    };
    let roles_ok = match c.get("roles") {
        None | Some(Value::String(_)) => true,
        Some(Value::Array(roles)) => roles.iter().all(Value::is_string),
        _ => false,
    };
    text("iss") == Some(ISSUER)
        && aud_ok
        && exp.is_some_and(|exp| now < i128::from(exp) + skew)
        && iat.is_some_and(|iat| i128::from(iat) <= now + skew)
        && nbf_ok
        && non_empty("client_id")
        && non_empty("jti")
        && non_empty("sub")
        && c.get("scope").is_none_or(Value::is_string)
        && roles_ok
}

fn agrees(text: &[u8]) -> Result<(), TestCaseError> {
    let got = check(Some("at+jwt"), text);
    let Some(reference) = unique_object(text) else {
        prop_assert!(
            matches!(got, Err(BearerError::Malformed(_))),
            "serde_json refuses the payload, check_access_claims gave {got:?}"
        );
        return Ok(());
    };
    prop_assert!(!matches!(got, Err(BearerError::Malformed(_))));
    let canonical = serde_json::to_vec(&reference).expect("a map serializes");
    let again = check(Some("at+jwt"), &canonical);
    prop_assert_eq!(
        got.is_ok(),
        again.is_ok(),
        "raw {:?} canonical {:?}",
        got,
        again
    );
    prop_assert_eq!(
        got.is_ok(),
        model_accepts(&reference),
        "{:?} on {:?}",
        got,
        reference
    );
    if let Ok(got) = got {
        prop_assert_eq!(got.claims(), &reference);
        let scopes: Vec<String> = reference
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        prop_assert_eq!(got.scopes(), &scopes[..]);
        prop_assert_eq!(
            Some(got.subject()),
            reference.get("sub").and_then(Value::as_str)
        );
        // The header's `typ` decides before the payload does.
        let as_id_token = check(Some("JWT"), text);
        prop_assert!(
            matches!(as_id_token, Err(BearerError::NotAnAccessToken { .. })),
            "typ JWT: {:?}",
            as_id_token
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn generated_access_claims_agree_with_the_model(
        members in claims(),
        spaced in prop::bool::weighted(0.2),
    ) {
        agrees(object_text(&members, spaced).as_bytes())?;
    }

    #[test]
    fn edited_access_claims_agree_with_the_model(members in claims(), edits in edits()) {
        agrees(&apply(object_text(&members, false).as_bytes(), &edits))?;
    }

    #[test]
    fn any_bytes_agree_with_the_model(bytes in vec(any::<u8>(), 0..64)) {
        agrees(&bytes)?;
    }
}

#[test]
fn the_generator_reaches_acceptance_and_refusal() {
    let ok = super::share(
        (claims(), prop::bool::weighted(0.2)),
        500,
        |(members, spaced)| check(Some("at+jwt"), object_text(&members, spaced).as_bytes()).is_ok(),
    );
    assert!(ok > 0.05 && ok < 0.95, "{ok}");
}
