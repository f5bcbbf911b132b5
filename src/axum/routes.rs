//! [`LoginRoutes`]: the settings of the integration, the routes it mounts
//! (`GET /login`, `GET`/`POST /callback`, `POST /logout`, and those switched
//! on), and the layer that applies the settings to the app's routes.

#[cfg(feature = "break-glass")]
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ::axum::Router;
use ::axum::extract::{Extension, Query, RawForm, RawQuery, State};
use ::axum::http::HeaderMap;
use ::axum::response::{IntoResponse, Redirect, Response};
use ::axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use super::back_channel::{BackChannel, LogoutIndex, backchannel_logout};
#[cfg(feature = "break-glass")]
use super::client_address::{ClientAddress, ClientAddressFn};
use super::layer::{Current, LoginLayer, MAX_SESSION_AGE, MAX_SESSION_AGE_LIMIT, Settings};
use super::origin;
use super::pages;
use super::pending_cookie::{Outcome, PendingCookieKey, PendingCookies};
use super::providers::Providers;
use super::refresh::Refresher;
use super::refusal::{Refusal, RefusalPage};
use super::session;
use super::sign_out::SignOuts;
use crate::accounts::AccountLinker;
#[cfg(feature = "break-glass")]
use crate::break_glass::BreakGlass;
use crate::client::Client;
use crate::error::{ConfigError, Error};
use crate::flow::{Callback, Start};

/// The refresh margin of [`LoginRoutes::user_access_token`] when
/// [`LoginRoutes::refresh_before_expiry`] sets none.
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The login routes and the settings of the integration.
///
/// [`mount`](Self::mount) adds the routes to the app's router;
/// [`layer`](Self::layer) makes the layer that applies the settings to
/// every route, which the app adds after its last route (then the
/// [`session_layer`](super::session_layer)):
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
/// use tower_sessions_moka_store::MokaStore;
///
/// # fn app(client: oidc_login::Client, app: Router) -> Router {
/// let routes = LoginRoutes::new(client.clone()).prefix("/auth");
/// routes
///     .mount(app)
///     .route("/me", get(|user: SignedIn| async move { user.identity.subject.clone() }))
///     .layer(routes.layer())
///     .layer(session_layer(MokaStore::new(Some(100_000)), &client))
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LoginRoutes {
    /// The default provider's client (also the first of `providers`): its
    /// shared state and redirect URI's origin serve every provider.
    client: Client,
    /// Every provider, the default first.
    providers: Providers,
    prefix: String,
    after_logout: String,
    form_post: bool,
    max_session_age: Duration,
    refresh_margin: Option<Duration>,
    provider_logout: bool,
    /// Whether handlers may take the user's access token
    /// ([`UserAccessToken`](super::UserAccessToken)).
    user_access_token: bool,
    /// Whether back-channel logout is on.
    back_channel: bool,
    #[cfg(feature = "break-glass")]
    break_glass: Option<BreakGlass>,
    /// How the break-glass route learns the client's address.
    #[cfg(feature = "break-glass")]
    client_address: ClientAddressFn,
    refusal_page: Option<RefusalPage>,
    /// Account linking at the callback, when on.
    accounts: Option<AccountLinker>,
    /// Logins in flight in sealed cookies instead of the session, when on.
    pending_cookies: Option<PendingCookies>,
}

/// What the login routes share.
#[derive(Debug)]
struct Shared {
    /// The provider of this callback route (the default's for the others).
    client: Client,
    /// Every provider: `GET /login?provider=`, and the sign-out at the
    /// provider of the session.
    providers: Providers,
    callback_path: String,
    after_logout: String,
    form_post: bool,
    /// Keep the tokens in the session (refresh, or sign-out at the provider).
    keep_tokens: bool,
    /// The post-logout redirect URI of the `logged-out` route of each
    /// provider (in the order of `providers`), when sign-out at the
    /// provider is on and its config has one.
    provider_logout: Option<Vec<Option<String>>>,
    /// Where `POST /logout` records the sign-out.
    sign_outs: SignOuts,
    /// Account linking at the callback, when on.
    accounts: Option<AccountLinker>,
    /// Logins in flight in sealed cookies, when on (else in the session).
    pending_cookies: Option<PendingCookies>,
}

impl Shared {
    /// Where logins taken from their sealed cookies are recorded as used:
    /// the first provider's state, as for sign-outs, one record for every
    /// provider's callback route.
    fn used_logins(&self) -> Arc<dyn crate::SharedState> {
        self.providers.first().shared_state()
    }
}

/// What the break-glass routes need.
#[cfg(feature = "break-glass")]
#[derive(Debug)]
struct LocalLogin {
    client: Client,
    break_glass: BreakGlass,
    client_address: ClientAddressFn,
}

#[cfg(feature = "break-glass")]
impl ::axum::extract::FromRef<Arc<LocalLogin>> for ClientAddressFn {
    fn from_ref(local: &Arc<LocalLogin>) -> Self {
        local.client_address.clone()
    }
}

impl LoginRoutes {
    /// Whether the break-glass routes are mounted.
    fn break_glass_on(&self) -> bool {
        #[cfg(feature = "break-glass")]
        return self.break_glass.is_some();
        #[cfg(not(feature = "break-glass"))]
        false
    }

    /// Routes for this client, at `/login`, `/callback` and `/logout`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use oidc_login::axum::LoginRoutes;
    /// use oidc_login::{Client, Config};
    ///
    /// let client = Client::discover(Config::from_file("oidc.toml")?).await?;
    /// let routes = LoginRoutes::new(client);
    /// assert_eq!(routes.login_path(), "/login");
    /// # Ok(()) }
    /// ```
    pub fn new(client: Client) -> Self {
        Self {
            providers: Providers::one(client.clone()),
            client,
            prefix: String::new(),
            after_logout: "/".into(),
            form_post: false,
            max_session_age: MAX_SESSION_AGE,
            refresh_margin: None,
            provider_logout: false,
            user_access_token: false,
            back_channel: false,
            #[cfg(feature = "break-glass")]
            break_glass: None,
            #[cfg(feature = "break-glass")]
            client_address: ClientAddressFn::default(),
            refusal_page: None,
            accounts: None,
            pending_cookies: None,
        }
    }

