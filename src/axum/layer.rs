//! The login layer: the settings of [`LoginRoutes`](super::LoginRoutes)
//! applied to every route it wraps, wherever the route was added, and the
//! signed-in user resolved at most once per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::axum::http::{Request, Uri};
use ::axum::response::{IntoResponse, Response};
use tokio::sync::OnceCell;
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions::Session;

use super::back_channel::LogoutIndex;
use super::decoded::DecodedUsers;
use super::providers::Providers;
use super::refresh::{Outcome, Refresher};
use super::refusal::{Refusal, RefusalPage};
use super::session::{self, SessionUser};
use super::sign_out::SignOuts;
use crate::accounts::{Account, AccountLinker};
use crate::error::SharedStateError;

/// How long a sign-in lasts, however active the session (12 hours).
pub(crate) const MAX_SESSION_AGE: Duration = Duration::from_secs(12 * 3600);
/// The longest `max_session_age` allowed: 30 days, the longest NIST SP
/// 800-63B lets a sign-in last without authenticating again (at AAL1).
pub(crate) const MAX_SESSION_AGE_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the layer applies, built by [`LoginRoutes::layer`](super::LoginRoutes::layer).
#[derive(Debug)]
pub(crate) struct Settings {
    /// Where a signed-out browser is sent.
    pub(crate) login_path: String,
    /// The providers: a session's refresh goes to its own, and a session of
    /// a provider no longer configured ends.
    pub(crate) providers: Providers,
    pub(crate) max_session_age: Duration,
    /// Refresh on demand, when switched on.
    pub(crate) refresher: Option<Refresher>,
    /// Back-channel logouts to honour, when switched on.
    pub(crate) logouts: Option<LogoutIndex>,
    /// Local sign-outs to honour.
    pub(crate) sign_outs: SignOuts,
    /// Whether break-glass sign-in is on: without it, a break-glass session
    /// from before it was switched off is refused.
    pub(crate) break_glass: bool,
    /// The app's refusal page, if it has one.
    pub(crate) refusal_page: Option<RefusalPage>,
    /// Account linking, when on: each request checks the session's link.
    pub(crate) accounts: Option<AccountLinker>,
}

impl Settings {
    fn finish(&self, response: Response) -> Response {
        match &self.refusal_page {
            Some(page) => page.apply(response),
            None => response,
        }
    }
}

/// The layer that gives every route it wraps the settings of
/// [`LoginRoutes`](super::LoginRoutes): add it with
/// [`Router::layer`](::axum::Router::layer) after the last route (axum
/// applies a layer to the routes added before it), and the
/// [`session_layer`](super::session_layer) after it, outside.
///
/// For each request it makes the signed-in user available to the
/// extractors, who resolve it at most once, on first use: the session is
/// read, its age and back-channel logouts checked, and its tokens refreshed
/// when due. The login redirect of a signed-out browser goes to the
/// routes' login path, prefix included. It also puts the app's
/// [refusal page](super::LoginRoutes::refusal_page) in place of the
/// default one, for the extractors' refusals and the login routes'.
///
/// Without a session (the session layer missing, or added inside this
/// one), every request is answered 500 and an error is logged: nothing is
/// served as if no one were signed in.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
/// use tower_sessions_moka_store::MokaStore;
///
/// # fn app(client: oidc_login::Client) -> Router {
/// let routes = LoginRoutes::new(client.clone()).prefix("/auth");
/// let app = routes
///     .mount(Router::new().route("/admin", get(|_: SignedIn| async { "admin" })))
///     // Added after `mount`: it gets the same settings.
///     .route("/reports", get(|_: SignedIn| async { "reports" }))
///     .layer(routes.layer())
///     .layer(session_layer(MokaStore::new(Some(100_000)), &client));
/// # app }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LoginLayer {
    settings: Arc<Settings>,
    decoded: Arc<DecodedUsers>,
}

impl LoginLayer {
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            decoded: Arc::default(),
        }
    }
}

impl<S> Layer<S> for LoginLayer {
    type Service = LoginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginService {
            inner,
            settings: self.settings.clone(),
            decoded: self.decoded.clone(),
        }
    }
}

/// The service of a [`LoginLayer`] around the app's routes. An app never
/// names it: [`Router::layer`](::axum::Router::layer) makes it from the
/// layer. Its answers are the inner service's, but for a refusal, which
/// gets the app's [refusal page](super::LoginRoutes::refusal_page) when it
/// has one.
#[derive(Debug, Clone)]
pub struct LoginService<S> {
    inner: S,
    settings: Arc<Settings>,
    decoded: Arc<DecodedUsers>,
}

