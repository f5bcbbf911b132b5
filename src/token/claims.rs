//! The ID token claim rules (OpenID Connect Core 1.0, sections 3.1.3.7,
//! 3.1.3.8, 3.2.2.9 and 3.3.2.11).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::jws::JsonStr;
use crate::Algorithm;
use crate::error::TokenError;
use crate::error::clip;
use crate::issuer::{TenantPolicy, TenantTemplate, is_guid, is_v1_token};
use crate::secret::constant_time_eq;

const PAYLOAD_INVALID: &str = "the payload is not a UTF-8 JSON object with unique claim names";

/// How the token's `iss` is checked.
#[derive(Clone, Copy)]
pub(crate) enum IssuerRule<'a> {
    /// Equal to the provider's issuer, exactly.
    Exact(&'a str),
    /// Microsoft Entra ID: equal to the provider's issuer, exactly, and
    /// not a version 1.0 token (`ver` 1.0, or an `sts.windows.net` or
    /// `sts.chinacloudapi.cn` issuer), even where the issuer is that of
    /// version 1.0 metadata.
    Entra(&'a str),
    /// Entra ID multi-tenant: the template with the token's `tid` put in,
    /// and a `tid` the policy allows.
    Tenant {
        template: &'a TenantTemplate,
        policy: &'a TenantPolicy,
    },
}

/// What the ID token must say, and the time to check it at.
///
/// Deliberately not `Debug`: it holds the nonce, the access token and the
/// authorization code.
#[derive(Clone, Copy)]
pub(crate) struct Expectations<'a> {
    /// The rule for `iss`: usually the provider's issuer, exactly.
    pub(crate) issuer: IssuerRule<'a>,
    /// This client's id: must be in `aud`, and equal `azp` when present.
    pub(crate) client_id: &'a str,
    /// Other audiences that may appear in `aud`.
    pub(crate) trusted_audiences: &'a [String],
    /// Unix seconds (injected; the clock is never read here).
    pub(crate) now: i64,
    /// The clock skew allowed on `exp`, `iat`, `nbf` and `auth_time`.
    pub(crate) skew_seconds: u64,
    /// `Some`: the `nonce` claim is required and must be equal.
    pub(crate) nonce: Option<&'a str>,
    /// `Some`: `auth_time` is required and must be recent enough.
    pub(crate) max_age: Option<u64>,
    /// `Some`: `at_hash`, when present, must match this access token.
    pub(crate) access_token: Option<&'a str>,
    /// `Some`: `c_hash`, when present, must match this authorization code.
    pub(crate) code: Option<&'a str>,
}

/// What ties an ID token to one login, for [`Expectations`]: each `Some`
/// is checked. Deliberately not `Debug`: it holds secrets.
#[derive(Clone, Copy, Default)]
pub(crate) struct Binding<'a> {
    /// The login's `nonce`: required in the token, and equal.
    pub(crate) nonce: Option<&'a str>,
    /// The `max_age` the login sent: `auth_time` required and recent enough.
    pub(crate) max_age: Option<u64>,
    /// The access token issued with it: `at_hash`, when present, must match.
    pub(crate) access_token: Option<&'a str>,
    /// The authorization code redeemed: `c_hash`, when present, must match.
    pub(crate) code: Option<&'a str>,
}

/// The claims of a validated ID token.
///
/// The registered claims have accessors; every claim, as the provider sent
/// it, is in [`IdTokenClaims::claims`]. `Debug` shows the claims except the
/// `nonce` value.
#[derive(Clone)]
pub struct IdTokenClaims {
    issuer: String,
    subject: String,
    audiences: Vec<String>,
    expires_at: i64,
    issued_at: i64,
    auth_time: Option<i64>,
    authorized_party: Option<String>,
    nonce: Option<String>,
    /// The verified payload: a JSON object with unique member names.
    payload: String,
    /// Every claim, parsed from `payload` when first asked for: validation
    /// itself reads only the registered claims, borrowed.
    claims: OnceLock<Map<String, Value>>,
}

impl IdTokenClaims {
    /// `iss`: the provider that issued the token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the user's identifier at the provider, unique per issuer.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `aud`: the audiences (this client's id, plus any trusted audience).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `exp`: when the token expires (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `iat`: when the token was issued (Unix seconds).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// `auth_time`: when the user last authenticated (Unix seconds), if sent.
    pub fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }

    /// `azp`: the party the token was issued to, if sent.
    pub fn authorized_party(&self) -> Option<&str> {
        self.authorized_party.as_deref()
    }

    /// `nonce`, if sent.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// All claims as sent.
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.get_or_init(|| parse_all(&self.payload))
    }

    /// All claims as sent, by value.
    pub(crate) fn into_claims(self) -> Map<String, Value> {
        match self.claims.into_inner() {
            Some(claims) => claims,
            None => parse_all(&self.payload),
        }
    }
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// The claims, with the `nonce` value redacted.
        struct Claims<'a>(&'a Map<String, Value>);
        impl fmt::Debug for Claims<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (name, value) in self.0 {
                    if name == "nonce" {
                        map.entry(name, &format_args!("[redacted]"));
                    } else {
                        map.entry(name, value);
                    }
                }
                map.finish()
            }
        }
        f.debug_struct("IdTokenClaims")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audiences", &self.audiences)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("auth_time", &self.auth_time)
            .field("authorized_party", &self.authorized_party)
            .field("claims", &Claims(self.claims()))
            .finish()
    }
}

