//! The signed-in user's tokens for downstream calls: `UserAccessToken`
//! hands a handler the current access token (refreshed first, once per
//! session), which the app's own API accepts; at sign-out the tokens are
//! revoked at the provider (RFC 7009), refresh token first, and a failed
//! revocation does not block the sign-out.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::logs::Logs;
use common::{CLIENT_ID, CLIENT_SECRET};
use oidc_login::axum::{LoginRoutes, UserAccessToken, session_layer};
use oidc_login::testing::{Misbehavior, TestClient, TestClientAuth, TestProvider};
use oidc_login::{Api, Client, Error, RefreshError};
use reqwest::StatusCode;
use tower_sessions::MemoryStore;

const API: &str = "https://api.example";

struct Downstream {
    base: String,
    provider: Arc<TestProvider>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An app whose `/downstream` handler takes the user's access token and
/// calls the app's own API with it (`Api::authenticate`, in process),
/// answering `<subject> <token> <Debug of the extractor>`; refresh margin
/// `margin` (`None`: the default of `user_access_token`).
async fn start(margin: Option<Duration>) -> Downstream {
    let provider = Arc::new(
        TestProvider::builder()
            .client(TestClient::confidential(
                CLIENT_ID,
                CLIENT_SECRET,
                TestClientAuth::Basic,
            ))
            .default_resource(API)
            .start()
            .await,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client: Client = common::client_with(
        common::config_builder(&provider)
            .redirect_uri(format!("{base}/callback"))
            .scopes(["openid", "profile", "offline_access"]),
    )
    .await;
    let api = Api::new(&client, [API]).unwrap();
    let mut routes = LoginRoutes::new(client.clone()).user_access_token();
    if let Some(margin) = margin {
        routes = routes.refresh_before_expiry(margin);
    }
    let app = Router::new().route(
        "/downstream",
        get(move |token: UserAccessToken| async move {
            let raw = token.access_token().expose_secret();
            match api.authenticate(raw).await {
                Ok(caller) => format!("{} {raw} {token:?}", caller.claims.subject()),
                Err(error) => format!("refused: {error}"),
            }
        }),
    );
    let app = routes
        .mount(app)
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Downstream {
        base,
        provider,
        server,
    }
}

impl Downstream {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn signed_in(&self, user: &str) -> reqwest::Client {
        let (browser, _jar) = common::browser_with_jar();
        let landed = browser
            .get(format!("{}?login_hint={user}", self.url("/login")))
            .send()
            .await
            .unwrap();
        assert_eq!(landed.status(), StatusCode::NOT_FOUND, "landed on `/`");
        browser
    }

    /// `/downstream`: the status, and the subject, token and Debug text.
    async fn downstream(&self, browser: &reqwest::Client) -> (StatusCode, Vec<String>) {
        let response = browser.get(self.url("/downstream")).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            text.splitn(3, ' ').map(str::to_owned).collect::<Vec<_>>(),
        )
    }
}

#[tokio::test]
async fn the_handler_gets_the_users_access_token_and_the_api_accepts_it() {
    let app = start(None).await;
    let browser = app.signed_in("alice").await;
    let (status, answer) = app.downstream(&browser).await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer[0], "alice-sub-0001", "{answer:?}");
    let token = &answer[1];
    assert_eq!(token.split('.').count(), 3, "a JWT access token");
    assert!(
        !answer[2].contains(token.as_str()),
        "Debug shows no token: {}",
        answer[2]
    );
    // Fresh (5 minutes, margin 60 s): no refresh, the same token again.
    let requests = app.provider.token_requests();
    let (_, again) = app.downstream(&browser).await;
    assert_eq!(&again[1], token);
    assert_eq!(app.provider.token_requests(), requests);

