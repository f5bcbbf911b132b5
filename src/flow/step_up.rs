//! Step-up authentication: what a login (or a route) requires of the
//! user's authentication, how it is asked of the provider, and the check of
//! the claims that answer it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::TokenError;

/// A requirement on how recently, or how strongly, the user authenticated:
/// a maximum age of `auth_time`, an `acr` among accepted values, and
/// Entra ID's authentication context (the `acrs` claim).
///
/// Given to [`Start::step_up`](crate::Start::step_up), it is asked of the
/// provider (`max_age`, `acr_values`, `prompt=login`, and for an
/// authentication context the `claims` parameter Microsoft documents:
/// `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`), remembered by
/// the [`PendingLogin`](crate::PendingLogin), and the new ID token is
/// checked against it by [`Client::finish`](crate::Client::finish): a
/// provider that ignores it is refused ([`TokenError::AuthenticationTooOld`],
/// [`TokenError::AcrNotAccepted`], [`TokenError::AuthContextMissing`]).
/// With axum, `RequireStepUp` asks for it on a route.
///
/// ```
/// use std::time::Duration;
/// use oidc_login::{Start, StepUp};
///
/// let step_up = StepUp::new()
///     .max_age(Duration::from_secs(300))
///     .acr_values(["urn:example:mfa"]);
/// let options = Start::default().return_to("/admin/delete").step_up(step_up);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct StepUp {
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    acr_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_context: Option<String>,
}