    /// Adds another provider: a login page then offers one button per
    /// provider ([`login_buttons`](Self::login_buttons)), and
    /// `GET {prefix}/login?provider=<name>` starts a login there
    /// (`GET {prefix}/login` alone still starts at the first). Each
    /// provider is a [`Client`] of its own: its config's
    /// [`name`](crate::Config::name), redirect URI and button text, its
    /// role table. Its callback route is `{prefix}/callback/{name}` (its
    /// config's `redirect_uri` must point there), its back-channel logout
    /// route, when on, `{prefix}/backchannel-logout/{name}`. Refresh and
    /// sign-out at the provider go to the provider of each session.
    ///
    /// # Security
    /// Mix-up defence (RFC 9700 4.4): each provider has its own redirect
    /// URI, a pending login remembers its provider, and a callback is
    /// finished only by the provider the login was started with, at its
    /// own route (see the crate docs, "Several providers"). The first
    /// provider's [`SharedState`](crate::SharedState) keeps the sign-out,
    /// back-channel logout and used sealed-login records of every provider
    /// (so the warning about records kept in one process looks at it alone).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `oidc_attribute_mapping` as
    /// [`accounts`](Self::accounts) does, when account linking is on; when
    /// another provider has the same `name`
    /// or `redirect_uri`, or the redirect URI is on another origin than
    /// the first provider's (the session cookie is sent to one origin).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use oidc_login::axum::LoginRoutes;
    /// use oidc_login::{Client, Config};
    ///
    /// let entra = Config::builder("https://login.example/v2.0", "app")
    ///     .name("entra")
    ///     .redirect_uri("https://app.example/callback")
    ///     .build()?;
    /// let privx = Config::builder("https://privx.example/oidc/p1/", "app")
    ///     .name("privx")
    ///     .redirect_uri("https://app.example/callback/privx")
    ///     .build()?;
    /// let routes = LoginRoutes::new(Client::discover(entra).await?)
    ///     .provider(Client::discover(privx).await?)?;
    /// assert_eq!(routes.login_path_for("privx"), "/login?provider=privx");
    /// # Ok(()) }
    /// ```
    pub fn provider(mut self, client: Client) -> Result<Self, ConfigError> {
        if let Some(linker) = &self.accounts {
            check_mutable_subject(&client, linker)?;
        }
        self.providers.add(client)?;
        Ok(self)
    }

    /// Links every login to a local account at the callback (Axidian's
    /// model, [`AccountLinker`]): the first login finds the account by its
    /// verified email and binds the provider's `(iss, sub)` to it, later
    /// logins find it by that binding. The signed-in session holds the
    /// account's id, and the extractors give the account
    /// ([`SignedIn::account`](super::SignedIn::account)).
    ///
    /// A login that links no account is refused with its own page and
    /// error code, and the reason in the log (target `oidc_login::axum`):
    /// `account_not_found` (no account has the verified email),
    /// `account_bound_elsewhere` (the account is bound to another `sub`:
    /// an admin must [reset](AccountLinker::reset) it),
    /// `account_email_not_verified`, `account_no_email`; a failing store
    /// answers `account_store_error` (500).
    ///
    /// The link is checked against the store on every request that reads
    /// the user (one [`find_by_subject`](crate::AccountStore::find_by_subject)):
    /// an admin's reset, or a deleted account, ends the session at its next
    /// request. A session signed in before linking was switched on is ended
    /// too. Break-glass sign-ins are not linked (their `account` is `None`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `oidc_attribute_mapping` when the
    /// provider fills `sub` from a mutable attribute
    /// ([`Config::mutable_subject`](crate::Config::mutable_subject)) and the
    /// linker does not [accept it](AccountLinker::accept_mutable_sub).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use oidc_login::{AccountLinker, MemoryAccountStore};
    /// use oidc_login::axum::LoginRoutes;
    ///
    /// # fn f(client: oidc_login::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let store = Arc::new(MemoryAccountStore::new());
    /// store.add_account("alice@example.com", "Alice Admin")?;
    /// let linker = AccountLinker::new(store, client.config().claims().email_verification);
    /// let routes = LoginRoutes::new(client).accounts(linker.clone())?;
    /// // An admin-only route of the app calls `linker.reset(account_id)`.
    /// # Ok(()) }
    /// ```
    pub fn accounts(mut self, linker: AccountLinker) -> Result<Self, ConfigError> {
        for client in self.providers.all() {
            check_mutable_subject(client, &linker)?;
        }
        self.accounts = Some(linker);
        Ok(self)
    }

    /// The account linker of [`accounts`](Self::accounts), when on: the
    /// app's admin routes call [`AccountLinker::reset`] on it.
    pub fn account_linker(&self) -> Option<&AccountLinker> {
        self.accounts.as_ref()
    }

    #[cfg(feature = "break-glass")]
    #[cfg_attr(docsrs, doc(cfg(feature = "break-glass")))]
    /// Mounts the break-glass local sign-in at `GET`/`POST
    /// {prefix}/local-login` (see [`BreakGlass`]; not mounted unless this
    /// is called): a form, and its check. A success rotates the session id
    /// and signs in the identity marked
    /// [`break_glass`](crate::Identity::break_glass); a wrong password
    /// answers 401, too many failures 429. Each use is logged as a warning.
    /// Without it, the layer ends every break-glass session.
    ///
    /// Failures are counted per client address (see
    /// [`client_address`](Self::client_address)) and in all, in the
    /// client's [`SharedState`](crate::SharedState)
    /// ([`Client::with_shared_state`]), which replaces the break-glass's
    /// own: share it between instances and the limits hold for all of them.
    ///
    /// ```no_run
    /// # use oidc_login::{BreakGlass, Client};
    /// # use oidc_login::axum::LoginRoutes;
    /// # fn app(client: Client) -> LoginRoutes {
    /// let mut routes = LoginRoutes::new(client.clone());
    /// if let Some(break_glass) = BreakGlass::from_config(client.config()) {
    ///     routes = routes.break_glass(break_glass);
    /// }
    /// # routes }
    /// ```
    pub fn break_glass(mut self, break_glass: BreakGlass) -> Self {
        self.break_glass = Some(break_glass);
        self
    }

