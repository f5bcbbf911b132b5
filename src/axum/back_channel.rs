//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the route
//! the provider POSTs logout tokens to, and the logout index that tells the
//! extractors which sessions it ended.
//!
//! A valid logout token writes a record into the app's own session store,
//! beside the sessions: "provider session `sid` ended", or "every session of
//! user `sub` signed in until now ended". The extractors read those records
//! for each signed-in request (one or two store reads) and end a session
//! that one names. So it works with any `tower-sessions` store, every app
//! instance sharing the store sees it, and a request in flight while the
//! logout arrives cannot write the session back to life. A record's id is
//! an HMAC of (issuer, `sid`) or (issuer, `sub`) under a
//! [`SessionIndexKey`]: without the key nobody can name a record, so no
//! browser can present one as its session cookie.

use std::sync::Arc;

use ::axum::body::Bytes;
use ::axum::extract::State;
use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use aws_lc_rs::hmac;
use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::Error as StoreError;

use crate::client::Client;
use crate::error::ConfigError;
use crate::identity::Identity;

/// The data member of a logout record: when the logout came (Unix
/// milliseconds, so a sign-in right after it is not taken for one before).
const ENDED_AT: &str = "oidc_login.ended_at_ms";
/// The least key length: as long as the HMAC-SHA-256 output.
const MIN_KEY_LEN: usize = 32;

/// The secret that names the records of the back-channel session index.
/// Give every app instance that shares a session store the same key (for
/// example from an environment variable holding 32 random bytes or more,
/// base64 or plain text); a single instance may use [`random`](Self::random).
///
/// `Debug` shows no key material.
///
/// ```
/// use oidc_login::axum::SessionIndexKey;
///
/// // Shared by every instance: 32 random bytes or more (`from_env` reads them
/// // from an environment variable).
/// let shared = SessionIndexKey::from_secret(b"0123456789abcdef0123456789abcdef")?;
/// // One instance alone:
/// let single = SessionIndexKey::random();
/// assert!(SessionIndexKey::from_secret(b"too short").is_err());
/// assert_eq!(format!("{shared:?}"), "SessionIndexKey([redacted])");
/// # let _ = single;
/// # Ok::<(), oidc_login::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionIndexKey(hmac::Key);

impl std::fmt::Debug for SessionIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionIndexKey([redacted])")
    }
}

impl SessionIndexKey {
    /// A key from secret bytes: at least 32 of them.
    pub fn from_secret(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_KEY_LEN {
            return Err(ConfigError::Invalid {
                field: "session_index_key",
                reason: format!(
                    "is {} bytes; it must be at least {MIN_KEY_LEN} random bytes",
                    secret.len()
                ),
            });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A key from the environment variable `variable` (at least 32 bytes).
    pub fn from_env(variable: &str) -> Result<Self, ConfigError> {
        let value = std::env::var(variable).map_err(|_| ConfigError::Invalid {
            field: "session_index_key",
            reason: format!("the environment variable `{variable}` is not set"),
        })?;
        Self::from_secret(value.as_bytes())
    }

    /// A fresh random key, for a single app instance: instances with
    /// different keys cannot find each other's sessions.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source failed");
        Self(hmac::Key::new(hmac::HMAC_SHA256, &secret))
    }

    /// The index record's id for (issuer, kind, value).
    fn record_id(&self, issuer: &str, kind: &str, value: &str) -> Id {
        let mut context = hmac::Context::with_key(&self.0);
        for part in [kind, issuer, value] {
            // Length-prefixed, so no two triples share an input.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let tag = context.sign();
        let mut id = [0u8; 16];
        id.copy_from_slice(&tag.as_ref()[..16]);
        Id(i128::from_be_bytes(id))
    }
}

/// The app's session store, shared. Its `Debug` shows no record: a
/// `MemoryStore`'s own prints every session, tokens included, and
/// `LoginRoutes` and `LoginLayer` hold the store.
#[derive(Clone)]
pub(crate) struct SharedStore(Arc<dyn SessionStore>);

impl SharedStore {
    pub(crate) fn new(store: impl SessionStore) -> Self {
        Self(Arc::new(store))
    }
}

impl std::ops::Deref for SharedStore {
    type Target = dyn SessionStore;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionStore(..)")
    }
}

/// The logouts the provider sent over the back channel, kept in the
/// session store under keyed record ids.
#[derive(Debug, Clone)]
pub(crate) struct LogoutIndex {
    store: SharedStore,
    key: SessionIndexKey,
    /// How long a record is kept: as long as a sign-in may last.
    lifetime: time::Duration,
}

impl LogoutIndex {
    pub(crate) fn new(store: SharedStore, key: SessionIndexKey, lifetime: time::Duration) -> Self {
        Self {
            store,
            key,
            lifetime,
        }
    }

