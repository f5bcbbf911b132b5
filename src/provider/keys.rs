//! The provider's signing keys: fetched and parsed once, kept in memory, and
//! fetched again only when a token names a key the cache does not hold.
//!
//! Refetches are single-flight (concurrent callers wait for one fetch) and
//! rate-limited by a cooldown counted from the end of the last fetch, so a
//! stream of tokens with random `kid`s costs the provider at most one request
//! per cooldown. A failed refetch keeps the keys already cached: a provider
//! outage does not stop validation. The caller whose refetch failed is told
//! why, so that a token whose key could not be fetched is refused naming the
//! JWKS endpoint and its failure, not as a token with an unknown key.
//!
//! The key set also has a maximum age (`jwks_max_age_seconds`, a day by
//! default): once it is older, the
//! next validation fetches it again and replaces it, so a key the provider
//! has withdrawn (a leaked one, say) stops being accepted.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use url::Url;

use crate::algorithm::Algorithm;
use crate::error::{DiscoveryError, Error};
use crate::http::HttpClient;
use crate::token::KeySet;

#[derive(Debug)]
pub(crate) struct KeyCache {
    http: HttpClient,
    jwks_uri: Url,
    cooldown: Duration,
    max_age: Duration,
    /// Read on every validation; written only after a fetch.
    current: RwLock<Cached>,
    /// Held while a refetch runs; holds the time of the last refetch (the
    /// first fetch does not count, so a rotation right after start-up is
    /// picked up at once).
    refetch: tokio::sync::Mutex<Option<Instant>>,
}

/// The keys to check a token against, and why fetching them again failed,
/// when this call tried and failed.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) keys: Arc<KeySet>,
    pub(crate) refetch_error: Option<Error>,
}

impl Keys {
    fn cached(keys: Arc<KeySet>) -> Self {
        Self {
            keys,
            refetch_error: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    keys: Arc<KeySet>,
    skipped: usize,
    fetched_at: Instant,
}

impl KeyCache {
    /// Fetches the key set for the first time.
    pub(crate) async fn fetch(
        http: HttpClient,
        jwks_uri: Url,
        cooldown: Duration,
        max_age: Duration,
    ) -> Result<Self, Error> {
        let (keys, skipped) = fetch_key_set(&http, &jwks_uri).await?;
        Ok(Self {
            http,
            jwks_uri,
            cooldown,
            max_age,
            current: RwLock::new(Cached {
                keys: Arc::new(keys),
                skipped,
                fetched_at: Instant::now(),
            }),
            refetch: tokio::sync::Mutex::new(None),
        })
    }

    /// The keys held now.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.read().keys
    }

    /// How many entries of the last key set were skipped as unusable.
    pub(crate) fn skipped(&self) -> usize {
        self.read().skipped
    }

    fn read(&self) -> Cached {
        // A poisoned lock only means a writer panicked between two plain
        // assignments; the value is still whole.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The key set to check a token with `kid` and `alg` against: the cached
    /// one when it is younger than the maximum age and has a fitting key;
    /// otherwise the result of one refetch, shared with concurrent callers,
    /// with its error if it failed. Within the cooldown a token from outside
    /// causes no refetch; a token the provider's token endpoint just
    /// returned always may (a key rotation, twice in a row if need be, never
    /// fails a login).
    pub(crate) async fn keys_for(&self, kid: Option<&str>, alg: Algorithm, origin: Origin) -> Keys {
        let cached = self.read();
        let fits = |keys: &KeySet| alg.is_hmac() || keys.has_key_for(kid, alg);
        let stale = cached.fetched_at.elapsed() >= self.max_age;
        if fits(&cached.keys) && !stale {
            return Keys::cached(cached.keys);
        }
        let asked = Instant::now();
        let mut last_fetch = if fits(&cached.keys) {
            // Stale, but the key is there: refresh if nobody else is, and
            // never make this caller wait for another caller's fetch.
            match self.refetch.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Keys::cached(cached.keys),
            }
        } else {
            self.refetch.lock().await
        };
        // Another caller may have fetched while this one waited.
        let cached = self.read();
        let stale = cached.fetched_at.elapsed() >= self.max_age;
        if fits(&cached.keys) && !stale {
            return Keys::cached(cached.keys);
        }
        // A fetch that ended while this caller waited is its fetch too, even
        // when it did not find the key: one fetch per wave of callers.
        let fetched_meanwhile = last_fetch.is_some_and(|at| at >= asked);
        let cooling =
            origin == Origin::Outside && last_fetch.is_some_and(|at| at.elapsed() < self.cooldown);
        if fetched_meanwhile || cooling {
            tracing::debug!(
                target: "oidc_login::provider",
                "the key set was fetched while this caller waited, or less than the cooldown ago; not fetching again"
            );
            return Keys::cached(cached.keys);
        }
        tracing::info!(
            target: "oidc_login::provider",
            jwks_uri = %self.jwks_uri,
            reason = if stale { "the key set is older than its maximum age" } else { "a token names a key the cache does not hold" },
            "fetching the provider's keys again"
        );
        let result = fetch_key_set(&self.http, &self.jwks_uri).await;
        // The cooldown counts from the end of the fetch, so a slow provider
        // cannot make queued callers fetch one after another.
        *last_fetch = Some(Instant::now());
        match result {
            Ok((fresh, skipped)) if !fresh.is_empty() => {
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Cached {
                    keys: fresh.clone(),
                    skipped,
                    fetched_at: Instant::now(),
                };
                Keys::cached(fresh)
            }
            Ok(_) => {
                tracing::warn!(
                    target: "oidc_login::provider",
                    jwks_uri = %self.jwks_uri,
                    "the refetched key set holds no usable key; keeping the cached keys"
                );
                Keys::cached(cached.keys)
            }
            Err(error) => {
                tracing::warn!(
                    target: "oidc_login::provider",
                    %error,
                    "could not fetch the provider's keys again; keeping the cached keys"
                );
                Keys {
                    keys: cached.keys,
                    refetch_error: Some(error),
                }
            }
        }
    }
}

/// Where a token came from, for the key-set refetch cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The provider's token endpoint, over the back channel (a code
    /// exchange or a refresh): only the provider can send one, so a key it
    /// names is fetched even within the cooldown.
    TokenEndpoint,
    /// The browser (the implicit flow), a logout POST, or the app
    /// (`Client::verify_id_token`): anyone can send one, so an unknown key
    /// causes at most one refetch per cooldown.
    Outside,
}

async fn fetch_key_set(http: &HttpClient, jwks_uri: &Url) -> Result<(KeySet, usize), Error> {
    let result = fetch_and_parse(http, jwks_uri).await;
    crate::telemetry::jwks_fetched(result.is_ok());
    result
}

async fn fetch_and_parse(http: &HttpClient, jwks_uri: &Url) -> Result<(KeySet, usize), Error> {
    let body = http
        .get_json("fetching the provider's keys (JWKS) from", jwks_uri, None)
        .await?;
    let (keys, skipped) =
        KeySet::from_jwks(&body).map_err(|message| DiscoveryError::InvalidDocument {
            document: "JWKS",
            message,
        })?;
    if skipped > 0 {
        tracing::info!(
            target: "oidc_login::provider",
            skipped,
            usable = keys.len(),
            "skipped JWKS entries this crate cannot use (unknown type or curve, `use: enc`, RSA under 2048 bits, or malformed)"
        );
    }
    Ok((keys, skipped))
}
