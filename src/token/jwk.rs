//! JSON Web Key Sets (RFC 7517; key types of RFC 7518 section 6 and RFC 8037),
//! parsed once, when fetched, into keys ready to verify.
//!
//! Verification never parses a key: each usable JWK becomes one aws-lc-rs
//! [`ParsedPublicKey`] per algorithm it may be used with. An RSA key without
//! `alg` becomes six (RS256/384/512, PS256/384/512), an EC or OKP key one.

use std::fmt;

use aws_lc_rs::signature::{
    self, EcdsaVerificationAlgorithm, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::Algorithm;
use crate::error::clip;

/// The provider's signing keys, ready to verify.
///
/// Cheap to share (`Send + Sync`; hold it in an `Arc`). `Debug` lists the
/// key ids and algorithms, not the key material.
#[derive(Default)]
pub(crate) struct KeySet {
    entries: Vec<Entry>,
    /// How many JWKs of the document were usable (an RSA key counts once,
    /// although it makes up to six entries).
    usable: usize,
}

/// One key for one algorithm.
struct Entry {
    kid: Option<String>,
    alg: Algorithm,
    key: ParsedPublicKey,
}

/// The RSA algorithms, for an RSA key without `alg`.
const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Members that only a private or symmetric key has. A provider that
/// publishes one of them is leaking a secret; such a key is not used.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RSA moduli outside this range are refused (the range aws-lc-rs verifies
/// with; smaller keys are too weak).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// Why a JWK was skipped (for the debug log and the tests).
type Skip = &'static str;

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`) into keys ready to verify.
    ///
    /// Returns the set and how many entries were skipped because they cannot
    /// be used: unknown `kty` or `crv`, `use` other than `sig`, `key_ops`
    /// without `verify`, an RSA modulus outside 2048..=8192 bits, malformed
    /// values, an `alg` that is unknown or does not fit the key, or private
    /// key members. Fails only when the whole document is unusable (not
    /// JSON, or no `keys` array).
    pub(crate) fn from_jwks(json: &[u8]) -> Result<(KeySet, usize), String> {
        /// The most usable keys kept from one JWKS.
        const MAX_KEYS: usize = 32;
        let document: Value =
            serde_json::from_slice(json).map_err(|e| format!("it is not JSON ({e})"))?;
        let keys = document
            .as_object()
            .and_then(|object| object.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| "it is not a JSON object with a `keys` array".to_owned())?;

        let mut set = KeySet::default();
        let mut skipped = 0;
        for jwk in keys {
            // A token without `kid` is tried against every key that fits its
            // algorithm: bound that work. Providers publish a handful of keys.
            if set.usable == MAX_KEYS {
                skipped += 1;
                tracing::warn!(target: "oidc_login::jwks", "the JWKS holds more than {MAX_KEYS} usable keys; the rest are skipped");
                continue;
            }
            match parse_jwk(jwk) {
                Ok(entries) => {
                    set.usable += 1;
                    set.entries.extend(entries);
                }
                Err(reason) => {
                    skipped += 1;
                    let kid = jwk.get("kid").and_then(Value::as_str).map(|k| clip(k, 128));
                    tracing::debug!(target: "oidc_login::jwks", ?kid, reason, "skipped a JWKS entry");
                }
            }
        }
        Ok((set, skipped))
    }

    /// Whether the set holds no usable key.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many JWKs of the document are usable.
    pub(crate) fn len(&self) -> usize {
        self.usable
    }

    /// Whether some key fits this `kid` (`None`: any key) and algorithm.
    pub(crate) fn has_key_for(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        self.candidates(kid, alg).next().is_some()
    }

    /// The keys that may have signed a token with this `kid` and `alg`:
    /// with a `kid`, the keys with exactly that `kid`; without, every key.
    /// Either way, only keys that fit `alg`.
    pub(crate) fn candidates<'s>(
        &'s self,
        kid: Option<&'s str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'s ParsedPublicKey> + 's {
        self.entries
            .iter()
            .filter(move |entry| {
                entry.alg == alg && kid.is_none_or(|kid| entry.kid.as_deref() == Some(kid))
            })
            .map(|entry| &entry.key)
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Shown<'a>(&'a Entry);
        impl fmt::Debug for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.0.kid {
                    Some(kid) => write!(f, "{kid:?}/{}", self.0.alg),
                    None => write!(f, "(no kid)/{}", self.0.alg),
                }
            }
        }
        f.debug_struct("KeySet")
            .field("usable", &self.usable)
            .field("keys", &self.entries.iter().map(Shown).collect::<Vec<_>>())
            .finish()
    }
}

/// Turns one JWK into its entries, or says why it is skipped.
fn parse_jwk(jwk: &Value) -> Result<Vec<Entry>, Skip> {
    let jwk = jwk.as_object().ok_or("not a JSON object")?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err("holds private or symmetric key members");
    }
    let kid = optional_str(jwk, "kid")?.map(str::to_owned);
    if let Some(key_use) = optional_str(jwk, "use")?
        && key_use != "sig"
    {
        return Err("`use` is not `sig`");
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or("`key_ops` is not an array")?;
        let mut verify = false;
        for op in ops {
            verify |= op.as_str().ok_or("`key_ops` holds a non-string")? == "verify";
        }
        if !verify {
            return Err("`key_ops` does not include `verify`");
        }
    }
    let alg = match optional_str(jwk, "alg")? {
        Some(name) => Some(name.parse::<Algorithm>().map_err(|_| "unknown `alg`")?),
        None => None,
    };
    match optional_str(jwk, "kty")?.ok_or("no `kty`")? {
        "RSA" => rsa(jwk, kid, alg),
        "EC" => ec(jwk, kid, alg),
        "OKP" => okp(jwk, kid, alg),
        _ => Err("unknown `kty`"),
    }
}

fn rsa(
    jwk: &Map<String, Value>,
    kid: Option<String>,
    alg: Option<Algorithm>,
) -> Result<Vec<Entry>, Skip> {
    if alg.is_some_and(|alg| rsa_parameters(alg).is_none()) {
        return Err("`alg` does not fit an RSA key");
    }
    let single;
    let algs: &[Algorithm] = match alg {
        Some(alg) => {
            single = [alg];
            &single
        }
        None => &RSA_ALGORITHMS,
    };

    // Some libraries prefix a zero octet (RFC 7518 section 6.3.1.1 notes it);
    // the value is the same, and aws-lc-rs wants no leading zeros.
    let n = base64url_member(jwk, "n")?;
    let n = strip_leading_zeros(&n);
    let e = base64url_member(jwk, "e")?;
    let e = strip_leading_zeros(&e);
    let n_bits = bit_length(n);
    if n_bits < RSA_MIN_BITS {
        return Err("RSA modulus under 2048 bits");
    }
    if n_bits > RSA_MAX_BITS {
        return Err("RSA modulus over 8192 bits");
    }
    if n.last().is_none_or(|&low| low & 1 == 0) {
        return Err("RSA modulus is even");
    }
    // What aws-lc accepts when verifying: odd, at least 3, at most 33 bits.
    if !(2..=33).contains(&bit_length(e)) || e.last().is_none_or(|&low| low & 1 == 0) {
        return Err("RSA exponent out of range");
    }
    let components = RsaPublicKeyComponents { n, e };
    algs.iter()
        .map(|&alg| {
            let parameters = rsa_parameters(alg).ok_or("`alg` does not fit an RSA key")?;
            let key = components
                .to_parsed_public_key(parameters)
                .map_err(|_| "RSA key rejected by aws-lc-rs")?;
            Ok(Entry {
                kid: kid.clone(),
                alg,
                key,
            })
        })
        .collect()
}

fn ec(
    jwk: &Map<String, Value>,
    kid: Option<String>,
    alg: Option<Algorithm>,
) -> Result<Vec<Entry>, Skip> {
    let (curve_alg, field_len, verification): (_, _, &'static EcdsaVerificationAlgorithm) =
        match optional_str(jwk, "crv")?.ok_or("no `crv`")? {
            "P-256" => (Algorithm::ES256, 32, &signature::ECDSA_P256_SHA256_FIXED),
            "P-384" => (Algorithm::ES384, 48, &signature::ECDSA_P384_SHA384_FIXED),
            "P-521" => (Algorithm::ES512, 66, &signature::ECDSA_P521_SHA512_FIXED),
            _ => return Err("unknown `crv`"),
        };
    if alg.is_some_and(|alg| alg != curve_alg) {
        return Err("`alg` does not fit the EC key's curve");
    }
    let x = base64url_member(jwk, "x")?;
    let y = base64url_member(jwk, "y")?;
    if x.len() != field_len || y.len() != field_len {
        return Err("`x` or `y` is not the curve's field length");
    }
    let mut point = Vec::with_capacity(1 + 2 * field_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key =
        ParsedPublicKey::new(verification, &point).map_err(|_| "EC point not on the curve")?;
    Ok(vec![Entry {
        kid,
        alg: curve_alg,
        key,
    }])
}

fn okp(
    jwk: &Map<String, Value>,
    kid: Option<String>,
    alg: Option<Algorithm>,
) -> Result<Vec<Entry>, Skip> {
    if optional_str(jwk, "crv")?.ok_or("no `crv`")? != "Ed25519" {
        return Err("unknown `crv`");
    }
    if alg.is_some_and(|alg| alg != Algorithm::EdDSA) {
        return Err("`alg` does not fit an Ed25519 key");
    }
    let x = base64url_member(jwk, "x")?;
    if x.len() != 32 {
        return Err("`x` is not 32 bytes");
    }
    let key = ParsedPublicKey::new(&signature::ED25519, &x).map_err(|_| "Ed25519 key rejected")?;
    Ok(vec![Entry {
        kid,
        alg: Algorithm::EdDSA,
        key,
    }])
}

/// The aws-lc-rs parameters of an RSA algorithm; `None` for the others.
fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256
        | Algorithm::ES384
        | Algorithm::ES512
        | Algorithm::EdDSA
        | Algorithm::HS256
        | Algorithm::HS384
        | Algorithm::HS512 => return None,
    })
}

/// A member that must be a string when present.
fn optional_str<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, Skip> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("a member is not a string"),
    }
}

/// A required base64url (unpadded) member.
fn base64url_member(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, Skip> {
    let text = optional_str(jwk, name)?.ok_or("a key member is missing")?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "a key member is not unpadded base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The bit length of a big-endian unsigned integer without leading zeros.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&first) => bytes.len() * 8 - first.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_most_32_usable_keys_are_kept() {
        let key = super::super::test_support::TestKey::p256();
        let keys: Vec<serde_json::Value> = (0..40).map(|i| key.jwk(&format!("k{i}"))).collect();
        let json = super::super::test_support::jwks(&keys);
        let (set, skipped) = super::KeySet::from_jwks(&json).unwrap();
        assert_eq!((set.len(), skipped), (32, 8));
    }

    use serde_json::{Value, json};

    use super::*;
    use crate::token::test_support::{ED25519, P256, P384, P521, RSA_A, b64, jwks};

    /// Parses a one-key document and returns (usable JWKs, skipped) plus the
    /// skip reason (from `parse_jwk`) when skipped.
    fn one(jwk: Value) -> (usize, usize, Option<Skip>) {
        let (set, skipped) =
            KeySet::from_jwks(&jwks(std::slice::from_ref(&jwk))).expect("document");
        (set.len(), skipped, parse_jwk(&jwk).err())
    }

    fn assert_skipped(jwk: Value, reason: Skip) {
        assert_eq!(one(jwk), (0, 1, Some(reason)));
    }

    fn rsa_jwk() -> Value {
        RSA_A.jwk("r1")
    }

    /// Replaces (or adds) a member.
    fn with(mut jwk: Value, name: &str, value: Value) -> Value {
        jwk[name] = value;
        jwk
    }

    #[test]
    fn every_supported_key_type_is_usable() {
        let document = jwks(&[
            RSA_A.jwk("r1"),
            P256.jwk("e256"),
            P384.jwk("e384"),
            P521.jwk("e521"),
            ED25519.jwk("ed"),
        ]);
        let (set, skipped) = KeySet::from_jwks(&document).unwrap();
        assert_eq!((set.len(), skipped), (5, 0));
        assert!(!set.is_empty());
        for alg in RSA_ALGORITHMS {
            assert!(set.has_key_for(Some("r1"), alg), "{alg}");
        }
        assert!(set.has_key_for(Some("e256"), Algorithm::ES256));
        assert!(set.has_key_for(Some("e384"), Algorithm::ES384));
        assert!(set.has_key_for(Some("e521"), Algorithm::ES512));
        assert!(set.has_key_for(Some("ed"), Algorithm::EdDSA));
        assert!(set.has_key_for(None, Algorithm::PS512));

        assert!(!set.has_key_for(Some("e256"), Algorithm::ES384));
        assert!(!set.has_key_for(Some("e256"), Algorithm::RS256));
        assert!(!set.has_key_for(Some("r1"), Algorithm::ES256));
        assert!(!set.has_key_for(Some("r1"), Algorithm::HS256));
        assert!(!set.has_key_for(Some("other"), Algorithm::RS256));
        assert!(!set.has_key_for(None, Algorithm::HS256));
    }

    #[test]
    fn a_key_with_alg_fits_only_that_alg() {
        let (set, skipped) =
            KeySet::from_jwks(&jwks(&[with(rsa_jwk(), "alg", json!("PS384"))])).unwrap();
        assert_eq!((set.len(), skipped), (1, 0));
        assert!(set.has_key_for(Some("r1"), Algorithm::PS384));
        for alg in RSA_ALGORITHMS
            .into_iter()
            .filter(|&a| a != Algorithm::PS384)
        {
            assert!(!set.has_key_for(Some("r1"), alg), "{alg}");
        }
        let (set, _) =
            KeySet::from_jwks(&jwks(&[with(P256.jwk("e"), "alg", json!("ES256"))])).unwrap();
        assert!(set.has_key_for(Some("e"), Algorithm::ES256));
        let (set, _) =
            KeySet::from_jwks(&jwks(&[with(ED25519.jwk("d"), "alg", json!("EdDSA"))])).unwrap();
        assert!(set.has_key_for(Some("d"), Algorithm::EdDSA));
    }

    #[test]
    fn a_key_without_kid_is_usable_for_tokens_without_kid() {
        let mut jwk = rsa_jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        let (set, skipped) = KeySet::from_jwks(&jwks(&[jwk])).unwrap();
        assert_eq!((set.len(), skipped), (1, 0));
        assert!(set.has_key_for(None, Algorithm::RS256));
        assert!(!set.has_key_for(Some("r1"), Algorithm::RS256));
    }

    #[test]
    fn use_sig_and_key_ops_verify_are_accepted() {
        let jwk = with(rsa_jwk(), "key_ops", json!(["verify"]));
        assert_eq!(one(jwk), (1, 0, None));
        let jwk = with(rsa_jwk(), "key_ops", json!(["sign", "verify"]));
        assert_eq!(one(jwk), (1, 0, None));
    }

    #[test]
    fn skips_use_enc() {
        assert_skipped(with(rsa_jwk(), "use", json!("enc")), "`use` is not `sig`");
        assert_skipped(with(rsa_jwk(), "use", json!("SIG")), "`use` is not `sig`");
        assert_skipped(with(rsa_jwk(), "use", json!(1)), "a member is not a string");
    }

    #[test]
    fn skips_key_ops_without_verify() {
        assert_skipped(
            with(rsa_jwk(), "key_ops", json!(["encrypt", "wrapKey"])),
            "`key_ops` does not include `verify`",
        );
        assert_skipped(
            with(rsa_jwk(), "key_ops", json!([])),
            "`key_ops` does not include `verify`",
        );
        assert_skipped(
            with(rsa_jwk(), "key_ops", json!("verify")),
            "`key_ops` is not an array",
        );
    }

    #[test]
    fn skips_unknown_kty() {
        assert_skipped(with(rsa_jwk(), "kty", json!("rsa")), "unknown `kty`");
        assert_skipped(with(rsa_jwk(), "kty", json!("AKP")), "unknown `kty`");
        let mut jwk = rsa_jwk();
        jwk.as_object_mut().unwrap().remove("kty");
        assert_skipped(jwk, "no `kty`");
    }

    #[test]
    fn skips_symmetric_keys() {
        assert_skipped(
            json!({"kty": "oct", "kid": "s", "k": b64(b"0123456789abcdef0123456789abcdef")}),
            "holds private or symmetric key members",
        );
        assert_skipped(json!({"kty": "oct", "kid": "s"}), "unknown `kty`");
    }

    #[test]
    fn skips_unknown_crv() {
        assert_skipped(with(P256.jwk("e"), "crv", json!("P-192")), "unknown `crv`");
        assert_skipped(
            with(P256.jwk("e"), "crv", json!("secp256k1")),
            "unknown `crv`",
        );
        assert_skipped(
            with(ED25519.jwk("d"), "crv", json!("Ed448")),
            "unknown `crv`",
        );
        assert_skipped(
            with(ED25519.jwk("d"), "crv", json!("X25519")),
            "unknown `crv`",
        );
        let mut jwk = P256.jwk("e");
        jwk.as_object_mut().unwrap().remove("crv");
        assert_skipped(jwk, "no `crv`");
    }

    #[test]
    fn skips_rsa_under_2048_bits() {
        let n = URL_SAFE_NO_PAD
            .decode(rsa_jwk()["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len(), 256);
        // 1024 bits: the first half of a real modulus, made odd.
        let mut n1024 = n[..128].to_vec();
        n1024[127] |= 1;
        n1024[0] |= 0x80;
        assert_skipped(
            with(rsa_jwk(), "n", json!(b64(&n1024))),
            "RSA modulus under 2048 bits",
        );
        // 2047 bits: one bit short.
        let mut n2047 = n.clone();
        n2047[0] = 0x7f;
        assert_skipped(
            with(rsa_jwk(), "n", json!(b64(&n2047))),
            "RSA modulus under 2048 bits",
        );
        // Over 8192 bits.
        let mut n8200 = vec![0xff; 1025];
        n8200[1024] = 0x01;
        assert_skipped(
            with(rsa_jwk(), "n", json!(b64(&n8200))),
            "RSA modulus over 8192 bits",
        );
    }

    #[test]
    fn accepts_an_rsa_modulus_with_a_leading_zero_octet() {
        let jwk = rsa_jwk();
        let mut n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        n.insert(0, 0);
        assert_eq!(one(with(jwk, "n", json!(b64(&n)))), (1, 0, None));
    }

    #[test]
    fn skips_bad_rsa_values() {
        assert_skipped(
            with(rsa_jwk(), "n", json!("not base64!")),
            "a key member is not unpadded base64url",
        );
        let padded = format!("{}=", rsa_jwk()["e"].as_str().unwrap());
        assert_skipped(
            with(rsa_jwk(), "e", json!(padded)),
            "a key member is not unpadded base64url",
        );
        assert_skipped(
            with(rsa_jwk(), "n", json!("")),
            "RSA modulus under 2048 bits",
        );
        assert_skipped(
            with(rsa_jwk(), "n", json!(12345)),
            "a member is not a string",
        );
        let mut jwk = rsa_jwk();
        jwk.as_object_mut().unwrap().remove("e");
        assert_skipped(jwk, "a key member is missing");

        let mut even = URL_SAFE_NO_PAD
            .decode(rsa_jwk()["n"].as_str().unwrap())
            .unwrap();
        even[255] &= 0xfe;
        assert_skipped(
            with(rsa_jwk(), "n", json!(b64(&even))),
            "RSA modulus is even",
        );

        for e in [
            &[1u8][..],
            &[2],
            &[0x01, 0x00, 0x00],
            &[0x03, 0, 0, 0, 1],
            &[],
        ] {
            assert_skipped(
                with(rsa_jwk(), "e", json!(b64(e))),
                "RSA exponent out of range",
            );
        }
        assert_eq!(one(with(rsa_jwk(), "e", json!(b64([3])))), (1, 0, None));
    }

    #[test]
    fn skips_ec_coordinates_of_the_wrong_length() {
        let jwk = P256.jwk("e");
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        assert_skipped(
            with(jwk.clone(), "x", json!(b64(&x[1..]))),
            "`x` or `y` is not the curve's field length",
        );
        let mut longer = vec![0];
        longer.extend_from_slice(&x);
        assert_skipped(
            with(jwk.clone(), "x", json!(b64(&longer))),
            "`x` or `y` is not the curve's field length",
        );
        // A P-256 point presented as P-384.
        assert_skipped(
            with(jwk.clone(), "crv", json!("P-384")),
            "`x` or `y` is not the curve's field length",
        );
        let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        assert_skipped(with(jwk, "y", json!(b64(&y))), "EC point not on the curve");

        let jwk = ED25519.jwk("d");
        assert_skipped(with(jwk, "x", json!(b64([7u8; 31]))), "`x` is not 32 bytes");
    }

    #[test]
    fn skips_alg_that_is_unknown_or_does_not_fit_the_key() {
        assert_skipped(
            with(rsa_jwk(), "alg", json!("ES256")),
            "`alg` does not fit an RSA key",
        );
        assert_skipped(
            with(rsa_jwk(), "alg", json!("HS256")),
            "`alg` does not fit an RSA key",
        );
        assert_skipped(
            with(rsa_jwk(), "alg", json!("EdDSA")),
            "`alg` does not fit an RSA key",
        );
        assert_skipped(with(rsa_jwk(), "alg", json!("RSA-OAEP")), "unknown `alg`");
        assert_skipped(with(rsa_jwk(), "alg", json!("none")), "unknown `alg`");
        assert_skipped(with(rsa_jwk(), "alg", json!("rs256")), "unknown `alg`");
        assert_skipped(
            with(P256.jwk("e"), "alg", json!("ES384")),
            "`alg` does not fit the EC key's curve",
        );
        assert_skipped(
            with(P521.jwk("e"), "alg", json!("RS512")),
            "`alg` does not fit the EC key's curve",
        );
        assert_skipped(
            with(ED25519.jwk("d"), "alg", json!("ES256")),
            "`alg` does not fit an Ed25519 key",
        );
    }

    #[test]
    fn skips_keys_with_private_members() {
        for member in PRIVATE_MEMBERS {
            assert_skipped(
                with(rsa_jwk(), member, json!(b64(b"secret"))),
                "holds private or symmetric key members",
            );
        }
        assert_skipped(
            with(P256.jwk("e"), "d", json!(b64([1u8; 32]))),
            "holds private or symmetric key members",
        );
        assert_skipped(
            with(ED25519.jwk("d"), "d", json!(b64([1u8; 32]))),
            "holds private or symmetric key members",
        );
    }

    #[test]
    fn skips_entries_that_are_not_objects_or_have_a_non_string_kid() {
        assert_skipped(json!("RSA"), "not a JSON object");
        assert_skipped(json!(null), "not a JSON object");
        assert_skipped(with(rsa_jwk(), "kid", json!(7)), "a member is not a string");
    }

    #[test]
    fn counts_usable_and_skipped_entries_together() {
        let document = jwks(&[
            RSA_A.jwk("good"),
            with(rsa_jwk(), "use", json!("enc")),
            json!({"kty": "oct", "k": "AAAA"}),
            P256.jwk("good-ec"),
            with(P256.jwk("x"), "crv", json!("P-192")),
        ]);
        let (set, skipped) = KeySet::from_jwks(&document).unwrap();
        assert_eq!((set.len(), skipped), (2, 3));
        // Entries of skipped JWKs are not in the set.
        assert!(!set.has_key_for(Some("x"), Algorithm::ES256));
        assert!(!set.has_key_for(Some("r1"), Algorithm::RS256));
    }

    #[test]
    fn a_document_that_is_unusable_is_an_error() {
        for document in [
            &b"not json"[..],
            b"",
            b"[]",
            b"{}",
            b"{\"keys\": {}}",
            b"{\"keys\": null}",
            b"\"keys\"",
        ] {
            assert!(
                KeySet::from_jwks(document).is_err(),
                "{}",
                String::from_utf8_lossy(document)
            );
        }
        let (set, skipped) = KeySet::from_jwks(b"{\"keys\": []}").unwrap();
        assert!(set.is_empty());
        assert_eq!((set.len(), skipped), (0, 0));
    }

    #[test]
    fn debug_shows_kids_and_algs_not_key_material() {
        let jwk = rsa_jwk();
        let (set, _) = KeySet::from_jwks(&jwks(std::slice::from_ref(&jwk))).unwrap();
        let shown = format!("{set:?}");
        assert!(shown.contains("\"r1\"/RS256"), "{shown}");
        assert!(shown.contains("\"r1\"/PS512"), "{shown}");
        assert!(
            !shown.contains(&jwk["n"].as_str().unwrap()[..16]),
            "{shown}"
        );
        assert_eq!(
            format!("{:?}", KeySet::default()),
            "KeySet { usable: 0, keys: [] }"
        );
    }

    #[test]
    fn key_sets_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeySet>();
    }
}
