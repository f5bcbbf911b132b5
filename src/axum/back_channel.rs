//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the route
//! the provider POSTs logout tokens to, and the session index that finds
//! the sessions a token ends.
//!
//! The index lives in the app's own session store, as records beside the
//! sessions, so it works with any `tower-sessions` store and is shared by
//! every app instance that shares the store. A record's id is an HMAC of
//! (issuer, `sid`) or (issuer, `sub`) under a [`SessionIndexKey`]: without
//! the key nobody can name an index record, so no browser can present one
//! as its session cookie and tamper with it.

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

use super::routes::Shared;
use crate::error::ConfigError;
use crate::identity::Identity;

/// The data member of an index record: the session ids, as strings.
const INDEX_MEMBER: &str = "oidc_login.index";
/// Sessions remembered per user or provider session; the oldest go first.
const MAX_INDEXED: usize = 64;
/// The least key length: as long as the HMAC-SHA-256 output.
const MIN_KEY_LEN: usize = 32;

/// The secret that names the records of the back-channel session index.
/// Give every app instance that shares a session store the same key (for
/// example from an environment variable holding 32 random bytes or more,
/// base64 or plain text); a single instance may use [`random`](Self::random).
///
/// `Debug` shows no key material.
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

/// Finds and ends the sessions of a provider session (`sid`) or user
/// (`sub`), through records in the session store.
#[derive(Debug, Clone)]
pub(crate) struct SessionIndex {
    store: Arc<dyn SessionStore>,
    key: SessionIndexKey,
    /// How long an index record is kept after its last sign-in.
    lifetime: time::Duration,
}

impl SessionIndex {
    pub(crate) fn new(
        store: Arc<dyn SessionStore>,
        key: SessionIndexKey,
        lifetime: time::Duration,
    ) -> Self {
        Self {
            store,
            key,
            lifetime,
        }
    }

    /// The same index, keeping records `lifetime` after a sign-in.
    pub(crate) fn with_lifetime(&self, lifetime: std::time::Duration) -> Self {
        Self {
            lifetime: time::Duration::try_from(lifetime).unwrap_or(self.lifetime),
            ..self.clone()
        }
    }

    /// Records that session `id` belongs to this identity's `sub` and, when
    /// the ID token had one, its `sid`.
    pub(crate) async fn add(
        &self,
        identity: &Identity,
        id: Id,
    ) -> Result<(), tower_sessions::session_store::Error> {
        let sid = identity.claims.get("sid").and_then(Value::as_str);
        let mut keys = vec![("sub", identity.subject.as_str())];
        keys.extend(sid.map(|sid| ("sid", sid)));
        for (kind, value) in keys {
            let record_id = self.key.record_id(&identity.issuer, kind, value);
            let mut ids = self.load(record_id).await?;
            ids.retain(|known| *known != id);
            ids.push(id);
            if ids.len() > MAX_INDEXED {
                ids.drain(..ids.len() - MAX_INDEXED);
            }
            let record = Record {
                id: record_id,
                data: [(
                    INDEX_MEMBER.to_owned(),
                    Value::from(ids.iter().map(|id| id.to_string()).collect::<Vec<_>>()),
                )]
                .into(),
                expiry_date: OffsetDateTime::now_utc() + self.lifetime,
            };
            self.store.save(&record).await?;
        }
        Ok(())
    }

    /// Deletes the sessions of provider session `sid` at `issuer` or, when
    /// the token named no `sid`, every session of user `sub`. Returns how
    /// many sessions were named.
    pub(crate) async fn end(
        &self,
        issuer: &str,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> Result<usize, tower_sessions::session_store::Error> {
        let record_id = match (sid, sub) {
            (Some(sid), _) => self.key.record_id(issuer, "sid", sid),
            (None, Some(sub)) => self.key.record_id(issuer, "sub", sub),
            (None, None) => return Ok(0),
        };
        let ids = self.load(record_id).await?;
        for id in &ids {
            self.store.delete(id).await?;
        }
        self.store.delete(&record_id).await?;
        Ok(ids.len())
    }

    async fn load(&self, record_id: Id) -> Result<Vec<Id>, tower_sessions::session_store::Error> {
        let Some(record) = self.store.load(&record_id).await? else {
            return Ok(Vec::new());
        };
        Ok(record
            .data
            .get(INDEX_MEMBER)
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|id| id.parse().ok())
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// `POST {prefix}/backchannel-logout`: 200 when the logout token is valid
/// (and its sessions are ended), 400 otherwise; never cached.
pub(crate) async fn backchannel_logout(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(index) = &shared.index else {
        return answer(
            StatusCode::NOT_FOUND,
            Some("back-channel logout is not enabled"),
        );
    };
    // Unknown fields are ignored; `logout_token` exactly once.
    let mut tokens = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "logout_token")
        .map(|(_, value)| value);
    let (Some(token), None) = (tokens.next(), tokens.next()) else {
        tracing::warn!(target: "oidc_login::axum", code = "logout_token_refused", "back-channel logout refused: the body needs exactly one `logout_token`");
        return answer(StatusCode::BAD_REQUEST, Some("invalid_request"));
    };
    let claims = match shared.client.verify_logout_token(&token).await {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "back-channel logout refused");
            return answer(StatusCode::BAD_REQUEST, Some("invalid_request"));
        }
    };
    match index
        .end(
            &claims.issuer,
            claims.session_id.as_deref(),
            claims.subject.as_deref(),
        )
        .await
    {
        Ok(ended) => {
            tracing::info!(
                target: "oidc_login::axum",
                issuer = %claims.issuer,
                subject = claims.subject.as_deref().unwrap_or(""),
                sessions = ended,
                "back-channel logout: sessions ended"
            );
            answer(StatusCode::OK, None)
        }
        Err(error) => {
            // Not the provider's fault: let it retry.
            tracing::error!(target: "oidc_login::axum", %error, "back-channel logout: the session store failed");
            answer(StatusCode::INTERNAL_SERVER_ERROR, None)
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
