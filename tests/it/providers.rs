//! Several providers in one app: two embedded providers with different
//! issuers behind one `LoginRoutes`, `GET /login?provider=`, and the mix-up
//! defence (RFC 9700 4.4) from the hostile side: one provider's answer
//! delivered for another's is refused, and no code reaches a token
//! endpoint it was not issued by.

use crate::common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::*;
use oidc_login::axum::{LoginRoutes, RequireStepUp, SignedIn, StepUpPolicy, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{CallbackError, ConfigError, Error, Start};
use reqwest::StatusCode;
use tower_sessions::MemoryStore;

/// An app with two providers, "entra" (the default, at `/callback`) and
/// "privx" (at `/callback/privx`), each an embedded provider of its own.
pub(crate) struct Two {
    pub(crate) base: String,
    pub(crate) entra: Arc<TestProvider>,
    pub(crate) privx: Arc<TestProvider>,
    routes: LoginRoutes,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Two {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Two {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn two_providers(entra: TestProvider, privx: TestProvider) -> Two {
    two_providers_with(entra, privx, MemoryStore::default(), true, |r| r).await
}

/// The app on `store`; with `with_privx` false, only "entra" is
/// configured (the same app after the other provider was removed).
pub(crate) async fn two_providers_with(
    entra: TestProvider,
    privx: TestProvider,
    store: MemoryStore,
    with_privx: bool,
    configure: impl FnOnce(LoginRoutes) -> LoginRoutes,
) -> Two {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    two_on(listener, entra, privx, store, with_privx, configure).await
}

/// The same on a listener bound beforehand, so that the providers could
/// register its back-channel logout routes.
async fn two_on(
    listener: tokio::net::TcpListener,
    entra: TestProvider,
    privx: TestProvider,
    store: MemoryStore,
    with_privx: bool,
    configure: impl FnOnce(LoginRoutes) -> LoginRoutes,
) -> Two {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let entra_client = provider_client(
        &entra,
        &base,
        ("entra", "Entra ID"),
        "/callback",
        "Read-write",
    )
    .await;
    let privx_client = provider_client(
        &privx,
        &base,
        ("privx", "PrivX"),
        "/callback/privx",
        "Read-only",
    )
    .await;
    let mut routes = LoginRoutes::new(entra_client.clone());
    if with_privx {
        routes = routes.provider(privx_client).unwrap();
    }
    let routes = configure(routes);
    let app = Router::new()
        .route(
            "/me",
            get(|user: SignedIn| async move {
                axum::Json(serde_json::json!({
                    "issuer": user.identity.issuer,
                    "provider": user.identity.provider,
                    "subject": user.identity.subject,
                    "roles": user.identity.roles,
                }))
            }),
        )
        .route(
            "/recent",
            get(|user: RequireStepUp<Recent>| async move { user.identity.provider.clone() }),
        );
    let app = routes
        .mount(app)
        .layer(routes.layer())
        .layer(session_layer(store, &entra_client));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Two {
        base,
        entra: Arc::new(entra),
        privx: Arc::new(privx),
        routes,
        server,
    }
}

/// The client for the app's provider `name` ("Sign in with {label}"), its
/// callback at `callback`, and the role alice's group maps to there.
async fn provider_client(
    provider: &TestProvider,
    base: &str,
    (name, label): (&str, &str),
    callback: &str,
    role: &str,
) -> oidc_login::Client {
    client_with(
        config_builder(provider)
            .name(name)
            .login_button_text(format!("Sign in with {label}"))
            .redirect_uri(format!("{base}{callback}"))
            .scopes(["openid", "profile", "offline_access"])
            .add_post_logout_redirect_uri(format!("{base}/logged-out"))
            .add_role_mapping(devs_are(role)),
    )
    .await
}

/// A sign-in at most a minute old.
struct Recent;
impl StepUpPolicy for Recent {
    fn step_up() -> oidc_login::StepUp {
        oidc_login::StepUp::new().max_age(std::time::Duration::from_secs(60))
    }
}

/// Starts a login with `browser` (which follows no redirect) at
/// `/login{query}` and has `provider` sign alice in; returns the callback
/// URL the provider sends the browser to (not followed).
pub(crate) async fn callback_from(
    app: &Two,
    browser: &reqwest::Client,
    query: &str,
    provider: &TestProvider,
) -> url::Url {
    let started = browser
        .get(app.url(&format!("/login{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{query}");
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&provider.sign_in(&authorize, "alice").await).unwrap()
}

async fn me(app: &Two, browser: &reqwest::Client) -> serde_json::Value {
    let response = browser.get(app.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn each_provider_signs_in_at_its_own_callback() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    assert_ne!(app.entra.issuer(), app.privx.issuer());

    let browser_ = browser(false);
    let callback = callback_from(&app, &browser_, "?provider=privx", &app.privx).await;
    assert_eq!(callback.path(), "/callback/privx");
    let landed = browser_.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let me_ = me(&app, &browser_).await;
    assert_eq!(me_["provider"], "privx");
    assert_eq!(me_["issuer"], app.privx.issuer());
    // The role table is the provider's own.
    assert_eq!(me_["roles"], serde_json::json!(["Read-only"]));
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (0, 1)
    );

    // `GET /login` alone starts at the first provider, as with one.
    let browser_ = browser(false);
    let callback = callback_from(&app, &browser_, "", &app.entra).await;
    assert_eq!(callback.path(), "/callback");
    browser_.get(callback).send().await.unwrap();
    let me_ = me(&app, &browser_).await;
    assert_eq!(me_["provider"], "entra");
    assert_eq!(me_["issuer"], app.entra.issuer());
    assert_eq!(me_["roles"], serde_json::json!(["Read-write"]));

    let browser_ = browser(false);
    callback_from(&app, &browser_, "?provider=entra", &app.entra).await;
}

#[tokio::test]
async fn an_unknown_provider_is_a_400_naming_the_known_ones() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    for asked in ["okta", "<script>alert(1)</script>", "", "ENTRA"] {
        let url = format!(
            "{}?provider={}",
            app.url("/login"),
            url::form_urlencoded::byte_serialize(asked.as_bytes()).collect::<String>()
        );
        let response = browser(false).get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{asked}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("<code>entra</code>, <code>privx</code>"),
            "{body}"
        );
        assert!(body.contains("unknown_provider"), "{body}");
        if !asked.is_empty() {
            assert!(
                !body.contains(asked),
                "the name asked for is not echoed: {body}"
            );
        }
    }
    assert_eq!(app.entra.token_requests() + app.privx.token_requests(), 0);
}

/// Provider B's answer (its code and state) delivered to provider A's
/// callback: the pending login it names was started at B, so A's route
/// refuses it before any token request, and the login is used up.
#[tokio::test]
async fn a_response_of_one_provider_at_anothers_callback_is_refused() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    let browser_ = browser(false);
    let callback = callback_from(&app, &browser_, "?provider=privx", &app.privx).await;
    let at_entra = format!("{}?{}", app.url("/callback"), callback.query().unwrap());
    let refused = browser_.get(at_entra).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("wrong_provider"));
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (0, 0)
    );
    // Used up: the genuine callback no longer finishes it.
    let replayed = browser_.get(callback).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.privx.token_requests(), 0);
}

