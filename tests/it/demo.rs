//! The demo's route contract (issue 3), over real HTTP: the app that
//! `cargo run --example demo` serves (`examples/demo_app/mod.rs`), started
//! the way the demo starts it, on a free loopback port, driven by reqwest
//! with a cookie jar. Also `DEMO_ADDR` and `--config` handling.

use crate::demo_app;

use std::net::SocketAddr;

use axum::http::StatusCode as Status;
use demo_app::{
    DEMO_API, DEMO_DAEMON_ID, DEMO_DAEMON_SECRET, DEMO_GROUP, Demo, Options, refusal_page,
    routes_prefix,
};
use oidc_login::testing::{TestProvider, TestUser};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

/// A started demo, serving until dropped.
struct Running {
    base: String,
    provider_issuer: String,
    server: tokio::task::JoinHandle<()>,
    _provider: Option<TestProvider>,
    _others: Vec<TestProvider>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn serve(demo: Demo, provider_issuer: String) -> Running {
    let base = demo.url.trim_end_matches('/').to_owned();
    let Demo {
        listener,
        app,
        provider,
        other_providers,
        ..
    } = demo;
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Running {
        base,
        provider_issuer,
        server,
        _provider: provider,
        _others: other_providers,
    }
}

/// The demo as `cargo run --example demo` with `DEMO_ADDR=127.0.0.1:0`.
async fn embedded_demo() -> Running {
    let options = Options::parse(Some("127.0.0.1:0"), []).unwrap();
    let demo = Demo::start(&options).await.expect("the demo starts");
    assert!(demo.warnings.is_empty(), "{:?}", demo.warnings);
    let issuer = demo
        .provider
        .as_ref()
        .expect("the embedded provider")
        .issuer()
        .to_owned();
    serve(demo, issuer).await
}

/// A browser with a cookie jar that follows no redirect.
fn browser() -> reqwest::Client {
    crate::common::browser(false)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("a text Location")
        .to_owned()
}

/// `GET {login}?login_hint=..&return_to=..`, then the provider (which signs
/// `user` in by the hint, with no form): the callback URL the browser is sent
/// back to.
async fn callback_url_for(
    browser: &reqwest::Client,
    login: &str,
    user: &str,
    return_to: &str,
) -> String {
    let start = browser
        .get(format!(
            "{login}{}login_hint={user}&return_to={return_to}",
            if login.contains('?') { '&' } else { '?' }
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        start.status(),
        StatusCode::SEE_OTHER,
        "{login} redirects to the provider"
    );
    let at_provider = browser.get(location(&start)).send().await.unwrap();
    assert!(
        at_provider.status().is_redirection(),
        "the provider sends the browser back: {}",
        at_provider.status()
    );
    location(&at_provider)
}

/// A whole sign-in: the callback's answer.
async fn sign_in(
    browser: &reqwest::Client,
    login: &str,
    user: &str,
    return_to: &str,
) -> (String, reqwest::Response) {
    let callback = callback_url_for(browser, login, user, return_to).await;
    let landed = browser.get(&callback).send().await.unwrap();
    (callback, landed)
}

async fn me(browser: &reqwest::Client, demo: &Running) -> (StatusCode, Value) {
    let response = browser.get(demo.url("/me")).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn home(browser: &reqwest::Client, demo: &Running) -> String {
    let response = browser.get(demo.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_route_contract_with_the_embedded_provider() {
    let demo = embedded_demo().await;
    let alice = browser();

    let page = home(&alice, &demo).await;
    assert!(
        page.contains("class=\"oidc-login\""),
        "the sign-in button: {page}"
    );
    assert!(
        page.contains("Sign in with the embedded provider"),
        "{page}"
    );
    assert!(
        page.contains("Development mode"),
        "the development banner: {page}"
    );
    assert_eq!(me(&alice, &demo).await.0, StatusCode::UNAUTHORIZED);

    let (callback, landed) = sign_in(&alice, &demo.url("/login"), "alice", "/somewhere").await;
    assert!(callback.starts_with(&demo.url("/callback?")), "{callback}");
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/somewhere");

    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["issuer", "subject", "username", "email", "groups", "roles"] {
        assert!(body.get(field).is_some(), "`{field}` in /me: {body}");
    }
    assert_eq!(body["issuer"], demo.provider_issuer.as_str());
    assert_eq!(body["username"], "alice");
    assert!(
        body["subject"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    let email = body["email"]
        .as_str()
        .expect("alice has an email")
        .to_owned();
    assert!(
        body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == DEMO_GROUP),
        "{body}"
    );
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));

    let page = home(&alice, &demo).await;
    for shown in [
        "alice",
        email.as_str(),
        DEMO_GROUP,
        "Read-write",
        "id=\"logout\"",
        "action=\"/logout\"",
    ] {
        assert!(
            page.contains(shown),
            "`{shown}` on the signed-in page: {page}"
        );
    }
    assert!(
        !page.contains("class=\"oidc-login\""),
        "no sign-in button when signed in"
    );

    let replay = alice.get(&callback).send().await.unwrap();
    assert_eq!(
        replay.status(),
        StatusCode::BAD_REQUEST,
        "a replayed callback"
    );
    let text = replay.text().await.unwrap();
    assert!(text.contains("no_pending_login"), "an error code: {text}");
    // The demo renders the refusal itself, through the crate's hook.
    assert!(
        text.contains("Error 400 · Bad Request") && text.contains("Admin console"),
        "the demo's refusal page: {text}"
    );

    // Sign-out here and at the provider, which sends the browser back to
    // `/logged-out` with the state, and on to `/`.
    let out = alice.post(demo.url("/logout")).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let at_provider = location(&out);
    assert!(
        at_provider.starts_with(&format!("{}/logout?", demo.provider_issuer)),
        "{at_provider}"
    );
    assert!(at_provider.contains("id_token_hint="), "{at_provider}");
    let back = alice.get(&at_provider).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let logged_out = location(&back);
    assert!(
        logged_out.starts_with(&demo.url("/logged-out?state=")),
        "{logged_out}"
    );
    let home_again = alice.get(&logged_out).send().await.unwrap();
    assert_eq!(home_again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&home_again), "/");
    assert_eq!(me(&alice, &demo).await.0, StatusCode::UNAUTHORIZED);
    assert!(home(&alice, &demo).await.contains("class=\"oidc-login\""));
}

/// The demo asks for `offline_access` and refreshes a session a minute
/// before its access token expires: with access tokens of 30 seconds, each
/// request refreshes at the provider, and a group the user lost takes the
/// role along at once.
#[tokio::test]
async fn the_demo_refreshes_the_session_before_the_access_token_expires() {
    let demo = embedded_demo().await;
    let provider = demo._provider.as_ref().expect("the embedded provider");
    provider.misbehave(oidc_login::testing::Misbehavior::AccessTokenLifetime(
        std::time::Duration::from_secs(30),
    ));
    let alice = browser();
    let (_, landed) = sign_in(&alice, &demo.url("/login"), "alice", "/").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let signed_in = provider.token_requests();
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));
    assert_eq!(provider.token_requests(), signed_in + 1, "refreshed");
    // The page says so.
    let page = home(&alice, &demo).await;
    assert!(page.contains("before the access token expires"), "{page}");
    provider.add_user(TestUser::alice().groups(["another-group"]));
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["roles"], serde_json::json!([]), "{body}");
    assert!(provider.token_requests() >= signed_in + 3);
}

