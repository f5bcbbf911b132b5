//! Signing keys of the embedded provider: generation, JWK export, JWS signing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, KeyPair as _};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::Algorithm;

/// Unpadded base64url, the encoding of every JOSE part.
pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Padded standard base64, the encoding of `x5c` certificates.
pub(super) fn b64_std(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// `N` random bytes from aws-lc, base64url-encoded.
pub(super) fn random_b64<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes).expect("aws-lc's random source failed");
    b64(bytes)
}

/// What a key signs with.
enum Material {
    Rsa(signature::RsaKeyPair),
    Ec(signature::EcdsaKeyPair),
    Ed(signature::Ed25519KeyPair),
    /// A shared secret given at signing time (the client secret for HS*).
    Hmac,
    /// A key pair from the process-wide pool.
    Shared(Arc<Material>),
}

/// One signing key with its `kid`.
pub(super) struct SigningKey {
    alg: Algorithm,
    kid: String,
    material: Material,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key pair for `alg` with a new random `kid`.
    pub(super) fn generate(alg: Algorithm) -> Self {
        Self::with_material(alg, generate_material(alg))
    }

    /// A key for `alg` from a process-wide pool of one key pair per
    /// algorithm, under a new random `kid`.
    ///
    /// RSA key generation takes a noticeable time in a test suite that starts
    /// dozens of providers, so the first key of each provider comes from this
    /// pool. Keys made later (rotation, attacker keys) are always fresh.
    pub(super) fn pooled(alg: Algorithm) -> Arc<Self> {
        static POOL: OnceLock<Mutex<HashMap<Algorithm, Arc<Material>>>> = OnceLock::new();
        // Hold the lock while generating so that parallel tests share one
        // key instead of all generating their own.
        let mut pool = POOL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let material = pool
            .entry(alg)
            .or_insert_with(|| Arc::new(generate_material(alg)))
            .clone();
        drop(pool);
        Arc::new(Self {
            alg,
            kid: new_kid(),
            material: Material::Shared(material),
        })
    }

    fn with_material(alg: Algorithm, material: Material) -> Self {
        Self {
            alg,
            kid: new_kid(),
            material,
        }
    }

    pub(super) fn alg(&self) -> Algorithm {
        self.alg
    }

    pub(super) fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether the key is a shared secret (nothing to publish in the JWKS).
    pub(super) fn is_hmac(&self) -> bool {
        matches!(self.material.resolve(), Material::Hmac)
    }

