//! The logout token rules (OpenID Connect Back-Channel Logout 1.0, section
//! 2.6): the claims a provider's back-channel logout request must carry.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::claims::{
    IssuerRule, UniqueObject, check_audiences, check_issuer, optional_seconds, optional_str,
    required_seconds,
};
use crate::error::{LogoutError, SharedStateError, TokenError};
use crate::shared_state::{SharedState, StateKey};

/// The member of `events` that makes a JWT a logout token.
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// How old a logout token may be: replays are remembered (by `jti`) this
/// long, so an older token is refused rather than risk a replay.
pub(crate) const LOGOUT_TOKEN_MAX_AGE_SECONDS: u64 = 600;

/// What a logout token must say, and the time to check it at.
#[derive(Clone, Copy)]
pub(crate) struct LogoutExpectations<'a> {
    pub(crate) issuer: IssuerRule<'a>,
    pub(crate) client_id: &'a str,
    pub(crate) trusted_audiences: &'a [String],
    pub(crate) now: i64,
    pub(crate) skew_seconds: u64,
}

/// The claims of a validated logout token: whose sessions end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutTokenClaims {
    /// `iss`: the provider (for an Entra ID multi-tenant app, the user's
    /// tenant issuer).
    pub issuer: String,
    /// `sub`, when sent: every session of this user at this issuer ends.
    pub subject: Option<String>,
    /// `sid`, when sent: the provider's session whose logins end.
    pub session_id: Option<String>,
    /// `jti`: the token's unique id (replays are refused).
    pub jti: String,
    /// `iat`.
    pub issued_at: i64,
}

/// Parses the verified payload and checks the logout token rules, in this
/// order: `iss`, `aud`, `iat` (not in the future, not older than
/// [`LOGOUT_TOKEN_MAX_AGE_SECONDS`]), `exp` when present, `jti`, `events`,
/// no `nonce`, `sid` or `sub`.
pub(crate) fn check_logout_claims(
    payload: &[u8],
    expect: &LogoutExpectations<'_>,
) -> Result<LogoutTokenClaims, LogoutError> {
    let token = LogoutError::Token;
    let claims = std::str::from_utf8(payload)
        .ok()
        .and_then(|text| serde_json::from_str::<UniqueObject>(text).ok())
        .ok_or(token(TokenError::Malformed(
            "the payload is not a UTF-8 JSON object with unique claim names",
        )))?
        .0;
    let now = i128::from(expect.now);
    let skew = i128::from(expect.skew_seconds);

    let issuer = check_issuer(&claims, expect.issuer).map_err(token)?;
    check_audiences(&claims, expect.client_id, expect.trusted_audiences).map_err(token)?;

    let issued_at = required_seconds(&claims, "iat").map_err(token)?;
    if i128::from(issued_at) > now + skew {
        return Err(token(TokenError::IssuedInFuture {
            iat: issued_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        }));
    }
    if i128::from(issued_at) + i128::from(LOGOUT_TOKEN_MAX_AGE_SECONDS) + skew < now {
        return Err(LogoutError::TooOld {
            iat: issued_at,
            now: expect.now,
            max_age_seconds: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        });
    }
    if let Some(expires_at) = optional_seconds(&claims, "exp").map_err(token)?
        && now >= i128::from(expires_at) + skew
    {
        return Err(token(TokenError::Expired {
            exp: expires_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        }));
    }

    let jti = match optional_str(&claims, "jti").map_err(token)? {
        Some(jti) if !jti.is_empty() => jti,
        _ => return Err(LogoutError::MissingJti),
    };
    let is_logout_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !is_logout_event {
        return Err(LogoutError::MissingEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutError::NoncePresent);
    }
    let non_empty = |claim| -> Result<Option<String>, LogoutError> {
        Ok(optional_str(&claims, claim)
            .map_err(token)?
            .filter(|value| !value.is_empty())
            .map(str::to_owned))
    };
    let subject = non_empty("sub")?;
    let session_id = non_empty("sid")?;
    if subject.is_none() && session_id.is_none() {
        return Err(LogoutError::NoSessionOrSubject);
    }
    Ok(LogoutTokenClaims {
        issuer: issuer.to_owned(),
        subject,
        session_id,
        jti: jti.to_owned(),
        issued_at,
    })
}