    // Signed out: no token.
    let anonymous = reqwest::Client::new();
    let (status, _) = app.downstream(&anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_token_is_refreshed_first_once_per_session() {
    // Longer than the provider's 5-minute access tokens: always due.
    let app = start(Some(Duration::from_secs(301))).await;
    let browser = app.signed_in("alice").await;
    let after_login = app.provider.token_requests();
    // Requests racing on one session share one refresh and its token.
    let (a, b, c) = tokio::join!(
        app.downstream(&browser),
        app.downstream(&browser),
        app.downstream(&browser)
    );
    let answers = [a, b, c];
    assert_eq!(
        app.provider.token_requests(),
        after_login + 1,
        "one refresh for the three requests"
    );
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer[0], "alice-sub-0001");
        assert_eq!(answer[1], answers[0].1[1], "the refreshed token, shared");
    }
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_then_the_access_token() {
    let app = start(None).await;
    let browser = app.signed_in("alice").await;
    let (_, answer) = app.downstream(&browser).await;
    let access_token = answer[1].clone();
    let signed_out = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(
        signed_out.status(),
        StatusCode::NOT_FOUND,
        "redirected to `/`"
    );
    assert_eq!(
        app.provider.revocations(),
        ["refresh_token:refresh_token", "access_token:access_token"]
    );
    // The provider no longer takes the access token.
    let userinfo = reqwest::Client::new()
        .get(app.provider.url("/userinfo"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = app.downstream(&browser).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_failed_revocation_is_logged_and_does_not_block_the_sign_out() {
    let logs = Logs::capture();
    let app = start(None).await;
    let browser = app.signed_in("alice").await;
    app.provider
        .misbehave(Misbehavior::ErrorStatus("revoke", 503));
    let signed_out = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(
        signed_out.status(),
        StatusCode::NOT_FOUND,
        "redirected to `/`"
    );
    assert_eq!(app.provider.revocation_requests(), 2, "both tried");
    assert!(app.provider.revocations().is_empty());
    let (status, _) = app.downstream(&browser).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out all the same");
    let warned = logs.lines_with("could not be revoked");
    assert_eq!(warned.len(), 1, "{}", logs.text());
    assert!(warned[0].contains("503"), "{}", warned[0]);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_refused_afterwards() {
    let provider = TestProvider::start().await;
    let client = common::client_with(common::config_builder(&provider).scopes([
        "openid",
        "profile",
        "offline_access",
    ]))
    .await;
    assert!(client.revocation_endpoint().is_some());
    let login = common::login_as(&client, "alice").await.unwrap();
    client.revoke(&login.tokens).await.unwrap();
    assert_eq!(
        provider.revocations(),
        ["refresh_token:refresh_token", "access_token:access_token"]
    );
    match client.refresh(&login.tokens).await {
        Err(Error::Refresh(RefreshError::Refused { error, .. })) => {
            assert_eq!(error, "invalid_grant")
        }
        other => panic!("expected the refresh token refused, got {other:?}"),
    }
    // Another client cannot revoke alice's tokens.
    let login = common::login_as(&client, "alice").await.unwrap();
    let status = reqwest::Client::new()
        .post(provider.url("/revoke"))
        .basic_auth("someone-else", Some("x"))
        .form(&[(
            "token",
            login.tokens.refresh_token.as_ref().unwrap().expose_secret(),
        )])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown client");
    client.refresh(&login.tokens).await.unwrap();
}

#[tokio::test]
async fn a_refresh_the_provider_cannot_answer_keeps_the_current_token() {
    let app = start(Some(Duration::from_secs(301))).await;
    let browser = app.signed_in("alice").await;
    let (_, first) = app.downstream(&browser).await;
    app.provider
        .misbehave(Misbehavior::ErrorStatus("token", 503));
    // Due, but the provider is down: the token still valid is handed out,
    // and the session stays.
    let (status, answer) = app.downstream(&browser).await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer[1], first[1]);
    // (When the next refresh is tried is `refresh.rs`'s reuse rule, tested
    // with it.)
}
