//! Step-up on a route: [`RequireStepUp`] asks for a recent or stronger
//! authentication than the session's, the login route's step-up query, and
//! the guard that stops a provider that never satisfies it from looping.

use std::marker::PhantomData;
use std::sync::Arc;

use ::axum::extract::FromRequestParts;
use ::axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::extract::{AuthRejection, Signed, is_browser_navigation, user};
use super::refusal::Refusal;
use crate::accounts::Account;
use crate::error::StartError;
use crate::flow::StepUp;
use crate::identity::Identity;

/// Where the callback notes a step-up login it finished.
const DONE_KEY: &str = "oidc_login.step_up_done";
/// How long after a finished step-up login an unmet requirement is an
/// error rather than another login: a provider (or a clock) that cannot
/// satisfy it gets an error page, never endless redirects.
const LOOP_GUARD_SECONDS: i64 = 60;

/// Names the step-up a route requires, for [`RequireStepUp`].
///
/// ```
/// use std::time::Duration;
/// use oidc_login::StepUp;
/// use oidc_login::axum::StepUpPolicy;
///
/// /// Signed in within the last 5 minutes, with multi-factor authentication.
/// struct RecentMfa;
/// impl StepUpPolicy for RecentMfa {
///     fn step_up() -> StepUp {
///         StepUp::new()
///             .max_age(Duration::from_secs(300))
///             .acr_values(["http://schemas.openid.net/pape/policies/2007/06/multi-factor"])
///     }
/// }
/// ```
pub trait StepUpPolicy: Send + Sync + 'static {
    /// The requirement; called once per request that reads the extractor.
    fn step_up() -> StepUp;
}

/// The signed-in user, whose authentication must meet `P::step_up()`
/// ([`StepUp`]: a maximum age of `auth_time`, an `acr`, an Entra ID
/// authentication context).
///
/// When it does not (or no one is signed in), a browser navigation (a
/// `GET` that accepts HTML) is sent to a new login that asks the provider
/// for it (`max_age`, `acr_values`, `prompt=login`, `claims`) and comes back
/// to the same page; the callback refuses an ID token that does not meet it
/// (403, `step_up_not_met`). Any other request, a `POST` above all (a
/// redirect would lose its body), gets 401 with a `WWW-Authenticate`
/// challenge in the form of RFC 9470 (`error="insufficient_user_authentication"`,
/// `max_age`, `acr_values`). If the requirement is still unmet right after
/// a step-up login finished, the answer is 403 (`step_up_not_met`), not
/// another login. The new login names the signed-in user as `login_hint`
/// (its username, else its email); a break-glass session, which has no
/// `auth_time` or `acr`, never meets a step-up.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use oidc_login::StepUp;
/// use oidc_login::axum::{RequireStepUp, StepUpPolicy};
///
/// struct Recent;
/// impl StepUpPolicy for Recent {
///     fn step_up() -> StepUp {
///         StepUp::new().max_age(Duration::from_secs(300))
///     }
/// }
///
/// async fn delete_everything(user: RequireStepUp<Recent>) -> String {
///     format!("confirmed by {}", user.identity.subject)
/// }
///
/// let app: Router = Router::new().route("/danger", get(delete_everything));
/// ```
pub struct RequireStepUp<P: StepUpPolicy> {
    /// Who signed in, with roles; shared by every extractor of the request.
    pub identity: Arc<Identity>,
    /// The linked local account, as [`SignedIn::account`](super::SignedIn::account).
    pub account: Option<Account>,
    policy: PhantomData<P>,
}

impl<P: StepUpPolicy> std::fmt::Debug for RequireStepUp<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireStepUp")
            .field("step_up", &P::step_up())
            .field("identity", &self.identity)
            .field("account", &self.account)
            .finish()
    }
}

