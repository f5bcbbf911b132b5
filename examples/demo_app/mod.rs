//! The demo's own pages and wiring, shared by `examples/demo.rs` and the
//! tests (`tests/demo.rs`, `tests/browser.rs`), so that they drive the very
//! app the demo serves.
//!
//! Routes: `GET /` (the button, or who you are), `GET /me` (JSON, or 401),
//! `GET /api/me` (the caller of a bearer access token for [`DEMO_API`], as
//! JSON; RFC 6750 refusals), `GET /recent` (a step-up: JSON, for a sign-in
//! within the last five minutes; an older one signs in again and comes
//! back) and `GET /metrics` (the crate's metrics in Prometheus text form),
//! plus the login routes of [`LoginRoutes`], under the prefix of the config's
//! `redirect_uri` (none with the embedded provider; `/auth` for
//! `https://app.example.com/auth/callback`). The pages' HTML is in
//! `pages.rs`, their stylesheet in `style.css`.

#![allow(dead_code)] // each user of this file needs a different part

mod pages;

pub use pages::{Page, refusal_page};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use oidc_login::axum::{
    Bearer, LoginRoutes, PendingCookieKey, RequireStepUp, SignedIn, StepUpPolicy, break_glass_form,
    session_layer,
};
use oidc_login::testing::{TestClient, TestClientAuth, TestProvider};
use oidc_login::{
    AccountLinker, AccountStore, AccountsSettings, Api, BreakGlass, Client, ClientAuth, Config,
    ConfigError, MemoryAccountStore, RoleMapping, Source, SqliteAccountStore,
};
use time::OffsetDateTime;
use tower_sessions_moka_store::MokaStore;
use url::Url;

/// Where the demo listens unless `DEMO_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// How to call the demo.
pub const USAGE: &str = "usage: demo [--config FILE]  (environment: DEMO_ADDR=127.0.0.1:8080)";

/// What the demo was asked for: `DEMO_ADDR` and the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The address to listen on (port 0 picks a free one).
    pub addr: SocketAddr,
    /// `--config FILE`: the provider FILE describes. `None` starts the
    /// embedded provider (development mode).
    pub config_file: Option<PathBuf>,
}

impl Options {
    /// From `DEMO_ADDR` and the process's arguments.
    pub fn from_env() -> Result<Self, String> {
        Self::parse(
            std::env::var("DEMO_ADDR").ok().as_deref(),
            std::env::args().skip(1),
        )
    }

    /// From the value of `DEMO_ADDR` (unset or empty: [`DEFAULT_ADDR`]) and
    /// the arguments after the program name.
    pub fn parse(
        demo_addr: Option<&str>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let addr = demo_addr
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .unwrap_or(DEFAULT_ADDR);
        let addr = addr.parse().map_err(|e| {
            format!("DEMO_ADDR `{addr}` is not an IP address and port such as 127.0.0.1:8080: {e}")
        })?;
        let args: Vec<String> = args.into_iter().collect();
        let config_file = match args.as_slice() {
            [] => None,
            [flag, path] if flag == "--config" && !path.is_empty() => Some(PathBuf::from(path)),
            _ => return Err(USAGE.to_owned()),
        };
        Ok(Self { addr, config_file })
    }
}

/// The prefix of the login routes for `redirect_uri`: its path without the
/// final `/callback` (`/auth` for `https://app.example.com/auth/callback`).
/// Also what looks wrong for an app listening on `addr`: a `redirect_uri`
/// that does not end in `/callback` (then no prefix), or on another port.
pub fn routes_prefix(redirect_uri: &Url, addr: SocketAddr) -> (String, Vec<String>) {
    let mut warnings = Vec::new();
    let prefix = match redirect_uri.path().strip_suffix("/callback") {
        Some(prefix) => prefix.to_owned(),
        None => {
            warnings.push(format!(
                "the config's `redirect_uri` ({redirect_uri}) does not end in `/callback`; the demo \
                 serves its callback at `/callback`, so logins will not come back: set \
                 `redirect_uri` to `http://{addr}/callback` (or `<prefix>/callback`)"
            ));
            String::new()
        }
    };
    if let Some(port) = redirect_uri.port_or_known_default()
        && port != addr.port()
    {
        warnings.push(format!(
            "the demo listens on port {} (DEMO_ADDR) but the config's `redirect_uri` ({redirect_uri}) \
             is on port {port}; unless a proxy forwards it, logins will not come back: set \
             DEMO_ADDR to port {port} or change `redirect_uri`",
            addr.port()
        ));
    }
    (prefix, warnings)
}

