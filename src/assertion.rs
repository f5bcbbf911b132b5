//! Client authentication with a signed JWT (RFC 7523 section 2.2, OpenID
//! Connect Core 1.0 section 9): `private_key_jwt` and `client_secret_jwt`.
//!
//! The assertion is made afresh for every token request: header `alg`,
//! `typ`, `kid` and `x5t#S256` when configured; claims `iss` = `sub` = the
//! client id, `aud` = the token endpoint URL the assertion is sent to, a
//! random `jti`, `iat` and an `exp` 60 seconds later. Because `aud` is the
//! very URL the request goes to, an assertion is never sent anywhere but to
//! its own audience.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, KeyPair as _};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use zeroize::{Zeroize as _, Zeroizing};

use crate::algorithm::Algorithm;
use crate::secret::{ClientSecret, random_token};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid, in seconds.
pub(crate) const ASSERTION_LIFETIME_SECONDS: i64 = 60;

/// The config fields a [`PrivateKeyJwt`] problem is reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyFields {
    pub(crate) key: &'static str,
    pub(crate) kid: &'static str,
    pub(crate) certificate: &'static str,
    pub(crate) algorithm: &'static str,
}

impl KeyFields {
    /// Built in code: every problem is reported under `client_auth`.
    const BUILDER: Self = Self {
        key: "client_auth",
        kid: "client_auth",
        certificate: "client_auth",
        algorithm: "client_auth",
    };
}

/// The private key of `private_key_jwt` client authentication: an RSA
/// (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519 key, with the
/// optional `kid` and certificate the assertion's header names.
///
/// The key is read from PEM: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1
/// (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`). An encrypted
/// key (`BEGIN ENCRYPTED PRIVATE KEY`) is refused: decrypt it and protect the
/// file instead. A key that cannot be used is reported by
/// [`ConfigBuilder::build`](crate::ConfigBuilder::build), with the field to
/// fix.
///
/// The signing algorithm follows the key: `RS256` for RSA (or another RSA
/// algorithm by [`with_algorithm`](Self::with_algorithm)), `ES256`, `ES384`
/// or `ES512` for the three curves, `EdDSA` for Ed25519.
///
/// # Security
///
/// `Debug` shows the algorithm, `kid` and certificate thumbprint, never the
/// key. The PEM text and the decoded key bytes are wiped as soon as the key
/// is parsed; the parsed key lives in aws-lc, which wipes it when it is
/// freed. Register only the public half with the provider
/// ([`public_jwk`](Self::public_jwk) gives it as a JWK).
///
/// ```
/// use oidc_login::{ClientAuth, PrivateKeyJwt};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let pem = include_str!("../tests/fixtures/keys/ec-p256.pem");
/// // let pem = std::fs::read_to_string("client-key.pem")?;
/// let key = PrivateKeyJwt::from_pem(pem).with_kid("app-key-2025");
/// assert_eq!(key.algorithm(), Some(oidc_login::Algorithm::ES256));
/// let jwk = key.public_jwk().ok_or("the key did not parse")?; // register this at the provider
/// assert_eq!(jwk["kid"], "app-key-2025");
/// let auth = ClientAuth::PrivateKeyJwt(key);
/// # let _ = auth;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PrivateKeyJwt {
    key: Result<Arc<AssertionKey>, String>,
    kid: Option<String>,
    /// The certificate's `x5t#S256`, or why it cannot be used.
    certificate: Option<Result<Thumbprint, String>>,
    algorithm: Option<Algorithm>,
    fields: KeyFields,
}

#[derive(Clone, PartialEq, Eq)]
struct Thumbprint {
    x5t_s256: String,
    /// Whether the certificate holds this key's public key.
    matches_key: bool,
}

impl PrivateKeyJwt {
    /// Reads the private key from PEM text. The crate's copy of the text is
    /// wiped once parsed (pass an owned `String` to leave no other copy).
    ///
    /// Nothing fails here: a key that cannot be used is reported when the
    /// config is built.
    pub fn from_pem(pem: impl Into<String>) -> Self {
        let pem = Zeroizing::new(pem.into());
        Self {
            key: AssertionKey::from_pem(pem.as_bytes()).map(Arc::new),
            kid: None,
            certificate: None,
            algorithm: None,
            fields: KeyFields::BUILDER,
        }
    }