impl<S: Send + Sync, P: StepUpPolicy> FromRequestParts<S> for RequireStepUp<P> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let step_up = P::step_up();
        let (current, user) = user(parts).await?;
        let browser = is_browser_navigation(parts);
        let Some(Signed { identity, account }) = user else {
            return Err(if browser {
                AuthRejection::LoginRequired {
                    location: current.step_up_location(&step_up, None, None),
                }
            } else {
                AuthRejection::NotSignedIn
            });
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let Err(unmet) = step_up.check(
            &identity.claims,
            now,
            current.clock_skew_seconds(identity.provider_name()),
        ) else {
            return Ok(Self {
                identity,
                account,
                policy: PhantomData,
            });
        };
        let just_tried = just_stepped_up(current.session(), &step_up, now)
            .await
            .map_err(|_| AuthRejection::Session)?;
        tracing::info!(
            target: "oidc_login::axum",
            code = if just_tried { Refusal::STEP_UP_NOT_MET.code() } else { "step_up_required" },
            subject = %crate::error::clip(&identity.subject, 256),
            path = parts.uri.path(),
            reason = %unmet,
            "the route needs a recent or stronger authentication than the session's"
        );
        if just_tried {
            return Err(AuthRejection::StepUpNotMet);
        }
        Err(if browser {
            // The same user authenticates again: the provider may skip its
            // account picker.
            let hint = identity.username.as_deref().or(identity.email.as_deref());
            // At the provider the user signed in with (none: break-glass).
            let provider = identity.provider_name();
            AuthRejection::LoginRequired {
                location: current.step_up_location(&step_up, hint, provider),
            }
        } else {
            AuthRejection::StepUpRequired { step_up }
        })
    }
}

/// A step-up login the callback finished: when, and what it asked for.
#[derive(Serialize, Deserialize)]
struct Done {
    at: i64,
    step_up: StepUp,
}

/// Notes, at the callback, a step-up login just finished.
pub(super) async fn remember(
    session: &Session,
    step_up: StepUp,
) -> Result<(), tower_sessions::session::Error> {
    let at = time::OffsetDateTime::now_utc().unix_timestamp();
    session.insert(DONE_KEY, Done { at, step_up }).await
}

/// Whether a login that asked for this very step-up finished moments ago.
async fn just_stepped_up(
    session: &Session,
    step_up: &StepUp,
    now: i64,
) -> Result<bool, tower_sessions::session::Error> {
    let done: Option<Done> = session.get(DONE_KEY).await?;
    Ok(done.is_some_and(|done| {
        &done.step_up == step_up && (0..=LOOP_GUARD_SECONDS).contains(&(now - done.at))
    }))
}

/// The query parameters of a step-up login: `GET {prefix}/login?
/// return_to=..&max_age=300&acr_values=a%20b&auth_context=c1`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct StepUpQuery {
    max_age: Option<String>,
    acr_values: Option<String>,
    auth_context: Option<String>,
}

impl StepUpQuery {
    /// The step-up asked for, if any.
    pub(super) fn step_up(self) -> Result<Option<StepUp>, StartError> {
        let mut step_up = StepUp::new();
        if let Some(max_age) = self.max_age {
            let seconds = max_age
                .parse::<u64>()
                .map_err(|_| StartError::InvalidParameter {
                    name: "max_age",
                    reason: "it must be a whole number of seconds",
                })?;
            step_up = step_up.max_age(std::time::Duration::from_secs(seconds));
        }
        if let Some(values) = self.acr_values {
            let values: Vec<&str> = values.split(' ').filter(|v| !v.is_empty()).collect();
            if values.len() > 16 || values.iter().any(|v| v.len() > 256) {
                return Err(StartError::InvalidParameter {
                    name: "acr_values",
                    reason: "at most 16 values of at most 256 characters",
                });
            }
            step_up = step_up.acr_values(values);
        }
        if let Some(context) = self.auth_context {
            if context.is_empty() || context.len() > 64 {
                return Err(StartError::InvalidParameter {
                    name: "auth_context",
                    reason: "it must be an authentication context id such as `c1`",
                });
            }
            step_up = step_up.entra_auth_context(context);
        }
        Ok((!step_up.is_empty()).then_some(step_up))
    }

