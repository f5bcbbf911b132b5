//! Back-channel logout tokens ([`check_logout_claims`]): refused as malformed
//! exactly when serde_json does not read one object with unique names;
//! otherwise accepted exactly when a model of Back-Channel Logout 1.0
//! section 2.6, written over serde_json's reading, accepts, with the same
//! issuer, subject, session, `jti` and `iat`.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::edits::{apply, edits};
use super::json_text::{
    Json, Text, claim_set, int, json, member, name, nested, numeric_date, object_text, optional,
    required, string, text_of, unique_object,
};
use super::{depths, settings};
use crate::error::{LogoutError, TokenError};
use crate::token::{IssuerRule, LogoutExpectations, LogoutTokenClaims, check_logout_claims};

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "app";
const TRUSTED: &str = "api";
const NOW: i64 = 1_000_000;
const SKEW: i64 = 60;
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn check(payload: &[u8]) -> Result<LogoutTokenClaims, LogoutError> {
    let trusted = [TRUSTED.to_owned()];
    check_logout_claims(
        payload,
        &LogoutExpectations {
            issuer: IssuerRule::Exact(ISSUER),
            client_id: CLIENT,
            trusted_audiences: &trusted,
            now: NOW,
            skew_seconds: SKEW as u64,
        },
    )
}

/// The rules of section 2.6 and of this crate's docs, over a parsed claim
/// set: `iss` exact, `aud` this client and trusted ones, `iat` neither in
/// the future nor older than 10 minutes, `exp` when present not passed, a
/// non-empty string `jti`, the logout event as an object, no `nonce`, and
/// a non-empty `sid` or `sub` (each a string when present).
fn model(claims: &Map<String, Value>) -> Option<LogoutTokenClaims> {
    let str_of = |name: &str| claims.get(name).and_then(Value::as_str);
    if str_of("iss")? != ISSUER {
        return None;
    }
    let audiences: Vec<&str> = match claims.get("aud")? {
        Value::String(aud) => vec![aud],
        Value::Array(auds) if !auds.is_empty() => {
            auds.iter().map(Value::as_str).collect::<Option<_>>()?
        }
        _ => return None,
    };
    if !audiences.contains(&CLIENT) || audiences.iter().any(|a| ![CLIENT, TRUSTED].contains(a)) {
        return None;
    }
    // In i128: a NumericDate may be any i64.
    let (now, skew) = (i128::from(NOW), i128::from(SKEW));
    let issued_at = numeric_date(claims.get("iat"))?;
    let iat = i128::from(issued_at);
    if iat > now + skew || iat + 600 + skew < now {
        return None;
    }
    if claims.contains_key("exp") && i128::from(numeric_date(claims.get("exp"))?) + skew <= now {
        return None;
    }
    let jti = str_of("jti").filter(|jti| !jti.is_empty())?;
    claims.get("events")?.as_object()?.get(EVENT)?.as_object()?;
    if claims.contains_key("nonce") {
        return None;
    }
    let id = |name: &str| -> Option<Option<String>> {
        match claims.get(name) {
            None => Some(None),
            Some(Value::String(v)) => Some((!v.is_empty()).then(|| v.clone())),
            Some(_) => None,
        }
    };
    let (subject, session_id) = (id("sub")?, id("sid")?);
    if subject.is_none() && session_id.is_none() {
        return None;
    }
    Some(LogoutTokenClaims {
        issuer: ISSUER.to_owned(),
        subject,
        session_id,
        jti: jti.to_owned(),
        issued_at,
    })
}

fn near_now() -> BoxedStrategy<Json> {
    prop_oneof![
        (NOW - 800..NOW + 200).prop_map(Json::Int),
        (-800.0..200.0f64).prop_map(|d| Json::Float(NOW as f64 + d)),
    ]
    .boxed()
}

