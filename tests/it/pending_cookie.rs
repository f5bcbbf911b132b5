//! Logins in flight in sealed cookies (`LoginRoutes::pending_logins_in_cookie`):
//! a login end to end, an anonymous `/login` flood that leaves the session
//! store empty, and the hostile side: altered, foreign, moved, expired and
//! replayed cookies (at this instance and at another sharing the state),
//! another provider's login, too many logins, and junk cookies.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use common::app::App;
use common::store::CountingStore;
use cookie::Cookie;
use oidc_login::axum::{LoginRoutes, PendingCookieKey};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, MemoryState};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use tower_sessions::MemoryStore;

const PREFIX: &str = "oidc_login_pending_";
const SESSION_COOKIE: &str = "oidc_login_session";

fn key() -> PendingCookieKey {
    PendingCookieKey::from_bytes(&[7; 64]).unwrap()
}

/// An app instance on `provider` whose login routes `routes` makes from
/// its client; `redirect_uri` replaces its own (another instance's, so
/// that both share one redirect URI as behind a load balancer).
async fn instance(
    provider: Arc<TestProvider>,
    store: CountingStore,
    redirect_uri: Option<String>,
    routes: impl FnOnce(Client) -> LoginRoutes,
) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    App::start_on(
        listener,
        provider,
        store,
        |builder| match redirect_uri {
            Some(uri) => builder.redirect_uri(uri),
            None => builder,
        },
        |client, _| routes(client),
    )
    .await
}

async fn cookie_app(provider: Arc<TestProvider>) -> (App, CountingStore) {
    let store = CountingStore::default();
    let app = instance(provider, store.clone(), None, |client| {
        LoginRoutes::new(client).pending_logins_in_cookie(key())
    })
    .await;
    (app, store)
}

/// A client that follows no redirect and keeps no cookie: the test sends
/// each cookie by hand.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookies(response: &reqwest::Response) -> Vec<Cookie<'static>> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| Cookie::parse(value.to_str().unwrap().to_owned()).unwrap())
        .collect()
}

fn removed(cookie: &Cookie<'_>) -> bool {
    cookie.max_age() == Some(time::Duration::ZERO)
}

fn header(cookies: &[(String, String)]) -> String {
    cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A login started at `app` and signed in at the provider as alice.
struct Started {
    /// The login's cookie: name and sealed value.
    cookie: (String, String),
    /// The callback's query string, as the provider sends it.
    query: String,
    /// Everything `/login` set.
    set: Vec<Cookie<'static>>,
}

impl Started {
    /// Its callback at `app`'s `/callback`, with its cookie.
    async fn finish_at(&self, app: &App) -> reqwest::Response {
        callback(
            app,
            "/callback",
            &self.query,
            std::slice::from_ref(&self.cookie),
        )
        .await
    }

    fn state(&self) -> String {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned()
    }

    fn with_state(&self, state: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(self.query.as_bytes()).map(
                |(name, value)| {
                    if name == "state" {
                        (name, state.to_owned().into())
                    } else {
                        (name, value)
                    }
                },
            ))
            .finish()
    }
}

/// `GET /login{query}` at `app` sending `sent` cookies, then alice's
/// sign-in at the provider.
async fn start(app: &App, query: &str, sent: &[(String, String)]) -> Started {
    let mut request = http().get(app.url(&format!("/login{query}")));
    if !sent.is_empty() {
        request = request.header(COOKIE, header(sent));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set = set_cookies(&response);
    let cookie = set
        .iter()
        .find(|c| c.name().contains(PREFIX) && !removed(c))
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
        .expect("the login's cookie is set");
    let authorize = response.headers()["location"].to_str().unwrap().to_owned();
    let back = app.provider.sign_in(&authorize, "alice").await;
    let query = url::Url::parse(&back).unwrap().query().unwrap().to_owned();
    Started { cookie, query, set }
}

/// `GET {path}?{query}` at `app` sending `sent` cookies.
async fn callback(
    app: &App,
    path: &str,
    query: &str,
    sent: &[(String, String)],
) -> reqwest::Response {
    let mut request = http().get(format!("{}?{query}", app.url(path)));
    if !sent.is_empty() {
        request = request.header(COOKIE, header(sent));
    }
    request.send().await.unwrap()
}

/// A refused callback: status 400, the error code, the login's cookie
/// removed.
async fn assert_refused(response: reqwest::Response, code: &str, cookie: Option<&str>) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let set = set_cookies(&response);
    if let Some(name) = cookie {
        assert!(
            set.iter().any(|c| c.name() == name && removed(c)),
            "the login's cookie is removed: {set:?}"
        );
    }
    assert!(
        !set.iter()
            .any(|c| c.name() == SESSION_COOKIE && !removed(c)),
        "no session: {set:?}"
    );
    let text = response.text().await.unwrap();
    assert!(text.contains(code), "{code} in {text}");
}