#[tokio::test]
async fn bob_signs_in_with_no_roles() {
    let demo = embedded_demo().await;
    let bob = browser();
    let (_, landed) = sign_in(&bob, &demo.url("/login"), "bob", "/").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/");
    let (status, body) = me(&bob, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "bob");
    assert_eq!(body["roles"], serde_json::json!([]));
    let page = home(&bob, &demo).await;
    assert!(
        page.contains("bob") && page.contains("id=\"roles\"><em>none</em>"),
        "{page}"
    );
}

/// A demo page holds its own style and nothing to fetch or run: no script,
/// no linked stylesheet, font or image, no inline style or event handler.
fn assert_self_contained(page: &str) {
    for banned in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        " style=",
        " src=",
        "@import",
        "url(",
        "@font-face",
    ] {
        assert!(!page.contains(banned), "`{banned}` in a demo page: {page}");
    }
    // An event handler attribute: ` on` + letters + `=`.
    let handler = page.match_indices(" on").find(|(at, _)| {
        let rest = &page[at + 3..];
        let name = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        name > 0 && rest[name..].starts_with('=')
    });
    assert!(handler.is_none(), "an event handler in a demo page: {page}");
    assert_eq!(
        page.matches("<style>").count(),
        1,
        "one style block: {page}"
    );
    assert!(page.contains("<html lang=\"en\">"), "{page}");
}

