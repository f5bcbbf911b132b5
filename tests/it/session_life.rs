//! A session's life after the callback, through the axum integration over
//! real HTTP: refresh on demand, sign-out at the provider, and back-channel
//! logout, each with its refusals.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::app::App;
use common::{CLIENT_ID, CLIENT_SECRET, browser};
use oidc_login::axum::LoginRoutes;
use oidc_login::testing::{Misbehavior, TestClient, TestClientAuth, TestProvider, TestUser};
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use tower_sessions::MemoryStore;

/// What the app switches on.
#[derive(Clone, Copy, Default)]
struct Features {
    refresh: bool,
    provider_logout: bool,
    back_channel: bool,
}

/// The provider (its client registered with the app's back-channel logout
/// URI) and the shared test app with `features` on.
async fn start(features: Features) -> App {
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
    let logged_out = format!("{base}/logged-out");
    App::start_on(
        listener,
        provider,
        MemoryStore::default(),
        |config| {
            config
                .scopes(["openid", "profile", "offline_access"])
                .add_post_logout_redirect_uri(logged_out)
        },
        move |client, _| {
            let mut routes = LoginRoutes::new(client);
            if features.refresh {
                // Longer than the provider's 5-minute access tokens: every request refreshes.
                routes = routes.refresh_before_expiry(Duration::from_secs(301));
            }
            if features.provider_logout {
                routes = routes.provider_logout();
            }
            if features.back_channel {
                routes = routes.back_channel_logout();
            }
            routes
        },
    )
    .await
}

/// A browser signing in to the app, and asking for its roles.
trait Browse {
    /// A browser with its own cookie jar, signed in as `user`.
    async fn signed_in(&self, user: &str) -> reqwest::Client {
        self.signed_in_with_jar(user).await.0
    }

    /// The same, with the jar, to read the cookie from.
    async fn signed_in_with_jar(&self, user: &str) -> (reqwest::Client, Arc<Jar>);

    /// `/roles`: the status and the roles.
    async fn me(&self, browser: &reqwest::Client) -> (StatusCode, String);
}

impl Browse for App {
    async fn signed_in_with_jar(&self, user: &str) -> (reqwest::Client, Arc<Jar>) {
        let (browser, jar) = common::browser_with_jar();
        let landed = browser
            .get(format!("{}?login_hint={user}", self.url("/login")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            landed.status(),
            StatusCode::NOT_FOUND,
            "landed on `/`, which this app lacks"
        );
        (browser, jar)
    }

    async fn me(&self, browser: &reqwest::Client) -> (StatusCode, String) {
        let response = browser.get(self.url("/roles")).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

// ----- refresh on demand ----------------------------------------------------

#[tokio::test]
async fn a_session_is_refreshed_and_loses_a_role_the_user_lost() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    let before = app.provider.token_requests();
    assert_eq!(
        app.me(&browser).await,
        (StatusCode::OK, "Read-write".into())
    );
    assert_eq!(
        app.provider.token_requests(),
        before + 1,
        "refreshed before serving"
    );

    app.provider
        .add_user(TestUser::alice().groups(["another-group"]));
    assert_eq!(app.me(&browser).await, (StatusCode::OK, String::new()));
}

#[tokio::test]
async fn concurrent_requests_of_one_session_share_one_refresh() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    // A slow token endpoint keeps the first refresh in flight while the others arrive.
    app.provider.misbehave(Misbehavior::SlowEndpoint(
        "token",
        Duration::from_millis(400),
    ));
    let before = app.provider.token_requests();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (browser, url) = (browser.clone(), app.url("/roles"));
        requests.spawn(async move {
            let response = browser.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        });
    }
    for answer in requests.join_all().await {
        assert_eq!(answer, (StatusCode::OK, "Read-write".into()));
    }
    assert_eq!(
        app.provider.token_requests(),
        before + 1,
        "one refresh for eight requests"
    );
}

