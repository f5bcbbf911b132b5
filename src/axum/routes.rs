//! `GET /login`, `GET`/`POST /callback`, `POST /logout`.

use std::sync::Arc;

use ::axum::extract::{Query, RawForm, RawQuery, State};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Redirect, Response};
use ::axum::routing::{get, post};
use ::axum::{Extension, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::pages;
use super::session;
use crate::client::Client;
use crate::error::Error;
use crate::flow::{Callback, Start};

/// The form field that marks a `form_post` callback re-submitted from the
/// app's own origin (so it is not re-submitted twice).
pub(crate) const RESUBMITTED: &str = "oidc_login_resubmitted";

/// The login routes, mounted on an app's router.
///
/// ```no_run
/// # use oidc_login::axum::LoginRoutes;
/// # fn app(client: oidc_login::Client, app: axum::Router) -> axum::Router {
/// LoginRoutes::new(client).prefix("/auth").mount(app)
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LoginRoutes {
    client: Client,
    prefix: String,
    after_logout: String,
    form_post: bool,
    max_session_age: std::time::Duration,
}

/// What the extractors need to know about the routes.
#[derive(Debug, Clone)]
pub(crate) struct Mounted {
    pub(crate) login_path: String,
    pub(crate) max_session_age: std::time::Duration,
}

/// How long a sign-in lasts, however active the session (12 hours).
pub(crate) const MAX_SESSION_AGE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

#[derive(Debug)]
struct Shared {
    client: Client,
    callback_path: String,
    after_logout: String,
    form_post: bool,
}

impl LoginRoutes {
    /// Routes for this client, at `/login`, `/callback` and `/logout`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            prefix: String::new(),
            after_logout: "/".into(),
            form_post: false,
            max_session_age: MAX_SESSION_AGE,
        }
    }

    /// How long a sign-in lasts, however active the session (default 12
    /// hours): after it the user signs in again, and the required claim and
    /// roles are decided afresh.
    pub fn max_session_age(mut self, age: std::time::Duration) -> Self {
        self.max_session_age = age;
        self
    }

    /// Makes `/login` ask for `response_mode=form_post` (see
    /// [`Start::form_post`]): the provider POSTs the code to the callback
    /// instead of putting it in a URL, where browser history, proxies and
    /// `Referer` headers could keep it. The callback accepts both modes
    /// either way; a cross-site POST, which arrives without the
    /// `SameSite=Lax` session cookie, is re-submitted once from the app's
    /// own origin.
    pub fn form_post(mut self) -> Self {
        self.form_post = true;
        self
    }

    /// Mounts the routes under `prefix`, such as `/auth` (default: none).
    /// The config's `redirect_uri` must then end in `{prefix}/callback`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Where `POST /logout` sends the browser (default `/`); a path on
    /// this app.
    ///
    /// A path that could lead elsewhere (`//host`, a full URL) is refused:
    /// the default `/` is kept and the refusal is logged.
    pub fn after_logout(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        match crate::flow::safe_return_to(&path, self.client.config().redirect_uri()) {
            Ok(safe) => self.after_logout = safe,
            Err(error) => {
                tracing::error!(target: "oidc_login::axum", %error, "`after_logout` refused; keeping `/`")
            }
        }
        self
    }

    /// The path of the login route, for links and the [`login_button`](super::login_button).
    pub fn login_path(&self) -> String {
        format!("{}/login", self.prefix)
    }

    /// Adds the routes to `app`, and the settings the extractors read to
    /// every route of it. Add the [`session_layer`](super::session_layer)
    /// after this, so it wraps the login routes too.
    pub fn mount<S: Clone + Send + Sync + 'static>(self, app: Router<S>) -> Router<S> {
        let callback_path = format!("{}/callback", self.prefix);
        if self.client.config().redirect_uri().path() != callback_path {
            tracing::warn!(
                target: "oidc_login::axum",
                redirect_uri = %self.client.config().redirect_uri(),
                callback_path,
                "the config's `redirect_uri` does not point at the callback route; logins will not come back here"
            );
        }
        let mounted = Mounted {
            login_path: self.login_path(),
            max_session_age: self.max_session_age,
        };
        let shared = Arc::new(Shared {
            client: self.client,
            callback_path: callback_path.clone(),
            after_logout: self.after_logout,
            form_post: self.form_post,
        });
        let routes: Router<S> = Router::new()
            .route(&mounted.login_path, get(login))
            .route(&callback_path, get(callback_get).post(callback_post))
            .route(&format!("{}/logout", self.prefix), post(logout))
            .with_state(shared);
        app.merge(routes).layer(Extension(mounted))
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
}