    #[cfg(feature = "break-glass")]
    #[cfg_attr(docsrs, doc(cfg(feature = "break-glass")))]
    /// How the break-glass route tells clients apart, to count their
    /// failures: by default the peer address of the connection, which axum
    /// gives when the app is served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without it,
    /// every attempt counts as from one unknown address (and a warning is
    /// logged). Behind a reverse proxy or load balancer, every peer is the
    /// proxy: read the address the proxy puts in a header, and only from a
    /// header the proxy sets itself (a client can send any header).
    ///
    /// ```no_run
    /// # fn f(routes: oidc_login::axum::LoginRoutes) -> oidc_login::axum::LoginRoutes {
    /// // The proxy overwrites `X-Real-IP` with the client's address.
    /// routes.client_address(|request| {
    ///     request.headers.get("x-real-ip")?.to_str().ok()?.parse().ok()
    /// })
    /// # }
    /// ```
    pub fn client_address(
        mut self,
        address: impl Fn(&::axum::http::request::Parts) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> Self {
        self.client_address = ClientAddressFn::new(address);
        self
    }

    #[cfg(feature = "break-glass")]
    #[cfg_attr(docsrs, doc(cfg(feature = "break-glass")))]
    /// The path of the break-glass route, for the [`break_glass_form`](super::break_glass_form).
    ///
    /// ```no_run
    /// # fn f(routes: oidc_login::axum::LoginRoutes) {
    /// let form = oidc_login::axum::break_glass_form(&routes.break_glass_path());
    /// # }
    /// ```
    pub fn break_glass_path(&self) -> String {
        format!("{}/local-login", self.prefix)
    }

    /// Refreshes a signed-in session when its access token expires within
    /// `margin` (the config's scopes need `offline_access`): the
    /// [`LoginLayer`] runs [`Client::refresh`] when an extractor first
    /// asks for the user, so the required claim and the roles are decided
    /// afresh, and a user removed from a group loses the role at the next
    /// refresh. Concurrent requests of one session share one refresh. A
    /// refused refresh ends the session (the user signs in again); a
    /// provider that cannot be reached leaves it as it is until the next
    /// try.
    ///
    /// The tokens are then kept in the session store (server side; the
    /// cookie holds only the session id). Two app instances may race to
    /// refresh the same session: with refresh token rotation, give the
    /// provider a reuse grace period or route a session to one instance.
    ///
    /// ```no_run
    /// # fn f(routes: oidc_login::axum::LoginRoutes) -> oidc_login::axum::LoginRoutes {
    /// routes.refresh_before_expiry(std::time::Duration::from_secs(60))
    /// # }
    /// ```
    pub fn refresh_before_expiry(mut self, margin: Duration) -> Self {
        self.refresh_margin = Some(margin);
        self
    }

    /// Lets handlers take the signed-in user's access token with the
    /// [`UserAccessToken`](super::UserAccessToken) extractor, to call
    /// Microsoft Graph or the app's own back-end as the user. The tokens are
    /// then kept in the session store (server side), and refreshed before
    /// they expire: with the [`refresh_before_expiry`](Self::refresh_before_expiry)
    /// margin, or 60 seconds when none is set (`offline_access` must be
    /// among the scopes for the provider to issue a refresh token).
    ///
    /// ```no_run
    /// # fn f(routes: oidc_login::axum::LoginRoutes) -> oidc_login::axum::LoginRoutes {
    /// routes.user_access_token()
    /// # }
    /// ```
    pub fn user_access_token(mut self) -> Self {
        self.user_access_token = true;
        self
    }

    /// Makes `POST {prefix}/logout` also end the session at the provider
    /// (RP-initiated logout), when its metadata has an
    /// `end_session_endpoint`: the browser is sent there with the ID token
    /// as `id_token_hint`. If the config's `post_logout_redirect_uris` has
    /// the URI of `GET {prefix}/logged-out` (on the redirect URI's origin),
    /// the provider sends the browser back there with the `state` sent
    /// along, which is checked (and otherwise only logged) before the
    /// redirect to [`after_logout`](Self::after_logout). `GET
    /// {prefix}/logged-out` is mounted only with this.
    ///
    /// The ID token is then kept in the session store.
    pub fn provider_logout(mut self) -> Self {
        self.provider_logout = true;
        self
    }

    /// Accepts back-channel logouts (OpenID Connect Back-Channel Logout
    /// 1.0) at `POST {prefix}/backchannel-logout` (not mounted unless this
    /// is called): register that URI at the provider. A valid logout token
    /// ends the sessions of its `sid` (or, when it names no `sid`, every
    /// session of its `sub` signed in until then).
    ///
    /// The logout, and the logout token's `jti` (so that a replay is
    /// refused), are recorded in the client's
    /// [`SharedState`](crate::SharedState); the [`LoginLayer`] checks each
    /// signed-in request against it (one or two reads). The default state
    /// is this process's memory: with several app instances, give the
    /// client a shared one ([`Client::with_shared_state`] with a
    /// [`SessionStoreState`](super::SessionStoreState) on the app's
    /// session store), and every instance honours a logout any of them
    /// received and refuses its replay.
    ///
    /// ```no_run
    /// # use oidc_login::axum::{LoginRoutes, SessionIndexKey, SessionStoreState};
    /// # use oidc_login::axum::tower_sessions::SessionStore;
    /// # fn f(client: oidc_login::Client, store: impl SessionStore) -> Result<LoginRoutes, oidc_login::ConfigError> {
    /// let key = SessionIndexKey::from_env("SESSION_INDEX_KEY")?;
    /// let client = client.with_shared_state(SessionStoreState::new(store, key));
    /// Ok(LoginRoutes::new(client).back_channel_logout())
    /// # }
    /// ```
    pub fn back_channel_logout(mut self) -> Self {
        self.back_channel = true;
        self
    }

    /// How long a sign-in lasts, however active the session (default 12
    /// hours, at most 30 days): after it the user signs in again, and the
    /// required claim and roles are decided afresh.
    ///
    /// A longer age is cut to 30 days, and an error is logged: the bound of
    /// NIST SP 800-63B for a sign-in without authenticating again, and it
    /// keeps the expiry of back-channel logout records in the calendar.
    pub fn max_session_age(mut self, age: Duration) -> Self {
        self.max_session_age = if age > MAX_SESSION_AGE_LIMIT {
            tracing::error!(
                target: "oidc_login::axum",
                requested_seconds = age.as_secs(),
                limit_seconds = MAX_SESSION_AGE_LIMIT.as_secs(),
                "`max_session_age` is longer than 30 days; 30 days are kept"
            );
            MAX_SESSION_AGE_LIMIT
        } else {
            age
        };
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

    /// Keeps logins in flight (`state`, `nonce`, PKCE verifier,
    /// `return_to`, provider, step-up) in cookies sealed with `key`
    /// instead of the session, so that `GET {prefix}/login` writes nothing
    /// on the server: no session record, no session cookie for an
    /// anonymous visitor, and a flood of anonymous `/login` leaves the
    /// session store as it was. The callback still signs in into the
    /// session.
    ///
    /// Each login has its own cookie, `__Host-oidc_login_pending_<tag>`
    /// (without `__Host-` when the redirect URI is plain http), where
    /// `<tag>` is the first 16 base64url characters of the SHA-256 of its
    /// `state`: `HttpOnly`, `SameSite=Lax`, `Secure` on https, `Path=/`,
    /// `Max-Age` the provider's `pending_login_lifetime_seconds`. At most 5
    /// are in flight, as in the session: `/login` removes the oldest
    /// beyond (it opens at most 16 of them, however many a request sends).
    /// The value is sealed with the `cookie` crate's private jar
    /// (AES-256-GCM, the cookie's name as associated data): the browser can
    /// neither read nor alter it, nor move it under another login's name.
    ///
    /// # Security
    /// The callback opens the login's cookie, checks its `state` in
    /// constant time and its age against `pending_login_lifetime_seconds`
    /// (whatever the cookie's `Max-Age`), removes the cookie whatever the
    /// outcome, and, once the provider redeemed the login's code, records
    /// the login as used in the (first provider's) client's
    /// [`SharedState`](crate::SharedState) until it would have expired: a
    /// cookie sent again after a login (a replay) is refused with
    /// `no_pending_login` before the token endpoint, as the session mode
    /// refuses it, on every instance sharing that state. (Recorded only
    /// then, so that callbacks with junk codes write nothing; a callback
    /// the provider refused leaves its cookie removed but unrecorded.) A
    /// failing shared state refuses the login (`session_error`). The
    /// browser keeps at most 5 logins in flight, of at most 4 KiB
    /// together (the oldest go), and the `/login` answer is `no-store`.
    ///
    /// Changing the key ends every login in flight (they are refused as
    /// `no_pending_login` and start again); a login cookie sealed with
    /// another key (another set of login routes on the same host with a
    /// key of its own) counts as junk and is the first to go when the
    /// browser has too many.
    ///
    /// With several instances, give every one the same key
    /// ([`PendingCookieKey::from_env`]) and the same shared state
    /// ([`Client::with_shared_state`]). With [`PendingCookieKey::generate`]
    /// (this process only), a login started on one instance and finished on
    /// another is refused (`no_pending_login`); with the default
    /// [`MemoryState`](crate::MemoryState), a replay at another instance is
    /// not recognised as one (it still needs the browser's cookie, and the
    /// provider refuses a code used twice).
    ///
    /// ```no_run
    /// use oidc_login::axum::{LoginRoutes, PendingCookieKey};
    ///
    /// # fn f(client: oidc_login::Client) -> Result<LoginRoutes, oidc_login::ConfigError> {
    /// // `openssl rand -base64 64`, the same on every instance.
    /// let key = PendingCookieKey::from_env("PENDING_COOKIE_KEY")?;
    /// Ok(LoginRoutes::new(client).pending_logins_in_cookie(key))
    /// # }
    /// ```
    pub fn pending_logins_in_cookie(mut self, key: PendingCookieKey) -> Self {
        let secure = self.client.config().redirect_uri().scheme() == "https";
        self.pending_cookies = Some(PendingCookies::new(key, secure));
        self
    }

    /// Mounts the routes under `prefix`, such as `/auth` (default: none).
    /// The config's `redirect_uri` must then end in `{prefix}/callback`.
    /// The [`LoginLayer`] sends signed-out browsers to `{prefix}/login`
    /// from every route it wraps.
    ///
    /// ```no_run
    /// # fn f(client: oidc_login::Client) {
    /// let routes = oidc_login::axum::LoginRoutes::new(client).prefix("auth/");
    /// assert_eq!(routes.login_path(), "/auth/login");
    /// assert_eq!(routes.logout_path(), "/auth/logout");
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let prefix = prefix.trim_matches('/');
        // axum routes start with `/`: `auth`, `/auth` and `/auth/` are one prefix.
        self.prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        };
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

    /// Answers refusals with the app's own page instead of the default
    /// one: `page` gets the [`Refusal`] (status, error code, title and a
    /// sentence, all safe to show) and returns the response, which should
    /// keep the refusal's status. It serves the login routes' refusals and
    /// the extractors' (a missing role, a failing session store), through
    /// the [`LoginLayer`]. The detail of each refusal is logged either way.
    /// A page without a `Cache-Control` header gets `no-store`; without
    /// `Content-Security-Policy`, `X-Frame-Options`, `Referrer-Policy` or
    /// `X-Content-Type-Options`, `frame-ancestors 'none'`, `DENY`,
    /// `no-referrer` and `nosniff`.
    ///
    /// ```no_run
    /// use axum::response::{Html, IntoResponse};
    /// # fn f(routes: oidc_login::axum::LoginRoutes) -> oidc_login::axum::LoginRoutes {
    /// routes.refusal_page(|refusal| {
    ///     let html = format!(
    ///         "<h1>{}</h1><p>{}</p><p>Quote <code>{}</code> to the help desk.</p>",
    ///         html_escape::encode_text(refusal.title()),
    ///         html_escape::encode_text(refusal.message()),
    ///         html_escape::encode_text(refusal.code()),
    ///     );
    ///     (refusal.status(), Html(html)).into_response()
    /// })
    /// # }
    /// ```
    pub fn refusal_page(
        mut self,
        page: impl Fn(&Refusal) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.refusal_page = Some(RefusalPage::new(page));
        self
    }

    /// The path of the login route, for links and the [`login_button`](super::login_button).
    pub fn login_path(&self) -> String {
        format!("{}/login", self.prefix)
    }

    /// The path that starts a login at the provider named `name`:
    /// `{prefix}/login?provider={name}`.
    pub fn login_path_for(&self, name: &str) -> String {
        let query: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        format!("{}/login?provider={query}", self.prefix)
    }

    /// The sign-in buttons of the login page, one per provider, each with
    /// its config's [`login_button_text`](crate::Config::login_button_text),
    /// the default first. With one provider, the very
    /// [`login_button`](super::login_button) of `GET {prefix}/login`;
    /// with several, [`provider_login_button`](super::provider_login_button)s.
    pub fn login_buttons(&self) -> String {
        let login_path = self.login_path();
        match self.providers.all() {
            [one] => pages::login_button(one.config().login_button_text(), &login_path),
            all => all
                .iter()
                .map(|client| {
                    pages::provider_login_button(
                        client.config().login_button_text(),
                        &login_path,
                        client.config().name(),
                    )
                })
                .collect(),
        }
    }

    /// The providers' clients, the default (first) first: what a login
    /// page shows of each (its issuer, its role table).
    pub fn providers(&self) -> &[Client] {
        self.providers.all()
    }

    /// The names of the providers, the default (first) first.
    pub fn provider_names(&self) -> Vec<&str> {
        self.providers.names()
    }

    /// The path of the logout route (`POST` only), for the
    /// [`logout_button`](super::logout_button).
    ///
    /// ```no_run
    /// # fn f(routes: oidc_login::axum::LoginRoutes) -> String {
    /// oidc_login::axum::logout_button("Sign out", &routes.logout_path())
    /// # }
    /// ```
    pub fn logout_path(&self) -> String {
        format!("{}/logout", self.prefix)
    }

    /// The record of back-channel logouts, when switched on: records live
    /// as long as a sign-in may.
    fn logout_index(&self) -> Option<LogoutIndex> {
        self.back_channel
            .then(|| LogoutIndex::new(self.client.shared_state(), self.max_session_age))
    }

    fn sign_outs(&self) -> SignOuts {
        SignOuts::new(self.client.shared_state(), self.max_session_age)
    }

    /// The layer that applies these settings to every route it wraps
    /// ([`LoginLayer`]): add it after the app's last route, and the
    /// [`session_layer`](super::session_layer) after it. Routes outside it
    /// cannot read the signed-in user: their extractors answer 500.
    pub fn layer(&self) -> LoginLayer {
        if (self.back_channel || self.break_glass_on() || self.pending_cookies.is_some())
            && self.client.shared_state().is_per_process()
        {
            tracing::warn!(
                target: "oidc_login::axum",
                "back-channel logout records, used logout tokens, break-glass failures and the logins taken from their cookies are kept in this process only: with several app instances, give every one the same `Client::with_shared_state` (for example `SessionStoreState` on the session store)"
            );
        }
        LoginLayer::new(Settings {
            login_path: self.login_path(),
            providers: self.providers.clone(),
            max_session_age: self.max_session_age,
            refresher: self
                .refresh_margin
                .or(self.user_access_token.then_some(DEFAULT_REFRESH_MARGIN))
                .map(Refresher::new),
            logouts: self.logout_index(),
            sign_outs: self.sign_outs(),
            break_glass: cfg!(feature = "break-glass") && self.break_glass_on(),
            refusal_page: self.refusal_page.clone(),
            accounts: self.accounts.clone(),
        })
    }

    /// Adds the routes to `app`: `GET {prefix}/login`, `GET` and `POST
    /// {prefix}/callback`, `POST {prefix}/logout`, and those switched on
    /// (`GET {prefix}/logged-out`, `POST {prefix}/backchannel-logout`,
    /// `GET`/`POST {prefix}/local-login`); a route that is off is not
    /// there at all. Routes may be added to `app` before or after this; add
    /// [`layer`](Self::layer) after the last one.
    pub fn mount<S: Clone + Send + Sync + 'static>(&self, app: Router<S>) -> Router<S> {
        let logged_out_path = format!("{}/logged-out", self.prefix);
        let provider_logout = self.provider_logout.then(|| {
            self.providers
                .all()
                .iter()
                .map(|client| provider_logout_uri(client, &logged_out_path))
                .collect::<Vec<_>>()
        });
        // One callback route per provider, each with its own client: the
        // first's `Shared` also serves the routes all providers share.
        let shared: Vec<Arc<Shared>> = (0..self.providers.all().len())
            .map(|index| {
                let client = self.providers.all()[index].clone();
                let callback_path = self.providers.path(&self.prefix, "callback", index);
                if client.config().redirect_uri().path() != callback_path {
                    tracing::warn!(
                        target: "oidc_login::axum",
                        provider = client.config().name(),
                        redirect_uri = %client.config().redirect_uri(),
                        callback_path,
                        "the config's `redirect_uri` does not point at the callback route; logins will not come back here"
                    );
                }
                Arc::new(Shared {
                    client,
                    providers: self.providers.clone(),
                    callback_path,
                    after_logout: self.after_logout.clone(),
                    form_post: self.form_post,
                    keep_tokens: self.refresh_margin.is_some()
                        || self.provider_logout
                        || self.user_access_token,
                    provider_logout: provider_logout.clone(),
                    sign_outs: self.sign_outs(),
                    accounts: self.accounts.clone(),
                    pending_cookies: self.pending_cookies.clone(),
                })
            })
            .collect();
        let mut routes = Router::new()
            .route(&self.login_path(), get(login))
            .route(&self.logout_path(), post(logout));
        if provider_logout.is_some() {
            routes = routes.route(&logged_out_path, get(logged_out));
        }
        let mut routes: Router<S> = routes.with_state(shared[0].clone());
        for shared in &shared {
            routes = routes.merge(
                Router::new()
                    .route(&shared.callback_path, get(callback_get).post(callback_post))
                    .with_state(shared.clone()),
            );
        }
        #[cfg(feature = "break-glass")]
        if let Some(break_glass) = &self.break_glass {
            let local = Arc::new(LocalLogin {
                client: self.client.clone(),
                break_glass: break_glass
                    .clone()
                    .with_shared_state(self.client.shared_state()),
                client_address: self.client_address.clone(),
            });
            routes = routes.merge(
                Router::new()
                    .route(
                        &self.break_glass_path(),
                        get(local_login_form).post(local_login),
                    )
                    .with_state(local),
            );
        }
        if let Some(index) = self.logout_index() {
            // One route per provider: each checks logout tokens with its
            // own client (issuer, audience, keys).
            for (i, client) in self.providers.all().iter().enumerate() {
                let back_channel = Arc::new(BackChannel {
                    client: client.clone(),
                    index: index.clone(),
                });
                routes = routes.merge(
                    Router::new()
                        .route(
                            &self.providers.path(&self.prefix, "backchannel-logout", i),
                            post(backchannel_logout),
                        )
                        .with_state(back_channel),
                );
            }
        }
        app.merge(routes)
    }
}