/// The look of the pages: self-contained, and the signed-in page says who,
/// which role table row gave the role, and when the session ends.
#[tokio::test]
async fn the_pages_are_self_contained_and_show_the_session() {
    let demo = embedded_demo().await;
    let alice = browser();
    let page = home(&alice, &demo).await;
    assert_self_contained(&page);
    assert!(page.contains("<h1 id=\"title\">Sign in</h1>"), "{page}");
    assert!(
        page.contains(&format!("<code>{}</code>", demo.provider_issuer)),
        "the provider is named under the button: {page}"
    );

    let (_, landed) = sign_in(&alice, &demo.url("/login"), "alice", "/").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let page = home(&alice, &demo).await;
    assert_self_contained(&page);
    for shown in [
        "Signed in as <strong>alice</strong>",
        "<span class=\"pill\">Read-write</span>",
        "Maximus Conferencing Developers",
        "Provider sign-in",
        "ID token expires",
        "12 hours after sign-in at the latest",
        "8 hours idle",
        "1 min before the access token expires",
        "here and at the provider",
    ] {
        assert!(
            page.contains(shown),
            "`{shown}` on the signed-in page: {page}"
        );
    }
    // The embedded provider's ID tokens live 5 minutes from the sign-in.
    assert!(
        page.contains("· in 5 min") || page.contains("· in 4 min"),
        "the token's expiry, from now: {page}"
    );
    assert_eq!(page.matches("<time datetime=\"").count(), 2, "{page}");
}

/// What the provider says about the user is data, never markup: a user
/// whose every claim is an HTML injection sees it as text.
#[tokio::test]
async fn what_the_provider_sends_is_escaped_on_the_signed_in_page() {
    let options = Options::parse(Some("127.0.0.1:0"), []).unwrap();
    let demo = Demo::start(&options).await.expect("the demo starts");
    let provider = demo.provider.as_ref().expect("the embedded provider");
    let issuer = provider.issuer().to_owned();
    provider.add_user(
        TestUser::new("<b>sub</b>", "<img src=x onerror=alert(1)>")
            .email("\"><svg onload=alert(2)>@example.com")
            .name("</dd><script>alert(3)</script>")
            .groups(["<i>group</i>", DEMO_GROUP])
            .claim("roles", serde_json::json!(["<u>app role</u>"])),
    );
    let demo = serve(demo, issuer).await;
    let mallory = browser();
    let hint: String =
        url::form_urlencoded::byte_serialize(b"<img src=x onerror=alert(1)>").collect();
    let (_, landed) = sign_in(&mallory, &demo.url("/login"), &hint, "/").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&mallory, &demo).await.0, StatusCode::OK, "signed in");

    let page = home(&mallory, &demo).await;
    for markup in ["<img", "<svg onload", "<script", "<b>", "<i>", "<u>"] {
        assert!(
            !page.contains(markup),
            "`{markup}` from the provider became markup: {page}"
        );
    }
    for text in [
        "&lt;img src=x onerror=alert(1)&gt;",
        "\"&gt;&lt;svg onload=alert(2)&gt;@example.com",
        "&lt;/dd&gt;&lt;script&gt;alert(3)&lt;/script&gt;",
        "&lt;b&gt;sub&lt;/b&gt;",
        "&lt;i&gt;group&lt;/i&gt;",
        "&lt;u&gt;app role&lt;/u&gt;",
    ] {
        assert!(page.contains(text), "`{text}` shown as text: {page}");
    }
    assert!(
        page.contains("<span class=\"pill\">Read-write</span>"),
        "{page}"
    );
}

