//! [`BreakGlassSettings`]: the break-glass local account of a config. The
//! sign-in itself is `src/break_glass.rs`.

use std::fmt;

#[cfg(feature = "break-glass")]
use argon2::password_hash::PasswordHash;

use crate::error::ConfigError;

#[cfg(feature = "break-glass")]
/// The least memory (KiB) for each number of passes, OWASP's Password
/// Storage Cheat Sheet's argon2id table (equal cost; five passes and more
/// need 7 MiB): `MIN_MEMORY_KIB[t - 1]`.
const MIN_MEMORY_KIB: [u32; 5] = [47_104, 19_456, 12_288, 9_216, 7_168];
#[cfg(feature = "break-glass")]
/// The most memory (KiB) a hash may ask for: each sign-in attempt takes it.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
#[cfg(feature = "break-glass")]
/// The most passes a hash may ask for.
const MAX_PASSES: u32 = 10;
#[cfg(feature = "break-glass")]
/// The most lanes a hash may ask for (checked on one thread here).
const MAX_LANES: u32 = 8;
#[cfg(feature = "break-glass")]
/// The shortest salt and hash output, in bytes (RFC 9106 section 3.1 and 4).
const MIN_SALT_BYTES: usize = 16;
#[cfg(feature = "break-glass")]
/// See [`MIN_SALT_BYTES`].
const MIN_OUTPUT_BYTES: usize = 16;