    /// The public key as a JWK with `kid`, `alg` and `use: "sig"`; `None`
    /// for HMAC keys.
    pub(super) fn public_jwk(&self) -> Option<Value> {
        let mut jwk = match self.material.resolve() {
            Material::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(pair) => {
                let (crv, len) = match self.alg {
                    Algorithm::ES384 => ("P-384", 48),
                    Algorithm::ES512 => ("P-521", 66),
                    _ => ("P-256", 32),
                };
                // Uncompressed point: 0x04 || X || Y.
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64(&point[1..1 + len]),
                    "y": b64(&point[1 + len..]),
                })
            }
            Material::Ed(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64(pair.public_key().as_ref()),
            }),
            Material::Hmac => return None,
            Material::Shared(_) => unreachable!("resolve() never returns Shared"),
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.as_str());
        jwk["use"] = json!("sig");
        Some(jwk)
    }

    /// The public key as PEM (SubjectPublicKeyInfo), the bytes a confused
    /// verifier would use as an HMAC key; `None` for HMAC keys.
    pub(super) fn public_key_pem(&self) -> Option<String> {
        let der = match self.material.resolve() {
            Material::Rsa(pair) => pair.public_key().as_der().ok()?.as_ref().to_vec(),
            Material::Ec(pair) => pair.public_key().as_der().ok()?.as_ref().to_vec(),
            Material::Ed(pair) => pair.public_key().as_der().ok()?.as_ref().to_vec(),
            Material::Hmac | Material::Shared(_) => return None,
        };
        let body = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Some(pem)
    }

    /// A self-signed X.509 v1 certificate (DER) of the public key, subject
    /// and issuer `CN=attacker.example`, valid from 2025 to 9999; `None` for
    /// HMAC keys. What an attacker puts in a header's `x5c`.
    pub(super) fn self_signed_certificate(&self) -> Option<Vec<u8>> {
        // OIDs, DER-encoded: sha256WithRSAEncryption (with NULL parameters),
        // ecdsa-with-SHA256/384/512, Ed25519.
        const RSA_SHA256: &[u8] = &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
        ];
        const ECDSA_SHA: [u8; 9] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
        const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
        let ecdsa = |last: u8| [&ECDSA_SHA[..], &[last]].concat();
        let (signature_algorithm, spki) = match self.material.resolve() {
            Material::Rsa(pair) => (RSA_SHA256.to_vec(), pair.public_key().as_der().ok()?),
            Material::Ec(pair) => {
                let last = match self.alg {
                    Algorithm::ES384 => 0x03,
                    Algorithm::ES512 => 0x04,
                    _ => 0x02,
                };
                (ecdsa(last), pair.public_key().as_der().ok()?)
            }
            Material::Ed(pair) => (ED25519.to_vec(), pair.public_key().as_der().ok()?),
            Material::Hmac | Material::Shared(_) => return None,
        };
        let signature_algorithm = der(0x30, &signature_algorithm);
        // SEQUENCE { SET { SEQUENCE { OID commonName, UTF8String } } }
        let cn = [
            &[0x06, 0x03, 0x55, 0x04, 0x03][..],
            &der(0x0c, b"attacker.example"),
        ]
        .concat();
        let name = der(0x30, &der(0x31, &der(0x30, &cn)));
        let validity = der(
            0x30,
            &[der(0x17, b"250101000000Z"), der(0x18, b"99991231235959Z")].concat(),
        );
        let tbs = der(
            0x30,
            &[
                der(0x02, &[0x01]),
                signature_algorithm.clone(),
                name.clone(),
                validity,
                name,
                spki.as_ref().to_vec(),
            ]
            .concat(),
        );
        let rng = rand::SystemRandom::new();
        let signature = match self.material.resolve() {
            Material::Rsa(pair) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &tbs, &mut out)
                    .ok()?;
                out
            }
            Material::Ec(pair) => {
                // X.509 wants ECDSA-Sig-Value, SEQUENCE { r INTEGER, s INTEGER }.
                let fixed = pair.sign(&rng, &tbs).ok()?;
                let (r, s) = fixed.as_ref().split_at(fixed.as_ref().len() / 2);
                der(0x30, &[der_uint(r), der_uint(s)].concat())
            }
            Material::Ed(pair) => pair.sign(&tbs).as_ref().to_vec(),
            Material::Hmac | Material::Shared(_) => return None,
        };
        let bits = [&[0x00][..], &signature].concat();
        Some(der(
            0x30,
            &[tbs, signature_algorithm, der(0x03, &bits)].concat(),
        ))
    }

    /// Signs `input` (the JWS signing input). `hmac_secret` keys the HMAC
    /// algorithms and is ignored otherwise.
    pub(super) fn sign(&self, input: &[u8], hmac_secret: &[u8]) -> Vec<u8> {
        let rng = rand::SystemRandom::new();
        match self.material.resolve() {
            Material::Rsa(pair) => {
                let encoding = self
                    .alg
                    .rsa_signing()
                    .unwrap_or(&signature::RSA_PKCS1_SHA256);
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(encoding, &rng, input, &mut out)
                    .expect("RSA signing failed");
                out
            }
            Material::Ec(pair) => pair
                .sign(&rng, input)
                .expect("ECDSA signing failed")
                .as_ref()
                .to_vec(),
            Material::Ed(pair) => pair.sign(input).as_ref().to_vec(),
            Material::Hmac => hmac_sign(self.alg, hmac_secret, input),
            Material::Shared(_) => unreachable!("resolve() never returns Shared"),
        }
    }
}

impl Material {
    /// Follows a pooled key to its key pair.
    fn resolve(&self) -> &Material {
        match self {
            Material::Shared(inner) => inner,
            other => other,
        }
    }
}

/// A DER tag-length-value.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of the unsigned big-endian `bytes`.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes
        .iter()
        .take_while(|&&b| b == 0)
        .count()
        .min(bytes.len().saturating_sub(1));
    let bytes = &bytes[skip..];
    if bytes.first().is_some_and(|&b| b & 0x80 != 0) {
        der(0x02, &[&[0x00][..], bytes].concat())
    } else {
        der(0x02, bytes)
    }
}

fn new_kid() -> String {
    random_b64::<9>()
}

fn generate_material(alg: Algorithm) -> Material {
    use signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Material::Rsa(
            RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .expect("RSA key generation failed"),
        ),
        Algorithm::ES256 => Material::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("P-256 key generation failed"),
        ),
        Algorithm::ES384 => Material::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
                .expect("P-384 key generation failed"),
        ),
        Algorithm::ES512 => Material::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_FIXED_SIGNING)
                .expect("P-521 key generation failed"),
        ),
        Algorithm::EdDSA => {
            Material::Ed(Ed25519KeyPair::generate().expect("Ed25519 key generation failed"))
        }
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Material::Hmac,
    }
}

