//! What the browser is shown when a sign-in or a request is refused, and
//! the app's own page in place of the default one.

use std::sync::Arc;

use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::Response;

use super::pages;
use crate::error::{AccountError, BreakGlassError, CallbackError, Error, TokenError};

const ACCESS_DENIED: &str = "Access denied";
const CANCELLED: &str = "Sign-in cancelled";
const REFUSED: &str = "Sign-in refused";
const UNAVAILABLE: &str = "Sign-in unavailable";
const MISCONFIGURED: &str = "Sign-in misconfigured";

/// A refusal as the browser is told it: an HTTP status, a stable error code
/// (the one in the log line that holds the detail, on the `oidc_login::axum`
/// target), a title and one sentence.
///
/// Every text is fixed by this crate: nothing from the request, the
/// provider or a token reaches it, so a page may show it as it is (escaped
/// as HTML, like any text). The default page shows all four; give
/// [`LoginRoutes::refusal_page`](super::LoginRoutes::refusal_page) a
/// function to answer with the app's own.
///
/// ```
/// use axum::response::{Html, IntoResponse, Response};
/// use oidc_login::axum::Refusal;
///
/// fn my_page(refusal: &Refusal) -> Response {
///     if refusal.code() == "missing_role" {
///         let text = html_escape::encode_text(refusal.message());
///         return (refusal.status(), Html(format!("<h1>No entry</h1><p>{text}</p>"))).into_response();
///     }
///     refusal.default_page()
/// }
/// # let _ = my_page;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: &'static str,
}

