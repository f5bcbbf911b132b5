//! The break-glass local sign-in: off unless configured, an argon2 hash
//! (never a plain password), failures rate-limited, roles only from `local`
//! rows; and its axum routes.

use crate::common;

use std::sync::LazyLock;

use axum::Router;
use axum::routing::get;
use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{
    BREAK_GLASS_ISSUER, BreakGlass, BreakGlassError, Client, Config, ConfigBuilder, RoleMapping,
    Source,
};
use reqwest::StatusCode;
use tower_sessions::MemoryStore;

const PASSWORD: &str = "correct horse battery staple";

/// One hash for the whole test binary: argon2 is slow on purpose.
static HASH: LazyLock<String> = LazyLock::new(|| BreakGlass::hash_password(PASSWORD).unwrap());

fn builder() -> ConfigBuilder {
    Config::builder("https://login.example.com", "app")
        .redirect_uri("http://127.0.0.1:9/callback")
        .add_role_mapping(RoleMapping::new(
            "Local admin",
            Source::Local,
            "breakglass",
            ["Admin"],
        ))
        // A provider row with the same value must not apply to a local sign-in.
        .add_role_mapping(RoleMapping::new(
            "Group",
            Source::OpenIdConnect,
            "breakglass",
            ["Wrong"],
        ))
}

fn break_glass() -> BreakGlass {
    let config = builder()
        .break_glass("breakglass", HASH.as_str())
        .build()
        .unwrap();
    BreakGlass::from_config(&config).expect("switched on")
}

#[test]
fn it_is_off_unless_configured() {
    let config = builder().build().unwrap();
    assert!(config.break_glass().is_none());
    assert!(BreakGlass::from_config(&config).is_none());
}

#[test]
fn a_plain_password_or_another_hash_is_refused_at_build() {
    for not_argon2 in [
        PASSWORD,
        "",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$dGhpc2lzbm90YXJlYWxoYXNoMTIzNDU2Nzg5MA",
    ] {
        let error = builder()
            .break_glass("breakglass", not_argon2)
            .build()
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("break_glass"), "{message}");
        assert!(
            !message.contains(PASSWORD),
            "the value is never echoed: {message}"
        );
    }
    let error = builder()
        .break_glass(" ", HASH.as_str())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("username"));
}

#[test]
fn the_toml_form_takes_the_hash_inline_and_debug_hides_it() {
    let text = format!(
        "metadata_url = \"https://login.example.com\"\nclient_id = \"app\"\n\
         redirect_uri = \"http://127.0.0.1:9/callback\"\n\
         [break_glass]\nusername = \"breakglass\"\npassword_hash = \"{}\"\n",
        *HASH
    );
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.break_glass().unwrap().username(), "breakglass");
    let debug = format!("{config:?}");
    assert!(!debug.contains(HASH.as_str()), "{debug}");
    assert!(!format!("{:?}", break_glass()).contains(HASH.as_str()));

    let both = text.replace(
        "[break_glass]\n",
        "[break_glass]\npassword_hash_env = \"X\"\n",
    );
    let error = Config::from_toml(&both).unwrap_err();
    assert!(error.to_string().contains("exactly one"), "{error}");
    let typo = text.replace("username", "usrname");
    assert!(
        Config::from_toml(&typo).is_err(),
        "unknown fields are refused"
    );
}

#[tokio::test]
async fn the_right_password_signs_in_with_the_local_roles() {
    let identity = break_glass()
        .sign_in("breakglass", PASSWORD, None)
        .await
        .unwrap();
    assert!(identity.break_glass);
    assert_eq!(identity.issuer, BREAK_GLASS_ISSUER);
    assert_eq!(identity.subject, "breakglass");
    assert_eq!(identity.username.as_deref(), Some("breakglass"));
    assert_eq!(identity.roles, ["Admin"]);
    assert!(identity.groups.is_empty() && identity.claims.is_empty());
}

#[tokio::test]
async fn a_wrong_password_or_username_is_refused_alike() {
    let break_glass = break_glass();
    for (username, password) in [
        ("breakglass", "not-the-password"),
        ("breakglass", ""),
        ("admin", PASSWORD),
        ("BREAKGLASS", PASSWORD),
    ] {
        let error = break_glass
            .sign_in(username, password, None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{username}: {error:?}"
        );
        assert!(!error.to_string().contains(password) || password.is_empty());
    }
}

