//! Step-up authentication: `Start::step_up` and the callback's check of the
//! new ID token, against a provider that honours `max_age`, `acr_values`,
//! `prompt=login` and Entra's authentication context, and one that ignores
//! them; `RequireStepUp` on axum routes, a browser's round trip, an API
//! call's 401 challenge, and no redirect loop.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use oidc_login::axum::{LoginRoutes, RequireStepUp, StepUpPolicy, session_layer};
use oidc_login::testing::{Misbehavior, TestProvider};
use oidc_login::{Client, Error, Start, StepUp, TokenError};
use tower_sessions::MemoryStore;

use crate::common::{self, client_with, config_builder, start_as};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---- The library: the pending login remembers, the callback checks ----

async fn step_up_login(
    client: &Client,
    step_up: StepUp,
) -> (Result<oidc_login::Login, Error>, url::Url) {
    let (url, _) = client
        .start(Start::default().step_up(step_up.clone()))
        .unwrap();
    let (pending, callback) = start_as(client, "alice", Start::default().step_up(step_up)).await;
    (client.finish(pending, callback).await, url)
}

#[tokio::test]
async fn a_step_up_login_gets_a_new_authentication_at_the_level_asked() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    let first = common::login_as(&client, "alice").await.unwrap();
    assert_eq!(first.identity.claim("acr"), None, "no acr was asked for");
    // The provider remembers the sign-in (single sign-on): an hour old now.
    provider.backdate_authentications(Duration::from_secs(3600));
    let reused = common::login_as(&client, "alice").await.unwrap();
    let auth_time = reused
        .identity
        .claim("auth_time")
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(
        auth_time <= now() - 3600,
        "a plain login reuses the provider's sign-in"
    );

    let step_up = StepUp::new()
        .max_age(Duration::from_secs(300))
        .acr_values(["mfa", "hwk"]);
    let (login, url) = step_up_login(&client, step_up).await;
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["max_age"], "300");
    assert_eq!(q["acr_values"], "mfa hwk");
    assert_eq!(q["prompt"], "login");
    let login = login.expect("the provider honoured the step-up");
    let auth_time = login.identity.claim("auth_time").unwrap().as_i64().unwrap();
    assert!(auth_time >= now() - 5, "a new authentication: {auth_time}");
    assert_eq!(login.identity.claim("acr").unwrap(), "mfa");
}

#[tokio::test]
async fn rp_step_up_provider_ignores_max_age_is_refused() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    common::login_as(&client, "alice").await.unwrap();
    provider.backdate_authentications(Duration::from_secs(3600));
    provider.misbehave(Misbehavior::IgnoreStepUp);
    let (login, _) = step_up_login(&client, StepUp::new().max_age(Duration::from_secs(300))).await;
    let err = login.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::AuthenticationTooOld { max_age: 300, .. })
        ),
        "{err}"
    );
    assert_eq!(err.code(), "step_up_not_met");
}

#[tokio::test]
async fn rp_step_up_provider_returns_a_weaker_acr_is_refused() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    // A first sign-in at `pwd`.
    let (login, _) = step_up_login(&client, StepUp::new().acr_values(["pwd"])).await;
    assert_eq!(login.unwrap().identity.claim("acr").unwrap(), "pwd");
    provider.misbehave(Misbehavior::IgnoreStepUp);
    let (login, _) = step_up_login(&client, StepUp::new().acr_values(["mfa"])).await;
    let err = login.unwrap_err();
    assert!(
        matches!(&err, Error::Token(TokenError::AcrNotAccepted { acr: Some(acr), accepted }) if acr == "pwd" && accepted == &["mfa"]),
        "{err}"
    );
    // A provider that sends no acr at all is refused too.
    let fresh = TestProvider::start().await;
    fresh.misbehave(Misbehavior::IgnoreStepUp);
    let client = common::client(&fresh).await;
    let (login, _) = step_up_login(&client, StepUp::new().acr_values(["mfa"])).await;
    assert!(matches!(
        login.unwrap_err(),
        Error::Token(TokenError::AcrNotAccepted { acr: None, .. })
    ));
}

#[tokio::test]
async fn entra_auth_context_is_asked_with_claims_and_checked_in_acrs() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    let step_up = StepUp::new().entra_auth_context("c1");
    let (login, url) = step_up_login(&client, step_up.clone()).await;
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q["claims"],
        r#"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#
    );
    let login = login.unwrap();
    assert_eq!(
        login.identity.claim("acrs").unwrap(),
        &serde_json::json!(["c1"])
    );

    provider.misbehave(Misbehavior::IgnoreStepUp);
    let (login, _) = step_up_login(&client, StepUp::new().entra_auth_context("c2")).await;
    let err = login.unwrap_err();
    assert!(
        matches!(&err, Error::Token(TokenError::AuthContextMissing { context }) if context == "c2"),
        "{err}"
    );
}

#[tokio::test]
async fn a_login_that_is_no_step_up_does_not_check_acr() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::IgnoreStepUp);
    let client = common::client(&provider).await;
    assert!(common::login_as(&client, "alice").await.is_ok());
}

