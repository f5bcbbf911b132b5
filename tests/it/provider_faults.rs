//! Provider faults, endpoint by endpoint. For each endpoint the crate calls
//! (discovery, JWKS at start-up and refetched at a login, token, userinfo,
//! Microsoft Graph, the refresh grant) one test per fault: the endpoint is
//! down, answers 503, cuts its answer short, answers an HTML page instead of
//! JSON, or is slower than the timeout. Each fails within the HTTP timeout
//! (plus a margin for a busy machine) with an error whose message names the
//! request, the URL and what to check. Through the axum integration, a
//! refresh that fails so leaves the session as it was, and a callback that
//! fails so signs no one in. `end_session` is only ever visited by the
//! browser, so sign-out works with the provider down. Last, discovery at
//! start-up waits for a provider that comes up late, and never retries a
//! mistake.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::app::App;
use common::logs::Logs;
use common::*;
use oidc_login::axum::LoginRoutes;
use oidc_login::testing::{EntraMode, IdTokenClaimsMode, Misbehavior, TestProvider, TestUser};
use oidc_login::{
    Client, ClientAuth, Config, ConfigBuilder, DiscoveryError, Error, GraphFailure, GroupsError,
    HttpErrorKind, IdToken, Nonce, Start,
};
use reqwest::StatusCode;
use tower_sessions::MemoryStore;

/// The HTTP timeout of every client here.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long a slow endpoint waits: well past the timeout.
const SLOW: Duration = Duration::from_secs(4);
/// Slack on top of the timeout, for a busy machine (two cores shared by
/// parallel tests). A correctness bound, not a benchmark.
const MARGIN: Duration = Duration::from_millis(1500);

/// One way an endpoint fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Nothing listens: the connection is refused.
    Down,
    /// HTTP 503 with a proxy's HTML page.
    ServerError,
    /// Half the body, then the connection drops.
    Truncated,
    /// `200 OK` with an HTML maintenance page.
    NotJson,
    /// No answer before the timeout.
    Slow,
}

impl Fault {
    /// The misbehaviour that makes the endpoint at `path` (or, for `Down`,
    /// the metadata member `member`) fail this way.
    fn misbehavior(self, path: &'static str, member: &'static str) -> Misbehavior {
        match self {
            Fault::Down => Misbehavior::UnreachableEndpoint(member),
            Fault::ServerError => Misbehavior::ErrorStatus(path, 503),
            Fault::Truncated => Misbehavior::TruncatedResponse(path),
            Fault::NotJson => Misbehavior::NonJsonResponse(path),
            Fault::Slow => Misbehavior::SlowEndpoint(path, SLOW),
        }
    }

    /// What the message must say went wrong, and what it must say to check.
    fn words(self) -> [&'static str; 2] {
        match self {
            Fault::Down => ["could not connect", "check that the server is up"],
            Fault::ServerError => ["HTTP 503", "check that it is up and healthy"],
            Fault::Truncated => [
                "the connection closed before the whole answer arrived",
                "check that the server is not restarting",
            ],
            Fault::NotJson => ["is not JSON (content type `text/html", "check the URL"],
            Fault::Slow => ["no answer before the timeout", "`http_timeout_seconds`"],
        }
    }

    fn is(self, kind: &HttpErrorKind) -> bool {
        matches!(
            (self, kind),
            (Fault::Down, HttpErrorKind::Connect)
                | (Fault::ServerError, HttpErrorKind::Status(503))
                | (Fault::Truncated, HttpErrorKind::Interrupted)
                | (Fault::NotJson, HttpErrorKind::InvalidBody(_))
                | (Fault::Slow, HttpErrorKind::Timeout)
        )
    }
}

/// The HTTP failure inside `error`, through the wrappers that carry one.
fn http_kind(error: &Error) -> Option<&HttpErrorKind> {
    match error {
        Error::Http(http) => Some(http.kind()),
        Error::Discovery(DiscoveryError::KeysUnavailable(inner)) => http_kind(inner),
        Error::Groups(GroupsError::Graph {
            failure: GraphFailure::Request(http),
            ..
        }) => Some(http.kind()),
        _ => None,
    }
}