#[tokio::test]
async fn failed_attempts_are_rate_limited_even_for_the_right_password() {
    let break_glass = break_glass();
    for _ in 0..5 {
        let error = break_glass
            .sign_in("breakglass", "guess", None)
            .await
            .unwrap_err();
        assert!(matches!(error, BreakGlassError::WrongCredentials));
    }
    let error = break_glass
        .sign_in("breakglass", PASSWORD, None)
        .await
        .unwrap_err();
    match error {
        BreakGlassError::RateLimited {
            retry_after_seconds,
        } => {
            assert!(
                (1..=900).contains(&retry_after_seconds),
                "{retry_after_seconds}"
            );
        }
        other => panic!("expected the rate limit, got {other:?}"),
    }
    let as_error: oidc_login::Error = BreakGlassError::RateLimited {
        retry_after_seconds: 1,
    }
    .into();
    assert_eq!(as_error.code(), "break_glass_rate_limited");
}

#[tokio::test]
async fn parallel_attempts_cannot_outrun_the_limit() {
    let break_glass = std::sync::Arc::new(break_glass());
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let break_glass = break_glass.clone();
        attempts.spawn(async move { break_glass.sign_in("breakglass", "guess", None).await });
    }
    let outcomes = attempts.join_all().await;
    let checked = outcomes
        .iter()
        .filter(|o| matches!(o, Err(BreakGlassError::WrongCredentials)))
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked in one burst"
    );
    assert!(outcomes.iter().all(|o| o.is_err()));
    let error = break_glass
        .sign_in("breakglass", PASSWORD, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_success_does_not_count_as_a_failure() {
    let break_glass = break_glass();
    for _ in 0..4 {
        break_glass
            .sign_in("breakglass", "guess", None)
            .await
            .unwrap_err();
    }
    for _ in 0..3 {
        break_glass
            .sign_in("breakglass", PASSWORD, None)
            .await
            .expect("four failures and the right password");
    }
}

fn ip(address: &str) -> Option<std::net::IpAddr> {
    Some(address.parse().unwrap())
}

async fn fail(break_glass: &BreakGlass, from: Option<std::net::IpAddr>) -> BreakGlassError {
    break_glass
        .sign_in("breakglass", "guess", from)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn failures_count_per_client_address() {
    let break_glass = break_glass();
    for _ in 0..5 {
        let error = fail(&break_glass, ip("192.0.2.1")).await;
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    let error = fail(&break_glass, ip("192.0.2.1")).await;
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "{error:?}"
    );
    // Another address is not locked out by the first one's failures.
    let error = fail(&break_glass, ip("192.0.2.2")).await;
    assert!(
        matches!(error, BreakGlassError::WrongCredentials),
        "{error:?}"
    );
    break_glass
        .sign_in("breakglass", PASSWORD, ip("192.0.2.3"))
        .await
        .expect("a third address signs in");
    // The right password from the locked address is still refused.
    let error = break_glass
        .sign_in("breakglass", PASSWORD, ip("192.0.2.1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_ipv6_network_counts_as_one_address() {
    let break_glass = break_glass();
    for host in 1..=5 {
        let error = fail(&break_glass, ip(&format!("2001:db8:1:2::{host}"))).await;
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    let error = fail(&break_glass, ip("2001:db8:1:2:ffff::9")).await;
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "the same /64: {error:?}"
    );
    let error = fail(&break_glass, ip("2001:db8:1:3::1")).await;
    assert!(
        matches!(error, BreakGlassError::WrongCredentials),
        "another /64: {error:?}"
    );
}

#[tokio::test]
async fn failures_from_many_addresses_stop_at_the_ceiling() {
    let break_glass = break_glass();
    // Four failures from each of five addresses: none reaches its own limit.
    for attempt in 0..20 {
        let from = ip(&format!("198.51.100.{}", attempt % 5));
        let error = fail(&break_glass, from).await;
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "attempt {attempt}: {error:?}"
        );
    }
    for from in [ip("203.0.113.1"), ip("198.51.100.0"), None] {
        let error = break_glass
            .sign_in("breakglass", PASSWORD, from)
            .await
            .unwrap_err();
        match error {
            BreakGlassError::RateLimited {
                retry_after_seconds,
            } => assert!(
                (1..=900).contains(&retry_after_seconds),
                "{retry_after_seconds}"
            ),
            other => panic!("expected the ceiling, got {other:?}"),
        }
    }
}

/// Two app instances sharing one state: the limits hold for both together.
#[tokio::test]
async fn instances_sharing_a_state_share_the_limits() {
    let shared = std::sync::Arc::new(oidc_login::MemoryState::default());
    let a = break_glass().with_shared_state(shared.clone());
    let b = break_glass().with_shared_state(shared);
    for instance in [&a, &a, &a, &b, &b] {
        let error = fail(instance, ip("192.0.2.7")).await;
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    for instance in [&a, &b] {
        let error = instance
            .sign_in("breakglass", PASSWORD, ip("192.0.2.7"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::RateLimited { .. }),
            "{error:?}"
        );
    }

    // In parallel, on both: at most five passwords checked for one address.
    let shared = std::sync::Arc::new(oidc_login::MemoryState::default());
    let a = std::sync::Arc::new(break_glass().with_shared_state(shared.clone()));
    let b = std::sync::Arc::new(break_glass().with_shared_state(shared));
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..20 {
        let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
        attempts.spawn(async move {
            instance
                .sign_in("breakglass", "guess", ip("192.0.2.8"))
                .await
        });
    }
    let checked = attempts
        .join_all()
        .await
        .iter()
        .filter(|o| matches!(o, Err(BreakGlassError::WrongCredentials)))
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked in one burst"
    );
    let error = a
        .sign_in("breakglass", PASSWORD, ip("192.0.2.8"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "{error:?}"
    );
}

static NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn clock() -> std::time::SystemTime {
    std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(NOW.load(std::sync::atomic::Ordering::SeqCst))
}

/// Each failure counts for 15 minutes from when it was made, across the
/// periods the records are named by.
#[tokio::test]
async fn each_failure_expires_fifteen_minutes_after_it() {
    let set_now = |seconds| NOW.store(seconds, std::sync::atomic::Ordering::SeqCst);
    // 300 s into a 900 s period, so that the window crosses into the next.
    let start = 1_000_000_200;
    set_now(start);
    let state = oidc_login::MemoryState::default().with_clock(clock);
    let break_glass = break_glass().with_clock(clock).with_shared_state(state);
    let from = ip("192.0.2.9");
    for _ in 0..3 {
        fail(&break_glass, from).await;
    }
    set_now(start + 400);
    for _ in 0..2 {
        fail(&break_glass, from).await;
    }
    set_now(start + 899);
    match fail(&break_glass, from).await {
        BreakGlassError::RateLimited {
            retry_after_seconds,
        } => assert_eq!(retry_after_seconds, 1, "the first three expire in 1 s"),
        other => panic!("expected the limit, got {other:?}"),
    }
    // The first three expired: three more attempts, then the limit again.
    set_now(start + 900);
    for _ in 0..3 {
        let error = fail(&break_glass, from).await;
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    match fail(&break_glass, from).await {
        BreakGlassError::RateLimited {
            retry_after_seconds,
        } => assert_eq!(retry_after_seconds, 400, "the two of `start + 400`"),
        other => panic!("expected the limit, got {other:?}"),
    }
    set_now(start + 1_300);
    break_glass
        .sign_in("breakglass", PASSWORD, from)
        .await
        .expect("two failures expired");
}

#[tokio::test]
async fn failing_counters_refuse_even_the_right_password() {
    let break_glass = break_glass().with_shared_state(common::state::Flaky::down());
    let error = break_glass
        .sign_in("breakglass", PASSWORD, ip("192.0.2.1"))
        .await
        .unwrap_err();
    assert!(matches!(error, BreakGlassError::Counters(_)), "{error:?}");
    let error: oidc_login::Error = error.into();
    assert_eq!(error.code(), "shared_state_error");
}

// ----- the axum routes -------------------------------------------------------

struct App {
    base: String,
    _provider: TestProvider,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn app(switched_on: bool) -> App {
    app_with_store(switched_on, MemoryStore::default()).await
}

async fn app_with_store(switched_on: bool, store: MemoryStore) -> App {
    app_with(switched_on, store, |client| client, |routes| routes).await
}

/// The app, its client and routes shaped by the two functions; served with
/// the connection's peer address (127.0.0.1).
async fn app_with(
    switched_on: bool,
    store: MemoryStore,
    client: impl FnOnce(Client) -> Client,
    routes: impl FnOnce(LoginRoutes) -> LoginRoutes,
) -> App {
    let provider = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = common::config_builder(&provider)
        .redirect_uri(format!("{base}/callback"))
        .add_role_mapping(RoleMapping::new(
            "Local admin",
            Source::Local,
            "breakglass",
            ["Admin"],
        ));
    if switched_on {
        config = config.break_glass("breakglass", HASH.as_str());
    }
    let client = client(Client::discover(config.build().unwrap()).await.unwrap());
    let sessions = session_layer(store, &client);
    let mut routes = routes(LoginRoutes::new(client.clone()));
    if let Some(break_glass) = BreakGlass::from_config(client.config()) {
        routes = routes.break_glass(break_glass);
    }
    let app = Router::new().route(
        "/me",
        get(|user: Option<SignedIn>| async move {
            user.map(|SignedIn { identity: u, .. }| {
                format!("{} {} {}", u.subject, u.break_glass, u.roles.join(","))
            })
            .unwrap_or_default()
        }),
    );
    let app = routes.mount(app).layer(routes.layer()).layer(sessions);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        base,
        _provider: provider,
        server,
    }
}

fn browser() -> reqwest::Client {
    crate::common::browser(false)
}

async fn post_login(app: &App, browser: &reqwest::Client, password: &str) -> reqwest::Response {
    post_login_from(app, browser, password, "").await
}

/// The same, with the header `x-client` (read by the apps that set
/// `client_address`).
async fn post_login_from(
    app: &App,
    browser: &reqwest::Client,
    password: &str,
    client: &str,
) -> reqwest::Response {
    browser
        .post(format!("{}/local-login", app.base))
        .header("x-client", client)
        .form(&[
            ("username", "breakglass"),
            ("password", password),
            ("return_to", "/me"),
        ])
        .send()
        .await
        .unwrap()
}

/// What `/me` says: subject, whether break-glass, roles; empty when signed out.
async fn me(app: &App, browser: &reqwest::Client) -> String {
    let response = browser
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

async fn get_form(app: &App, browser: &reqwest::Client) -> reqwest::Response {
    browser
        .get(format!("{}/local-login", app.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_routes_sign_in_locally_and_refuse_wrong_passwords() {
    let app = app(true).await;
    let browser = browser();
    let form = get_form(&app, &browser).await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.unwrap().contains("type=\"password\""));

    let refused = post_login(&app, &browser, "not-the-password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("break_glass_refused") && !page.contains("wrong"),
        "{page}"
    );

    let signed_in = post_login(&app, &browser, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()["location"], "/me");
    assert_eq!(me(&app, &browser).await, "breakglass true Admin");
}

#[tokio::test]
async fn the_routes_rate_limit_with_429() {
    let app = app(true).await;
    let browser = browser();
    for _ in 0..5 {
        assert_eq!(
            post_login(&app, &browser, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = post_login(&app, &browser, PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("break_glass_rate_limited")
    );
}

#[tokio::test]
async fn the_routes_do_not_exist_when_it_is_off() {
    let app = app(false).await;
    let browser = browser();
    let form = get_form(&app, &browser).await;
    assert_eq!(form.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        post_login(&app, &browser, PASSWORD).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A break-glass session does not outlive the switch: an app (instance)
/// without break-glass refuses it.
#[tokio::test]
async fn break_glass_sessions_end_when_it_is_switched_off() {
    let store = MemoryStore::default();
    let on = app_with_store(true, store.clone()).await;
    let off = app_with_store(false, store).await;
    let browser = browser();
    assert_eq!(
        post_login(&on, &browser, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&on, &browser).await, "breakglass true Admin");
    // Cookies are per host, not per port: the same cookie goes to `off`.
    let there = me(&off, &browser).await;
    assert_eq!(there, "", "not signed in where break-glass is off");
}

/// With `client_address` reading a header the proxy sets, each client has
/// its own count; without it (as above) the peer's address is used.
#[tokio::test]
async fn the_routes_count_failures_per_client_address() {
    let app = app_with(
        true,
        MemoryStore::default(),
        |client| client,
        |routes| {
            routes.client_address(|request| {
                request.headers.get("x-client")?.to_str().ok()?.parse().ok()
            })
        },
    )
    .await;
    let browser = browser();
    for _ in 0..5 {
        let refused = post_login_from(&app, &browser, "guess", "192.0.2.1").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = post_login_from(&app, &browser, PASSWORD, "192.0.2.1").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = post_login_from(&app, &browser, PASSWORD, "192.0.2.2").await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER, "another client");
    assert_eq!(me(&app, &browser).await, "breakglass true Admin");
}

/// Two instances whose clients share a state: the routes count failures
/// in it, so the limit holds for both together.
#[tokio::test]
async fn the_routes_of_two_instances_share_the_limit_through_the_clients_state() {
    let shared = std::sync::Arc::new(oidc_login::MemoryState::default());
    let (for_a, for_b) = (shared.clone(), shared);
    let a = app_with(
        true,
        MemoryStore::default(),
        move |client| client.with_shared_state(for_a),
        |routes| routes,
    )
    .await;
    let b = app_with(
        true,
        MemoryStore::default(),
        move |client| client.with_shared_state(for_b),
        |routes| routes,
    )
    .await;
    let browser = browser();
    for app in [&a, &b, &a, &b, &a] {
        assert_eq!(
            post_login(app, &browser, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for app in [&a, &b] {
        assert_eq!(
            post_login(app, &browser, PASSWORD).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            app.base
        );
    }
}