/// The mix-up attack itself: the login was started at A ("entra"), and
/// A's code with A's state arrives at B's callback (an attacking B sent
/// the browser on to A). The code must never reach B's token endpoint. The
/// providers here send no RFC 9207 `iss`: the distinct redirect URIs
/// alone hold.
#[tokio::test]
async fn a_code_is_never_sent_to_another_providers_token_endpoint() {
    let no_iss = || TestProvider::builder().iss_parameter(false).start();
    let app = two_providers(no_iss().await, no_iss().await).await;
    let browser_ = browser(false);
    let callback = callback_from(&app, &browser_, "?provider=entra", &app.entra).await;
    assert!(!callback.query().unwrap().contains("iss="));
    let at_privx = format!(
        "{}?{}",
        app.url("/callback/privx"),
        callback.query().unwrap()
    );
    let refused = browser_.get(at_privx).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("wrong_provider"));
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (0, 0)
    );
    assert_eq!(
        browser_.get(app.url("/me")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// B's code with A's state at A's callback (B answering in place of A): B
/// sends RFC 9207 `iss`, so A's client refuses it before its token
/// endpoint sees B's code.
#[tokio::test]
async fn another_providers_code_with_this_ones_state_is_refused_by_iss() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    let browser_ = browser(false);
    let entra_callback = callback_from(&app, &browser_, "?provider=entra", &app.entra).await;
    let privx_callback = callback_from(&app, &browser_, "?provider=privx", &app.privx).await;
    let param = |url: &url::Url, name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let forged = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &param(&privx_callback, "code"))
        .append_pair("state", &param(&entra_callback, "state"))
        .append_pair("iss", &param(&privx_callback, "iss"))
        .finish();
    let refused = browser_
        .get(format!("{}?{forged}", app.url("/callback")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("issuer_mismatch"));
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (0, 0)
    );
}

