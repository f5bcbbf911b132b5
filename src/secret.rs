//! Secret newtypes: client secret, tokens, PKCE verifier, state and nonce.
//!
//! Every type here has a redacted `Debug`, no `Display`, an explicit
//! `expose_secret()` accessor, constant-time equality, and wipes its bytes on
//! drop. The only way to see the value is to ask for it by name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value. Call this only where the value must leave the
            /// process (an HTTP request, a session store); never log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

secret_type!(
    /// The OAuth 2.0 client secret shared with the provider.
    ClientSecret
);
secret_type!(
    /// An OAuth 2.0 access token: a bearer credential for the provider's APIs.
    AccessToken
);
secret_type!(
    /// An OAuth 2.0 refresh token (granted with the `offline_access` scope).
    RefreshToken
);
secret_type!(
    /// A raw, compact-serialized ID token, as the provider issued it.
    ///
    /// It is redacted like the other tokens because it can be replayed as an
    /// `id_token_hint` and it carries personal data.
    IdToken
);
secret_type!(
    /// The PKCE code verifier of one login (RFC 7636).
    PkceVerifier
);
secret_type!(
    /// The `state` value of one login: the CSRF token that binds the callback
    /// to the browser that started it.
    State
);
secret_type!(
    /// The `nonce` of one login: binds the ID token to the browser that
    /// started it, so a token issued for another login cannot be replayed.
    Nonce
);

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // aws-lc's CRYPTO_memcmp under the hood; unequal lengths return early,
    // which leaks only the length.
    #[allow(deprecated)]
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Fills `N` bytes from the operating system's random source and encodes them
/// as unpadded base64url: the form used for `state`, `nonce` and the PKCE
/// verifier.
pub(crate) fn random_token<const N: usize>() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; N];
    // The OS random source failing is not recoverable: without it no login is
    // safe to start.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let value = "hunter2-very-secret";
        let shown = [
            format!("{:?}", ClientSecret::new(value)),
            format!("{:?}", AccessToken::new(value)),
            format!("{:?}", RefreshToken::new(value)),
            format!("{:?}", IdToken::new(value)),
            format!("{:?}", PkceVerifier::new(value)),
            format!("{:?}", State::new(value)),
            format!("{:#?}", Nonce::new(value)),
        ];
        for text in shown {
            assert!(!text.contains(value), "{text} shows the secret");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(State::new("abc"), State::new("abc"));
        assert_ne!(State::new("abc"), State::new("abd"));
        assert_ne!(State::new("abc"), State::new("abcd"));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token::<32>();
        let b = random_token::<32>();
        assert_ne!(a, b);
        // 32 bytes = 256 bits -> 43 base64url characters.
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn serde_round_trip_keeps_value() {
        let json = serde_json::to_string(&Nonce::new("n-1")).unwrap();
        assert_eq!(json, "\"n-1\"");
        let back: Nonce = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose_secret(), "n-1");
    }
}