/// The record that a logout token was accepted: by issuer and `jti`.
fn replay_key(claims: &LogoutTokenClaims) -> StateKey {
    StateKey::new(
        "logout_jti",
        &[claims.issuer.as_bytes(), claims.jti.as_bytes()],
    )
}

/// Records the token as used in `state`; `false` when it was used before
/// (a replay), by this instance or any other sharing the state. The record
/// is kept as long as the token may be accepted at all
/// ([`LOGOUT_TOKEN_MAX_AGE_SECONDS`] after its `iat`, plus the clock skew
/// both ways), so its size is bounded by what the provider signs in that
/// window: only tokens with a valid signature get here.
pub(crate) async fn first_use(
    state: &dyn SharedState,
    claims: &LogoutTokenClaims,
    skew_seconds: u64,
) -> Result<bool, SharedStateError> {
    let keep = LOGOUT_TOKEN_MAX_AGE_SECONDS.saturating_add(skew_seconds.saturating_mul(2));
    let forget_at = u64::try_from(claims.issued_at)
        .ok()
        .and_then(|iat| iat.checked_add(keep))
        .and_then(|at| UNIX_EPOCH.checked_add(Duration::from_secs(at)))
        .unwrap_or(UNIX_EPOCH);
    state
        .insert_new(&replay_key(claims), claims.issued_at, forget_at)
        .await
}