/// Account linking keyed on a `sub` the provider fills from a mutable
/// attribute is refused unless the linker accepts it by name.
fn check_mutable_subject(client: &Client, linker: &AccountLinker) -> Result<(), ConfigError> {
    if let Some(attribute) = client.config().mutable_subject() {
        let attribute = crate::error::clip(attribute, 64);
        if !linker.accepts_mutable_sub() {
            return Err(ConfigError::Invalid {
                field: "oidc_attribute_mapping",
                reason: format!(
                    "maps the attribute `{attribute}` to `sub`, so `sub` changes when `{attribute}` does, and account linking keyed on `sub` would lock users out or hand an account to whoever gets the attribute next; remove the mapping at the provider, or accept it by name with `AccountLinker::accept_mutable_sub()`"
                ),
            });
        }
        tracing::warn!(
            target: "oidc_login::axum",
            attribute,
            "account linking keyed on a mutable `sub` (the provider fills it from this attribute), accepted by the app with `accept_mutable_sub`: an account follows the attribute's value"
        );
    }
    Ok(())
}

/// The post-logout redirect URI of `client`'s config that points at the
/// logged-out route, with warnings when sign-out at its provider cannot
/// come back or cannot happen.
fn provider_logout_uri(client: &Client, logged_out_path: &str) -> Option<String> {
    let uri = client
        .config()
        .post_logout_redirect_uris()
        .iter()
        .find(|uri| uri.path() == logged_out_path)
        .map(|uri| uri.to_string());
    if uri.is_none() {
        tracing::warn!(
            target: "oidc_login::axum",
            provider = client.config().name(),
            logged_out_path,
            "sign-out at the provider: no `post_logout_redirect_uris` entry points at the logged-out route, so the provider will not send the browser back"
        );
    }
    if client.end_session_endpoint().is_none() {
        tracing::warn!(
            target: "oidc_login::axum",
            provider = client.config().name(),
            "sign-out at the provider: the provider has no `end_session_endpoint`; `/logout` ends the local session only"
        );
    }
    uri
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
    /// Checked by `Client::start` against OpenID Connect Core 3.1.2.1's
    /// values; anything else is a 400.
    prompt: Option<String>,
    #[serde(flatten)]
    step_up: super::step_up::StepUpQuery,
    /// The provider's name; the first provider without it.
    provider: Option<String>,
}

