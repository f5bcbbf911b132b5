//! The axum integration, over real HTTP: a browser stand-in with a cookie
//! jar against an app on a loopback port and the embedded provider.

use crate::common;

use axum::Router;
use common::app::App;
use common::*;
use oidc_login::Client;
use oidc_login::axum::{LoginRoutes, session_layer};
use oidc_login::testing::{Misbehavior, TestProvider};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use tower_sessions::MemoryStore;

/// A browser: a cookie jar, and redirects followed (or not).
fn browser(follow: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(if follow {
            Policy::limited(10)
        } else {
            Policy::none()
        })
        .build()
        .unwrap()
}

/// Signs in as `user` with the browser, following every redirect; returns the final response.
async fn sign_in(
    app: &App,
    browser: &reqwest::Client,
    user: &str,
    return_to: Option<&str>,
) -> reqwest::Response {
    let mut url = format!("{}?login_hint={user}", app.url("/login"));
    if let Some(path) = return_to {
        url.push_str(&format!("&return_to={}", urlencode(path)));
    }
    browser.get(url).send().await.unwrap()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn sign_in_and_use_the_extractors() {
    let app = App::start().await;
    let browser = browser(true);
    assert_eq!(
        browser
            .get(app.url("/private"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let landed = sign_in(&app, &browser, "alice", Some("/private")).await;
    assert_eq!(landed.status(), StatusCode::OK);
    assert_eq!(landed.url().path(), "/private");
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");
    assert_eq!(
        browser
            .get(app.url("/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn missing_role_is_403() {
    let app = App::start().await;
    let browser = browser(true);
    sign_in(&app, &browser, "bob", None).await;
    let response = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("missing_role"));
}

#[tokio::test]
async fn browser_navigation_is_sent_to_login_and_api_calls_get_401() {
    let app = App::start().await;
    let browser = browser(false);
    let page = browser
        .get(app.url("/private?tab=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&page), "/login?return_to=%2Fprivate%3Ftab%3D1");
    let api = browser
        .get(app.url("/private"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}

/// Signing out ends the session on the server, not only in the browser: the
/// cookie saved before `POST /logout`, sent again by hand, is refused.
#[tokio::test]
async fn logout_ends_the_session() {
    let app = App::start().await;
    let (browser, jar) = browser_with_jar();
    sign_in(&app, &browser, "alice", None).await;
    let signed_in = saved_cookies(&jar, &app.url("/"));
    assert_eq!(
        status_with_cookie(&app.url("/private"), &signed_in).await,
        StatusCode::OK,
        "the saved cookie, sent by hand, is signed in"
    );
    let out = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(out.url().path(), "/");
    assert_eq!(
        browser
            .get(app.url("/private"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_with_cookie(&app.url("/private"), &signed_in).await,
        StatusCode::UNAUTHORIZED,
        "the session cookie from before the sign-out no longer signs in"
    );
}

#[tokio::test]
async fn unsafe_return_to_is_refused() {
    let app = App::start().await;
    let browser = browser(false);
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "https://evil.example/",
        "/.//evil.example",
        "/%2e//evil.example/x",
        "/a/..//evil.example",
        "/./%2e//evil.example",
    ] {
        let response = browser
            .get(format!(
                "{}?return_to={}",
                app.url("/login"),
                urlencode(bad)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.text().await.unwrap().contains("bad_login_request"));
    }
}

/// Starts a login without following redirects; returns the callback URL the provider sends back.
async fn start_login(app: &App, browser: &reqwest::Client, user: &str) -> String {
    let to_provider = browser
        .get(format!("{}?login_hint={user}", app.url("/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let back = browser.get(location(&to_provider)).send().await.unwrap();
    assert!(back.status().is_redirection());
    location(&back)
}

#[tokio::test]
async fn two_logins_in_flight_each_finish_once() {
    let app = App::start().await;
    let browser = browser(false);
    let first = start_login(&app, &browser, "alice").await;
    let second = start_login(&app, &browser, "bob").await;
    let done = browser.get(&second).send().await.unwrap();
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "{}",
        done.text().await.unwrap()
    );
    let done = browser.get(&first).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    // Replayed: each pending login is single-use.
    let replay = browser.get(&first).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("no_pending_login"));
}

#[tokio::test]
async fn callback_from_another_browser_is_refused() {
    let app = App::start().await;
    let callback = start_login(&app, &browser(false), "alice").await;
    // An attacker's callback URL opened in the victim's browser (login CSRF).
    let victim = browser(false);
    let response = victim.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn session_id_is_rotated_at_sign_in_and_cookies_are_locked_down() {
    let app = App::start().await;
    let browser = browser(false);
    let to_provider = browser
        .get(format!("{}?login_hint=alice", app.url("/login")))
        .send()
        .await
        .unwrap();
    let before = to_provider.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(before.contains("HttpOnly"), "{before}");
    assert!(before.contains("SameSite=Lax"), "{before}");
    assert!(
        !before.contains("Secure"),
        "plain-http loopback app: {before}"
    );
    let back = browser.get(location(&to_provider)).send().await.unwrap();
    let done = browser.get(location(&back)).send().await.unwrap();
    let after = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    let id = |cookie: &str| cookie.split(';').next().unwrap().to_owned();
    assert_ne!(id(&before), id(&after), "the session id changes at sign-in");
}

#[tokio::test]
async fn https_apps_get_secure_cookies() {
    let provider = TestProvider::start().await;
    let config = config_builder(&provider)
        .redirect_uri("https://app.example/callback")
        .build()
        .unwrap();
    let client = Client::discover(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = LoginRoutes::new(client.clone());
    let app = routes
        .mount(Router::new())
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = browser(false)
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    server.abort();
}

#[tokio::test]
async fn refusals_have_status_and_code_and_no_secrets() {
    let app = App::start().await;
    let browser = browser(false);
    app.provider.misbehave(Misbehavior::BadSignature);
    let callback = start_login(&app, &browser, "alice").await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains("token_refused"), "{page}");
    assert!(!page.contains(&code), "{page}");

    app.provider.behave();
    app.provider
        .misbehave(Misbehavior::AuthorizeError("access_denied".into()));
    let callback = start_login(&app, &browser, "alice").await;
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("provider_refused"));
}

#[tokio::test]
async fn required_claim_refusal_is_403() {
    let app = App::start_with(
        TestProvider::start().await.into(),
        MemoryStore::default(),
        |b| b.required_claim("tid", "tenant-1"),
    )
    .await;
    let browser = browser(false);
    let callback = start_login(&app, &browser, "alice").await;
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("required_claim"));
}

#[tokio::test]
async fn cross_site_form_post_is_resubmitted_from_the_app_origin() {
    let app = App::start().await;
    let browser = browser(false);
    let callback = start_login(&app, &browser, "alice").await;
    let query = url::Url::parse(&callback)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    // The provider's form_post arrives cross-site: no cookie.
    let cookieless = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = cookieless
        .post(app.url("/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("oidc_login_resubmitted"), "{html}");
    // The page posts the same fields again, now from the app's origin: the cookie goes along.
    let resubmitted = form_fields(&html);
    let done = browser
        .post(app.url("/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(resubmitted)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    // A resubmitted form without a session is refused, not resubmitted again.
    let again = cookieless
        .post(app.url("/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&oidc_login_resubmitted=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_session_holding_only_a_login_in_flight_expires_with_it() {
    let app = App::start().await;
    let browser = browser(false);
    let to_provider = browser.get(app.url("/login")).send().await.unwrap();
    let cookie = to_provider.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("Max-Age=600"),
        "the pending login lifetime: {cookie}"
    );
    let back = browser
        .get(format!("{}&login_hint=alice", location(&to_provider)))
        .send()
        .await
        .unwrap();
    let done = browser.get(location(&back)).send().await.unwrap();
    let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("Max-Age=28800"),
        "signed in: 8 hours of inactivity: {cookie}"
    );
}

#[tokio::test]
async fn the_cookie_from_before_sign_in_is_worthless_after_it() {
    let app = App::start().await;
    let browser = browser(false);
    let to_provider = browser
        .get(format!("{}?login_hint=alice", app.url("/login")))
        .send()
        .await
        .unwrap();
    let before = to_provider.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let back = browser.get(location(&to_provider)).send().await.unwrap();
    browser.get(location(&back)).send().await.unwrap();
    assert_eq!(
        browser
            .get(app.url("/private"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // An attacker who fixed the pre-login session id gains nothing.
    let fixed = reqwest::Client::new();
    let response = fixed
        .get(app.url("/private"))
        .header("cookie", before)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_sign_in_older_than_the_max_session_age_must_be_renewed() {
    let provider = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config_builder(&provider)
        .redirect_uri(format!("{base}/callback"))
        .build()
        .unwrap();
    let client = Client::discover(config).await.unwrap();
    let app = Router::new().route(
        "/private",
        axum::routing::get(|user: oidc_login::axum::SignedIn| async move { user.identity.subject }),
    );
    let routes = LoginRoutes::new(client.clone()).max_session_age(std::time::Duration::from_secs(1));
    let app = routes
        .mount(app)
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let browser = browser(true);
    let landed = browser
        .get(format!("{base}/login?login_hint=alice&return_to=/private"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = browser.get(format!("{base}/private")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.abort();
}

#[tokio::test]
async fn a_prefix_is_taken_with_or_without_slashes() {
    for prefix in ["auth", "/auth", "/auth/", "auth/"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let callback = format!("{base}/auth/callback");
        let app = App::start_on(
            listener,
            std::sync::Arc::new(TestProvider::start().await),
            MemoryStore::default(),
            move |config| config.redirect_uri(callback),
            move |routes, _| routes.prefix(prefix),
        )
        .await;
        let browser = browser(true);
        let landed = browser
            .get(format!(
                "{}?login_hint=alice&return_to=/private",
                app.url("/auth/login")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(landed.status(), StatusCode::OK, "prefix `{prefix}`");
        assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");
    }
}