impl StepUp {
    /// No requirement yet; add one or more.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user must have authenticated at most `age` ago (whole seconds;
    /// the config's clock skew is allowed): `max_age` is sent, and the ID
    /// token's `auth_time` is required and checked.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age.as_secs());
        self
    }

    /// The ID token's `acr` must be one of these values (sent as
    /// `acr_values`, in this order of preference). A token without `acr`
    /// is refused.
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Microsoft Entra ID's Conditional Access authentication context (an
    /// id such as `c1`): requested with the `claims` parameter, and the ID
    /// token's `acrs` claim must hold it.
    pub fn entra_auth_context(mut self, id: impl Into<String>) -> Self {
        self.auth_context = Some(id.into());
        self
    }

    /// The maximum age in seconds, if one is required.
    pub fn max_age_seconds(&self) -> Option<u64> {
        self.max_age
    }

    /// The accepted `acr` values (empty: any, or none).
    pub fn accepted_acr_values(&self) -> &[String] {
        &self.acr_values
    }

    /// The Entra ID authentication context required, if any.
    pub fn auth_context(&self) -> Option<&str> {
        self.auth_context.as_deref()
    }

    /// Whether this requires nothing.
    pub fn is_empty(&self) -> bool {
        self.max_age.is_none() && self.acr_values.is_empty() && self.auth_context.is_none()
    }

    /// The `claims` request parameter for an authentication context
    /// (OpenID Connect Core 5.5, in the form Entra ID documents).
    pub(crate) fn claims_parameter(&self) -> Option<String> {
        let context = self.auth_context.as_deref()?;
        Some(
            serde_json::json!({"id_token": {"acrs": {"essential": true, "value": context}}})
                .to_string(),
        )
    }

    /// Checks claims (an ID token's, or a signed-in identity's) against
    /// this requirement, `now` in Unix seconds, allowing `skew_seconds` on
    /// `auth_time`.
    ///
    /// # Errors
    ///
    /// [`TokenError::MissingClaim`] (`auth_time`),
    /// [`TokenError::AuthenticationTooOld`], [`TokenError::AcrNotAccepted`]
    /// or [`TokenError::AuthContextMissing`], naming what was asked.
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        now: i64,
        skew_seconds: u64,
    ) -> Result<(), TokenError> {
        if let Some(max_age) = self.max_age {
            crate::token::check_auth_age(
                crate::token::auth_time(claims),
                max_age,
                now,
                skew_seconds,
            )?;
        }
        if !self.acr_values.is_empty() {
            let acr = claims.get("acr").and_then(Value::as_str);
            if !acr.is_some_and(|acr| self.acr_values.iter().any(|v| v == acr)) {
                return Err(TokenError::AcrNotAccepted {
                    // From the provider; clipped like every such value.
                    acr: acr.map(|acr| crate::error::clip(acr, 128)),
                    accepted: self.acr_values.clone(),
                });
            }
        }
        if let Some(context) = &self.auth_context {
            let held = match claims.get("acrs") {
                Some(Value::Array(values)) => values.iter().any(|v| v.as_str() == Some(context)),
                Some(Value::String(one)) => one == context,
                _ => false,
            };
            if !held {
                return Err(TokenError::AuthContextMissing {
                    context: context.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn max_age_needs_a_recent_auth_time() {
        let rule = StepUp::new().max_age(Duration::from_secs(300));
        assert!(
            rule.check(&claims(json!({"auth_time": NOW - 360})), NOW, 60)
                .is_ok()
        );
        let err = rule
            .check(&claims(json!({"auth_time": NOW - 361})), NOW, 60)
            .unwrap_err();
        assert!(
            matches!(err, TokenError::AuthenticationTooOld { max_age: 300, .. }),
            "{err}"
        );
        let err = rule.check(&claims(json!({})), NOW, 60).unwrap_err();
        assert!(matches!(err, TokenError::MissingClaim("auth_time")));
        let err = rule
            .check(&claims(json!({"auth_time": "recent"})), NOW, 60)
            .unwrap_err();
        assert!(matches!(err, TokenError::MissingClaim("auth_time")));
        // A NumericDate with a fraction, read as an ID token's is (truncated).
        assert!(
            rule.check(&claims(json!({"auth_time": NOW as f64 - 359.5})), NOW, 60)
                .is_ok()
        );
        let err = rule
            .check(&claims(json!({"auth_time": NOW as f64 - 360.5})), NOW, 60)
            .unwrap_err();
        assert!(
            matches!(err, TokenError::AuthenticationTooOld { auth_time, .. } if auth_time == NOW - 361),
            "{err}"
        );
    }

    #[test]
    fn acr_must_be_one_asked_for() {
        let rule = StepUp::new().acr_values(["mfa", "hwk"]);
        assert!(rule.check(&claims(json!({"acr": "hwk"})), NOW, 0).is_ok());
        for weak in [json!({"acr": "pwd"}), json!({}), json!({"acr": ["mfa"]})] {
            let err = rule.check(&claims(weak.clone()), NOW, 0).unwrap_err();
            assert!(matches!(err, TokenError::AcrNotAccepted { .. }), "{weak}");
        }
        let err = rule
            .check(&claims(json!({"acr": "pwd"})), NOW, 0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ID token's `acr` is `pwd`, not one of the values the login asked for (`mfa`, `hwk`)"
        );
    }

    #[test]
    fn entra_auth_context_must_be_in_acrs() {
        let rule = StepUp::new().entra_auth_context("c1");
        assert!(
            rule.check(&claims(json!({"acrs": ["c2", "c1"]})), NOW, 0)
                .is_ok()
        );
        for missing in [json!({"acrs": ["c2"]}), json!({}), json!({"acr": "c1"})] {
            let err = rule.check(&claims(missing.clone()), NOW, 0).unwrap_err();
            assert!(
                matches!(err, TokenError::AuthContextMissing { .. }),
                "{missing}"
            );
        }
        assert_eq!(
            rule.claims_parameter().unwrap(),
            r#"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#
        );
    }

    #[test]
    fn nothing_required_accepts_anything() {
        assert!(StepUp::new().is_empty());
        assert!(StepUp::new().check(&Map::new(), NOW, 0).is_ok());
        assert!(StepUp::new().claims_parameter().is_none());
    }
}
