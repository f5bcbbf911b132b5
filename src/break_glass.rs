//! Break-glass local sign-in (Pexip's "Local Database" login): one local
//! account with an argon2 password hash, for when the provider cannot be
//! reached. Off unless configured; loud in the log whenever it is on or used.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest;
use serde_json::Map;

use crate::config::{BreakGlassSettings, Config};
use crate::error::BreakGlassError;
use crate::identity::Identity;
use crate::roles::{RoleMapper, RoleMappingTable};
use crate::secret::constant_time_eq;

/// The [`Identity::issuer`] of a break-glass sign-in: no provider's.
pub const BREAK_GLASS_ISSUER: &str = "urn:oidc-login:break-glass";

/// Failed attempts allowed within [`FAILURE_WINDOW`] before every attempt is
/// refused, right password or not, until the oldest failure is that old.
const MAX_FAILURES: usize = 5;
/// The window [`MAX_FAILURES`] counts in.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The break-glass sign-in: checks a username and password against the
/// configured argon2 hash, rate-limits failures, and returns an
/// [`Identity`] marked [`break_glass`](Identity::break_glass), whose roles
/// come from the role mapping's [`Source::Local`](crate::Source::Local) rows.
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
/// let identity = break_glass.sign_in("breakglass", "correct horse battery staple").await?;
/// assert!(identity.break_glass);
/// assert_eq!(identity.roles, ["Admin"]);
/// # Ok(()) }
/// ```
pub struct BreakGlass {
    settings: BreakGlassSettings,
    roles: Arc<dyn RoleMapper>,
    /// When the recent failed attempts happened, oldest first.
    failures: Mutex<VecDeque<Instant>>,
    /// Allows one password check at a time.
    checking: tokio::sync::Semaphore,
}

impl fmt::Debug for BreakGlass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakGlass")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
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
            failures: Mutex::default(),
            checking: tokio::sync::Semaphore::new(1),
        })
    }

    /// Replaces the role mapper (by default the config's rows).
    pub fn with_role_mapper(mut self, mapper: impl RoleMapper) -> Self {
        self.roles = Arc::new(mapper);
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

    /// Signs in with the local username and password.
    ///
    /// After 5 failed attempts within 15 minutes every attempt is refused
    /// with [`BreakGlassError::RateLimited`], without checking the password,
    /// until the oldest of them is 15 minutes old. An attempt counts as
    /// failed until it succeeds, so parallel attempts cannot outrun the
    /// limit, and one password check runs at a time (an attempt meanwhile is
    /// refused as rate-limited). The limit is global, not per client
    /// address: a stranger can lock the account for 15 minutes, but cannot
    /// guess faster. A wrong username costs the same password check as a
    /// wrong password. Each use, failed or not, is logged as a warning.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, BreakGlassError> {
        let attempt = self.begin_attempt().map_err(|retry_after| {
            tracing::warn!(
                target: "oidc_login::break_glass",
                retry_after_seconds = retry_after.as_secs(),
                "break-glass sign-in refused: too many failed attempts"
            );
            BreakGlassError::RateLimited {
                retry_after_seconds: retry_after.as_secs().max(1),
            }
        })?;
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
        self.succeeded(attempt);
        tracing::warn!(
            target: "oidc_login::break_glass",
            username = self.username(),
            "break-glass sign-in used: this login bypassed the identity provider"
        );
        let mut identity = Identity {
            issuer: BREAK_GLASS_ISSUER.to_owned(),
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
        };
        let mut roles = self.roles.roles(&identity);
        roles.sort_unstable();
        roles.dedup();
        identity.roles = roles;
        Ok(identity)
    }

    /// Counts an attempt as failed, unless the limit is reached: then how
    /// long attempts stay refused.
    fn begin_attempt(&self) -> Result<Instant, Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        while failures
            .front()
            .is_some_and(|at| at.elapsed() >= FAILURE_WINDOW)
        {
            failures.pop_front();
        }
        if failures.len() >= MAX_FAILURES {
            let oldest = failures.front().map_or(Duration::ZERO, Instant::elapsed);
            return Err(FAILURE_WINDOW.saturating_sub(oldest));
        }
        let now = Instant::now();
        failures.push_back(now);
        Ok(now)
    }

    /// Takes back the failure that [`begin_attempt`](Self::begin_attempt) counted.
    fn succeeded(&self, attempt: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = failures.iter().rposition(|at| *at == attempt) {
            failures.remove(i);
        }
    }
}
