//! The bearer access token rules: JWT access tokens (RFC 9068) and Entra ID
//! v2.0 access tokens, checked on the verified payload in one pass, like ID
//! tokens (`claims.rs`), with the claims an access token carries.

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::claims::{
    ClaimRef, ClaimSet, IssuerRule, Lookup, check_issuer, optional_seconds, optional_str,
    parse_all, parse_registered, required_seconds, required_str,
};
use crate::error::{BearerError, clip};

/// Which rules a bearer access token is checked with.
///
/// [`Api::new`](crate::Api::new) picks [`EntraV2`](Self::EntraV2) for an
/// Entra ID client made with `Config::entra`, or one recognised from
/// metadata served by a Microsoft cloud's own login host over https, and
/// [`Jwt`](Self::Jwt) otherwise (a provider elsewhere whose document merely
/// looks like Entra's included);
/// [`Api::profile`](crate::Api::profile) names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessTokenProfile {
    /// RFC 9068: header `typ` `at+jwt` (or `application/at+jwt`), and the
    /// claims `iss`, `aud`, `exp`, `iat`, `sub`, `client_id` and `jti`;
    /// `scope` (space-separated) when scopes were granted.
    Jwt,
    /// Entra ID v2.0 access tokens for the app's own API: `ver` `2.0`, the
    /// issuer (or the `{tenantid}` template and the tenant policy), `aud`
    /// the application id or its Application ID URI, `azp` the calling
    /// client, `scp` (delegated scopes) or `roles` (app roles), no `nonce`.
    /// Entra's header says `typ: JWT`, so the token's claims, not its
    /// header, tell it from an ID token.
    EntraV2,
}

/// The `typ` values RFC 9068 section 2.1 allows (media types compare
/// without case).
fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// What a bearer access token must say, and the time to check it at.
#[derive(Clone, Copy)]
pub(crate) struct AccessExpectations<'a> {
    pub(crate) profile: AccessTokenProfile,
    pub(crate) issuer: IssuerRule<'a>,
    /// The API's identifiers: `aud` must hold one of them.
    pub(crate) audiences: &'a [String],
    pub(crate) now: i64,
    pub(crate) skew_seconds: u64,
}

/// The claims an access token's one pass reads.
struct AccessTokenSet;

impl ClaimSet for AccessTokenSet {
    const NAMES: &'static [&'static str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "client_id",
        "azp",
        "jti",
        "scope",
        "scp",
        "roles",
        "nonce",
        "tid",
        "ver",
    ];
}

/// The claims of a validated bearer access token.
///
/// The registered claims have accessors; every claim is in
/// [`claims`](Self::claims). `Debug` shows the claims (an access token's
/// claims are no secret; the token itself never appears).
#[derive(Clone)]
pub struct AccessTokenClaims {
    issuer: String,
    subject: String,
    audiences: Vec<String>,
    client_id: String,
    scopes: Vec<String>,
    app_roles: Vec<String>,
    expires_at: i64,
    issued_at: i64,
    payload: String,
    claims: OnceLock<Map<String, Value>>,
}

impl AccessTokenClaims {
    /// `iss`: the provider (for Entra multi-tenant, the caller's tenant issuer).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the user, or for a daemon's token (`client_credentials`) the client.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `aud`: the audiences (one of them is this API's).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The client the token was issued to: `client_id` (RFC 9068), `azp`
    /// (Entra ID).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The scopes granted: `scope` (RFC 9068) or `scp` (Entra ID), split
    /// on spaces.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `roles`, when a list of strings (or one string): Entra ID app roles
    /// (delegated or application permissions), RFC 9068 section 2.2.3.1.
    pub fn app_roles(&self) -> &[String] {
        &self.app_roles
    }

    /// `exp` (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `iat` (Unix seconds).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// All claims as sent.
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.get_or_init(|| parse_all(&self.payload))
    }
}

impl fmt::Debug for AccessTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenClaims")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audiences", &self.audiences)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("app_roles", &self.app_roles)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// The header's `typ` (RFC 9068 section 2.1) for `profile`: checked from
/// the header alone, so that [`Api::verify`](crate::Api::verify) refuses an
/// ID token before any key lookup or signature check.
pub(crate) fn check_access_type(
    profile: AccessTokenProfile,
    typ: Option<&str>,
) -> Result<(), BearerError> {
    if profile == AccessTokenProfile::Jwt && !typ.is_some_and(is_access_token_type) {
        return Err(BearerError::NotAnAccessToken {
            typ: typ.map(|t| clip(t, 64)),
        });
    }
    Ok(())
}