async fn login(
    State(shared): State<Arc<Shared>>,
    session: Session,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let mut response = start_login(&shared, &session, &headers, query).await;
    // The redirect carries a login of its own (its `state`, and in cookie
    // mode the sealed login): no cache may keep it and hand it to others.
    response.headers_mut().insert(
        ::axum::http::header::CACHE_CONTROL,
        ::axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET {prefix}/login` but for its `Cache-Control`.
async fn start_login(
    shared: &Shared,
    session: &Session,
    headers: &HeaderMap,
    query: LoginQuery,
) -> Response {
    let Some(client) = shared.providers.pick(query.provider.as_deref()) else {
        return shared.providers.unknown();
    };
    let mut options = Start::default();
    if let Some(path) = query.return_to {
        options = options.return_to(path);
    }
    if let Some(hint) = query.login_hint {
        options = options.login_hint(hint);
    }
    if let Some(prompt) = query.prompt {
        options = options.prompt(prompt);
    }
    if shared.form_post {
        options = options.form_post();
    }
    match query.step_up.step_up() {
        Ok(Some(step_up)) => options = options.step_up(step_up),
        Ok(None) => {}
        Err(error) => return refuse(&error.into()),
    }
    let (url, pending) = match client.start(options) {
        Ok(started) => started,
        Err(error) => return refuse(&error),
    };
    let lifetime = client.config().limits().pending_login_lifetime;
    if let Some(cookies) = &shared.pending_cookies {
        // Nothing on the server: the session is not touched.
        let Some(set) = cookies.start(headers, pending, lifetime, client.clock()) else {
            return refuse(
                &crate::error::StartError::InvalidParameter {
                    name: "return_to",
                    reason: "is too long to keep in the login's cookie",
                }
                .into(),
            );
        };
        let mut response = Redirect::to(url.as_str()).into_response();
        super::pending_cookie::append(&mut response, set);
        return response;
    }
    if let Err(error) = session::push_pending(session, pending, lifetime).await {
        return session_failure(&error);
    }
    Redirect::to(url.as_str()).into_response()
}

async fn callback_get(
    State(shared): State<Arc<Shared>>,
    session: Session,
    current: Option<Extension<Current>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match Callback::from_query(query.as_deref().unwrap_or_default()) {
        Ok(callback) => finish(&shared, &session, current, &headers, callback).await,
        Err(error) => refuse_login(&shared, &error.into()),
    }
}

async fn callback_post(
    State(shared): State<Arc<Shared>>,
    session: Session,
    current: Option<Extension<Current>>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let callback = match Callback::from_form(&body) {
        Ok(callback) => callback,
        Err(error) => return refuse_login(&shared, &error.into()),
    };
    // A cross-site form_post arrives without the SameSite=Lax cookie: answer
    // with a page that posts the same form again from this origin, once.
    if callback.get(pages::RESUBMITTED).is_none()
        && !has_pending(&shared, &session, &headers, &callback).await
    {
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        return pages::resubmit(&shared.callback_path, &fields);
    }
    finish(&shared, &session, current, &headers, callback).await
}

/// Whether this browser sent a login in flight for the callback: the
/// login's cookie (cookie mode), or any in the session.
async fn has_pending(
    shared: &Shared,
    session: &Session,
    headers: &HeaderMap,
    callback: &Callback,
) -> bool {
    match &shared.pending_cookies {
        Some(cookies) => callback
            .get("state")
            .is_some_and(|state| cookies.has(headers, state)),
        None => session::has_pending(session).await,
    }
}

/// Finishes the login of `callback`; `current` is what the login layer left
/// in the request (it is not there when the layer is missing).
async fn finish(
    shared: &Shared,
    session: &Session,
    current: Option<Extension<Current>>,
    headers: &HeaderMap,
    callback: Callback,
) -> Response {
    let Some(state) = callback.get("state") else {
        return refuse_login(
            shared,
            &crate::error::CallbackError::MissingParameter("state").into(),
        );
    };
    let Some(cookies) = &shared.pending_cookies else {
        return match session::take_pending(session, state).await {
            Ok(Some(pending)) => {
                finish_pending(shared, session, current, pending, None, callback).await
            }
            Ok(None) => no_pending_login(
                shared,
                "no login in flight in this session matches its state (replayed, expired, started in another browser, or the session cookie was not sent)",
            ),
            Err(error) => session_failure(&error),
        };
    };
    let taken = cookies
        .take(
            headers,
            state,
            |provider| {
                let client = shared.providers.of_session(provider);
                *client.unwrap_or(&shared.client).config().limits()
            },
            shared.used_logins().as_ref(),
            shared.client.clock(),
        )
        .await;
    let mut response = match taken.outcome {
        Outcome::Login(pending, used) => {
            finish_pending(shared, session, current, *pending, Some(used), callback).await
        }
        Outcome::Refused(why) => no_pending_login(shared, why),
        Outcome::StateFailed(error) => used_login_failure(&error),
    };
    // Used up, whatever the outcome, as a session's pending login is.
    super::pending_cookie::append(&mut response, taken.removal.into_iter().collect());
    response
}

/// A callback refused because the shared state failed: a login taken from
/// its cookie cannot be checked or recorded as used (fail closed).
fn used_login_failure(error: &crate::error::SharedStateError) -> Response {
    tracing::error!(target: "oidc_login::axum", code = Refusal::SESSION_ERROR.code(), %error, "callback refused: the shared state failed, so the login cannot be checked or recorded as used");
    Refusal::SESSION_ERROR.respond()
}

/// A callback that finds no login in flight: `why` goes to the log.
fn no_pending_login(shared: &Shared, why: &str) -> Response {
    tracing::warn!(
        target: "oidc_login::axum",
        code = Refusal::NO_PENDING_LOGIN.code(),
        "callback refused: {why}"
    );
    crate::telemetry::login_refused(shared.client.issuer(), Refusal::NO_PENDING_LOGIN.code());
    Refusal::NO_PENDING_LOGIN.respond()
}

/// The callback of a login in flight, taken; `used` is the record to
/// write, once the provider redeemed the code, of a login taken from its
/// sealed cookie (a session's pending login is used up when taken).
async fn finish_pending(
    shared: &Shared,
    session: &Session,
    current: Option<Extension<Current>>,
    pending: crate::flow::PendingLogin,
    used: Option<super::pending_cookie::UsedLogin>,
    callback: Callback,
) -> Response {
    // Mix-up defence: a login is finished only at the callback route of
    // the provider it was started with (a pending login without a name
    // is the default provider's), and by that provider's client only.
    let expected = shared.client.config().name();
    let started_with = pending
        .provider()
        .unwrap_or_else(|| shared.providers.first().config().name());
    if started_with != expected {
        return refuse_login(
            shared,
            &crate::error::CallbackError::WrongProviderName {
                pending: started_with.to_owned(),
                client: expected.to_owned(),
            }
            .into(),
        );
    }
    let step_up = pending.step_up().cloned();
    match shared.client.finish(pending, callback).await {
        Ok(login) => {
            if let Some(used) = used {
                match used.record(shared.used_logins().as_ref()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return no_pending_login(shared, super::pending_cookie::REPLAYED);
                    }
                    Err(error) => return used_login_failure(&error),
                }
            }
            let account = match &shared.accounts {
                Some(linker) => match linker.link(&login.identity).await {
                    Ok(account) => Some(account.id),
                    Err(error) => return refuse_login(shared, &error.into()),
                },
                None => None,
            };
            let to = login.return_to.clone().unwrap_or_else(|| "/".into());
            let tokens = shared.keep_tokens.then_some(login.tokens);
            let decoded = current.as_ref().map(|Extension(current)| current.decoded());
            if let Err(error) =
                session::sign_in(session, login.identity, tokens, account, decoded).await
            {
                return session_failure(&error);
            }
            if let Some(step_up) = step_up
                && let Err(error) = super::step_up::remember(session, step_up).await
            {
                return session_failure(&error);
            }
            Redirect::to(&to).into_response()
        }
        // Counted by `Client::finish`.
        Err(error) => refuse(&error),
    }
}

/// A callback refused here rather than by `Client::finish`: counted in
/// `oidc_login_logins_refused_total` as `finish` counts its own. (An account
/// linking refusal comes after `finish` counted the login as finished.)
fn refuse_login(shared: &Shared, error: &Error) -> Response {
    crate::telemetry::login_refused(shared.client.issuer(), error.code());
    refuse(error)
}

/// `POST {prefix}/logout`, in a `tracing` span `oidc_login.sign_out`
/// with the provider's issuer.
async fn logout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let span = tracing::info_span!(
        target: "oidc_login::axum",
        "oidc_login.sign_out",
        issuer = shared.client.issuer(),
        // The session's provider, recorded once the session is read.
        provider = tracing::field::Empty
    );
    tracing::Instrument::instrument(sign_out(&shared, headers, session), span).await
}

async fn sign_out(shared: &Shared, headers: HeaderMap, session: Session) -> Response {
    if let Err(refused) = origin::check(&headers, shared.client.config().redirect_uri()) {
        return cross_origin(&refused);
    }
    let user = session::user(&session, None).await.ok().flatten();
    // Recorded first, so that no request in flight can undo it; the
    // session is flushed even when the record fails.
    let recorded = match &user {
        Some(user) => shared.sign_outs.record(user).await,
        None => Ok(()),
    };
    if let Err(error) = session.flush().await {
        return session_failure(&error);
    }
    // The provider the session signed in with: its tokens go back to it
    // only (revocation, `end_session`), never to another provider.
    let provider = user.as_ref().and_then(|user| {
        shared
            .providers
            .index_of_session(user.identity.provider_name())
    });
    if let Some(index) = provider {
        let name = shared.providers.all()[index].config().name();
        tracing::Span::current().record("provider", name);
    }
    if let (Some(index), Some(tokens)) = (
        provider,
        user.as_ref().and_then(|user| user.tokens.as_ref()),
    ) {
        revoke_at_sign_out(&shared.providers.all()[index], tokens).await;
    }
    // A new session id, as at sign-in: the response never echoes the old
    // one. Only for a signed-in user (whose provider logout's `state` may
    // follow): an anonymous sign-out saves nothing, so a flood of them
    // cannot fill the store.
    if user.is_some()
        && let Err(error) = super::sign_out::renew_id(&session).await
    {
        return session_failure(&error);
    }
    if let Err(error) = recorded {
        tracing::error!(target: "oidc_login::axum", code = Refusal::SESSION_ERROR.code(), %error, "signed out, but the sign-out could not be recorded: a request of the session still in flight may bring it back");
        return Refusal::SESSION_ERROR.respond();
    }
    tracing::debug!(target: "oidc_login::axum", signed_in = user.is_some(), "signed out here");
    let Some(return_uris) = &shared.provider_logout else {
        return Redirect::to(&shared.after_logout).into_response();
    };
    let Some((client, return_uri, id_token)) = provider.zip(user).and_then(|(index, user)| {
        let id_token = user.tokens.as_ref()?.id_token.clone();
        Some((
            &shared.providers.all()[index],
            &return_uris[index],
            id_token,
        ))
    }) else {
        // Nobody was signed in (or signed in before this was switched on,
        // or at a provider no longer configured).
        return Redirect::to(&shared.after_logout).into_response();
    };
    match client.logout_url(Some(&id_token), return_uri.as_deref()) {
        Ok(logout) => {
            if let Some(state) = &logout.state
                && let Err(error) = session::keep_logout_state(&session, state).await
            {
                return session_failure(&error);
            }
            Redirect::to(logout.url.as_str()).into_response()
        }
        Err(error) => {
            tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "signed out here, but not at the provider");
            Redirect::to(&shared.after_logout).into_response()
        }
    }
}

/// Revokes the signed-out session's tokens at the provider's
/// `revocation_endpoint` (RFC 7009), when it has one: the refresh token
/// first, then the access token. A failure is logged and the sign-out goes
/// on (the session is already gone here); it waits at most the HTTP
/// timeout per token.
async fn revoke_at_sign_out(client: &Client, tokens: &crate::client::Tokens) {
    if client.revocation_endpoint().is_none() {
        return;
    }
    match client.revoke(tokens).await {
        Ok(()) => {
            tracing::debug!(target: "oidc_login::axum", "the signed-out session's tokens were revoked at the provider");
        }
        Err(error) => {
            tracing::warn!(target: "oidc_login::axum", code = error.code(), %error, "signed out, but the tokens could not be revoked at the provider; they stay valid until they expire");
        }
    }
}

#[cfg(feature = "break-glass")]
/// `GET {prefix}/local-login`: the break-glass form, posting to itself.
async fn local_login_form(uri: ::axum::http::Uri) -> Response {
    pages::break_glass_page(uri.path())
}

#[cfg(feature = "break-glass")]
#[derive(Deserialize)]
struct LocalLoginForm {
    username: String,
    password: String,
    return_to: Option<String>,
}

#[cfg(feature = "break-glass")]
/// `POST {prefix}/local-login`: the break-glass check, then a signed-in
/// session like a provider's login.
async fn local_login(
    State(local): State<Arc<LocalLogin>>,
    headers: HeaderMap,
    ClientAddress(from): ClientAddress,
    session: Session,
    ::axum::extract::Form(form): ::axum::extract::Form<LocalLoginForm>,
) -> Response {
    let LocalLogin {
        client,
        break_glass,
        ..
    } = &*local;
    // Before the password check: a cross-origin guess costs no attempt.
    if let Err(refused) = origin::check(&headers, client.config().redirect_uri()) {
        return cross_origin(&refused);
    }
    let to = match form.return_to.as_deref().filter(|to| !to.is_empty()) {
        None => "/".to_owned(),
        Some(to) => match crate::flow::safe_return_to(to, client.config().redirect_uri()) {
            Ok(to) => to,
            Err(error) => return refuse(&error.into()),
        },
    };
    match break_glass
        .sign_in(&form.username, &form.password, from)
        .await
    {
        Ok(identity) => {
            if let Err(error) = session::sign_in(&session, identity, None, None, None).await {
                return session_failure(&error);
            }
            Redirect::to(&to).into_response()
        }
        Err(error) => refuse(&error.into()),
    }
}

#[derive(Deserialize)]
struct LoggedOutQuery {
    state: Option<String>,
}

/// The provider's return from its logout: the `state` is checked and used
/// up, and the browser goes on to `after_logout` either way (a logout has
/// nothing left to protect; a mismatch is worth a log line).
async fn logged_out(
    State(shared): State<Arc<Shared>>,
    session: Session,
    Query(query): Query<LoggedOutQuery>,
) -> Response {
    match session::take_logout_state(&session, query.state.as_deref()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            target: "oidc_login::axum",
            code = "logout_state_mismatch",
            "the return from the provider's logout carries no or another `state` than the one sent"
        ),
        Err(error) => return session_failure(&error),
    }
    Redirect::to(&shared.after_logout).into_response()
}

/// Logs why a login, sign-out or break-glass attempt was refused, and
/// answers with the page for it.
fn refuse(error: &Error) -> Response {
    let refusal = Refusal::from_error(error);
    // The detail for the operator; the browser gets the code only.
    tracing::warn!(target: "oidc_login::axum", code = refusal.code(), status = refusal.status().as_u16(), %error, "login refused");
    refusal.respond()
}

/// Logs a POST refused for coming from another origin, and answers 403.
fn cross_origin(refused: &origin::CrossOrigin) -> Response {
    tracing::warn!(
        target: "oidc_login::axum",
        code = Refusal::CROSS_ORIGIN.code(),
        header = refused.header,
        value = %refused.value,
        "request refused: it was posted from a page of another origin (a sibling subdomain, or another site)"
    );
    Refusal::CROSS_ORIGIN.respond()
}

fn session_failure(error: &tower_sessions::session::Error) -> Response {
    tracing::error!(target: "oidc_login::axum", code = Refusal::SESSION_ERROR.code(), %error, "the session store failed");
    Refusal::SESSION_ERROR.respond()
}
