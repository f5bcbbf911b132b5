//! axum integration (feature `axum`): login routes, a layer that applies
//! their settings, extractors for the signed-in user, and the session glue.
//!
//! Login state and the signed-in [`Identity`](crate::Identity) live in the
//! session through [`tower_sessions`] (re-exported here), so any of its
//! stores works (Moka, Redis, PostgreSQL, SQLite...) and several app
//! instances behind a load balancer share logins with no store of this
//! crate's own; the records that must also hold across instances go to the
//! client's [`SharedState`](crate::SharedState) (see
//! [Several instances](#several-instances)).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
//! use oidc_login::{Client, Config};
//! use tower_sessions_moka_store::MokaStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::discover(Config::from_file("oidc.toml")?).await?;
//! let routes = LoginRoutes::new(client.clone());
//!
//! let app = Router::new().route("/admin", get(|user: SignedIn| async move {
//!     format!("hello {}", user.identity.username.as_deref().unwrap_or("?"))
//! }));
//! // GET /login, GET+POST /callback, POST /logout:
//! let app = routes.mount(app);
//! // After the last route: the login layer (the settings, the signed-in
//! // user), then the session layer around it.
//! // One process: at most 100,000 sessions, expired ones dropped.
//! let app = app
//!     .layer(routes.layer())
//!     .layer(session_layer(MokaStore::new(Some(100_000)), &client));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Routes
//! - `GET {prefix}/login?return_to=/path&login_hint=name&prompt=login`:
//!   starts a login and redirects to the provider (`prompt`: the values of
//!   OpenID Connect Core 3.1.2.1 only, anything else a 400); with
//!   `max_age`, `acr_values` or `auth_context`, a step-up login
//!   ([`RequireStepUp`] sends browsers there). With several providers
//!   ([`LoginRoutes::provider`]), `provider=<name>` picks one (without it,
//!   the first; an unknown name is a 400).
//! - `GET` and `POST {prefix}/callback` (another provider's:
//!   `{prefix}/callback/{name}`): finishes it (query or
//!   `form_post`), rotates the session id, stores the identity, and
//!   redirects (303) to `return_to` or `/`.
//! - `POST {prefix}/logout`: records the sign-out (so that no request of the
//!   session still in flight can bring it back), clears the session, gives
//!   it a new id (as sign-in does: the old id is never sent back) and
//!   redirects (303) to `/`
//!   or, with [`LoginRoutes::provider_logout`], to the provider's
//!   `end_session_endpoint`, which sends the browser back to
//!   `GET {prefix}/logged-out` (the `state` is checked there).
//! - `POST {prefix}/backchannel-logout`, with
//!   [`LoginRoutes::back_channel_logout`]: the provider's logout tokens.
//! - `GET`/`POST {prefix}/local-login`, with [`LoginRoutes::break_glass`]:
//!   the break-glass local sign-in.
//!
//! A route that is not switched on is not mounted (404).
//!
//! `POST {prefix}/logout` and `POST {prefix}/local-login` refuse (403,
//! `cross_origin_request`) a request sent by a page of another origin, as
//! the browser tells it in `Sec-Fetch-Site` (or, in browsers from before
//! that header, `Origin`, compared with the redirect URI's origin):
//! `SameSite=Lax` alone lets a sibling subdomain post with the session
//! cookie. A request with neither header comes from no browser page and
//! passes. The `form_post` callback arrives cross-site by design; its
//! one-time `state`, bound to the session, protects it.
//!
//! # The layer
//! [`LoginRoutes::layer`] makes the [`LoginLayer`], which applies the
//! settings to every route it wraps, whether the route was added before or
//! after [`LoginRoutes::mount`]: the login redirect (prefix included), the
//! sign-in's maximum age, back-channel logouts, refresh on demand
//! ([`LoginRoutes::refresh_before_expiry`]) and the app's refusal page. The
//! signed-in user is resolved once per request, when an extractor first
//! asks; every other extractor of the request takes the same answer. A
//! route outside the layer cannot read the user (500, and an error in the
//! log), so a route added after it is never served as if no checks
//! applied.
//!
//! # Refusals
//! A refused sign-in answers a short HTML page (plain HTML, inline CSS)
//! with status 400 (bad or replayed callback, cancelled at the provider),
//! 401 (token refused), 403 (required claim, role policy, missing role:
//! "Access denied"), 429 (break-glass rate limit), 500 (the app's client
//! credentials refused by the provider, the session store) or 502
//! (provider unreachable), and an error code. The reason goes to the log
//! on the `oidc_login::axum` target, never a token, code or secret.
//! [`LoginRoutes::refusal_page`] puts the app's own page in its place
//! ([`Refusal`]).
//!
//! Every page of the crate (refusals, the break-glass form, the `form_post`
//! re-submit page) sends a `Content-Security-Policy` that loads nothing,
//! allows only inline styles (the re-submit page: only its one script, by
//! hash), posts forms only to this origin and refuses framing
//! (`frame-ancestors 'none'`), with `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.
//! The app's refusal page gets the last three and `frame-ancestors 'none'`
//! where it sets none of its own.
//!
//! # Cookies
//! [`session_layer`] sets `HttpOnly`, `SameSite=Lax`, and `Secure` unless
//! the redirect URI is plain http on a loopback host. A `form_post` callback
//! arrives cross-site, without `Lax` cookies; the callback then answers with
//! a page that re-submits the same form from the app's own origin, where the
//! cookie is sent. Only the identity is stored in the session, and the
//! tokens only when refresh or sign-out at the provider needs them; the
//! session data lives in the store, server side, never in the cookie. An
//! active signed-in session is saved again at most once a minute, which
//! renews its inactivity expiry and its cookie.
//!
//! With [`LoginRoutes::pending_logins_in_cookie`], each login in flight has
//! a cookie of its own instead of a place in the session, sealed with the
//! app's [`PendingCookieKey`] (AES-256-GCM): the same attributes, `Max-Age`
//! the login's lifetime, removed by its callback. `GET /login` then sets no
//! session cookie and writes no session record.
//!
//! # Several instances
//! Instances that share the session store (Redis, SQL) share logins; with
//! logins in flight in sealed cookies, instances that share the
//! [`PendingCookieKey`] do. The sign-out and back-channel logout records,
//! the used logout tokens, the logins taken from sealed cookies and the
//! break-glass failure counters are kept in the client's
//! [`SharedState`](crate::SharedState): by default this process's memory,
//! so give every instance the same one, [`SessionStoreState`] on the shared
//! session store:
//!
//! ```no_run
//! # async fn run(store: impl oidc_login::axum::tower_sessions::SessionStore + Clone)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use oidc_login::axum::{LoginRoutes, SessionIndexKey, SessionStoreState, session_layer};
//! use oidc_login::{Client, Config};
//!
//! // `store`: the Redis or SQL session store every instance uses; the key,
//! // 32 random bytes or more, is the same on every instance.
//! let key = SessionIndexKey::from_env("SESSION_INDEX_KEY")?;
//! let client = Client::discover(Config::from_file("oidc.toml")?)
//!     .await?
//!     .with_shared_state(SessionStoreState::new(store.clone(), key));
//! let routes = LoginRoutes::new(client.clone()).back_channel_logout();
//! let sessions = session_layer(store, &client);
//! # let _ = (routes, sessions); Ok(()) }
//! ```