/// Parses the verified payload once and checks the ID token rules, in this
/// order: `iss`, `aud`, `azp`, `exp`, `iat`, `nbf`, `nonce`, `sub`,
/// `at_hash`, `c_hash`, `auth_time`.
///
/// `alg` is the token's (already verified) algorithm; it selects the hash of
/// `at_hash` and `c_hash`.
pub(crate) fn check_claims(
    payload: &[u8],
    alg: Algorithm,
    expect: &Expectations<'_>,
) -> Result<IdTokenClaims, TokenError> {
    // One parse, of the registered claims only, borrowing their strings;
    // the other claims are skipped and parsed when asked for. Checking
    // UTF-8 first lets serde_json borrow (`from_str`).
    let malformed = || TokenError::Malformed(PAYLOAD_INVALID);
    let payload = std::str::from_utf8(payload).map_err(|_| malformed())?;
    let claims =
        serde_json::from_str::<Registered<'_, IdTokenSet>>(payload).map_err(|_| malformed())?;
    let claims = &claims;
    let now = i128::from(expect.now);
    let skew = i128::from(expect.skew_seconds);

    let issuer = check_issuer(claims, expect.issuer)?;
    let audiences = check_audiences(claims, expect.client_id, expect.trusted_audiences)?;

    let authorized_party = optional_str(claims, "azp")?;
    if let Some(azp) = authorized_party
        && azp != expect.client_id
    {
        return Err(TokenError::AuthorizedPartyMismatch {
            azp: clip(azp, 128),
            client_id: expect.client_id.to_owned(),
        });
    }
    // Core 3.1.3.7 step 4 says SHOULD; here it is the rule: with several
    // audiences, `azp` names the one the token was issued to.
    if audiences.len() > 1 && authorized_party.is_none() {
        return Err(TokenError::MissingAuthorizedParty {
            audiences: audiences.len(),
        });
    }

    // The current time must be before `exp` (RFC 7519 section 4.1.4).
    let expires_at = required_seconds(claims, "exp")?;
    if now >= i128::from(expires_at) + skew {
        return Err(TokenError::Expired {
            exp: expires_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }

    let issued_at = required_seconds(claims, "iat")?;
    if i128::from(issued_at) > now + skew {
        return Err(TokenError::IssuedInFuture {
            iat: issued_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }

    if let Some(not_before) = optional_seconds(claims, "nbf")?
        && i128::from(not_before) > now + skew
    {
        return Err(TokenError::NotYetValid {
            nbf: not_before,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }

    let nonce = optional_str(claims, "nonce")?;
    if let Some(expected) = expect.nonce {
        match nonce {
            Some(nonce) if constant_time_eq(nonce.as_bytes(), expected.as_bytes()) => {}
            _ => return Err(TokenError::NonceMismatch),
        }
    }

    let subject = required_str(claims, "sub")?;
    if subject.is_empty() {
        return Err(TokenError::InvalidClaim {
            claim: "sub",
            expected: "a non-empty string",
        });
    }

    if let Some(access_token) = expect.access_token
        && let Some(at_hash) = optional_str(claims, "at_hash")?
        && !half_hash_matches(alg, access_token, at_hash)
    {
        return Err(TokenError::AccessTokenHashMismatch);
    }
    if let Some(code) = expect.code
        && let Some(c_hash) = optional_str(claims, "c_hash")?
        && !half_hash_matches(alg, code, c_hash)
    {
        return Err(TokenError::CodeHashMismatch);
    }

    let auth_time = optional_seconds(claims, "auth_time")?;
    if let Some(max_age) = expect.max_age {
        check_auth_age(auth_time, max_age, expect.now, expect.skew_seconds)?;
    }

    Ok(IdTokenClaims {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        audiences,
        expires_at,
        issued_at,
        auth_time,
        authorized_party: authorized_party.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        payload: payload.to_owned(),
        claims: OnceLock::new(),
    })
}

/// `max_age` (OpenID Connect Core 3.1.2.1): `auth_time` is required and at
/// most `max_age` seconds, plus the skew, before `now`. For a login's ID
/// token and for a step-up requirement ([`StepUp::check`](crate::StepUp::check)),
/// so both read `auth_time` as the same NumericDate.
pub(crate) fn check_auth_age(
    auth_time: Option<i64>,
    max_age: u64,
    now: i64,
    skew_seconds: u64,
) -> Result<(), TokenError> {
    let auth_time = auth_time.ok_or(TokenError::MissingClaim("auth_time"))?;
    if i128::from(auth_time) + i128::from(max_age) + i128::from(skew_seconds) < i128::from(now) {
        return Err(TokenError::AuthenticationTooOld {
            auth_time,
            max_age,
            skew_seconds,
        });
    }
    Ok(())
}

/// `auth_time` of claims already parsed: a NumericDate as an ID token's is
/// read ([`optional_seconds`]), `None` when absent or not one.
pub(crate) fn auth_time(claims: &Map<String, Value>) -> Option<i64> {
    optional_seconds(claims, "auth_time").ok().flatten()
}

/// Every claim of a payload that [`check_claims`] accepted. Its parse
/// checked every value as this one does ([`Skip`]), so this cannot fail;
/// if it ever did, the claims would be missing, never made up.
pub(super) fn parse_all(payload: &str) -> Map<String, Value> {
    serde_json::from_str(payload).unwrap_or_else(|_| {
        debug_assert!(false, "a validated payload failed to parse as a map");
        tracing::error!(target: "oidc_login::token", "a validated ID token payload could not be parsed again; its claims are left out");
        Map::new()
    })
}

/// A JSON value read and thrown away, checked as strictly as a
/// `serde_json::Value` would be (numbers that fit an `f64`, valid escapes,
/// the nesting limit); `IgnoredAny` checks only the syntax, which would let
/// a payload pass here that the full parse of [`parse_all`] then refuses.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<JsonStr<'de>, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// `iss`, by the rule: returns it.
pub(super) fn check_issuer<'c>(
    claims: &'c impl Lookup,
    rule: IssuerRule<'_>,
) -> Result<&'c str, TokenError> {
    let issuer = required_str(claims, "iss")?;
    match rule {
        IssuerRule::Exact(expected) => {
            if issuer != expected {
                return Err(issuer_mismatch(expected.to_owned(), issuer, claims));
            }
        }
        IssuerRule::Entra(expected) => {
            if is_v1_token(issuer, version(claims)) {
                return Err(TokenError::EntraV1Token {
                    issuer: clip(issuer, 256),
                });
            }
            if issuer != expected {
                return Err(issuer_mismatch(expected.to_owned(), issuer, claims));
            }
        }
        IssuerRule::Tenant { template, policy } => {
            check_tenant_issuer(claims, issuer, template, policy)?;
        }
    }
    Ok(issuer)
}

/// `aud`: holds the client id, and no audience that is not trusted.
pub(super) fn check_audiences(
    claims: &impl Lookup,
    client_id: &str,
    trusted: &[String],
) -> Result<Vec<String>, TokenError> {
    let audiences = audiences(claims)?;
    if !audiences.iter().any(|aud| aud == client_id) {
        return Err(TokenError::AudienceMismatch {
            client_id: client_id.to_owned(),
        });
    }
    if let Some(untrusted) = audiences
        .iter()
        .find(|aud| *aud != client_id && !trusted.contains(aud))
    {
        return Err(TokenError::UntrustedAudience {
            audience: clip(untrusted, 128),
        });
    }
    Ok(audiences)
}

/// The error for an `iss` that is not the expected one: an Entra ID v1.0
/// token gets its own, which says what to change.
#[cold]
pub(super) fn issuer_mismatch(expected: String, found: &str, claims: &impl Lookup) -> TokenError {
    if is_v1_token(found, version(claims)) {
        TokenError::EntraV1Token {
            issuer: clip(found, 256),
        }
    } else {
        TokenError::IssuerMismatch {
            expected,
            found: clip(found, 256),
        }
    }
}

/// Entra ID multi-tenant: `iss` is the template with the token's own `tid`
/// put in, and that `tid` is a GUID the policy allows.
fn check_tenant_issuer(
    claims: &impl Lookup,
    issuer: &str,
    template: &TenantTemplate,
    policy: &TenantPolicy,
) -> Result<(), TokenError> {
    // Version 1.0 tokens are refused even when they fit the template (of
    // version 1.0 metadata, `https://sts.windows.net/{tenantid}/`).
    if is_v1_token(issuer, version(claims)) {
        return Err(TokenError::EntraV1Token {
            issuer: clip(issuer, 256),
        });
    }
    let tid = optional_str(claims, "tid")?;
    let tid = match tid {
        Some(tid) if template.issuer_matches(issuer, tid) => tid,
        None => return Err(TokenError::MissingClaim("tid")),
        Some(tid) => {
            return Err(issuer_mismatch(
                template.issuer_for(&clip(tid, 64)),
                issuer,
                claims,
            ));
        }
    };
    if !is_guid(tid) {
        return Err(TokenError::InvalidClaim {
            claim: "tid",
            expected: "a tenant id (a GUID)",
        });
    }
    if !policy.allows(tid) {
        return Err(TokenError::TenantNotAllowed {
            tenant: clip(tid, 64),
        });
    }
    Ok(())
}

/// A JSON object whose member names do not repeat. (RFC 7519 section 4
/// allows keeping the last of repeated claims; refusing is safer, as
/// another parser of the same token may keep the first.)
pub(super) struct UniqueObject(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    match map.entry(name) {
                        Entry::Vacant(entry) => {
                            entry.insert(access.next_value()?);
                        }
                        Entry::Occupied(_) => return Err(de::Error::custom("repeated claim name")),
                    }
                }
                Ok(UniqueObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// `ver` (Entra ID's token version), when it is a string.
pub(super) fn version(claims: &impl Lookup) -> Option<&str> {
    match claims.claim("ver") {
        Some(ClaimRef::Str(ver)) => Some(ver),
        _ => None,
    }
}

/// A claim's value, as the rules read it.
pub(super) enum ClaimRef<'v> {
    Str(&'v str),
    Num(&'v serde_json::Number),
    /// A JSON array whose elements are all strings.
    StrList(Vec<&'v str>),
    /// Anything else: another array, an object, a boolean, `null`.
    Other,
}

/// Claims by name: the registered claims borrowed from a payload
/// ([`Registered`]), or a parsed object (logout tokens).
pub(super) trait Lookup {
    /// The claim named `name`, if present.
    fn claim(&self, name: &str) -> Option<ClaimRef<'_>>;
}

impl Lookup for Map<String, Value> {
    fn claim(&self, name: &str) -> Option<ClaimRef<'_>> {
        Some(match self.get(name)? {
            Value::String(value) => ClaimRef::Str(value),
            Value::Number(number) => ClaimRef::Num(number),
            Value::Array(values) => values
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .map_or(ClaimRef::Other, ClaimRef::StrList),
            _ => ClaimRef::Other,
        })
    }
}

pub(super) fn required_str<'c>(
    claims: &'c impl Lookup,
    claim: &'static str,
) -> Result<&'c str, TokenError> {
    optional_str(claims, claim)?.ok_or(TokenError::MissingClaim(claim))
}

pub(super) fn optional_str<'c>(
    claims: &'c impl Lookup,
    claim: &'static str,
) -> Result<Option<&'c str>, TokenError> {
    match claims.claim(claim) {
        None => Ok(None),
        Some(ClaimRef::Str(value)) => Ok(Some(value)),
        Some(_) => Err(TokenError::InvalidClaim {
            claim,
            expected: "a string",
        }),
    }
}

/// `aud`: a string, or a non-empty array of strings.
pub(super) fn audiences(claims: &impl Lookup) -> Result<Vec<String>, TokenError> {
    let invalid = TokenError::InvalidClaim {
        claim: "aud",
        expected: "a string or a non-empty array of strings",
    };
    match claims.claim("aud") {
        None => Err(TokenError::MissingClaim("aud")),
        Some(ClaimRef::Str(aud)) => Ok(vec![aud.to_owned()]),
        Some(ClaimRef::StrList(auds)) if !auds.is_empty() => {
            Ok(auds.into_iter().map(str::to_owned).collect())
        }
        Some(_) => Err(invalid),
    }
}

pub(super) fn required_seconds(
    claims: &impl Lookup,
    claim: &'static str,
) -> Result<i64, TokenError> {
    optional_seconds(claims, claim)?.ok_or(TokenError::MissingClaim(claim))
}

/// A NumericDate: a JSON number of seconds, fractions truncated, within the
/// range of an `i64`.
pub(super) fn optional_seconds(
    claims: &impl Lookup,
    claim: &'static str,
) -> Result<Option<i64>, TokenError> {
    /// 2^63, exactly representable as an `f64`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let Some(value) = claims.claim(claim) else {
        return Ok(None);
    };
    let invalid = TokenError::InvalidClaim {
        claim,
        expected: "a number of seconds since 1970",
    };
    let ClaimRef::Num(number) = value else {
        return Err(invalid);
    };
    if let Some(seconds) = number.as_i64() {
        return Ok(Some(seconds));
    }
    match number.as_f64() {
        // The range check makes the cast exact after truncation.
        Some(seconds) if seconds.is_finite() && (-LIMIT..LIMIT).contains(&seconds) => {
            Ok(Some(seconds.trunc() as i64))
        }
        _ => Err(invalid),
    }
}

/// The claims the ID token rules read, parsed from the payload in one pass
/// that skips every other value, with member names checked for repeats.
/// Strings borrow from the payload unless they hold escapes.
pub(super) struct Registered<'a, N: ClaimSet = IdTokenSet> {
    /// (name, value) of the registered claims present.
    members: Vec<(&'static str, Member<'a>)>,
    set: std::marker::PhantomData<N>,
}

