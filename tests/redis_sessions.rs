//! Beyond one machine: two app instances share logins through a real Redis
//! (`tower-sessions-redis-store`). A login started on one instance finishes
//! on the other, and signing out on one ends the session on both. With the
//! crate's shared records in the same Redis (`SessionStoreState`), the
//! instances behave as one: a back-channel logout or a sign-out received by
//! one holds on the other, a replayed logout token is refused by the other,
//! and the break-glass limit counts the failures of both.
//!
//! Needs `redis-server` on PATH (`.ci/run` installs Debian's `redis-server`);
//! without it the test prints `SKIP` (to stderr, shown by plain `cargo test`)
//! and passes, unless `OIDC_LOGIN_REQUIRE_ALL=1` (set by `.ci/run`), which
//! makes it fail.

// This binary uses a part of the shared helpers of `tests/it`.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;
#[path = "support/skip.rs"]
mod skip;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::app::App;
use oidc_login::axum::{LoginRoutes, SessionIndexKey, SessionStoreState};
use oidc_login::testing::TestProvider;
use reqwest::StatusCode;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

/// A redis-server on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A redis-server, or `None` when it is not installed.
fn start_redis() -> Option<Redis> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port();
    let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot start redis-server: {e}"),
    };
    Some(Redis {
        child,
        port,
        _dir: dir,
    })
}

/// The key every instance names the shared records with.
fn key() -> SessionIndexKey {
    SessionIndexKey::from_secret([42u8; 32]).unwrap()
}

/// An instance's login routes: the client's shared records in the session
/// store, back-channel logout on.
fn shared_back_channel(client: oidc_login::Client, store: RedisStore<Pool>) -> LoginRoutes {
    LoginRoutes::new(client.with_shared_state(SessionStoreState::new(store, key())))
        .back_channel_logout()
}

/// A connection pool of its own to `redis`, as another app instance has.
async fn redis_store(redis: &Redis) -> RedisStore<Pool> {
    // redis-server takes a moment to listen; poll, bounded.
    let address = format!("127.0.0.1:{}", redis.port);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not listen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = Config::from_url(&format!("redis://127.0.0.1:{}", redis.port)).unwrap();
    let pool = Pool::new(config, None, None, None, 2).unwrap();
    pool.connect();
    tokio::time::timeout(Duration::from_secs(10), pool.wait_for_connect())
        .await
        .expect("redis-server accepts connections within 10 s")
        .unwrap();
    RedisStore::new(pool)
}

#[tokio::test]
async fn two_instances_share_logins_through_redis() {
    let Some(redis) = start_redis() else {
        skip::skip(
            "the Redis test",
            "redis-server is not on the PATH (apt-get install redis-server; .ci/run installs it)",
        );
        return;
    };
    let store = redis_store(&redis).await;
    // Behind a load balancer both instances have one provider and one
    // redirect URI; here it points at instance B, and logins start on A.
    let provider = Arc::new(TestProvider::start().await);
    let b = App::start_with(provider.clone(), store.clone(), |config| config).await;
    let callback_on_b = b.url("/callback");
    let a = App::start_with(provider, store, move |config| {
        config.redirect_uri(callback_on_b)
    })
    .await;

    // Cookies are per host, not per port: one jar serves both instances, as
    // one browser does behind one load-balanced host name.
    let (browser, jar) = common::browser_with_jar();
    let landed = browser
        .get(format!(
            "{}?login_hint=alice&return_to=/private",
            a.url("/login")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        landed.status(),
        StatusCode::OK,
        "the login started on A finished on B"
    );
    assert!(
        landed.url().as_str().starts_with(&b.base),
        "{}",
        landed.url()
    );
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");

    for app in [&a, &b] {
        let response = browser.get(app.url("/private")).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "signed in on {}",
            app.base
        );
    }

    // The cookie from before the sign-out: the jar drops it at logout, so
    // the proof that the session itself ended is to send it again by hand.
    let signed_in = common::saved_cookies(&jar, &a.url("/"));
    for app in [&a, &b] {
        assert_eq!(
            common::status_with_cookie(&app.url("/private"), &signed_in).await,
            StatusCode::OK,
            "the saved cookie, sent by hand, is signed in on {}",
            app.base
        );
    }

    let out = browser.post(a.url("/logout")).send().await.unwrap();
    assert_eq!(out.url().path(), "/", "logout redirects to the start page");
    for app in [&a, &b] {
        let response = browser.get(app.url("/private")).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "signed out on {}",
            app.base
        );
        assert_eq!(
            common::status_with_cookie(&app.url("/private"), &signed_in).await,
            StatusCode::UNAUTHORIZED,
            "the session cookie from before the sign-out no longer signs in on {}",
            app.base
        );
    }
}

