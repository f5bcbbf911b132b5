//! The signed-in user's access token, for the handler to call Microsoft
//! Graph or the app's own back-end as the user.

use ::axum::extract::FromRequestParts;
use ::axum::http::request::Parts;

use super::extract::{AuthRejection, current, not_signed_in};
use crate::secret::AccessToken;

/// The signed-in user's current access token, refreshed first when it is
/// about to expire (by the [`LoginLayer`](super::LoginLayer), one refresh
/// per session at a time, whichever extractor resolves the user first).
/// Switch it on with
/// [`LoginRoutes::user_access_token`](super::LoginRoutes::user_access_token).
///
/// The token is an [`AccessToken`]: its `Debug` is redacted and it has no
/// `Display`, so it reaches a log only through
/// [`expose_secret`](AccessToken::expose_secret), which the handler calls
/// where it sends the token.
///
/// Without a signed-in user it refuses as [`SignedIn`](super::SignedIn)
/// does (the login redirect, or 401). An access token that has expired and
/// could not be refreshed (the provider is unreachable) answers 503
/// ([`AuthRejection::AccessTokenExpired`]); a session that holds no token
/// (the switch is off, or the implicit flow) answers 500 and logs why.
///
/// ```
/// use axum::{Router, routing::get};
/// use oidc_login::axum::UserAccessToken;
///
/// async fn my_files(token: UserAccessToken) -> String {
///     // reqwest::Client::new().get("https://graph.microsoft.com/v1.0/me/drive")
///     //     .bearer_auth(token.access_token().expose_secret())...
///     format!("token expires at {:?}", token.expires_at())
/// }
/// let app: Router = Router::new().route("/files", get(my_files));
/// ```
#[derive(Debug, Clone)]
pub struct UserAccessToken {
    token: AccessToken,
    expires_at: Option<i64>,
    scopes: Vec<String>,
}

impl UserAccessToken {
    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.token
    }

    /// When it expires (Unix seconds), if the provider said.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The scopes granted, if the provider said.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UserAccessToken {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let current = current(parts)?;
        // Resolves the user: the refresh, when due, happens here, and the
        // resolved user holds the refreshed tokens.
        let Some(resolved) = current.user().await.map_err(|_| AuthRejection::Session)? else {
            return Err(not_signed_in(parts, &current));
        };
        let Some(tokens) = resolved.user.tokens.clone() else {
            tracing::error!(
                target: "oidc_login::axum",
                code = "login_not_set_up",
                path = parts.uri.path(),
                "the session holds no tokens: switch on `LoginRoutes::user_access_token` to hand handlers the user's access token"
            );
            return Err(AuthRejection::NotSetUp);
        };
        let Some(token) = tokens.access_token else {
            tracing::error!(
                target: "oidc_login::axum",
                code = "login_not_set_up",
                path = parts.uri.path(),
                "the login has no access token (the implicit flow issues none)"
            );
            return Err(AuthRejection::NotSetUp);
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if tokens
            .expires_at
            .is_some_and(|expires_at| expires_at <= now)
        {
            tracing::warn!(
                target: "oidc_login::axum",
                code = "access_token_expired",
                path = parts.uri.path(),
                "the user's access token expired and could not be refreshed"
            );
            return Err(AuthRejection::AccessTokenExpired);
        }
        Ok(Self {
            token,
            expires_at: tokens.expires_at,
            scopes: tokens.scopes,
        })
    }
}