/// The demo's own refusal page, for the crate's hook: status, title,
/// message and code, escaped, in the demo's layout.
#[test]
fn the_refusal_page_names_the_status_and_code_and_escapes_them() {
    let axum::response::Html(page) = refusal_page(
        "Access denied",
        "missing_role",
        Status::FORBIDDEN,
        "Your account does not have the role this page needs.",
    );
    assert_self_contained(&page);
    for shown in [
        "Error 403 · Forbidden",
        "<h1 id=\"title\">Access denied</h1>",
        "<p>Your account does not have the role this page needs.</p>",
        "<code>missing_role</code>",
        "<a class=\"button\" href=\"/\">Back to the start page</a>",
    ] {
        assert!(
            page.contains(shown),
            "`{shown}` on the refusal page: {page}"
        );
    }
    let page = refusal_page(
        "<i>title</i>",
        "<b>code</b>",
        Status::BAD_REQUEST,
        "<script>alert(1)</script>",
    )
    .0;
    assert_self_contained(&page);
    assert!(page.contains("&lt;b&gt;code&lt;/b&gt;"), "{page}");
    assert!(page.contains("&lt;i&gt;title&lt;/i&gt;"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
}

#[test]
fn demo_addr_and_arguments() {
    let none: [String; 0] = [];
    let default = Options::parse(None, none.clone()).unwrap();
    assert_eq!(
        default.addr,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(default.config_file, None);
    assert_eq!(
        Options::parse(Some(""), none.clone()).unwrap().addr,
        default.addr
    );
    assert_eq!(
        Options::parse(Some("0.0.0.0:3000"), none.clone())
            .unwrap()
            .addr,
        "0.0.0.0:3000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        Options::parse(Some(" [::1]:0 "), none.clone())
            .unwrap()
            .addr,
        "[::1]:0".parse::<SocketAddr>().unwrap()
    );
    for bad in ["localhost", "127.0.0.1", "127.0.0.1:http", "8080"] {
        let error = Options::parse(Some(bad), none.clone()).unwrap_err();
        assert!(
            error.contains("DEMO_ADDR") && error.contains(bad),
            "{error}"
        );
    }

    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let with_config = Options::parse(None, args(&["--config", "oidc.toml"])).unwrap();
    assert_eq!(
        with_config.config_file.as_deref(),
        Some(std::path::Path::new("oidc.toml"))
    );
    for bad in [
        &["--config"][..],
        &["oidc.toml"],
        &["--config", "a", "b"],
        &["--help"],
        &["--config", ""],
    ] {
        let error = Options::parse(None, args(bad)).unwrap_err();
        assert!(error.starts_with("usage:"), "{bad:?}: {error}");
    }
}

#[test]
fn routes_follow_the_redirect_uri_and_mismatches_are_warned() {
    let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let url = |s: &str| Url::parse(s).unwrap();

    assert_eq!(
        routes_prefix(&url("http://127.0.0.1:8080/callback"), addr),
        (String::new(), vec![])
    );
    assert_eq!(
        routes_prefix(&url("http://127.0.0.1:8080/auth/callback"), addr),
        ("/auth".to_owned(), vec![])
    );

    let (prefix, warnings) = routes_prefix(&url("http://127.0.0.1:8080/oauth2/done"), addr);
    assert_eq!(prefix, "");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("`redirect_uri`") && warnings[0].contains("/callback"),
        "{warnings:?}"
    );

    let (prefix, warnings) = routes_prefix(&url("https://app.example.com/auth/callback"), addr);
    assert_eq!(prefix, "/auth");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("DEMO_ADDR") && warnings[0].contains("443"),
        "{warnings:?}"
    );

    // Every sample config's redirect_uri gives the demo a callback route.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut samples = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let redirect_uri = table["redirect_uri"].as_str().expect("a redirect_uri");
        let (prefix, warnings) = routes_prefix(&url(redirect_uri), addr);
        assert!(
            warnings
                .iter()
                .all(|w| !w.contains("does not end in `/callback`")),
            "{}: {warnings:?}",
            path.display()
        );
        assert_eq!(prefix, "/auth", "{}", path.display());
        samples += 1;
    }
    assert!(samples >= 3, "the sample configs were found");
}

