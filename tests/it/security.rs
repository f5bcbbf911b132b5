//! The findings of a security review, each tried from the attacker's side
//! against the axum integration over real HTTP: a group name that forges a
//! log line, `Debug` output that prints the session store, a
//! `max_session_age` that overflows, cross-origin POSTs from a sibling
//! subdomain, and pages without a strict policy. (The break-glass hash
//! floor is tested in `src/config/break_glass.rs`, the partner tenant's app
//! roles in `entra.rs`.)

use crate::common;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::response::{Html, IntoResponse};
use common::app::App;
use common::logs::Logs;
use common::{CLIENT_ID, CLIENT_SECRET};
use oidc_login::axum::tower_sessions::session::{Id, Record};
use oidc_login::axum::{LoginRoutes, SessionIndexKey, SessionStoreState};
use oidc_login::testing::{TestClient, TestClientAuth, TestProvider, TestUser};
use oidc_login::{AccessError, BreakGlass, Config, Error, NoRolePolicy, RoleMapping, Source};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use tower_sessions::{MemoryStore, SessionStore};

const PASSWORD: &str = "correct horse battery staple";

/// One hash for the module: argon2 is slow on purpose.
static HASH: LazyLock<String> = LazyLock::new(|| BreakGlass::hash_password(PASSWORD).unwrap());

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser (cookies kept, redirects followed) signed in to `app` as `user`.
async fn signed_in(app: &App, user: &str) -> reqwest::Client {
    let (browser, _) = common::browser_with_jar();
    let landed = browser
        .get(format!("{}?login_hint={user}", app.url("/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), StatusCode::NOT_FOUND, "landed on `/`");
    browser
}

async fn status(browser: &reqwest::Client, url: String) -> StatusCode {
    browser.get(url).send().await.unwrap().status()
}

// ----- claim values in the log ------------------------------------------------

/// A provider whose user `eve` is in groups named to forge log lines: a
/// newline followed by a fake log line, and a right-to-left override.
async fn provider_with_eve() -> Arc<TestProvider> {
    let eve = TestUser::new("eve-sub-0666", "eve").groups([
        "ops\nINFO oidc_login::login: login finished subject=admin roles=[\"Admin\"]",
        "x\u{202e}nimdA",
    ]);
    Arc::new(TestProvider::builder().user(eve).start().await)
}

#[tokio::test]
async fn a_group_name_with_a_newline_cannot_forge_a_log_line() {
    let provider = provider_with_eve().await;
    // The error itself, as the app gets it from `Client::finish`.
    let client =
        common::client_with(common::config_builder(&provider).no_role_policy(NoRolePolicy::Refuse))
            .await;
    let error = common::login_as(&client, "eve").await.unwrap_err();
    let message = error.to_string();
    assert!(
        !message.contains('\n') && !message.contains('\u{202e}'),
        "{message}"
    );
    assert!(
        message.contains("`ops\\nINFO oidc_login::login"),
        "{message}"
    );
    assert!(message.contains("x\\u{202e}nimdA"), "{message}");
    let Error::Access(AccessError::NoRole { values, .. }) = &error else {
        panic!("expected NoRole, got {error:?}");
    };
    assert!(values.iter().all(|v| !v.contains('\n')), "{values:?}");

    // The log line the axum integration writes for the refusal.
    let logs = Logs::capture();
    let app = App::start_with(provider, MemoryStore::default(), |b| {
        b.no_role_policy(NoRolePolicy::Refuse)
    })
    .await;
    let (browser, _) = common::browser_with_jar();
    let refused = browser
        .get(format!("{}?login_hint=eve", app.url("/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let text = logs.text();
    assert!(text.contains("ops\\nINFO oidc_login::login"), "{text}");
    assert!(
        !text
            .lines()
            .any(|line| line.starts_with("INFO oidc_login::login: login finished subject=admin")),
        "a forged line: {text}"
    );
}

/// A provider whose user's `sub` holds a line break and a fake log line:
/// the login's own log line (`login finished`) holds it escaped.
#[tokio::test]
async fn a_sub_with_a_newline_cannot_forge_the_login_log_line() {
    let forged = "INFO oidc_login::login: login finished subject=admin";
    let mallory = TestUser::new(format!("mallory\n{forged}"), "mallory");
    let provider = TestProvider::builder().user(mallory).start().await;
    let client = common::client(&provider).await;
    let logs = Logs::capture();
    let login = common::login_as(&client, "mallory").await.unwrap();
    assert!(login.identity.subject.contains('\n'));
    let text = logs.text();
    assert!(text.contains(&format!("mallory\\n{forged}")), "{text}");
    assert!(
        !text.lines().any(|line| line.starts_with(forged)),
        "a forged line: {text}"
    );
}

// ----- Debug of the routes and the layer -------------------------------------

#[tokio::test]
async fn debug_of_the_routes_and_the_layer_prints_no_session() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    let store = MemoryStore::default();
    // A session as the integration keeps one: its tokens in the store.
    let mut record = Record {
        id: Id::default(),
        data: [(
            "oidc_login.user".to_owned(),
            serde_json::json!({ "tokens": { "refresh_token": "rt-secret-never-printed" } }),
        )]
        .into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    assert!(
        format!("{store:?}").contains("rt-secret-never-printed"),
        "the store's own Debug prints it: the reason for the finding"
    );
    // The store reaches the routes through the client's shared state.
    let state = SessionStoreState::new(store, SessionIndexKey::random());
    let client = client.with_shared_state(state.clone());
    let routes = LoginRoutes::new(client.clone()).back_channel_logout();
    for debug in [
        format!("{routes:?}"),
        format!("{routes:#?}"),
        format!("{:?}", routes.layer()),
        format!("{client:?}"),
        format!("{state:?}"),
    ] {
        assert!(!debug.contains("rt-secret-never-printed"), "{debug}");
    }
}

// ----- a huge max_session_age --------------------------------------------------

/// An app whose client is registered for back-channel logout, with
/// `max_session_age` set to `age`.
async fn back_channel_app(age: Duration) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Arc::new(
        TestProvider::builder()
            .client(
                TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                    .backchannel_logout_uri(format!("{base}/backchannel-logout")),
            )
            .start()
            .await,
    );
    App::start_on(
        listener,
        provider,
        MemoryStore::default(),
        |config| config,
        move |client, store| {
            let state = SessionStoreState::new(store, SessionIndexKey::random());
            LoginRoutes::new(client.with_shared_state(state))
                .max_session_age(age)
                .back_channel_logout()
        },
    )
    .await
}

/// `max_session_age` of 100,000 years overflowed the logout record's expiry
/// and panicked the back-channel route, after the logout token's `jti` was
/// used: the session stayed, and the provider's retry was refused.
#[tokio::test]
async fn a_huge_max_session_age_is_capped_and_back_channel_logout_still_ends_the_session() {
    for age in [
        Duration::from_secs(100_000 * 365 * 24 * 3600),
        Duration::from_secs(u64::MAX / 4),
        Duration::MAX,
    ] {
        let logs = Logs::capture();
        let app = back_channel_app(age).await;
        assert!(
            logs.text().contains("longer than 30 days"),
            "{}",
            logs.text()
        );
        let alice = signed_in(&app, "alice").await;
        assert_eq!(status(&alice, app.url("/private")).await, StatusCode::OK);
        assert_eq!(
            app.provider.backchannel_logout("alice").await,
            [200],
            "{age:?}"
        );
        assert_eq!(
            status(&alice, app.url("/private")).await,
            StatusCode::UNAUTHORIZED,
            "{age:?}"
        );
    }
    let provider = TestProvider::start().await;
    let routes = LoginRoutes::new(common::client(&provider).await)
        .max_session_age(Duration::from_secs(31 * 24 * 3600));
    assert!(
        format!("{routes:?}").contains("max_session_age: 2592000s"),
        "{routes:?}"
    );
    let routes = routes.max_session_age(Duration::from_secs(7 * 24 * 3600));
    assert!(
        format!("{routes:?}").contains("max_session_age: 604800s"),
        "{routes:?}"
    );
}

// ----- cross-origin POSTs ----------------------------------------------------------

/// An app with the break-glass routes on.
async fn app_with_break_glass() -> App {
    let config = Config::builder("https://login.example.com", "app")
        .redirect_uri("http://127.0.0.1:9/callback")
        .break_glass("breakglass", HASH.as_str())
        .add_role_mapping(RoleMapping::new(
            "Local admin",
            Source::Local,
            "breakglass",
            ["Admin"],
        ))
        .build()
        .unwrap();
    let break_glass = BreakGlass::from_config(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    App::start_on(
        listener,
        Arc::new(TestProvider::start().await),
        MemoryStore::default(),
        |config| config,
        move |client, _| LoginRoutes::new(client).break_glass(break_glass),
    )
    .await
}

/// What a page on a sibling subdomain (or another site) makes the browser
/// send with its POST, besides the `SameSite=Lax` cookie that a sibling
/// subdomain's request carries.
fn foreign_headers(app: &App) -> Vec<[(&'static str, String); 2]> {
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    vec![
        [
            ("sec-fetch-site", "same-site".into()),
            ("origin", format!("http://evil.localhost:{port}")),
        ],
        [
            ("sec-fetch-site", "cross-site".into()),
            ("origin", "https://evil.example".into()),
        ],
        // The app's origin named, but the browser says it is another site's page.
        [
            ("sec-fetch-site", "same-site".into()),
            ("origin", app.base.clone()),
        ],
        // Browsers from before `Sec-Fetch-Site` send `Origin` alone.
        [
            ("origin", format!("http://localhost:{port}")),
            ("x-test", "origin only".into()),
        ],
        [("origin", "null".into()), ("x-test", "sandboxed".into())],
    ]
}

fn with_headers(
    mut request: reqwest::RequestBuilder,
    headers: &[(&'static str, String)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
}

#[tokio::test]
async fn a_cross_origin_logout_is_refused_and_the_session_stays() {
    let app = App::start().await;
    let alice = signed_in(&app, "alice").await;
    let logs = Logs::capture();
    for headers in foreign_headers(&app) {
        let response = with_headers(alice.post(app.url("/logout")), &headers)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("cross_origin_request"),
            "{headers:?}"
        );
        assert_eq!(
            status(&alice, app.url("/private")).await,
            StatusCode::OK,
            "still signed in after {headers:?}"
        );
    }
    assert!(
        logs.text().contains("cross_origin_request"),
        "{}",
        logs.text()
    );
    // The app's own page signs out.
    let out = alice
        .post(app.url("/logout"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(out.url().path(), "/");
    assert_eq!(
        status(&alice, app.url("/private")).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A cross-origin break-glass POST is refused before the password is
/// checked: it neither signs in nor uses up an attempt of the rate limit.
#[tokio::test]
async fn a_cross_origin_break_glass_post_is_refused_and_costs_no_attempt() {
    let app = app_with_break_glass().await;
    let browser = no_redirects();
    let form = |password: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("username", "breakglass")
            .append_pair("password", password)
            .finish()
    };
    let post = |headers: &[(&'static str, String)], password: &str| {
        with_headers(browser.post(app.url("/local-login")), headers)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(password))
            .send()
    };
    for headers in foreign_headers(&app) {
        // The right password, from a foreign page: not signed in.
        let response = post(&headers, PASSWORD).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(
            status(&browser, app.url("/private")).await,
            StatusCode::UNAUTHORIZED
        );
        // Wrong passwords, from a foreign page: each refused unchecked.
        for _ in 0..2 {
            let response = post(&headers, "guess").await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        }
    }
    // Ten foreign guesses counted nothing: the account is not locked.
    let same_origin = [
        ("sec-fetch-site", "same-origin".to_owned()),
        ("origin", app.base.clone()),
    ];
    let response = post(&same_origin, PASSWORD).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let me = browser.get(app.url("/private")).send().await.unwrap();
    assert_eq!(me.text().await.unwrap(), "breakglass");
}

/// The `form_post` callback arrives from the provider's site by design; it
/// must keep working: the cross-site POST gets the re-submit page, which
/// posts again from the app's origin.
#[tokio::test]
async fn the_form_post_callback_still_arrives_cross_site() {
    let app = App::start().await;
    let browser = no_redirects();
    let to_provider = browser
        .get(format!("{}?login_hint=alice", app.url("/login")))
        .send()
        .await
        .unwrap();
    let provider_url = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let back = browser.get(provider_url).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let body = url::Url::parse(&callback)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let provider_origin = app.provider.issuer().trim_end_matches('/').to_owned();
    // Cross-site: no cookie, the provider's origin.
    let page = reqwest::Client::new()
        .post(app.url("/callback"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", provider_origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let done = browser
        .post(app.url("/callback"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form_fields(&html))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&browser, app.url("/private")).await, StatusCode::OK);
}

// ----- page headers ---------------------------------------------------------------

fn assert_strict(response: &reqwest::Response, script: bool) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(csp.contains("script-src 'sha256-"), script, "{csp}");
    assert!(!csp.contains("'unsafe-eval'") && !csp.contains("script-src 'unsafe-inline'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn refusal_and_provider_facing_pages_refuse_framing_scripts_and_referrers() {
    let app = app_with_break_glass().await;
    let browser = no_redirects();
    // A refused callback (its URL holds a code: no Referer may carry it on).
    let refused = browser
        .get(app.url("/callback?code=stolen-code&state=unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_strict(&refused, false);
    // The break-glass form: no page may frame it (clickjacking).
    let form = browser.get(app.url("/local-login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_strict(&form, false);
    // A wrong password's refusal.
    let wrong = browser
        .post(app.url("/local-login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=breakglass&password=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_strict(&wrong, false);
    // The form_post re-submit page: its one script, by hash.
    let resubmit = reqwest::Client::new()
        .post(app.url("/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=c&state=s")
        .send()
        .await
        .unwrap();
    assert_eq!(resubmit.status(), StatusCode::OK);
    assert_strict(&resubmit, true);
    // A signed-out API call's 401 and a missing role's 403.
    let alice = signed_in(&app, "bob").await;
    let missing_role = alice.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(missing_role.status(), StatusCode::FORBIDDEN);
    assert_strict(&missing_role, false);
}

/// The app's own refusal page keeps its headers, and gets framing and
/// `Referer` refused where it says nothing.
#[tokio::test]
async fn the_app_s_refusal_page_is_not_framed_either() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = App::start_on(
        listener,
        Arc::new(TestProvider::start().await),
        MemoryStore::default(),
        |config| config,
        |client, _| {
            LoginRoutes::new(client).refusal_page(|refusal| {
                (refusal.status(), Html("<h1>No</h1>".to_owned())).into_response()
            })
        },
    )
    .await;
    let page = reqwest::get(app.url("/callback?code=c&state=s"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let headers = page.headers();
    assert_eq!(headers["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(page.text().await.unwrap(), "<h1>No</h1>");
}

/// Routes whose security records must hold across instances (back-channel
/// logout, break-glass) warn when the client keeps them in this process
/// only, and not once a shared state is given.
#[tokio::test]
async fn per_process_records_are_named_in_the_log() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    let warning = "kept in this process only";
    let logs = Logs::capture();
    let _ = LoginRoutes::new(client.clone())
        .back_channel_logout()
        .layer();
    assert_eq!(logs.lines_with(warning).len(), 1, "{}", logs.text());
    let shared = client.clone().with_shared_state(SessionStoreState::new(
        MemoryStore::default(),
        SessionIndexKey::random(),
    ));
    let _ = LoginRoutes::new(shared).back_channel_logout().layer();
    let _ = LoginRoutes::new(client).layer();
    assert_eq!(logs.lines_with(warning).len(), 1, "{}", logs.text());
}
