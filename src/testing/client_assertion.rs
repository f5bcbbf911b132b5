//! Client authentication with a JWT assertion at the token endpoint
//! (RFC 7523 section 3, OpenID Connect Core 1.0 section 9):
//! `client_secret_jwt` and `private_key_jwt`.
//!
//! Checked independently of the crate's own token code, with aws-lc-rs
//! directly, so that a bug in one is not mirrored in the other.

use aws_lc_rs::{hmac, signature};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::model::{AuthMethod, TestClient};
use super::server::Params;
use super::state::{Shared, lock, unix_now};
use super::token::{OAuthError, invalid_client, invalid_request};

/// `client_assertion_type` of a JWT assertion.
pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertions longer than this are refused unread.
const MAX_LEN: usize = 16 * 1024;

/// Authenticates the client of a request carrying `client_assertion`.
pub(super) fn authenticate<'a>(
    shared: &'a Shared,
    params: &Params,
) -> Result<&'a TestClient, OAuthError> {
    match params.get("client_assertion_type") {
        Some(ASSERTION_TYPE) => {}
        Some(other) => {
            return Err(invalid_client(format!(
                "client_assertion_type `{other}` is not supported (only `{ASSERTION_TYPE}`)"
            )));
        }
        None => {
            return Err(invalid_request(
                "client_assertion is sent without client_assertion_type",
            ));
        }
    }
    let Some(assertion) = params.get("client_assertion") else {
        return Err(invalid_request(
            "client_assertion_type is sent without client_assertion",
        ));
    };
    let jwt = Jwt::parse(assertion)?;

    let alg = jwt.header_str("alg").unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        return Err(invalid_client(
            "the client assertion is unsigned (`alg: none`)",
        ));
    }
    let method = match alg {
        "HS256" | "HS384" | "HS512" => AuthMethod::SecretJwt,
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512"
        | "EdDSA" => AuthMethod::PrivateKeyJwt,
        "" => return Err(invalid_client("the client assertion's header has no `alg`")),
        other => {
            return Err(invalid_client(format!(
                "the client assertion's `alg` `{other}` is not supported"
            )));
        }
    };

    // The claims are read before the signature is checked only to find the
    // client whose key checks it.
    let (Some(iss), Some(sub)) = (jwt.claim_str("iss"), jwt.claim_str("sub")) else {
        return Err(invalid_client(
            "the client assertion needs `iss` and `sub`, both the client id",
        ));
    };
    if iss != sub {
        return Err(invalid_client(format!(
            "the client assertion's `iss` `{iss}` and `sub` `{sub}` differ; both must be the client id"
        )));
    }
    if let Some(id) = params.get("client_id")
        && id != iss
    {
        return Err(invalid_client(format!(
            "client_id `{id}` differs from the client assertion's `iss` `{iss}`"
        )));
    }
    let Some(client) = shared.client(iss) else {
        return Err(invalid_client(format!("unknown client `{iss}`")));
    };
    if client.method() != method {
        return Err(invalid_client(format!(
            "client `{iss}` is registered for `{}`, but the request used `{}` (a client assertion signed with {alg})",
            client.method().as_str(),
            method.as_str()
        )));
    }

    let verified = match method {
        AuthMethod::SecretJwt => client
            .secret()
            .is_some_and(|secret| jwt.verify_hmac(alg, secret.expose_secret().as_bytes())),
        _ => {
            let Some(jwk) = client.public_jwk() else {
                return Err(invalid_client(format!(
                    "client `{iss}` has no registered key"
                )));
            };
            check_key_hints(&jwt, jwk)?;
            jwt.verify_with_jwk(alg, jwk)
        }
    };
    if !verified {
        return Err(invalid_client(format!(
            "the client assertion's signature does not verify with the key registered for client `{iss}`"
        )));
    }

    let token_endpoint = shared.endpoint("token");
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(aud)) => *aud == token_endpoint,
        Some(Value::Array(auds)) => auds.iter().any(|aud| *aud == token_endpoint.as_str()),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid_client(format!(
            "the client assertion's `aud` must be the token endpoint `{token_endpoint}`"
        )));
    }

    let now = unix_now();
    let Some(exp) = jwt.claims.get("exp").and_then(Value::as_u64) else {
        return Err(invalid_client(
            "the client assertion has no `exp` (a number of seconds)",
        ));
    };
    if now >= exp {
        return Err(invalid_client(format!(
            "the client assertion expired at {exp} (now {now})"
        )));
    }
    if let Some(iat) = jwt.claims.get("iat").and_then(Value::as_u64)
        && iat > now + 60
    {
        return Err(invalid_client(format!(
            "the client assertion was issued in the future (`iat` {iat}, now {now})"
        )));
    }

    let Some(jti) = jwt.claim_str("jti").filter(|jti| !jti.is_empty()) else {
        return Err(invalid_client("the client assertion has no `jti`"));
    };
    let mut seen = lock(&shared.assertion_jtis);
    seen.retain(|_, expires| *expires > now);
    if seen.insert((iss.to_owned(), jti.to_owned()), exp).is_some() {
        return Err(invalid_client(
            "the client assertion's `jti` was already used: assertions are single-use",
        ));
    }
    Ok(client)
}