/// glewlwyd and LemonLDAP::NG do not rotate refresh tokens: each refresh
/// that falls due reaches the provider, even within the minute a refresh's
/// outcome is kept (it is reused only while its own access token is fresh),
/// so a group change is seen at once and no expired access token is kept.
#[tokio::test]
async fn a_provider_that_does_not_rotate_refresh_tokens_is_refreshed_each_time_due() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    app.provider.misbehave(Misbehavior::NoRefreshTokenRotation);
    let browser = app.signed_in("alice").await;
    let before = app.provider.token_requests();
    // Every request is due (the margin outlasts the access token).
    for n in 1..=3 {
        assert_eq!(
            app.me(&browser).await,
            (StatusCode::OK, "Read-write".into())
        );
        assert_eq!(app.provider.token_requests(), before + n, "refresh {n}");
    }
    app.provider
        .add_user(TestUser::alice().groups(["another-group"]));
    assert_eq!(app.me(&browser).await, (StatusCode::OK, String::new()));
    assert_eq!(app.provider.token_requests(), before + 4);
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    app.provider.revoke_refresh_tokens();
    assert_eq!(app.me(&browser).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me(&browser).await.0,
        StatusCode::UNAUTHORIZED,
        "the session is gone"
    );
}

#[tokio::test]
async fn a_refreshed_token_for_another_user_ends_the_session() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    app.provider.misbehave(Misbehavior::RefreshNewSubject);
    assert_eq!(app.me(&browser).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unreachable_provider_leaves_the_session_as_it_is() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    // An answer over the 1 MiB cap is an HTTP failure, like a timeout.
    app.provider.misbehave(Misbehavior::HugeResponse("token"));
    assert_eq!(
        app.me(&browser).await,
        (StatusCode::OK, "Read-write".into())
    );
}

// ----- sign-out at the provider ----------------------------------------------