    /// Sets the `kid` header: the key's id as registered at the provider.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Adds the `x5t#S256` header: the SHA-256 thumbprint of this X.509
    /// certificate (PEM, `BEGIN CERTIFICATE`), for providers that register
    /// the client's certificate rather than its key. The certificate must
    /// hold this key's public key.
    pub fn with_certificate_pem(mut self, certificate_pem: impl AsRef<[u8]>) -> Self {
        self.certificate = Some(thumbprint(certificate_pem.as_ref(), self.key.as_ref().ok()));
        self
    }

    /// Chooses the signing algorithm. Only RSA keys have a choice (`RS256`,
    /// `RS384`, `RS512`, `PS256`, `PS384`, `PS512`); for an EC or Ed25519
    /// key it must be the one of its curve.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// The signing algorithm, or `None` when the key could not be read.
    pub fn algorithm(&self) -> Option<Algorithm> {
        let key = self.key.as_ref().ok()?;
        Some(self.algorithm.unwrap_or(key.default_alg))
    }

    /// The `kid` header, if set.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `x5t#S256` header, when a usable certificate was given.
    pub fn x5t_s256(&self) -> Option<&str> {
        match &self.certificate {
            Some(Ok(thumbprint)) => Some(&thumbprint.x5t_s256),
            _ => None,
        }
    }

    /// The public key as a JWK (with `kid`, `alg` and `use: "sig"`), the
    /// form in which most providers register a client's key; `None` when
    /// the key could not be read.
    pub fn public_jwk(&self) -> Option<Value> {
        let key = self.key.as_ref().ok()?;
        let mut jwk = key.public_jwk.clone();
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk["alg"] = json!(self.algorithm()?.as_str());
        jwk["use"] = json!("sig");
        Some(jwk)
    }

    /// Reports problems under these config fields instead of `client_auth`.
    pub(crate) fn reported_as(mut self, fields: KeyFields) -> Self {
        self.fields = fields;
        self
    }

    /// The config fields that hold the key and its `kid`
    /// (`private_key_pem_file` or `private_key_env`, `private_key_kid`; in
    /// code, `client_auth`).
    pub(crate) fn key_fields(&self) -> (&'static str, &'static str) {
        (self.fields.key, self.fields.kid)
    }

