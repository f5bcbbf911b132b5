//! Compact JWS (RFC 7515 section 7.1): parse once, then verify.
//!
//! Only the compact serialization of a signed token is accepted. The header
//! is read for `alg` and `kid` and for the members that change how the token
//! must be processed (`crit`, `b64`), which are refused. Members that name a
//! key (`jwk`, `jku`, `x5c`, `x5u`) are ignored: the key always comes from
//! the provider's JWKS (or, for HMAC, the client secret).

use std::borrow::Cow;
use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};

use super::KeySet;
use crate::error::TokenError;
use crate::error::clip;
use crate::{Algorithm, ClientSecret};

/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_LEN: usize = 64 * 1024;

const INVALID_HEADER: &str = "the header is not valid: `alg` and `kid` must be strings, `b64` a boolean, and none of them may repeat";

/// A parsed, not yet verified, compact JWS.
pub(crate) struct Jws<'a> {
    /// `base64url(header) "." base64url(payload)`: what the signature covers.
    signing_input: &'a str,
    alg: Algorithm,
    kid: Option<String>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// The header members this crate reads. Every other member is ignored.
#[derive(Deserialize)]
struct Header<'h> {
    #[serde(borrow, default, deserialize_with = "present")]
    alg: Option<JsonStr<'h>>,
    #[serde(borrow, default, deserialize_with = "present")]
    kid: Option<JsonStr<'h>>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    b64: Option<bool>,
}

/// Deserializes a member that is present, so that `null` is not taken for
/// "absent" (`"crit": null` is refused like any other `crit`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A JSON string, borrowed from the input unless it holds escapes.
pub(super) struct JsonStr<'h>(pub(super) Cow<'h, str>);