/// How the demo prints an error: its message, then each cause on a line of
/// its own. Never `Debug`, which is for developers and can be long.
pub fn error_report(error: &dyn std::error::Error) -> String {
    let mut text = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  because: {cause}"));
        source = cause.source();
    }
    text
}

/// The demo, listening and wired, not yet serving.
pub struct Demo {
    /// The bound listener.
    pub listener: tokio::net::TcpListener,
    /// The whole app.
    pub app: Router,
    /// `http://<address>/`.
    pub url: String,
    /// The embedded provider, in development mode: the Entra-like one
    /// (the first, default provider).
    pub provider: Option<TestProvider>,
    /// The other embedded providers in development mode: the PrivX-like one.
    pub other_providers: Vec<TestProvider>,
    /// What looked wrong at start-up (each also logged as a warning).
    pub warnings: Vec<String>,
    /// In development mode, how to call `GET /api/me` with a token from
    /// the embedded provider (printed by `examples/demo.rs`).
    pub banner: Vec<String>,
}

impl Demo {
    /// Listens on `options.addr`, loads the config (or starts the embedded
    /// provider) and discovers the provider.
    pub async fn start(options: &Options) -> Result<Demo, Box<dyn std::error::Error>> {
        // Before the first discovery, so that its key set fetch counts.
        prometheus();
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| format!("cannot listen on {} (DEMO_ADDR): {e}", options.addr))?;
        let addr = listener.local_addr()?;
        let (configs, provider, other_providers) = match &options.config_file {
            Some(path) => (Config::providers_from_file(path)?, None, Vec::new()),
            None => {
                let (entra, privx) = embedded_providers().await;
                let configs = vec![
                    embedded_config(&entra, format!("http://{addr}/callback"))?,
                    embedded_privx_config(&privx, &format!("http://{addr}"))?,
                ];
                (configs, Some(entra), vec![privx])
            }
        };
        for provider in provider.iter().chain(&other_providers) {
            tracing::warn!(
                issuer = provider.issuer(),
                "DEVELOPMENT MODE: signing in through an embedded test provider, which lets anyone sign in as alice or bob"
            );
        }
        let mut configs = configs.into_iter();
        let config = configs.next().ok_or("the config file holds no provider")?;
        let (prefix, warnings) = routes_prefix(config.redirect_uri(), addr);
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let accounts = match config.accounts() {
            Some(settings) => Some(account_store(settings).await?),
            None => None,
        };
        let client = Client::discover(config).await?;
        let mut routes = LoginRoutes::new(client.clone()).prefix(prefix);
        for config in configs {
            routes = routes.provider(Client::discover(config).await?)?;
        }
        if let Some(store) = accounts {
            let linker = AccountLinker::new(store, client.config().claims().email_verification);
            routes = routes.accounts(linker)?;
        }
        let app = app(routes, &client, provider.is_some());
        let banner = provider
            .as_ref()
            .map(|provider| api_banner(&provider.url("/token"), &format!("http://{addr}/api/me")))
            .unwrap_or_default();
        Ok(Demo {
            listener,
            app,
            url: format!("http://{addr}/"),
            provider,
            other_providers,
            warnings,
            banner,
        })
    }
}

/// The account store of the config's `[accounts]` table: its SQLite
/// `database` (created if missing), or memory without one, with its rows
/// put in (again at each start: an account's binding is kept).
pub async fn account_store(
    settings: &AccountsSettings,
) -> Result<Arc<dyn AccountStore>, Box<dyn std::error::Error>> {
    Ok(match &settings.database {
        Some(path) => {
            let store = SqliteAccountStore::open(path)
                .await
                .map_err(|e| format!("`[accounts]` `database` {}: {e}", path.display()))?;
            for row in &settings.accounts {
                store
                    .put_account(&row.id, &row.email, row.display_name.as_str())
                    .await?;
            }
            tracing::info!(
                database = %path.display(),
                accounts = settings.accounts.len(),
                "account linking on: logins are linked to the accounts of `[accounts]`"
            );
            Arc::new(store)
        }
        None => {
            let store = MemoryAccountStore::new();
            for row in &settings.accounts {
                store.put_account(&row.id, &row.email, row.display_name.as_str())?;
            }
            tracing::info!(
                accounts = settings.accounts.len(),
                "account linking on: logins are linked to the accounts of `[accounts]` (kept in memory: bindings are lost at exit)"
            );
            Arc::new(store)
        }
    })
}