/// Forgets that the token was used, so that it is accepted once more.
#[cfg_attr(not(any(feature = "axum", test)), allow(dead_code))]
pub(crate) async fn forget(
    state: &dyn SharedState,
    claims: &LogoutTokenClaims,
) -> Result<(), SharedStateError> {
    state.remove(&replay_key(claims)).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://idp.example";

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": "app",
            "iat": 1_000_000,
            "jti": "bWJq",
            "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
            "sub": "alice",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        })
    }

    fn check(claims: &Value) -> Result<LogoutTokenClaims, LogoutError> {
        check_logout_claims(
            claims.to_string().as_bytes(),
            &LogoutExpectations {
                issuer: IssuerRule::Exact(ISSUER),
                client_id: "app",
                trusted_audiences: &[],
                now: 1_000_030,
                skew_seconds: 60,
            },
        )
    }

    fn with(name: &str, value: Value) -> Value {
        let mut claims = claims();
        claims[name] = value;
        claims
    }

    fn without(name: &str) -> Value {
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    #[test]
    fn a_valid_token_names_the_session_and_user() {
        let claims = check(&claims()).unwrap();
        assert_eq!(claims.issuer, ISSUER);
        assert_eq!(claims.subject.as_deref(), Some("alice"));
        assert_eq!(
            claims.session_id.as_deref(),
            Some("08a5019c-17e1-4977-8f42-65a12843ea02")
        );
        assert_eq!(claims.jti, "bWJq");
        // `sid` alone or `sub` alone is enough; unknown claims are ignored.
        check(&without("sub")).unwrap();
        check(&without("sid")).unwrap();
        check(&with("extra", json!({"x": 1}))).unwrap();
    }

    #[test]
    fn each_rule_refuses() {
        type Case = (Value, fn(&LogoutError) -> bool);
        let cases: Vec<Case> = vec![
            (with("iss", json!("https://idp.example/other")), |e| {
                matches!(e, LogoutError::Token(TokenError::IssuerMismatch { .. }))
            }),
            (with("aud", json!("other")), |e| {
                matches!(e, LogoutError::Token(TokenError::AudienceMismatch { .. }))
            }),
            (with("aud", json!(["app", "other"])), |e| {
                matches!(e, LogoutError::Token(TokenError::UntrustedAudience { .. }))
            }),
            (without("iat"), |e| {
                matches!(e, LogoutError::Token(TokenError::MissingClaim("iat")))
            }),
            (with("iat", json!(1_000_200)), |e| {
                matches!(e, LogoutError::Token(TokenError::IssuedInFuture { .. }))
            }),
            (with("iat", json!(1_000_030 - 700)), |e| {
                matches!(e, LogoutError::TooOld { .. })
            }),
            (with("exp", json!(1_000_030 - 61)), |e| {
                matches!(e, LogoutError::Token(TokenError::Expired { .. }))
            }),
            (without("jti"), |e| matches!(e, LogoutError::MissingJti)),
            (with("jti", json!("")), |e| {
                matches!(e, LogoutError::MissingJti)
            }),
            (without("events"), |e| {
                matches!(e, LogoutError::MissingEvent)
            }),
            (
                with("events", json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})),
                |e| matches!(e, LogoutError::MissingEvent),
            ),
            (
                with(
                    "events",
                    json!({"http://schemas.openid.net/event/other": {}}),
                ),
                |e| matches!(e, LogoutError::MissingEvent),
            ),
            (with("events", json!([BACKCHANNEL_LOGOUT_EVENT])), |e| {
                matches!(e, LogoutError::MissingEvent)
            }),
            (with("nonce", json!("n")), |e| {
                matches!(e, LogoutError::NoncePresent)
            }),
            (
                {
                    let mut c = without("sid");
                    c.as_object_mut().unwrap().remove("sub");
                    c
                },
                |e| matches!(e, LogoutError::NoSessionOrSubject),
            ),
            (with("sid", json!(42)), |e| {
                matches!(
                    e,
                    LogoutError::Token(TokenError::InvalidClaim { claim: "sid", .. })
                )
            }),
        ];
        for (claims, expected) in cases {
            let error = check(&claims).unwrap_err();
            assert!(expected(&error), "{claims}: {error:?}");
        }
    }

    #[test]
    fn repeated_claim_names_are_refused() {
        let text = r#"{"iss":"https://idp.example","iss":"https://idp.example","aud":"app"}"#;
        let error = check_logout_claims(
            text.as_bytes(),
            &LogoutExpectations {
                issuer: IssuerRule::Exact(ISSUER),
                client_id: "app",
                trusted_audiences: &[],
                now: 0,
                skew_seconds: 0,
            },
        )
        .unwrap_err();
        assert!(matches!(
            error,
            LogoutError::Token(TokenError::Malformed(_))
        ));
    }

    static NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    fn clock() -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_jti_is_accepted_once_per_issuer() {
        let set_now = |now| NOW.store(now, std::sync::atomic::Ordering::SeqCst);
        set_now(1_000_030);
        let seen = crate::shared_state::MemoryState::default().with_clock(clock);
        let token = check(&claims()).unwrap();
        assert!(first_use(&seen, &token, 60).await.unwrap());
        set_now(1_000_031);
        assert!(!first_use(&seen, &token, 60).await.unwrap(), "a replay");
        let mut other_issuer = token.clone();
        other_issuer.issuer = "https://other.example".into();
        assert!(first_use(&seen, &other_issuer, 60).await.unwrap());
        // Forgotten only once the token could no longer be accepted.
        set_now(1_000_000 + 600 + 120 - 1);
        assert!(!first_use(&seen, &token, 60).await.unwrap());
        set_now(1_000_000 + 600 + 120 + 1);
        assert!(first_use(&seen, &token, 60).await.unwrap());
        // Forgotten on demand (a logout that could not be carried out).
        forget(&seen, &token).await.unwrap();
        assert!(first_use(&seen, &token, 60).await.unwrap());
    }
}