/// `error` is `fault`, its message names the request (`what`) and its URL
/// and says what to check, and it came back within the timeout.
fn assert_reported(fault: Fault, error: &Error, what: &str, url: &str, started: Instant) {
    let elapsed = started.elapsed();
    let message = error.to_string();
    assert!(
        http_kind(error).is_some_and(|kind| fault.is(kind)),
        "{fault:?}: unexpected error {error:?}"
    );
    assert!(
        message.contains(&format!("{what} `{url}` failed: ")),
        "{fault:?}: the message does not name `{what}` `{url}`: {message}"
    );
    for words in fault.words() {
        assert!(
            message.contains(words),
            "{fault:?}: the message does not say `{words}`: {message}"
        );
    }
    assert!(
        elapsed < TIMEOUT + MARGIN,
        "{fault:?}: the error took {elapsed:?}, more than the {TIMEOUT:?} timeout and {MARGIN:?} margin"
    );
}

/// One test per fault for the endpoint test `$run`, in a module named
/// after it (`provider_faults::token::down` ...).
macro_rules! each_fault {
    ($run:ident) => {
        mod $run {
            use super::Fault;

            #[tokio::test]
            async fn down() {
                super::$run(Fault::Down).await;
            }

            #[tokio::test]
            async fn server_error() {
                super::$run(Fault::ServerError).await;
            }

            #[tokio::test]
            async fn truncated() {
                super::$run(Fault::Truncated).await;
            }

            #[tokio::test]
            async fn not_json() {
                super::$run(Fault::NotJson).await;
            }

            #[tokio::test]
            async fn slow() {
                super::$run(Fault::Slow).await;
            }
        }
    };
}

/// The test config for `provider`: the timeout above, no discovery retry.
fn impatient(provider: &TestProvider) -> ConfigBuilder {
    config_builder(provider)
        .http_timeout(TIMEOUT)
        .discovery_retry(Duration::ZERO)
}

// ----- discovery -----------------------------------------------------------

async fn discovery(fault: Fault) {
    let provider = TestProvider::start().await;
    let metadata_url = match fault {
        Fault::Down => provider.closed_url("/.well-known/openid-configuration"),
        _ => {
            provider.misbehave(fault.misbehavior(".well-known/openid-configuration", ""));
            provider.metadata_url()
        }
    };
    let config = Config::builder(metadata_url.as_str(), CLIENT_ID)
        .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
        .redirect_uri(REDIRECT_URI)
        .http_timeout(TIMEOUT)
        .discovery_retry(Duration::ZERO)
        .build()
        .unwrap();
    let started = Instant::now();
    let error = Client::discover(config).await.unwrap_err();
    assert_reported(
        fault,
        &error,
        "fetching the provider metadata from",
        &metadata_url,
        started,
    );
}
each_fault!(discovery);

/// The key set, fetched once at start-up.
async fn jwks_at_discovery(fault: Fault) {
    let provider = TestProvider::start().await;
    provider.misbehave(fault.misbehavior("jwks", "jwks_uri"));
    let jwks = match fault {
        Fault::Down => provider.closed_url("/jwks"),
        _ => provider.url("/jwks"),
    };
    let started = Instant::now();
    let error = Client::discover(impatient(&provider).build().unwrap())
        .await
        .unwrap_err();
    assert_reported(
        fault,
        &error,
        "fetching the provider's keys (JWKS) from",
        &jwks,
        started,
    );
}
each_fault!(jwks_at_discovery);

/// The key set fetched again at a login, because the provider rotated its
/// key: the error says the key set could not be fetched, not that the
/// token is bad.
async fn jwks_refetch(fault: Fault) {
    let provider = TestProvider::start().await;
    let client = client_with(impatient(&provider)).await;
    provider.rotate_keys();
    let started;
    let error = match fault {
        // The key set's URL was read at discovery: the whole provider goes
        // down, and a token signed with the new key arrives from elsewhere
        // (a logout token, an ID token handed over).
        Fault::Down => {
            let token = IdToken::new(provider.sign_id_token(&claims(&provider, "n")));
            provider.stop().await;
            started = Instant::now();
            client
                .verify_id_token(&token, &Nonce::new("n"), None)
                .await
                .unwrap_err()
        }
        _ => {
            let (pending, callback) = start_as(&client, "alice", Start::default()).await;
            provider.misbehave(fault.misbehavior("jwks", "jwks_uri"));
            started = Instant::now();
            client.finish(pending, callback).await.unwrap_err()
        }
    };
    assert!(
        matches!(error, Error::Discovery(DiscoveryError::KeysUnavailable(_))),
        "{fault:?}: {error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("a token names a key the cached JWKS does not hold"),
        "{error}"
    );
    assert_reported(
        fault,
        &error,
        "fetching the provider's keys (JWKS) from",
        &provider.url("/jwks"),
        started,
    );
}
each_fault!(jwks_refetch);