async fn login(
    State(shared): State<Arc<Shared>>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Response {
    let mut options = Start::default();
    if let Some(path) = query.return_to {
        options = options.return_to(path);
    }
    if let Some(hint) = query.login_hint {
        options = options.login_hint(hint);
    }
    if shared.form_post {
        options = options.form_post();
    }
    let (url, pending) = match shared.client.start(options) {
        Ok(started) => started,
        Err(error) => return refuse(&error),
    };
    if let Err(error) = session::push_pending(
        &session,
        pending,
        shared.client.config().pending_login_lifetime(),
    )
    .await
    {
        return session_failure(&error);
    }
    Redirect::to(url.as_str()).into_response()
}

async fn callback_get(
    State(shared): State<Arc<Shared>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    match Callback::from_query(query.as_deref().unwrap_or_default()) {
        Ok(callback) => finish(&shared, &session, callback).await,
        Err(error) => refuse(&error.into()),
    }
}

async fn callback_post(
    State(shared): State<Arc<Shared>>,
    session: Session,
    RawForm(body): RawForm,
) -> Response {
    let callback = match Callback::from_form(&body) {
        Ok(callback) => callback,
        Err(error) => return refuse(&error.into()),
    };
    // A cross-site form_post arrives without the SameSite=Lax cookie: answer
    // with a page that posts the same form again from this origin, once.
    if callback.get(RESUBMITTED).is_none() && !session::has_pending(&session).await {
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        return pages::resubmit(&shared.callback_path, &fields);
    }
    finish(&shared, &session, callback).await
}

async fn finish(shared: &Shared, session: &Session, callback: Callback) -> Response {
    let Some(state) = callback.get("state") else {
        return refuse(&crate::error::CallbackError::MissingParameter("state").into());
    };
    let pending = match session::take_pending(session, state).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            tracing::warn!(
                target: "oidc_login::axum",
                code = "no_pending_login",
                "callback refused: no login in flight in this session matches its state (replayed, expired, started in another browser, or the session cookie was not sent)"
            );
            return pages::refusal(
                StatusCode::BAD_REQUEST,
                "no_pending_login",
                "This sign-in link is no longer valid. Please start again.",
            );
        }
        Err(error) => return session_failure(&error),
    };
    match shared.client.finish(pending, callback).await {
        Ok(login) => {
            let to = login.return_to.clone().unwrap_or_else(|| "/".into());
            if let Err(error) = session::sign_in(session, login.identity).await {
                return session_failure(&error);
            }
            Redirect::to(&to).into_response()
        }
        Err(error) => refuse(&error),
    }
}

async fn logout(State(shared): State<Arc<Shared>>, session: Session) -> Response {
    if let Err(error) = session.flush().await {
        return session_failure(&error);
    }
    Redirect::to(&shared.after_logout).into_response()
}

/// The HTTP status for a refused login.
pub(crate) fn status(error: &Error) -> StatusCode {
    match error {
        Error::Start(_) | Error::Callback(_) => StatusCode::BAD_REQUEST,
        Error::Token(_) | Error::Refresh(_) => StatusCode::UNAUTHORIZED,
        Error::Logout(_) => StatusCode::BAD_REQUEST,
        Error::Access(_) => StatusCode::FORBIDDEN,
        Error::Http(_) | Error::Discovery(_) | Error::Groups(_) => StatusCode::BAD_GATEWAY,
        Error::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Account(
            crate::AccountError::Store { .. } | crate::AccountError::SchemaTooNew { .. },
        ) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Account(_) => StatusCode::FORBIDDEN,
    }
}

fn refuse(error: &Error) -> Response {
    let status = status(error);
    // The detail for the operator; the browser gets the code only.
    tracing::warn!(target: "oidc_login::axum", code = error.code(), status = status.as_u16(), %error, "login refused");
    let message = match status {
        StatusCode::BAD_REQUEST => "The sign-in request was not valid. Please start again.",
        StatusCode::UNAUTHORIZED => "The identity provider's answer could not be verified.",
        StatusCode::FORBIDDEN => "Your account is not allowed to sign in here.",
        _ => "The identity provider could not be reached. Please try again later.",
    };
    pages::refusal(status, error.code(), message)
}

fn session_failure(error: &tower_sessions::session::Error) -> Response {
    tracing::error!(target: "oidc_login::axum", %error, "the session store failed");
    pages::refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "session_error",
        "Sign-in is not available right now.",
    )
}