fn session_cookie(response: &reqwest::Response) -> Option<(String, String)> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.name() == SESSION_COOKIE && !removed(c))
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
}

async fn private(app: &App, session: &(String, String)) -> StatusCode {
    http()
        .get(app.url("/private"))
        .header(COOKIE, header(std::slice::from_ref(session)))
        .send()
        .await
        .unwrap()
        .status()
}

// ----- the mode end to end -----------------------------------------------------

#[tokio::test]
async fn a_login_kept_in_a_cookie_signs_in_and_the_cookie_is_removed() {
    let (app, store) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let started = start(&app, "?login_hint=alice&return_to=/private", &[]).await;
    let (name, value) = &started.cookie;
    assert!(name.starts_with(PREFIX), "plain http: no `__Host-`: {name}");
    assert_eq!(name.len(), PREFIX.len() + 16);
    let set = &started.set;
    assert_eq!(set.len(), 1, "one cookie, no session cookie: {set:?}");
    assert_eq!(set[0].http_only(), Some(true));
    assert_eq!(set[0].same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(set[0].path(), Some("/"));
    assert_eq!(set[0].max_age(), Some(time::Duration::seconds(600)));
    for secret in [started.state().as_str(), "alice"] {
        assert!(!value.contains(secret), "sealed");
    }
    assert_eq!(store.writes(), 0, "nothing on the server");

    let done = started.finish_at(&app).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/private");
    let set = set_cookies(&done);
    assert!(
        set.iter().any(|c| c.name() == name && removed(c)),
        "{set:?}"
    );
    let session = session_cookie(&done).expect("signed in");
    assert_eq!(private(&app, &session).await, StatusCode::OK);
    assert_eq!(store.records(), 1);
    assert_eq!(app.provider.token_requests(), 1);
}

#[tokio::test]
async fn anonymous_logins_keep_nothing_on_the_server() {
    let provider = Arc::new(TestProvider::start().await);
    let in_cookie = CountingStore::default();
    let in_session = CountingStore::default();
    let cookie_mode = instance(provider.clone(), in_cookie.clone(), None, |client| {
        LoginRoutes::new(client).pending_logins_in_cookie(key())
    })
    .await;
    let session_mode = instance(provider, in_session.clone(), None, LoginRoutes::new).await;
    let http = http();
    for (app, store, records) in [
        (&cookie_mode, &in_cookie, 0),
        (&session_mode, &in_session, 1_000),
    ] {
        for _ in 0..1_000 {
            let response = http.get(app.url("/login")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            assert_eq!(
                response.headers()["cache-control"],
                "no-store",
                "a login of its own in every answer: cached by none"
            );
            let session_set = set_cookies(&response)
                .iter()
                .any(|c| c.name() == SESSION_COOKIE);
            assert_eq!(
                session_set,
                records > 0,
                "a session cookie only in the session mode"
            );
        }
        assert_eq!(store.records(), records, "{}", app.base);
    }
    assert_eq!(in_cookie.writes(), 0);
}

// ----- hostile cookies --------------------------------------------------------

#[tokio::test]
async fn an_altered_cookie_is_refused() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let started = start(&app, "?login_hint=alice", &[]).await;
    let (name, value) = started.cookie.clone();
    use base64::Engine as _;
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&value)
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    let altered = base64::engine::general_purpose::STANDARD.encode(bytes);
    for sent in [altered, String::new(), "A".repeat(value.len())] {
        let refused = callback(&app, "/callback", &started.query, &[(name.clone(), sent)]).await;
        assert_refused(refused, "no_pending_login", Some(&name)).await;
    }
    assert_eq!(app.provider.token_requests(), 0);
    // Refusals of forged cookies used nothing up.
    let done = started.finish_at(&app).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cookie_sealed_with_another_key_is_refused() {
    let provider = Arc::new(TestProvider::start().await);
    let (app, _) = cookie_app(provider.clone()).await;
    // Another app (or another instance given another key) on the same
    // redirect URI: its cookie for this very login does not open here.
    let other = instance(
        provider.clone(),
        CountingStore::default(),
        Some(app.url("/callback")),
        |client| {
            LoginRoutes::new(client)
                .pending_logins_in_cookie(PendingCookieKey::from_bytes(&[8; 64]).unwrap())
        },
    )
    .await;
    let started = start(&other, "?login_hint=alice", &[]).await;
    let refused = started.finish_at(&app).await;
    assert_refused(refused, "no_pending_login", Some(&started.cookie.0)).await;
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn instances_with_generated_keys_refuse_each_others_logins() {
    let provider = Arc::new(TestProvider::start().await);
    let one = instance(provider.clone(), CountingStore::default(), None, |client| {
        LoginRoutes::new(client).pending_logins_in_cookie(PendingCookieKey::generate())
    })
    .await;
    let redirect = Some(one.url("/callback"));
    let two = instance(
        provider.clone(),
        CountingStore::default(),
        redirect.clone(),
        |client| LoginRoutes::new(client).pending_logins_in_cookie(PendingCookieKey::generate()),
    )
    .await;
    let started = start(&one, "?login_hint=alice", &[]).await;
    let refused = started.finish_at(&two).await;
    assert_refused(refused, "no_pending_login", Some(&started.cookie.0)).await;
    assert_eq!(provider.token_requests(), 0);

    // With one key shared, a login started on one finishes on the other.
    let three = instance(provider.clone(), CountingStore::default(), None, |client| {
        LoginRoutes::new(client).pending_logins_in_cookie(key())
    })
    .await;
    let four = instance(
        provider.clone(),
        CountingStore::default(),
        Some(three.url("/callback")),
        |client| LoginRoutes::new(client).pending_logins_in_cookie(key()),
    )
    .await;
    let started = start(&three, "?login_hint=alice", &[]).await;
    let done = started.finish_at(&four).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&done).is_some());
}

