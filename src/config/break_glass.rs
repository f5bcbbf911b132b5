//! [`BreakGlassSettings`]: the break-glass local account of a config. The
//! sign-in itself is `src/break_glass.rs`.

use std::fmt;

use argon2::password_hash::PasswordHash;

use crate::error::ConfigError;

/// The break-glass account of a [`Config`](super::Config): TOML
///
/// ```toml
/// [break_glass]
/// username = "breakglass"
/// password_hash_env = "OIDC_BREAK_GLASS_HASH"   # or: password_hash = "$argon2id$v=19$..."
/// ```
///
/// The hash is an argon2 PHC string (make one with
/// [`BreakGlass::hash_password`](crate::BreakGlass::hash_password)); a plain password is refused. `Debug`
/// hides the hash.
#[derive(Clone)]
pub struct BreakGlassSettings {
    username: String,
    pub(crate) password_hash: String,
}

impl fmt::Debug for BreakGlassSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakGlassSettings")
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

impl BreakGlassSettings {
    /// The settings as given, checked by [`check`](Self::check).
    pub(crate) fn unchecked(username: String, password_hash: String) -> Self {
        Self {
            username,
            password_hash,
        }
    }

    /// Checks the settings: a username, and an argon2 hash in PHC form.
    pub(crate) fn check(self) -> Result<Self, ConfigError> {
        let Self {
            username,
            password_hash,
        } = self;
        let invalid = |reason: &str| ConfigError::Invalid {
            field: "break_glass",
            reason: reason.to_owned(),
        };
        if username.trim().is_empty() || username.trim() != username {
            return Err(invalid("`username` is empty or has spaces around it"));
        }
        let hash = PasswordHash::new(&password_hash).map_err(|_| {
            invalid("`password_hash` is not a password hash in PHC form (`$argon2id$v=19$m=...`); never a plain password")
        })?;
        if !hash.algorithm.as_str().starts_with("argon2") {
            return Err(invalid(
                "`password_hash` must be an argon2 hash (`$argon2id$...`)",
            ));
        }
        Ok(Self {
            username,
            password_hash,
        })
    }

    /// The local username.
    pub fn username(&self) -> &str {
        &self.username
    }
}
