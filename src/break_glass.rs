//! Break-glass local sign-in (Pexip's "Local Database" login): one local
//! account with an argon2 password hash, for when the provider cannot be
//! reached. Off unless configured; loud in the log whenever it is on or used.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest;
use serde_json::Map;

use crate::config::{BreakGlassSettings, Config};
use crate::error::{BreakGlassError, SharedStateError};
use crate::identity::Identity;
use crate::roles::{RoleMapper, RoleMappingTable};
use crate::secret::constant_time_eq;
use crate::shared_state::{MemoryState, SharedState, StateKey, unix_ms};

/// The [`Identity::issuer`] of a break-glass sign-in: no provider's.
pub const BREAK_GLASS_ISSUER: &str = "urn:oidc-login:break-glass";

/// Failed attempts allowed from one client address within
/// [`FAILURE_WINDOW`] before every attempt from it is refused, right
/// password or not, until the oldest failure is that old.
const MAX_FAILURES_PER_ADDRESS: u32 = 5;
/// Failed attempts allowed from all addresses together within
/// [`FAILURE_WINDOW`]: the ceiling on guesses from many addresses.
const MAX_FAILURES: u32 = 20;
/// The window the limits count in.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The break-glass sign-in: checks a username and password against the
/// configured argon2 hash, rate-limits failures, and returns an
/// [`Identity`] marked [`break_glass`](Identity::break_glass), whose roles
/// come from the role mapping's [`Source::Local`](crate::Source::Local) rows.
///
/// Failures are counted per client address (5 in 15 minutes) under a
/// ceiling for all addresses together (20 in 15 minutes), in a
/// [`SharedState`]: by default this process's memory, so with several app
/// instances give them one shared state
/// ([`with_shared_state`](Self::with_shared_state); the axum routes use
/// their client's), or each instance allows its own failures.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use oidc_login::{BreakGlass, Config, RoleMapping, Source};
///
/// let hash = BreakGlass::hash_password("correct horse battery staple")?;
/// let config = Config::builder("https://login.example.com", "app")
///     .redirect_uri("https://app.example.com/callback")
///     .break_glass("breakglass", hash)
///     .add_role_mapping(RoleMapping::new("Local admin", Source::Local, "breakglass", ["Admin"]))
///     .build()?;
/// let break_glass = BreakGlass::from_config(&config).expect("switched on in the config");
/// let from = Some("192.0.2.10".parse()?); // the client's address
/// let identity = break_glass.sign_in("breakglass", "correct horse battery staple", from).await?;
/// assert!(identity.break_glass);
/// assert_eq!(identity.roles, ["Admin"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BreakGlass {
    settings: BreakGlassSettings,
    roles: Arc<dyn RoleMapper>,
    /// Where failures are counted.
    state: Arc<dyn SharedState>,
    /// Allows one password check at a time in this process.
    checking: Arc<tokio::sync::Semaphore>,
    clock: fn() -> SystemTime,
}

impl fmt::Debug for BreakGlass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakGlass")
            .field("settings", &self.settings)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A counted failure: the records to take back if the attempt succeeds.
struct Attempt {
    counted: Vec<StateKey>,
}

impl BreakGlass {
    /// The break-glass sign-in of `config`, or `None` when it has none.
    /// Logs a warning that it is on: it is meant for outages only.
    pub fn from_config(config: &Config) -> Option<Self> {
        let settings = config.break_glass()?.clone();
        tracing::warn!(
            target: "oidc_login::break_glass",
            username = settings.username(),
            "break-glass local sign-in is ON: switch it off once the identity provider is reachable"
        );
        Some(Self {
            settings,
            roles: Arc::new(RoleMappingTable::from_rows(
                config.role_mapping().iter().cloned(),
            )),
            state: Arc::new(MemoryState::default()),
            checking: Arc::new(tokio::sync::Semaphore::new(1)),
            clock: SystemTime::now,
        })
    }

    /// Replaces the role mapper (by default the config's rows).
    pub fn with_role_mapper(mut self, mapper: impl RoleMapper) -> Self {
        self.roles = Arc::new(mapper);
        self
    }

    /// Counts failures in `state` (by default a [`MemoryState`] of its
    /// own, this process only): give every app instance the same shared
    /// state, so that the limits hold for all of them together. The
    /// state's [`insert_new`](SharedState::insert_new) being atomic is what
    /// keeps two instances from both passing a limit. The axum routes
    /// (`LoginRoutes::break_glass`) put their client's state here.
    pub fn with_shared_state(mut self, state: impl SharedState) -> Self {
        self.state = Arc::new(state);
        self
    }