/// The core API: a pending login started with one client is refused by
/// another, before any token request, even when both are clients of the
/// same provider (same issuer) and differ only by name.
#[tokio::test]
async fn a_client_refuses_another_providers_pending_login() {
    let provider = TestProvider::start().await;
    let one = client_with(config_builder(&provider).name("one")).await;
    let two = client_with(config_builder(&provider).name("two")).await;
    let (pending, callback) = start_as(&one, "alice", Start::default()).await;
    assert_eq!(pending.provider(), Some("one"));
    let err = two.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Callback(CallbackError::WrongProviderName { pending, client })
                if pending == "one" && client == "two"
        ),
        "{err}"
    );
    assert_eq!(err.code(), "wrong_provider");
    assert_eq!(provider.token_requests(), 0);

    // Different issuers: refused by the issuer.
    let other = TestProvider::start().await;
    let elsewhere = client_with(config_builder(&other).name("one")).await;
    let (pending, callback) = start_as(&one, "alice", Start::default()).await;
    let err = elsewhere.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::WrongProvider { .. })),
        "{err}"
    );
    assert_eq!(other.token_requests() + provider.token_requests(), 0);
}

#[tokio::test]
async fn providers_need_their_own_name_redirect_uri_and_the_same_origin() {
    let provider = TestProvider::start().await;
    let first = client_with(
        config_builder(&provider)
            .name("a")
            .redirect_uri("https://app.example/callback"),
    )
    .await;
    let refused = |builder| async {
        let client = client_with(builder).await;
        match LoginRoutes::new(first.clone()).provider(client) {
            Err(ConfigError::Invalid { field, reason }) => (field, reason),
            Ok(_) => panic!("accepted"),
            Err(other) => panic!("{other}"),
        }
    };
    let (field, reason) = refused(
        config_builder(&provider)
            .name("a")
            .redirect_uri("https://app.example/callback/a"),
    )
    .await;
    assert_eq!(field, "name");
    assert!(reason.contains("`a`"), "{reason}");
    let (field, reason) = refused(
        config_builder(&provider)
            .name("b")
            .redirect_uri("https://app.example/callback"),
    )
    .await;
    assert_eq!(field, "redirect_uri");
    assert!(reason.contains("mix-up"), "{reason}");
    let (field, _) = refused(
        config_builder(&provider)
            .name("b")
            .redirect_uri("https://other.example/callback/b"),
    )
    .await;
    assert_eq!(field, "redirect_uri");

    let routes = LoginRoutes::new(first.clone())
        .provider(
            client_with(
                config_builder(&provider)
                    .name("b")
                    .redirect_uri("https://app.example/callback/b"),
            )
            .await,
        )
        .unwrap();
    assert_eq!(routes.provider_names(), ["a", "b"]);
    assert_eq!(routes.login_path_for("b"), "/login?provider=b");
}

#[test]
fn provider_names_are_of_a_small_charset() {
    for bad in ["", "a b", "a/b", "<x>", "é", "a?b", &"x".repeat(33)] {
        let err = oidc_login::Config::builder("https://login.example", "app")
            .redirect_uri("https://app.example/callback")
            .name(bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { field: "name", reason } if !reason.contains(bad) || bad.is_empty()),
            "{err}"
        );
    }
    for good in ["entra", "PrivX-1", "a_b", &"x".repeat(32)] {
        oidc_login::Config::builder("https://login.example", "app")
            .redirect_uri("https://app.example/callback")
            .name(good)
            .build()
            .unwrap();
    }
    let config = oidc_login::Config::builder("https://login.example", "app")
        .redirect_uri("https://app.example/callback")
        .build()
        .unwrap();
    assert_eq!(config.name(), "default");
}