#[tokio::test]
async fn a_cookie_moved_under_another_logins_name_is_refused() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let first = start(&app, "?login_hint=alice", &[]).await;
    let second = start(
        &app,
        "?login_hint=alice",
        std::slice::from_ref(&first.cookie),
    )
    .await;
    // The first login's callback, with the second's sealed value under the
    // first's name.
    let moved = (first.cookie.0.clone(), second.cookie.1.clone());
    let refused = callback(&app, "/callback", &first.query, &[moved]).await;
    assert_refused(refused, "no_pending_login", Some(&first.cookie.0)).await;
    // The second's callback with its value under the first's name: no
    // cookie of its own name.
    let moved = (first.cookie.0.clone(), second.cookie.1.clone());
    let refused = callback(&app, "/callback", &second.query, &[moved]).await;
    assert_refused(refused, "no_pending_login", None).await;
    assert_eq!(app.provider.token_requests(), 0);
}

/// The clock of the expiring app's client: this many seconds ahead.
static AHEAD: AtomicI64 = AtomicI64::new(0);

fn ahead() -> SystemTime {
    SystemTime::now() + Duration::from_secs(AHEAD.load(Ordering::SeqCst) as u64)
}

#[tokio::test]
async fn an_expired_cookie_is_refused_before_the_client_sees_it() {
    let provider = Arc::new(TestProvider::start().await);
    let app = instance(provider.clone(), CountingStore::default(), None, |client| {
        LoginRoutes::new(client.with_clock(ahead)).pending_logins_in_cookie(key())
    })
    .await;
    let started = start(&app, "?login_hint=alice", &[]).await;
    // The browser still holds it (it trusts its Max-Age of 600 s no more
    // than we do): 601 s later by the app's clock.
    AHEAD.store(601, Ordering::SeqCst);
    let refused = started.finish_at(&app).await;
    // Refused by the cookie's own age check (`Client::finish` would say
    // `login_expired`).
    assert_refused(refused, "no_pending_login", Some(&started.cookie.0)).await;
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn a_state_that_matches_no_cookie_is_refused() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let started = start(&app, "?login_hint=alice", &[]).await;
    let forged = started.with_state("a-state-of-the-attackers-choosing");
    let refused = callback(
        &app,
        "/callback",
        &forged,
        std::slice::from_ref(&started.cookie),
    )
    .await;
    assert_refused(refused, "no_pending_login", None).await;
    // Without the cookie at all (another browser: login CSRF).
    let refused = callback(&app, "/callback", &started.query, &[]).await;
    assert_refused(refused, "no_pending_login", None).await;
    assert_eq!(app.provider.token_requests(), 0);
}

