//! Local sign-outs, recorded so that they stay: `POST /logout` flushes the
//! session, but a request of the same session still in flight (a refresh,
//! any session write) saves its copy afterwards, and stores that upsert
//! bring the session back, while the response sends the old cookie back.
//! So the sign-out is also recorded in the client's [`SharedState`], under
//! the sign-in's random id, like a back-channel logout; the layer checks
//! it for each signed-in request and ends a session that was signed out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tower_sessions::Session;

use crate::error::SharedStateError;
use crate::shared_state::{SharedState, StateKey, later, unix_ms};

use super::session::SessionUser;

/// A marker a signed-out session keeps (the sign-out's Unix time), so that
/// the response sets a cookie with the new session id, as a sign-in does,
/// rather than a removal cookie holding the old one.
const SIGNED_OUT_KEY: &str = "oidc_login.signed_out_at";

/// Gives the flushed `session` a new id. tower-sessions keeps a flushed
/// session's record in memory with its old id, and anything written after
/// the flush (the provider logout's `state`) would be saved under that id
/// again, which the response's cookie would carry. The session then holds
/// the marker (and what the caller adds); it expires like any other.
/// Called for a signed-in user only: a record saved per anonymous sign-out
/// would let anyone fill the store.
pub(crate) async fn renew_id(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    session.insert(SIGNED_OUT_KEY, now).await
}

/// The sign-outs of this app, and how long a sign-in lasts at most.
#[derive(Debug, Clone)]
pub(crate) struct SignOuts {
    state: Arc<dyn SharedState>,
    max_session_age: Duration,
}

impl SignOuts {
    pub(crate) fn new(state: Arc<dyn SharedState>, max_session_age: Duration) -> Self {
        Self {
            state,
            max_session_age,
        }
    }

    fn key(sign_in_id: &str) -> StateKey {
        StateKey::new("signed_out", &[sign_in_id.as_bytes()])
    }

    /// Records that this sign-in ended, until it would have ended anyway
    /// (its `max_session_age`).
    pub(crate) async fn record(&self, user: &SessionUser) -> Result<(), SharedStateError> {
        let Some(id) = &user.sign_in_id else {
            return Ok(());
        };
        let now = SystemTime::now();
        let until = later(SystemTime::from(user.signed_in_at), self.max_session_age);
        if until <= now {
            return Ok(());
        }
        self.state.put(&Self::key(id), unix_ms(now), until).await
    }

    /// Whether this sign-in was signed out (or has no id to tell).
    pub(crate) async fn signed_out(&self, user: &SessionUser) -> Result<bool, SharedStateError> {
        match &user.sign_in_id {
            Some(id) => Ok(self.state.get(&Self::key(id)).await?.is_some()),
            None => Ok(true),
        }
    }
}