/// `demo --config FILE` with a file describing the embedded provider and a
/// `redirect_uri` under `/auth`: no embedded provider of its own, no banner,
/// the login routes under `/auth`, `/` and `/me` at the root.
#[tokio::test]
async fn config_file_moves_the_login_routes_under_the_redirect_uri_path() {
    let provider = TestProvider::start().await;
    let (options, _dir) = options_with_config(
        &provider,
        "/auth/callback",
        &format!(
            r#"auth_method = "client_secret_basic"
login_button_text = "Sign in from the file"

[[role_mapping]]
name = "devs"
source = "openid_connect"
value = "{DEMO_GROUP}"
roles = ["Read-write"]
"#
        ),
    );
    let demo = Demo::start(&options)
        .await
        .expect("the demo starts with --config");
    assert!(
        demo.provider.is_none(),
        "no embedded provider with --config"
    );
    assert!(demo.warnings.is_empty(), "{:?}", demo.warnings);
    let demo = serve(demo, provider.issuer().to_owned()).await;

    let alice = browser();
    let page = home(&alice, &demo).await;
    assert!(page.contains("Sign in from the file"), "{page}");
    assert!(
        page.contains("/auth/login"),
        "the button points at /auth/login: {page}"
    );
    assert!(!page.contains("Development mode"), "{page}");
    assert_eq!(
        alice.get(demo.url("/login")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let (callback, landed) = sign_in(&alice, &demo.url("/auth/login"), "alice", "/somewhere").await;
    assert!(
        callback.starts_with(&demo.url("/auth/callback?")),
        "{callback}"
    );
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/somewhere");
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["issuer"], provider.issuer());
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));
    assert!(
        home(&alice, &demo)
            .await
            .contains("action=\"/auth/logout\"")
    );

    let out = alice.post(demo.url("/auth/logout")).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/");
    assert_eq!(me(&alice, &demo).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_missing_config_file_is_an_error_naming_it() {
    let options = Options::parse(
        Some("127.0.0.1:0"),
        ["--config".to_owned(), "/nonexistent/oidc.toml".to_owned()],
    )
    .unwrap();
    let error = Demo::start(&options)
        .await
        .err()
        .expect("no demo without its config");
    assert!(error.to_string().contains("oidc.toml"), "{error}");
}

/// What the demo prints for a config with a typo or a syntax error on the
/// secret's line: where the mistake is, never the secret.
#[tokio::test]
async fn a_config_file_with_a_mistake_never_shows_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let base = "metadata_url = \"https://login.example.com\"\nclient_id = \"app\"\n\
                redirect_uri = \"http://127.0.0.1:8080/auth/callback\"\n";
    for (i, bad) in [
        "client_secert = \"hunter2secret\"\n",
        "client_secret = \"hunter2secret\n",
        "client_secret = hunter2secret\n",
        "client_secret = 839274619283\n",
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("oidc-{i}.toml"));
        std::fs::write(&file, format!("{base}{bad}")).unwrap();
        let options = Options::parse(
            Some("127.0.0.1:0"),
            ["--config".to_owned(), file.display().to_string()],
        )
        .unwrap();
        let error = Demo::start(&options)
            .await
            .err()
            .expect("the config is refused");
        let printed = demo_app::error_report(&*error);
        assert!(printed.contains("line 4"), "{bad:?}: {printed}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("83927"),
            "{printed}"
        );
    }
}

#[tokio::test]
async fn break_glass_shows_and_signs_in_when_the_config_switches_it_on() {
    let provider = TestProvider::start().await;
    let hash = oidc_login::BreakGlass::hash_password("emergency only").unwrap();
    let (options, _dir) = options_with_config(
        &provider,
        "/callback",
        &format!(
            r#"[break_glass]
username = "breakglass"
password_hash = "{hash}"

[[role_mapping]]
name = "Local admin"
source = "local"
value = "breakglass"
roles = ["Read-write"]
"#
        ),
    );
    let demo = serve(
        Demo::start(&options).await.unwrap(),
        provider.issuer().to_owned(),
    )
    .await;
    let admin = browser();
    let page = home(&admin, &demo).await;
    assert!(page.contains("id=\"break-glass\""), "{page}");
    assert!(page.contains("action=\"/local-login\""), "{page}");

    let signed_in = admin
        .post(demo.url("/local-login"))
        .form(&[("username", "breakglass"), ("password", "emergency only")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let (status, body) = me(&admin, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "breakglass");
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));
    assert!(
        home(&admin, &demo)
            .await
            .contains("id=\"break-glass-used\"")
    );
}

#[tokio::test]
async fn without_break_glass_in_the_config_there_is_no_form() {
    let demo = embedded_demo().await;
    let page = home(&browser(), &demo).await;
    assert!(!page.contains("break-glass"), "{page}");
    let form = browser()
        .get(demo.url("/local-login"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::NOT_FOUND);
}

/// The demo's options for `--config FILE`, FILE (kept in the returned
/// directory) naming the embedded provider's default client, the redirect URI
/// at `callback_path` on a free port, then `rest`.
fn options_with_config(
    provider: &TestProvider,
    callback_path: &str,
    rest: &str,
) -> (Options, tempfile::TempDir) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc.toml");
    let text = format!(
        "metadata_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         redirect_uri = \"http://127.0.0.1:{port}{callback_path}\"\n{rest}",
        provider.metadata_url(),
        TestProvider::DEFAULT_CLIENT_ID,
        TestProvider::DEFAULT_CLIENT_SECRET,
    );
    std::fs::write(&file, text).unwrap();
    let options = Options::parse(
        Some(&format!("127.0.0.1:{port}")),
        ["--config".to_owned(), file.display().to_string()],
    )
    .unwrap();
    (options, dir)
}