impl<S, B> Service<Request<B>> for LoginService<S>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let settings = self.settings.clone();
        let Some(session) = request.extensions().get::<Session>().cloned() else {
            tracing::error!(
                target: "oidc_login::axum",
                code = Refusal::NOT_SET_UP.code(),
                "no session: add `oidc_login::axum::session_layer` to the router after (outside) `LoginRoutes::layer`"
            );
            let response = settings.finish(Refusal::NOT_SET_UP.respond());
            return Box::pin(async move { Ok(response) });
        };
        // Taken here, outside any nested router that strips its prefix. A
        // `Uri` shares its bytes: no copy per request.
        let here = request.uri().clone();
        request.extensions_mut().insert(Current(Arc::new(Inner {
            settings: settings.clone(),
            decoded: self.decoded.clone(),
            session,
            here,
            user: OnceCell::new(),
        })));
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?.into_response();
            Ok(settings.finish(response))
        })
    }
}

/// The request's view of the signed-in user, in its extensions.
#[derive(Debug, Clone)]
pub(crate) struct Current(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    settings: Arc<Settings>,
    decoded: Arc<DecodedUsers>,
    session: Session,
    /// The request's URI: its path and query are the place to come back
    /// to after a login.
    here: Uri,
    /// Resolved once, by the first extractor that asks; `Err` when the
    /// session store failed (logged once).
    user: OnceCell<Result<Option<Resolved>, StoreFailed>>,
}

/// A signed-in user, checked for this request.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The session's user, shared with the cache of decoded users.
    pub(crate) user: Arc<SessionUser>,
    /// The linked local account, as the store has it now (account linking on).
    pub(crate) account: Option<Account>,
}

/// The session store failed; the error was logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreFailed;

impl Current {
    /// The signed-in user, resolved on the first call of the request.
    pub(crate) async fn user(&self) -> Result<Option<&Resolved>, StoreFailed> {
        let inner = &*self.0;
        let user = inner
            .user
            .get_or_init(|| resolve(&inner.settings, &inner.decoded, &inner.session))
            .await;
        user.as_ref().map(Option::as_ref).map_err(|&failed| failed)
    }

    /// The layer's decoded users, where a sign-in leaves its user.
    pub(crate) fn decoded(&self) -> &DecodedUsers {
        &self.0.decoded
    }

    /// The request's session.
    pub(crate) fn session(&self) -> &Session {
        &self.0.session
    }

    /// The clock skew, in seconds, of the config of the provider named
    /// `provider` (an identity's [`provider_name`](crate::Identity::provider_name); `None`: the default one's).
    pub(crate) fn clock_skew_seconds(&self, provider: Option<&str>) -> u64 {
        let providers = &self.0.settings.providers;
        providers
            .of_session(provider)
            .unwrap_or_else(|| providers.first())
            .config()
            .limits()
            .clock_skew
            .as_secs()
    }

    /// The login route asking for `step_up`, coming back to this request;
    /// `login_hint` names the user who must authenticate again, at
    /// `provider` (by name; the default one without it).
    pub(crate) fn step_up_location(
        &self,
        step_up: &crate::flow::StepUp,
        login_hint: Option<&str>,
        provider: Option<&str>,
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("return_to", self.here());
        // The provider the user signed in with, when not the default one.
        if let Some(provider) =
            provider.filter(|p| *p != self.0.settings.providers.first().config().name())
        {
            query.append_pair("provider", provider);
        }
        if let Some(hint) = login_hint {
            query.append_pair("login_hint", hint);
        }
        for (name, value) in super::step_up::StepUpQuery::pairs(step_up) {
            query.append_pair(name, &value);
        }
        format!("{}?{}", self.0.settings.login_path, query.finish())
    }

    /// This request's path and query: the place to come back to.
    fn here(&self) -> &str {
        self.0.here.path_and_query().map_or("/", |pq| pq.as_str())
    }

    /// The login route, with this request as the place to come back to.
    pub(crate) fn login_location(&self) -> String {
        format!(
            "{}?{}",
            self.0.settings.login_path,
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", self.here())
                .finish()
        )
    }
}