/// Checks the header's `typ` and the verified payload against the access
/// token rules, in this order: `typ` (RFC 9068), `iss`, `aud`, `exp`,
/// `iat`, `nbf`, then the profile's own (`client_id`, `jti`; or `ver`,
/// no `nonce`, `azp`, `scp` or `roles`), `sub`.
pub(crate) fn check_access_claims(
    typ: Option<&str>,
    payload: &[u8],
    expect: &AccessExpectations<'_>,
) -> Result<AccessTokenClaims, BearerError> {
    check_access_type(expect.profile, typ)?;
    let malformed =
        || BearerError::Malformed("the payload is not a UTF-8 JSON object with unique claim names");
    let payload = std::str::from_utf8(payload).map_err(|_| malformed())?;
    let claims = parse_registered::<AccessTokenSet>(payload).ok_or_else(malformed)?;
    let claims = &claims;
    let token = BearerError::from_token;
    let now = i128::from(expect.now);
    let skew = i128::from(expect.skew_seconds);

    let issuer = check_issuer(claims, expect.issuer).map_err(token)?;
    let audiences = audiences(claims)?;
    if !audiences.iter().any(|aud| expect.audiences.contains(aud)) {
        return Err(BearerError::AudienceMismatch {
            expected: expect.audiences.join(", "),
        });
    }
    let expires_at = required_seconds(claims, "exp").map_err(token)?;
    if now >= i128::from(expires_at) + skew {
        return Err(BearerError::Expired {
            exp: expires_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }
    let issued_at = required_seconds(claims, "iat").map_err(token)?;
    if i128::from(issued_at) > now + skew {
        return Err(BearerError::IssuedInFuture {
            iat: issued_at,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }
    if let Some(nbf) = optional_seconds(claims, "nbf").map_err(token)?
        && i128::from(nbf) > now + skew
    {
        return Err(BearerError::NotYetValid {
            nbf,
            now: expect.now,
            skew_seconds: expect.skew_seconds,
        });
    }

    let (client_id, scope) = match expect.profile {
        AccessTokenProfile::Jwt => {
            let client_id = non_empty(claims, "client_id")?;
            non_empty(claims, "jti")?;
            (client_id, optional_str(claims, "scope").map_err(token)?)
        }
        AccessTokenProfile::EntraV2 => {
            let not_access = |reason| BearerError::NotAnEntraAccessToken { reason };
            match optional_str(claims, "ver").map_err(token)? {
                Some("2.0") => {}
                Some("1.0") => {
                    return Err(BearerError::EntraV1Token {
                        issuer: clip(issuer, 256),
                    });
                }
                _ => {
                    return Err(BearerError::InvalidClaim {
                        claim: "ver",
                        expected: "`2.0`",
                    });
                }
            }
            if claims.claim("nonce").is_some() {
                return Err(not_access("it has a `nonce`, as ID tokens do"));
            }
            let azp = match optional_str(claims, "azp").map_err(token)? {
                Some(azp) if !azp.is_empty() => azp,
                _ => return Err(not_access("it has no `azp` (the calling client)")),
            };
            let scp = optional_str(claims, "scp").map_err(token)?;
            if scp.is_none_or(str::is_empty) && claims.claim("roles").is_none() {
                return Err(not_access(
                    "it has neither `scp` (delegated scopes) nor `roles` (app roles)",
                ));
            }
            (azp, scp)
        }
    };
    let subject = non_empty(claims, "sub")?;
    let app_roles = match claims.claim("roles") {
        None => Vec::new(),
        Some(ClaimRef::Str(role)) => vec![role.to_owned()],
        Some(ClaimRef::StrList(roles)) => roles.into_iter().map(str::to_owned).collect(),
        Some(_) => {
            return Err(BearerError::InvalidClaim {
                claim: "roles",
                expected: "a string or an array of strings",
            });
        }
    };
    Ok(AccessTokenClaims {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        audiences,
        client_id: client_id.to_owned(),
        scopes: scope
            .map(|scope| {
                scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        app_roles,
        expires_at,
        issued_at,
        payload: payload.to_owned(),
        claims: OnceLock::new(),
    })
}

/// A required string claim that is not empty.
fn non_empty<'c>(claims: &'c impl Lookup, claim: &'static str) -> Result<&'c str, BearerError> {
    match required_str(claims, claim).map_err(BearerError::from_token)? {
        "" => Err(BearerError::InvalidClaim {
            claim,
            expected: "a non-empty string",
        }),
        value => Ok(value),
    }
}

/// `aud`: a string, or a non-empty array of strings.
fn audiences(claims: &impl Lookup) -> Result<Vec<String>, BearerError> {
    super::claims::audiences(claims).map_err(BearerError::from_token)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::issuer::{TenantPolicy, TenantTemplate};

    const ISSUER: &str = "https://idp.example";
    const API: &str = "https://api.example";
    const NOW: i64 = 1_700_000_000;
    const TYP: Option<&str> = Some("at+jwt");

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "sub": "user-1",
            "aud": API,
            "exp": NOW + 300,
            "iat": NOW - 5,
            "client_id": "client-1",
            "jti": "j-1",
            "scope": "read write",
            "groups": ["g1"],
        })
    }

    fn audiences() -> Vec<String> {
        vec![API.to_owned(), "api://other-id".to_owned()]
    }

    fn check_with(
        profile: AccessTokenProfile,
        issuer: IssuerRule<'_>,
        typ: Option<&str>,
        claims: &Value,
    ) -> Result<AccessTokenClaims, BearerError> {
        let audiences = audiences();
        check_access_claims(
            typ,
            claims.to_string().as_bytes(),
            &AccessExpectations {
                profile,
                issuer,
                audiences: &audiences,
                now: NOW,
                skew_seconds: 60,
            },
        )
    }

    fn check(typ: Option<&str>, claims: &Value) -> Result<AccessTokenClaims, BearerError> {
        check_with(
            AccessTokenProfile::Jwt,
            IssuerRule::Exact(ISSUER),
            typ,
            claims,
        )
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    #[test]
    fn a_valid_rfc_9068_token_yields_its_claims() {
        let valid = check(TYP, &claims()).unwrap();
        assert_eq!(valid.subject(), "user-1");
        assert_eq!(valid.client_id(), "client-1");
        assert_eq!(valid.scopes(), ["read", "write"]);
        assert!(valid.has_scope("write") && !valid.has_scope("admin"));
        assert_eq!(valid.claims()["groups"], json!(["g1"]));
        // The long media type form, in any case.
        check(Some("application/AT+JWT"), &claims()).unwrap();
    }

    #[test]
    fn typ_must_be_at_jwt_so_an_id_token_is_refused() {
        for typ in [
            None,
            Some("JWT"),
            Some("jwt"),
            Some("at+jwt2"),
            Some("id_token+jwt"),
        ] {
            assert!(
                matches!(
                    check(typ, &claims()),
                    Err(BearerError::NotAnAccessToken { .. })
                ),
                "{typ:?}"
            );
        }
    }

    #[test]
    fn aud_must_hold_one_of_the_apis_identifiers() {
        let err = check(TYP, &with(claims(), "aud", json!("https://other.example"))).unwrap_err();
        assert!(matches!(err, BearerError::AudienceMismatch { .. }), "{err}");
        // The login client's id (an ID token's audience) is not the API's.
        let err = check(TYP, &with(claims(), "aud", json!("client-1"))).unwrap_err();
        assert!(matches!(err, BearerError::AudienceMismatch { .. }), "{err}");
        check(TYP, &with(claims(), "aud", json!(["https://x", API]))).unwrap();
        check(TYP, &with(claims(), "aud", json!("api://other-id"))).unwrap();
        assert!(matches!(
            check(TYP, &without(claims(), "aud")),
            Err(BearerError::MissingClaim("aud"))
        ));
    }

    #[test]
    fn iss_must_be_the_issuer() {
        let err = check(TYP, &with(claims(), "iss", json!("https://evil.example"))).unwrap_err();
        assert!(matches!(err, BearerError::IssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn times_are_checked_with_the_skew() {
        let expired = with(claims(), "exp", json!(NOW - 61));
        assert!(matches!(
            check(TYP, &expired),
            Err(BearerError::Expired { .. })
        ));
        check(TYP, &with(claims(), "exp", json!(NOW - 59))).unwrap();
        let future = with(claims(), "iat", json!(NOW + 61));
        assert!(matches!(
            check(TYP, &future),
            Err(BearerError::IssuedInFuture { .. })
        ));
        let nbf = with(claims(), "nbf", json!(NOW + 61));
        assert!(matches!(
            check(TYP, &nbf),
            Err(BearerError::NotYetValid { .. })
        ));
        check(TYP, &with(claims(), "nbf", json!(NOW + 59))).unwrap();
        for name in ["exp", "iat"] {
            assert!(matches!(
                check(TYP, &without(claims(), name)),
                Err(BearerError::MissingClaim(n)) if n == name
            ));
        }
    }

    #[test]
    fn rfc_9068_requires_sub_client_id_and_jti() {
        for name in ["sub", "client_id", "jti"] {
            assert!(
                matches!(check(TYP, &without(claims(), name)), Err(BearerError::MissingClaim(n)) if n == name),
                "{name}"
            );
            assert!(
                matches!(
                    check(TYP, &with(claims(), name, json!(""))),
                    Err(BearerError::InvalidClaim { .. })
                ),
                "{name}"
            );
        }
        assert!(matches!(
            check(TYP, &with(claims(), "scope", json!(["read"]))),
            Err(BearerError::InvalidClaim { claim: "scope", .. })
        ));
    }

    #[test]
    fn repeated_claims_are_refused() {
        let payload = format!(
            r#"{{"iss":"{ISSUER}","sub":"a","sub":"b","aud":"{API}","exp":{},"iat":{},"client_id":"c","jti":"j"}}"#,
            NOW + 300,
            NOW
        );
        let audiences = audiences();
        let err = check_access_claims(
            TYP,
            payload.as_bytes(),
            &AccessExpectations {
                profile: AccessTokenProfile::Jwt,
                issuer: IssuerRule::Exact(ISSUER),
                audiences: &audiences,
                now: NOW,
                skew_seconds: 60,
            },
        )
        .unwrap_err();
        assert!(matches!(err, BearerError::Malformed(_)), "{err}");
    }

    const TENANT: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const OTHER_TENANT: &str = "3c1a0f6e-0000-4000-8000-000000000002";

    fn entra_claims(tid: &str) -> Value {
        json!({
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "sub": "pairwise-sub",
            "oid": "00000000-0000-0000-0000-0000000000aa",
            "aud": "api://other-id",
            "exp": NOW + 300,
            "iat": NOW - 5,
            "nbf": NOW - 5,
            "azp": "caller-app",
            "scp": "Files.Read User.Read",
            "tid": tid,
            "ver": "2.0",
            "groups": ["g1"],
        })
    }

    fn entra(claims: &Value) -> Result<AccessTokenClaims, BearerError> {
        let template =
            TenantTemplate::new("https://login.microsoftonline.com/{tenantid}/v2.0").unwrap();
        let policy = TenantPolicy::Only(vec![TENANT.to_owned()]);
        check_with(
            AccessTokenProfile::EntraV2,
            IssuerRule::Tenant {
                template: &template,
                policy: &policy,
            },
            Some("JWT"),
            claims,
        )
    }

    #[test]
    fn an_entra_access_token_yields_its_claims() {
        let valid = entra(&entra_claims(TENANT)).unwrap();
        assert_eq!(valid.client_id(), "caller-app");
        assert_eq!(valid.scopes(), ["Files.Read", "User.Read"]);
        // An app-only token: roles, no scp.
        let app = with(
            without(entra_claims(TENANT), "scp"),
            "roles",
            json!(["Reader"]),
        );
        let app = entra(&app).unwrap();
        assert!(app.scopes().is_empty());
        assert_eq!(app.app_roles(), ["Reader"]);
    }

    #[test]
    fn an_entra_id_token_is_refused_as_an_access_token() {
        // An ID token of the same app: aud the application id, roles, a
        // nonce, no azp, no scp.
        let id_token = json!({
            "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "sub": "pairwise-sub",
            "aud": "api://other-id",
            "exp": NOW + 300,
            "iat": NOW - 5,
            "nonce": "n-1",
            "roles": ["Reader"],
            "tid": TENANT,
            "ver": "2.0",
        });
        let err = entra(&id_token).unwrap_err();
        assert!(
            matches!(err, BearerError::NotAnEntraAccessToken { .. }),
            "{err}"
        );
        let err = entra(&without(id_token.clone(), "nonce")).unwrap_err();
        assert!(
            matches!(err, BearerError::NotAnEntraAccessToken { .. }),
            "{err}"
        );
        let err = entra(&without(entra_claims(TENANT), "scp")).unwrap_err();
        assert!(
            matches!(err, BearerError::NotAnEntraAccessToken { .. }),
            "{err}"
        );
        let err = entra(&with(entra_claims(TENANT), "nonce", json!("n"))).unwrap_err();
        assert!(
            matches!(err, BearerError::NotAnEntraAccessToken { .. }),
            "{err}"
        );
    }

    #[test]
    fn entra_tenant_policy_and_version_apply() {
        let err = entra(&entra_claims(OTHER_TENANT)).unwrap_err();
        assert!(matches!(err, BearerError::TenantNotAllowed { .. }), "{err}");
        let v1 = with(
            with(entra_claims(TENANT), "ver", json!("1.0")),
            "iss",
            json!(format!("https://sts.windows.net/{TENANT}/")),
        );
        let err = entra(&v1).unwrap_err();
        assert!(matches!(err, BearerError::EntraV1Token { .. }), "{err}");
        let err = entra(&without(entra_claims(TENANT), "ver")).unwrap_err();
        assert!(
            matches!(err, BearerError::InvalidClaim { claim: "ver", .. }),
            "{err}"
        );
    }
}