/// The identifier of the demo's API (`GET /api/me`): the `aud` of the
/// access tokens it accepts. The embedded provider issues every access
/// token for it (its default resource), a login's and a daemon's.
pub const DEMO_API: &str = "api://oidc-login-demo";

/// The embedded provider's daemon client (`client_credentials`), shown in
/// the banner.
pub const DEMO_DAEMON_ID: &str = "demo-daemon";
/// Its secret (`client_secret_basic`): a test provider's, shown in the banner.
pub const DEMO_DAEMON_SECRET: &str = "demo-daemon-secret";

/// The embedded provider of development mode: the default client (the
/// demo's), and the daemon [`DEMO_DAEMON_ID`]; access tokens are JWTs for
/// [`DEMO_API`].
pub async fn embedded_provider() -> TestProvider {
    TestProvider::builder()
        .issuer_path("/3c1a0f6e-0000-4000-8000-000000000001/v2.0")
        .client(TestClient::confidential(
            TestProvider::DEFAULT_CLIENT_ID,
            TestProvider::DEFAULT_CLIENT_SECRET,
            TestClientAuth::Basic,
        ))
        .client(TestClient::confidential(
            DEMO_DAEMON_ID,
            DEMO_DAEMON_SECRET,
            TestClientAuth::Basic,
        ))
        .default_resource(DEMO_API)
        .start()
        .await
}

/// How to call `api_url` (`GET /api/me`) with a daemon's token from the
/// embedded provider's `token_url`: the banner of development mode.
pub fn api_banner(token_url: &str, api_url: &str) -> Vec<String> {
    vec![
        format!(
            "API: GET {api_url} takes the embedded provider's access tokens (aud {DEMO_API}); a daemon (client id {DEMO_DAEMON_ID}, secret {DEMO_DAEMON_SECRET}) gets one with client_credentials:"
        ),
        format!(
            "  TOKEN=$(curl -s -u {DEMO_DAEMON_ID}:{DEMO_DAEMON_SECRET} -d grant_type=client_credentials -d scope=demo.read {token_url} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
        ),
        format!("  curl -H \"Authorization: Bearer $TOKEN\" {api_url}"),
    ]
}

/// The group of `alice` at the embedded provider, which the demo's role
/// table maps to `Read-write`.
pub const DEMO_GROUP: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

/// The two embedded providers of development mode, with different issuers:
/// an Entra-like one (`/<tenant>/v2.0`) and a PrivX-like one
/// (`/oidc/<provider-id>/`).
pub async fn embedded_providers() -> (TestProvider, TestProvider) {
    let entra = embedded_provider().await;
    let privx = TestProvider::builder()
        .issuer_path("/oidc/4b8e3a52-0d0c-4c48-9d3c-2a9f4d1b7e61/")
        .start()
        .await;
    (entra, privx)
}

/// The config of the PrivX-like embedded provider, the demo's second:
/// named `privx`, its callback at `{base}/callback/privx`, its logout
/// coming back to `{base}/logged-out`, and its own role table (alice's
/// group gives `Read-only` there).
pub fn embedded_privx_config(provider: &TestProvider, base: &str) -> Result<Config, ConfigError> {
    Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID)
        .name("privx")
        .client_auth(ClientAuth::secret_basic(
            TestProvider::DEFAULT_CLIENT_SECRET,
        ))
        .scopes(["openid", "email", "profile", "offline_access"])
        .redirect_uri(format!("{base}/callback/privx"))
        .add_post_logout_redirect_uri(format!("{base}/logged-out"))
        .login_button_text("Sign in with the embedded provider (PrivX-like)")
        .add_role_mapping(RoleMapping::new(
            "PrivX operators",
            Source::OpenIdConnect,
            DEMO_GROUP,
            ["Read-only"],
        ))
        .build()
}