mod back_channel;
mod bearer;
#[cfg(feature = "break-glass")]
mod client_address;
mod decoded;
mod downstream;
mod extract;
mod layer;
mod origin;
mod pages;
mod pending_cookie;
mod providers;
mod refresh;
mod refusal;
mod routes;
mod session;
mod sign_out;
mod step_up;
mod store_state;

/// The `tower-sessions` this crate is built with (0.14). Take the session
/// stores and types from here, or depend on the very same version: a
/// store of another `tower-sessions` version does not implement this
/// version's `SessionStore`, and the compiler says no more than that.
/// Stores for it: `tower-sessions-moka-store` 0.15 (one process, bounded),
/// `tower-sessions-redis-store` 0.16 (Redis), `tower-sessions-sqlx-store`
/// 0.15 (PostgreSQL, MySQL, SQLite), `tower-sessions-rusqlite-store` 0.14.
///
/// ```
/// use oidc_login::axum::tower_sessions::{MemoryStore, SessionStore};
///
/// fn takes_a_store(_: impl SessionStore) {}
/// takes_a_store(MemoryStore::default());
/// ```
pub use tower_sessions;

pub use bearer::{Bearer, BearerChallenge, BearerRejection, BearerRole, BearerScope, ScopeName};
pub use downstream::UserAccessToken;
pub use extract::{AuthRejection, RequireRole, RoleName, SignedIn};
pub use layer::{LoginLayer, LoginService};
#[cfg(feature = "break-glass")]
#[cfg_attr(docsrs, doc(cfg(feature = "break-glass")))]
pub use pages::break_glass_form;
pub use pages::{login_button, logout_button, provider_login_button};
pub use pending_cookie::PendingCookieKey;
pub use refusal::Refusal;
pub use routes::LoginRoutes;
pub use session::session_layer;
pub use step_up::{RequireStepUp, StepUpPolicy};
pub use store_state::{SessionIndexKey, SessionStoreState};
