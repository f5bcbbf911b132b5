//! Step-up at the embedded provider: each user's last authentication is
//! remembered (single sign-on), reused by a later authorization request
//! unless it asks for more (`prompt=login`, a `max_age` it is older than,
//! `acr_values` or an Entra ID authentication context it lacks), in which
//! case the user authenticates anew at the level asked for.
//! [`Misbehavior::IgnoreStepUp`] reuses it whatever is asked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::TestProvider;
use super::misbehavior::Misbehavior;
use super::model::TestUser;
use super::recent::Recent;
use super::server::Params;
use super::state::{Shared, lock, unix_now};

/// One authentication of a user at the provider.
#[derive(Clone, Debug, Default)]
pub(super) struct Authentication {
    /// Unix seconds.
    pub(super) at: u64,
    /// The `acr` it was made at, if any was asked for.
    acr: Option<String>,
    /// The Entra ID authentication contexts it satisfied (`acrs`).
    acrs: Vec<String>,
}

/// What the provider remembers for step-up.
pub(super) struct StepUpState {
    /// Each user's last authentication, by `sub` (bounded by the users).
    last: Mutex<HashMap<String, Authentication>>,
    /// The authentication each provider session (`sid`) was made with, so
    /// that its refreshed ID tokens carry the same `acr`.
    by_session: Mutex<Recent<Authentication>>,
}

impl Default for StepUpState {
    fn default() -> Self {
        Self {
            last: Mutex::new(HashMap::new()),
            by_session: Mutex::new(Recent::new(None)),
        }
    }
}

/// The authentication context values of a `claims` request parameter:
/// `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}` (or `values`).
fn requested_contexts(params: &Params) -> Vec<String> {
    let Some(claims) = params
        .get("claims")
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
    else {
        return Vec::new();
    };
    let acrs = &claims["id_token"]["acrs"];
    let mut contexts: Vec<String> = acrs["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(one) = acrs["value"].as_str() {
        contexts.push(one.to_owned());
    }
    contexts
}

/// The authentication behind an authorization request for `user`: the
/// remembered one when it meets the request, else a new one (now, at the
/// first `acr` asked for, with the contexts asked for).
pub(super) fn authenticate(shared: &Shared, user: &TestUser, params: &Params) -> Authentication {
    let now = unix_now();
    let asked_acr: Vec<&str> = params
        .get("acr_values")
        .map(|v| v.split(' ').filter(|v| !v.is_empty()).collect())
        .unwrap_or_default();
    let asked_contexts = requested_contexts(params);
    let mut last = lock(&shared.step_up.last);
    let remembered = last.get(user.sub()).cloned();
    if let Some(remembered) = &remembered
        && shared.is(&Misbehavior::IgnoreStepUp)
    {
        return remembered.clone();
    }
    let meets = |a: &Authentication| {
        let login = params
            .get("prompt")
            .is_some_and(|p| p.split(' ').any(|p| p == "login"));
        let recent = params
            .get("max_age")
            .and_then(|m| m.parse::<u64>().ok())
            .is_none_or(|max_age| now.saturating_sub(a.at) <= max_age);
        let acr = asked_acr.is_empty() || a.acr.as_deref().is_some_and(|x| asked_acr.contains(&x));
        let contexts = asked_contexts.iter().all(|c| a.acrs.contains(c));
        !login && recent && acr && contexts
    };
    if let Some(remembered) = remembered.filter(meets) {
        return remembered;
    }
    let fresh = if shared.is(&Misbehavior::IgnoreStepUp) {
        Authentication {
            at: now,
            ..Authentication::default()
        }
    } else {
        Authentication {
            at: now,
            acr: asked_acr.first().map(|a| (*a).to_owned()),
            acrs: asked_contexts,
        }
    };
    last.insert(user.sub().to_owned(), fresh.clone());
    fresh
}

/// Remembers the authentication a provider session was made with.
pub(super) fn bind_session(shared: &Shared, sid: &str, authentication: &Authentication) {
    lock(&shared.step_up.by_session).insert(sid.to_owned(), authentication.clone());
}

/// Puts `acr` and `acrs` of the session's authentication in an ID token.
pub(super) fn decorate(shared: &Shared, sid: &str, claims: &mut Map<String, Value>) {
    let sessions = lock(&shared.step_up.by_session);
    let Some(authentication) = sessions.get(sid) else {
        return;
    };
    if let Some(acr) = &authentication.acr {
        claims.insert("acr".to_owned(), json!(acr));
    }
    if !authentication.acrs.is_empty() {
        claims.insert("acrs".to_owned(), json!(authentication.acrs));
    }
}

impl TestProvider {
    /// Moves every user's remembered authentication `by` into the past, as
    /// if they had signed in that much earlier: a later login that asks for
    /// a `max_age` shorter than that makes the user authenticate again (or,
    /// under [`Misbehavior::IgnoreStepUp`], returns the old `auth_time`).
    pub fn backdate_authentications(&self, by: Duration) {
        for authentication in lock(&self.shared.step_up.last).values_mut() {
            authentication.at = authentication.at.saturating_sub(by.as_secs());
        }
    }
}