fn claims(provider: &TestProvider, nonce: &str) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "iss": provider.issuer(), "sub": "alice-sub-0001", "aud": CLIENT_ID,
        "exp": now + 300, "iat": now, "nonce": nonce
    })
}

// ----- token, userinfo ------------------------------------------------------

/// The code exchange of a login.
async fn token(fault: Fault) {
    let provider = TestProvider::start().await;
    provider.misbehave(fault.misbehavior("token", "token_endpoint"));
    let client = client_with(impatient(&provider)).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let started = Instant::now();
    let error = client.finish(pending, callback).await.unwrap_err();
    let token_endpoint = match fault {
        Fault::Down => provider.closed_url("/token"),
        _ => provider.url("/token"),
    };
    assert_reported(
        fault,
        &error,
        "redeeming the code at the token endpoint",
        &token_endpoint,
        started,
    );
    assert_eq!(error.code(), "provider_unreachable", "{fault:?}");
}
each_fault!(token);

/// Userinfo, read at a login because the ID token has no profile claims.
async fn userinfo(fault: Fault) {
    let provider = TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await;
    provider.misbehave(fault.misbehavior("userinfo", "userinfo_endpoint"));
    let client = client_with(impatient(&provider)).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let started = Instant::now();
    let error = client.finish(pending, callback).await.unwrap_err();
    let userinfo = match fault {
        Fault::Down => provider.closed_url("/userinfo"),
        _ => provider.url("/userinfo"),
    };
    assert_reported(fault, &error, "fetching userinfo from", &userinfo, started);
}
each_fault!(userinfo);

// ----- Microsoft Graph ------------------------------------------------------

const HOME: &str = "3c1a0f6e-0000-4000-8000-000000000001";

/// A login of a user in too many groups for a token, whose groups must be
/// read from Microsoft Graph; in both Entra config forms.
async fn graph(fault: Fault) {
    for form in EntraForm::BOTH {
        graph_in(form, fault).await;
    }
}

async fn graph_in(form: EntraForm, fault: Fault) {
    let groups: Vec<String> = (0..250)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let provider = TestProvider::builder()
        .entra(EntraMode::new(HOME))
        .user(TestUser::new("olga-sub-0006", "olga").groups(groups))
        .start()
        .await;
    let graph = match fault {
        Fault::Down => provider.closed_url("/"),
        _ => {
            provider.misbehave(fault.misbehavior("v1.0/me/transitiveMemberOf", ""));
            provider.graph_url().to_owned()
        }
    };
    let config = form
        .builder(&provider, HOME)
        .graph_url(graph.as_str())
        .scopes(["openid", "profile", "email", "GroupMember.Read.All"])
        .http_timeout(TIMEOUT)
        .discovery_retry(Duration::ZERO);
    let client = client_with(config).await;
    let (pending, callback) = start_as(&client, "olga", Start::default()).await;
    let started = Instant::now();
    let error = client.finish(pending, callback).await.unwrap_err();
    let endpoint = format!("{}/v1.0/me/transitiveMemberOf", graph.trim_end_matches('/'));
    assert_reported(
        fault,
        &error,
        "reading the user's groups from Microsoft Graph at",
        &endpoint,
        started,
    );
    let message = error.to_string();
    assert!(
        message.contains("groups overage detected"),
        "{form:?}: {message}"
    );
    assert_eq!(error.code(), "groups_unavailable");
}
each_fault!(graph);

// ----- the refresh grant -----------------------------------------------------

async fn refresh(fault: Fault) {
    let provider = TestProvider::start().await;
    let client =
        client_with(impatient(&provider).scopes(["openid", "profile", "offline_access"])).await;
    let login = login_as(&client, "alice").await.unwrap();
    match fault {
        Fault::Down => provider.stop().await,
        _ => provider.misbehave(fault.misbehavior("token", "token_endpoint")),
    }
    let started = Instant::now();
    let error = client.refresh(&login.tokens).await.unwrap_err();
    assert_reported(
        fault,
        &error,
        "the refresh grant at the token endpoint",
        &provider.url("/token"),
        started,
    );
    // Not a refusal of the refresh token: the session may stay.
    assert!(matches!(error, Error::Http(_)), "{fault:?}: {error:?}");
}
each_fault!(refresh);