impl Refusal {
    const fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        message: &'static str,
    ) -> Self {
        Self {
            status,
            code,
            title,
            message,
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code, such as `token_refused` or `missing_role`
    /// ([`Error::code`](crate::Error::code), or one of the integration's
    /// own: `missing_role`, `step_up_not_met`, `no_pending_login`, `session_error`,
    /// `login_not_set_up`, `cross_origin_request`).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The page's title: "Access denied" for a missing role or required
    /// claim, "Sign-in cancelled" when the user cancelled at the provider,
    /// "Sign-in misconfigured" when the provider refused the app's client
    /// credentials, "Sign-in unavailable" when the provider or the session
    /// store failed, and "Sign-in refused" otherwise.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// One sentence for the user: what happened and what to do.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The default page: plain HTML with inline CSS (no external assets),
    /// the status, and `Cache-Control: no-store`.
    pub fn default_page(&self) -> Response {
        pages::html(
            self.status,
            pages::refusal(self.title, self.message, self.code),
        )
    }

    /// The answer to send: the default page, carrying this refusal in its
    /// extensions, where the [`LoginLayer`](super::LoginLayer) finds it to
    /// answer with the app's page instead.
    pub(crate) fn respond(self) -> Response {
        let mut response = self.default_page();
        response.extensions_mut().insert(self);
        response
    }

    /// A refused sign-in, sign-out or break-glass attempt.
    pub(crate) fn from_error(error: &Error) -> Self {
        use StatusCode as S;
        let code = error.code();
        let (status, title, message) = match error {
            Error::Callback(CallbackError::Provider { error, .. }) if error == "access_denied" => (
                S::BAD_REQUEST,
                CANCELLED,
                "The sign-in was cancelled at the identity provider. Start again whenever you are ready.",
            ),
            Error::Callback(CallbackError::Provider { .. }) => (
                S::BAD_REQUEST,
                REFUSED,
                "The identity provider refused the sign-in. Please start again; if it happens again, tell the app's administrator.",
            ),
            Error::Start(_) | Error::Callback(_) => (
                S::BAD_REQUEST,
                REFUSED,
                "The sign-in request was not valid. Please start again.",
            ),
            // The provider does not accept the app itself: no user can fix it.
            Error::Token(TokenError::Exchange { error, .. })
                if error == "invalid_client" || error == "unauthorized_client" =>
            {
                (
                    S::INTERNAL_SERVER_ERROR,
                    MISCONFIGURED,
                    "The identity provider did not accept this app's client credentials (its client ID, secret or key). The app's administrator must correct them; trying again will not help.",
                )
            }
            Error::Token(
                TokenError::AuthenticationTooOld { .. }
                | TokenError::AcrNotAccepted { .. }
                | TokenError::AuthContextMissing { .. },
            ) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "The identity provider did not confirm the recent or stronger sign-in this page needs. Please try again; if it happens again, tell the app's administrator.",
            ),
            Error::Token(_) | Error::Refresh(_) | Error::Bearer(_) => (
                S::UNAUTHORIZED,
                REFUSED,
                "The identity provider's answer could not be verified. Please start again.",
            ),
            Error::Access(_) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "Your account is not allowed to sign in here.",
            ),
            Error::Account(AccountError::Store { .. } | AccountError::SchemaTooNew { .. }) => (
                S::INTERNAL_SERVER_ERROR,
                UNAVAILABLE,
                "Sign-in is not available right now. Please try again later.",
            ),
            Error::Account(AccountError::NoAccount { .. }) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "This app has no account with your email address. Ask the app's administrator to create one, then sign in again.",
            ),
            Error::Account(
                AccountError::BoundToAnotherSubject { .. }
                | AccountError::SubjectBoundElsewhere { .. },
            ) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "The account of this app with your email address is linked to another sign-in at the identity provider. Ask the app's administrator to reset the link, then sign in again.",
            ),
            Error::Account(AccountError::EmailNotVerified { .. }) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "The identity provider has not verified your email address, so it cannot be matched to an account of this app. Verify it at the provider, then sign in again.",
            ),
            Error::Account(AccountError::NoEmail) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "The identity provider sent no email address, so the sign-in cannot be matched to an account of this app. Tell the app's administrator.",
            ),
            Error::Account(_) => (
                S::FORBIDDEN,
                ACCESS_DENIED,
                "Your account could not be matched to an account of this app.",
            ),
            Error::BreakGlass(BreakGlassError::RateLimited { .. }) => (
                S::TOO_MANY_REQUESTS,
                REFUSED,
                "Too many failed attempts. Please wait and try again.",
            ),
            Error::BreakGlass(BreakGlassError::WrongCredentials) => {
                (S::UNAUTHORIZED, REFUSED, "Wrong username or password.")
            }
            Error::BreakGlass(_) => (
                S::INTERNAL_SERVER_ERROR,
                UNAVAILABLE,
                "The emergency sign-in is not available right now.",
            ),
            Error::Groups(_) => (
                S::BAD_GATEWAY,
                UNAVAILABLE,
                "Your group memberships could not be read from the identity provider. Please try again later; if it persists, tell the app's administrator.",
            ),
            Error::Http(_) | Error::Discovery(_) => (
                S::BAD_GATEWAY,
                UNAVAILABLE,
                "The identity provider could not be reached. Please try again later.",
            ),
            Error::Config(_) => (
                S::INTERNAL_SERVER_ERROR,
                UNAVAILABLE,
                "Sign-in is not set up correctly here. Please tell the app's administrator.",
            ),
            Error::Logout(_) => (
                S::BAD_REQUEST,
                REFUSED,
                "The sign-out request was not valid.",
            ),
        };
        Self::new(status, code, title, message)
    }

    /// The signed-in user lacks the role a route requires.
    pub(crate) const MISSING_ROLE: Self = Self::new(
        StatusCode::FORBIDDEN,
        "missing_role",
        ACCESS_DENIED,
        "Your account does not have the role this page needs.",
    );

    /// A route's step-up is still unmet right after a step-up login.
    pub(crate) const STEP_UP_NOT_MET: Self = Self::new(
        StatusCode::FORBIDDEN,
        "step_up_not_met",
        ACCESS_DENIED,
        "The identity provider did not confirm the recent or stronger sign-in this page needs. Please try again; if it happens again, tell the app's administrator.",
    );

    /// A callback that no login in flight in this session matches.
    pub(crate) const NO_PENDING_LOGIN: Self = Self::new(
        StatusCode::BAD_REQUEST,
        "no_pending_login",
        REFUSED,
        "This sign-in link is no longer valid. Please start again.",
    );

    /// A sign-out or break-glass POST from a page of another origin.
    pub(crate) const CROSS_ORIGIN: Self = Self::new(
        StatusCode::FORBIDDEN,
        "cross_origin_request",
        REFUSED,
        "This request was sent from another site, so it was not carried out. Please use this app's own page.",
    );

    /// The session store failed.
    pub(crate) const SESSION_ERROR: Self = Self::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "session_error",
        UNAVAILABLE,
        "Sign-in is not available right now. Please try again later.",
    );

    /// The app's router lacks the session layer or the login layer.
    pub(crate) const NOT_SET_UP: Self = Self::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "login_not_set_up",
        UNAVAILABLE,
        "Sign-in is not set up correctly here. Please tell the app's administrator.",
    );
}

