//! ID-token claims: the borrowed one-pass parser of [`check_claims`] against
//! serde_json. For any payload, it is refused as malformed exactly when
//! serde_json does not read it as one object with unique member names;
//! otherwise it decides as it does on serde_json's canonical re-writing of
//! the same claims, and reads the same registered claims.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::edits::{apply, edits};
use super::json_text::{
    Json, Text, claim_set, int, json, member, name, nested, numeric_date, object_text, optional,
    required, string, text_of, unique_object,
};
use super::{depths, settings};
use crate::error::TokenError;
use crate::issuer::TenantTemplate;
use crate::token::{Expectations, IdTokenClaims, IssuerRule, check_claims};
use crate::{Algorithm, TenantPolicy};

const ISSUER: &str = "https://login.example/tenant/v2.0";
const CLIENT: &str = "client-1";
const TRUSTED: &str = "api-2";
const NOW: i64 = 1_700_000_000;
const SKEW: u64 = 60;
const NONCE: &str = "n-0S6_WzA2Mj";
const ACCESS_TOKEN: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
const CODE: &str = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
/// `at_hash` and `c_hash` of those with SHA-256 (OpenID Connect Core 1.0,
/// appendix A.3 and A.4).
const AT_HASH: &str = "77QmUPtjPfzWtF2AnpK9RQ";
const C_HASH: &str = "LDktKdoQak3Pk0cnXxCltA";
const TENANT: &str = "3c1a0f6e-0000-4000-8000-000000000001";

/// The claims of an ID token, mostly valid, in any order, with extra
/// claims of any shape, and now and then a repeated name.
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
                prop_oneof![string(&[CLIENT]), Just(Json::Array(vec![CLIENT.into()])),].boxed(),
            ),
            prop_oneof![
                string(&[TRUSTED, "other"]),
                Just(Json::Array(vec![CLIENT.into(), TRUSTED.into()])),
                Just(Json::Array(vec![CLIENT.into(), "other".into()])),
                Just(Json::Array(vec![])),
            ]
            .boxed(),
        ),
        member("azp", optional(string(&[CLIENT])), string(&[TRUSTED])),
        member("exp", required(int(NOW + 60..NOW + 3600)), near_now()),
        member("iat", required(int(NOW - 3600..NOW + 60)), near_now()),
        member("nbf", optional(int(NOW - 3600..NOW + 60)), near_now()),
        member("nonce", required(string(&[NONCE])), string(&["other", ""])),
        member(
            "at_hash",
            optional(string(&[AT_HASH])),
            string(&["x", C_HASH]),
        ),
        member(
            "c_hash",
            optional(string(&[C_HASH])),
            string(&["x", AT_HASH]),
        ),
        member("auth_time", required(int(NOW - 1000..NOW)), near_now()),
        member("tid", optional(string(&[TENANT])), string(&["not-a-guid"])),
        member("ver", optional(string(&["2.0"])), string(&["1.0"])),
    ];
    let extra = vec((text_of(name()), json(true)), 0..4);
    claim_set(registered, extra)
}

/// Times around now, whole or fractional, on both sides of the limits.
fn near_now() -> BoxedStrategy<Json> {
    prop_oneof![
        (NOW - 1000..NOW + 1000).prop_map(Json::Int),
        (-1000.0..1000.0f64).prop_map(|d| Json::Float(NOW as f64 + d)),
    ]
    .boxed()
}

/// What the token must say: sometimes the nonce, `max_age`, `at_hash` or
/// `c_hash` checks are off; sometimes Entra's tenant rule.
#[derive(Debug, Clone)]
struct Expect {
    nonce: bool,
    max_age: Option<u64>,
    access_token: bool,
    code: bool,
    tenant: bool,
    alg: Algorithm,
}

fn expect() -> impl Strategy<Value = Expect> {
    (
        prop::bool::weighted(0.8),
        prop::option::of(0..2000u64),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.1),
        // Mostly SHA-256 ones, which the hashes above fit.
        prop_oneof![
            4 => proptest::sample::select(&[Algorithm::RS256, Algorithm::PS256, Algorithm::ES256][..]),
            1 => proptest::sample::select(&Algorithm::ASYMMETRIC[..]),
        ],
    )
        .prop_map(|(nonce, max_age, access_token, code, tenant, alg)| Expect {
            nonce,
            max_age,
            access_token,
            code,
            tenant,
            alg,
        })
}

fn check(payload: &[u8], e: &Expect) -> Result<IdTokenClaims, TokenError> {
    let template = TenantTemplate::new("https://login.example/{tenantid}/v2.0").expect("template");
    let policy = TenantPolicy::AnyTenant;
    let issuer = if e.tenant {
        IssuerRule::Tenant {
            template: &template,
            policy: &policy,
        }
    } else {
        IssuerRule::Exact(ISSUER)
    };
    let trusted = [TRUSTED.to_owned()];
    let expectations = Expectations {
        issuer,
        client_id: CLIENT,
        trusted_audiences: &trusted,
        now: NOW,
        skew_seconds: SKEW,
        nonce: e.nonce.then_some(NONCE),
        max_age: e.max_age,
        access_token: e.access_token.then_some(ACCESS_TOKEN),
        code: e.code.then_some(CODE),
    };
    check_claims(payload, e.alg, &expectations)
}

