//! Extractors for the signed-in user, and what they answer when there is
//! none. They only read what the [`LoginLayer`](super::LoginLayer) put in
//! the request; the first of them in a request resolves the user, the
//! others take the same answer.

use std::marker::PhantomData;
use std::sync::Arc;

use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::http::request::Parts;
use ::axum::http::{Method, StatusCode, header};
use ::axum::response::{IntoResponse, Redirect, Response};

use super::layer::Current;
use super::refusal::Refusal;
use crate::accounts::Account;
use crate::flow::StepUp;
use crate::identity::Identity;

/// The signed-in user. Without one, a browser navigation is redirected to
/// the login route (coming back to the same page afterwards), and any other
/// request gets 401.
///
/// `Option<SignedIn>` is the signed-in user if there is one: it refuses
/// nothing but a failing session store.
///
/// The identity is shared (an [`Arc`]), not copied for each request: read
/// it through `user.identity`, clone what a handler keeps, or take it with
/// [`into_identity`](Self::into_identity).
///
/// ```
/// use axum::{Router, routing::get};
/// use oidc_login::axum::SignedIn;
///
/// async fn private(user: SignedIn) -> String {
///     format!("hello {}", user.identity.subject)
/// }
///
/// async fn home(user: Option<SignedIn>) -> &'static str {
///     if user.is_some() { "welcome back" } else { "please sign in" }
/// }
///
/// let app: Router = Router::new().route("/private", get(private)).route("/", get(home));
/// ```
///
/// It needs the [`LoginLayer`](super::LoginLayer) and the
/// [`session_layer`](super::session_layer) around the route; without them
/// it answers 500 and logs why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// Who signed in, with roles; shared by every extractor of the request.
    pub identity: Arc<Identity>,
    /// The local account the login is linked to, when account linking is
    /// on ([`LoginRoutes::accounts`](super::LoginRoutes::accounts)), read
    /// afresh from the store for this request; `None` otherwise, and for a
    /// break-glass sign-in.
    pub account: Option<Account>,
}

impl SignedIn {
    /// The identity, copied only if something else still shares it.
    pub fn into_identity(self) -> Identity {
        Arc::unwrap_or_clone(self.identity)
    }
}

/// Names a role for [`RequireRole`].
///
/// ```
/// use oidc_login::axum::RoleName;
/// struct ReadWrite;
/// impl RoleName for ReadWrite {
///     const ROLE: &'static str = "Read-write";
/// }
/// ```
pub trait RoleName: Send + Sync + 'static {
    /// The role, as the role mapping grants it.
    const ROLE: &'static str;
}

/// The signed-in user, who must have the role `R::ROLE`: 401 (or the login
/// redirect) without a user, 403 without the role.
///
/// ```
/// use axum::{Router, routing::post};
/// use oidc_login::axum::{RequireRole, RoleName};
///
/// struct ReadWrite;
/// impl RoleName for ReadWrite {
///     const ROLE: &'static str = "Read-write";
/// }
///
/// async fn save(editor: RequireRole<ReadWrite>) -> String {
///     format!("saved by {}", editor.identity.subject)
/// }
///
/// let app: Router = Router::new().route("/save", post(save));
/// ```
pub struct RequireRole<R: RoleName> {
    /// Who signed in, with roles; shared by every extractor of the request.
    pub identity: Arc<Identity>,
    /// The linked local account, as [`SignedIn::account`].
    pub account: Option<Account>,
    role: PhantomData<R>,
}

impl<R: RoleName> RequireRole<R> {
    /// The identity, copied only if something else still shares it.
    pub fn into_identity(self) -> Identity {
        Arc::unwrap_or_clone(self.identity)
    }
}

impl<R: RoleName> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole")
            .field("role", &R::ROLE)
            .field("identity", &self.identity)
            .field("account", &self.account)
            .finish()
    }
}

/// Why an extractor refused a request.
///
/// ```
/// use axum::http::StatusCode;
/// use oidc_login::axum::AuthRejection;
///
/// assert_eq!(AuthRejection::NotSignedIn.status(), StatusCode::UNAUTHORIZED);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No one is signed in, and the request is not a browser navigation: 401.
    NotSignedIn,
    /// No one is signed in: a browser navigation is sent to the login route (303).
    LoginRequired {
        /// The login route with the `return_to` of this request.
        location: String,
    },
    /// The signed-in user lacks a role: 403.
    MissingRole {
        /// The role required.
        role: &'static str,
    },
    /// The signed-in user's authentication is not recent or strong enough
    /// for the route ([`RequireStepUp`](super::RequireStepUp)), and the
    /// request is not a browser navigation: 401 with an RFC 9470
    /// `WWW-Authenticate` challenge naming what is needed.
    StepUpRequired {
        /// What the route requires.
        step_up: StepUp,
    },
    /// The route's step-up is still unmet right after a step-up login
    /// finished (the provider, or the clocks, cannot satisfy it): 403,
    /// rather than another login.
    StepUpNotMet,
    /// The session store failed: 500.
    Session,
    /// The user's access token ([`UserAccessToken`](super::UserAccessToken))
    /// has expired and could not be refreshed (the provider is unreachable):
    /// 503; the session stays, and the next request tries again.
    AccessTokenExpired,
    /// The route is not wrapped in the [`LoginLayer`](super::LoginLayer)
    /// (added before the route, or not at all): 500.
    NotSetUp,
}

