//! Extractors for an API protected by the provider's access tokens
//! (`Authorization: Bearer`), and their RFC 6750 section 3 refusals.

use std::marker::PhantomData;

use ::axum::Extension;
use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response};

use super::extract::RoleName;
use crate::client::{Api, BearerPrincipal};
use crate::error::Error;
use crate::identity::Identity;
use crate::token::AccessTokenClaims;

impl Api {
    /// The layer that lets the bearer extractors ([`Bearer`],
    /// [`BearerScope`], [`BearerRole`]) of the routes it wraps check tokens
    /// with this API: add it after the API's last route. It needs no
    /// session: an API called with access tokens has no cookies.
    ///
    /// ```no_run
    /// use axum::{Router, routing::get};
    /// use oidc_login::Api;
    /// use oidc_login::axum::Bearer;
    ///
    /// # fn app(api: Api) -> Router {
    /// Router::new()
    ///     .route("/api/me", get(|caller: Bearer| async move { caller.claims.subject().to_owned() }))
    ///     .layer(api.layer())
    /// # }
    /// ```
    pub fn layer(&self) -> Extension<Api> {
        Extension(self.clone())
    }
}

/// The caller of an API, by a valid bearer access token of the provider
/// ([`Api::authenticate`]): its claims, and the caller as an
/// [`Identity`] with the app's roles (the same role mapping table as
/// sign-ins, applied to the token's groups and `roles`).
///
/// Without a token: 401 and `WWW-Authenticate: Bearer realm="..."`; with a
/// token that fails any check: 401 and `error="invalid_token"` (RFC 6750
/// section 3.1), the reason in the log on the `oidc_login::axum` target,
/// never in the answer. `Option<Bearer>` is `None` without a token and
/// still refuses a bad one.
///
/// ```
/// use axum::{Router, routing::get};
/// use oidc_login::axum::Bearer;
///
/// async fn me(caller: Bearer) -> String {
///     format!("{} (client {})", caller.claims.subject(), caller.claims.client_id())
/// }
/// let app: Router = Router::new().route("/api/me", get(me));
/// ```
///
/// It needs [`Api::layer`] around the route; without it, it answers 500
/// and logs why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Bearer {
    /// The access token's claims.
    pub claims: AccessTokenClaims,
    /// The caller, with the app's roles.
    pub identity: Identity,
}

/// Names a scope for [`BearerScope`].
///
/// ```
/// use oidc_login::axum::ScopeName;
/// struct ReportsRead;
/// impl ScopeName for ReportsRead {
///     const SCOPE: &'static str = "reports.read";
/// }
/// ```
pub trait ScopeName: Send + Sync + 'static {
    /// The scope, as the token's `scope` (RFC 9068) or `scp` (Entra ID)
    /// lists it.
    const SCOPE: &'static str;
}

/// The caller of an API, whose token grants the scope `S::SCOPE`: as
/// [`Bearer`], and 403 with `error="insufficient_scope"` and
/// `scope="..."` (RFC 6750 section 3.1) when the scope is missing.
///
/// ```
/// use axum::{Router, routing::get};
/// use oidc_login::axum::{BearerScope, ScopeName};
///
/// struct ReportsRead;
/// impl ScopeName for ReportsRead {
///     const SCOPE: &'static str = "reports.read";
/// }
///
/// async fn reports(caller: BearerScope<ReportsRead>) -> String {
///     format!("reports for {}", caller.claims.subject())
/// }
/// let app: Router = Router::new().route("/api/reports", get(reports));
/// ```
pub struct BearerScope<S: ScopeName> {
    /// The access token's claims.
    pub claims: AccessTokenClaims,
    /// The caller, with the app's roles.
    pub identity: Identity,
    scope: PhantomData<S>,
}

