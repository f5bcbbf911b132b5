//! axum integration (feature `axum`): login routes, extractors for the
//! signed-in user, and the session glue.
//!
//! Login state and the signed-in [`Identity`](crate::Identity) live in the
//! session through [`tower-sessions`](tower_sessions), so any of its stores
//! works (memory, Redis, PostgreSQL...) and several app instances behind a
//! load balancer share logins with no store of this crate's own.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
//! use oidc_login::{Client, Config};
//! use tower_sessions::MemoryStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::discover(Config::from_file("oidc.toml")?).await?;
//! let sessions = session_layer(MemoryStore::default(), &client);
//!
//! let app = Router::new().route("/admin", get(|user: SignedIn| async move {
//!     format!("hello {}", user.identity.username.as_deref().unwrap_or("?"))
//! }));
//! // GET /login, GET+POST /callback, POST /logout, and the extractors' settings:
//! let app = LoginRoutes::new(client).mount(app).layer(sessions);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Routes
//! - `GET {prefix}/login?return_to=/path&login_hint=name`: starts a login
//!   and redirects to the provider.
//! - `GET` and `POST {prefix}/callback`: finishes it (query or
//!   `form_post`), rotates the session id, stores the identity, and
//!   redirects (303) to `return_to` or `/`. Refusals answer a short HTML page
//!   with status 400 (bad or replayed callback), 401 (token refused), 403
//!   (required claim or role policy) or 502 (provider unreachable), and an
//!   error code; the reason goes to the log on the `oidc_login::axum` target.
//! - `POST {prefix}/logout`: clears the session and redirects (303) to `/`
//!   or, with [`LoginRoutes::provider_logout`], to the provider's
//!   `end_session_endpoint`, which sends the browser back to
//!   `GET {prefix}/logged-out` (the `state` is checked there).
//! - `POST {prefix}/backchannel-logout`, with
//!   [`LoginRoutes::back_channel_logout`]: the provider's logout tokens.
//! - `GET`/`POST {prefix}/local-login`, with [`LoginRoutes::break_glass`]:
//!   the break-glass local sign-in.
//!
//! With [`LoginRoutes::refresh_before_expiry`], the extractors refresh a
//! session whose access token is about to expire before they answer.
//!
//! # Cookies
//! [`session_layer`] sets `HttpOnly`, `SameSite=Lax`, and `Secure` unless
//! the redirect URI is plain http on a loopback host. A `form_post` callback
//! arrives cross-site, without `Lax` cookies; the callback then answers with
//! a page that re-submits the same form from the app's own origin, where the
//! cookie is sent. Only the identity is stored in the session, and the
//! tokens only when refresh or sign-out at the provider needs them; the
//! session data lives in the store, server side, never in the cookie.

mod back_channel;
mod extract;
mod pages;
mod refresh;
mod routes;
mod session;

pub use back_channel::SessionIndexKey;
pub use extract::{AuthRejection, MaybeSignedIn, RequireRole, RoleName, SignedIn};
pub use pages::{break_glass_form, login_button};
pub use routes::LoginRoutes;
pub use session::session_layer;