impl AuthRejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotSignedIn | Self::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::StepUpNotMet => StatusCode::FORBIDDEN,
            Self::LoginRequired { .. } => StatusCode::SEE_OTHER,
            Self::MissingRole { .. } => StatusCode::FORBIDDEN,
            Self::Session | Self::NotSetUp => StatusCode::INTERNAL_SERVER_ERROR,
            Self::AccessTokenExpired => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::LoginRequired { location } => Redirect::to(&location).into_response(),
            Self::NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                [(header::CACHE_CONTROL, "no-store")],
                "not signed in",
            )
                .into_response(),
            Self::StepUpRequired { step_up } => (
                StatusCode::UNAUTHORIZED,
                [
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                    (
                        header::WWW_AUTHENTICATE,
                        super::step_up::challenge(&step_up),
                    ),
                ],
                "a more recent or stronger authentication is required",
            )
                .into_response(),
            Self::StepUpNotMet => Refusal::STEP_UP_NOT_MET.respond(),
            Self::MissingRole { .. } => Refusal::MISSING_ROLE.respond(),
            Self::Session => Refusal::SESSION_ERROR.respond(),
            Self::AccessTokenExpired => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                "the access token expired and could not be refreshed; try again later",
            )
                .into_response(),
            Self::NotSetUp => Refusal::NOT_SET_UP.respond(),
        }
    }
}

/// What the layer left in the request.
pub(super) fn current(parts: &Parts) -> Result<Current, AuthRejection> {
    parts.extensions.get::<Current>().cloned().ok_or_else(|| {
        tracing::error!(
            target: "oidc_login::axum",
            code = Refusal::NOT_SET_UP.code(),
            path = parts.uri.path(),
            "no signed-in user can be read here: add `.layer(routes.layer())` (`LoginRoutes::layer`) to the router after its last route, then the `session_layer`"
        );
        AuthRejection::NotSetUp
    })
}

/// A GET that accepts HTML: a browser navigation, which may be redirected.
pub(super) fn is_browser_navigation(parts: &Parts) -> bool {
    parts.method == Method::GET
        && parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// The signed-in user, if any; only a failing store refuses.
pub(super) async fn user(parts: &Parts) -> Result<(Current, Option<Signed>), AuthRejection> {
    let current = current(parts)?;
    let identity = current
        .user()
        .await
        .map_err(|_| AuthRejection::Session)?
        .map(|resolved| Signed {
            identity: resolved.user.identity.clone(),
            account: resolved.account.clone(),
        });
    Ok((current, identity))
}

/// The request's user as the extractors hand it out.
pub(super) struct Signed {
    pub(super) identity: Arc<Identity>,
    pub(super) account: Option<Account>,
}

/// A browser navigation (it accepts HTML and is a GET) goes to the login
/// route; anything else is an API call and gets 401.
pub(super) fn not_signed_in(parts: &Parts, current: &Current) -> AuthRejection {
    if !is_browser_navigation(parts) {
        return AuthRejection::NotSignedIn;
    }
    AuthRejection::LoginRequired {
        location: current.login_location(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match user(parts).await? {
            (_, Some(Signed { identity, account })) => Ok(Self { identity, account }),
            (current, None) => Err(not_signed_in(parts, &current)),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let (_, identity) = user(parts).await?;
        Ok(identity.map(|Signed { identity, account }| Self { identity, account }))
    }
}

impl<S: Send + Sync, R: RoleName> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (current, user) = user(parts).await?;
        let Some(Signed { identity, account }) = user else {
            return Err(not_signed_in(parts, &current));
        };
        if !identity.has_role(R::ROLE) {
            tracing::info!(
                target: "oidc_login::axum",
                code = Refusal::MISSING_ROLE.code(),
                role = R::ROLE,
                subject = %crate::error::clip(&identity.subject, 256),
                path = parts.uri.path(),
                "request refused: the user lacks the role"
            );
            return Err(AuthRejection::MissingRole { role: R::ROLE });
        }
        Ok(Self {
            identity,
            account,
            role: PhantomData,
        })
    }
}