/// The claims a kind of token reads in its one pass; every other claim is
/// skipped (and checked as strictly as a full parse would).
pub(super) trait ClaimSet {
    /// The claim names read.
    const NAMES: &'static [&'static str];
}

/// The ID token's claims: [`REGISTERED_CLAIMS`].
pub(super) struct IdTokenSet;

impl ClaimSet for IdTokenSet {
    const NAMES: &'static [&'static str] = &REGISTERED_CLAIMS;
}

/// Parses a payload's claims of the set `N` in one pass; `Err` for a
/// payload that is not a JSON object with unique member names.
pub(super) fn parse_registered<N: ClaimSet>(payload: &str) -> Option<Registered<'_, N>> {
    serde_json::from_str::<Registered<'_, N>>(payload).ok()
}

/// A registered claim's value, owned where the payload had escapes.
/// (Numbers come through `visit_i64`/`visit_u64`/`visit_f64`: should
/// serde_json's `arbitrary_precision` feature ever be on, they would arrive
/// otherwise, read as `Other`, and every token would be refused: a failure
/// that shows, not a hole.)
enum Member<'a> {
    Str(Cow<'a, str>),
    Num(serde_json::Number),
    StrList(Vec<Cow<'a, str>>),
    Other,
}

/// The claims [`check_claims`] reads (`ver` and `tid` for Entra ID).
pub(crate) const REGISTERED_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "tid",
    "ver",
];