    /// What makes this key unusable, with the config field to fix.
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        let key = match &self.key {
            Ok(key) => key,
            Err(reason) => return Some((self.fields.key, reason.clone())),
        };
        if let Some(kid) = &self.kid
            && (kid.trim().is_empty() || kid.chars().any(char::is_control))
        {
            return Some((
                self.fields.kid,
                "the key id is empty or holds control characters".into(),
            ));
        }
        if let Some(alg) = self.algorithm
            && !key.can_sign(alg)
        {
            return Some((
                self.fields.algorithm,
                format!(
                    "{alg} cannot be used with this {} key (use {})",
                    key.kind(),
                    key.algorithms()
                ),
            ));
        }
        match &self.certificate {
            Some(Err(reason)) => Some((self.fields.certificate, reason.clone())),
            Some(Ok(thumbprint)) if !thumbprint.matches_key => Some((
                self.fields.certificate,
                "the certificate is not for this private key (its public key differs)".into(),
            )),
            _ => None,
        }
    }

    /// Signs an assertion for `client_id`, addressed to `audience`, at
    /// `now` (Unix seconds). `None` when the key is unusable (which
    /// [`ConfigBuilder::build`](crate::ConfigBuilder::build) prevents) or
    /// signing fails.
    pub(crate) fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Option<String> {
        let key = self.key.as_ref().ok()?;
        let alg = self.algorithm()?;
        let mut header = json!({"alg": alg.as_str(), "typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        if let Some(x5t) = self.x5t_s256() {
            header["x5t#S256"] = json!(x5t);
        }
        let input = signing_input(&header, &claims(client_id, audience, now));
        let signature = key.sign(alg, input.as_bytes())?;
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

impl fmt::Debug for PrivateKeyJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyJwt")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .field("x5t#S256", &self.x5t_s256())
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

impl PartialEq for PrivateKeyJwt {
    /// Two keys are equal when their public keys, `kid`, certificate and
    /// algorithm are.
    fn eq(&self, other: &Self) -> bool {
        let same_key = match (&self.key, &other.key) {
            (Ok(a), Ok(b)) => a.public_der == b.public_der,
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        same_key
            && self.kid == other.kid
            && self.certificate == other.certificate
            && self.algorithm == other.algorithm
    }
}

impl Eq for PrivateKeyJwt {}

/// `client_secret_jwt`: HS256 keyed with the client secret.
pub(crate) fn secret_assertion(
    secret: &ClientSecret,
    client_id: &str,
    audience: &str,
    now: i64,
) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let input = signing_input(&header, &claims(client_id, audience, now));
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn claims(client_id: &str, audience: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": random_token::<32>(),
        "iat": now,
        "exp": now.saturating_add(ASSERTION_LIFETIME_SECONDS),
    })
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A parsed private key.
struct AssertionKey {
    material: Material,
    default_alg: Algorithm,
    /// The public key, SubjectPublicKeyInfo DER.
    public_der: Vec<u8>,
    /// The public key as a JWK, without `kid`, `alg` and `use`.
    public_jwk: Value,
}

enum Material {
    Rsa(signature::RsaKeyPair),
    Ec(signature::EcdsaKeyPair),
    Ed(signature::Ed25519KeyPair),
}

const EC_CURVES: [(&signature::EcdsaSigningAlgorithm, Algorithm, &str, usize); 3] = [
    (
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES256,
        "P-256",
        32,
    ),
    (
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES384,
        "P-384",
        48,
    ),
    (
        &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        Algorithm::ES512,
        "P-521",
        66,
    ),
];

impl AssertionKey {
    fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if contains(pem, b"BEGIN ENCRYPTED PRIVATE KEY") {
            return Err("the private key is encrypted; decrypt it (`openssl pkey -in encrypted.pem -out key.pem`) and protect the file instead".into());
        }
        let mut der = PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
            pem::Error::NoItemsFound => "holds no PEM private key (`BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`)".to_owned(),
            // The parser's message may quote the text: it is not repeated.
            _ => "is not valid PEM".to_owned(),
        })?;
        let parsed = Self::from_der(&der);
        der.zeroize();
        parsed
    }

    fn from_der(der: &PrivateKeyDer<'_>) -> Result<Self, String> {
        use signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
        let unsupported = "is not an RSA, EC (P-256, P-384, P-521) or Ed25519 private key";
        match der {
            PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der())
                .map_err(|e| {
                    rsa_problem(&e)
                        .unwrap_or("is not a valid RSA private key")
                        .to_owned()
                })
                .and_then(Self::rsa),
            PrivateKeyDer::Sec1(key) => EC_CURVES
                .iter()
                .find_map(|(alg, ..)| {
                    EcdsaKeyPair::from_private_key_der(alg, key.secret_sec1_der()).ok()
                })
                .ok_or_else(|| "is not an EC private key on P-256, P-384 or P-521".to_owned())
                .and_then(Self::ec),
            PrivateKeyDer::Pkcs8(key) => {
                let der = key.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(der) {
                    Ok(pair) => return Self::rsa(pair),
                    Err(e) => {
                        if let Some(problem) = rsa_problem(&e) {
                            return Err(problem.to_owned());
                        }
                    }
                }
                if let Some(pair) = EC_CURVES
                    .iter()
                    .find_map(|(alg, ..)| EcdsaKeyPair::from_pkcs8(alg, der).ok())
                {
                    return Self::ec(pair);
                }
                match Ed25519KeyPair::from_pkcs8(der) {
                    Ok(pair) => Self::ed(pair),
                    Err(_) => Err(unsupported.to_owned()),
                }
            }
            _ => Err(unsupported.to_owned()),
        }
    }

    fn rsa(pair: signature::RsaKeyPair) -> Result<Self, String> {
        if pair.public_modulus_len() * 8 < 2048 {
            return Err(TOO_SMALL.to_owned());
        }
        let public = pair.public_key();
        let public_jwk = json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        let public_der = public_der(public.as_der().map(|d| d.as_ref().to_vec()))?;
        Ok(Self {
            material: Material::Rsa(pair),
            default_alg: Algorithm::RS256,
            public_der,
            public_jwk,
        })
    }

    fn ec(pair: signature::EcdsaKeyPair) -> Result<Self, String> {
        let (_, alg, crv, len) = EC_CURVES
            .iter()
            .find(|(signing, ..)| pair.algorithm() == *signing)
            .copied()
            .ok_or_else(|| "is an EC key on an unsupported curve".to_owned())?;
        // Uncompressed point: 0x04 || X || Y.
        let point = pair.public_key().as_ref();
        if point.len() != 1 + 2 * len {
            return Err("is an EC key whose public point cannot be read".into());
        }
        let public_jwk = json!({
            "kty": "EC",
            "crv": crv,
            "x": URL_SAFE_NO_PAD.encode(&point[1..1 + len]),
            "y": URL_SAFE_NO_PAD.encode(&point[1 + len..]),
        });
        let public_der = public_der(pair.public_key().as_der().map(|d| d.as_ref().to_vec()))?;
        Ok(Self {
            material: Material::Ec(pair),
            default_alg: alg,
            public_der,
            public_jwk,
        })
    }

    fn ed(pair: signature::Ed25519KeyPair) -> Result<Self, String> {
        let public_jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        });
        let public_der = public_der(pair.public_key().as_der().map(|d| d.as_ref().to_vec()))?;
        Ok(Self {
            material: Material::Ed(pair),
            default_alg: Algorithm::EdDSA,
            public_der,
            public_jwk,
        })
    }

    fn kind(&self) -> &'static str {
        match self.material {
            Material::Rsa(_) => "RSA",
            Material::Ec(_) => "EC",
            Material::Ed(_) => "Ed25519",
        }
    }

    fn algorithms(&self) -> &'static str {
        match self.default_alg {
            Algorithm::RS256 => "RS256, RS384, RS512, PS256, PS384 or PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            _ => "EdDSA",
        }
    }

    fn can_sign(&self, alg: Algorithm) -> bool {
        match self.material {
            Material::Rsa(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            Material::Ec(_) | Material::Ed(_) => alg == self.default_alg,
        }
    }

    fn sign(&self, alg: Algorithm, input: &[u8]) -> Option<Vec<u8>> {
        let rng = rand::SystemRandom::new();
        match &self.material {
            Material::Rsa(pair) => {
                let encoding = alg.rsa_signing()?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(encoding, &rng, input, &mut out).ok()?;
                Some(out)
            }
            Material::Ec(pair) => Some(pair.sign(&rng, input).ok()?.as_ref().to_vec()),
            Material::Ed(pair) => Some(pair.sign(input).as_ref().to_vec()),
        }
    }
}

