//! ID token validation: compact JWS parsing, signature check, claim rules.
//!
//! The order of use is fixed by the types:
//!
//! 1. [`Jws::parse`] splits and decodes the token and reads its header. It
//!    refuses unsigned tokens, unknown algorithms and header features this
//!    crate does not implement (`crit`, `b64: false`, JWE). Nothing in the
//!    header is trusted yet, and header members that name a key (`jwk`,
//!    `jku`, `x5c`, `x5u`) are never read.
//! 2. [`Jws::verify`] checks the algorithm against the allow-list and the
//!    signature against the provider's [`KeySet`] (keys parsed once, when the
//!    JWKS is fetched), or against the client secret for HMAC when allowed.
//!    Only then is the payload handed out.
//! 3. [`check_claims`] parses the verified payload once and applies the
//!    OpenID Connect ID token rules, returning [`IdTokenClaims`]; for a
//!    back-channel logout token, [`check_logout_claims`] applies the logout
//!    token rules, returning [`LogoutTokenClaims`]; for a bearer access
//!    token, [`check_access_claims`] applies RFC 9068's or Entra ID's access
//!    token rules (`access.rs`), returning [`AccessTokenClaims`].

mod access;
mod claims;
mod jwk;
mod jws;
mod logout;

pub(crate) use access::{AccessExpectations, check_access_claims, check_access_type};
pub use access::{AccessTokenClaims, AccessTokenProfile};
pub use claims::IdTokenClaims;
pub(crate) use claims::{
    Binding, Expectations, IssuerRule, REGISTERED_CLAIMS, auth_time, check_auth_age, check_claims,
};
pub(crate) use jwk::KeySet;
pub(crate) use jws::Jws;
pub use logout::LogoutTokenClaims;
pub(crate) use logout::first_use as first_use_of_logout_token;
#[cfg(feature = "axum")]
pub(crate) use logout::forget as forget_logout_token;
pub(crate) use logout::{LogoutExpectations, check_logout_claims};

/// Test keys, JWKs and token signing shared by the unit tests of this module.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::LazyLock;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
        RsaPublicKeyComponents,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use crate::Algorithm;

    /// Base64url without padding.
    pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A private key of any supported type, able to sign and to show its
    /// public JWK.
    pub(crate) enum TestKey {
        Rsa(RsaKeyPair),
        Ec(EcdsaKeyPair, &'static str),
        Ed(Ed25519KeyPair),
    }

    impl TestKey {
        pub(crate) fn rsa() -> Self {
            Self::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
        }

        pub(crate) fn p256() -> Self {
            Self::ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")
        }

        pub(crate) fn p384() -> Self {
            Self::ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")
        }

        pub(crate) fn p521() -> Self {
            Self::ec(&signature::ECDSA_P521_SHA512_FIXED_SIGNING, "P-521")
        }

        fn ec(alg: &'static EcdsaSigningAlgorithm, crv: &'static str) -> Self {
            Self::Ec(EcdsaKeyPair::generate(alg).expect("EC key generation"), crv)
        }

        pub(crate) fn ed25519() -> Self {
            Self::Ed(Ed25519KeyPair::generate().expect("Ed25519 key generation"))
        }

        /// The public JWK, with this `kid` and no `alg`.
        pub(crate) fn jwk(&self, kid: &str) -> Value {
            match self {
                Self::Rsa(key) => {
                    let c = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
                    json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)})
                }
                Self::Ec(key, crv) => {
                    let point = key.public_key().as_ref();
                    let half = (point.len() - 1) / 2;
                    json!({
                        "kty": "EC", "kid": kid, "crv": crv,
                        "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]),
                    })
                }
                Self::Ed(key) => {
                    json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(key.public_key())})
                }
            }
        }

        /// Signs `message` with `alg`, which must fit the key.
        pub(crate) fn sign(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
            match self {
                Self::Rsa(key) => {
                    let encoding = alg
                        .rsa_signing()
                        .unwrap_or_else(|| panic!("{alg} does not fit an RSA key"));
                    let mut sig = vec![0; key.public_modulus_len()];
                    key.sign(encoding, &SystemRandom::new(), message, &mut sig)
                        .expect("RSA signing");
                    sig
                }
                Self::Ec(key, _) => key
                    .sign(&SystemRandom::new(), message)
                    .expect("ECDSA signing")
                    .as_ref()
                    .to_vec(),
                Self::Ed(key) => key.sign(message).as_ref().to_vec(),
            }
        }
    }

    /// Keys shared by all tests (RSA generation is slow).
    pub(crate) static RSA_A: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
    pub(crate) static RSA_B: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
    pub(crate) static P256: LazyLock<TestKey> = LazyLock::new(TestKey::p256);
    pub(crate) static P384: LazyLock<TestKey> = LazyLock::new(TestKey::p384);
    pub(crate) static P521: LazyLock<TestKey> = LazyLock::new(TestKey::p521);
    pub(crate) static ED25519: LazyLock<TestKey> = LazyLock::new(TestKey::ed25519);

    /// `{"keys": [...]}` as bytes.
    pub(crate) fn jwks(keys: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).expect("JSON")
    }

    /// `base64url(header).base64url(payload)`, from JSON values.
    pub(crate) fn signing_input(header: &Value, payload: &Value) -> String {
        format!(
            "{}.{}",
            b64(serde_json::to_vec(header).expect("JSON")),
            b64(serde_json::to_vec(payload).expect("JSON"))
        )
    }

    /// A compact JWS of `payload`, signed by `key` with `alg` under `kid`.
    pub(crate) fn sign_token(
        key: &TestKey,
        alg: Algorithm,
        kid: Option<&str>,
        payload: &Value,
    ) -> String {
        let mut header = json!({ "alg": alg.as_str(), "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        sign_with_header(key, alg, &header, payload)
    }

    /// A compact JWS with a hand-made header, signed by `key` with `alg`.
    pub(crate) fn sign_with_header(
        key: &TestKey,
        alg: Algorithm,
        header: &Value,
        payload: &Value,
    ) -> String {
        let input = signing_input(header, payload);
        let sig = key.sign(alg, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }
}