impl<'de: 'h, 'h> Deserialize<'de> for JsonStr<'h> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(Visitor).map(JsonStr)
    }
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS and reads its header.
    ///
    /// Refuses (with the variant named): a token over 64 KiB, a JWE (five
    /// parts) or any other count than three parts, parts that are not
    /// unpadded base64url, a header or payload that is not a JSON object
    /// (all `Malformed`); `alg: none` in any letter case (`Unsigned`); an
    /// `alg` that is not a known algorithm name, compared exactly
    /// (`AlgorithmNotAllowed`); a `crit` or `b64: false` header member, or an
    /// empty signature (`Malformed`).
    pub(crate) fn parse(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("it is longer than 64 KiB"));
        }
        let malformed = TokenError::Malformed;
        let three_parts = "it does not have three dot-separated parts";
        let (header, rest) = token.split_once('.').ok_or(malformed(three_parts))?;
        let (payload, signature) = rest.split_once('.').ok_or(malformed(three_parts))?;
        if signature.contains('.') {
            // Five parts in all: header.encrypted_key.iv.ciphertext.tag.
            if signature.split('.').count() == 3 {
                return Err(malformed(
                    "it is encrypted (JWE, five parts); this crate accepts signed ID tokens only, so turn off ID token encryption at the provider",
                ));
            }
            return Err(malformed(three_parts));
        }
        let signing_input = &token[..header.len() + 1 + payload.len()];

        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| malformed("the header is not unpadded base64url"))?;
        if !is_json_object(&header) {
            return Err(malformed("the header is not a JSON object"));
        }
        let header: Header<'_> =
            serde_json::from_slice(&header).map_err(|_| malformed(INVALID_HEADER))?;

        let alg = header.alg.ok_or(malformed("the header has no `alg`"))?.0;
        if alg.eq_ignore_ascii_case("none") {
            return Err(TokenError::Unsigned);
        }
        let alg = alg
            .parse::<Algorithm>()
            .map_err(|_| TokenError::AlgorithmNotAllowed {
                alg: clip(&alg, 32),
            })?;
        if header.crit.is_some() {
            return Err(malformed(
                "the header has `crit`, and this crate implements no JWS extension",
            ));
        }
        if header.b64 == Some(false) {
            return Err(malformed(
                "the header has `b64: false` (unencoded payload, RFC 7797), which is not supported",
            ));
        }
        let kid = header.kid.map(|kid| kid.0.into_owned());

        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| malformed("the payload is not unpadded base64url"))?;
        if !is_json_object(&payload) {
            return Err(malformed("the payload is not a JSON object"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| malformed("the signature is not unpadded base64url"))?;
        if signature.is_empty() {
            return Err(malformed("the signature is empty"));
        }

        Ok(Jws {
            signing_input,
            alg,
            kid,
            payload,
            signature,
        })
    }

    /// The header's `alg`.
    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`, if any.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `typ` (what kind of token it says it is), read only
    /// when asked, by access-token validation: ID tokens never read it.
    /// `Err` when it is not one string (another type, or repeated).
    pub(crate) fn typ(&self) -> Result<Option<String>, TokenError> {
        #[derive(Deserialize)]
        struct Typ<'h> {
            #[serde(borrow, default, deserialize_with = "present")]
            typ: Option<JsonStr<'h>>,
        }
        let invalid = || TokenError::Malformed("the header's `typ` is not one string");
        let (header, _) = self.signing_input.split_once('.').ok_or_else(invalid)?;
        let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| invalid())?;
        let typ: Typ<'_> = serde_json::from_slice(&header).map_err(|_| invalid())?;
        Ok(typ.typ.map(|typ| typ.0.into_owned()))
    }

    /// The payload, NOT verified: only for a token this crate validated
    /// before and kept (the original ID token a refresh is compared with).
    pub(crate) fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Checks the algorithm against `allowed`, then the signature, and
    /// returns the payload bytes (JSON, not yet checked).
    ///
    /// HMAC algorithms are keyed with the client secret, and only when one is
    /// given (and not empty). Other algorithms use the keys of `keys` that
    /// fit the token's `kid` and `alg`; without a `kid`, every key that fits
    /// the `alg` is tried.
    pub(crate) fn verify(
        &self,
        keys: &KeySet,
        allowed: &[Algorithm],
        hmac_secret: Option<&ClientSecret>,
    ) -> Result<&[u8], TokenError> {
        let not_allowed = || TokenError::AlgorithmNotAllowed {
            alg: self.alg.as_str().to_owned(),
        };
        if !allowed.contains(&self.alg) {
            return Err(not_allowed());
        }
        let message = self.signing_input.as_bytes();

        if let Some(hmac_algorithm) = hmac_algorithm(self.alg) {
            // Never a key from the JWKS: HMAC with a public key as the secret
            // is the classic algorithm-confusion forgery.
            let secret = hmac_secret
                .map(ClientSecret::expose_secret)
                .filter(|secret| !secret.is_empty())
                .ok_or_else(not_allowed)?;
            let key = hmac::Key::new(hmac_algorithm, secret.as_bytes());
            return match hmac::verify(&key, message, &self.signature) {
                Ok(()) => Ok(&self.payload),
                Err(_) => Err(TokenError::BadSignature),
            };
        }

        let mut candidates = keys.candidates(self.kid.as_deref(), self.alg).peekable();
        if candidates.peek().is_none() {
            return Err(TokenError::UnknownKey {
                kid: self.kid.as_deref().map(|kid| clip(kid, 128)),
                alg: self.alg.as_str().to_owned(),
            });
        }
        for key in candidates {
            if key.verify_sig(message, &self.signature).is_ok() {
                return Ok(&self.payload);
            }
        }
        Err(TokenError::BadSignature)
    }
}

impl fmt::Debug for Jws<'_> {
    /// Shows the header's `alg` and `kid` only: the payload is personal data
    /// and the whole token is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The aws-lc-rs HMAC algorithm of an HMAC `alg`; `None` for the others.
fn hmac_algorithm(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
        | Algorithm::ES256
        | Algorithm::ES384
        | Algorithm::ES512
        | Algorithm::EdDSA => None,
    }
}

/// A cheap shape check (the full parse happens once, later): the first and
/// last non-whitespace bytes are `{` and `}`.
fn is_json_object(json: &[u8]) -> bool {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut bytes = json.iter().filter(|b| !is_space(b));
    bytes.next() == Some(&b'{') && json.iter().rev().find(|b| !is_space(b)) == Some(&b'}')
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    use serde_json::{Value, json};

    use super::*;
    use crate::token::test_support::{
        ED25519, P256, P384, P521, RSA_A, RSA_B, TestKey, b64, jwks, sign_token, sign_with_header,
        signing_input,
    };

    const ASYMMETRIC: &[Algorithm] = &Algorithm::ASYMMETRIC;
    const WITH_HMAC: &[Algorithm] = &[
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    fn payload() -> Value {
        json!({"iss": "https://issuer.example", "sub": "user-1", "aud": "client-1"})
    }

    fn keys(jwk_list: &[Value]) -> KeySet {
        let (set, skipped) = KeySet::from_jwks(&jwks(jwk_list)).expect("JWKS");
        assert_eq!(skipped, 0);
        set
    }

    /// The provider's keys in most tests.
    fn provider_keys() -> KeySet {
        keys(&[
            RSA_A.jwk("r1"),
            P256.jwk("e256"),
            P384.jwk("e384"),
            P521.jwk("e521"),
            ED25519.jwk("ed"),
        ])
    }

    fn parse_err(token: &str) -> TokenError {
        match Jws::parse(token) {
            Ok(jws) => panic!("parsed: {jws:?}"),
            Err(e) => e,
        }
    }

    fn verify_err(
        token: &str,
        keys: &KeySet,
        allowed: &[Algorithm],
        secret: Option<&ClientSecret>,
    ) -> TokenError {
        let jws = Jws::parse(token).expect("parse");
        match jws.verify(keys, allowed, secret) {
            Ok(_) => panic!("verified: {jws:?}"),
            Err(e) => e,
        }
    }

    fn assert_malformed(token: &str) -> &'static str {
        match parse_err(token) {
            TokenError::Malformed(why) => why,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    /// A token from a raw header text (not re-serialized), signed by RSA_A
    /// with RS256.
    fn raw_header_token(header: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload().to_string()));
        let sig = RSA_A.sign(Algorithm::RS256, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    fn hmac_token(alg: Algorithm, secret: &[u8], header: Option<Value>) -> String {
        let header = header.unwrap_or_else(|| json!({"alg": alg.as_str(), "typ": "JWT"}));
        let input = signing_input(&header, &payload());
        let hmac_alg = hmac_algorithm(alg).unwrap();
        let tag = hmac::sign(&hmac::Key::new(hmac_alg, secret), input.as_bytes());
        format!("{input}.{}", b64(tag))
    }

    #[test]
    fn every_asymmetric_algorithm_verifies() {
        let keys = provider_keys();
        let cases: [(&TestKey, Algorithm, &str); 10] = [
            (&RSA_A, Algorithm::RS256, "r1"),
            (&RSA_A, Algorithm::RS384, "r1"),
            (&RSA_A, Algorithm::RS512, "r1"),
            (&RSA_A, Algorithm::PS256, "r1"),
            (&RSA_A, Algorithm::PS384, "r1"),
            (&RSA_A, Algorithm::PS512, "r1"),
            (&P256, Algorithm::ES256, "e256"),
            (&P384, Algorithm::ES384, "e384"),
            (&P521, Algorithm::ES512, "e521"),
            (&ED25519, Algorithm::EdDSA, "ed"),
        ];
        let expected = serde_json::to_vec(&payload()).unwrap();
        for (key, alg, kid) in cases {
            for with_kid in [Some(kid), None] {
                let token = sign_token(key, alg, with_kid, &payload());
                let jws = Jws::parse(&token).expect("parse");
                assert_eq!(jws.alg(), alg);
                assert_eq!(jws.kid(), with_kid);
                let verified = jws.verify(&keys, ASYMMETRIC, None);
                assert_eq!(
                    verified.expect("verify"),
                    &expected[..],
                    "{alg} {with_kid:?}"
                );
            }
        }
    }

    #[test]
    fn hmac_algorithms_verify_with_the_client_secret() {
        let secret = ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = hmac_token(alg, secret.expose_secret().as_bytes(), None);
            let jws = Jws::parse(&token).unwrap();
            let verified = jws.verify(&KeySet::default(), WITH_HMAC, Some(&secret));
            assert!(verified.is_ok(), "{alg}");

            let other = ClientSecret::new("another-client-secret-of-32-bytes!!!!!");
            assert!(matches!(
                jws.verify(&KeySet::default(), WITH_HMAC, Some(&other)),
                Err(TokenError::BadSignature)
            ));
        }
    }

    #[test]
    fn alg_none_is_unsigned_in_every_spelling() {
        let body = b64(payload().to_string());
        for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
            let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string());
            for signature in ["", "c2lnbmF0dXJl"] {
                let token = format!("{header}.{body}.{signature}");
                assert!(
                    matches!(parse_err(&token), TokenError::Unsigned),
                    "{alg} {signature:?}"
                );
            }
        }
        // Escaped in JSON: still `none`.
        let header = b64(r#"{"alg":"n\u006fne"}"#);
        assert!(matches!(
            parse_err(&format!("{header}.{body}.")),
            TokenError::Unsigned
        ));
    }

    #[test]
    fn unknown_algorithms_are_not_allowed() {
        for alg in [
            "RS1", "rs256", "Rs256", "HS1024", "ES256K", "RS256 ", "Ed25519", "",
        ] {
            let token = sign_with_header(
                &RSA_A,
                Algorithm::RS256,
                &json!({"alg": alg, "kid": "r1"}),
                &payload(),
            );
            match parse_err(&token) {
                TokenError::AlgorithmNotAllowed { alg: shown } => assert_eq!(shown, alg),
                other => panic!("{alg}: {other:?}"),
            }
        }
        // Control characters are escaped: a token cannot forge log lines.
        let token = sign_with_header(
            &RSA_A,
            Algorithm::RS256,
            &json!({"alg": "RS256\nERROR forged"}),
            &payload(),
        );
        assert!(matches!(
            parse_err(&token),
            TokenError::AlgorithmNotAllowed { alg } if alg == "RS256\\nERROR forged"
        ));
        let long = "X".repeat(100);
        let token = sign_with_header(&RSA_A, Algorithm::RS256, &json!({"alg": long}), &payload());
        match parse_err(&token) {
            TokenError::AlgorithmNotAllowed { alg } => {
                assert_eq!(alg, format!("{}…", "X".repeat(32)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_algorithm_outside_the_allow_list_is_refused() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("r1"), &payload());
        let e = verify_err(
            &token,
            &provider_keys(),
            &[Algorithm::ES256, Algorithm::PS256],
            None,
        );
        assert!(matches!(e, TokenError::AlgorithmNotAllowed { alg } if alg == "RS256"));
        let e = verify_err(&token, &provider_keys(), &[], None);
        assert!(matches!(e, TokenError::AlgorithmNotAllowed { alg } if alg == "RS256"));
    }

    #[test]
    fn hmac_without_a_client_secret_is_not_allowed() {
        let token = hmac_token(Algorithm::HS256, b"whatever", None);
        let e = verify_err(&token, &provider_keys(), WITH_HMAC, None);
        assert!(matches!(e, TokenError::AlgorithmNotAllowed { alg } if alg == "HS256"));
        // An empty secret is no secret.
        let token = hmac_token(Algorithm::HS256, b"", None);
        let empty = ClientSecret::new("");
        let e = verify_err(&token, &provider_keys(), WITH_HMAC, Some(&empty));
        assert!(matches!(e, TokenError::AlgorithmNotAllowed { alg } if alg == "HS256"));
        // HMAC not in the allow-list (the default) even with a secret.
        let secret = ClientSecret::new("a-client-secret");
        let token = hmac_token(Algorithm::HS256, b"a-client-secret", None);
        let e = verify_err(&token, &provider_keys(), ASYMMETRIC, Some(&secret));
        assert!(matches!(e, TokenError::AlgorithmNotAllowed { alg } if alg == "HS256"));
    }

    #[test]
    fn hmac_keyed_with_the_providers_public_key_is_refused() {
        // The classic algorithm-confusion forgery: the attacker takes the
        // provider's public key (in any of its public forms) as an HMAC
        // secret and signs a token with `alg: HS256` and the provider's kid.
        let jwk = RSA_A.jwk("r1");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        let jwk_text = jwk.to_string();
        let jwks_text = String::from_utf8(jwks(std::slice::from_ref(&jwk))).unwrap();
        let public_forms: [&[u8]; 3] = [&n, jwk_text.as_bytes(), jwks_text.as_bytes()];
        let keys = keys(std::slice::from_ref(&jwk));
        let secret = ClientSecret::new("the-real-client-secret");
        for form in public_forms {
            let header = json!({"alg": "HS256", "kid": "r1"});
            let token = hmac_token(Algorithm::HS256, form, Some(header));
            let e = verify_err(&token, &keys, ASYMMETRIC, None);
            assert!(matches!(e, TokenError::AlgorithmNotAllowed { .. }), "{e:?}");
            let e = verify_err(&token, &keys, WITH_HMAC, None);
            assert!(matches!(e, TokenError::AlgorithmNotAllowed { .. }), "{e:?}");
            let e = verify_err(&token, &keys, WITH_HMAC, Some(&secret));
            assert!(matches!(e, TokenError::BadSignature), "{e:?}");
        }
    }

    #[test]
    fn jwe_is_refused() {
        let token = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
        assert!(assert_malformed(token).contains("encrypted (JWE"));
    }

    #[test]
    fn other_part_counts_are_refused() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("r1"), &payload());
        let parts: Vec<&str> = token.split('.').collect();
        for bad in [
            String::new(),
            ".".into(),
            parts[0].into(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{token}."),
            format!("{token}.{}", parts[2]),
            format!("{token}.x.y.z"),
        ] {
            assert_eq!(
                assert_malformed(&bad),
                "it does not have three dot-separated parts",
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_base64_and_padding_are_refused() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("r1"), &payload());
        let [h, p, s]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        // Padded forms of the same parts.
        let padded = |part: &str| {
            let padding = (4 - part.len() % 4) % 4;
            format!(
                "{part}{}",
                "=".repeat(if padding == 0 { 4 } else { padding })
            )
        };
        let cases = [
            (
                format!("{}.{p}.{s}", padded(h)),
                "the header is not unpadded base64url",
            ),
            (
                format!("{h}.{}.{s}", padded(p)),
                "the payload is not unpadded base64url",
            ),
            (
                format!("{h}.{p}.{}", padded(s)),
                "the signature is not unpadded base64url",
            ),
            (
                format!("{h} .{p}.{s}"),
                "the header is not unpadded base64url",
            ),
            (
                format!("{h}.{p}.{s}\n"),
                "the signature is not unpadded base64url",
            ),
            (
                format!("{h}.{p}.!{s}"),
                "the signature is not unpadded base64url",
            ),
            // One character more than a whole number of bytes.
            (
                format!("{h}.{p}.{s}AAA"),
                "the signature is not unpadded base64url",
            ),
        ];
        for (bad, why) in cases {
            assert_eq!(assert_malformed(&bad), why, "{bad}");
        }
        // The standard alphabet's `+` and `/` are not base64url.
        for bad in [
            s.replacen(char::is_alphanumeric, "+", 1),
            s.replacen(char::is_alphanumeric, "/", 1),
        ] {
            assert_eq!(
                assert_malformed(&format!("{h}.{p}.{bad}")),
                "the signature is not unpadded base64url"
            );
        }
        // Non-canonical trailing bits: "e30" is `{}`, and its last character
        // carries two spare bits, which must be zero; "e31" sets one.
        let header = b64(r#"{"alg":"RS256"}"#);
        assert_eq!(b64(b"{}"), "e30");
        assert_eq!(
            assert_malformed(&format!("{header}.e31.{s}")),
            "the payload is not unpadded base64url"
        );
    }

    #[test]
    fn crit_and_unencoded_payloads_are_refused() {
        for header in [
            json!({"alg": "RS256", "kid": "r1", "crit": ["exp"], "exp": 1}),
            json!({"alg": "RS256", "kid": "r1", "crit": []}),
            json!({"alg": "RS256", "kid": "r1", "crit": null}),
        ] {
            let token = sign_with_header(&RSA_A, Algorithm::RS256, &header, &payload());
            assert!(assert_malformed(&token).contains("`crit`"), "{header}");
        }
        let header = json!({"alg": "RS256", "kid": "r1", "b64": false});
        let token = sign_with_header(&RSA_A, Algorithm::RS256, &header, &payload());
        assert!(assert_malformed(&token).contains("`b64: false`"));
        for b64_value in [json!(null), json!("false"), json!(0)] {
            let header = json!({"alg": "RS256", "kid": "r1", "b64": b64_value});
            let token = sign_with_header(&RSA_A, Algorithm::RS256, &header, &payload());
            assert_eq!(assert_malformed(&token), INVALID_HEADER);
        }
        // `b64: true` is the default behaviour, and harmless.
        let header = json!({"alg": "RS256", "kid": "r1", "b64": true});
        let token = sign_with_header(&RSA_A, Algorithm::RS256, &header, &payload());
        let jws = Jws::parse(&token).unwrap();
        assert!(jws.verify(&provider_keys(), ASYMMETRIC, None).is_ok());
    }

    #[test]
    fn headers_and_payloads_that_are_not_json_objects_are_refused() {
        let header_cases = [
            (r#"["RS256"]"#, "the header is not a JSON object"),
            (r#""RS256""#, "the header is not a JSON object"),
            ("", "the header is not a JSON object"),
            (r#"{"alg":"RS256"} x"#, "the header is not a JSON object"),
            (r#"{"alg":"RS256""#, "the header is not a JSON object"),
            (r#"{"alg":"RS256",}"#, INVALID_HEADER),
            (r#"{"alg":"RS256","alg":"none"}"#, INVALID_HEADER),
            (r#"{"alg":["RS256"]}"#, INVALID_HEADER),
            (r#"{"alg":null}"#, INVALID_HEADER),
            (r#"{"alg":"RS256","kid":7}"#, INVALID_HEADER),
            (r#"{"alg":"RS256","kid":null}"#, INVALID_HEADER),
            (r#"{"kid":"r1"}"#, "the header has no `alg`"),
            ("{}", "the header has no `alg`"),
        ];
        for (header, why) in header_cases {
            assert_eq!(assert_malformed(&raw_header_token(header)), why, "{header}");
        }
        let header = b64(json!({"alg": "RS256", "kid": "r1"}).to_string());
        for body in ["[]", "\"sub\"", "", "null", "{\"sub\":1} {", "x{}"] {
            let input = format!("{header}.{}", b64(body));
            let sig = RSA_A.sign(Algorithm::RS256, input.as_bytes());
            let token = format!("{input}.{}", b64(sig));
            assert_eq!(
                assert_malformed(&token),
                "the payload is not a JSON object",
                "{body}"
            );
        }
    }

    #[test]
    fn an_escaped_kid_is_decoded() {
        let token = raw_header_token(r#"{"alg":"RS256","kid":"r\/1"}"#);
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.kid(), Some("r/1"));
        let keys = keys(&[RSA_A.jwk("r/1")]);
        assert!(jws.verify(&keys, ASYMMETRIC, None).is_ok());
    }

    #[test]
    fn an_empty_signature_is_refused() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("r1"), &payload());
        let (input, _) = token.rsplit_once('.').unwrap();
        assert_eq!(
            assert_malformed(&format!("{input}.")),
            "the signature is empty"
        );
    }

    #[test]
    fn a_token_over_64_kib_is_refused_before_decoding() {
        let token = format!(
            "{}.{}.{}",
            "a".repeat(30_000),
            "b".repeat(30_000),
            "c".repeat(5_535)
        );
        assert_eq!(token.len(), 64 * 1024 + 1);
        assert_eq!(assert_malformed(&token), "it is longer than 64 KiB");
        // At the limit, the usual checks apply (here: 29,999 `a` is not
        // canonical base64url).
        assert_eq!(
            assert_malformed(&token[1..]),
            "the header is not unpadded base64url"
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let keys = provider_keys();
        for (key, alg, kid) in [
            (&*RSA_A, Algorithm::RS256, "r1"),
            (&*RSA_A, Algorithm::PS256, "r1"),
            (&*P256, Algorithm::ES256, "e256"),
            (&*ED25519, Algorithm::EdDSA, "ed"),
        ] {
            let token = sign_token(key, alg, Some(kid), &payload());
            let [h, _, s]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
            let mut forged = payload();
            forged["sub"] = json!("admin");
            let tampered = format!("{h}.{}.{s}", b64(forged.to_string()));
            let e = verify_err(&tampered, &keys, ASYMMETRIC, None);
            assert!(matches!(e, TokenError::BadSignature), "{alg}: {e:?}");

            let mut sig = URL_SAFE_NO_PAD.decode(s).unwrap();
            sig[5] ^= 0x01;
            let tampered = format!("{}.{}", token.rsplit_once('.').unwrap().0, b64(&sig));
            let e = verify_err(&tampered, &keys, ASYMMETRIC, None);
            assert!(matches!(e, TokenError::BadSignature), "{alg}: {e:?}");

            sig[5] ^= 0x01;
            sig.pop();
            let truncated = format!("{}.{}", token.rsplit_once('.').unwrap().0, b64(&sig));
            let e = verify_err(&truncated, &keys, ASYMMETRIC, None);
            assert!(matches!(e, TokenError::BadSignature), "{alg}: {e:?}");
        }
    }

    #[test]
    fn a_signature_by_another_key_with_the_same_kid_is_refused() {
        let token = sign_token(&RSA_B, Algorithm::RS256, Some("r1"), &payload());
        let e = verify_err(&token, &provider_keys(), ASYMMETRIC, None);
        assert!(matches!(e, TokenError::BadSignature), "{e:?}");
    }

    #[test]
    fn an_unknown_kid_is_an_unknown_key() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("rotated"), &payload());
        let e = verify_err(&token, &provider_keys(), ASYMMETRIC, None);
        assert!(
            matches!(&e, TokenError::UnknownKey { kid: Some(kid), alg } if kid == "rotated" && alg == "RS256"),
            "{e:?}"
        );
        let long = "k".repeat(300);
        let token = sign_token(&RSA_A, Algorithm::RS256, Some(&long), &payload());
        match verify_err(&token, &provider_keys(), ASYMMETRIC, None) {
            TokenError::UnknownKey { kid: Some(kid), .. } => {
                assert_eq!(kid, format!("{}…", "k".repeat(128)));
            }
            other => panic!("{other:?}"),
        }
        // No key at all.
        let token = sign_token(&RSA_A, Algorithm::RS256, None, &payload());
        let e = verify_err(&token, &KeySet::default(), ASYMMETRIC, None);
        assert!(
            matches!(e, TokenError::UnknownKey { kid: None, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn without_kid_every_fitting_key_is_tried() {
        let keys = keys(&[RSA_B.jwk("b"), RSA_A.jwk("a")]);
        let token = sign_token(&RSA_A, Algorithm::RS256, None, &payload());
        let jws = Jws::parse(&token).unwrap();
        assert!(jws.verify(&keys, ASYMMETRIC, None).is_ok());

        let only_b = self::keys(&[RSA_B.jwk("b"), P256.jwk("e")]);
        let e = verify_err(&token, &only_b, ASYMMETRIC, None);
        assert!(matches!(e, TokenError::BadSignature), "{e:?}");
    }

    #[test]
    fn a_key_in_the_header_is_never_used() {
        // The attacker signs with their own key and sends its public half in
        // `jwk` (and points `jku`/`x5u` at their server, `x5c` at junk).
        let attacker = &*RSA_B;
        let keys = keys(&[RSA_A.jwk("r1")]);
        for kid in [None, Some("r1"), Some("attacker")] {
            let mut header = json!({
                "alg": "RS256",
                "jwk": attacker.jwk("attacker"),
                "jku": "https://attacker.example/jwks",
                "x5u": "https://attacker.example/cert",
                "x5c": ["MIIB"],
            });
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let token = sign_with_header(attacker, Algorithm::RS256, &header, &payload());
            let e = verify_err(&token, &keys, ASYMMETRIC, None);
            match kid {
                Some("attacker") => {
                    assert!(matches!(e, TokenError::UnknownKey { .. }), "{e:?}")
                }
                _ => assert!(matches!(e, TokenError::BadSignature), "{kid:?}: {e:?}"),
            }
        }
    }

    #[test]
    fn a_key_of_another_type_under_the_kid_is_an_unknown_key() {
        // RS256 token; the only key with that kid is an EC key.
        let keys = keys(&[P256.jwk("k"), RSA_A.jwk("other")]);
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("k"), &payload());
        let e = verify_err(&token, &keys, ASYMMETRIC, None);
        assert!(
            matches!(&e, TokenError::UnknownKey { kid: Some(k), .. } if k == "k"),
            "{e:?}"
        );
    }

    #[test]
    fn an_es256_token_does_not_use_a_p384_key() {
        let keys = keys(&[P384.jwk("e")]);
        let token = sign_token(&P256, Algorithm::ES256, Some("e"), &payload());
        let e = verify_err(&token, &keys, ASYMMETRIC, None);
        assert!(matches!(e, TokenError::UnknownKey { .. }), "{e:?}");
        // An RSA key with `alg: RS256` does not serve PS256.
        let keys = self::keys(&[{
            let mut jwk = RSA_A.jwk("r");
            jwk["alg"] = json!("RS256");
            jwk
        }]);
        let token = sign_token(&RSA_A, Algorithm::PS256, Some("r"), &payload());
        let e = verify_err(&token, &keys, ASYMMETRIC, None);
        assert!(matches!(e, TokenError::UnknownKey { .. }), "{e:?}");
    }

    #[test]
    fn an_ecdsa_signature_in_der_form_is_refused() {
        // JWS ECDSA signatures are r || s; the ASN.1 DER form must not pass.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der_key = TestKey::Ec(pair, "P-256");
        let keys = keys(&[der_key.jwk("e")]);
        let token = sign_token(&der_key, Algorithm::ES256, Some("e"), &payload());
        let e = verify_err(&token, &keys, ASYMMETRIC, None);
        assert!(matches!(e, TokenError::BadSignature), "{e:?}");
    }

    #[test]
    fn typ_is_read_only_when_asked_and_must_be_one_string() {
        let typ_of = |header: &str| Jws::parse(&raw_header_token(header)).unwrap().typ();
        assert_eq!(typ_of(r#"{"alg":"RS256"}"#).unwrap(), None);
        assert_eq!(
            typ_of(r#"{"alg":"RS256","typ":"at+jwt"}"#)
                .unwrap()
                .as_deref(),
            Some("at+jwt")
        );
        assert_eq!(
            typ_of(r#"{"alg":"RS256","typ":"at\u002bjwt"}"#)
                .unwrap()
                .as_deref(),
            Some("at+jwt")
        );
        // Parsing (the ID token path) ignores a bad `typ`; asking refuses it.
        for bad in [
            r#"{"alg":"RS256","typ":7}"#,
            r#"{"alg":"RS256","typ":null}"#,
            r#"{"alg":"RS256","typ":"JWT","typ":"at+jwt"}"#,
        ] {
            assert!(
                matches!(typ_of(bad), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_shows_the_header_only() {
        let token = sign_token(&RSA_A, Algorithm::RS256, Some("r1"), &payload());
        let shown = format!("{:?}", Jws::parse(&token).unwrap());
        assert_eq!(shown, r#"Jws { alg: RS256, kid: Some("r1"), .. }"#);
    }
}