/// A `kid` or `x5t#S256` in the header must name the registered key.
fn check_key_hints(jwt: &Jwt, jwk: &Value) -> Result<(), OAuthError> {
    for member in ["kid", "x5t#S256"] {
        if let (Some(sent), Some(registered)) = (
            jwt.header_str(member),
            jwk.get(member).and_then(Value::as_str),
        ) && sent != registered
        {
            return Err(invalid_client(format!(
                "the client assertion's `{member}` `{sent}` is not the registered key's `{registered}`"
            )));
        }
    }
    Ok(())
}

/// A compact JWS, decoded but not verified.
struct Jwt {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    fn parse(token: &str) -> Result<Self, OAuthError> {
        let malformed = || {
            invalid_client(
                "the client assertion is not a compact JWS with a JSON object header and payload",
            )
        };
        if token.len() > MAX_LEN {
            return Err(malformed());
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let object = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        };
        Ok(Self {
            header: object(header).ok_or_else(malformed)?,
            claims: object(payload).ok_or_else(malformed)?,
            signing_input: format!("{header}.{payload}"),
            signature: URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?,
        })
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn verify_hmac(&self, alg: &str, secret: &[u8]) -> bool {
        let hash = match alg {
            "HS384" => hmac::HMAC_SHA384,
            "HS512" => hmac::HMAC_SHA512,
            _ => hmac::HMAC_SHA256,
        };
        hmac::verify(
            &hmac::Key::new(hash, secret),
            self.signing_input.as_bytes(),
            &self.signature,
        )
        .is_ok()
    }

    /// Verifies with the public key of `jwk`, which must fit `alg`.
    fn verify_with_jwk(&self, alg: &str, jwk: &Value) -> bool {
        let member = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        let input = self.signing_input.as_bytes();
        let kty = jwk.get("kty").and_then(Value::as_str);
        let crv = jwk.get("crv").and_then(Value::as_str);
        let rsa: Option<&signature::RsaParameters> = match alg {
            "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
            "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
            "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        if let Some(params) = rsa {
            let (Some("RSA"), Some(n), Some(e)) = (kty, member("n"), member("e")) else {
                return false;
            };
            return signature::RsaPublicKeyComponents { n, e }
                .verify(params, input, &self.signature)
                .is_ok();
        }
        let ec: Option<(&signature::EcdsaVerificationAlgorithm, &str)> = match alg {
            "ES256" => Some((&signature::ECDSA_P256_SHA256_FIXED, "P-256")),
            "ES384" => Some((&signature::ECDSA_P384_SHA384_FIXED, "P-384")),
            "ES512" => Some((&signature::ECDSA_P521_SHA512_FIXED, "P-521")),
            _ => None,
        };
        if let Some((verification, curve)) = ec {
            let (Some("EC"), Some(true), Some(x), Some(y)) =
                (kty, crv.map(|c| c == curve), member("x"), member("y"))
            else {
                return false;
            };
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(4);
            point.extend(x);
            point.extend(y);
            return signature::UnparsedPublicKey::new(verification, point)
                .verify(input, &self.signature)
                .is_ok();
        }
        match (alg, kty, crv, member("x")) {
            ("EdDSA", Some("OKP"), Some("Ed25519"), Some(x)) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(input, &self.signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