/// The caller of an API, who must have the app role `R::ROLE` (from the
/// role mapping table, as for [`RequireRole`](super::RequireRole)): as
/// [`Bearer`], and 403 with `error="insufficient_scope"` without the role.
///
/// ```
/// use axum::{Router, routing::post};
/// use oidc_login::axum::{BearerRole, RoleName};
///
/// struct ReadWrite;
/// impl RoleName for ReadWrite {
///     const ROLE: &'static str = "Read-write";
/// }
///
/// async fn save(caller: BearerRole<ReadWrite>) -> String {
///     format!("saved by {}", caller.identity.subject)
/// }
/// let app: Router = Router::new().route("/api/save", post(save));
/// ```
pub struct BearerRole<R: RoleName> {
    /// The access token's claims.
    pub claims: AccessTokenClaims,
    /// The caller, with the app's roles.
    pub identity: Identity,
    role: PhantomData<R>,
}

impl<S: ScopeName> std::fmt::Debug for BearerScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerScope")
            .field("scope", &S::SCOPE)
            .field("claims", &self.claims)
            .field("identity", &self.identity)
            .finish()
    }
}

impl<R: RoleName> std::fmt::Debug for BearerRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerRole")
            .field("role", &R::ROLE)
            .field("claims", &self.claims)
            .field("identity", &self.identity)
            .finish()
    }
}

/// Why a bearer extractor refused a request: each answer has `Cache-Control:
/// no-store` and, but for the last two, a `WWW-Authenticate: Bearer`
/// challenge (RFC 6750 section 3) with the API's `realm`. Nothing of the
/// token is echoed.
///
/// ```
/// use axum::http::StatusCode;
/// use oidc_login::axum::BearerRejection;
///
/// assert_eq!(BearerRejection::MissingToken.status(), StatusCode::UNAUTHORIZED);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BearerRejection {
    /// No `Authorization: Bearer` header: 401 with a challenge and no
    /// `error` (RFC 6750 section 3.1).
    MissingToken,
    /// The `Authorization` header is not one well-formed bearer token
    /// (repeated, or characters outside RFC 6750's `b64token`): 400,
    /// `invalid_request`.
    InvalidRequest,
    /// The token failed validation: 401, `invalid_token`.
    InvalidToken,
    /// The token lacks the scope: 403, `insufficient_scope` and `scope`.
    InsufficientScope {
        /// The scope required.
        scope: &'static str,
    },
    /// The caller lacks the app role: 403, `insufficient_scope`.
    MissingRole {
        /// The role required.
        role: &'static str,
    },
    /// The user's token lacks the config's required claim
    /// ([`BearerError::RequiredClaim`](crate::BearerError::RequiredClaim)):
    /// 403, `insufficient_scope`; the claim is named in the log only.
    RequiredClaim,
    /// The provider's keys could not be fetched to check the token: 503.
    Unavailable,
    /// The route is not wrapped in [`Api::layer`]: 500.
    NotSetUp,
}

impl BearerRejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } | Self::MissingRole { .. } | Self::RequiredClaim => {
                StatusCode::FORBIDDEN
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotSetUp => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 `error` code, if the answer has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::Unavailable | Self::NotSetUp => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope { .. } | Self::MissingRole { .. } | Self::RequiredClaim => {
                Some("insufficient_scope")
            }
        }
    }

    fn description(&self) -> &'static str {
        match self {
            Self::MissingToken => "an access token is required",
            Self::InvalidRequest => "the Authorization header is not one bearer token",
            Self::InvalidToken => "the access token is not valid",
            Self::InsufficientScope { .. } => "the access token lacks a required scope",
            Self::MissingRole { .. } => "the caller lacks a required role",
            Self::RequiredClaim => "the caller is not allowed to use this API",
            Self::Unavailable => "the access token cannot be checked now; try again later",
            Self::NotSetUp => "the API is not set up",
        }
    }

    /// The response, with the challenge for `realm`.
    fn respond(&self, realm: Option<&str>) -> Response {
        let status = self.status();
        let mut response = (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            ::axum::Json(serde_json::json!({
                "error": self.error_code().unwrap_or(match self {
                    Self::MissingToken => "missing_token",
                    Self::Unavailable => "temporarily_unavailable",
                    _ => "server_error",
                }),
                "error_description": self.description(),
            })),
        )
            .into_response();
        if matches!(self, Self::Unavailable | Self::NotSetUp) {
            return response;
        }
        // The realm is the API's own identifier.
        let mut params = vec![("realm", realm.unwrap_or("api"))];
        if let Some(error) = self.error_code() {
            params.extend([("error", error), ("error_description", self.description())]);
        }
        if let Self::InsufficientScope { scope } = self {
            params.push(("scope", scope));
        }
        if let Ok(value) = HeaderValue::from_str(&challenge(&params)) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        self.respond(None)
    }
}

