//! Beyond one machine: two app instances share logins through a real Redis
//! (`tower-sessions-redis-store`). A login started on one instance finishes
//! on the other, and signing out on one ends the session on both.
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
    let key = oidc_login::axum::SessionIndexKey::from_secret([42u8; 32]).unwrap();
    let (key_a, key_b) = (key.clone(), key);
    let _a = App::start_on(
        listener_a,
        provider.clone(),
        store.clone(),
        |c| c,
        |routes, store| routes.back_channel_logout(store, key_a),
    )
    .await;
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = App::start_on(
        listener_b,
        provider.clone(),
        store,
        |c| c,
        |routes, store| routes.back_channel_logout(store, key_b),
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