/// A logout token's claims, mostly valid.
fn claims() -> impl Strategy<Value = Vec<(Text, Json)>> {
    let event = || Json::Object(vec![(Text::plain(EVENT), Json::Object(Vec::new()))]);
    let registered = vec![
        member(
            "iss",
            required(string(&[ISSUER])),
            string(&["https://idp.example/", ""]),
        ),
        member(
            "aud",
            required(
                prop_oneof![
                    string(&[CLIENT]),
                    Just(Json::Array(vec![CLIENT.into(), TRUSTED.into()])),
                ]
                .boxed(),
            ),
            prop_oneof![
                string(&[TRUSTED, "other"]),
                Just(Json::Array(vec![CLIENT.into(), "other".into()])),
                Just(Json::Array(vec![])),
            ]
            .boxed(),
        ),
        member("iat", required(int(NOW - 600..NOW + 60)), near_now()),
        member("exp", optional(int(NOW - 59..NOW + 600)), near_now()),
        member("jti", required(string(&["bWJq", "ü"])), string(&[""])),
        member(
            "events",
            required(Just(event()).boxed()),
            prop_oneof![
                Just(Json::Object(vec![(Text::plain(EVENT), Json::Bool(true))])),
                Just(Json::Array(vec![event()])),
                Just(Json::Object(vec![(
                    Text::plain("http://schemas.openid.net/event/backchannel-logout/"),
                    Json::Object(Vec::new()),
                )])),
            ]
            .boxed(),
        ),
        member("nonce", Just(None).boxed(), string(&["n", ""])),
        member("sid", optional(string(&["08a5019c"])), string(&[""])),
        member("sub", optional(string(&["alice"])), string(&[""])),
    ];
    claim_set(registered, vec((text_of(name()), json(true)), 0..3))
}

fn agrees(text: &[u8]) -> Result<(), TestCaseError> {
    let got = check(text);
    let Some(reference) = unique_object(text) else {
        prop_assert!(
            matches!(got, Err(LogoutError::Token(TokenError::Malformed(_)))),
            "serde_json refuses the payload, check_logout_claims gave {got:?}"
        );
        return Ok(());
    };
    prop_assert!(
        !matches!(got, Err(LogoutError::Token(TokenError::Malformed(_)))),
        "serde_json reads a unique object, check_logout_claims refused it"
    );
    prop_assert_eq!(got.ok(), model(&reference));
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn generated_logout_tokens_decide_as_the_model(members in claims(), spaced: bool) {
        agrees(object_text(&members, spaced).as_bytes())?;
    }

    #[test]
    fn edited_logout_tokens_decide_as_the_model(members in claims(), edits in edits()) {
        agrees(&apply(object_text(&members, false).as_bytes(), &edits))?;
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow(depth in depths(), objects: bool) {
        let text = format!(r#"{{"iss":"{ISSUER}","events":{}}}"#, nested(depth, objects));
        agrees(text.as_bytes())?;
    }
}

#[test]
fn the_generator_reaches_acceptance_and_refusal() {
    let ok = super::share((claims(), any::<bool>()), 500, |(members, spaced)| {
        check(object_text(&members, spaced).as_bytes()).is_ok()
    });
    assert!(ok > 0.1 && ok < 0.9, "{ok}");
}

#[test]
fn extreme_numeric_dates_decide_as_the_model() {
    // The first long run found the model's own overflow here (an `exp` of
    // i64::MAX); the checks use i128 and must agree at every extreme.
    let extremes = [
        "-9223372036854775808",
        "9223372036854775807",
        "18446744073709551615",
        "-1e19",
        "9.2e18",
        "1000000",
    ];
    for iat in extremes {
        for exp in extremes {
            let text = format!(
                r#"{{"iss":"{ISSUER}","aud":"{CLIENT}","iat":{iat},"exp":{exp},"jti":"j","sub":"s","events":{{"{EVENT}":{{}}}}}}"#
            );
            agrees(text.as_bytes()).unwrap_or_else(|e| panic!("iat {iat}, exp {exp}: {e}"));
        }
    }
}