/// A `WWW-Authenticate: Bearer` challenge (RFC 6750 section 3; RFC 9470
/// for step-up) of `params`, each value a quoted string stripped of what
/// could end it or break the header.
pub(super) fn challenge(params: &[(&str, &str)]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(name, value)| {
            let value: String = value
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                .collect();
            format!("{name}=\"{value}\"")
        })
        .collect();
    format!("Bearer {}", params.join(", "))
}

/// The rejection of the bearer extractors: a [`BearerRejection`] and the
/// API's `realm` (its first identifier) for the `WWW-Authenticate` challenge.
#[derive(Debug)]
pub struct BearerChallenge {
    rejection: BearerRejection,
    realm: Option<String>,
}

impl BearerChallenge {
    fn new(rejection: BearerRejection, api: &Api) -> Self {
        Self {
            rejection,
            realm: api.audiences().first().cloned(),
        }
    }

    /// Why the request was refused.
    pub fn rejection(&self) -> &BearerRejection {
        &self.rejection
    }
}

impl IntoResponse for BearerChallenge {
    fn into_response(self) -> Response {
        self.rejection.respond(self.realm.as_deref())
    }
}

/// The API of the layer.
fn api(parts: &Parts) -> Result<Api, BearerChallenge> {
    parts.extensions.get::<Api>().cloned().ok_or_else(|| {
        tracing::error!(
            target: "oidc_login::axum",
            code = "bearer_not_set_up",
            path = parts.uri.path(),
            "no API to check bearer tokens with: add `.layer(api.layer())` (`Api::layer`) to the router after its last API route"
        );
        BearerChallenge {
            rejection: BearerRejection::NotSetUp,
            realm: None,
        }
    })
}

/// RFC 6750 section 2.1's `b64token`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The bearer token of the request: `Ok(None)` without one (no header, or
/// another scheme).
fn bearer_token(parts: &Parts) -> Result<Option<&str>, BearerRejection> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerRejection::InvalidRequest);
    }
    let value = value
        .to_str()
        .map_err(|_| BearerRejection::InvalidRequest)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim_matches(' ');
    if !is_b64token(token) {
        return Err(BearerRejection::InvalidRequest);
    }
    Ok(Some(token))
}

/// The layer's API, and the caller when the request has a token; a bad
/// token refuses.
async fn caller(parts: &Parts) -> Result<(Api, Option<BearerPrincipal>), BearerChallenge> {
    let api = api(parts)?;
    let token = match bearer_token(parts) {
        Ok(Some(token)) => token,
        Ok(None) => return Ok((api, None)),
        Err(rejection) => {
            tracing::info!(target: "oidc_login::axum", code = "bearer_invalid_request", path = parts.uri.path(), "bearer request refused: the Authorization header is not one well-formed bearer token");
            return Err(BearerChallenge::new(rejection, &api));
        }
    };
    match api.authenticate(token).await {
        Ok(principal) => Ok((api, Some(principal))),
        Err(error @ (Error::Discovery(_) | Error::Http(_))) => {
            tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, path = parts.uri.path(), "bearer token not checked: the provider's keys are unavailable");
            Err(BearerChallenge::new(BearerRejection::Unavailable, &api))
        }
        Err(error @ Error::Bearer(crate::BearerError::RequiredClaim { .. })) => {
            tracing::info!(target: "oidc_login::axum", code = error.code(), %error, path = parts.uri.path(), "bearer request refused: the user lacks the required claim");
            Err(BearerChallenge::new(BearerRejection::RequiredClaim, &api))
        }
        Err(error) => {
            tracing::info!(target: "oidc_login::axum", code = error.code(), %error, path = parts.uri.path(), "bearer token refused");
            Err(BearerChallenge::new(BearerRejection::InvalidToken, &api))
        }
    }
}