// ----- the axum integration: no session lost or half-written -----------------

/// The shared test app over `provider`, with an impatient client (and, with
/// `refresh`, refresh on every request).
async fn app(provider: Arc<TestProvider>, refresh: bool) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    App::start_on(
        listener,
        provider,
        MemoryStore::default(),
        |config| {
            config
                .scopes(["openid", "profile", "offline_access"])
                .http_timeout(TIMEOUT)
                .discovery_retry(Duration::ZERO)
        },
        move |client, _| {
            let routes = LoginRoutes::new(client);
            if refresh {
                // Longer than the provider's 5-minute access tokens: every
                // request refreshes.
                routes.refresh_before_expiry(Duration::from_secs(301))
            } else {
                routes.provider_logout()
            }
        },
    )
    .await
}

/// A browser with its own cookie jar, signed in to `app` as alice.
async fn signed_in(app: &App) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let (browser, jar) = browser_with_jar();
    let landed = browser
        .get(app.url("/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.url().path(), "/", "signed in and sent home");
    (browser, jar)
}

async fn roles(app: &App, browser: &reqwest::Client) -> (StatusCode, String) {
    let response = browser.get(app.url("/roles")).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A refresh that fails for the provider's fault keeps the session: the
/// user stays signed in with the tokens held, and the request is served
/// within the timeout.
async fn axum_refresh(fault: Fault) {
    let provider = Arc::new(TestProvider::start().await);
    let app = app(provider.clone(), true).await;
    let (browser, _) = signed_in(&app).await;
    match fault {
        Fault::Down => provider.stop().await,
        _ => provider.misbehave(fault.misbehavior("token", "token_endpoint")),
    }
    let started = Instant::now();
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Read-write".into()),
        "{fault:?}: the session must stay"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < TIMEOUT + MARGIN,
        "{fault:?}: served after {elapsed:?}"
    );
    assert_eq!(
        roles(&app, &browser).await,
        (StatusCode::OK, "Read-write".into()),
        "{fault:?}: and stays"
    );
}
each_fault!(axum_refresh);

/// A refresh the provider refuses with a 4xx status but no OAuth error
/// body (an HTML page from the provider or a firewall in front of it) ends
/// the session, as an `invalid_grant` would: it is no outage.
#[tokio::test]
async fn axum_refresh_refused_by_a_bare_4xx_ends_the_session() {
    for status in [400, 401, 403] {
        let provider = Arc::new(TestProvider::start().await);
        let app = app(provider.clone(), true).await;
        let (browser, _) = signed_in(&app).await;
        provider.misbehave(Misbehavior::ErrorStatus("token", status));
        let response = browser.get(app.url("/roles")).send().await.unwrap();
        let (code, body) = (response.status(), response.text().await.unwrap());
        assert!(
            !(code == StatusCode::OK && body == "Read-write"),
            "{status}: the session must end, got {code} {body}"
        );
    }
}

/// A callback whose code exchange fails for the provider's fault answers
/// 502 within the timeout and signs no one in.
async fn axum_callback(fault: Fault) {
    let provider = Arc::new(TestProvider::start().await);
    provider.misbehave(fault.misbehavior("token", "token_endpoint"));
    let app = app(provider.clone(), false).await;
    let (browser, _) = browser_with_jar();
    let started = Instant::now();
    let landed = browser
        .get(app.url("/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(landed.url().path(), "/callback", "{fault:?}");
    assert_eq!(landed.status(), StatusCode::BAD_GATEWAY, "{fault:?}");
    assert!(
        elapsed < TIMEOUT + MARGIN,
        "{fault:?}: answered after {elapsed:?}"
    );
    for path in ["/private", "/roles"] {
        let status = browser.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{fault:?}: no one is signed in"
        );
    }
    // The provider is back: the same browser signs in (the failed login
    // left nothing in its session that stands in the way).
    provider.behave();
    let landed = browser
        .get(app.url("/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    if matches!(fault, Fault::Down) {
        // The metadata named a closed port at discovery: still down.
        assert_eq!(landed.status(), StatusCode::BAD_GATEWAY);
    } else {
        assert_eq!(landed.url().path(), "/", "{fault:?}");
        assert_eq!(
            roles(&app, &browser).await,
            (StatusCode::OK, "Read-write".into())
        );
    }
}
each_fault!(axum_callback);

// ----- end_session ------------------------------------------------------------

/// The crate never calls `end_session_endpoint` itself; it sends the
/// browser there after ending the app's session. With the provider down,
/// sign-out still ends the session here and sends the browser on.
#[tokio::test]
async fn sign_out_ends_the_session_with_the_provider_down() {
    let provider = Arc::new(TestProvider::start().await);
    let app = app(provider.clone(), false).await;
    let (browser, jar) = signed_in(&app).await;
    assert_eq!(roles(&app, &browser).await.0, StatusCode::OK);
    let cookie = saved_cookies(&jar, &app.url("/"));
    provider.stop().await;

    let step = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let response = step
        .post(app.url("/logout"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < MARGIN, "no request to the provider");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap();
    assert!(
        location.starts_with(&provider.url("/logout")),
        "sent on to end_session: {location}"
    );
    assert_eq!(
        status_with_cookie(&app.url("/private"), &cookie).await,
        StatusCode::UNAUTHORIZED,
        "the session ended here"
    );
    assert_eq!(provider.logout_requests(), 0);
}

// ----- discovery at start-up: retried while the provider is not up ------------

const RETRYING: &str = "trying discovery again";

/// A config with a retry window for the provider at `metadata_url`.
fn patient(metadata_url: &str, window: Duration) -> Config {
    Config::builder(metadata_url, CLIENT_ID)
        .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
        .redirect_uri(REDIRECT_URI)
        .http_timeout(TIMEOUT)
        .discovery_retry(window)
        .add_role_mapping(devs_are("Read-write"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn discovery_waits_for_a_provider_that_comes_up_late() {
    let logs = Logs::capture();
    // The provider's address is known, and nothing listens there yet.
    let early = TestProvider::start().await;
    let (address, metadata_url) = (early.address(), early.metadata_url());
    early.stop().await;
    drop(early);
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        TestProvider::builder().address(address).start().await
    });

    let started = Instant::now();
    let client = Client::discover(patient(&metadata_url, Duration::from_secs(30)))
        .await
        .expect("discovery waits for the provider");
    let elapsed = started.elapsed();
    let provider = late.await.unwrap();
    assert!(
        elapsed >= Duration::from_millis(800),
        "the provider was not up before {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "backoff stays short at first: {elapsed:?}"
    );
    assert_eq!(
        provider.discovery_requests(),
        1,
        "one attempt once it is up"
    );
    // The client works against the provider that came up.
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-write"]);

    let retries = logs.lines_with(RETRYING);
    assert!(!retries.is_empty(), "each retry is logged");
    for line in &retries {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains(&metadata_url), "names the endpoint: {line}");
        assert!(
            line.contains("could not connect"),
            "names the cause: {line}"
        );
    }
}

#[tokio::test]
async fn discovery_waits_while_the_provider_answers_503() {
    for (path, what) in [
        (".well-known/openid-configuration", "provider metadata"),
        ("jwks", "keys (JWKS)"),
    ] {
        let logs = Logs::capture();
        let provider = Arc::new(TestProvider::start().await);
        provider.misbehave(Misbehavior::ErrorStatus(path, 503));
        let starting = provider.clone();
        let ready = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            starting.behave();
        });
        let client = Client::discover(patient(&provider.metadata_url(), Duration::from_secs(30)))
            .await
            .unwrap_or_else(|e| panic!("{path}: discovery waits out the 503s: {e}"));
        ready.await.unwrap();
        assert!(
            provider.discovery_requests() >= 2,
            "{path}: {}",
            provider.discovery_requests()
        );
        assert!(login_as(&client, "alice").await.is_ok(), "{path}");
        let retries = logs.lines_with(RETRYING);
        assert!(!retries.is_empty(), "{path}");
        for line in &retries {
            assert!(line.contains("HTTP 503"), "{path}: {line}");
            assert!(line.contains(what), "{path}: {line}");
        }
    }
}

#[tokio::test]
async fn discovery_gives_up_when_the_window_is_over() {
    let provider = TestProvider::start().await;
    let metadata_url = provider.closed_url("/.well-known/openid-configuration");
    let window = Duration::from_secs(2);
    let started = Instant::now();
    let error = Client::discover(patient(&metadata_url, window))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= window,
        "retried for the whole window: {elapsed:?}"
    );
    assert!(
        elapsed < window + TIMEOUT + MARGIN,
        "and not much longer: {elapsed:?}"
    );
    assert_reported(
        Fault::Down,
        &error,
        "fetching the provider metadata from",
        &metadata_url,
        Instant::now(),
    );
}

#[tokio::test]
async fn a_window_of_zero_tries_once() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::ErrorStatus(
        ".well-known/openid-configuration",
        503,
    ));
    let error = Client::discover(patient(&provider.metadata_url(), Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        matches!(http_kind(&error), Some(HttpErrorKind::Status(503))),
        "{error}"
    );
    assert_eq!(provider.discovery_requests(), 1);

    // `discover_once` (diagnostics, health checks) tries once whatever the
    // config's window.
    let started = Instant::now();
    let error = Client::discover_once(patient(&provider.metadata_url(), Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < MARGIN, "{:?}", started.elapsed());
    assert!(
        matches!(http_kind(&error), Some(HttpErrorKind::Status(503))),
        "{error}"
    );
    assert_eq!(provider.discovery_requests(), 2);
}

/// What time cannot mend fails at once, however long the window.
#[tokio::test]
async fn discovery_never_retries_a_mistake() {
    for mistake in [
        Misbehavior::WrongIssuerInMetadata,
        Misbehavior::ErrorStatus(".well-known/openid-configuration", 404),
        Misbehavior::NonJsonResponse(".well-known/openid-configuration"),
        Misbehavior::MetadataWithout("token_endpoint"),
        Misbehavior::RedirectJwks,
        Misbehavior::NonJsonResponse("jwks"),
    ] {
        let logs = Logs::capture();
        let provider = TestProvider::start().await;
        provider.misbehave(mistake.clone());
        let started = Instant::now();
        let error = Client::discover(patient(&provider.metadata_url(), Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < MARGIN,
            "{mistake:?}: {:?}",
            started.elapsed()
        );
        assert_eq!(provider.discovery_requests(), 1, "{mistake:?}: {error}");
        assert!(logs.lines_with(RETRYING).is_empty(), "{mistake:?}");
    }
}

// ----- the embedded provider's faults themselves ---------------------------------

#[tokio::test]
async fn the_faults_look_like_the_real_thing_on_the_wire() {
    let provider = TestProvider::start().await;
    let http = reqwest::Client::new();
    let metadata = provider.metadata_url();

    provider.misbehave(Misbehavior::ErrorStatus(
        ".well-known/openid-configuration",
        502,
    ));
    let response = http.get(&metadata).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));

    provider.behave();
    provider.misbehave(Misbehavior::NonJsonResponse(
        ".well-known/openid-configuration",
    ));
    let response = http.get(&metadata).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    provider.behave();
    let whole = http.get(&metadata).send().await.unwrap().bytes().await;
    let whole = whole.unwrap().len();
    provider.misbehave(Misbehavior::TruncatedResponse(
        ".well-known/openid-configuration",
    ));
    let response = http.get(&metadata).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(whole as u64));
    let cut = response.bytes().await.unwrap_err();
    assert!(cut.is_body() || cut.is_decode(), "{cut:?}");

    // The closed port refuses; the provider's own keeps serving.
    let refused = http
        .get(provider.closed_url("/jwks"))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");
    provider.behave();
    provider.misbehave(Misbehavior::UnreachableEndpoint("userinfo_endpoint"));
    let document: serde_json::Value = http
        .get(&metadata)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["userinfo_endpoint"],
        provider.closed_url("/userinfo")
    );
    assert_eq!(document["token_endpoint"], provider.url("/token"));
}

#[tokio::test]
#[should_panic(expected = "needs an error status, from 400 to 599")]
async fn error_status_must_be_an_error() {
    TestProvider::start()
        .await
        .misbehave(Misbehavior::ErrorStatus("token", 200));
}

#[tokio::test]
async fn a_stopped_provider_refuses_and_starts_again_at_its_address() {
    let provider = TestProvider::start().await;
    let http = reqwest::Client::new();
    assert!(http.get(provider.metadata_url()).send().await.is_ok());
    provider.stop().await;
    let refused = http.get(provider.metadata_url()).send().await.unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");
    provider.stop().await; // twice is fine
    let again = TestProvider::builder()
        .address(provider.address())
        .start()
        .await;
    assert_eq!(again.issuer(), provider.issuer());
    let answer = http.get(again.metadata_url()).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}