/// What aws-lc says about an RSA key it rejects, when that is worth saying.
fn rsa_problem(rejected: &aws_lc_rs::error::KeyRejected) -> Option<&'static str> {
    match rejected.description_() {
        "TooSmall" => Some(TOO_SMALL),
        "TooLarge" => Some("the RSA key has more than 8192 bits, which aws-lc does not sign with"),
        _ => None,
    }
}

const TOO_SMALL: &str = "the RSA key is smaller than 2048 bits, the least RFC 7518 3.3 allows";

fn public_der<E>(der: Result<Vec<u8>, E>) -> Result<Vec<u8>, String> {
    der.map_err(|_| "its public key cannot be encoded".to_owned())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The certificate's `x5t#S256`, and whether it holds `key`'s public key
/// (its SubjectPublicKeyInfo appears in the certificate as is).
fn thumbprint(pem: &[u8], key: Option<&Arc<AssertionKey>>) -> Result<Thumbprint, String> {
    let certificate = CertificateDer::from_pem_slice(pem).map_err(|error| match error {
        pem::Error::NoItemsFound => "holds no PEM certificate (`BEGIN CERTIFICATE`)".to_owned(),
        _ => "is not valid PEM".to_owned(),
    })?;
    let der: &[u8] = certificate.as_ref();
    let hash = digest::digest(&digest::SHA256, der);
    Ok(Thumbprint {
        x5t_s256: URL_SAFE_NO_PAD.encode(hash.as_ref()),
        // A key that failed to parse is reported on its own.
        matches_key: key.is_none_or(|key| contains(der, &key.public_der)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientAuth;

    const RSA: &str = include_str!("../tests/fixtures/keys/rsa-2048.pem");
    const RSA_PKCS1: &str = include_str!("../tests/fixtures/keys/rsa-2048-pkcs1.pem");
    const RSA_PUBLIC: &str = include_str!("../tests/fixtures/keys/rsa-2048.pub.pem");
    const RSA_CERT: &str = include_str!("../tests/fixtures/keys/rsa-2048.crt");
    /// Computed with openssl (see the fixtures' README).
    const RSA_CERT_X5T: &str = "ul02dTYEQTx6AHdg-cT7Q2CcNRXIKGiuMQxEyMSvJpc";
    const OTHER_CERT: &str = include_str!("../tests/fixtures/keys/other-rsa-2048.crt");
    const P256: &str = include_str!("../tests/fixtures/keys/ec-p256.pem");
    const P256_SEC1: &str = include_str!("../tests/fixtures/keys/ec-p256-sec1.pem");
    const P384: &str = include_str!("../tests/fixtures/keys/ec-p384.pem");
    const P521: &str = include_str!("../tests/fixtures/keys/ec-p521.pem");
    const ED25519: &str = include_str!("../tests/fixtures/keys/ed25519.pem");
    const RSA_1024: &str = include_str!("../tests/fixtures/keys/rsa-1024.pem");
    const ENCRYPTED: &str = include_str!("../tests/fixtures/keys/rsa-2048-encrypted.pem");
    const SECP256K1: &str = include_str!("../tests/fixtures/keys/ec-secp256k1.pem");

    const TOKEN_ENDPOINT: &str = "https://privx.example/oidc/4b8e/token";

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn parts(jwt: &str) -> (Value, Value, Vec<u8>, String) {
        let mut it = jwt.split('.');
        let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        assert!(it.next().is_none());
        (
            decode(h),
            decode(p),
            URL_SAFE_NO_PAD.decode(s).unwrap(),
            format!("{h}.{p}"),
        )
    }

    /// Verifies with aws-lc from the public JWK alone, as a provider would.
    fn verify_with_jwk(jwk: &Value, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
        let b = |m: &str| URL_SAFE_NO_PAD.decode(jwk[m].as_str().unwrap()).unwrap();
        match jwk["kty"].as_str().unwrap() {
            "RSA" => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                signature::RsaPublicKeyComponents {
                    n: b("n"),
                    e: b("e"),
                }
                .verify(params, input, sig)
                .is_ok()
            }
            "EC" => {
                let verify: &signature::EcdsaVerificationAlgorithm = match alg {
                    Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => &signature::ECDSA_P521_SHA512_FIXED,
                };
                let mut point = vec![4u8];
                point.extend(b("x"));
                point.extend(b("y"));
                signature::UnparsedPublicKey::new(verify, point)
                    .verify(input, sig)
                    .is_ok()
            }
            _ => signature::UnparsedPublicKey::new(&signature::ED25519, b("x"))
                .verify(input, sig)
                .is_ok(),
        }
    }

    #[test]
    fn every_supported_key_form_signs_verifiable_assertions() {
        let cases = [
            (RSA, Algorithm::RS256, "RSA"),
            (RSA_PKCS1, Algorithm::RS256, "RSA"),
            (P256, Algorithm::ES256, "EC"),
            (P256_SEC1, Algorithm::ES256, "EC"),
            (P384, Algorithm::ES384, "EC"),
            (P521, Algorithm::ES512, "EC"),
            (ED25519, Algorithm::EdDSA, "OKP"),
        ];
        for (pem, alg, kty) in cases {
            let key = PrivateKeyJwt::from_pem(pem).with_kid("k1");
            assert_eq!(key.problem(), None, "{alg}");
            assert_eq!(key.algorithm(), Some(alg));
            let jwk = key.public_jwk().unwrap();
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["kid"], "k1");
            assert!(jwk.get("d").is_none(), "the JWK is public only");
            let jwt = key.assertion("app", TOKEN_ENDPOINT, 1_700_000_000).unwrap();
            let (header, _, sig, input) = parts(&jwt);
            assert_eq!(header["alg"], alg.as_str());
            assert!(verify_with_jwk(&jwk, alg, input.as_bytes(), &sig), "{alg}");
            // A changed message does not verify: the check above can fail.
            assert!(!verify_with_jwk(&jwk, alg, b"other", &sig), "{alg}");
        }
        // The PKCS#1 form is the same key as the PKCS#8 one.
        assert_eq!(
            PrivateKeyJwt::from_pem(RSA),
            PrivateKeyJwt::from_pem(RSA_PKCS1)
        );
        assert_ne!(PrivateKeyJwt::from_pem(RSA), PrivateKeyJwt::from_pem(P256));
    }

    #[test]
    fn rsa_keys_sign_with_every_rsa_algorithm() {
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            let key = PrivateKeyJwt::from_pem(RSA).with_algorithm(alg);
            assert_eq!(key.problem(), None);
            let jwt = key.assertion("app", TOKEN_ENDPOINT, 1).unwrap();
            let (header, _, sig, input) = parts(&jwt);
            assert_eq!(header["alg"], alg.as_str());
            assert!(verify_with_jwk(
                &key.public_jwk().unwrap(),
                alg,
                input.as_bytes(),
                &sig
            ));
        }
    }

    #[test]
    fn the_assertion_has_the_rfc_7523_claims_and_a_fresh_jti() {
        let key = PrivateKeyJwt::from_pem(RSA)
            .with_kid("app-key-1")
            .with_certificate_pem(RSA_CERT);
        let auth = ClientAuth::PrivateKeyJwt(key);
        let now = 1_700_000_000;
        let first = auth.assertion("app", TOKEN_ENDPOINT, now).unwrap().unwrap();
        let second = auth.assertion("app", TOKEN_ENDPOINT, now).unwrap().unwrap();
        let (header, claims, ..) = parts(&first);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], "app-key-1");
        assert_eq!(header["x5t#S256"], RSA_CERT_X5T);
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["sub"], "app");
        assert_eq!(
            claims["aud"], TOKEN_ENDPOINT,
            "a single string: the token endpoint"
        );
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 60);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 43, "256 random bits");
        let (_, again, ..) = parts(&second);
        assert_ne!(again["jti"], claims["jti"], "a fresh jti per assertion");
        assert_ne!(first, second);
        // No kid, no certificate: neither header.
        let bare = ClientAuth::PrivateKeyJwt(PrivateKeyJwt::from_pem(P256));
        let (header, ..) = parts(&bare.assertion("app", TOKEN_ENDPOINT, now).unwrap().unwrap());
        assert!(
            header.get("kid").is_none() && header.get("x5t#S256").is_none(),
            "{header}"
        );
    }

    #[test]
    fn client_secret_jwt_is_hs256_with_the_secret() {
        let secret = "a-client-secret-of-32-bytes-0123";
        let auth = ClientAuth::SecretJwt(ClientSecret::new(secret));
        let jwt = auth.assertion("app", TOKEN_ENDPOINT, 5).unwrap().unwrap();
        let (header, claims, sig, input) = parts(&jwt);
        assert_eq!(header["alg"], "HS256");
        assert!(header.get("kid").is_none());
        assert_eq!(claims["aud"], TOKEN_ENDPOINT);
        assert_eq!(claims["exp"], 65);
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        assert!(hmac::verify(&key, input.as_bytes(), &sig).is_ok());
        let wrong = hmac::Key::new(hmac::HMAC_SHA256, b"another-secret-of-32-bytes-01234");
        assert!(hmac::verify(&wrong, input.as_bytes(), &sig).is_err());
        // The other methods send no assertion.
        for auth in [
            ClientAuth::None,
            ClientAuth::secret_basic("s"),
            ClientAuth::secret_post("s"),
        ] {
            assert_eq!(auth.assertion("app", TOKEN_ENDPOINT, 5), Ok(None));
        }
    }

    #[test]
    fn unusable_keys_say_why() {
        let cases = [
            (RSA_1024.to_owned(), "smaller than 2048 bits"),
            (ENCRYPTED.to_owned(), "encrypted"),
            (SECP256K1.to_owned(), "is not an RSA, EC"),
            (RSA_PUBLIC.to_owned(), "holds no PEM private key"),
            (RSA_CERT.to_owned(), "holds no PEM private key"),
            (String::new(), "holds no PEM private key"),
            ("not a key at all".to_owned(), "holds no PEM private key"),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".to_owned(),
                "is not valid PEM",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
                "is not an RSA, EC",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n".to_owned(),
                "not a valid RSA private key",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n".to_owned(),
                "not an EC private key",
            ),
            // Truncated: the END line is missing.
            (RSA[..RSA.len() / 2].to_owned(), "PEM"),
        ];
        for (pem, expected) in cases {
            let key = PrivateKeyJwt::from_pem(pem.clone());
            let (field, reason) = key.problem().unwrap_or_else(|| panic!("accepted {pem:?}"));
            assert_eq!(field, "client_auth");
            assert!(reason.contains(expected), "{reason} (expected {expected})");
            assert!(key.assertion("app", TOKEN_ENDPOINT, 1).is_none());
            assert!(key.public_jwk().is_none() && key.algorithm().is_none());
        }
    }

    #[test]
    fn algorithm_kid_and_certificate_must_fit_the_key() {
        let (field, reason) = PrivateKeyJwt::from_pem(P256)
            .with_algorithm(Algorithm::RS256)
            .problem()
            .unwrap();
        assert_eq!(field, "client_auth");
        assert!(
            reason.contains("RS256 cannot be used with this EC key (use ES256)"),
            "{reason}"
        );
        assert!(
            PrivateKeyJwt::from_pem(RSA)
                .with_algorithm(Algorithm::ES256)
                .problem()
                .is_some()
        );
        assert!(
            PrivateKeyJwt::from_pem(RSA)
                .with_algorithm(Algorithm::HS256)
                .problem()
                .is_some()
        );
        assert!(
            PrivateKeyJwt::from_pem(ED25519)
                .with_algorithm(Algorithm::EdDSA)
                .problem()
                .is_none()
        );
        assert!(
            PrivateKeyJwt::from_pem(RSA)
                .with_kid(" ")
                .problem()
                .is_some()
        );

        let (_, reason) = PrivateKeyJwt::from_pem(RSA)
            .with_certificate_pem(OTHER_CERT)
            .problem()
            .unwrap();
        assert!(reason.contains("not for this private key"), "{reason}");
        let (_, reason) = PrivateKeyJwt::from_pem(RSA)
            .with_certificate_pem(RSA)
            .problem()
            .unwrap();
        assert!(reason.contains("no PEM certificate"), "{reason}");
        let key = PrivateKeyJwt::from_pem(RSA_PKCS1).with_certificate_pem(RSA_CERT);
        assert_eq!(key.problem(), None);
        assert_eq!(key.x5t_s256(), Some(RSA_CERT_X5T));

        let fields = KeyFields {
            key: "private_key_pem_file",
            kid: "private_key_kid",
            certificate: "private_key_certificate_pem_file",
            algorithm: "private_key_algorithm",
        };
        let field = |key: PrivateKeyJwt| key.reported_as(fields).problem().unwrap().0;
        assert_eq!(field(PrivateKeyJwt::from_pem("")), "private_key_pem_file");
        assert_eq!(
            field(PrivateKeyJwt::from_pem(RSA).with_kid("")),
            "private_key_kid"
        );
        assert_eq!(
            field(PrivateKeyJwt::from_pem(RSA).with_certificate_pem(OTHER_CERT)),
            "private_key_certificate_pem_file"
        );
        assert_eq!(
            field(PrivateKeyJwt::from_pem(RSA).with_algorithm(Algorithm::ES512)),
            "private_key_algorithm"
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = PrivateKeyJwt::from_pem(RSA)
            .with_kid("k1")
            .with_certificate_pem(RSA_CERT);
        let jwk = key.public_jwk().unwrap();
        let n = jwk["n"].as_str().unwrap();
        let body: String = RSA.lines().nth(1).unwrap().to_owned();
        for shown in [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", ClientAuth::PrivateKeyJwt(key.clone())),
            format!(
                "{:?}",
                ClientAuth::SecretJwt(ClientSecret::new("hunter2-secret"))
            ),
        ] {
            assert!(!shown.contains(&body[..20]), "{shown}");
            assert!(!shown.contains(&n[..20]), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        }
        let shown = format!("{key:?}");
        assert!(
            shown.contains("RS256") && shown.contains("k1") && shown.contains("redacted"),
            "{shown}"
        );
        // A key that failed to parse does not echo its text either.
        let shown = format!("{:?}", PrivateKeyJwt::from_pem(ENCRYPTED));
        assert!(!shown.contains("MII"), "{shown}");
    }
}
