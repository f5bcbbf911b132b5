//! TEMPORARY stub of the token contract; replaced by the token branch on merge.
#![allow(dead_code, unused_variables, missing_docs)]
use crate::{Algorithm, ClientSecret, TokenError};
pub(crate) struct Jws<'a>(&'a str);
impl<'a> Jws<'a> {
    pub(crate) fn parse(token: &'a str) -> Result<Self, TokenError> {
        Err(TokenError::Malformed("stub"))
    }
    pub(crate) fn alg(&self) -> Algorithm {
        Algorithm::RS256
    }
    pub(crate) fn kid(&self) -> Option<&str> {
        None
    }
    pub(crate) fn verify(
        &self,
        keys: &KeySet,
        allowed: &[Algorithm],
        hmac_secret: Option<&ClientSecret>,
    ) -> Result<&[u8], TokenError> {
        Err(TokenError::BadSignature)
    }
}
#[derive(Debug, Default)]
pub(crate) struct KeySet;
impl KeySet {
    pub(crate) fn from_jwks(json: &[u8]) -> Result<(KeySet, usize), String> {
        Err("stub".into())
    }
    pub(crate) fn is_empty(&self) -> bool {
        true
    }
    pub(crate) fn len(&self) -> usize {
        0
    }
    pub(crate) fn has_key_for(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        false
    }
}
pub(crate) struct Expectations<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) trusted_audiences: &'a [String],
    pub(crate) now: i64,
    pub(crate) skew_seconds: u64,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) max_age: Option<u64>,
    pub(crate) access_token: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
}
#[derive(Debug, Clone)]
pub struct IdTokenClaims {
    map: serde_json::Map<String, serde_json::Value>,
}
impl IdTokenClaims {
    pub fn issuer(&self) -> &str {
        ""
    }
    pub fn subject(&self) -> &str {
        ""
    }
    pub fn expires_at(&self) -> i64 {
        0
    }
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.map
    }
    pub(crate) fn into_claims(self) -> serde_json::Map<String, serde_json::Value> {
        self.map
    }
}
pub(crate) fn check_claims(
    payload: &[u8],
    alg: Algorithm,
    exp: &Expectations<'_>,
) -> Result<IdTokenClaims, TokenError> {
    Err(TokenError::BadSignature)
}