impl<N: ClaimSet> Lookup for Registered<'_, N> {
    fn claim(&self, name: &str) -> Option<ClaimRef<'_>> {
        let (_, member) = self.members.iter().find(|(n, _)| *n == name)?;
        Some(match member {
            Member::Str(value) => ClaimRef::Str(value),
            Member::Num(number) => ClaimRef::Num(number),
            Member::StrList(values) => ClaimRef::StrList(values.iter().map(|v| &**v).collect()),
            Member::Other => ClaimRef::Other,
        })
    }
}

impl<'de: 'a, 'a, N: ClaimSet> Deserialize<'de> for Registered<'a, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a, N>(std::marker::PhantomData<(&'a (), N)>);
        impl<'de: 'a, 'a, N: ClaimSet> Visitor<'de> for ObjectVisitor<'a, N> {
            type Value = Registered<'a, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Registered<'a, N>, A::Error> {
                let mut names: Vec<Cow<'de, str>> = Vec::new();
                let mut members = Vec::new();
                while let Some(JsonStr(name)) = access.next_key::<JsonStr<'de>>()? {
                    match N::NAMES.iter().find(|r| **r == name) {
                        Some(registered) => members.push((*registered, access.next_value()?)),
                        None => {
                            access.next_value::<Skip>()?;
                        }
                    }
                    names.push(name);
                }
                // Repeated names are refused (RFC 7519 section 4 allows
                // keeping the last; another parser of the same token may
                // keep the first).
                names.sort_unstable();
                if names.windows(2).any(|pair| pair[0] == pair[1]) {
                    return Err(de::Error::custom("repeated claim name"));
                }
                Ok(Registered {
                    members,
                    set: std::marker::PhantomData,
                })
            }
        }
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Member<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MemberVisitor<'a> {
            type Value = Member<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Member<'a>, E> {
                Ok(Member::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Member<'a>, E> {
                Ok(Member::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Member<'a>, E> {
                Ok(Member::Num(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Member<'a>, E> {
                Ok(Member::Num(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member<'a>, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Member::Other, Member::Num))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Member<'a>, E> {
                Ok(Member::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Member<'a>, E> {
                Ok(Member::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'a>, A::Error> {
                let mut strings = Vec::new();
                let mut all_strings = true;
                while let Some(element) = seq.next_element::<Member<'a>>()? {
                    match element {
                        Member::Str(value) if all_strings => strings.push(value),
                        _ => all_strings = false,
                    }
                }
                Ok(if all_strings {
                    Member::StrList(strings)
                } else {
                    Member::Other
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member<'a>, A::Error> {
                while map.next_entry::<JsonStr<'de>, Skip>()?.is_some() {}
                Ok(Member::Other)
            }
        }
        deserializer.deserialize_any(MemberVisitor(std::marker::PhantomData))
    }
}

/// `at_hash` / `c_hash`: base64url of the left half of the hash of the
/// ASCII value, with the hash of the token's algorithm (SHA-512 for EdDSA,
/// whose only curve here is Ed25519).
fn half_hash_matches(alg: Algorithm, value: &str, claimed: &str) -> bool {
    let hash = alg.hash();
    let digest = digest::digest(hash, value.as_bytes());
    let digest = digest.as_ref();
    let expected = URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2]);
    constant_time_eq(expected.as_bytes(), claimed.as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://login.example/tenant/v2.0";
    const CLIENT: &str = "client-1";
    const NOW: i64 = 1_700_000_000;
    const SKEW: u64 = 60;
    const SKEW_I: i64 = SKEW as i64;
    const NONCE: &str = "n-0S6_WzA2Mj";

    /// From OpenID Connect Core 1.0, appendix A.3 and A.4 (RS256).
    const SPEC_ACCESS_TOKEN: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    const SPEC_AT_HASH: &str = "77QmUPtjPfzWtF2AnpK9RQ";
    const SPEC_CODE: &str = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    const SPEC_C_HASH: &str = "LDktKdoQak3Pk0cnXxCltA";

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "sub": "user-1",
            "aud": CLIENT,
            "exp": NOW + 600,
            "iat": NOW - 5,
            "nonce": NONCE,
            "email": "user@example.com",
        })
    }

    fn expect() -> Expectations<'static> {
        Expectations {
            issuer: IssuerRule::Exact(ISSUER),
            client_id: CLIENT,
            trusted_audiences: &[],
            now: NOW,
            skew_seconds: SKEW,
            nonce: Some(NONCE),
            max_age: None,
            access_token: None,
            code: None,
        }
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    fn check_alg(
        claims: &Value,
        alg: Algorithm,
        expect: &Expectations<'_>,
    ) -> Result<IdTokenClaims, TokenError> {
        check_claims(&serde_json::to_vec(claims).unwrap(), alg, expect)
    }

    fn check(claims: &Value, expect: &Expectations<'_>) -> Result<IdTokenClaims, TokenError> {
        check_alg(claims, Algorithm::RS256, expect)
    }

    fn fails(claims: &Value, expect: &Expectations<'_>) -> TokenError {
        match check(claims, expect) {
            Ok(ok) => panic!("accepted: {ok:?}"),
            Err(e) => e,
        }
    }

    fn assert_invalid(claims: &Value, name: &str) {
        let e = fails(claims, &expect());
        assert!(
            matches!(e, TokenError::InvalidClaim { claim, .. } if claim == name),
            "{e:?}"
        );
    }

    fn assert_missing(claims: &Value, name: &str) {
        let e = fails(claims, &expect());
        assert!(
            matches!(e, TokenError::MissingClaim(claim) if claim == name),
            "{e:?}"
        );
    }

    #[test]
    fn a_valid_token_yields_its_claims() {
        let ok = check(&with(claims(), "auth_time", json!(NOW - 100)), &expect()).unwrap();
        assert_eq!(ok.issuer(), ISSUER);
        assert_eq!(ok.subject(), "user-1");
        assert_eq!(ok.audiences(), [CLIENT.to_owned()]);
        assert_eq!(ok.expires_at(), NOW + 600);
        assert_eq!(ok.issued_at(), NOW - 5);
        assert_eq!(ok.auth_time(), Some(NOW - 100));
        assert_eq!(ok.authorized_party(), None);
        assert_eq!(ok.nonce(), Some(NONCE));
        assert_eq!(ok.claims()["email"], json!("user@example.com"));
        let all = ok.clone().into_claims();
        assert_eq!(all.len(), 8);
        assert_eq!(&all, ok.claims());
    }

    #[test]
    fn iss_must_be_the_issuer_exactly() {
        for other in [
            "https://login.example/tenant/v2.0/",
            "https://LOGIN.example/tenant/v2.0",
            "https://login.example/tenant",
            "",
        ] {
            let e = fails(&with(claims(), "iss", json!(other)), &expect());
            assert!(
                matches!(&e, TokenError::IssuerMismatch { expected, found } if expected == ISSUER && found == other),
                "{e:?}"
            );
        }
        let long = "i".repeat(1000);
        match fails(&with(claims(), "iss", json!(long)), &expect()) {
            TokenError::IssuerMismatch { found, .. } => assert_eq!(found.chars().count(), 257),
            e => panic!("{e:?}"),
        }
        assert_missing(&without(claims(), "iss"), "iss");
        assert_invalid(&with(claims(), "iss", json!([ISSUER])), "iss");
    }

    #[test]
    fn aud_may_be_a_string_or_an_array() {
        let ok = check(&with(claims(), "aud", json!([CLIENT])), &expect()).unwrap();
        assert_eq!(ok.audiences(), [CLIENT.to_owned()]);
        let ok = check(&with(claims(), "aud", json!(CLIENT)), &expect()).unwrap();
        assert_eq!(ok.audiences(), [CLIENT.to_owned()]);
    }

    #[test]
    fn aud_must_contain_the_client_id() {
        for aud in [
            json!("client-2"),
            json!(["client-2"]),
            json!("CLIENT-1"),
            json!(""),
        ] {
            let e = fails(&with(claims(), "aud", aud.clone()), &expect());
            assert!(
                matches!(&e, TokenError::AudienceMismatch { client_id } if client_id == CLIENT),
                "{aud}: {e:?}"
            );
        }
        assert_missing(&without(claims(), "aud"), "aud");
        for aud in [
            json!([]),
            json!([CLIENT, 7]),
            json!(7),
            json!({"aud": CLIENT}),
            json!(null),
        ] {
            assert_invalid(&with(claims(), "aud", aud), "aud");
        }
    }

    #[test]
    fn an_extra_audience_must_be_trusted() {
        let token = with(
            with(claims(), "aud", json!([CLIENT, "api://other"])),
            "azp",
            json!(CLIENT),
        );
        let e = fails(&token, &expect());
        assert!(
            matches!(&e, TokenError::UntrustedAudience { audience } if audience == "api://other"),
            "{e:?}"
        );
        let trusted = vec!["api://other".to_owned()];
        let ok = check(
            &token,
            &Expectations {
                trusted_audiences: &trusted,
                ..expect()
            },
        )
        .unwrap();
        assert_eq!(
            ok.audiences(),
            [CLIENT.to_owned(), "api://other".to_owned()]
        );
        // Trusting an audience does not make it enough on its own.
        let e = fails(
            &with(claims(), "aud", json!(["api://other"])),
            &Expectations {
                trusted_audiences: &trusted,
                ..expect()
            },
        );
        assert!(matches!(e, TokenError::AudienceMismatch { .. }), "{e:?}");
    }

    #[test]
    fn several_audiences_require_azp_equal_to_the_client_id() {
        let trusted = vec!["testdomain.local".to_owned()];
        let e = Expectations {
            trusted_audiences: &trusted,
            ..expect()
        };
        let token = with(claims(), "aud", json!([CLIENT, "testdomain.local"]));
        let err = fails(&token, &e);
        assert!(
            matches!(err, TokenError::MissingAuthorizedParty { audiences: 2 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("`azp`"), "{err}");
        let ok = check(&with(token.clone(), "azp", json!(CLIENT)), &e).unwrap();
        assert_eq!(ok.authorized_party(), Some(CLIENT));
        let err = fails(&with(token, "azp", json!("testdomain.local")), &e);
        assert!(
            matches!(&err, TokenError::AuthorizedPartyMismatch { azp, .. } if azp == "testdomain.local"),
            "{err:?}"
        );
        // One audience, in an array or not: `azp` stays optional.
        assert!(check(&with(claims(), "aud", json!([CLIENT])), &e).is_ok());
        assert!(check(&claims(), &e).is_ok());
    }

    #[test]
    fn azp_when_present_must_be_the_client_id() {
        let ok = check(&with(claims(), "azp", json!(CLIENT)), &expect()).unwrap();
        assert_eq!(ok.authorized_party(), Some(CLIENT));
        let e = fails(&with(claims(), "azp", json!("client-2")), &expect());
        assert!(
            matches!(&e, TokenError::AuthorizedPartyMismatch { azp, client_id } if azp == "client-2" && client_id == CLIENT),
            "{e:?}"
        );
        assert_invalid(&with(claims(), "azp", json!([CLIENT])), "azp");
    }

    #[test]
    fn exp_allows_the_skew_and_no_more() {
        // Valid while now < exp + skew.
        let edge = with(claims(), "exp", json!(NOW - SKEW_I + 1));
        assert!(check(&edge, &expect()).is_ok());
        let beyond = with(claims(), "exp", json!(NOW - SKEW_I));
        let e = fails(&beyond, &expect());
        assert!(
            matches!(e, TokenError::Expired { exp, now, skew_seconds } if exp == NOW - SKEW_I && now == NOW && skew_seconds == SKEW),
            "{e:?}"
        );
        let no_skew = Expectations {
            skew_seconds: 0,
            ..expect()
        };
        assert!(check(&with(claims(), "exp", json!(NOW + 1)), &no_skew).is_ok());
        let e = fails(&with(claims(), "exp", json!(NOW)), &no_skew);
        assert!(matches!(e, TokenError::Expired { .. }), "{e:?}");
    }

    #[test]
    fn iat_in_the_future_allows_the_skew_and_no_more() {
        let edge = with(claims(), "iat", json!(NOW + SKEW_I));
        assert!(check(&edge, &expect()).is_ok());
        let beyond = with(claims(), "iat", json!(NOW + SKEW_I + 1));
        let e = fails(&beyond, &expect());
        assert!(
            matches!(e, TokenError::IssuedInFuture { iat, now, skew_seconds } if iat == NOW + SKEW_I + 1 && now == NOW && skew_seconds == SKEW),
            "{e:?}"
        );
    }

    #[test]
    fn nbf_allows_the_skew_and_no_more() {
        let edge = with(claims(), "nbf", json!(NOW + SKEW_I));
        assert!(check(&edge, &expect()).is_ok());
        let beyond = with(claims(), "nbf", json!(NOW + SKEW_I + 1));
        let e = fails(&beyond, &expect());
        assert!(
            matches!(e, TokenError::NotYetValid { nbf, now, skew_seconds } if nbf == NOW + SKEW_I + 1 && now == NOW && skew_seconds == SKEW),
            "{e:?}"
        );
        assert_invalid(&with(claims(), "nbf", json!("0")), "nbf");
    }

    #[test]
    fn exp_and_iat_are_required_numbers() {
        assert_missing(&without(claims(), "exp"), "exp");
        assert_missing(&without(claims(), "iat"), "iat");
        for bad in [
            json!("1700000600"),
            json!(null),
            json!(true),
            json!([NOW + 600]),
            json!(1e300),
            json!(-1e300),
            json!(u64::MAX),
            json!(9_223_372_036_854_775_808.0_f64),
        ] {
            assert_invalid(&with(claims(), "exp", bad.clone()), "exp");
            assert_invalid(&with(claims(), "iat", bad), "iat");
        }
    }

    #[test]
    fn fractional_times_are_truncated() {
        let token = with(
            with(claims(), "exp", json!(NOW as f64 + 600.9)),
            "iat",
            json!(NOW as f64 - 5.5),
        );
        let ok = check(&token, &expect()).unwrap();
        assert_eq!((ok.expires_at(), ok.issued_at()), (NOW + 600, NOW - 6));
        // Truncation never extends a token's life.
        let edge = with(claims(), "exp", json!((NOW - SKEW_I) as f64 + 0.999));
        assert!(matches!(
            fails(&edge, &expect()),
            TokenError::Expired { .. }
        ));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let far = with(
            with(claims(), "exp", json!(i64::MAX)),
            "iat",
            json!(i64::MIN),
        );
        let e = Expectations {
            now: i64::MAX,
            skew_seconds: u64::MAX,
            max_age: Some(u64::MAX),
            ..expect()
        };
        assert!(check(&with(far.clone(), "auth_time", json!(i64::MIN)), &e).is_ok());
        // The other extremes: i64::MIN + u64::MAX is i64::MAX, so `now`
        // (i64::MAX) is not before it.
        let e = Expectations {
            now: i64::MAX,
            skew_seconds: u64::MAX,
            ..expect()
        };
        let expired = with(far.clone(), "exp", json!(i64::MIN));
        assert!(matches!(fails(&expired, &e), TokenError::Expired { .. }));
        let e = Expectations {
            now: i64::MIN,
            skew_seconds: 0,
            ..expect()
        };
        assert!(matches!(
            fails(&with(far, "iat", json!(i64::MIN + 1)), &e),
            TokenError::IssuedInFuture { .. }
        ));
    }

    #[test]
    fn nonce_is_required_and_equal_when_expected() {
        for bad in [
            without(claims(), "nonce"),
            with(claims(), "nonce", json!("n-0S6_WzA2Mk")),
            with(claims(), "nonce", json!("n-0S6_WzA2M")),
            with(claims(), "nonce", json!("")),
        ] {
            assert!(
                matches!(fails(&bad, &expect()), TokenError::NonceMismatch),
                "{bad}"
            );
        }
        assert_invalid(&with(claims(), "nonce", json!(12)), "nonce");
        // Not checked when no nonce was sent.
        let unchecked = Expectations {
            nonce: None,
            ..expect()
        };
        assert!(check(&without(claims(), "nonce"), &unchecked).is_ok());
        assert!(check(&with(claims(), "nonce", json!("other")), &unchecked).is_ok());
    }

    #[test]
    fn sub_is_a_required_non_empty_string() {
        assert_missing(&without(claims(), "sub"), "sub");
        assert_invalid(&with(claims(), "sub", json!("")), "sub");
        assert_invalid(&with(claims(), "sub", json!(42)), "sub");
    }

    #[test]
    fn at_hash_matches_the_access_token() {
        let e = Expectations {
            access_token: Some(SPEC_ACCESS_TOKEN),
            ..expect()
        };
        let token = with(claims(), "at_hash", json!(SPEC_AT_HASH));
        assert!(check(&token, &e).is_ok());
        // Absent: not required (the code flow does not require it).
        assert!(check(&claims(), &e).is_ok());
        // No access token to compare with: not checked.
        assert!(check(&with(claims(), "at_hash", json!("x")), &expect()).is_ok());
        for wrong in [
            "77QmUPtjPfzWtF2AnpK9RR",
            "77QmUPtjPfzWtF2AnpK9R",
            "",
            "77QmUPtjPfzWtF2AnpK9RQ==",
        ] {
            let token = with(claims(), "at_hash", json!(wrong));
            assert!(
                matches!(fails(&token, &e), TokenError::AccessTokenHashMismatch),
                "{wrong}"
            );
        }
        let other = Expectations {
            access_token: Some("another-access-token"),
            ..expect()
        };
        assert!(matches!(
            fails(&token, &other),
            TokenError::AccessTokenHashMismatch
        ));
        let e2 = Expectations {
            access_token: Some("t"),
            ..expect()
        };
        let e3 = fails(&with(claims(), "at_hash", json!(1)), &e2);
        assert!(
            matches!(
                e3,
                TokenError::InvalidClaim {
                    claim: "at_hash",
                    ..
                }
            ),
            "{e3:?}"
        );
    }

    #[test]
    fn c_hash_matches_the_code() {
        let e = Expectations {
            code: Some(SPEC_CODE),
            ..expect()
        };
        assert!(check(&with(claims(), "c_hash", json!(SPEC_C_HASH)), &e).is_ok());
        assert!(check(&claims(), &e).is_ok());
        let token = with(claims(), "c_hash", json!(SPEC_AT_HASH));
        assert!(matches!(fails(&token, &e), TokenError::CodeHashMismatch));
    }

    #[test]
    fn the_hash_follows_the_algorithm() {
        // Values computed independently (Python hashlib) for the spec's
        // access token: left half of SHA-384 / SHA-512, base64url.
        const AT_384: &str = "jtAeDp945y1dDqU3nkIVGNZP1HjH_MFs";
        const AT_512: &str = "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM";
        let e = Expectations {
            access_token: Some(SPEC_ACCESS_TOKEN),
            ..expect()
        };
        let cases = [
            (Algorithm::RS256, SPEC_AT_HASH),
            (Algorithm::PS256, SPEC_AT_HASH),
            (Algorithm::ES256, SPEC_AT_HASH),
            (Algorithm::HS256, SPEC_AT_HASH),
            (Algorithm::RS384, AT_384),
            (Algorithm::PS384, AT_384),
            (Algorithm::ES384, AT_384),
            (Algorithm::HS384, AT_384),
            (Algorithm::RS512, AT_512),
            (Algorithm::PS512, AT_512),
            (Algorithm::ES512, AT_512),
            (Algorithm::HS512, AT_512),
            (Algorithm::EdDSA, AT_512),
        ];
        for (alg, at_hash) in cases {
            for (candidate, right) in [
                (SPEC_AT_HASH, at_hash == SPEC_AT_HASH),
                (AT_384, at_hash == AT_384),
                (AT_512, at_hash == AT_512),
            ] {
                let result = check_alg(&with(claims(), "at_hash", json!(candidate)), alg, &e);
                match result {
                    Ok(_) => assert!(right, "{alg} accepted {candidate}"),
                    Err(TokenError::AccessTokenHashMismatch) => {
                        assert!(!right, "{alg} refused {candidate}")
                    }
                    Err(other) => panic!("{alg}: {other:?}"),
                }
            }
        }
        // c_hash of the spec's code under SHA-512.
        let e = Expectations {
            code: Some(SPEC_CODE),
            ..expect()
        };
        let token = with(
            claims(),
            "c_hash",
            json!("E9z1C-c0Az4eTEzE0Nm3OQ3BS2BhMgxuP7x5JAQj1_4"),
        );
        assert!(check_alg(&token, Algorithm::EdDSA, &e).is_ok());
    }

    #[test]
    fn max_age_requires_a_recent_auth_time() {
        let e = Expectations {
            max_age: Some(3600),
            ..expect()
        };
        let e_missing = fails(&claims(), &e);
        assert!(
            matches!(e_missing, TokenError::MissingClaim("auth_time")),
            "{e_missing:?}"
        );
        let edge = with(claims(), "auth_time", json!(NOW - 3600 - SKEW_I));
        assert_eq!(
            check(&edge, &e).unwrap().auth_time(),
            Some(NOW - 3600 - SKEW_I)
        );
        let too_old = with(claims(), "auth_time", json!(NOW - 3600 - SKEW_I - 1));
        let err = fails(&too_old, &e);
        assert!(
            matches!(err, TokenError::AuthenticationTooOld { auth_time, max_age: 3600, skew_seconds: SKEW } if auth_time == NOW - 3600 - SKEW_I - 1),
            "{err:?}"
        );
        // Without max_age, auth_time is optional, and old is fine.
        assert!(check(&too_old, &expect()).is_ok());
        assert!(check(&claims(), &expect()).is_ok());
        assert_invalid(
            &with(claims(), "auth_time", json!("yesterday")),
            "auth_time",
        );
    }

    #[test]
    fn the_payload_must_be_one_json_object_with_unique_names() {
        let e = expect();
        for payload in [
            &b"not json"[..],
            b"[]",
            b"\"x\"",
            b"",
            b"{\"sub\":\"a\"} {}",
            b"{\"sub\":\"\xff\"}",
        ] {
            let err = check_claims(payload, Algorithm::RS256, &e).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed(PAYLOAD_INVALID)),
                "{err:?}"
            );
        }
        // A repeated claim: some parsers keep the first, some the last.
        let mut text = serde_json::to_string(&claims()).unwrap();
        text.insert_str(1, "\"sub\":\"admin\",");
        let err = check_claims(text.as_bytes(), Algorithm::RS256, &e).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed(PAYLOAD_INVALID)),
            "{err:?}"
        );
        // The same, with the name spelled with an escape, and for a claim
        // the rules never read.
        for repeat in [
            r#""s\u0075b":"admin","#,
            r#""groups":[],"groups":["admins"],"#,
        ] {
            let mut text = serde_json::to_string(&claims()).unwrap();
            text.insert_str(1, repeat);
            let err = check_claims(text.as_bytes(), Algorithm::RS256, &e).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed(PAYLOAD_INVALID)),
                "{repeat}: {err:?}"
            );
        }
    }

    #[test]
    fn values_the_full_parse_refuses_are_refused_while_validating() {
        // Claims the rules do not read are checked as strictly as the full
        // claim set is parsed later, so the two never disagree.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for (name, value) in [
            ("name", r#""\ud800""#.to_owned()),
            ("n", "1e400".to_owned()),
            ("ver", r#"{"a":1e400}"#.to_owned()),
            ("groups", deep),
            ("x", r#"{"\ud800":1}"#.to_owned()),
        ] {
            let mut text = serde_json::to_string(&claims()).unwrap();
            text.insert_str(1, &format!("\"{name}\":{value},"));
            let err = check_claims(text.as_bytes(), Algorithm::RS256, &expect()).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed(PAYLOAD_INVALID)),
                "{name}: {err:?}"
            );
            assert!(serde_json::from_str::<Map<String, Value>>(&text).is_err());
        }
    }

    #[test]
    fn escaped_values_and_nested_claims_are_read_like_any_json() {
        // An escaped issuer is the same issuer; nested and unusual values
        // of other claims are kept for `claims()`.
        let iss = ISSUER.replace('/', "\\/");
        let text = format!(
            r#"{{"iss":"{iss}","sub":"user-1","aud":["{CLIENT}"],"exp":{},"iat":{},"nonce":"{NONCE}",
                "deep":{{"a":[1,{{"b":null}},[true]]}},"n":1.5,"e":"\u00e9"}}"#,
            NOW + 600,
            NOW - 5
        );
        let ok = check_claims(text.as_bytes(), Algorithm::RS256, &expect()).unwrap();
        assert_eq!(ok.issuer(), ISSUER);
        assert_eq!(ok.claims()["deep"]["a"][1]["b"], Value::Null);
        assert_eq!(ok.claims()["e"], json!("\u{e9}"));
        assert_eq!(ok.claims()["n"], json!(1.5));
        // A registered claim of the wrong shape is still refused by name.
        for (name, value) in [
            ("aud", json!([[CLIENT]])),
            ("aud", json!([CLIENT, 1])),
            ("iss", json!({"x": 1})),
            ("exp", json!("soon")),
            ("sub", json!(null)),
        ] {
            assert_invalid(&with(claims(), name, value), name);
        }
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        // Wrong issuer and expired: the issuer is reported.
        let token = with(
            with(claims(), "iss", json!("https://evil")),
            "exp",
            json!(0),
        );
        assert!(matches!(
            fails(&token, &expect()),
            TokenError::IssuerMismatch { .. }
        ));
        // Wrong audience and bad nonce: the audience is reported.
        let token = with(with(claims(), "aud", json!("x")), "nonce", json!("y"));
        assert!(matches!(
            fails(&token, &expect()),
            TokenError::AudienceMismatch { .. }
        ));
        // Expired and bad nonce: expiry is reported.
        let token = with(with(claims(), "exp", json!(0)), "nonce", json!("y"));
        assert!(matches!(
            fails(&token, &expect()),
            TokenError::Expired { .. }
        ));
    }

    #[test]
    fn debug_redacts_the_nonce() {
        let ok = check(&claims(), &expect()).unwrap();
        let shown = format!("{ok:?}");
        assert!(!shown.contains(NONCE), "{shown}");
        assert!(shown.contains("\"nonce\": [redacted]"), "{shown}");
        assert!(shown.contains("user-1"), "{shown}");
    }

    const TENANT_A: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const TENANT_B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn tenant_claims(tid: &str) -> Value {
        with(
            with(
                claims(),
                "iss",
                json!(format!("https://login.example/{tid}/v2.0")),
            ),
            "tid",
            json!(tid),
        )
    }

    fn check_tenant(claims: &Value, policy: &TenantPolicy) -> Result<IdTokenClaims, TokenError> {
        let template = TenantTemplate::new("https://login.example/{tenantid}/v2.0").unwrap();
        check(
            claims,
            &Expectations {
                issuer: IssuerRule::Tenant {
                    template: &template,
                    policy,
                },
                ..expect()
            },
        )
    }

    #[test]
    fn tenant_issuer_is_the_template_with_the_tokens_tid() {
        let only_a = TenantPolicy::Only(vec![TENANT_A.into()]);
        let ok = check_tenant(&tenant_claims(TENANT_A), &only_a).unwrap();
        assert_eq!(
            ok.issuer(),
            format!("https://login.example/{TENANT_A}/v2.0")
        );
        // Not on the allow-list.
        let e = check_tenant(&tenant_claims(TENANT_B), &only_a).unwrap_err();
        assert!(
            matches!(&e, TokenError::TenantNotAllowed { tenant } if tenant == TENANT_B),
            "{e:?}"
        );
        // Any tenant: allowed, but the issuer must still fit the tid.
        assert!(check_tenant(&tenant_claims(TENANT_B), &TenantPolicy::AnyTenant).is_ok());
        let crossed = with(tenant_claims(TENANT_B), "tid", json!(TENANT_A));
        for policy in [&only_a, &TenantPolicy::AnyTenant] {
            let e = check_tenant(&crossed, policy).unwrap_err();
            assert!(
                matches!(&e, TokenError::IssuerMismatch { expected, found }
                    if *expected == format!("https://login.example/{TENANT_A}/v2.0")
                    && *found == format!("https://login.example/{TENANT_B}/v2.0")),
                "{e:?}"
            );
        }
        // The literal template, another host, a trailing slash: refused.
        for iss in [
            "https://login.example/{tenantid}/v2.0".to_owned(),
            format!("https://evil.example/{TENANT_A}/v2.0"),
            format!("https://login.example/{TENANT_A}/v2.0/"),
        ] {
            let token = with(tenant_claims(TENANT_A), "iss", json!(iss));
            let e = check_tenant(&token, &TenantPolicy::AnyTenant).unwrap_err();
            assert!(
                matches!(e, TokenError::IssuerMismatch { .. }),
                "{iss}: {e:?}"
            );
        }
        // `tid` is required, a string, and a GUID.
        let e = check_tenant(&without(tenant_claims(TENANT_A), "tid"), &only_a).unwrap_err();
        assert!(matches!(e, TokenError::MissingClaim("tid")), "{e:?}");
        let e = check_tenant(&with(tenant_claims(TENANT_A), "tid", json!(7)), &only_a).unwrap_err();
        assert!(
            matches!(e, TokenError::InvalidClaim { claim: "tid", .. }),
            "{e:?}"
        );
        let e = check_tenant(&tenant_claims("not-a-guid"), &TenantPolicy::AnyTenant).unwrap_err();
        assert!(
            matches!(e, TokenError::InvalidClaim { claim: "tid", .. }),
            "{e:?}"
        );
    }

    #[test]
    fn entra_v1_tokens_are_refused_with_their_own_error() {
        let v1 = with(
            with(
                tenant_claims(TENANT_A),
                "iss",
                json!(format!("https://sts.windows.net/{TENANT_A}/")),
            ),
            "ver",
            json!("1.0"),
        );
        let e = check_tenant(&v1, &TenantPolicy::AnyTenant).unwrap_err();
        assert!(matches!(e, TokenError::EntraV1Token { .. }), "{e:?}");
        assert!(e.to_string().contains("v2.0"), "{e}");
        let e = fails(&v1, &expect());
        assert!(matches!(e, TokenError::EntraV1Token { .. }), "{e:?}");
        // Without `tid` it is still recognised.
        let e = check_tenant(&without(v1, "tid"), &TenantPolicy::AnyTenant).unwrap_err();
        assert!(matches!(e, TokenError::EntraV1Token { .. }), "{e:?}");
    }

    /// A China-cloud version 1.0 token without `ver`, which fits the
    /// template of China's v1.0 metadata (or is that metadata's exact
    /// issuer): refused by its issuer alone.
    #[test]
    fn china_entra_v1_tokens_are_refused_too() {
        let template = "https://sts.chinacloudapi.cn/{tenantid}/";
        let issuer = format!("https://sts.chinacloudapi.cn/{TENANT_A}/");
        let v1 = with(tenant_claims(TENANT_A), "iss", json!(issuer));
        let v1 = v1.as_object().unwrap();
        let template = TenantTemplate::new(template).unwrap();
        let rule = IssuerRule::Tenant {
            template: &template,
            policy: &TenantPolicy::AnyTenant,
        };
        let e = check_issuer(v1, rule).unwrap_err();
        assert!(matches!(e, TokenError::EntraV1Token { .. }), "{e:?}");
        let e = check_issuer(v1, IssuerRule::Entra(&issuer)).unwrap_err();
        assert!(matches!(e, TokenError::EntraV1Token { .. }), "{e:?}");
    }
}