    /// The login route's query for this step-up.
    pub(super) fn pairs(step_up: &StepUp) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(max_age) = step_up.max_age_seconds() {
            pairs.push(("max_age", max_age.to_string()));
        }
        if !step_up.accepted_acr_values().is_empty() {
            pairs.push(("acr_values", step_up.accepted_acr_values().join(" ")));
        }
        if let Some(context) = step_up.auth_context() {
            pairs.push(("auth_context", context.to_owned()));
        }
        pairs
    }
}

/// The RFC 9470 challenge for an API request that needs a step-up.
pub(super) fn challenge(step_up: &StepUp) -> String {
    let max_age = step_up.max_age_seconds().map(|seconds| seconds.to_string());
    let acr_values = step_up.accepted_acr_values().join(" ");
    let mut params = vec![
        ("error", "insufficient_user_authentication"),
        (
            "error_description",
            "a more recent or stronger authentication is required",
        ),
    ];
    if let Some(max_age) = &max_age {
        params.push(("max_age", max_age));
    }
    if !acr_values.is_empty() {
        params.push(("acr_values", &acr_values));
    }
    super::bearer::challenge(&params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn query(max_age: Option<&str>, acr: Option<&str>, context: Option<&str>) -> StepUpQuery {
        StepUpQuery {
            max_age: max_age.map(Into::into),
            acr_values: acr.map(Into::into),
            auth_context: context.map(Into::into),
        }
    }

    #[test]
    fn the_login_query_round_trips() {
        let step_up = StepUp::new()
            .max_age(Duration::from_secs(300))
            .acr_values(["mfa", "hwk"])
            .entra_auth_context("c1");
        let pairs: std::collections::HashMap<_, _> =
            StepUpQuery::pairs(&step_up).into_iter().collect();
        let back = query(
            pairs.get("max_age").map(String::as_str),
            pairs.get("acr_values").map(String::as_str),
            pairs.get("auth_context").map(String::as_str),
        )
        .step_up()
        .unwrap();
        assert_eq!(back, Some(step_up));
        assert_eq!(query(None, None, None).step_up().unwrap(), None);
    }

    #[test]
    fn a_bad_login_query_is_refused() {
        for bad in [
            query(Some("-1"), None, None),
            query(Some("soon"), None, None),
            query(None, Some(&"a ".repeat(17)), None),
            query(None, None, Some("")),
        ] {
            assert!(matches!(
                bad.step_up(),
                Err(StartError::InvalidParameter { .. })
            ));
        }
    }

    #[tokio::test]
    async fn the_loop_guard_holds_for_the_same_step_up_just_finished() {
        let store = std::sync::Arc::new(tower_sessions::MemoryStore::default());
        let session = Session::new(None, store, None);
        let asked = StepUp::new().acr_values(["mfa"]);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(!just_stepped_up(&session, &asked, now).await.unwrap());
        remember(&session, asked.clone()).await.unwrap();
        assert!(just_stepped_up(&session, &asked, now).await.unwrap());
        let other = StepUp::new().acr_values(["hwk"]);
        assert!(
            !just_stepped_up(&session, &other, now).await.unwrap(),
            "another route's step-up still starts its own login"
        );
        assert!(
            !just_stepped_up(&session, &asked, now + LOOP_GUARD_SECONDS + 1)
                .await
                .unwrap(),
            "later, the route may ask again"
        );
    }

    #[test]
    fn the_challenge_names_what_is_needed() {
        let step_up = StepUp::new()
            .max_age(Duration::from_secs(60))
            .acr_values(["mfa", "x\"y"]);
        assert_eq!(
            challenge(&step_up),
            r#"Bearer error="insufficient_user_authentication", error_description="a more recent or stronger authentication is required", max_age="60", acr_values="mfa xy""#
        );
        // What would break the header goes too.
        let step_up = StepUp::new().acr_values(["mfa", "x\r\ny\\"]);
        assert_eq!(
            challenge(&step_up),
            r#"Bearer error="insufficient_user_authentication", error_description="a more recent or stronger authentication is required", acr_values="mfa xy""#
        );
    }
}