/// A session of a provider that is no longer configured ends; the other
/// provider's sessions go on.
#[tokio::test]
async fn a_session_of_a_removed_provider_ends() {
    let store = MemoryStore::default();
    let app = two_providers_with(
        TestProvider::start().await,
        TestProvider::start().await,
        store.clone(),
        true,
        |r| r,
    )
    .await;
    let browser_ = browser(true);
    let landed = browser_
        .get(app.url("/login?provider=privx&login_hint=alice&return_to=/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), StatusCode::OK);
    // The same store and cookie (cookies ignore the port), privx removed.
    let without = two_providers_with(
        TestProvider::start().await,
        TestProvider::start().await,
        store,
        false,
        |r| r,
    )
    .await;
    assert_eq!(
        browser_
            .get(without.url("/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(without.routes.provider_names(), ["entra"]);
}

#[tokio::test]
async fn the_login_page_has_one_button_per_provider() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    let html = app.routes.login_buttons();
    assert_eq!(html.matches("<form").count(), 2, "{html}");
    assert!(html.contains(r#"name="provider" value="entra""#), "{html}");
    assert!(html.contains(r#"name="provider" value="privx""#), "{html}");
    assert!(html.contains("Sign in with Entra ID") && html.contains("Sign in with PrivX"));
    assert!(html.find("entra").unwrap() < html.find("privx").unwrap());
    // The button's form, submitted as a browser does, starts at PrivX.
    let started = browser(false)
        .get(format!("{}?provider=privx", app.url("/login")))
        .send()
        .await
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(app.privx.issuer()), "{location}");

    // One provider: today's single button, no provider field.
    let provider = TestProvider::start().await;
    let one = LoginRoutes::new(client(&provider).await);
    assert_eq!(
        one.login_buttons(),
        oidc_login::axum::login_button("Sign in", "/login")
    );
}

// ----- refresh, sign-out and back-channel logout, per provider -------------

/// Two providers whose clients register the app's back-channel routes:
/// entra's at `/backchannel-logout`, privx's at `privx_back_channel`
/// (its own route, unless a test points it at entra's).
async fn session_life(
    privx_back_channel: &str,
    configure: impl FnOnce(LoginRoutes) -> LoginRoutes,
) -> Two {
    use oidc_login::testing::{TestClient, TestClientAuth};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let with_back_channel = |path: &str| {
        TestProvider::builder().client(
            TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                .backchannel_logout_uri(format!("{base}{path}")),
        )
    };
    let entra = with_back_channel("/backchannel-logout").start().await;
    let privx = with_back_channel(privx_back_channel).start().await;
    two_on(
        listener,
        entra,
        privx,
        MemoryStore::default(),
        true,
        configure,
    )
    .await
}

/// A browser signed in as `user` at `provider`.
async fn signed_in_at(app: &Two, provider: &str, user: &str) -> reqwest::Client {
    let browser_ = browser(true);
    let landed = browser_
        .get(app.url(&format!(
            "/login?provider={provider}&login_hint={user}&return_to=/me"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), StatusCode::OK);
    browser_
}

async fn status(app: &Two, browser: &reqwest::Client) -> StatusCode {
    browser.get(app.url("/me")).send().await.unwrap().status()
}

#[tokio::test]
async fn a_session_is_refreshed_at_its_own_provider() {
    // Longer than the providers' 5-minute access tokens: every request refreshes.
    let app = session_life("/backchannel-logout/privx", |routes| {
        routes.refresh_before_expiry(std::time::Duration::from_secs(301))
    })
    .await;
    let at_privx = signed_in_at(&app, "privx", "alice").await;
    let before = (app.entra.token_requests(), app.privx.token_requests());
    let me_ = me(&app, &at_privx).await;
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (before.0, before.1 + 1),
        "refreshed at privx, and only there"
    );
    assert_eq!(me_["provider"], "privx");
    assert_eq!(me_["issuer"], app.privx.issuer());
    assert_eq!(me_["roles"], serde_json::json!(["Read-only"]));
    // The refreshed identity's roles come from privx's table and groups.
    app.privx
        .add_user(oidc_login::testing::TestUser::alice().groups(["another-group"]));
    assert_eq!(me(&app, &at_privx).await["roles"], serde_json::json!([]));

    let at_entra = signed_in_at(&app, "entra", "alice").await;
    let before = (app.entra.token_requests(), app.privx.token_requests());
    assert_eq!(
        me(&app, &at_entra).await["roles"],
        serde_json::json!(["Read-write"])
    );
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (before.0 + 1, before.1)
    );
}

#[tokio::test]
async fn sign_out_goes_to_the_provider_of_the_session() {
    let app = session_life("/backchannel-logout/privx", LoginRoutes::provider_logout).await;
    let at_privx = signed_in_at(&app, "privx", "alice").await;
    let out = at_privx.post(app.url("/logout")).send().await.unwrap();
    // Followed: privx's end_session, then /logged-out, then `/` (absent here).
    assert_eq!(out.url().path(), "/");
    assert_eq!(
        (app.entra.logout_requests(), app.privx.logout_requests()),
        (0, 1)
    );
    assert_eq!(status(&app, &at_privx).await, StatusCode::UNAUTHORIZED);

    let at_entra = signed_in_at(&app, "entra", "alice").await;
    at_entra.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(
        (app.entra.logout_requests(), app.privx.logout_requests()),
        (1, 1)
    );
}

#[tokio::test]
async fn a_back_channel_logout_ends_only_its_providers_sessions() {
    let app = session_life(
        "/backchannel-logout/privx",
        LoginRoutes::back_channel_logout,
    )
    .await;
    let at_entra = signed_in_at(&app, "entra", "alice").await;
    let at_privx = signed_in_at(&app, "privx", "alice").await;
    assert_eq!(app.privx.backchannel_logout("alice").await, [200]);
    assert_eq!(status(&app, &at_privx).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status(&app, &at_entra).await,
        StatusCode::OK,
        "entra's session goes on"
    );
    assert_eq!(app.entra.backchannel_logout("alice").await, [200]);
    assert_eq!(status(&app, &at_entra).await, StatusCode::UNAUTHORIZED);
}

/// A provider's logout token posted to another provider's back-channel
/// route is checked by that other provider's client: refused, and no
/// session ends.
#[tokio::test]
async fn a_logout_token_at_another_providers_back_channel_route_is_refused() {
    let app = session_life("/backchannel-logout", LoginRoutes::back_channel_logout).await;
    let at_entra = signed_in_at(&app, "entra", "alice").await;
    let at_privx = signed_in_at(&app, "privx", "alice").await;
    assert_eq!(app.privx.backchannel_logout("alice").await, [400]);
    assert_eq!(status(&app, &at_privx).await, StatusCode::OK);
    assert_eq!(status(&app, &at_entra).await, StatusCode::OK);
}

// ----- the TOML form ---------------------------------------------------------

const TWO: &str = r#"
[[provider]]
name = "entra"
metadata_url = "https://login.example/v2.0"
client_id = "app"
redirect_uri = "https://app.example/callback"
login_button_text = "Sign in with Entra ID"

[[provider.role_mapping]]
name = "Entra devs"
source = "openid_connect"
value = "devs"
roles = ["Read-write"]

[[provider]]
name = "privx"
metadata_url = "https://privx.example/oidc/p1/"
client_id = "app"
redirect_uri = "https://app.example/callback/privx"
login_button_text = "Sign in with PrivX"

[[role_mapping]]
name = "PrivX admins"
source = "openid_connect"
value = "admins"
roles = ["Admin"]
provider = "privx"

[[role_mapping]]
name = "Everyone's auditors"
source = "openid_connect"
value = "auditors"
roles = ["Read-only"]
"#;

#[test]
fn the_toml_form_holds_several_providers() {
    let configs = oidc_login::Config::providers_from_toml(TWO).unwrap();
    let names: Vec<&str> = configs.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["entra", "privx"]);
    assert_eq!(configs[1].login_button_text(), "Sign in with PrivX");
    assert_eq!(configs[1].redirect_uri().path(), "/callback/privx");
    let rows =
        |i: usize| -> Vec<&str> { configs[i].role_mapping().iter().map(|r| r.name()).collect() };
    assert_eq!(rows(0), ["Entra devs", "Everyone's auditors"]);
    assert_eq!(rows(1), ["PrivX admins", "Everyone's auditors"]);

    // The one-provider form keeps working, through either reader.
    let one = "metadata_url = \"https://login.example\"\nclient_id = \"app\"\nredirect_uri = \"https://app.example/callback\"\n";
    let configs = oidc_login::Config::providers_from_toml(one).unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].name(), "default");
    assert_eq!(
        oidc_login::Config::from_toml(one).unwrap().name(),
        "default"
    );
}

#[test]
fn the_toml_form_refuses_what_cannot_work() {
    let err = oidc_login::Config::from_toml(TWO).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { field: "provider", reason } if reason.contains("providers_from_file")),
        "{err}"
    );
    let cases: [(&str, &str); 8] = [
        // A table without a name.
        (
            "[[provider]]\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n",
            "name",
        ),
        // Two tables of one name.
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n\
             [[provider]]\nname = \"a\"\nmetadata_url = \"https://b.example\"\nclient_id = \"b\"\nredirect_uri = \"https://app.example/callback/a\"\n",
            "name",
        ),
        // A shared row naming no provider of the file.
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n\
             [[role_mapping]]\nname = \"x\"\nsource = \"openid_connect\"\nvalue = \"g\"\nroles = [\"r\"]\nprovider = \"b\"\n",
            "role_mapping",
        ),
        // A row inside a table naming another provider.
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n\
             [[provider.role_mapping]]\nname = \"x\"\nsource = \"openid_connect\"\nvalue = \"g\"\nroles = [\"r\"]\nprovider = \"b\"\n",
            "role_mapping",
        ),
        // App-wide tables in a table other than the first, where the app
        // would never read them.
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n\
             [[provider]]\nname = \"b\"\nmetadata_url = \"https://b.example\"\nclient_id = \"b\"\nredirect_uri = \"https://app.example/callback/b\"\n\
             [provider.accounts]\ndatabase = \"accounts.sqlite\"\n",
            "`[accounts]` is app-wide",
        ),
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n\
             [[provider]]\nname = \"b\"\nmetadata_url = \"https://b.example\"\nclient_id = \"b\"\nredirect_uri = \"https://app.example/callback/b\"\n\
             [provider.break_glass]\nusername = \"x\"\n",
            "`[break_glass]` is app-wide",
        ),
        // A typo in a table, and a key beside the tables.
        (
            "[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_idd = \"a\"\nredirect_uri = \"https://app.example/callback\"\n",
            "client_idd",
        ),
        (
            "client_id = \"a\"\n[[provider]]\nname = \"a\"\nmetadata_url = \"https://a.example\"\nclient_id = \"a\"\nredirect_uri = \"https://app.example/callback\"\n",
            "expected `provider` or `role_mapping` (line 1",
        ),
    ];
    for (text, names) in cases {
        let err = oidc_login::Config::providers_from_toml(text).unwrap_err();
        assert!(err.to_string().contains(names), "{names}: {err}");
    }
    assert!(oidc_login::Config::providers_from_toml("provider = []").is_err());
}