// ---- axum: RequireStepUp on a route ----

struct Recent;
impl StepUpPolicy for Recent {
    fn step_up() -> StepUp {
        StepUp::new().max_age(Duration::from_secs(300))
    }
}

struct Mfa;
impl StepUpPolicy for Mfa {
    fn step_up() -> StepUp {
        StepUp::new().acr_values(["mfa"])
    }
}

struct Context;
impl StepUpPolicy for Context {
    fn step_up() -> StepUp {
        StepUp::new().entra_auth_context("c1")
    }
}

struct StepUpApp {
    base: String,
    provider: Arc<TestProvider>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StepUpApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StepUpApp {
    async fn start() -> Self {
        Self::start_with(|routes| routes).await
    }

    /// The same with `configure` applied to the login routes.
    async fn start_with(configure: impl FnOnce(LoginRoutes) -> LoginRoutes) -> Self {
        let provider = Arc::new(TestProvider::start().await);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client =
            client_with(config_builder(&provider).redirect_uri(format!("{base}/callback"))).await;
        let routes = configure(LoginRoutes::new(client.clone()));
        let claims = |identity: &oidc_login::Identity| {
            format!(
                "{} auth_time={} acr={}",
                identity.subject,
                identity.claim("auth_time").cloned().unwrap_or_default(),
                identity.claim("acr").cloned().unwrap_or_default()
            )
        };
        let app = Router::new()
            .route(
                "/recent",
                get(move |user: RequireStepUp<Recent>| async move { claims(&user.identity) }),
            )
            .route(
                "/mfa",
                get(move |user: RequireStepUp<Mfa>| async move { claims(&user.identity) })
                    .post(|user: RequireStepUp<Mfa>| async move { user.identity.subject.clone() }),
            )
            .route(
                "/context",
                get(|user: RequireStepUp<Context>| async move { user.identity.subject.clone() }),
            );
        let app = routes
            .mount(app)
            .layer(routes.layer())
            .layer(session_layer(MemoryStore::default(), &client));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            provider,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A browser: cookies kept, redirects followed (at most 10, as reqwest's
/// default: a redirect loop is an error).
fn browser() -> reqwest::Client {
    common::browser_with_jar().0
}

async fn navigate(browser: &reqwest::Client, url: &str) -> reqwest::Response {
    browser
        .get(url)
        .header("accept", "text/html")
        .send()
        .await
        .expect("no redirect loop")
}

/// Where a page navigation to `/mfa` with `manual` (which follows no
/// redirect) is sent: it must be a 303.
async fn mfa_redirect(manual: &reqwest::Client, app: &StepUpApp) -> String {
    let answer = manual
        .get(app.url("/mfa"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

async fn sign_in(app: &StepUpApp, browser: &reqwest::Client) {
    let signed_in = navigate(browser, &app.url("/login?login_hint=alice")).await;
    assert!(signed_in.url().path() == "/", "{}", signed_in.url());
}

#[tokio::test]
async fn a_route_needing_a_recent_sign_in_steps_up_and_returns_to_itself() {
    recent_sign_in_steps_up(StepUpApp::start().await).await;
}

/// The step-up travels in the login's sealed cookie as it does in the
/// session.
#[tokio::test]
async fn a_step_up_with_logins_in_sealed_cookies_returns_to_the_route() {
    let key = oidc_login::axum::PendingCookieKey::generate();
    recent_sign_in_steps_up(StepUpApp::start_with(|r| r.pending_logins_in_cookie(key)).await).await;
}

async fn recent_sign_in_steps_up(app: StepUpApp) {
    let browser = browser();
    sign_in(&app, &browser).await;
    // Recent enough: served at once.
    let at_once = navigate(&browser, &app.url("/recent?x=1")).await;
    assert_eq!(at_once.status(), 200);
    let first = at_once.text().await.unwrap();
    // A sign-in that reuses the provider's, from an hour ago: the route
    // needs a new authentication.
    app.provider
        .backdate_authentications(Duration::from_secs(3600));
    sign_in(&app, &browser).await;
    let tokens_before = app.provider.token_requests();
    let stepped = navigate(&browser, &app.url("/recent?x=1")).await;
    assert_eq!(stepped.status(), 200);
    assert_eq!(stepped.url().path(), "/recent", "back to the same route");
    assert_eq!(stepped.url().query(), Some("x=1"));
    assert_eq!(
        app.provider.token_requests(),
        tokens_before + 1,
        "one new login, no loop"
    );
    let body = stepped.text().await.unwrap();
    let auth_time: i64 = body
        .split("auth_time=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{body}"));
    assert!(auth_time >= now() - 5, "{body} (before: {first})");
}

#[tokio::test]
async fn the_step_up_redirect_asks_for_what_the_route_needs() {
    let app = StepUpApp::start().await;
    let (browser, _jar) = common::browser_with_jar();
    sign_in(&app, &browser).await;
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(_jar.clone())
        .build()
        .unwrap();
    let location = mfa_redirect(&manual, &app).await;
    let location = url::Url::parse(&app.url(&location)).unwrap();
    assert_eq!(location.path(), "/login");
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["return_to"], "/mfa");
    assert_eq!(q["acr_values"], "mfa");
    assert_eq!(q["login_hint"], "alice");
    // The login route sends it on to the provider, with prompt=login.
    let to_provider = manual.get(location.as_str()).send().await.unwrap();
    let provider_url =
        url::Url::parse(to_provider.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = provider_url.query_pairs().into_owned().collect();
    assert_eq!(q["acr_values"], "mfa");
    assert_eq!(q["prompt"], "login");
    assert_eq!(q["login_hint"], "alice");
}

#[tokio::test]
async fn a_route_needing_an_acr_steps_up_and_a_weaker_acr_is_an_error_page_not_a_loop() {
    let app = StepUpApp::start().await;
    let browser = browser();
    sign_in(&app, &browser).await;
    let stepped = navigate(&browser, &app.url("/mfa")).await;
    assert_eq!(stepped.status(), 200);
    assert!(stepped.text().await.unwrap().ends_with("acr=\"mfa\""));

    // A provider that never satisfies: one login, then an error page.
    // Bob (alice's `mfa` sign-in is remembered) signs in without an acr.
    app.provider.misbehave(Misbehavior::IgnoreStepUp);
    let browser = self::browser();
    let signed_in = navigate(&browser, &app.url("/login?login_hint=bob")).await;
    assert_eq!(signed_in.url().path(), "/");
    let tokens_before = app.provider.token_requests();
    let refused = navigate(&browser, &app.url("/mfa")).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.url().path(), "/callback");
    assert_eq!(
        app.provider.token_requests(),
        tokens_before + 1,
        "one login"
    );
    assert!(
        refused.text().await.unwrap().contains("step_up_not_met"),
        "the error page names the code"
    );
    // Still signed in as before (weakly): the route still is not served.
    let again = navigate(&browser, &app.url("/mfa")).await;
    assert_eq!(again.status(), 403);
}

#[tokio::test]
async fn entra_auth_context_round_trip_through_a_route() {
    let app = StepUpApp::start().await;
    let browser = browser();
    sign_in(&app, &browser).await;
    let stepped = navigate(&browser, &app.url("/context")).await;
    assert_eq!(stepped.status(), 200);
    assert_eq!(stepped.url().path(), "/context");
}

#[tokio::test]
async fn an_api_call_or_a_post_gets_a_401_challenge_never_a_redirect() {
    let app = StepUpApp::start().await;
    let (browser, jar) = common::browser_with_jar();
    sign_in(&app, &browser).await;
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar)
        .build()
        .unwrap();
    for request in [
        manual.post(app.url("/mfa")).header("accept", "text/html"),
        manual
            .get(app.url("/mfa"))
            .header("accept", "application/json"),
    ] {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401);
        assert!(answer.headers().get("location").is_none());
        let challenge = answer.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="insufficient_user_authentication""#)
                && challenge.contains(r#"acr_values="mfa""#),
            "{challenge}"
        );
    }
    // Not signed in at all: a POST is a plain 401.
    let answer = reqwest::Client::new()
        .post(app.url("/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
}

#[tokio::test]
async fn not_signed_in_a_browser_signs_in_with_the_step_up_at_once() {
    let app = StepUpApp::start().await;
    let browser = browser();
    // No session: the step-up login is the first one (the provider's
    // sign-in page needs a user: the hint is added by hand here).
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location = mfa_redirect(&manual, &app).await;
    assert!(location.contains("acr_values=mfa"), "{location}");
    let done = navigate(
        &browser,
        &format!("{}{location}&login_hint=alice", app.base),
    )
    .await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.url().path(), "/mfa");
}

#[tokio::test]
async fn a_bad_step_up_query_at_the_login_route_is_refused() {
    let app = StepUpApp::start().await;
    let answer = reqwest::Client::new()
        .get(app.url("/login?max_age=soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

/// The implicit flow's ID token (from the browser) is held to the step-up
/// as the code flow's is.
#[tokio::test]
async fn rp_step_up_implicit_flow_weaker_acr_is_refused() {
    let provider = TestProvider::builder()
        .client(
            oidc_login::testing::TestClient::confidential(
                common::CLIENT_ID,
                common::CLIENT_SECRET,
                oidc_login::testing::TestClientAuth::Basic,
            )
            .allow_implicit(),
        )
        .start()
        .await;
    let client = common::client_with(config_builder(&provider).insecure_implicit_flow()).await;
    let (login, _) = step_up_login(&client, StepUp::new().acr_values(["mfa"])).await;
    assert_eq!(login.unwrap().identity.claim("acr").unwrap(), "mfa");
    provider.misbehave(Misbehavior::IgnoreStepUp);
    let (login, _) = step_up_login(&client, StepUp::new().acr_values(["hwk"])).await;
    assert!(matches!(
        login.unwrap_err(),
        Error::Token(TokenError::AcrNotAccepted { acr: Some(acr), .. }) if acr == "mfa"
    ));
}
