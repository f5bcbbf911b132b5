//! Extractors for the signed-in user, and what they answer when there is none.

use std::marker::PhantomData;

use ::axum::extract::FromRequestParts;
use ::axum::http::request::Parts;
use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::pages;
use super::refresh::Outcome;
use super::routes::Mounted;
use super::session;
use crate::identity::Identity;

/// The signed-in user. Without one, a browser navigation is redirected to
/// the login route (coming back to the same page afterwards), and any other
/// request gets 401.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// Who signed in, with roles.
    pub identity: Identity,
}

/// The signed-in user, if there is one. Never rejects (but for a failing
/// session store).
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<Identity>);

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
pub struct RequireRole<R: RoleName> {
    /// Who signed in, with roles.
    pub identity: Identity,
    role: PhantomData<R>,
}

impl<R: RoleName> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole")
            .field("role", &R::ROLE)
            .field("identity", &self.identity)
            .finish()
    }
}

/// Why an extractor refused a request.
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
    /// The session store failed: 500.
    Session,
}

impl AuthRejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotSignedIn => StatusCode::UNAUTHORIZED,
            Self::LoginRequired { .. } => StatusCode::SEE_OTHER,
            Self::MissingRole { .. } => StatusCode::FORBIDDEN,
            Self::Session => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::MissingRole { role } => {
                tracing::info!(target: "oidc_login::axum", code = "missing_role", role, "request refused: the user lacks the role");
                pages::refusal(
                    StatusCode::FORBIDDEN,
                    "missing_role",
                    "Your account does not have the role this page needs.",
                )
            }
            Self::Session => pages::refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "session_error",
                "Sign-in is not available right now.",
            ),
        }
    }
}

async fn current(parts: &mut Parts) -> Result<Option<Identity>, AuthRejection> {
    let session = Session::from_request_parts(parts, &()).await.map_err(|(_, message)| {
        tracing::error!(target: "oidc_login::axum", message, "no session: add `oidc_login::axum::session_layer` to the router");
        AuthRejection::Session
    })?;
    let mounted = parts.extensions.get::<Mounted>();
    let max_age = mounted.map_or(super::routes::MAX_SESSION_AGE, |m| m.max_session_age);
    let store_failed = |error: tower_sessions::session::Error| {
        tracing::error!(target: "oidc_login::axum", %error, "the session store failed");
        AuthRejection::Session
    };
    let Some(mut user) = session::user(&session).await.map_err(store_failed)? else {
        return Ok(None);
    };
    let now = time::OffsetDateTime::now_utc();
    let age = now - user.signed_in_at;
    if age > max_age || age.is_negative() {
        // The sign-in is too old: the user signs in again.
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    if user.identity.break_glass && !mounted.is_some_and(|m| m.break_glass) {
        // Break-glass was switched off since: its sessions end with it.
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    if let Some(mounted) = mounted
        && let Some(logouts) = &mounted.logouts
        && logouts
            .ended(&user.identity, user.signed_in_at)
            .await
            .map_err(|error| store_failed(tower_sessions::session::Error::Store(error)))?
    {
        tracing::info!(target: "oidc_login::axum", subject = %user.identity.subject, "session ended by a back-channel logout");
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    let refresher = mounted.and_then(|m| m.refresher.as_deref());
    if let (Some(refresher), Some(tokens)) = (refresher, &user.tokens)
        && refresher.due(tokens, now.unix_timestamp())
    {
        match refresher.refresh(tokens).await {
            Outcome::Refreshed(refreshed) => {
                let (identity, tokens) = *refreshed;
                user.identity = identity;
                user.tokens = Some(tokens);
                session::update_user(&session, &user)
                    .await
                    .map_err(store_failed)?;
            }
            Outcome::Unavailable => {}
            Outcome::Refused => {
                session.flush().await.map_err(store_failed)?;
                return Ok(None);
            }
        }
    }
    Ok(Some(user.identity))
}

/// A browser navigation (it accepts HTML and is a GET) goes to the login
/// route; anything else is an API call and gets 401.
fn not_signed_in(parts: &Parts) -> AuthRejection {
    let browser = parts.method == ::axum::http::Method::GET
        && parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if !browser {
        return AuthRejection::NotSignedIn;
    }
    let login_path = parts
        .extensions
        .get::<Mounted>()
        .map(|m| m.login_path.clone())
        .unwrap_or_else(|| "/login".into());
    let here = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let location = format!(
        "{login_path}?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", here)
            .finish()
    );
    AuthRejection::LoginRequired { location }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match current(parts).await? {
            Some(identity) => Ok(Self { identity }),
            None => Err(not_signed_in(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSignedIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(current(parts).await?))
    }
}

impl<S: Send + Sync, R: RoleName> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(identity) = current(parts).await? else {
            return Err(not_signed_in(parts));
        };
        if !identity.has_role(R::ROLE) {
            return Err(AuthRejection::MissingRole { role: R::ROLE });
        }
        Ok(Self {
            identity,
            role: PhantomData,
        })
    }
}