#[tokio::test]
async fn logout_ends_the_session_here_and_at_the_provider_and_comes_back() {
    let app = start(Features {
        provider_logout: true,
        ..Features::default()
    })
    .await;
    let browser_follow = app.signed_in("alice").await;
    // The same cookie jar, step by step.
    let response = browser_follow
        .post(app.url("/logout"))
        .send()
        .await
        .unwrap();
    // Followed: the provider, then /logged-out, then `/` (absent here).
    assert_eq!(response.url().path(), "/");
    assert_eq!(app.provider.logout_requests(), 1);
    assert_eq!(app.me(&browser_follow).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_sends_the_hint_an_allowed_return_uri_and_a_state_that_is_checked() {
    let app = start(Features {
        provider_logout: true,
        ..Features::default()
    })
    .await;
    let (_, jar) = app.signed_in_with_jar("alice").await;
    // Copy the cookie into a browser that stops at each redirect.
    let cookie = common::saved_cookies(&jar, &app.url("/"));
    let step = browser(false);
    let response = step
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_provider = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        to_provider
            .as_str()
            .starts_with(&app.provider.url("/logout"))
    );
    let params: std::collections::HashMap<String, String> =
        to_provider.query_pairs().into_owned().collect();
    assert!(params.contains_key("id_token_hint"));
    assert_eq!(params["post_logout_redirect_uri"], app.url("/logged-out"));
    assert_eq!(params["client_id"], CLIENT_ID);
    let new_cookie = response
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .expect("the logout state is kept in a new session");

    // A return with another state is logged, and still lands on `/`.
    let back = step
        .get(app.url("/logged-out?state=forged"))
        .header("cookie", &new_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()["location"], "/");
    // The old session is over.
    let old = step
        .get(app.url("/roles"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
}

// ----- local sign-out and activity ------------------------------------------

/// `MemoryStore` saves whatever a late request writes: without the
/// sign-out record, the session would come back to life.
#[tokio::test]
async fn a_sign_out_stays_when_a_request_in_flight_writes_the_session() {
    let app = App::start().await;
    assert_eq!(
        common::app::sign_out_with_a_request_in_flight(&app).await,
        common::app::LateAnswer::SAVED,
        "the late write saved the session and sent its old cookie back"
    );
}

/// The same with refresh on: the session holds tokens, and the late
/// request is one the layer refreshed.
#[tokio::test]
async fn a_sign_out_stays_when_a_refresh_was_in_flight() {
    let app = start(Features {
        refresh: true,
        ..Features::default()
    })
    .await;
    assert_eq!(
        common::app::sign_out_with_a_request_in_flight(&app).await,
        common::app::LateAnswer::SAVED,
        "the late write saved the session and sent its old cookie back"
    );
}

/// The session id in a `Set-Cookie` header.
fn cookie_id(set_cookie: &str) -> tower_sessions::session::Id {
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    value.parse().unwrap()
}

/// The app's own expiry (10 s of inactivity here) is kept at sign-in, and
/// activity renews it: the session is saved again once a tenth of it has
/// passed (at most once a minute for the default 8 hours), not on every
/// request.
#[tokio::test]
async fn activity_renews_the_apps_own_expiry() {
    use tower_sessions::{Expiry, SessionStore};

    let provider = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = common::client_with(
        common::config_builder(&provider).redirect_uri(format!("{base}/callback")),
    )
    .await;
    let store = MemoryStore::default();
    let inactivity = time::Duration::seconds(10);
    let sessions = oidc_login::axum::session_layer(store.clone(), &client)
        .with_expiry(Expiry::OnInactivity(inactivity));
    let routes = LoginRoutes::new(client);
    let app = routes
        .mount(axum::Router::new().route(
            "/private",
            axum::routing::get(|user: oidc_login::axum::SignedIn| async move {
                user.identity.subject.clone()
            }),
        ))
        .layer(routes.layer())
        .layer(sessions);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let step = browser(false);
    let to_provider = step
        .get(format!("{base}/login?login_hint=alice&return_to=/private"))
        .send()
        .await
        .unwrap();
    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    let back = step.get(location(&to_provider)).send().await.unwrap();
    let signed_in = step.get(location(&back)).send().await.unwrap();
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("Max-Age=10"),
        "the app's expiry: {set_cookie}"
    );
    let id = cookie_id(&set_cookie);
    let expiry = || async { store.load(&id).await.unwrap().unwrap().expiry_date };
    let first = expiry().await;
    let left = first - time::OffsetDateTime::now_utc();
    assert!(
        left <= inactivity && left > time::Duration::seconds(5),
        "the record expires with the app's expiry, not 8 hours: {left}"
    );

    let private = step.get(format!("{base}/private")).send().await.unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    assert!(
        private.headers().get("set-cookie").is_none(),
        "not saved again at once"
    );
    assert_eq!(expiry().await, first);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let private = step.get(format!("{base}/private")).send().await.unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    let renewed = private.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(renewed.contains("Max-Age=10"), "{renewed}");
    assert_eq!(cookie_id(&renewed), id, "the same session");
    let second = expiry().await;
    assert!(
        second - first >= time::Duration::seconds(1),
        "activity moved the expiry on: {first} -> {second}"
    );
    server.abort();
}

/// With the shared state down, nothing that depends on it passes: a
/// signed-in request is refused (500), a sign-out still ends the session
/// but says it could not be recorded (500), a logout token is refused (400,
/// `temporarily_unavailable`, so the provider sends it again).
#[tokio::test]
async fn a_shared_state_that_fails_fails_closed() {
    let state = common::state::Flaky::default();
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
    let app = App::start_on(listener, provider, MemoryStore::default(), |c| c, {
        let state = state.clone();
        move |client, _| LoginRoutes::new(client.with_shared_state(state)).back_channel_logout()
    })
    .await;
    let (alice, jar) = app.signed_in_with_jar("alice").await;
    let cookie = common::saved_cookies(&jar, &app.url("/"));
    assert_eq!(app.me(&alice).await.0, StatusCode::OK);

    state.set_down(true);
    let (status, page) = app.me(&alice).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.contains("session_error"), "{page}");

    let claims = serde_json::json!({
        "iss": app.provider.issuer(),
        "aud": CLIENT_ID,
        "iat": now(),
        "jti": "while-down",
        "sub": "alice-sub-0001",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let token = app.provider.sign_id_token(&claims);
    let response = post_logout_token(&app, form(&[("logout_token", &token)])).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"temporarily_unavailable"}"#
    );

    let out = browser(false)
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Back up: the session was flushed all the same, and the token that
    // could not be checked is accepted now.
    state.set_down(false);
    assert_eq!(
        common::status_with_cookie(&app.url("/roles"), &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    let response = post_logout_token(&app, form(&[("logout_token", &token)])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ----- back-channel logout ---------------------------------------------------

#[tokio::test]
async fn a_back_channel_logout_ends_every_session_of_the_user_and_only_those() {
    let app = start(Features {
        back_channel: true,
        ..Features::default()
    })
    .await;
    let laptop = app.signed_in("alice").await;
    let phone = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    assert_eq!(app.me(&laptop).await.0, StatusCode::OK);

    let answers = app.provider.backchannel_logout("alice").await;
    assert_eq!(answers, [200, 200], "one logout token per provider session");

    assert_eq!(app.me(&laptop).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&phone).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&bob).await.0, StatusCode::OK, "bob is untouched");
}

#[tokio::test]
async fn signing_out_at_the_provider_ends_that_session_by_its_sid() {
    let app = start(Features {
        provider_logout: true,
        back_channel: true,
        ..Features::default()
    })
    .await;
    let laptop = app.signed_in("alice").await;
    let phone = app.signed_in("alice").await;
    // The laptop signs out; the provider ends its session and tells the app
    // over the back channel, which ends the laptop's session only.
    laptop.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(app.me(&laptop).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&phone).await.0, StatusCode::OK);
}

/// `/private` was added to the app before `LoginRoutes::mount`, `/after`
/// after it: both are refreshed on demand and honour back-channel logouts.
#[tokio::test]
async fn routes_added_before_and_after_mount_are_refreshed_and_logged_out_alike() {
    let app = start(Features {
        refresh: true,
        back_channel: true,
        ..Features::default()
    })
    .await;
    let browser = app.signed_in("alice").await;
    for path in ["/private", "/after"] {
        let before = app.provider.token_requests();
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            app.provider.token_requests(),
            before + 1,
            "{path} refreshed"
        );
    }
    assert_eq!(app.provider.backchannel_logout("alice").await, [200]);
    for path in ["/private", "/after"] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path} logged out"
        );
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn post_logout_token(app: &App, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/backchannel-logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[tokio::test]
async fn the_back_channel_endpoint_answers_200_or_400_and_is_never_cached() {
    let app = start(Features {
        back_channel: true,
        ..Features::default()
    })
    .await;
    let alice = app.signed_in("alice").await;
    let claims = serde_json::json!({
        "iss": app.provider.issuer(),
        "aud": CLIENT_ID,
        "iat": now(),
        "jti": "a-unique-id",
        "sub": "alice-sub-0001",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let token = app.provider.sign_id_token(&claims);
    let mut bad = claims.clone();
    bad["nonce"] = serde_json::json!("n");
    let bad = app.provider.sign_id_token(&bad);

    for (body, status) in [
        (form(&[("logout_token", &bad)]), 400),
        (form(&[("logout_token", "not.a.jwt")]), 400),
        (form(&[("other", "x")]), 400),
        (
            form(&[("logout_token", &token), ("logout_token", &token)]),
            400,
        ),
        // Unknown fields are ignored.
        (form(&[("logout_token", &token), ("extra", "x")]), 200),
        // The same `jti` again: a replay.
        (form(&[("logout_token", &token)]), 400),
    ] {
        let response = post_logout_token(&app, body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    // The token named only `sub`: every session signed in until then ended...
    assert_eq!(app.me(&alice).await.0, StatusCode::UNAUTHORIZED);
    // ... and a sign-in right after it is a new one, which stays.
    let again = app.signed_in("alice").await;
    assert_eq!(app.me(&again).await, (StatusCode::OK, "Read-write".into()));
    assert_eq!(app.me(&again).await.0, StatusCode::OK);
}
