//! The provider as discovered: its metadata, checked once, and its keys;
//! discovery retried while the provider cannot be reached yet (`retry.rs`);
//! whether it is Microsoft Entra ID (`recognise.rs`).

mod keys;
mod metadata;
mod recognise;
mod retry;

pub use recognise::{EntraId, EntraVersion, Recognition};

pub(crate) use keys::{KeyCache, Origin};
pub(crate) use metadata::Metadata;

use crate::config::Config;
use crate::error::Error;
use crate::http::HttpClient;

/// A discovered provider: checked metadata and a warm key cache.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) metadata: Metadata,
    pub(crate) keys: KeyCache,
}

impl Provider {
    /// Fetches and checks the metadata, then fetches the keys. Both must
    /// succeed: a client that starts without keys could not finish a login.
    pub(crate) async fn discover(config: &Config, http: &HttpClient) -> Result<Self, Error> {
        let metadata = Metadata::fetch(config, http).await?;
        let keys = KeyCache::fetch(
            http.clone(),
            metadata.jwks_uri.clone(),
            config.key_set().refetch_cooldown,
            config.key_set().max_age,
        )
        .await?;
        if keys.current().is_empty() && !metadata.signing_algorithms.iter().any(|a| a.is_hmac()) {
            return Err(crate::error::DiscoveryError::NoUsableKeys {
                jwks_uri: metadata.jwks_uri.to_string(),
                skipped: keys.skipped(),
            }
            .into());
        }
        Ok(Self { metadata, keys })
    }
}
