//! A SQL session store whose `save` upserts (`tower-sessions-rusqlite-store`,
//! SQLite in a temporary file): a sign-out stays although a request in
//! flight writes the session back, and two instances, each with its own
//! connection to the file, behave as one with the crate's shared records in
//! the same store (`SessionStoreState`).

use crate::common;

use std::sync::Arc;

use common::app::App;
use oidc_login::axum::{LoginRoutes, SessionIndexKey, SessionStoreState};
use oidc_login::testing::TestProvider;
use oidc_login::{BreakGlass, BreakGlassError};
use reqwest::StatusCode;
use tower_sessions::SessionStore;
use tower_sessions::session::Id;
use tower_sessions_rusqlite_store::RusqliteStore;
use tower_sessions_rusqlite_store::tokio_rusqlite::Connection;

/// A store on the SQLite file at `path`, with a connection of its own (as
/// another app instance has).
async fn sqlite_store(path: &std::path::Path) -> RusqliteStore {
    let store = RusqliteStore::new(Connection::open(path).await.unwrap());
    store.migrate().await.unwrap();
    store
}

fn key() -> SessionIndexKey {
    SessionIndexKey::from_secret([9u8; 32]).unwrap()
}

/// The records in the same store, under a key every instance shares.
fn shared(client: oidc_login::Client, store: RusqliteStore) -> LoginRoutes {
    LoginRoutes::new(client.with_shared_state(SessionStoreState::new(store, key())))
}

/// The upsert brings the session record back after the sign-out; the
/// sign-out record (here in the client's default memory) ends it.
#[tokio::test]
async fn a_sign_out_stays_with_an_upserting_sql_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir.path().join("sessions.db")).await;
    let app = App::start_with(Arc::new(TestProvider::start().await), store.clone(), |c| c).await;
    assert_eq!(
        common::app::sign_out_with_a_request_in_flight(&app).await,
        common::app::LateAnswer::SAVED,
        "the late write saved the session and sent its old cookie back"
    );

    // The late write upserted alice's session back into the table; the
    // next request found the sign-out and deleted it again.
    let conn = Connection::open(dir.path().join("sessions.db"))
        .await
        .unwrap();
    let ids: Vec<String> = conn
        .call(|conn| {
            let mut rows = conn.prepare("select id from tower_sessions")?;
            let ids = rows
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok::<_, rusqlite::Error>(ids)
        })
        .await
        .unwrap();
    for id in ids {
        let id: Id = id.parse().unwrap();
        if let Some(record) = store.load(&id).await.unwrap() {
            assert!(
                !record.data.contains_key("oidc_login.user"),
                "no signed-in session is left in the store: {:?}",
                record.data.keys().collect::<Vec<_>>()
            );
        }
    }
}

/// Two instances on one SQLite file: a sign-out on one while a request is
/// in flight on the other, a replayed logout token, the break-glass limit.
#[tokio::test]
async fn two_instances_on_one_sqlite_file_behave_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let provider = Arc::new(TestProvider::start().await);
    let mut apps = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store = sqlite_store(&path).await;
        apps.push(
            App::start_on(
                listener,
                provider.clone(),
                store,
                |c| c,
                |client, store| shared(client, store).back_channel_logout(),
            )
            .await,
        );
    }
    let (a, b) = (&apps[0], &apps[1]);
    assert_eq!(
        common::app::sign_out_on_one_with_a_request_in_flight_on_the_other(a, b).await,
        common::app::LateAnswer::SAVED,
        "the late write on B saved the session again"
    );

    let token = provider.sign_id_token(&serde_json::json!({
        "iss": provider.issuer(),
        "aud": common::CLIENT_ID,
        "iat": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        "jti": "sql-jti",
        "sub": "alice-sub-0001",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    }));
    let post = |base: String| {
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/backchannel-logout"))
                .form(&[("logout_token", token)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post(a.base.clone()).await, StatusCode::OK);
    assert_eq!(
        post(b.base.clone()).await,
        StatusCode::BAD_REQUEST,
        "a replay at the other instance"
    );

    let password = "correct horse battery staple";
    let config = oidc_login::Config::builder("https://login.example.com", "app")
        .redirect_uri("https://app.example.com/callback")
        .break_glass("breakglass", BreakGlass::hash_password(password).unwrap())
        .build()
        .unwrap();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let state = SessionStoreState::new(sqlite_store(&path).await, key());
        instances.push(
            BreakGlass::from_config(&config)
                .unwrap()
                .with_shared_state(state),
        );
    }
    let from = Some("192.0.2.1".parse().unwrap());
    for i in [0, 1, 0, 1, 0] {
        let error = instances[i]
            .sign_in("breakglass", "guess", from)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::WrongCredentials),
            "{error:?}"
        );
    }
    for instance in &instances {
        let error = instance
            .sign_in("breakglass", password, from)
            .await
            .unwrap_err();
        assert!(
            matches!(error, BreakGlassError::RateLimited { .. }),
            "{error:?}"
        );
    }
}