/// The break-glass account of a [`Config`](super::Config): TOML
///
/// ```toml
/// [break_glass]
/// username = "breakglass"
/// password_hash_env = "OIDC_BREAK_GLASS_HASH"   # or: password_hash = "$argon2id$v=19$..."
/// ```
///
/// The hash is an argon2id PHC string (make one with
/// [`BreakGlass::hash_password`](crate::BreakGlass::hash_password)); a plain
/// password is refused. `Debug` hides the hash.
///
/// # Security
///
/// A hash is accepted only if it is argon2id, version 19 (`v=19` written
/// out), with only the `m`, `t` and `p` parameters, a salt and an output of
/// at least 16 bytes, and a cost between a floor and a ceiling:
/// - at least OWASP's minimum (its Password Storage Cheat Sheet): 46 MiB
///   with one pass, 19 MiB with two (the crate's own, `m=19456,t=2,p=1`),
///   12 MiB with three, 9 MiB with four, 7 MiB with five or more. A weaker
///   hash would make a stolen config cheap to crack, and an argon2d or
///   argon2i hash gives up argon2id's resistance to side channels or to GPUs.
/// - at most 256 MiB, 10 passes and 8 lanes: every sign-in attempt pays
///   the hash's cost, so a hash with a huge cost would take the server's
///   memory or lock the emergency sign-in for hours.
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

    /// Checks the settings: a username, and an argon2id hash in PHC form
    /// whose cost is within [`check_cost`]'s bounds.
    pub(crate) fn check(self) -> Result<Self, ConfigError> {
        let Self {
            username,
            password_hash,
        } = self;
        let invalid = |reason: String| ConfigError::Invalid {
            field: "break_glass",
            reason,
        };
        if username.trim().is_empty() || username.trim() != username {
            return Err(invalid(
                "`username` is empty or has spaces around it".into(),
            ));
        }
        if cfg!(not(feature = "break-glass")) {
            return Err(invalid(
                "is set, but this build of oidc-login has no break-glass sign-in: switch on the crate's `break-glass` feature".into(),
            ));
        }
        #[cfg(feature = "break-glass")]
        check_hash(&password_hash).map_err(invalid)?;
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

/// An argon2id hash in PHC form whose cost is within [`check_cost`]'s bounds.
#[cfg(feature = "break-glass")]
fn check_hash(password_hash: &str) -> Result<(), String> {
    let hash = PasswordHash::new(password_hash).map_err(|_| {
        "`password_hash` is not a password hash in PHC form (`$argon2id$v=19$m=...`); never a plain password".to_owned()
    })?;
    check_cost(&hash).map_err(|reason| {
        format!("`password_hash` {reason}; make one with `BreakGlass::hash_password`")
    })
}

#[cfg(feature = "break-glass")]
/// Why `hash` is not an argon2id hash of acceptable cost, if it is not.
fn check_cost(hash: &PasswordHash<'_>) -> Result<(), String> {
    if hash.algorithm.as_str() != "argon2id" {
        // Not named back: a plain password that starts with `$` parses too.
        return Err(
            "must be an argon2id hash (`$argon2id$...`), not argon2d, argon2i or another algorithm"
                .into(),
        );
    }
    if hash.version != Some(19) {
        return Err("must name argon2 version 19 (`v=19`)".into());
    }
    let mut cost = [None::<u32>; 3];
    for (name, value) in hash.params.iter() {
        let slot = match name.as_str() {
            "m" => &mut cost[0],
            "t" => &mut cost[1],
            "p" => &mut cost[2],
            _ => return Err("may have only the parameters `m`, `t` and `p`".into()),
        };
        *slot = Some(
            value
                .decimal()
                .map_err(|_| "has a parameter that is not a number".to_owned())?,
        );
    }
    let [Some(memory), Some(passes), Some(lanes)] = cost else {
        return Err("must name its parameters `m`, `t` and `p`".into());
    };
    let floor_index = usize::try_from(passes.clamp(1, 5) - 1).unwrap_or(0);
    let floor = MIN_MEMORY_KIB[floor_index];
    if passes == 0 || lanes == 0 || memory < floor {
        return Err(format!(
            "costs less than OWASP's minimum for argon2id (m={memory} KiB with t={passes} needs m of at least {floor} KiB: 19456 with t=2, 47104 with t=1)"
        ));
    }
    if memory > MAX_MEMORY_KIB || passes > MAX_PASSES || lanes > MAX_LANES {
        return Err(format!(
            "costs more than a sign-in may (m={memory} KiB, t={passes}, p={lanes}; at most m={MAX_MEMORY_KIB}, t={MAX_PASSES}, p={MAX_LANES})"
        ));
    }
    let mut salt = [0u8; 64];
    let salt_bytes = hash
        .salt
        .and_then(|given| given.decode_b64(&mut salt).ok())
        .map_or(0, <[u8]>::len);
    if salt_bytes < MIN_SALT_BYTES {
        return Err(format!(
            "must have a salt of at least {MIN_SALT_BYTES} bytes"
        ));
    }
    if hash
        .hash
        .is_none_or(|output| output.len() < MIN_OUTPUT_BYTES)
    {
        return Err(format!(
            "must have a hash output of at least {MIN_OUTPUT_BYTES} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "c29tZXNhbHRzb21lc2FsdA"; // 16 bytes
    const OUTPUT: &str = "Gk4rKXeiFNqJ1rSNCNxSQdLWq+3hKdMDpwWNWS1dsAw"; // 32 bytes

    fn settings(hash: &str) -> Result<BreakGlassSettings, ConfigError> {
        BreakGlassSettings::unchecked("breakglass".into(), hash.into()).check()
    }

    fn phc(algorithm: &str, params: &str) -> String {
        format!("${algorithm}$v=19${params}${SALT}${OUTPUT}")
    }

    #[test]
    fn the_crate_s_own_hashes_pass() {
        let hash = crate::BreakGlass::hash_password("correct horse battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        settings(&hash).unwrap();
    }

    #[test]
    fn costs_at_owasp_s_floor_and_at_the_ceiling_pass() {
        for params in [
            "m=47104,t=1,p=1",
            "m=19456,t=2,p=1",
            "m=12288,t=3,p=1",
            "m=9216,t=4,p=1",
            "m=7168,t=5,p=1",
            "m=7168,t=10,p=1",
            "m=65536,t=3,p=4",
            "m=262144,t=10,p=8",
        ] {
            settings(&phc("argon2id", params)).unwrap_or_else(|e| panic!("{params}: {e}"));
        }
    }

    /// Hashes an attacker (or a careless copy) could put in the config,
    /// which would make the password cheap to crack from a stolen config,
    /// or each sign-in attempt ruinous for the server.
    #[test]
    fn weak_odd_and_ruinous_hashes_are_refused() {
        let cases = [
            // Not argon2id.
            (phc("argon2d", "m=19456,t=2,p=1"), "argon2id"),
            (phc("argon2i", "m=19456,t=2,p=1"), "argon2id"),
            // Under OWASP's floor.
            (phc("argon2id", "m=8,t=1,p=1"), "OWASP"),
            (phc("argon2id", "m=47103,t=1,p=1"), "OWASP"),
            (phc("argon2id", "m=19455,t=2,p=1"), "OWASP"),
            (phc("argon2id", "m=12287,t=3,p=1"), "OWASP"),
            (phc("argon2id", "m=9215,t=4,p=1"), "OWASP"),
            (phc("argon2id", "m=7167,t=9,p=1"), "OWASP"),
            (phc("argon2id", "m=19456,t=0,p=1"), "OWASP"),
            // Over the ceiling.
            (phc("argon2id", "m=262145,t=2,p=1"), "more than"),
            (phc("argon2id", "m=4194304,t=2,p=1"), "more than"),
            (phc("argon2id", "m=19456,t=11,p=1"), "more than"),
            (phc("argon2id", "m=19456,t=2,p=9"), "more than"),
            // Another version, or none written.
            (
                format!("$argon2id$v=16$m=19456,t=2,p=1${SALT}${OUTPUT}"),
                "version 19",
            ),
            (
                format!("$argon2id$m=19456,t=2,p=1${SALT}${OUTPUT}"),
                "version 19",
            ),
            // Other parameters, or missing ones.
            (
                phc("argon2id", "m=19456,t=2,p=1,keyid=AAAA"),
                "only the parameters",
            ),
            (phc("argon2id", "m=19456,t=2"), "`m`, `t` and `p`"),
            // A short salt or output.
            (
                format!("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ${OUTPUT}"),
                "salt",
            ),
            (
                format!("$argon2id$v=19$m=19456,t=2,p=1${SALT}$AAAAAAAAAAAAAAAAAAAA"),
                "output",
            ),
            (format!("$argon2id$v=19$m=19456,t=2,p=1${SALT}"), "output"),
        ];
        for (hash, says) in cases {
            let error = settings(&hash).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("break_glass"), "{hash}: {message}");
            assert!(message.contains(says), "{hash}: {message}");
            assert!(
                !message.contains(SALT) && !message.contains(OUTPUT),
                "{message}"
            );
        }
    }

    /// The review's case: a real hash of the password, which verifies, but
    /// costs an attacker holding the config next to nothing per guess.
    #[test]
    fn a_working_but_cheap_argon2d_hash_is_refused() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        use argon2::{Algorithm, Argon2, Params, Version};

        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let cheap = Argon2::new(
            Algorithm::Argon2d,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery staple", &salt)
        .unwrap()
        .to_string();
        assert!(cheap.starts_with("$argon2d$v=19$m=8,t=1,p=1$"), "{cheap}");
        let message = settings(&cheap).unwrap_err().to_string();
        assert!(message.contains("argon2id"), "{message}");
        // The same cost as argon2id: refused for its cost.
        let cheap_id = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery staple", &salt)
        .unwrap()
        .to_string();
        let message = settings(&cheap_id).unwrap_err().to_string();
        assert!(message.contains("OWASP"), "{message}");
    }

    #[test]
    fn a_plain_password_that_looks_like_phc_is_not_echoed() {
        let message = settings("$hunter2$x").unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{message}");
    }
}