/// Reads the session's user and checks it: its age, break-glass still on,
/// not signed out, no back-channel logout for it, its account still linked
/// (account linking on); refreshes its tokens when due, and marks the
/// session active. A user that fails a check is signed
/// out (the session flushed).
async fn resolve(
    settings: &Settings,
    decoded: &DecodedUsers,
    session: &Session,
) -> Result<Option<Resolved>, StoreFailed> {
    let store_failed = |error: tower_sessions::session::Error| {
        tracing::error!(target: "oidc_login::axum", code = Refusal::SESSION_ERROR.code(), %error, "the session store failed");
        StoreFailed
    };
    let state_failed = |error: SharedStateError| {
        tracing::error!(target: "oidc_login::axum", code = Refusal::SESSION_ERROR.code(), %error, "the shared state failed: the session is not served");
        StoreFailed
    };
    let Some(mut user) = session::user(session, Some(decoded))
        .await
        .map_err(store_failed)?
    else {
        return Ok(None);
    };
    let provider = if user.identity.break_glass {
        None
    } else {
        let Some(client) = settings.providers.of_session(user.identity.provider_name()) else {
            tracing::info!(target: "oidc_login::axum", subject = %crate::error::clip(&user.identity.subject, 256), "session ended: its provider is no longer configured");
            session.flush().await.map_err(store_failed)?;
            return Ok(None);
        };
        // A session from before identities named their provider.
        // (Copied on write: only such old sessions pay for it.)
        if user.identity.provider.is_empty() {
            Arc::make_mut(&mut Arc::make_mut(&mut user).identity).provider =
                client.config().name().to_owned();
        }
        Some(client)
    };
    let now = time::OffsetDateTime::now_utc();
    let age = now - user.signed_in_at;
    if age > settings.max_session_age || age.is_negative() {
        tracing::info!(target: "oidc_login::axum", subject = %crate::error::clip(&user.identity.subject, 256), "session ended: the sign-in is older than `max_session_age`");
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    if user.identity.break_glass && !settings.break_glass {
        tracing::warn!(target: "oidc_login::axum", "break-glass session ended: break-glass is switched off");
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    if settings
        .sign_outs
        .signed_out(&user)
        .await
        .map_err(state_failed)?
    {
        tracing::info!(target: "oidc_login::axum", subject = %crate::error::clip(&user.identity.subject, 256), "session ended: it was signed out (a request in flight at the sign-out saved it again), or it has no sign-in id (it predates them)");
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    if let Some(logouts) = &settings.logouts
        && logouts
            .ended(&user.identity, user.signed_in_at)
            .await
            .map_err(state_failed)?
    {
        tracing::info!(target: "oidc_login::axum", subject = %crate::error::clip(&user.identity.subject, 256), "session ended by a back-channel logout");
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    }
    // Before a refresh: a session that must end costs the provider nothing.
    let account = match &settings.accounts {
        Some(linker) if !user.identity.break_glass => match linked_account(linker, &user).await? {
            Some(account) => Some(account),
            None => {
                session.flush().await.map_err(store_failed)?;
                return Ok(None);
            }
        },
        _ => None,
    };
    if let (Some(refresher), Some(tokens), Some(client)) =
        (&settings.refresher, &user.tokens, provider)
        && refresher.due(tokens, now.unix_timestamp())
    {
        match refresher.refresh(client, tokens).await {
            Outcome::Refreshed(refreshed) => {
                let (identity, tokens) = *refreshed;
                let refreshed = SessionUser {
                    identity: Arc::new(identity),
                    tokens: Some(tokens),
                    ..SessionUser::clone(&user)
                };
                session::update_user(session, &refreshed)
                    .await
                    .map_err(store_failed)?;
                user = Arc::new(refreshed);
            }
            Outcome::Unavailable => {}
            Outcome::Refused => {
                session.flush().await.map_err(store_failed)?;
                return Ok(None);
            }
        }
    }
    session::touch(session).await.map_err(store_failed)?;
    Ok(Some(Resolved { user, account }))
}

/// The session's linked account, checked against the store on every
/// request, so that an admin's reset or a deleted account ends the session
/// at once rather than at its expiry. `None` (logged): the session must
/// end.
async fn linked_account(
    linker: &AccountLinker,
    user: &session::SessionUser,
) -> Result<Option<Account>, StoreFailed> {
    let Some(account_id) = &user.account else {
        tracing::info!(target: "oidc_login::axum", subject = %crate::error::clip(&user.identity.subject, 256), "session ended: it was signed in before account linking was switched on");
        return Ok(None);
    };
    match linker.still_linked(&user.identity, account_id).await {
        Ok(Some(account)) => Ok(Some(account)),
        Ok(None) => {
            tracing::warn!(
                target: "oidc_login::axum",
                account = %crate::error::clip(account_id, 64),
                subject = %crate::error::clip(&user.identity.subject, 256),
                "session ended: its account is no longer bound to this provider identity (an administrator reset the binding, or deleted the account)"
            );
            Ok(None)
        }
        Err(error) => {
            tracing::error!(target: "oidc_login::axum", code = error.code(), %error, "the account store failed: the session is not served");
            Err(StoreFailed)
        }
    }
}
