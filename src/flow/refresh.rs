//! OpenID Connect Core 12.2: a refreshed ID token must be about the same
//! login as the original one. [`Client::refresh`](crate::Client::refresh)
//! runs the grant; these are its checks.

use serde_json::{Map, Value};

use crate::error::RefreshError;
use crate::secret::{IdToken, constant_time_eq};
use crate::token::{IdTokenClaims, Jws};

/// How old (beyond the clock skew) a refreshed ID token's `iat` may be.
const REFRESH_FRESHNESS_SECONDS: u64 = 60;

/// The claims of the original login's ID token, which this crate validated
/// when the login finished. Its signature is not checked again: the key may
/// have been rotated since, and the token was kept on the server side.
pub(crate) fn original_claims(id_token: &IdToken) -> Result<Map<String, Value>, RefreshError> {
    let jws = Jws::parse(id_token.expose_secret())
        .map_err(|_| RefreshError::OriginalUnreadable("not a compact JWS"))?;
    serde_json::from_slice(jws.unverified_payload())
        .map_err(|_| RefreshError::OriginalUnreadable("its payload is not a JSON object"))
}

/// OpenID Connect Core 12.2: the refreshed ID token is about the same
/// login as the original one.
pub(crate) fn check_refreshed(
    original: &Map<String, Value>,
    refreshed: &IdTokenClaims,
    now: i64,
    skew_seconds: u64,
) -> Result<(), RefreshError> {
    let was = |claim: &str| original.get(claim);
    let changed = |claim| RefreshError::ClaimChanged { claim };
    if was("iss").and_then(Value::as_str) != Some(refreshed.issuer()) {
        return Err(changed("iss"));
    }
    if was("sub").and_then(Value::as_str) != Some(refreshed.subject()) {
        return Err(changed("sub"));
    }
    let mut before: Vec<&str> = match was("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut after: Vec<&str> = refreshed.audiences().iter().map(String::as_str).collect();
    before.sort_unstable();
    after.sort_unstable();
    if before != after {
        return Err(changed("aud"));
    }
    // `azp`, when present, is the client id in both tokens (checked when
    // each was validated), so it cannot have changed.
    if let (Some(before), Some(after)) = (was("auth_time"), refreshed.auth_time())
        && before.as_i64() != Some(after)
    {
        return Err(changed("auth_time"));
    }
    if let Some(nonce) = refreshed.nonce() {
        match was("nonce").and_then(Value::as_str) {
            Some(before) if constant_time_eq(before.as_bytes(), nonce.as_bytes()) => {}
            _ => return Err(changed("nonce")),
        }
    }
    let window_seconds = skew_seconds.saturating_add(REFRESH_FRESHNESS_SECONDS);
    if i128::from(refreshed.issued_at()) + i128::from(window_seconds) < i128::from(now) {
        return Err(RefreshError::NotFresh {
            iat: refreshed.issued_at(),
            now,
            window_seconds,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Algorithm;
    use crate::token::{Expectations, IssuerRule, check_claims};

    const NOW: i64 = 1_700_000_000;

    fn original() -> Map<String, Value> {
        json!({
            "iss": "https://idp.example", "sub": "alice", "aud": "app",
            "iat": NOW - 3600, "auth_time": NOW - 3600, "nonce": "n-1",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    /// A refreshed ID token with these changes, validated as `validate`
    /// would (its own issuer, `trusted` among the audiences).
    fn refreshed(changes: Value) -> IdTokenClaims {
        let mut claims = json!({
            "iss": "https://idp.example", "sub": "alice", "aud": "app",
            "iat": NOW, "exp": NOW + 300, "auth_time": NOW - 3600,
        });
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let issuer = claims["iss"].as_str().unwrap().to_owned();
        let trusted = ["trusted".to_owned()];
        check_claims(
            claims.to_string().as_bytes(),
            Algorithm::RS256,
            &Expectations {
                issuer: IssuerRule::Exact(&issuer),
                client_id: "app",
                trusted_audiences: &trusted,
                now: NOW,
                skew_seconds: 60,
                nonce: None,
                max_age: None,
                access_token: None,
                code: None,
            },
        )
        .unwrap()
    }

    fn check(changes: Value) -> Result<(), RefreshError> {
        check_refreshed(&original(), &refreshed(changes), NOW, 60)
    }

    #[test]
    fn a_refreshed_token_of_the_same_login_passes() {
        check(json!({})).unwrap();
        check(json!({"nonce": "n-1"})).unwrap();
        // `azp` may appear when it is the client id.
        check(json!({"azp": "app"})).unwrap();
    }

    /// Each rule of OpenID Connect Core 12.2, including those a token that
    /// passed `validate` can still break: another issuer (an Entra ID
    /// multi-tenant app accepts several), another trusted audience.
    #[test]
    fn a_refreshed_token_of_another_login_is_refused() {
        for (changes, claim) in [
            (json!({"iss": "https://idp.example/other-tenant"}), "iss"),
            (json!({"sub": "mallory"}), "sub"),
            (json!({"aud": ["app", "trusted"], "azp": "app"}), "aud"),
            (json!({"auth_time": NOW - 60}), "auth_time"),
            (json!({"nonce": "n-2"}), "nonce"),
        ] {
            let error = check(changes.clone()).unwrap_err();
            assert!(
                matches!(error, RefreshError::ClaimChanged { claim: c } if c == claim),
                "{changes}: {error:?}"
            );
        }
        let mut original = original();
        original.remove("nonce");
        let error =
            check_refreshed(&original, &refreshed(json!({"nonce": "n-1"})), NOW, 60).unwrap_err();
        assert!(matches!(
            error,
            RefreshError::ClaimChanged { claim: "nonce" }
        ));
        let error = check(json!({"iat": NOW - 121})).unwrap_err();
        assert!(matches!(error, RefreshError::NotFresh { .. }), "{error:?}");
        check(json!({"iat": NOW - 120})).unwrap();
    }
}