// ----- single use, across instances -------------------------------------------

#[tokio::test]
async fn a_cookie_sent_again_after_the_login_is_refused() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let started = start(&app, "?login_hint=alice", &[]).await;
    let done = started.finish_at(&app).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.provider.token_requests(), 1);
    // The copied cookie and callback, sent again: refused before the token
    // endpoint (which would refuse the used code, but is never asked).
    let replayed = started.finish_at(&app).await;
    assert_refused(replayed, "no_pending_login", Some(&started.cookie.0)).await;
    assert_eq!(app.provider.token_requests(), 1);
}

#[tokio::test]
async fn a_replay_at_another_instance_sharing_the_state_is_refused() {
    let provider = Arc::new(TestProvider::start().await);
    let replay_at = async |shared_state: bool| {
        let state = Arc::new(MemoryState::default());
        let with_state = |client: Client, own: bool| {
            let client = if own {
                client.with_shared_state(MemoryState::default())
            } else {
                client.with_shared_state(state.clone())
            };
            LoginRoutes::new(client).pending_logins_in_cookie(key())
        };
        let one = instance(provider.clone(), CountingStore::default(), None, |c| {
            with_state(c, false)
        })
        .await;
        let two = instance(
            provider.clone(),
            CountingStore::default(),
            Some(one.url("/callback")),
            |c| with_state(c, !shared_state),
        )
        .await;
        let started = start(&one, "?login_hint=alice", &[]).await;
        let done = started.finish_at(&one).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let before = provider.token_requests();
        let replayed = started.finish_at(&two).await;
        (
            replayed,
            provider.token_requests() - before,
            started.cookie.0,
        )
    };
    let (replayed, token_requests, name) = replay_at(true).await;
    assert_refused(replayed, "no_pending_login", Some(&name)).await;
    assert_eq!(token_requests, 0, "refused before the token endpoint");
    // The control: an instance with a state of its own does not know the
    // login was used, and only the provider's single-use code stops it.
    let (replayed, token_requests, _) = replay_at(false).await;
    assert_ne!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_requests, 1, "the replay reached the token endpoint");
}

#[tokio::test]
async fn a_login_of_one_provider_at_anothers_callback_is_refused_and_its_cookie_removed() {
    use crate::common::browser;
    use crate::providers::two_providers_with;
    let app = two_providers_with(
        TestProvider::start().await,
        TestProvider::start().await,
        MemoryStore::default(),
        true,
        |routes| routes.pending_logins_in_cookie(key()),
    )
    .await;
    let http = browser(false);
    let started = http
        .get(app.url("/login?provider=privx"))
        .send()
        .await
        .unwrap();
    let cookie = set_cookies(&started)
        .into_iter()
        .find(|c| c.name().starts_with(PREFIX))
        .map(|c| format!("{}={}", c.name(), c.value()))
        .unwrap();
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let back = url::Url::parse(&app.privx.sign_in(&authorize, "alice").await).unwrap();
    let query = back.query().unwrap();
    let send = |path: &str| {
        reqwest::Client::new()
            .get(format!("{}?{query}", app.url(path)))
            .header(COOKIE, cookie.clone())
            .send()
    };
    let refused = send("/callback").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let name = cookie.split('=').next().unwrap();
    assert!(
        set_cookies(&refused)
            .iter()
            .any(|c| c.name() == name && removed(c)),
        "the login's cookie is removed"
    );
    assert!(refused.text().await.unwrap().contains("wrong_provider"));
    // Its code reached no token endpoint. (A login is recorded as used
    // only once a provider redeemed its code, so that callbacks without
    // one cannot fill the shared state; whoever holds both the sealed
    // cookie and the code could finish it at its own route anyway.)
    assert_eq!(
        (app.entra.token_requests(), app.privx.token_requests()),
        (0, 0)
    );
}