/// The file's providers, discovered, behind one `LoginRoutes`.
#[tokio::test]
async fn providers_from_a_file_sign_in() {
    let (entra, privx) = (TestProvider::start().await, TestProvider::start().await);
    let text = format!(
        "[[provider]]\nname = \"entra\"\nmetadata_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nredirect_uri = \"http://127.0.0.1:9/callback\"\n\
         [[provider]]\nname = \"privx\"\nmetadata_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nredirect_uri = \"http://127.0.0.1:9/callback/privx\"\n\
         [[role_mapping]]\nname = \"devs\"\nsource = \"openid_connect\"\nvalue = \"{ALICE_GROUP}\"\nroles = [\"Admin\"]\nprovider = \"privx\"\n",
        entra.issuer(),
        privx.issuer()
    );
    let mut clients = Vec::new();
    for config in oidc_login::Config::providers_from_toml(&text).unwrap() {
        clients.push(oidc_login::Client::discover(config).await.unwrap());
    }
    let entra_login = login_as(&clients[0], "alice").await.unwrap();
    assert_eq!(entra_login.identity.provider, "entra");
    assert!(entra_login.identity.roles.is_empty());
    let privx_login = login_as(&clients[1], "alice").await.unwrap();
    assert_eq!(privx_login.identity.provider, "privx");
    assert_eq!(privx_login.identity.issuer, privx.issuer());
    assert_eq!(privx_login.identity.roles, ["Admin"]);
    let mut clients = clients.into_iter();
    let routes = LoginRoutes::new(clients.next().unwrap())
        .provider(clients.next().unwrap())
        .unwrap();
    assert_eq!(routes.provider_names(), ["entra", "privx"]);
}

