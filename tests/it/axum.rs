//! The axum integration, over real HTTP: a browser stand-in with a cookie
//! jar against an app on a loopback port and the embedded provider.

use crate::common;

use axum::Router;
use axum::response::IntoResponse;
use common::app::App;
use common::logs::Logs;
use common::store::CountingStore;
use common::*;
use oidc_login::Client;
use oidc_login::axum::{LoginRoutes, session_layer};
use oidc_login::testing::{Misbehavior, TestProvider};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use tower_sessions::MemoryStore;

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

/// `GET /login?prompt=` passes OpenID Connect Core 3.1.2.1's values on to
/// the provider, and refuses anything else with a 400 that names no value.
#[tokio::test]
async fn login_prompt_is_passed_on_or_refused() {
    let app = App::start().await;
    let browser = browser(false);
    let prompt_of = |response: &reqwest::Response| {
        url::Url::parse(&location(response))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
    };
    let plain = browser.get(app.url("/login")).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::SEE_OTHER);
    assert_eq!(prompt_of(&plain), None, "no `offline_access`, no prompt");
    for good in ["select_account", "login consent", "none"] {
        let response = browser
            .get(format!("{}?prompt={}", app.url("/login"), urlencode(good)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{good}");
        assert_eq!(prompt_of(&response).as_deref(), Some(good));
    }
    for bad in ["create", "none login", "<b>x</b>", ""] {
        let response = browser
            .get(format!("{}?prompt={}", app.url("/login"), urlencode(bad)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let body = response.text().await.unwrap();
        assert!(body.contains("bad_login_request"), "{body}");
        assert!(!body.contains("<b>x</b>"), "{body}");
    }
}

/// `POST /logout` issues a new session id, as sign-in does: the cookie it
/// sends back never carries the old id, and the old id is signed out.
#[tokio::test]
async fn logout_issues_a_new_session_id() {
    let app = App::start().await;
    let (browser, jar) = browser_with_jar();
    sign_in(&app, &browser, "alice", None).await;
    let signed_in = saved_cookies(&jar, &app.url("/"));
    let old_id = signed_in.to_str().unwrap().to_owned();
    let no_follow = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let out = no_follow
        .post(app.url("/logout"))
        .header("cookie", signed_in.clone())
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    let set: Vec<String> = out
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let new_id = set
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .find(|c| !c.ends_with('='))
        .unwrap_or_else(|| panic!("no new session cookie: {set:?}"));
    for cookie in &set {
        let value = cookie.split(';').next().unwrap();
        assert!(
            !old_id.contains(value),
            "the old id was sent back: {cookie} (was {old_id})"
        );
    }
    assert_ne!(new_id, old_id);
    assert!(set.iter().any(|c| c.contains("HttpOnly")), "{set:?}");
    // The old id is signed out; the new one is not signed in.
    for cookie in [
        signed_in,
        reqwest::header::HeaderValue::from_str(&new_id).unwrap(),
    ] {
        assert_eq!(
            status_with_cookie(&app.url("/private"), &cookie).await,
            StatusCode::UNAUTHORIZED,
            "{cookie:?}"
        );
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
    let client =
        client_with(config_builder(&provider).redirect_uri("https://app.example/callback")).await;
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
    let client =
        client_with(config_builder(&provider).redirect_uri(format!("{base}/callback"))).await;
    let app = Router::new().route(
        "/private",
        axum::routing::get(|user: oidc_login::axum::SignedIn| async move {
            user.identity.subject.clone()
        }),
    );
    let routes =
        LoginRoutes::new(client.clone()).max_session_age(std::time::Duration::from_secs(1));
    let app = routes
        .mount(app)
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let browser = browser(true);
    let landed = sign_in_at(&browser, &format!("{base}/login"), "alice", "/private").await;
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
            move |client, _| LoginRoutes::new(client).prefix(prefix),
        )
        .await;
        let browser = browser(true);
        let landed = sign_in_at(&browser, &app.url("/auth/login"), "alice", "/private").await;
        assert_eq!(landed.status(), StatusCode::OK, "prefix `{prefix}`");
        assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");
    }
}

// ----- the layer: where a route is added does not matter ---------------------

/// A browser navigation to `path`, without following redirects.
async fn navigate(app: &App, path: &str) -> reqwest::Response {
    browser(false)
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn routes_added_before_and_after_mount_get_the_prefixed_login_redirect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/auth/callback", listener.local_addr().unwrap());
    let app = App::start_on(
        listener,
        std::sync::Arc::new(TestProvider::start().await),
        MemoryStore::default(),
        move |config| config.redirect_uri(callback),
        |client, _| LoginRoutes::new(client).prefix("/auth"),
    )
    .await;
    for (path, encoded) in [
        ("/private", "%2Fprivate"),
        ("/after?x=1", "%2Fafter%3Fx%3D1"),
    ] {
        let page = navigate(&app, path).await;
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            location(&page),
            format!("/auth/login?return_to={encoded}"),
            "{path}"
        );
    }
    // ... and the redirect leads to a login that comes back to the route.
    let landed = sign_in_at(&browser(true), &app.url("/auth/login"), "alice", "/after").await;
    assert_eq!(landed.url().path(), "/after");
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");
}

/// The return address is the whole path, also under a nested router,
/// which hides its prefix from the routes inside it.
#[tokio::test]
async fn a_nested_route_comes_back_to_its_full_path() {
    let provider = TestProvider::start().await;
    let client = Client::discover(config_builder(&provider).build().unwrap())
        .await
        .unwrap();
    let routes = LoginRoutes::new(client.clone());
    let nested = Router::new().route(
        "/page",
        axum::routing::get(|_: oidc_login::axum::SignedIn| async { "" }),
    );
    let app = routes
        .mount(Router::new().nest("/app", nested))
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = Server::start(app).await;
    let page = browser(false)
        .get(server.url("/app/page"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&page), "/login?return_to=%2Fapp%2Fpage");
}

#[tokio::test]
async fn routes_that_are_switched_off_are_not_mounted() {
    let app = App::start().await;
    let browser = browser(false);
    for (method, path) in [
        (reqwest::Method::POST, "/backchannel-logout"),
        (reqwest::Method::GET, "/logged-out"),
        (reqwest::Method::GET, "/local-login"),
        (reqwest::Method::POST, "/local-login"),
    ] {
        let response = browser
            .request(method.clone(), app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("logout_token=x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    // The routes that are always there answer.
    for path in ["/login", "/callback"] {
        assert_ne!(
            browser.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// An app on a loopback port, stopped on drop.
struct Server {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Misuse fails closed: a route outside the login layer, or a login layer
/// outside the session layer, is refused with 500 (and an error logged),
/// never served as if no checks applied.
#[tokio::test]
async fn a_route_outside_the_layers_is_refused_not_served() {
    let provider = TestProvider::start().await;
    let client = Client::discover(config_builder(&provider).build().unwrap())
        .await
        .unwrap();
    let routes = LoginRoutes::new(client.clone());
    let signed_in = || axum::routing::get(|_: Option<oidc_login::axum::SignedIn>| async { "open" });

    // Added after the layers: axum does not put it under them.
    let late = routes
        .mount(Router::new())
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client))
        .route("/late", signed_in());
    let server = Server::start(late).await;
    let response = browser(false)
        .get(server.url("/late"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.text().await.unwrap().contains("login_not_set_up"));

    // The session layer inside the login layer: no request is served.
    let misordered = routes
        .mount(Router::new().route("/page", signed_in()))
        .layer(session_layer(MemoryStore::default(), &client))
        .layer(routes.layer());
    let server = Server::start(misordered).await;
    for path in ["/page", "/login"] {
        let response = browser(false).get(server.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        assert!(response.text().await.unwrap().contains("login_not_set_up"));
    }
}

// ----- the user is read once per request -------------------------------------

/// Three extractors in one handler, and the user read in middleware too:
/// the session and the back-channel logout records are read as often as
/// for one extractor, and the session is refreshed once.
#[tokio::test]
async fn the_user_is_resolved_once_per_request() {
    use axum::routing::get;
    use oidc_login::axum::{RequireRole, SessionIndexKey, SessionStoreState, SignedIn};

    let provider = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config_builder(&provider)
        .redirect_uri(format!("{base}/callback"))
        .scopes(["openid", "offline_access"])
        .add_role_mapping(devs_are("Read-write"))
        .build()
        .unwrap();
    let store = CountingStore::default();
    // The shared records in the session store too: their reads are counted.
    let client = Client::discover(config)
        .await
        .unwrap()
        .with_shared_state(SessionStoreState::new(
            store.clone(),
            SessionIndexKey::random(),
        ));
    let routes = LoginRoutes::new(client.clone())
        // Longer than the provider's 5-minute access tokens: every request refreshes.
        .refresh_before_expiry(std::time::Duration::from_secs(301))
        .back_channel_logout();
    let app = routes
        .mount(Router::new())
        .route("/one", get(|user: SignedIn| async move { user.identity.subject.clone() }))
        .route(
            "/three",
            get(
                |a: SignedIn, b: Option<SignedIn>, c: RequireRole<common::app::ReadWrite>| async move {
                    let b = b.expect("signed in");
                    assert_eq!(b.identity.subject, a.identity.subject);
                    assert_eq!(c.identity.subject, a.identity.subject);
                    // Resolved once: one identity, shared, not copied.
                    assert!(std::sync::Arc::ptr_eq(&a.identity, &b.identity) && std::sync::Arc::ptr_eq(&a.identity, &c.identity));
                    a.into_identity().subject
                },
            )
            .layer(axum::middleware::from_fn(
                |user: SignedIn, request: axum::extract::Request, next: axum::middleware::Next| async move {
                    assert_eq!(user.identity.subject, "alice-sub-0001", "the middleware sees the user too");
                    next.run(request).await
                },
            )),
        )
        .layer(routes.layer())
        .layer(session_layer(store.clone(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let browser = browser(true);
    let landed = sign_in_at(&browser, &format!("{base}/login"), "alice", "/one").await;
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");

    let mut reads = Vec::new();
    for path in ["/one", "/three", "/one", "/three"] {
        let (loads, refreshes) = (store.loads(), provider.token_requests());
        let response = browser.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "alice-sub-0001", "{path}");
        assert_eq!(
            provider.token_requests(),
            refreshes + 1,
            "one refresh for {path}"
        );
        reads.push(store.loads() - loads);
    }
    assert!(
        reads[0] >= 3,
        "the session, the sign-out record and a logout record: {reads:?}"
    );
    assert!(
        reads.iter().all(|&n| n == reads[0]),
        "as many store reads for three extractors and a middleware as for one: {reads:?}"
    );
    server.abort();
}

// ----- the signed-in user in the store --------------------------------------

/// An app on `store`, and alice signed in: her browser, and her session's id.
async fn alice_on(store: MemoryStore) -> (App, reqwest::Client, tower_sessions::session::Id) {
    let app = App::start_with(
        std::sync::Arc::new(TestProvider::start().await),
        store,
        |b| b,
    )
    .await;
    let (browser, jar) = browser_with_jar();
    sign_in(&app, &browser, "alice", None).await;
    let cookie = saved_cookies(&jar, &app.url("/"));
    let id = cookie
        .to_str()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .parse()
        .unwrap();
    (app, browser, id)
}

async fn roles(app: &App, browser: &reqwest::Client) -> (StatusCode, String) {
    let response = browser.get(app.url("/roles")).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Rewrites the signed-in user's stored value in the store, as another
/// instance (or an older build) would have written it.
async fn rewrite_user(
    store: &MemoryStore,
    id: tower_sessions::session::Id,
    rewrite: impl FnOnce(serde_json::Value) -> serde_json::Value,
) {
    use tower_sessions::SessionStore;
    let mut record = store.load(&id).await.unwrap().expect("the session");
    let user = record
        .data
        .remove("oidc_login.user")
        .expect("a signed-in user");
    record
        .data
        .insert("oidc_login.user".to_owned(), rewrite(user));
    store.save(&record).await.unwrap();
}

/// The user is kept as one JSON string (not a tree of JSON values): what a
/// store holds, and what a read copies.
#[tokio::test]
async fn the_signed_in_user_is_kept_as_one_json_string() {
    use tower_sessions::SessionStore;
    let store = MemoryStore::default();
    let (_app, _, id) = alice_on(store.clone()).await;
    let record = store.load(&id).await.unwrap().unwrap();
    let serde_json::Value::String(text) = &record.data["oidc_login.user"] else {
        panic!("not a string: {:?}", record.data["oidc_login.user"]);
    };
    let user: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(user["identity"]["subject"], "alice-sub-0001");
    assert!(user["signed_in_at_ms"].as_i64().unwrap() > 0);
    let sign_in_id = user["sign_in_id"].as_str().unwrap();
    assert_eq!(sign_in_id.len(), 32);
    assert!(
        sign_in_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex"
    );
}

/// A user decoded for an earlier request is reused only while the store
/// holds the very same text: a record changed in the store (by a refresh,
/// by another instance) is read as it is now, never as it was.
#[tokio::test]
async fn a_changed_record_is_never_served_stale() {
    let store = MemoryStore::default();
    let (app, browser, id) = alice_on(store.clone()).await;
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Read-write".into())
    );
    // Served from the decoded copy, the same.
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Read-write".into())
    );
    let set_roles = |roles: &'static [&'static str]| {
        move |user: serde_json::Value| {
            let mut user: serde_json::Value = serde_json::from_str(user.as_str().unwrap()).unwrap();
            user["identity"]["roles"] = serde_json::json!(roles);
            serde_json::Value::String(user.to_string())
        }
    };
    rewrite_user(&store, id, set_roles(&["Auditor"])).await;
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Auditor".into())
    );
    rewrite_user(&store, id, set_roles(&["Auditor", "Read-write"])).await;
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Auditor,Read-write".into())
    );
    // Gone from the store: signed out, though decoded a request ago.
    use tower_sessions::SessionStore;
    store.delete(&id).await.unwrap();
    assert_eq!(roles(&app, &browser).await.0, StatusCode::UNAUTHORIZED);
}

/// A user kept the way builds before this encoding kept it (a tree of JSON
/// values), or anything else that does not decode, is nobody: the request
/// is treated as signed out (no 500, no panic), and the session flushed.
#[tokio::test]
async fn a_record_that_does_not_decode_is_signed_out() {
    use tower_sessions::SessionStore;
    type Rewrite = fn(serde_json::Value) -> serde_json::Value;
    let cases: [(&str, Rewrite); 4] = [
        ("the previous encoding, a tree of JSON values", |user| {
            serde_json::from_str(user.as_str().unwrap()).unwrap()
        }),
        ("a string that is not JSON", |_| "not json {".into()),
        ("JSON of another shape", |_| r#"{"identity":42}"#.into()),
        ("a number", |_| 7.into()),
    ];
    for (case, rewrite) in cases {
        let store = MemoryStore::default();
        let (app, browser, id) = alice_on(store.clone()).await;
        assert_eq!(roles(&app, &browser).await.0, StatusCode::OK, "{case}");
        rewrite_user(&store, id, rewrite).await;
        assert_eq!(
            roles(&app, &browser).await.0,
            StatusCode::UNAUTHORIZED,
            "{case}"
        );
        assert!(store.load(&id).await.unwrap().is_none(), "{case}: flushed");
        // The browser can sign in again.
        sign_in(&app, &browser, "alice", None).await;
        assert_eq!(roles(&app, &browser).await.0, StatusCode::OK, "{case}");
    }
}

/// With `session_layer`'s own expiry (8 hours of inactivity), activity
/// extends a signed-in session: a request that comes a minute or more after
/// the session was last saved for its activity saves it again, 8 hours from
/// now, and sends the cookie again; a request within the minute does not.
#[tokio::test]
async fn activity_extends_the_default_eight_hours() {
    use tower_sessions::SessionStore;
    let store = MemoryStore::default();
    let (app, browser, id) = alice_on(store.clone()).await;
    let response = browser.get(app.url("/roles")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "saved at sign-in a moment ago: not again"
    );
    // As if the session had been idle for 7 hours since its last save.
    let now = time::OffsetDateTime::now_utc();
    let mut record = store.load(&id).await.unwrap().unwrap();
    record.data.insert(
        "oidc_login.active_at".to_owned(),
        (now - time::Duration::hours(7)).unix_timestamp().into(),
    );
    record.expiry_date = now + time::Duration::hours(1);
    store.save(&record).await.unwrap();

    let response = browser.get(app.url("/roles")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Max-Age=28800"), "8 hours again: {cookie}");
    let renewed = store.load(&id).await.unwrap().unwrap();
    let left = renewed.expiry_date - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::hours(7) + time::Duration::minutes(59),
        "extended to 8 hours from now: {left}"
    );
    assert_eq!(
        renewed.data["oidc_login.user"], record.data["oidc_login.user"],
        "the user is not rewritten"
    );
}

/// The logins in flight are kept as one JSON string too; a list kept the
/// way builds before this encoding kept it (a tree of JSON values) holds no
/// login: its callback is refused as one with no login in flight (400, not
/// 500), and the next login works.
#[tokio::test]
async fn logins_in_flight_of_the_previous_encoding_are_dropped() {
    use tower_sessions::SessionStore;
    let store = MemoryStore::default();
    let app = App::start_with(
        std::sync::Arc::new(TestProvider::start().await),
        store.clone(),
        |b| b,
    )
    .await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(Policy::none())
        .build()
        .unwrap();
    let callback = start_login(&app, &browser, "alice").await;
    let cookie = saved_cookies(&jar, &app.url("/"));
    let id: tower_sessions::session::Id = cookie
        .to_str()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let mut record = store.load(&id).await.unwrap().unwrap();
    let kept = record.data.remove("oidc_login.pending").unwrap();
    let serde_json::Value::String(text) = kept else {
        panic!("not a string: {kept:?}");
    };
    let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        tree.as_array().map(Vec::len),
        Some(1),
        "one login in flight"
    );
    record.data.insert("oidc_login.pending".to_owned(), tree);
    store.save(&record).await.unwrap();

    let refused = browser.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("no_pending_login"));
    let callback = start_login(&app, &browser, "alice").await;
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "signed in");
}

// ----- refusal pages -----------------------------------------------------------

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn a_missing_role_or_claim_says_access_denied() {
    let app = App::start().await;
    let browser = browser(true);
    sign_in(&app, &browser, "bob", None).await;
    let page = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let page = page.text().await.unwrap();
    assert!(page.contains("<title>Access denied</title>"), "{page}");
    assert!(page.contains("does not have the role"), "{page}");
    assert!(!page.contains("Sign-in refused"), "{page}");

    let app = App::start_with(
        TestProvider::start().await.into(),
        MemoryStore::default(),
        |b| b.required_claim("tid", "tenant-1"),
    )
    .await;
    let page = sign_in(&app, &browser, "alice", None).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<h1 style=\"font-size:1.6rem\">Access denied</h1>"),
        "{page}"
    );
    assert!(page.contains("required_claim"), "{page}");
}

#[tokio::test]
async fn access_denied_at_the_provider_is_a_cancelled_sign_in() {
    let app = App::start().await;
    app.provider
        .misbehave(Misbehavior::AuthorizeError("access_denied".into()));
    let browser = browser(false);
    let callback = start_login(&app, &browser, "alice").await;
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>Sign-in cancelled</title>"), "{page}");
    assert!(
        page.contains("cancelled at the identity provider"),
        "{page}"
    );

    // Any other error from the provider is a refusal.
    app.provider
        .misbehave(Misbehavior::AuthorizeError("server_error".into()));
    let callback = start_login(&app, &browser, "alice").await;
    let page = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>Sign-in refused</title>"), "{page}");
}

/// The provider refuses the app's own credentials: the page says the
/// operator must act, and neither the page nor the log holds the secret or
/// the code; the log holds the provider's reason.
#[tokio::test]
async fn invalid_client_tells_the_operator_to_fix_the_credentials() {
    const WRONG_SECRET: &str = "wrong-secret-4f1d9a";
    let logs = Logs::capture();
    let app = App::start_with(
        TestProvider::start().await.into(),
        MemoryStore::default(),
        |b| b.client_auth(oidc_login::ClientAuth::secret_basic(WRONG_SECRET)),
    )
    .await;
    let browser = browser(false);
    let callback = start_login(&app, &browser, "alice").await;
    let code = param(&callback, "code");
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<title>Sign-in misconfigured</title>"),
        "{page}"
    );
    assert!(
        page.contains("did not accept this app&#x27;s client credentials"),
        "{page}"
    );
    assert!(page.contains("code_exchange_refused"), "{page}");
    assert!(!page.contains("could not be verified"), "{page}");
    let log = logs.text();
    let line = log
        .lines()
        .find(|line| line.contains("login refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert!(line.contains("oidc_login::axum"), "{line}");
    assert!(line.contains("code=\"code_exchange_refused\""), "{line}");
    assert!(line.contains("invalid_client"), "the reason: {line}");
    for secret in [WRONG_SECRET, &code] {
        assert!(
            !page.contains(secret) && !log.contains(secret),
            "{secret} leaked: {log}"
        );
    }
}

/// A token that fails validation: "refused", the detail in the log, the
/// code and the tokens in neither.
#[tokio::test]
async fn a_bad_token_is_refused_with_the_reason_in_the_log_only() {
    let logs = Logs::capture();
    let app = App::start().await;
    app.provider.misbehave(Misbehavior::BadSignature);
    let browser = browser(false);
    let callback = start_login(&app, &browser, "alice").await;
    let code = param(&callback, "code");
    let page = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>Sign-in refused</title>"), "{page}");
    assert!(page.contains("could not be verified"), "{page}");
    assert!(!page.contains("signature"), "no detail on the page: {page}");
    let log = logs.text();
    let line = log
        .lines()
        .find(|line| line.contains("login refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert!(
        line.contains("code=\"token_refused\"") && line.contains("signature"),
        "{line}"
    );
    assert!(!log.contains(&code), "{log}");
    assert!(!log.contains("eyJ"), "no JWT in the log: {log}");
}

#[tokio::test]
async fn the_app_can_answer_refusals_with_its_own_page() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = App::start_on(
        listener,
        std::sync::Arc::new(TestProvider::start().await),
        MemoryStore::default(),
        |config| config,
        |client, _| {
            LoginRoutes::new(client).refusal_page(|refusal| {
                let body = format!(
                    "custom|{}|{}|{}|{}",
                    refusal.status().as_u16(),
                    refusal.code(),
                    refusal.title(),
                    refusal.message()
                );
                (refusal.status(), body).into_response()
            })
        },
    )
    .await;
    let browser = browser(true);
    // An extractor's refusal.
    sign_in(&app, &browser, "bob", None).await;
    let response = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        response.text().await.unwrap(),
        "custom|403|missing_role|Access denied|Your account does not have the role this page needs."
    );
    // A login route's refusal.
    let response = browser
        .get(format!("{}?return_to=//evil.example", app.url("/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("custom|400|bad_login_request|Sign-in refused|"),
        "{body}"
    );
    // Other answers pass unchanged.
    let page = browser
        .get(app.url("/private"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page, "bob-sub-0002");
}

/// A flood of anonymous `POST /logout` (nobody signed in, a valid
/// `Origin`): each is answered, and none saves a session record, so the
/// flood cannot fill the store (or evict real sessions from a bounded one).
#[tokio::test]
async fn anonymous_sign_outs_save_nothing() {
    let store = CountingStore::default();
    let app = App::start_with(
        std::sync::Arc::new(TestProvider::start().await),
        store.clone(),
        |b| b,
    )
    .await;
    // One signed-in user, so the store is not empty to begin with.
    let (browser, _) = browser_with_jar();
    sign_in(&app, &browser, "alice", None).await;
    let before = store.records();
    assert!(before > 0);
    let no_follow = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    for _ in 0..1000 {
        let out = no_follow
            .post(app.url("/logout"))
            .header("origin", &app.base)
            .send()
            .await
            .unwrap();
        assert!(out.status().is_redirection(), "{}", out.status());
    }
    assert_eq!(store.records(), before);
    // Alice is still signed in.
    let response = browser.get(app.url("/private")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "alice-sub-0001");
}