/// The caller; no token refuses with the bare challenge.
async fn required(parts: &Parts) -> Result<(Api, BearerPrincipal), BearerChallenge> {
    match caller(parts).await? {
        (api, Some(principal)) => Ok((api, principal)),
        (api, None) => Err(BearerChallenge::new(BearerRejection::MissingToken, &api)),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = BearerChallenge;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (_, BearerPrincipal { claims, identity }) = required(parts).await?;
        Ok(Self { claims, identity })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Bearer {
    type Rejection = BearerChallenge;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let (_, principal) = caller(parts).await?;
        Ok(principal.map(|BearerPrincipal { claims, identity }| Self { claims, identity }))
    }
}

impl<S: Send + Sync, N: ScopeName> FromRequestParts<S> for BearerScope<N> {
    type Rejection = BearerChallenge;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, BearerPrincipal { claims, identity }) = required(parts).await?;
        if !claims.has_scope(N::SCOPE) {
            tracing::info!(
                target: "oidc_login::axum",
                code = "insufficient_scope",
                scope = N::SCOPE,
                subject = %crate::error::clip(claims.subject(), 256),
                client_id = %crate::error::clip(claims.client_id(), 256),
                path = parts.uri.path(),
                "bearer request refused: the token lacks the scope"
            );
            return Err(BearerChallenge::new(
                BearerRejection::InsufficientScope { scope: N::SCOPE },
                &api,
            ));
        }
        Ok(Self {
            claims,
            identity,
            scope: PhantomData,
        })
    }
}

impl<S: Send + Sync, R: RoleName> FromRequestParts<S> for BearerRole<R> {
    type Rejection = BearerChallenge;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, BearerPrincipal { claims, identity }) = required(parts).await?;
        if !identity.has_role(R::ROLE) {
            tracing::info!(
                target: "oidc_login::axum",
                code = "missing_role",
                role = R::ROLE,
                subject = %crate::error::clip(claims.subject(), 256),
                client_id = %crate::error::clip(claims.client_id(), 256),
                path = parts.uri.path(),
                "bearer request refused: the caller lacks the role"
            );
            return Err(BearerChallenge::new(
                BearerRejection::MissingRole { role: R::ROLE },
                &api,
            ));
        }
        Ok(Self {
            claims,
            identity,
            role: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use ::axum::http::Request;

    use super::*;

    fn parts(values: &[&str]) -> Parts {
        let mut request = Request::builder();
        for value in values {
            request = request.header(header::AUTHORIZATION, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_bearer_token_is_read_strictly() {
        assert_eq!(bearer_token(&parts(&[])).unwrap(), None);
        assert_eq!(bearer_token(&parts(&["Basic dXNlcjpwYXNz"])).unwrap(), None);
        assert_eq!(
            bearer_token(&parts(&["Bearer a.b-c_d~e+f/g=="])).unwrap(),
            Some("a.b-c_d~e+f/g==")
        );
        assert_eq!(bearer_token(&parts(&["bearer abc"])).unwrap(), Some("abc"));
        for bad in [
            &["Bearer a b"][..],
            &["Bearer "],
            &["Bearer a\"b"],
            &["Bearer abc", "Bearer abc"],
        ] {
            assert!(
                matches!(
                    bearer_token(&parts(bad)),
                    Err(BearerRejection::InvalidRequest)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn challenges_follow_rfc_6750_and_echo_nothing() {
        let challenge = |rejection: BearerRejection| {
            let response = rejection.respond(Some("https://api.example\"x"));
            (
                response.status(),
                response
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        };
        assert_eq!(
            challenge(BearerRejection::MissingToken),
            (
                StatusCode::UNAUTHORIZED,
                Some("Bearer realm=\"https://api.examplex\"".into())
            )
        );
        let (status, header) = challenge(BearerRejection::InvalidToken);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(header.unwrap().contains("error=\"invalid_token\""));
        let (status, header) = challenge(BearerRejection::InsufficientScope {
            scope: "reports.read",
        });
        assert_eq!(status, StatusCode::FORBIDDEN);
        let header = header.unwrap();
        assert!(
            header.contains("error=\"insufficient_scope\"")
                && header.contains("scope=\"reports.read\""),
            "{header}"
        );
        assert_eq!(
            challenge(BearerRejection::Unavailable),
            (StatusCode::SERVICE_UNAVAILABLE, None)
        );
    }
}
