//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the route
//! the provider POSTs logout tokens to, and the logout index that tells the
//! extractors which sessions it ended.
//!
//! A valid logout token writes a record into the client's
//! [`SharedState`]: "provider session `sid` ended", or "every session of
//! user `sub` signed in until now ended". The layer reads those records
//! for each signed-in request (one or two reads) and ends a session that
//! one names. So every app instance sharing the state (the app's session
//! store, through [`SessionStoreState`](super::SessionStoreState)) sees
//! it, and a request in flight while the logout arrives cannot write the
//! session back to life.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::axum::body::Bytes;
use ::axum::extract::State;
use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;

use crate::client::Client;
use crate::error::{Error, LogoutError, SharedStateError};
use crate::identity::Identity;
use crate::shared_state::{SharedState, StateKey, later, unix_ms};

/// The logouts the provider sent over the back channel, kept in the
/// shared state.
#[derive(Debug, Clone)]
pub(crate) struct LogoutIndex {
    state: Arc<dyn SharedState>,
    /// How long a record is kept: as long as a sign-in may last.
    lifetime: Duration,
}

impl LogoutIndex {
    pub(crate) fn new(state: Arc<dyn SharedState>, lifetime: Duration) -> Self {
        Self { state, lifetime }
    }

    /// Records that provider session `sid` at `issuer` ended or, when the
    /// token named no `sid`, that every session of user `sub` signed in
    /// until now ended.
    pub(crate) async fn end(
        &self,
        issuer: &str,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> Result<(), SharedStateError> {
        let key = match (sid, sub) {
            (Some(sid), _) => StateKey::new("logout_sid", &[issuer.as_bytes(), sid.as_bytes()]),
            (None, Some(sub)) => StateKey::new("logout_sub", &[issuer.as_bytes(), sub.as_bytes()]),
            (None, None) => return Ok(()),
        };
        let now = SystemTime::now();
        self.state
            .put(&key, unix_ms(now), later(now, self.lifetime))
            .await
    }

    /// Whether a back-channel logout ended this sign-in: its provider
    /// session (`sid`), or its user (`sub`) after it signed in. The times
    /// come from the clocks of the instances that wrote them, which must
    /// agree (NTP): a sign-in within their difference before a `sub`
    /// logout may outlive it.
    pub(crate) async fn ended(
        &self,
        identity: &Identity,
        signed_in_at: OffsetDateTime,
    ) -> Result<bool, SharedStateError> {
        if identity.break_glass {
            return Ok(false);
        }
        let issuer = identity.issuer.as_bytes();
        if let Some(sid) = identity.claims.get("sid").and_then(Value::as_str) {
            let key = StateKey::new("logout_sid", &[issuer, sid.as_bytes()]);
            if self.state.get(&key).await?.is_some() {
                return Ok(true);
            }
        }
        let key = StateKey::new("logout_sub", &[issuer, identity.subject.as_bytes()]);
        let Some(ended_at) = self.state.get(&key).await? else {
            return Ok(false);
        };
        Ok(unix_ms(signed_in_at.into()) <= ended_at)
    }
}

/// What the back-channel route needs: the client that checks logout
/// tokens, and where logouts are recorded.
#[derive(Debug)]
pub(crate) struct BackChannel {
    pub(crate) client: Client,
    pub(crate) index: LogoutIndex,
}

/// `POST {prefix}/backchannel-logout`: 200 when the logout token is valid
/// and its logout recorded, 400 otherwise (Back-Channel Logout 1.0 section
/// 2.8); never cached. Mounted only when back-channel logout is on.
pub(crate) async fn backchannel_logout(
    State(back_channel): State<Arc<BackChannel>>,
    body: Bytes,
) -> Response {
    let BackChannel { client, index } = &*back_channel;
    // Unknown fields are ignored; `logout_token` exactly once.
    let mut tokens = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "logout_token")
        .map(|(_, value)| value);
    let (Some(token), None) = (tokens.next(), tokens.next()) else {
        tracing::warn!(target: "oidc_login::axum", code = "logout_token_refused", "back-channel logout refused: the body needs exactly one `logout_token`");
        return answer(StatusCode::BAD_REQUEST, Some("invalid_request"));
    };
    let claims = match client.verify_logout_token(&token).await {
        Ok(claims) => claims,
        Err(error @ Error::Logout(LogoutError::ReplayMemory(_))) => {
            tracing::error!(target: "oidc_login::axum", code = error.code(), %error, "back-channel logout failed: the shared state failed");
            return answer(StatusCode::BAD_REQUEST, Some("temporarily_unavailable"));
        }
        Err(error) => {
            tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "back-channel logout refused");
            return answer(StatusCode::BAD_REQUEST, Some("invalid_request"));
        }
    };
    let recorded = index
        .end(
            &claims.issuer,
            claims.session_id.as_deref(),
            claims.subject.as_deref(),
        )
        .await;
    match recorded {
        Ok(()) => {
            tracing::info!(
                target: "oidc_login::axum",
                issuer = %claims.issuer,
                subject = claims.subject.as_deref().unwrap_or(""),
                by_session = claims.session_id.is_some(),
                "back-channel logout: sessions ended"
            );
            answer(StatusCode::OK, None)
        }
        Err(error) => {
            // The logout failed: the provider may send the same token again.
            if let Err(error) = client.forget_logout_token(&claims).await {
                tracing::error!(target: "oidc_login::axum", %error, "the failed logout token stays marked as used: the shared state failed");
            }
            tracing::error!(target: "oidc_login::axum", %error, "back-channel logout failed: the shared state failed");
            answer(StatusCode::BAD_REQUEST, Some("temporarily_unavailable"))
        }
    }
}

/// The answer: the status, `Cache-Control: no-store`, and for an error
/// the RFC 6749-style JSON body the spec suggests.
fn answer(status: StatusCode, error: Option<&str>) -> Response {
    let body = error
        .map(|error| serde_json::json!({ "error": error }).to_string())
        .unwrap_or_default();
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        body,
    )
        .into_response()
}