/// The config's `[accounts]` table: logins are linked to its accounts, kept
/// in the SQLite file it names (relative to the config file, created when
/// missing); `/me` and the page show the account; a user with no account is
/// refused with its code; putting the rows again (a restart) keeps the
/// binding.
#[tokio::test]
async fn the_accounts_table_links_logins_and_me_shows_the_account() {
    let provider = TestProvider::start().await;
    let (options, dir) = options_with_config(
        &provider,
        "/callback",
        r#"[accounts]
database = "accounts.sqlite"

[[accounts.account]]
id = 7
email = "Alice@Example.com"
name = "Alice Admin"
"#,
    );
    let database = dir.path().join("accounts.sqlite");
    assert!(!database.exists());
    let demo = serve(
        Demo::start(&options).await.unwrap(),
        provider.issuer().to_owned(),
    )
    .await;
    assert!(database.exists(), "created beside the config file");

    let alice = browser();
    let (_, landed) = sign_in(&alice, &demo.url("/login"), "alice", "/me").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"], "7");
    assert_eq!(body["subject"], "alice-sub-0001");
    let page = home(&alice, &demo).await;
    assert!(
        page.contains("<code id=\"account\">7</code> Alice Admin"),
        "{page}"
    );

    // bob has no account.
    let bob = browser();
    let (_, landed) = sign_in(&bob, &demo.url("/login"), "bob", "/me").await;
    assert_eq!(landed.status(), StatusCode::FORBIDDEN);
    let page = landed.text().await.unwrap();
    assert!(page.contains("account_not_found"), "{page}");
    assert_eq!(me(&bob, &demo).await.0, StatusCode::UNAUTHORIZED);

    // A restart puts the rows again: the binding is kept.
    let config = oidc_login::Config::from_file(dir.path().join("oidc.toml")).unwrap();
    let store = demo_app::account_store(config.accounts().unwrap())
        .await
        .unwrap();
    let bound = store
        .find_by_subject(provider.issuer(), "alice-sub-0001")
        .await
        .unwrap()
        .expect("still bound");
    assert_eq!(bound.id, "7");
    assert_eq!(bound.display_name, "Alice Admin");
}

#[tokio::test]
async fn without_the_accounts_table_me_has_no_account() {
    let demo = embedded_demo().await;
    let alice = browser();
    sign_in(&alice, &demo.url("/login"), "alice", "/me").await;
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["subject"], "alice-sub-0001");
    assert!(body.get("account").is_none(), "{body}");
    assert!(!home(&alice, &demo).await.contains("id=\"account\""));
}