// ----- bounds -----------------------------------------------------------------

#[tokio::test]
async fn six_logins_in_flight_keep_the_newest_five() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut logins = Vec::new();
    for _ in 0..6 {
        // One second apart: the cookies are ordered by their sealed time.
        if !logins.is_empty() {
            tokio::time::sleep(Duration::from_millis(1_050)).await;
        }
        let started = start(&app, "?login_hint=alice", &jar).await;
        for cookie in &started.set {
            jar.retain(|(name, _)| name != cookie.name());
            if !removed(cookie) {
                jar.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
        logins.push(started);
    }
    assert_eq!(jar.len(), 5);
    assert!(
        !jar.iter().any(|(name, _)| *name == logins[0].cookie.0),
        "the oldest went"
    );
    let refused = callback(&app, "/callback", &logins[0].query, &jar).await;
    assert_refused(refused, "no_pending_login", None).await;
    for login in &logins[1..] {
        let done = callback(&app, "/callback", &login.query, &jar).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "login kept");
    }
}

#[tokio::test]
async fn hundreds_of_junk_cookies_cost_a_bounded_amount() {
    let (app, _) = cookie_app(Arc::new(TestProvider::start().await)).await;
    let junk: Vec<(String, String)> = (0..400)
        .map(|i| (format!("{PREFIX}{i:016}"), "A".repeat(40)))
        .collect();
    let started = start(&app, "?login_hint=alice", &junk).await;
    // At most 16 opened; with the new one, 5 remain: 12 removed, 1 set.
    assert_eq!(started.set.len(), 13, "{:?}", started.set.len());
    assert_eq!(started.set.iter().filter(|c| removed(c)).count(), 12);
    // The callback looks for its own name only.
    let mut sent = junk.clone();
    sent.push(started.cookie.clone());
    let done = callback(&app, "/callback", &started.query, &sent).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
}

// ----- the rest unchanged -----------------------------------------------------

#[tokio::test]
async fn the_apps_refusal_page_still_removes_the_cookie() {
    let provider = Arc::new(TestProvider::start().await);
    let app = instance(provider, CountingStore::default(), None, |client| {
        LoginRoutes::new(client)
            .pending_logins_in_cookie(key())
            .refusal_page(|refusal| {
                (refusal.status(), format!("ours: {}", refusal.code())).into_response()
            })
    })
    .await;
    let started = start(&app, "?login_hint=alice", &[]).await;
    let forged = (started.cookie.0.clone(), "junk".to_owned());
    let refused = callback(&app, "/callback", &started.query, &[forged]).await;
    assert_refused(refused, "ours: no_pending_login", Some(&started.cookie.0)).await;
}