/// The demo's config for the embedded provider's default client, with the
/// app's callback at `redirect_uri` (ending in `/callback`), and the
/// provider's logout coming back to `/logged-out` beside it.
pub fn embedded_config(
    provider: &TestProvider,
    redirect_uri: impl Into<String>,
) -> Result<Config, ConfigError> {
    let redirect_uri = redirect_uri.into();
    let logged_out = redirect_uri
        .strip_suffix("/callback")
        .map(|base| format!("{base}/logged-out"));
    let mut builder =
        Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID).name("entra");
    if let Some(logged_out) = logged_out {
        builder = builder.add_post_logout_redirect_uri(logged_out);
    }
    builder
        .client_auth(ClientAuth::secret_basic(
            TestProvider::DEFAULT_CLIENT_SECRET,
        ))
        .scopes(["openid", "email", "profile", "offline_access"])
        .redirect_uri(redirect_uri)
        .login_button_text("Sign in with the embedded provider (Entra-like)")
        .add_role_mapping(RoleMapping::new(
            "Maximus Conferencing Developers",
            Source::OpenIdConnect,
            DEMO_GROUP,
            ["Read-write"],
        ))
        .build()
}

/// How long a sign-in lasts, however active: the crate's default, set by
/// [`app`] so that the signed-in page can say it.
pub const MAX_SESSION_AGE: Duration = Duration::from_secs(12 * 3600);

/// How long an idle signed-in session lasts: the 8 hours of the crate's
/// `session_layer` (documented there; not a setting), shown on the page.
pub const SESSION_INACTIVITY: Duration = Duration::from_secs(8 * 3600);

/// How long before the access token expires a session is refreshed.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The most sessions the demo keeps: bounded (and expired ones dropped),
/// though an anonymous `GET /login` makes none here (logins in flight are
/// in sealed cookies).
pub const MAX_SESSIONS: u64 = 100_000;

/// The whole app: the demo's pages, `routes` (built on `client`), and
/// sessions in memory, at most [`MAX_SESSIONS`] of them. `development` shows the embedded-provider banner.
///
/// What the config switches on, the demo shows: sign-out at the provider
/// when `post_logout_redirect_uris` is set (the embedded provider's config
/// sets it), refresh before the access token expires when the scopes hold
/// `offline_access`, and the break-glass form when `[break_glass]` is there.
/// A sign-in lasts [`MAX_SESSION_AGE`] (the crate's default, set here so the
/// signed-in page can say it).
pub fn app(routes: LoginRoutes, client: &Client, development: bool) -> Router {
    let config = client.config();
    // Logins in flight in sealed cookies: an anonymous `GET /login` keeps
    // nothing in the session store. The key is generated at start-up, so it
    // is this process's only: a restart refuses the logins in flight
    // (`no_pending_login`), and several instances would each need the same
    // key (`PendingCookieKey::from_env`) and a shared state.
    let mut routes = routes
        .pending_logins_in_cookie(PendingCookieKey::generate())
        .max_session_age(MAX_SESSION_AGE)
        .refusal_page(|refusal| {
            let page = refusal_page(
                refusal.title(),
                refusal.code(),
                refusal.status(),
                refusal.message(),
            );
            (refusal.status(), page).into_response()
        });
    let provider_logout = !config.post_logout_redirect_uris().is_empty();
    if provider_logout {
        routes = routes.provider_logout();
    }
    let refresh = config
        .scopes()
        .iter()
        .any(|s| s == "offline_access")
        .then_some(REFRESH_MARGIN);
    if let Some(margin) = refresh {
        routes = routes.refresh_before_expiry(margin);
    }
    let break_glass = BreakGlass::from_config(config).map(|break_glass| {
        let form = break_glass_form(&routes.break_glass_path());
        routes = routes.clone().break_glass(break_glass);
        form
    });
    let page = Page {
        // One button per provider (with one, the plain login button).
        button: routes.login_buttons(),
        break_glass,
        logout_path: routes.logout_path(),
        development,
        providers: routes
            .providers()
            .iter()
            .map(|client| client.issuer().to_owned())
            .collect(),
        refresh,
        provider_logout: provider_logout && client.end_session_endpoint().is_some(),
        max_session_age: MAX_SESSION_AGE,
        inactivity: SESSION_INACTIVITY,
        role_mapping: routes
            .providers()
            .iter()
            .flat_map(|client| client.config().role_mapping().iter().cloned())
            .collect(),
        accounts: routes.account_linker().is_some(),
    };
    let sessions = session_layer(MokaStore::new(Some(MAX_SESSIONS)), client);
    let api = Api::new(client, [DEMO_API]).expect("the demo's API identifier is valid");
    let pages = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/recent", get(recent))
        .route("/metrics", get(metrics))
        // Shared, not copied per request.
        .with_state(Arc::new(page))
        .merge(
            Router::new()
                .route("/api/me", get(api_me))
                .layer(api.layer()),
        );
    routes.mount(pages).layer(routes.layer()).layer(sessions)
}