/// `GET /api/me` takes the embedded provider's access tokens: a daemon's
/// from `client_credentials`, as the banner shows with curl (run here as a
/// user would paste it, when curl is installed);
/// no token or a bad one gets the RFC 6750 answer.
#[tokio::test]
async fn the_api_takes_access_tokens_as_the_banner_says() {
    let options = Options::parse(Some("127.0.0.1:0"), []).unwrap();
    let demo = Demo::start(&options).await.expect("the demo starts");
    let banner = demo.banner.clone();
    let provider = demo.provider.as_ref().unwrap();
    let token_url = provider.url("/token");
    let issuer = provider.issuer().to_owned();
    assert_eq!(banner.len(), 3, "{banner:?}");
    for shown in [DEMO_DAEMON_ID, DEMO_DAEMON_SECRET, DEMO_API, "/api/me"] {
        assert!(banner[0].contains(shown), "{shown} in {}", banner[0]);
    }
    assert!(banner[1].contains(&token_url) && banner[1].contains("grant_type=client_credentials"));
    let demo = serve(demo, issuer).await;
    let api = demo.url("/api/me");
    assert!(banner[2].ends_with(&api), "{}", banner[2]);

    let http = reqwest::Client::new();
    let response = http.get(&api).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!("Bearer realm=\"{DEMO_API}\"").as_str()
    );
    let response = http
        .get(&api)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // The daemon, by hand.
    let token: Value = http
        .post(&token_url)
        .basic_auth(DEMO_DAEMON_ID, Some(DEMO_DAEMON_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "demo.read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let caller: Value = http
        .get(&api)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(caller["subject"], DEMO_DAEMON_ID);
    assert_eq!(caller["client_id"], DEMO_DAEMON_ID);
    assert_eq!(caller["scopes"], serde_json::json!(["demo.read"]));

    // The banner's commands, as pasted into a shell.
    let has_curl = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok();
    if has_curl {
        let script = format!("{}\n{}", banner[1].trim(), banner[2].trim());
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "the banner's curl answered {e}: {} {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        assert_eq!(answer["subject"], DEMO_DAEMON_ID, "{answer}");
    } else {
        eprintln!("curl is not installed: the banner's commands were checked by hand only");
    }
}

/// The value of the metric line `name{...}` whose labels hold every one of
/// `labels` (`key="value"`), in Prometheus text form.
fn metric_value(text: &str, name: &str, labels: &[String]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label.as_str())))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_the_demo_logins_in_prometheus_form() {
    let demo = embedded_demo().await;
    let alice = browser();
    let (_, landed) = sign_in(&alice, &demo.url("/login"), "alice", "/").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    demo._provider
        .as_ref()
        .unwrap()
        .misbehave(oidc_login::testing::Misbehavior::WrongAudience);
    let (_, refused) = sign_in(&browser(), &demo.url("/login"), "bob", "/").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let scrape = reqwest::get(demo.url("/metrics")).await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = scrape.text().await.unwrap();
    // Each demo has its own provider, so its issuer label counts its logins alone.
    let issuer = format!("issuer=\"{}\"", demo.provider_issuer);
    let value = |name: &str, extra: &[&str]| {
        let mut labels = vec![issuer.clone()];
        labels.extend(extra.iter().map(|l| (*l).to_owned()));
        metric_value(&text, name, &labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"))
    };
    assert_eq!(value("oidc_login_logins_started_total", &[]), 2.0);
    assert_eq!(value("oidc_login_logins_finished_total", &[]), 1.0);
    assert_eq!(
        value(
            "oidc_login_logins_refused_total",
            &["code=\"token_refused\""]
        ),
        1.0
    );
    assert!(
        metric_value(
            &text,
            "oidc_login_jwks_fetches_total",
            &["outcome=\"ok\"".into()]
        )
        .is_some_and(|n| n >= 1.0)
    );
    for histogram in [
        "oidc_login_code_exchange_seconds_count",
        "oidc_login_id_token_validation_seconds_count",
    ] {
        assert_eq!(value(histogram, &[]), 2.0, "{histogram}");
    }
    assert!(
        text.contains("# HELP oidc_login_logins_refused_total"),
        "{text}"
    );
}

/// `GET /recent` is served to a fresh sign-in; an hour-old one (the
/// provider's sign-in reused) goes through a new login, with `max_age` and
/// `prompt=login`, and back to `/recent`.
#[tokio::test]
async fn recent_steps_up_an_old_sign_in_and_comes_back() {
    let demo = embedded_demo().await;
    let alice = browser();
    let html = |request: reqwest::RequestBuilder| request.header("accept", "text/html").send();
    sign_in(&alice, &demo.url("/login"), "alice", "/").await;
    let fresh = html(alice.get(demo.url("/recent"))).await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);

    demo._provider
        .as_ref()
        .unwrap()
        .backdate_authentications(std::time::Duration::from_secs(3600));
    sign_in(&alice, &demo.url("/login"), "alice", "/").await;
    let old = html(alice.get(demo.url("/recent"))).await.unwrap();
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    let login = location(&old);
    assert!(
        login.starts_with("/login?return_to=%2Frecent&login_hint=alice&max_age=300"),
        "{login}"
    );
    let to_provider = alice.get(demo.url(&login)).send().await.unwrap();
    let provider_url = Url::parse(&location(&to_provider)).unwrap();
    assert!(
        provider_url
            .query_pairs()
            // `consent` too: the demo asks for `offline_access`.
            .any(|(k, v)| k == "prompt" && v.split(' ').any(|p| p == "login")),
        "{provider_url}"
    );
    let back = alice.get(provider_url).send().await.unwrap();
    let landed = alice.get(location(&back)).send().await.unwrap();
    assert_eq!(location(&landed), "/recent");
    let served = html(alice.get(demo.url("/recent"))).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    let body: Value = served.json().await.unwrap();
    let auth_time = body["auth_time"].as_i64().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(now - auth_time < 60, "a new authentication: {body}");
}