/// HMAC over `input` with the hash of `alg` (SHA-256 unless HS384/HS512).
pub(super) fn hmac_sign(alg: Algorithm, key: &[u8], input: &[u8]) -> Vec<u8> {
    let hmac_alg = match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    };
    hmac::sign(&hmac::Key::new(hmac_alg, key), input)
        .as_ref()
        .to_vec()
}

/// The hash of `alg` used for `at_hash` (OpenID Connect Core 3.1.3.6): the
/// SHA-2 of the algorithm's size, SHA-512 for EdDSA (Ed25519).
pub(super) fn token_hash(alg: Algorithm, token: &str) -> String {
    let hash = alg.hash();
    let digest = digest::digest(hash, token.as_bytes());
    let bytes = digest.as_ref();
    b64(&bytes[..bytes.len() / 2])
}

/// BASE64URL(SHA256(verifier)): the PKCE S256 transform (RFC 7636 4.2).
pub(super) fn pkce_s256(verifier: &str) -> String {
    b64(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// A compact JWS: `header.payload.signature`, signed by `sign`.
pub(super) fn compact_jws(
    header: &Value,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> String {
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(header).expect("a JSON value serializes")),
        b64(serde_json::to_vec(claims).expect("a JSON value serializes")),
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // 16, 24 and 32 bytes: 22, 32 and 43 base64url characters.
        assert_eq!(token_hash(Algorithm::RS256, "t").len(), 22);
        assert_eq!(token_hash(Algorithm::ES384, "t").len(), 32);
        assert_eq!(token_hash(Algorithm::PS512, "t").len(), 43);
        assert_eq!(token_hash(Algorithm::EdDSA, "t").len(), 43);
        assert_ne!(
            token_hash(Algorithm::RS256, "t"),
            token_hash(Algorithm::RS256, "u")
        );
    }

    #[test]
    fn pkce_s256_matches_a_known_pair() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mJ92K9mbRAQiEbDvvW-lFJjqr5sEnQ"),
            "bQCNmu6T5xxJXljUVHVyaOvgVTQ0QIix1B5snSuDD8s"
        );
    }

    #[test]
    fn jwks_have_the_members_of_their_key_type() {
        let ec = SigningKey::generate(Algorithm::ES512);
        let jwk = ec.public_jwk().expect("a public key");
        assert_eq!(jwk["crv"], "P-521");
        assert_eq!(jwk["x"].as_str().map(str::len), Some(88)); // 66 bytes
        assert_eq!(jwk["y"].as_str().map(str::len), Some(88));
        assert_eq!(jwk["kid"], ec.kid());

        let ed = SigningKey::generate(Algorithm::EdDSA);
        let jwk = ed.public_jwk().expect("a public key");
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["alg"], "EdDSA");
        assert!(
            ed.public_key_pem()
                .expect("PEM")
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );

        let hs = SigningKey::generate(Algorithm::HS256);
        assert!(hs.public_jwk().is_none());
        assert!(hs.is_hmac());
    }

    #[test]
    fn self_signed_certificates_are_der_sequences_holding_the_public_key() {
        for alg in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES512,
            Algorithm::EdDSA,
        ] {
            let key = SigningKey::generate(alg);
            let cert = key.self_signed_certificate().expect("a certificate");
            assert_eq!(cert[0], 0x30, "{alg}");
            let pem = key.public_key_pem().expect("PEM");
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let spki = STANDARD.decode(body).unwrap();
            assert!(cert.windows(spki.len()).any(|w| w == spki), "{alg}");
        }
        assert!(
            SigningKey::generate(Algorithm::HS256)
                .self_signed_certificate()
                .is_none()
        );
    }

    #[test]
    fn pooled_keys_share_material_but_not_kids() {
        let a = SigningKey::pooled(Algorithm::ES256);
        let b = SigningKey::pooled(Algorithm::ES256);
        assert_ne!(a.kid(), b.kid());
        let (mut ja, mut jb) = (a.public_jwk().unwrap(), b.public_jwk().unwrap());
        ja["kid"] = Value::Null;
        jb["kid"] = Value::Null;
        assert_eq!(ja, jb);
        let fresh = SigningKey::generate(Algorithm::ES256).public_jwk().unwrap();
        assert_ne!(fresh["x"], ja["x"]);
    }
}