    /// Replaces the clock failures are timed by, for tests that need time
    /// to pass. The instances sharing a state must have clocks that agree.
    pub fn with_clock(mut self, now: fn() -> SystemTime) -> Self {
        self.clock = now;
        self
    }

    /// The local username.
    pub fn username(&self) -> &str {
        self.settings.username()
    }

    /// An argon2id hash (PHC string, a random 16-byte salt, OWASP's
    /// minimum cost `m=19456,t=2,p=1`) of `password`, for `password_hash`
    /// in the config; [`BreakGlassSettings`] lists what a hash must meet.
    pub fn hash_password(password: &str) -> Result<String, BreakGlassError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| BreakGlassError::Unavailable)?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| BreakGlassError::Unavailable)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| BreakGlassError::Unavailable)
    }

    /// Signs in with the local username and password, from the client
    /// address `from` (`None` when it is not known).
    ///
    /// After 5 failed attempts from one address within 15 minutes, every
    /// attempt from it is refused with [`BreakGlassError::RateLimited`],
    /// without checking the password, until the oldest of them is 15
    /// minutes old; after 20 from all addresses together, every attempt
    /// is. An IPv6 address counts by its /64 network (what one host
    /// usually holds); attempts of unknown address all count as one
    /// address. So a stranger can no longer lock the account for everyone
    /// from one address, and guesses from many addresses stay under the
    /// ceiling (which they can fill: then the account is locked for 15
    /// minutes).
    ///
    /// An attempt counts as failed until it succeeds, and is counted before
    /// the password is checked, so parallel attempts cannot outrun the limit,
    /// on one instance or several sharing the state. One password check runs
    /// at a time per process (an attempt meanwhile is refused as
    /// rate-limited). A wrong username costs the same password check as a
    /// wrong password. Each use, failed or not, is logged as a warning.
    /// When the counters cannot be read or written, the attempt is refused
    /// ([`BreakGlassError::Counters`]).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<Identity, BreakGlassError> {
        let attempt = match self.begin_attempt(from).await {
            Ok(Ok(attempt)) => attempt,
            Ok(Err(retry_after)) => {
                tracing::warn!(
                    target: "oidc_login::break_glass",
                    retry_after_seconds = retry_after.as_secs(),
                    "break-glass sign-in refused: too many failed attempts"
                );
                return Err(BreakGlassError::RateLimited {
                    retry_after_seconds: retry_after.as_secs().max(1),
                });
            }
            Err(error) => {
                tracing::error!(target: "oidc_login::break_glass", %error, "break-glass sign-in refused: the failure counters failed");
                return Err(BreakGlassError::Counters(error));
            }
        };
        // Each check takes tens of MiB: one at a time.
        let Ok(_permit) = self.checking.try_acquire() else {
            return Err(BreakGlassError::RateLimited {
                retry_after_seconds: 1,
            });
        };
        let hash = self.settings.password_hash.clone();
        let password = zeroize::Zeroizing::new(password.to_owned());
        let password_ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await
        .map_err(|_| BreakGlassError::Unavailable)?;
        // Digests, so the comparison tells nothing of the username's length.
        let digest = |name: &str| digest::digest(&digest::SHA256, name.as_bytes());
        let username_ok =
            constant_time_eq(digest(username).as_ref(), digest(self.username()).as_ref());
        if !(password_ok && username_ok) {
            // The username typed is not logged: it may be a password typed
            // into the wrong field.
            tracing::warn!(
                target: "oidc_login::break_glass",
                "break-glass sign-in failed: wrong username or password"
            );
            return Err(BreakGlassError::WrongCredentials);
        }
        self.succeeded(attempt).await;
        tracing::warn!(
            target: "oidc_login::break_glass",
            username = self.username(),
            "break-glass sign-in used: this login bypassed the identity provider"
        );
        let mut identity = Identity {
            issuer: BREAK_GLASS_ISSUER.to_owned(),
            provider: String::new(),
            subject: self.username().to_owned(),
            username: Some(self.username().to_owned()),
            email: None,
            email_verified: false,
            name: None,
            groups: Vec::new(),
            app_roles: Vec::new(),
            roles: Vec::new(),
            claims: Map::new(),
            break_glass: true,
            mutable_subject: None,
        };
        let mut roles = self.roles.roles(&identity);
        roles.sort_unstable();
        roles.dedup();
        identity.roles = roles;
        Ok(identity)
    }

    /// Counts an attempt as failed, from `from` and from all addresses,
    /// unless a limit is reached: then how long attempts stay refused.
    async fn begin_attempt(
        &self,
        from: Option<IpAddr>,
    ) -> Result<Result<Attempt, Duration>, SharedStateError> {
        let now = (self.clock)();
        let address = address_scope(from);
        let per_address = match self.count(&address, MAX_FAILURES_PER_ADDRESS, now).await? {
            Ok(key) => key,
            Err(retry_after) => return Ok(Err(retry_after)),
        };
        match self.count(b"all", MAX_FAILURES, now).await {
            Ok(Ok(all)) => Ok(Ok(Attempt {
                counted: vec![per_address, all],
            })),
            // Not counted after all: this attempt was not made.
            Ok(Err(retry_after)) => {
                self.state.remove(&per_address).await?;
                Ok(Err(retry_after))
            }
            Err(error) => {
                let _ = self.state.remove(&per_address).await;
                Err(error)
            }
        }
    }

    /// Counts a failure in `scope`, unless `limit` failures younger than
    /// the window are counted there: then how long until the oldest is
    /// that old.
    ///
    /// Each failure is an entry that lives one window. Entries are named by
    /// the window-long period they were made in and a slot number below
    /// `limit`; the failures of the previous period that still live take
    /// slots away from this one. A slot is taken with the state's atomic
    /// `insert_new`, so no two attempts, on any instance, share one, and
    /// the live failures of a scope never exceed `limit`. No name is used
    /// again in a later period, so an expired entry a store has not removed
    /// yet blocks nothing.
    async fn count(
        &self,
        scope: &[u8],
        limit: u32,
        now: SystemTime,
    ) -> Result<Result<StateKey, Duration>, SharedStateError> {
        let window_ms = FAILURE_WINDOW.as_millis() as i64;
        let now_ms = unix_ms(now);
        let period = now_ms.div_euclid(window_ms);
        let mut live = Vec::new();
        for slot in 0..limit {
            if let Some(at) = self
                .state
                .get(&self.failure_key(scope, period - 1, slot))
                .await?
            {
                live.push(at);
            }
        }
        let free = limit.saturating_sub(live.len() as u32);
        let expires_at = now.checked_add(FAILURE_WINDOW).unwrap_or(now);
        for slot in 0..free {
            let key = self.failure_key(scope, period, slot);
            if self.state.insert_new(&key, now_ms, expires_at).await? {
                return Ok(Ok(key));
            }
        }
        for slot in 0..limit {
            if let Some(at) = self
                .state
                .get(&self.failure_key(scope, period, slot))
                .await?
            {
                live.push(at);
            }
        }
        let oldest = live.into_iter().min().unwrap_or(now_ms);
        let retry_after_ms = oldest.saturating_add(window_ms).saturating_sub(now_ms);
        Ok(Err(Duration::from_millis(
            u64::try_from(retry_after_ms).unwrap_or(0),
        )))
    }

    fn failure_key(&self, scope: &[u8], period: i64, slot: u32) -> StateKey {
        StateKey::new(
            "break_glass_failure",
            &[
                self.username().as_bytes(),
                scope,
                &period.to_be_bytes(),
                &slot.to_be_bytes(),
            ],
        )
    }

    /// Takes back the failures that [`begin_attempt`](Self::begin_attempt)
    /// counted. Should that fail, they stay counted: it errs on the safe
    /// side.
    async fn succeeded(&self, attempt: Attempt) {
        for key in &attempt.counted {
            if let Err(error) = self.state.remove(key).await {
                tracing::warn!(target: "oidc_login::break_glass", %error, "a successful break-glass sign-in still counts as a failure: the counters could not be written");
            }
        }
    }
}

/// What failures from `from` are counted under: an IPv4 address, the /64
/// network of an IPv6 address (an IPv4-mapped one counts as IPv4), or one
/// scope for every unknown address.
fn address_scope(from: Option<IpAddr>) -> Vec<u8> {
    match from.map(|address| address.to_canonical()) {
        Some(IpAddr::V4(v4)) => [b"ipv4:".as_slice(), &v4.octets()].concat(),
        Some(IpAddr::V6(v6)) => [b"ipv6/64:".as_slice(), &v6.octets()[..8]].concat(),
        None => b"unknown".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_by_host_and_by_ipv6_network() {
        let scope = |address: &str| address_scope(Some(address.parse().unwrap()));
        assert_eq!(scope("192.0.2.1"), scope("::ffff:192.0.2.1"));
        assert_ne!(scope("192.0.2.1"), scope("192.0.2.2"));
        assert_eq!(scope("2001:db8:1:2::1"), scope("2001:db8:1:2:ffff::9"));
        assert_ne!(scope("2001:db8:1:2::1"), scope("2001:db8:1:3::1"));
        assert_ne!(address_scope(None), scope("192.0.2.1"));
    }
}