#[tokio::test]
async fn a_form_post_callback_finds_its_cookie() {
    let provider = Arc::new(TestProvider::start().await);
    let store = CountingStore::default();
    let app = instance(provider, store.clone(), None, |client| {
        LoginRoutes::new(client)
            .form_post()
            .pending_logins_in_cookie(key())
    })
    .await;
    let response = http()
        .get(app.url("/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.name().starts_with(PREFIX))
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
        .unwrap();
    let authorize = response.headers()["location"].to_str().unwrap().to_owned();
    let page = http()
        .get(authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = common::form_fields(&page);
    let post = |cookies: Vec<(String, String)>| {
        let mut request = http()
            .post(app.url("/callback"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form.clone());
        if !cookies.is_empty() {
            request = request.header(COOKIE, header(&cookies));
        }
        request.send()
    };
    // Cross-site, without the Lax cookie: the page that posts it again.
    let resubmit = post(Vec::new()).await.unwrap();
    assert_eq!(resubmit.status(), StatusCode::OK);
    assert!(resubmit.text().await.unwrap().contains("<form"));
    let done = post(vec![cookie]).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&done).is_some());
    assert_eq!(store.records(), 1);
}

use axum::response::IntoResponse as _;

/// The used-login records are security records: kept in this process
/// only, the layer says so, and not once a shared state is given.
#[tokio::test]
async fn per_process_used_login_records_are_named_in_the_log() {
    use oidc_login::axum::{SessionIndexKey, SessionStoreState};
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await;
    let warning = "the logins taken from their cookies are kept in this process only";
    let logs = common::logs::Logs::capture();
    let _ = LoginRoutes::new(client.clone())
        .pending_logins_in_cookie(key())
        .layer();
    assert_eq!(logs.lines_with(warning).len(), 1, "{}", logs.text());
    let shared = client.clone().with_shared_state(SessionStoreState::new(
        MemoryStore::default(),
        SessionIndexKey::random(),
    ));
    let _ = LoginRoutes::new(shared)
        .pending_logins_in_cookie(key())
        .layer();
    assert_eq!(logs.lines_with(warning).len(), 1, "{}", logs.text());
}

/// Used-login records fill only their own kind of the in-memory state: a
/// flood of callbacks refuses logins (fail closed), never a sign-out.
#[tokio::test]
async fn a_full_used_login_table_refuses_logins_but_not_a_sign_out() {
    let provider = Arc::new(TestProvider::start().await);
    let state = Arc::new(MemoryState::with_capacity(1));
    let shared = state.clone();
    let app = instance(provider, CountingStore::default(), None, move |client| {
        LoginRoutes::new(client.with_shared_state(shared)).pending_logins_in_cookie(key())
    })
    .await;
    let alice = start(&app, "?login_hint=alice", &[]).await;
    let done = alice.finish_at(&app).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let session = session_cookie(&done).expect("signed in");
    assert_eq!(state.len(), 1, "one used-login record: the kind is full");

    let next = start(&app, "?login_hint=alice", &[]).await;
    let refused = next.finish_at(&app).await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        session_cookie(&refused).is_none(),
        "not signed in without the record"
    );
    assert!(refused.text().await.unwrap().contains("session_error"));

    let out = http()
        .post(app.url("/logout"))
        .header(COOKIE, header(std::slice::from_ref(&session)))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    assert_eq!(state.len(), 2, "the sign-out is recorded all the same");
    assert_eq!(private(&app, &session).await, StatusCode::UNAUTHORIZED);
}

/// Used-login records are written only once the provider redeemed the
/// code: callbacks bringing cookies of the client's own `/login`s and junk
/// codes write nothing, and a real login's replay is still refused before
/// the token endpoint.
#[tokio::test]
async fn callbacks_with_junk_codes_leave_no_record() {
    let provider = Arc::new(TestProvider::start().await);
    let state = Arc::new(MemoryState::with_capacity(10));
    let shared = state.clone();
    let app = instance(provider, CountingStore::default(), None, move |client| {
        LoginRoutes::new(client.with_shared_state(shared)).pending_logins_in_cookie(key())
    })
    .await;
    let http = http();
    for _ in 0..50 {
        let response = http.get(app.url("/login")).send().await.unwrap();
        let cookie = set_cookies(&response)
            .into_iter()
            .find(|c| c.name().starts_with(PREFIX))
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .unwrap();
        let authorize = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let state = authorize
            .query_pairs()
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", "junk")
            .append_pair("state", &state)
            .append_pair("iss", app.provider.issuer())
            .finish();
        let refused = callback(&app, "/callback", &query, std::slice::from_ref(&cookie)).await;
        assert_ne!(refused.status(), StatusCode::SEE_OTHER);
        assert!(session_cookie(&refused).is_none());
    }
    assert_eq!(state.len(), 0, "no record for a code the provider refused");
    assert_eq!(app.provider.token_requests(), 50);

    let alice = start(&app, "?login_hint=alice", &[]).await;
    let done = alice.finish_at(&app).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "a real login still works"
    );
    assert_eq!(state.len(), 1);
    let replayed = alice.finish_at(&app).await;
    assert_refused(replayed, "no_pending_login", Some(&alice.cookie.0)).await;
    assert_eq!(
        app.provider.token_requests(),
        51,
        "the replay never reached it"
    );
}