/// The demo's step-up: a sign-in within the last five minutes.
pub struct RecentSignIn;
impl StepUpPolicy for RecentSignIn {
    fn step_up() -> oidc_login::StepUp {
        oidc_login::StepUp::new().max_age(RECENT_SIGN_IN)
    }
}

/// How recent `GET /recent` wants the sign-in.
pub const RECENT_SIGN_IN: Duration = Duration::from_secs(300);

/// `GET /recent`: who signed in, and when, for a sign-in at most
/// [`RECENT_SIGN_IN`] old; an older one is sent through a new login
/// (`max_age`, `prompt=login`) and back here.
async fn recent(user: RequireStepUp<RecentSignIn>) -> Response {
    axum::Json(serde_json::json!({
        "subject": user.identity.subject,
        "auth_time": user.identity.claim("auth_time"),
    }))
    .into_response()
}

/// The Prometheus recorder of the `metrics` facade, installed for the whole
/// process on first use (the demo calls it before discovery, so the key set
/// fetch is counted). The library chooses no exporter: this is the demo's.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: GET /metrics shows nothing");
        }
        handle
    })
}

/// `GET /metrics`: the crate's counters and histograms (logins started,
/// finished and refused by code, refreshes, key set fetches, the code
/// exchange and validation durations), in Prometheus text form. Public in
/// the demo; a real app serves it to its scraper only.
async fn metrics() -> Response {
    let handle = prometheus();
    // No exporter task runs here: the histograms' upkeep is done per scrape.
    handle.run_upkeep();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn home(State(page): State<Arc<Page>>, user: Option<SignedIn>) -> Html<String> {
    Html(match user {
        None => pages::signed_out(&page),
        Some(user) => pages::signed_in(
            &page,
            &user.identity,
            user.account.as_ref(),
            OffsetDateTime::now_utc().unix_timestamp(),
        ),
    })
}

/// `GET /api/me`: the caller of a bearer access token.
async fn api_me(caller: Bearer) -> Response {
    axum::Json(serde_json::json!({
        "issuer": caller.claims.issuer(),
        "subject": caller.claims.subject(),
        "client_id": caller.claims.client_id(),
        "scopes": caller.claims.scopes(),
        "groups": caller.identity.groups,
        "roles": caller.identity.roles,
    }))
    .into_response()
}

/// `GET /me`'s answer, borrowed from the identity: serialized straight to
/// the body, with no JSON value tree in between.
#[derive(serde::Serialize)]
struct Me<'a> {
    issuer: &'a str,
    provider: &'a str,
    subject: &'a str,
    username: Option<&'a str>,
    email: Option<&'a str>,
    groups: &'a [String],
    roles: &'a [String],
    /// Only with `[accounts]`; then `null` when no account is linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Option<String>>,
}

async fn me(State(page): State<Arc<Page>>, user: Option<SignedIn>) -> Response {
    match user {
        Some(SignedIn {
            identity: id,
            account,
            ..
        }) => {
            let me = Me {
                issuer: &id.issuer,
                provider: &id.provider,
                subject: &id.subject,
                username: id.username.as_deref(),
                email: id.email.as_deref(),
                groups: &id.groups,
                roles: &id.roles,
                // With `[accounts]`: the linked account's id (null for a
                // break-glass sign-in, which links none).
                account: page.accounts.then(|| account.map(|account| account.id)),
            };
            axum::Json(me).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "not_signed_in"})),
        )
            .into_response(),
    }
}
