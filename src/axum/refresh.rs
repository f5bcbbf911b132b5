//! Refresh on demand: a signed-in session whose access token is about to
//! expire is refreshed before the request is served, once per session even
//! when several requests arrive together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use tokio::sync::OnceCell;

use crate::client::{Client, Tokens};
use crate::error::{Error, HttpErrorKind};
use crate::identity::Identity;

/// How long a refresh's outcome is kept for the requests that raced it; a
/// refreshed outcome only while its own access token is not due itself.
const OUTCOME_KEPT: Duration = Duration::from_secs(60);
/// The most refreshes kept at once (in flight, or done within
/// [`OUTCOME_KEPT`]); beyond, a refresh runs on its own, unshared.
const MAX_KEPT: usize = 10_000;

/// A refresh's outcome, shared by every request that asked with the same
/// refresh token.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// The new identity and tokens.
    Refreshed(Box<(Identity, Tokens)>),
    /// The provider could not be reached: keep the session as it is.
    Unavailable,
    /// Refused: the session ends.
    Refused,
}

type Slot = Arc<OnceCell<Outcome>>;

/// The settings of refresh on demand, and the refreshes in flight.
#[derive(Debug)]
pub(crate) struct Refresher {
    /// Refresh when the access token expires within this margin.
    pub(crate) margin: Duration,
    inflight: Inflight,
}

/// The refreshes in flight, keyed by the SHA-256 of the refresh token: one
/// refresh per token, that is per session, at a time. Bounded by
/// [`MAX_KEPT`].
#[derive(Debug, Default)]
struct Inflight(Mutex<HashMap<[u8; 32], (Instant, Slot)>>);

impl Inflight {
    /// The slot of the refresh of `key`, shared with the requests that
    /// raced it; a slot of its own when the table is full. An outcome that
    /// is `stale` is dropped first: a provider that does not rotate refresh
    /// tokens keeps the key, and a refresh that falls due again within
    /// [`OUTCOME_KEPT`] must reach it, not take an outcome whose access
    /// token has expired.
    fn slot(&self, key: [u8; 32], stale: impl Fn(&Outcome) -> bool) -> Slot {
        let mut inflight = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        inflight.retain(|_, (started, slot)| {
            started.elapsed() < OUTCOME_KEPT && !slot.get().is_some_and(&stale)
        });
        if inflight.len() >= MAX_KEPT && !inflight.contains_key(&key) {
            tracing::warn!(target: "oidc_login::axum", kept = MAX_KEPT, "too many refreshes at once: this one is not shared with concurrent requests of its session");
            return Slot::default();
        }
        inflight
            .entry(key)
            .or_insert_with(|| (Instant::now(), Slot::default()))
            .1
            .clone()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Refresher {
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            margin,
            inflight: Inflight::default(),
        }
    }

    /// Whether these tokens are due: a refresh token, and an access token
    /// that expires within the margin.
    pub(crate) fn due(&self, tokens: &Tokens, now: i64) -> bool {
        let margin = i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX);
        tokens.refresh_token.is_some()
            && tokens
                .expires_at
                .is_some_and(|expires_at| expires_at.saturating_sub(margin) <= now)
    }

    /// Refreshes `tokens` at `client` (the session's provider), or waits
    /// for the refresh another request started with the same refresh token
    /// and takes its outcome.
    pub(crate) async fn refresh(&self, client: &Client, tokens: &Tokens) -> Outcome {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Outcome::Refused;
        };
        let key: [u8; 32] =
            digest::digest(&digest::SHA256, refresh_token.expose_secret().as_bytes())
                .as_ref()
                .try_into()
                .expect("SHA-256 is 32 bytes");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // A refreshed outcome that kept this refresh token (the provider
        // does not rotate them) is reused only while its access token is
        // fresh; one that rotated it is always reused, as the old token is
        // spent.
        let slot = self.inflight.slot(key, |outcome| match outcome {
            Outcome::Refreshed(refreshed) => {
                let (_, new) = refreshed.as_ref();
                new.refresh_token
                    .as_ref()
                    .is_some_and(|kept| kept.expose_secret() == refresh_token.expose_secret())
                    && self.due(new, now)
            }
            Outcome::Unavailable | Outcome::Refused => false,
        });
        slot.get_or_init(|| async {
            match client.refresh(tokens).await {
                Ok(login) => Outcome::Refreshed(Box::new((login.identity, login.tokens))),
                // A 4xx (but 429) is the provider's answer, HTML or not: the
                // refresh token or the client was refused.
                Err(Error::Http(error))
                    if matches!(error.kind(), HttpErrorKind::Status(code) if (400..500).contains(code) && *code != 429) =>
                {
                    tracing::warn!(target: "oidc_login::axum", %error, "refresh refused by the provider's status: the session ends");
                    Outcome::Refused
                }
                Err(error @ (Error::Http(_) | Error::Discovery(_))) => {
                    tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "refresh failed; the session stays as it is and is refreshed later");
                    Outcome::Unavailable
                }
                Err(error) => {
                    tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "refresh refused: the session ends");
                    Outcome::Refused
                }
            }
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_outcome_is_not_shared() {
        let inflight = Inflight::default();
        let first = inflight.slot([1u8; 32], |_| true);
        // Not resolved yet: shared, whatever `stale` says.
        assert!(Arc::ptr_eq(&first, &inflight.slot([1u8; 32], |_| true)));
        first.set(Outcome::Unavailable).unwrap();
        assert!(Arc::ptr_eq(&first, &inflight.slot([1u8; 32], |_| false)));
        // Resolved and stale: a new refresh.
        assert!(!Arc::ptr_eq(&first, &inflight.slot([1u8; 32], |_| true)));
    }

    #[test]
    fn the_table_of_refreshes_is_bounded() {
        let inflight = Inflight::default();
        for i in 0..(MAX_KEPT as u32 + 500) {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_be_bytes());
            let _ = inflight.slot(key, |_| false);
        }
        assert_eq!(inflight.len(), MAX_KEPT);
        // A key already there still shares its slot.
        let first = inflight.slot([0u8; 32], |_| false);
        assert!(Arc::ptr_eq(&first, &inflight.slot([0u8; 32], |_| false)));
    }
}