/// The registered claims as read, shown.
fn registered(c: &IdTokenClaims) -> String {
    format!(
        "{:?}",
        (
            c.issuer(),
            c.subject(),
            c.audiences(),
            c.expires_at(),
            c.issued_at(),
            c.auth_time(),
            c.authorized_party(),
            c.nonce(),
        )
    )
}

/// The claims parsed from `text` decide as those of `reference`
/// (serde_json's reading of it) do.
fn agrees(text: &[u8], e: &Expect) -> Result<(), TestCaseError> {
    let got = check(text, e);
    let Some(reference) = unique_object(text) else {
        prop_assert!(
            matches!(got, Err(TokenError::Malformed(_))),
            "serde_json refuses the payload, check_claims gave {got:?}"
        );
        return Ok(());
    };
    prop_assert!(
        !matches!(got, Err(TokenError::Malformed(_))),
        "serde_json reads a unique object, check_claims refused it"
    );
    let canonical = serde_json::to_vec(&reference).expect("a map serializes");
    let again = check(&canonical, e);
    match (&got, &again) {
        (Ok(got), Ok(again)) => {
            prop_assert_eq!(got.claims(), &reference);
            // (serde_json's float printing does not round-trip every last
            // digit, so the canonical form is compared with its own reading.)
            prop_assert_eq!(Some(again.claims().clone()), unique_object(&canonical));
            let str_of = |name: &str| reference.get(name).and_then(Value::as_str);
            prop_assert_eq!(Some(got.issuer()), str_of("iss"));
            prop_assert_eq!(Some(got.subject()), str_of("sub"));
            prop_assert_eq!(got.authorized_party(), str_of("azp"));
            prop_assert_eq!(got.nonce(), str_of("nonce"));
            let audiences: Vec<String> = match &reference["aud"] {
                Value::String(aud) => vec![aud.clone()],
                other => serde_json::from_value(other.clone()).expect("aud is strings"),
            };
            prop_assert_eq!(got.audiences(), &audiences[..]);
            prop_assert_eq!(Some(got.expires_at()), numeric_date(reference.get("exp")));
            prop_assert_eq!(Some(got.issued_at()), numeric_date(reference.get("iat")));
            prop_assert_eq!(got.auth_time(), numeric_date(reference.get("auth_time")));
            prop_assert_eq!(registered(got), registered(again));
        }
        (Err(got), Err(again)) => prop_assert_eq!(format!("{got:?}"), format!("{again:?}")),
        _ => prop_assert!(false, "raw: {got:?}\ncanonical: {again:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn generated_claims_agree_with_serde_json(
        members in claims(),
        spaced in prop::bool::weighted(0.2),
        e in expect(),
    ) {
        agrees(object_text(&members, spaced).as_bytes(), &e)?;
    }

    #[test]
    fn edited_claims_agree_with_serde_json(
        members in claims(),
        edits in edits(),
        e in expect(),
    ) {
        let text = object_text(&members, false);
        agrees(&apply(text.as_bytes(), &edits), &e)?;
    }

    #[test]
    fn any_bytes_agree_with_serde_json(bytes in vec(any::<u8>(), 0..64), e in expect()) {
        agrees(&bytes, &e)?;
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow(depth in depths(), objects: bool, e in expect()) {
        let text = format!(r#"{{"iss":"{ISSUER}","x":{}}}"#, nested(depth, objects));
        let got = check(text.as_bytes(), &e);
        // serde_json reads at most 127 levels; the payload is one.
        prop_assert_eq!(matches!(got, Err(TokenError::Malformed(_))), depth > 126, "{}", depth);
        agrees(text.as_bytes(), &e)?;
    }
}

#[test]
fn a_payload_with_every_claim_right_is_accepted() {
    // The generator's good values are good: the properties reach past the
    // parser into the rules.
    let members: Vec<(Text, Json)> = [
        ("iss", Json::from(ISSUER)),
        ("sub", "user-1".into()),
        ("aud", Json::Array(vec![CLIENT.into(), TRUSTED.into()])),
        ("azp", CLIENT.into()),
        ("exp", Json::Int(NOW + 600)),
        ("iat", Json::Int(NOW - 5)),
        ("nonce", NONCE.into()),
        ("at_hash", AT_HASH.into()),
        ("c_hash", C_HASH.into()),
        ("auth_time", Json::Int(NOW - 100)),
    ]
    .into_iter()
    .map(|(n, v)| (Text::plain(n), v))
    .collect();
    let e = Expect {
        nonce: true,
        max_age: Some(3600),
        access_token: true,
        code: true,
        tenant: false,
        alg: Algorithm::RS256,
    };
    let text = object_text(&members, true);
    let claims = check(text.as_bytes(), &e).expect("valid claims");
    assert_eq!(claims.subject(), "user-1");
}

#[test]
fn the_generators_reach_acceptance_and_refusal() {
    let strategy = (claims(), expect(), prop::bool::weighted(0.2));
    let ok = super::share(&strategy, 500, |(members, e, spaced)| {
        check(object_text(&members, spaced).as_bytes(), &e).is_ok()
    });
    let edited = super::share((claims(), edits(), expect()), 500, |(members, edits, e)| {
        check(&apply(object_text(&members, false).as_bytes(), &edits), &e).is_ok()
    });
    assert!(ok > 0.05 && ok < 0.95, "{ok}");
    assert!(edited > 0.0, "{edited}");
}