/// Back-channel logout with a real Redis: the provider tells instance A,
/// and the session signed in on instance B ends too, as the logout record
/// lives in the shared store (Redis's `save` only updates existing keys, so
/// this also proves the record is created).
#[tokio::test]
async fn a_back_channel_logout_received_by_one_instance_ends_the_session_on_the_other() {
    let Some(redis) = start_redis() else {
        skip::skip(
            "the Redis back-channel test",
            "redis-server is not on the PATH (apt-get install redis-server; .ci/run installs it)",
        );
        return;
    };
    let store = redis_store(&redis).await;
    let listener_a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a_base = format!("http://{}", listener_a.local_addr().unwrap());
    let provider = Arc::new(
        TestProvider::builder()
            .client(
                oidc_login::testing::TestClient::confidential(
                    common::CLIENT_ID,
                    common::CLIENT_SECRET,
                    oidc_login::testing::TestClientAuth::Basic,
                )
                .backchannel_logout_uri(format!("{a_base}/backchannel-logout")),
            )
            .start()
            .await,
    );
    let _a = App::start_on(
        listener_a,
        provider.clone(),
        store.clone(),
        |c| c,
        shared_back_channel,
    )
    .await;
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = App::start_on(
        listener_b,
        provider.clone(),
        store,
        |c| c,
        shared_back_channel,
    )
    .await;

    let (browser, _jar) = common::browser_with_jar();
    let landed = browser
        .get(format!(
            "{}?login_hint=alice&return_to=/private",
            b.url("/login")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        landed.text().await.unwrap(),
        "alice-sub-0001",
        "signed in on B"
    );

    assert_eq!(
        provider.backchannel_logout("alice").await,
        [200],
        "A accepted the logout"
    );
    let response = browser.get(b.url("/private")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the session on B ended"
    );
}

/// A request of the session still in flight at the sign-out writes the
/// session after it (Redis's `save` only updates, so nothing comes back
/// here: the store reports the write as an error, a 500 for that request;
/// the sign-out record, in Redis too, holds either way).
#[tokio::test]
async fn a_sign_out_stays_with_a_request_in_flight_on_redis() {
    let Some(redis) = start_redis() else {
        skip::skip(
            "the Redis sign-out test",
            "redis-server is not on the PATH (apt-get install redis-server; .ci/run installs it)",
        );
        return;
    };
    let store = redis_store(&redis).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = App::start_on(
        listener,
        Arc::new(TestProvider::start().await),
        store,
        |c| c,
        shared_back_channel,
    )
    .await;
    assert_eq!(
        common::app::sign_out_with_a_request_in_flight(&app).await,
        common::app::LateAnswer {
            status: 500,
            sent_the_old_cookie: false,
        },
        "the store refused the late write"
    );

    // A store that brings the record back after all (a racing write): the
    // session is put back into Redis by hand, and still refused.
    use tower_sessions::SessionStore as _;
    let store = redis_store(&redis).await;
    let (browser, jar) = common::browser_with_jar();
    let landed = browser
        .get(format!(
            "{}?login_hint=alice&return_to=/private",
            app.url("/login")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), StatusCode::OK);
    let cookie = common::saved_cookies(&jar, &app.url("/"));
    let id: tower_sessions::session::Id = cookie
        .to_str()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let mut record = store
        .load(&id)
        .await
        .unwrap()
        .expect("the session is in Redis");
    browser.post(app.url("/logout")).send().await.unwrap();
    assert!(
        store.load(&id).await.unwrap().is_none(),
        "deleted at sign-out"
    );
    store.create(&mut record).await.unwrap();
    assert_eq!(record.id, id, "back under its old id");
    assert_eq!(
        common::status_with_cookie(&app.url("/private"), &cookie).await,
        StatusCode::UNAUTHORIZED,
        "the revived session is refused"
    );
    assert!(
        store.load(&id).await.unwrap().is_none(),
        "and deleted again"
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn post_logout_token(base: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

/// The `jti` of an accepted logout token is recorded in Redis: the same
/// token sent to the other instance is a replay.
#[tokio::test]
async fn a_logout_token_replayed_to_the_other_instance_is_refused() {
    let Some(redis) = start_redis() else {
        skip::skip(
            "the Redis replay test",
            "redis-server is not on the PATH (apt-get install redis-server; .ci/run installs it)",
        );
        return;
    };
    let provider = Arc::new(TestProvider::start().await);
    let mut apps = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store = redis_store(&redis).await;
        apps.push(
            App::start_on(
                listener,
                provider.clone(),
                store,
                |c| c,
                shared_back_channel,
            )
            .await,
        );
    }
    let (a, b) = (&apps[0], &apps[1]);
    let token = |jti: &str| {
        provider.sign_id_token(&serde_json::json!({
            "iss": provider.issuer(),
            "aud": common::CLIENT_ID,
            "iat": now(),
            "jti": jti,
            "sub": "alice-sub-0001",
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        }))
    };
    let first = token("jti-one");
    assert_eq!(post_logout_token(&a.base, &first).await, StatusCode::OK);
    assert_eq!(
        post_logout_token(&b.base, &first).await,
        StatusCode::BAD_REQUEST,
        "a replay at the other instance"
    );
    assert_eq!(
        post_logout_token(&a.base, &first).await,
        StatusCode::BAD_REQUEST
    );
    // Another token is not mistaken for it.
    let second = token("jti-two");
    assert_eq!(post_logout_token(&b.base, &second).await, StatusCode::OK);
    assert_eq!(
        post_logout_token(&a.base, &second).await,
        StatusCode::BAD_REQUEST
    );
}

/// Two instances, each with its own connection to Redis, count break-glass
/// failures together: the limit is one, one at a time or in a burst.
#[tokio::test]
async fn the_break_glass_limit_is_shared_by_two_instances() {
    use oidc_login::{BreakGlass, BreakGlassError};

    let Some(redis) = start_redis() else {
        skip::skip(
            "the Redis break-glass test",
            "redis-server is not on the PATH (apt-get install redis-server; .ci/run installs it)",
        );
        return;
    };
    let password = "correct horse battery staple";
    let config = oidc_login::Config::builder("https://login.example.com", "app")
        .redirect_uri("https://app.example.com/callback")
        .break_glass("breakglass", BreakGlass::hash_password(password).unwrap())
        .build()
        .unwrap();
    let instance = |store| {
        Arc::new(
            BreakGlass::from_config(&config)
                .unwrap()
                .with_shared_state(SessionStoreState::new(store, key())),
        )
    };
    let a = instance(redis_store(&redis).await);
    let b = instance(redis_store(&redis).await);
    let from = Some("192.0.2.1".parse().unwrap());
    for break_glass in [&a, &b, &a, &b, &a] {
        let error = break_glass
            .sign_in("breakglass", "guess", from)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    for break_glass in [&a, &b] {
        let error = break_glass
            .sign_in("breakglass", password, from)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::RateLimited { .. }),
            "{error:?}"
        );
    }

    // A burst at both from another address: at most five passwords checked.
    let from = Some("192.0.2.2".parse().unwrap());
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..16 {
        let break_glass = if i % 2 == 0 { a.clone() } else { b.clone() };
        attempts.spawn(async move { break_glass.sign_in("breakglass", "guess", from).await });
    }
    let outcomes = attempts.join_all().await;
    let checked = outcomes
        .iter()
        .filter(|o| matches!(o, Err(BreakGlassError::WrongCredentials)))
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Err(BreakGlassError::WrongCredentials | BreakGlassError::RateLimited { .. })
        )),
        "{outcomes:?}"
    );
    let error = a.sign_in("breakglass", password, from).await.unwrap_err();
    assert!(
        matches!(error, BreakGlassError::RateLimited { .. }),
        "{error:?}"
    );

    // A third address is not locked out, and a success takes its attempt back.
    let from = Some("192.0.2.3".parse().unwrap());
    b.sign_in("breakglass", password, from)
        .await
        .expect("another address signs in");
}
