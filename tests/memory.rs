//! Bounded memory: every anonymous `GET /login` creates a session holding a
//! login in flight. With a bounded, expiring store (`MokaStore` with a
//! capacity, as the README and the demo use), 100,000 of them leave the
//! process's resident memory bounded: after the store is full, more
//! requests do not grow it.
//!
//! With logins in flight in sealed cookies
//! (`LoginRoutes::pending_logins_in_cookie`), the same flood keeps nothing
//! on the server: even with `MemoryStore`, which never forgets a session,
//! the resident memory stays flat.
//!
//! A binary of its own: it reads this process's resident memory
//! (`VmRSS` in `/proc/self/status`, Linux), which other tests running in
//! the same process would disturb. It is not a timing test.

#[path = "support/skip.rs"]
mod skip;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use oidc_login::axum::{LoginRoutes, PendingCookieKey, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, ClientAuth, Config};
use tower::ServiceExt as _;
use tower_sessions::MemoryStore;
use tower_sessions_moka_store::MokaStore;

/// One measurement at a time: the tests read one process's memory.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The most sessions the store keeps.
const CAPACITY: u64 = 10_000;
/// Requests that fill the store (and the allocator's pools) first.
const WARM_UP: usize = 20_000;
/// All the requests.
const REQUESTS: usize = 100_000;
/// How much the resident memory may grow over the last 80,000 requests.
/// A kept session costs about 1.5 KiB: 80,000 more are ~120 MiB (measured
/// with `MemoryStore`, which keeps them all).
const MAX_GROWTH_KIB: u64 = 16 * 1024;
/// The same with logins in flight in sealed cookies, where nothing is kept:
/// the allocator's noise only.
const MAX_FLAT_GROWTH_KIB: u64 = 4 * 1024;

/// This process's resident memory, in KiB; `None` off Linux.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// `requests` anonymous `GET /login`, a few at a time.
async fn flood(app: &Router, requests: usize) {
    const AT_ONCE: usize = 4;
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..AT_ONCE {
        let app = app.clone();
        let share = requests / AT_ONCE + usize::from(sender < requests % AT_ONCE);
        senders.spawn(async move {
            for _ in 0..share {
                let response = app
                    .clone()
                    .oneshot(Request::get("/login").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::SEE_OTHER);
                assert!(
                    response.headers().contains_key(header::SET_COOKIE),
                    "each request set a cookie (a session's, or the login's own)"
                );
            }
        });
    }
    senders.join_all().await;
}

async fn client(provider: &TestProvider) -> Client {
    let config = Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID)
        .client_auth(ClientAuth::secret_basic(
            TestProvider::DEFAULT_CLIENT_SECRET,
        ))
        .redirect_uri("http://127.0.0.1:9/callback")
        .build()
        .unwrap();
    Client::discover(config).await.unwrap()
}

/// The resident memory's growth over the requests after the warm-up, in KiB.
async fn growth(app: &Router) -> u64 {
    let start = resident_kib().unwrap();
    flood(app, WARM_UP).await;
    let warm = resident_kib().unwrap();
    flood(app, REQUESTS - WARM_UP).await;
    let end = resident_kib().unwrap();
    eprintln!(
        "resident memory: {start} KiB at start, {warm} KiB after {WARM_UP} requests, {end} KiB after {REQUESTS}"
    );
    end.saturating_sub(warm)
}

fn on_linux() -> bool {
    if resident_kib().is_none() {
        skip::skip(
            "the memory test",
            "it reads /proc/self/status, which only Linux has",
        );
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_logins_in_sealed_cookies_leave_memory_flat() {
    if !on_linux() {
        return;
    }
    let _alone = ONE_AT_A_TIME.lock().await;
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let routes =
        LoginRoutes::new(client.clone()).pending_logins_in_cookie(PendingCookieKey::generate());
    // A store that never forgets: any session made would stay.
    let app = routes
        .mount(Router::new())
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let growth = growth(&app).await;
    assert!(
        growth <= MAX_FLAT_GROWTH_KIB,
        "the last {} requests grew the resident memory by {growth} KiB",
        REQUESTS - WARM_UP
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_anonymous_logins_leaves_memory_bounded() {
    if !on_linux() {
        return;
    }
    let _alone = ONE_AT_A_TIME.lock().await;
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let routes = LoginRoutes::new(client.clone());
    let app = routes
        .mount(Router::new())
        .layer(routes.layer())
        .layer(session_layer(MokaStore::new(Some(CAPACITY)), &client));
    let growth = growth(&app).await;
    assert!(
        growth <= MAX_GROWTH_KIB,
        "the last {} requests grew the resident memory by {growth} KiB",
        REQUESTS - WARM_UP
    );
}