/// Without arguments, the demo starts two embedded providers with different
/// issuers, Entra-like and PrivX-like, and shows a button for each;
/// `GET /login?provider=privx` signs in at the PrivX-like one, `GET /login`
/// alone at the Entra-like one, and `/me` names the provider.
#[tokio::test]
async fn the_embedded_demo_has_two_providers() {
    let options = Options::parse(Some("127.0.0.1:0"), []).unwrap();
    let demo = Demo::start(&options).await.expect("the demo starts");
    let entra_issuer = demo.provider.as_ref().unwrap().issuer().to_owned();
    let [privx] = &demo.other_providers[..] else {
        panic!("one other embedded provider");
    };
    let privx_issuer = privx.issuer().to_owned();
    assert!(entra_issuer.ends_with("/v2.0"), "{entra_issuer}");
    assert!(privx_issuer.contains("/oidc/"), "{privx_issuer}");
    let demo = serve(demo, entra_issuer.clone()).await;

    let alice = browser();
    let page = home(&alice, &demo).await;
    assert_eq!(page.matches("class=\"oidc-login\"").count(), 2, "{page}");
    for shown in [
        "Sign in with the embedded provider (Entra-like)",
        "Sign in with the embedded provider (PrivX-like)",
        "name=\"provider\" value=\"entra\"",
        "name=\"provider\" value=\"privx\"",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(
        page.contains(&format!("<code>{privx_issuer}</code>")),
        "{page}"
    );

    let (callback, landed) =
        sign_in(&alice, &demo.url("/login?provider=privx"), "alice", "/").await;
    assert!(
        callback.starts_with(&demo.url("/callback/privx?")),
        "{callback}"
    );
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let (status, body) = me(&alice, &demo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["provider"], "privx");
    assert_eq!(body["issuer"], privx_issuer);
    assert_eq!(body["roles"], serde_json::json!(["Read-only"]));

    let bob = browser();
    let (callback, _) = sign_in(&bob, &demo.url("/login"), "alice", "/").await;
    assert!(callback.starts_with(&demo.url("/callback?")), "{callback}");
    let (_, body) = me(&bob, &demo).await;
    assert_eq!(body["provider"], "entra");
    assert_eq!(body["issuer"], entra_issuer);
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));

    let unknown = alice
        .get(demo.url("/login?provider=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

/// `demo --config FILE` with `[[provider]]` tables: a button per provider.
#[tokio::test]
async fn config_file_with_several_providers() {
    let (entra, privx) = (TestProvider::start().await, TestProvider::start().await);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc.toml");
    let table = |name: &str, provider: &TestProvider, callback: &str| {
        format!(
            "[[provider]]\nname = \"{name}\"\nmetadata_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
             redirect_uri = \"http://127.0.0.1:{port}{callback}\"\nlogin_button_text = \"Sign in with {name}\"\n",
            provider.metadata_url(),
            TestProvider::DEFAULT_CLIENT_ID,
            TestProvider::DEFAULT_CLIENT_SECRET,
        )
    };
    let text = format!(
        "{}{}[[role_mapping]]\nname = \"devs\"\nsource = \"openid_connect\"\nvalue = \"{DEMO_GROUP}\"\nroles = [\"Read-write\"]\nprovider = \"two\"\n",
        table("one", &entra, "/auth/callback"),
        table("two", &privx, "/auth/callback/two"),
    );
    std::fs::write(&file, text).unwrap();
    let options = Options::parse(
        Some(&format!("127.0.0.1:{port}")),
        ["--config".to_owned(), file.display().to_string()],
    )
    .unwrap();
    let demo = Demo::start(&options).await.expect("the demo starts");
    assert!(demo.provider.is_none() && demo.other_providers.is_empty());
    assert!(demo.warnings.is_empty(), "{:?}", demo.warnings);
    let demo = serve(demo, entra.issuer().to_owned()).await;
    let alice = browser();
    let page = home(&alice, &demo).await;
    assert!(
        page.contains("Sign in with one") && page.contains("Sign in with two"),
        "{page}"
    );
    let (callback, _) = sign_in(&alice, &demo.url("/auth/login?provider=two"), "alice", "/").await;
    assert!(
        callback.starts_with(&demo.url("/auth/callback/two?")),
        "{callback}"
    );
    let (_, body) = me(&alice, &demo).await;
    assert_eq!(body["provider"], "two");
    assert_eq!(body["issuer"], privx.issuer());
    assert_eq!(body["roles"], serde_json::json!(["Read-write"]));
    let bob = browser();
    sign_in(&bob, &demo.url("/auth/login"), "alice", "/").await;
    let (_, body) = me(&bob, &demo).await;
    assert_eq!(body["provider"], "one");
    assert_eq!(body["roles"], serde_json::json!([]));
}