/// The app's refusal page ([`LoginRoutes::refusal_page`](super::LoginRoutes::refusal_page)).
#[derive(Clone)]
pub(crate) struct RefusalPage(Arc<dyn Fn(&Refusal) -> Response + Send + Sync>);

impl std::fmt::Debug for RefusalPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefusalPage(..)")
    }
}

impl RefusalPage {
    pub(crate) fn new(page: impl Fn(&Refusal) -> Response + Send + Sync + 'static) -> Self {
        Self(Arc::new(page))
    }

    /// Replaces a refusal's default page with the app's; other answers
    /// pass unchanged. The app's page is never cached, framed or sent
    /// with a `Referer` either, unless it says otherwise (its own
    /// `Content-Security-Policy` replaces `frame-ancestors 'none'`).
    pub(crate) fn apply(&self, mut response: Response) -> Response {
        let Some(refusal) = response.extensions_mut().remove::<Refusal>() else {
            return response;
        };
        let mut custom = (self.0)(&refusal);
        let headers = custom.headers_mut();
        // The refused answer's cookies still apply (a used login's cookie
        // removed).
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            headers.append(header::SET_COOKIE, cookie.clone());
        }
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
        for (name, value) in pages::PAGE_HEADERS {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }
        custom.extensions_mut().insert(refusal);
        custom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider_error(error: &str) -> Error {
        CallbackError::Provider {
            error: error.into(),
            description: Some("secret-looking <script>".into()),
        }
        .into()
    }

    #[test]
    fn titles_say_who_must_act() {
        let cancelled = Refusal::from_error(&provider_error("access_denied"));
        assert_eq!(cancelled.title(), "Sign-in cancelled");
        assert_eq!(cancelled.code(), "provider_refused");
        assert_eq!(
            Refusal::from_error(&provider_error("server_error")).title(),
            "Sign-in refused"
        );
        let client = Refusal::from_error(
            &TokenError::Exchange {
                error: "invalid_client".into(),
                description: None,
            }
            .into(),
        );
        assert_eq!(client.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(client.message().contains("client credentials"));
        let grant = Refusal::from_error(
            &TokenError::Exchange {
                error: "invalid_grant".into(),
                description: None,
            }
            .into(),
        );
        assert_eq!(
            (grant.status(), grant.title()),
            (StatusCode::UNAUTHORIZED, "Sign-in refused")
        );
        let claim = Refusal::from_error(
            &crate::AccessError::RequiredClaim {
                claim: "tid".into(),
            }
            .into(),
        );
        assert_eq!(
            (claim.status(), claim.title()),
            (StatusCode::FORBIDDEN, "Access denied")
        );
        assert_eq!(Refusal::MISSING_ROLE.title(), "Access denied");
    }

    #[test]
    fn each_account_refusal_has_its_own_code_and_message() {
        let errors: Vec<Error> = vec![
            AccountError::NoAccount {
                email: "a@x".into(),
            }
            .into(),
            AccountError::BoundToAnotherSubject {
                account_id: "1".into(),
            }
            .into(),
            AccountError::EmailNotVerified {
                policy: "email_verified_claim",
            }
            .into(),
            AccountError::NoEmail.into(),
        ];
        let refusals: Vec<Refusal> = errors.iter().map(Refusal::from_error).collect();
        let codes: Vec<&str> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(
            codes,
            [
                "account_not_found",
                "account_bound_elsewhere",
                "account_email_not_verified",
                "account_no_email"
            ]
        );
        let messages: std::collections::HashSet<&str> =
            refusals.iter().map(Refusal::message).collect();
        assert_eq!(messages.len(), refusals.len(), "one message each");
        for refusal in &refusals {
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
            // The email and account id stay in the log, off the page.
            assert!(!refusal.message().contains("a@x"));
        }
        let store = Refusal::from_error(
            &AccountError::Store {
                operation: "x",
                source: "boom".into(),
            }
            .into(),
        );
        assert_eq!(
            (store.status(), store.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "account_store_error")
        );
    }

    #[test]
    fn the_provider_s_text_never_reaches_the_page() {
        let refusal = Refusal::from_error(&provider_error("access_denied"));
        let html = pages::refusal(refusal.title(), refusal.message(), refusal.code());
        assert!(!html.contains("secret-looking"), "{html}");
    }
}
