//! JWS signing algorithms (RFC 7518 section 3, RFC 8037).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ID token signing algorithm.
///
/// `none` is not a variant: an unsigned token can never be accepted. The HMAC
/// algorithms exist so that a config can name them; they are accepted only
/// when listed in `allowed_algorithms` and a client secret is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// HMAC with SHA-256, keyed with the client secret.
    HS256,
    /// HMAC with SHA-384, keyed with the client secret.
    HS384,
    /// HMAC with SHA-512, keyed with the client secret.
    HS512,
}

impl Algorithm {
    /// Every asymmetric algorithm: the default allow-list, narrowed to what
    /// the provider advertises.
    pub const ASYMMETRIC: [Algorithm; 10] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// The name used in JOSE headers and provider metadata.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret, not a public key).
    pub const fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

impl Algorithm {
    /// The SHA-2 hash that goes with the algorithm: the hash of `at_hash`
    /// and `c_hash` (OpenID Connect Core 3.1.3.6), and of HMAC. SHA-512 for
    /// EdDSA, whose only curve here is Ed25519.
    pub(crate) fn hash(self) -> &'static aws_lc_rs::digest::Algorithm {
        use aws_lc_rs::digest;
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 | Self::HS256 => &digest::SHA256,
            Self::RS384 | Self::PS384 | Self::ES384 | Self::HS384 => &digest::SHA384,
            Self::RS512 | Self::PS512 | Self::ES512 | Self::HS512 | Self::EdDSA => &digest::SHA512,
        }
    }

    /// The `aws-lc-rs` RSA signing encoding of an RS* or PS* algorithm.
    pub(crate) fn rsa_signing(self) -> Option<&'static dyn aws_lc_rs::signature::RsaEncoding> {
        use aws_lc_rs::signature;
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_SHA512,
            Self::PS256 => &signature::RSA_PSS_SHA256,
            Self::PS384 => &signature::RSA_PSS_SHA384,
            Self::PS512 => &signature::RSA_PSS_SHA512,
            _ => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a supported signing algorithm (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)"
)]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses the exact, case-sensitive JOSE name.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ASYMMETRIC
            .into_iter()
            .chain([Self::HS256, Self::HS384, Self::HS512])
            .find(|alg| alg.as_str() == name)
            .ok_or_else(|| UnknownAlgorithm(crate::error::clip(name, 32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_not_an_algorithm() {
        for alg in Algorithm::ASYMMETRIC {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(serde_json::to_string(&alg).unwrap(), format!("\"{alg}\""));
        }
        for bad in ["none", "None", "NONE", "rs256", ""] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }
}