    /// Records that provider session `sid` at `issuer` ended or, when the
    /// token named no `sid`, that every session of user `sub` signed in
    /// until now ended.
    pub(crate) async fn end(
        &self,
        issuer: &str,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = match (sid, sub) {
            (Some(sid), _) => self.key.record_id(issuer, "sid", sid),
            (None, Some(sub)) => self.key.record_id(issuer, "sub", sub),
            (None, None) => return Ok(()),
        };
        let now = OffsetDateTime::now_utc();
        let mut record = Record {
            id,
            data: [(ENDED_AT.to_owned(), Value::from(unix_ms(now)))].into(),
            // Checked: a lifetime past the calendar's end must not panic the
            // route (the logout token's `jti` would stay used).
            expiry_date: now
                .checked_add(self.lifetime)
                .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc()),
        };
        // Some stores' `save` only updates (Redis: `SET XX`), and `create`
        // may pick another id when this one is taken meanwhile.
        if self.store.load(&id).await?.is_some() {
            return self.store.save(&record).await;
        }
        self.store.create(&mut record).await?;
        if record.id != id {
            self.store.delete(&record.id).await?;
            record.id = id;
            self.store.save(&record).await?;
        }
        Ok(())
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
    ) -> Result<bool, StoreError> {
        if identity.break_glass {
            return Ok(false);
        }
        if let Some(sid) = identity.claims.get("sid").and_then(Value::as_str) {
            let id = self.key.record_id(&identity.issuer, "sid", sid);
            if self.store.load(&id).await?.is_some() {
                return Ok(true);
            }
        }
        let id = self
            .key
            .record_id(&identity.issuer, "sub", &identity.subject);
        let Some(record) = self.store.load(&id).await? else {
            return Ok(false);
        };
        let ended_at = record.data.get(ENDED_AT).and_then(Value::as_i64);
        // A record that cannot be read ends the session: failing closed.
        Ok(ended_at.is_none_or(|ended_at| unix_ms(signed_in_at) <= ended_at))
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
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
            client.forget_logout_token(&claims);
            tracing::error!(target: "oidc_login::axum", %error, "back-channel logout failed: the session store failed");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_long_and_do_not_print() {
        assert!(SessionIndexKey::from_secret("short").is_err());
        let key = SessionIndexKey::from_secret([7u8; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SessionIndexKey([redacted])");
    }

    #[test]
    fn record_ids_depend_on_every_part_and_the_key() {
        let key = SessionIndexKey::from_secret([7u8; 32]).unwrap();
        let id = key.record_id("https://idp", "sub", "alice");
        assert_eq!(id, key.record_id("https://idp", "sub", "alice"));
        assert_ne!(id, key.record_id("https://idp", "sid", "alice"));
        assert_ne!(id, key.record_id("https://idp2", "sub", "alice"));
        assert_ne!(id, key.record_id("https://idp", "sub", "alic"));
        // No ambiguity from where one part ends.
        assert_ne!(
            key.record_id("ab", "sub", "c"),
            key.record_id("a", "sub", "bc")
        );
        let other = SessionIndexKey::from_secret([8u8; 32]).unwrap();
        assert_ne!(id, other.record_id("https://idp", "sub", "alice"));
    }
}