/// Account linking refuses a provider whose `sub` is mutable whichever
/// comes first: the provider added after `accounts`, or before.
#[tokio::test]
async fn account_linking_checks_every_provider_for_a_mutable_sub() {
    use oidc_login::{AccountLinker, MemoryAccountStore};
    let (entra, privx) = (TestProvider::start().await, TestProvider::start().await);
    let first = client_with(config_builder(&entra).name("entra")).await;
    let record = serde_json::json!({
        "idp_type": "oidc",
        "enabled": true,
        "oidc_issuer": privx.issuer(),
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes_enabled": ["profile", "email"],
        "oidc_auth_method_enabled": "client_secret_basic",
        "oidc_allowed_redirect_uris": ["http://127.0.0.1:9/callback/privx"],
        "oidc_attribute_mapping": {"email": "sub"},
    })
    .to_string();
    let config = oidc_login::Config::from_privx_client_json(&record)
        .unwrap()
        .name("privx")
        .build()
        .unwrap();
    assert_eq!(config.mutable_subject(), Some("email"));
    let mutable = oidc_login::Client::discover(config).await.unwrap();
    let linker = AccountLinker::new(
        Arc::new(MemoryAccountStore::new()),
        first.config().claims().email_verification,
    );
    let field = |error: ConfigError| match error {
        ConfigError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    };
    let after = LoginRoutes::new(first.clone())
        .accounts(linker.clone())
        .unwrap()
        .provider(mutable.clone())
        .unwrap_err();
    assert_eq!(field(after), "oidc_attribute_mapping");
    let before = LoginRoutes::new(first.clone())
        .provider(mutable.clone())
        .unwrap()
        .accounts(linker.clone())
        .unwrap_err();
    assert_eq!(field(before), "oidc_attribute_mapping");
    let accepted = LoginRoutes::new(first)
        .provider(mutable)
        .unwrap()
        .accounts(linker.accept_mutable_sub())
        .unwrap();
    assert_eq!(accepted.provider_names(), ["entra", "privx"]);
}

/// A step-up sends the user back to the provider they signed in with, not
/// to the default one (which would sign in someone else, or nobody).
#[tokio::test]
async fn a_step_up_goes_to_the_provider_of_the_session() {
    let app = two_providers(TestProvider::start().await, TestProvider::start().await).await;
    signed_in_at(&app, "privx", "alice").await;
    // The provider's sign-in an hour old, reused by the next login.
    app.privx
        .backdate_authentications(std::time::Duration::from_secs(3600));
    let at_privx = signed_in_at(&app, "privx", "alice").await;
    let html = |path: &str| {
        at_privx
            .get(app.url(path))
            .header("accept", "text/html")
            .send()
    };
    // Followed: the step-up login happens at privx and comes back
    // with a fresh sign-in; the default provider is never asked.
    let stepped = html("/recent").await.unwrap();
    assert_eq!(stepped.status(), StatusCode::OK);
    assert_eq!(stepped.text().await.unwrap(), "privx");
    assert_eq!(app.entra.token_requests(), 0);
}
