//! Load through the demo with the embedded provider: complete logins per
//! second at concurrency 1, 10 and 100 (every login checked with `GET /me`),
//! the CPU the app spends per login, logins per second and memory over a
//! sustained run, memory under a flood of anonymous `GET /login`, and a
//! signed-in request next to a plain axum + `tower-sessions` handler.
//!
//! ```sh
//! cargo bench --bench load                           # every part, the figures in benches/README.md
//! LOAD_PARTS=logins,sustained cargo bench --bench load   # some parts: request, logins, library, sustained, flood
//! LOAD_WARMUP=500 LOAD_LOGINS=2000 LOAD_SUSTAINED=50000 LOAD_FLOOD=20000 LOAD_REQUESTS=20000 cargo bench --bench load
//! LOAD_PARTS=logins LOAD_LOGIN_APPS=floor cargo bench --bench load   # the logins of one app: demo, floor
//! cargo bench --bench load -- signed_in_request/plain   # criterion's filter, for the `request` part
//! ```
//!
//! The apps, the embedded provider and the load driver each run on a tokio
//! runtime of their own, whose threads are named `app`, `idp` and `load`;
//! each one's CPU is read from its threads' counters in `/proc/self/task`
//! (`schedstat`, in nanoseconds), so the app's CPU per login leaves out the
//! provider's and the driver's work. Everything listens on 127.0.0.1, on
//! free ports. Memory is the resident size of the whole process (apps,
//! provider and driver together), as `ps` would show for the demo with its
//! embedded provider.
//!
//! The `request` part compares like with like, in process
//! (`tower::ServiceExt::oneshot`, so no HTTP parsing) and then over HTTP
//! (the app's CPU per request): a handler that takes `SignedIn` and returns
//! the username, behind `LoginRoutes::new(client)` with its defaults and
//! `session_layer(MemoryStore)`, next to a plain handler that reads one
//! session value from a `MemoryStore` and returns it. The plain handler is
//! measured twice: with `tower-sessions`' defaults (a read saves nothing;
//! `session_layer` saves a signed-in session once a minute while it is
//! used, to extend its 8-hour `OnInactivity` expiry), and with an 8-hour
//! inactivity expiry that `with_always_save(true)` makes real, by saving
//! the session and setting the cookie on every request. The demo's own
//! `GET /me` (the identity as JSON) is measured beside them, and
//! `session_user/*` shows what reading the signed-in user would cost if the
//! session kept it another way.
//!
//! The `logins` part runs, beside the demo, a floor: a plain axum +
//! `tower-sessions` app with a login's shape (three requests, one request
//! to the provider, one ID token validated, the session id changed) and no
//! other work; the `library` part runs logins through the library alone
//! (`Client::start`, the provider, `Client::finish`) next to its floor (a
//! bare token request and a validation).

#[path = "../examples/demo_app/mod.rs"]
mod demo_app;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Redirect;
use axum::routing::get;
use criterion::Criterion;
use oidc_login::axum::tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer};
use oidc_login::axum::{LoginRoutes, SignedIn, session_layer};
use oidc_login::testing::{TestClient, TestClientAuth, TestProvider};
use oidc_login::{
    Algorithm, Callback, Client, ClientAuth, Config, Identity, Login, RoleMapping, Source, Start,
    Tokens,
};
use tower::ServiceExt as _;

fn runtime(name: &'static str, threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A number from the environment, or `default`.
fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// CPU time of this process's threads named `name`: (total, user, system).
/// The total is from `schedstat` (nanoseconds); user and system from
/// `stat` (clock ticks of 10 ms, so only for runs of a second or more).
/// Threads that have exited are not counted: the runtimes keep theirs.
fn cpu_of_threads(name: &str) -> (Duration, Duration, Duration) {
    let (mut total, mut user, mut system) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ...`: comm may hold spaces, so split after `)`;
        // utime and stime are fields 14 and 15, 12 and 13 after comm.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| {
            let ticks = fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
            Duration::from_millis(ticks * 10) // USER_HZ = 100
        };
        user += ticks(11);
        system += ticks(12);
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += match schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
        {
            Some(ns) => Duration::from_nanos(ns),
            None => ticks(11) + ticks(12),
        };
    }
    (total, user, system)
}

/// The CPU of the app (and its user and system parts), the provider and
/// the driver.
#[derive(Clone, Copy)]
struct Cpu {
    app: Duration,
    app_user: Duration,
    app_system: Duration,
    idp: Duration,
    load: Duration,
}

/// CPU per operation, in milliseconds.
struct PerOp {
    app: f64,
    /// The share of the app's CPU spent in the kernel.
    app_system_share: f64,
    idp: f64,
    load: f64,
}

impl Cpu {
    fn now() -> Self {
        let (app, app_user, app_system) = cpu_of_threads("app");
        Self {
            app,
            app_user,
            app_system,
            idp: cpu_of_threads("idp").0,
            load: cpu_of_threads("load").0,
        }
    }

    fn per_op_since(&self, before: &Cpu, ops: usize) -> PerOp {
        // Saturating: a blocking-pool thread that exited in between takes
        // its counters with it.
        let ms = |after: Duration, before: Duration| {
            after.saturating_sub(before).as_secs_f64() * 1000.0 / ops as f64
        };
        let user = ms(self.app_user, before.app_user);
        let system = ms(self.app_system, before.app_system);
        PerOp {
            app: ms(self.app, before.app),
            app_system_share: if user + system > 0.0 {
                system / (user + system)
            } else {
                0.0
            },
            idp: ms(self.idp, before.idp),
            load: ms(self.load, before.load),
        }
    }
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// An app served on 127.0.0.1 with a client of its own (its redirect URI
/// names its own port), and the same router for in-process requests.
struct Served {
    base: String,
    app: Router,
}

/// Which app [`serve`] builds around the client.
enum Kind {
    /// `examples/demo_app`: its pages, refresh and sign-out at the provider
    /// switched on (so the tokens are kept in the session).
    Demo,
    /// `LoginRoutes::new(client)` with its defaults, and `GET /whoami`
    /// taking `SignedIn` and returning the username.
    SignedIn,
    /// [`floor_app`]: a login's shape with no library.
    Floor,
}

fn serve(app_rt: &tokio::runtime::Runtime, provider: &TestProvider, kind: Kind) -> Served {
    let listener = app_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let client = app_rt
        .block_on(Client::discover(config_for(
            provider,
            format!("http://{addr}/callback"),
        )))
        .expect("discovery");
    let app = match kind {
        Kind::Demo => demo_app::app(LoginRoutes::new(client.clone()), &client, true),
        Kind::SignedIn => signed_in_app(&client),
        Kind::Floor => floor_app(client, provider),
    };
    let served = app.clone();
    app_rt.spawn(async move {
        axum::serve(listener, served).await.expect("the app serves");
    });
    Served {
        base: format!("http://{addr}"),
        app,
    }
}

/// The client secret at the provider that signs with HS256 (which needs 32
/// bytes or more).
const HS256_SECRET: &str = "a-client-secret-of-32-bytes-or-more-for-hs256";

/// A provider that signs ID tokens with HS256, keyed with the client's
/// secret: signing costs next to nothing, unlike RSA.
fn hs256_provider(idp_rt: &tokio::runtime::Runtime) -> TestProvider {
    idp_rt.block_on(
        TestProvider::builder()
            .algorithm(Algorithm::HS256)
            .client(TestClient::confidential(
                TestProvider::DEFAULT_CLIENT_ID,
                HS256_SECRET,
                TestClientAuth::Basic,
            ))
            .start(),
    )
}

/// The demo's config for `provider` (`demo_app::embedded_config`), or for
/// a provider that signs with HS256 the same settings with HS256 allowed.
fn config_for(provider: &TestProvider, redirect_uri: String) -> Config {
    if !provider.algorithm().is_hmac() {
        return demo_app::embedded_config(provider, redirect_uri).expect("the demo's config");
    }
    let logged_out = redirect_uri.replace("/callback", "/logged-out");
    Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID)
        .add_post_logout_redirect_uri(logged_out)
        .client_auth(ClientAuth::secret_basic(HS256_SECRET))
        .scopes(["openid", "email", "profile", "offline_access"])
        .redirect_uri(redirect_uri)
        .login_button_text("Sign in with the embedded provider")
        .add_role_mapping(RoleMapping::new(
            "Maximus Conferencing Developers",
            Source::OpenIdConnect,
            demo_app::DEMO_GROUP,
            ["Read-write"],
        ))
        .allowed_algorithms([Algorithm::HS256])
        .build()
        .expect("the demo's config with HS256")
}

fn signed_in_app(client: &Client) -> Router {
    async fn whoami(user: SignedIn) -> String {
        user.identity.username.clone().unwrap_or_default()
    }
    let routes = LoginRoutes::new(client.clone());
    routes
        .mount(Router::new().route("/whoami", get(whoami)))
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), client))
}

/// A plain axum + tower-sessions app: `GET /set` stores the username,
/// `GET /me` reads it. `always_save`: the cookie and record expire after 8
/// idle hours, each request saving the session to extend them; else
/// tower-sessions' defaults.
fn plain_app(always_save: bool) -> Router {
    async fn set(session: Session) -> StatusCode {
        session
            .insert("user", "alice")
            .await
            .expect("the session store");
        StatusCode::OK
    }
    async fn me(session: Session) -> Result<String, StatusCode> {
        session
            .get::<String>("user")
            .await
            .ok()
            .flatten()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
    let mut sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    if always_save {
        sessions = sessions
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(8)))
            .with_always_save(true);
    }
    Router::new()
        .route("/set", get(set))
        .route("/me", get(me))
        .layer(sessions)
}

/// The floor a login is compared with: a plain axum + tower-sessions app
/// with the same shape, written with no library. `GET /login` stores a
/// random value in the session and redirects; `GET /callback` reads it
/// back, fetches a JSON document from the provider (its metadata, about
/// the size of a token response, standing in for the token exchange),
/// validates an ID token signed in
/// advance (`Client::verify_id_token`: the RSA signature and the claims),
/// changes the session id and stores the username; `GET /me` reads it.
fn floor_app(client: Client, provider: &TestProvider) -> Router {
    struct Floor {
        client: Client,
        http: reqwest::Client,
        document_url: String,
        token: oidc_login::IdToken,
        nonce: oidc_login::Nonce,
    }
    async fn login(session: Session) -> Redirect {
        let state: [u8; 32] = rand_bytes();
        session
            .insert("pending", format!("{state:02x?}"))
            .await
            .expect("the session store");
        Redirect::to("/callback")
    }
    async fn callback(
        axum::extract::State(floor): axum::extract::State<Arc<Floor>>,
        session: Session,
    ) -> Redirect {
        let pending: Option<String> = session.remove("pending").await.expect("the session store");
        assert!(pending.is_some(), "a login in flight");
        let document = floor
            .http
            .get(&floor.document_url)
            .send()
            .await
            .expect("the provider")
            .bytes()
            .await
            .expect("a body");
        assert!(document.len() > 1000, "the provider's metadata");
        let claims = floor
            .client
            .verify_id_token(&floor.token, &floor.nonce, None)
            .await
            .expect("a valid ID token");
        session.cycle_id().await.expect("the session store");
        session
            .insert("user", claims.claims().get("preferred_username"))
            .await
            .expect("the session store");
        Redirect::to("/me")
    }
    async fn me(session: Session) -> Result<String, StatusCode> {
        session
            .get::<String>("user")
            .await
            .ok()
            .flatten()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
    let (token, nonce) = presigned_id_token(provider);
    let floor = Floor {
        client,
        http: reqwest::Client::new(),
        document_url: provider.metadata_url(),
        token,
        nonce,
    };
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .with_state(Arc::new(floor))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
}

/// An ID token like the provider's for alice, valid for a day, and its nonce.
fn presigned_id_token(provider: &TestProvider) -> (oidc_login::IdToken, oidc_login::Nonce) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let nonce = "n-0123456789abcdef0123456789abcdef";
    let token = provider.sign_id_token(&serde_json::json!({
        "iss": provider.issuer(), "sub": "alice-sub-0001", "aud": TestProvider::DEFAULT_CLIENT_ID,
        "exp": now + 24 * 3600, "iat": now, "auth_time": now, "nonce": nonce,
        "preferred_username": "alice", "email": "alice@example.com", "email_verified": true,
        "name": "Alice Admin", "groups": [demo_app::DEMO_GROUP],
    }));
    (
        oidc_login::IdToken::new(token),
        oidc_login::Nonce::new(nonce),
    )
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    bytes
}

/// One login at the floor app, checked like [`login`] (its callback is
/// the provider's part of the login).
async fn floor_login(http: &reqwest::Client, base: &str) {
    let (pending, _) = start_login(http, &format!("{base}/login")).await;
    finish_login(http, base, &pending, format!("{base}/callback"), "/me").await;
}

/// `GET` the login route: the pending login's cookie, and where it sends
/// the browser.
async fn start_login(http: &reqwest::Client, url: &str) -> (String, reqwest::Response) {
    let start = http.get(url).send().await.expect("GET /login");
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "GET /login");
    let pending = cookie_of(&start).expect("the pending login's cookie");
    (pending, start)
}

/// The callback at `callback` with the `pending` cookie, then `check` with
/// the new session's cookie, which must answer alice. Returns that cookie.
async fn finish_login(
    http: &reqwest::Client,
    base: &str,
    pending: &str,
    callback: String,
    check: &str,
) -> String {
    let callback = http
        .get(callback)
        .header(header::COOKIE, pending)
        .send()
        .await
        .expect("the callback");
    assert_eq!(callback.status(), StatusCode::SEE_OTHER, "the callback");
    let signed_in = cookie_of(&callback).expect("the signed-in cookie");
    assert_ne!(signed_in, pending, "a new session id at sign-in");
    let me = http
        .get(format!("{base}{check}"))
        .header(header::COOKIE, &signed_in)
        .send()
        .await
        .expect("the signed-in request");
    assert_eq!(me.status(), StatusCode::OK, "{check} after the login");
    let body = me.text().await.expect("a body");
    assert!(body.contains("alice"), "signed in as alice: {body}");
    signed_in
}

/// The `name=value` of a response's first `Set-Cookie` that sets a
/// cookie: at the callback, the demo also removes the login's own cookie
/// (logins in flight in sealed cookies), with `Max-Age=0`.
fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|set| set.to_str().ok())
        .find(|set| !set.contains("Max-Age=0"))
        .and_then(|set| Some(set.split(';').next()?.to_owned()))
}

fn location_of(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .expect("a text Location")
        .to_owned()
}

/// One complete sign-in as alice at `app`, checked: `check` (`/me` of the
/// demo, `/whoami` of the `SignedIn` app) must then answer alice. Returns
/// the signed-in cookie.
async fn login(http: &reqwest::Client, base: &str, check: &str) -> String {
    let (pending, start) = start_login(http, &format!("{base}/login?login_hint=alice")).await;
    let at_provider = http
        .get(location_of(&start))
        .send()
        .await
        .expect("the provider");
    assert!(at_provider.status().is_redirection(), "the provider");
    finish_login(http, base, &pending, location_of(&at_provider), check).await
}

/// Runs `op` `total` times from `concurrency` tasks: the wall time taken.
fn run<F, Fut>(
    load_rt: &tokio::runtime::Runtime,
    total: usize,
    concurrency: usize,
    op: F,
) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    load_rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (op, done) = (op.clone(), done.clone());
                tokio::spawn(async move {
                    while done.fetch_add(1, Ordering::Relaxed) < total {
                        op().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a load task");
        }
    });
    started.elapsed()
}

fn run_logins(
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    demo: &Served,
    total: usize,
    concurrency: usize,
) -> Duration {
    let (http, base) = (http.clone(), demo.base.clone());
    run(load_rt, total, concurrency, move || {
        let (http, base) = (http.clone(), base.clone());
        async move {
            login(&http, &base, "/me").await;
        }
    })
}

fn report_logins(
    app_rt: &tokio::runtime::Runtime,
    idp_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    demo: &Served,
    provider: &TestProvider,
) {
    let total = env_number("LOAD_LOGINS", 2_000);
    let apps = std::env::var("LOAD_LOGIN_APPS").unwrap_or_else(|_| "demo,floor".into());
    let floor = serve(app_rt, provider, Kind::Floor);
    load_rt.block_on(floor_login(http, &floor.base));
    // The same apps with a provider whose signing costs next to nothing
    // (HS256), so that the app, not the provider's RSA signing, is what
    // runs out of CPU.
    let fast = hs256_provider(idp_rt);
    let fast_demo = serve(app_rt, &fast, Kind::Demo);
    let fast_floor = serve(app_rt, &fast, Kind::Floor);
    load_rt.block_on(login(http, &fast_demo.base, "/me"));
    load_rt.block_on(floor_login(http, &fast_floor.base));
    for (signer, demo, floor) in [("RS256", demo, &floor), ("HS256", &fast_demo, &fast_floor)] {
        println!(
            "logins, provider signing with {signer} ({total} at each concurrency; CPU in ms per login)"
        );
        for concurrency in [1, 10, 100] {
            for (name, app) in [("demo", demo), ("floor", floor)] {
                if !apps.split(',').any(|a| a.trim() == name) {
                    continue;
                }
                let (http, base) = (http.clone(), app.base.clone());
                let is_demo = name == "demo";
                let before = Cpu::now();
                let elapsed = run(load_rt, total, concurrency, move || {
                    let (http, base) = (http.clone(), base.clone());
                    async move {
                        if is_demo {
                            login(&http, &base, "/me").await;
                        } else {
                            floor_login(&http, &base).await;
                        }
                    }
                });
                let cpu = Cpu::now().per_op_since(&before, total);
                println!(
                    "  {name:<5} concurrency {concurrency:<3} {:>6.0} logins/s   app CPU {:.3} ({:.0}% system)   provider {:.3}   driver {:.3}   ({:.2} s)",
                    total as f64 / elapsed.as_secs_f64(),
                    cpu.app,
                    cpu.app_system_share * 100.0,
                    cpu.idp,
                    cpu.load,
                    elapsed.as_secs_f64(),
                );
            }
        }
    }
}

fn report_sustained(load_rt: &tokio::runtime::Runtime, http: &reqwest::Client, demo: &Served) {
    let sustained = env_number("LOAD_SUSTAINED", 50_000);
    let window = 5_000.min(sustained).max(1);
    println!(
        "sustained: {sustained} logins at concurrency 10, by windows of {window} (RSS before: {:.0} MiB)",
        rss_mib()
    );
    for w in 0..sustained / window {
        let before = Cpu::now();
        let elapsed = run_logins(load_rt, http, demo, window, 10);
        let cpu = Cpu::now().per_op_since(&before, window);
        println!(
            "  logins {:>6}..{:<6} {:>6.0} logins/s   app CPU {:.3} ms/login   provider {:.3} ms/login   RSS {:.0} MiB",
            w * window,
            (w + 1) * window,
            window as f64 / elapsed.as_secs_f64(),
            cpu.app,
            cpu.idp,
            rss_mib(),
        );
    }
}

/// One login through the library: `Client::start` (here), the provider
/// (over HTTP), `Client::finish` (on `app`, so that its CPU is the app's).
async fn library_login(
    client: &Client,
    http: &reqwest::Client,
    app: &tokio::runtime::Handle,
) -> Login {
    let (url, pending) = client
        .start(Start::default().login_hint("alice"))
        .expect("a login starts");
    let at_provider = http.get(url.as_str()).send().await.expect("the provider");
    let back = url::Url::parse(&location_of(&at_provider)).expect("a callback URL");
    let callback = Callback::from_query(back.query().unwrap_or_default()).expect("a callback");
    let client = client.clone();
    app.spawn(async move { client.finish(pending, callback).await })
        .await
        .expect("the finish task")
        .expect("the login finishes")
}

/// Sustained logins through the library alone, no web app and no session
/// store: `Client::start`, the embedded provider, `Client::finish`, each
/// checked. What still grows here is the library's or the provider's.
fn report_library(
    app_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    provider: &TestProvider,
) {
    let total = env_number("LOAD_SUSTAINED", 50_000);
    let window = 5_000.min(total).max(1);
    let config = demo_app::embedded_config(provider, "http://127.0.0.1:9/callback")
        .expect("the demo's config");
    let client = app_rt
        .block_on(Client::discover(config))
        .expect("discovery");
    // The floor of `finish`: one bare reqwest POST to the token endpoint
    // (refused: the code is made up) and the validation of an ID token
    // signed in advance, on the app's runtime too.
    let floor_ops = env_number("LOAD_LIBRARY_FLOOR", window);
    let (token, nonce) = presigned_id_token(provider);
    let (bare, token_url) = (reqwest::Client::new(), provider.url("/token"));
    let (app, validator) = (app_rt.handle().clone(), client.clone());
    let before = Cpu::now();
    run(load_rt, floor_ops, 10, move || {
        let (bare, token_url, app, validator) = (
            bare.clone(),
            token_url.clone(),
            app.clone(),
            validator.clone(),
        );
        let (token, nonce) = (token.clone(), nonce.clone());
        async move {
            app.spawn(async move {
                let refused = bare
                    .post(&token_url)
                    .basic_auth(
                        TestProvider::DEFAULT_CLIENT_ID,
                        Some(TestProvider::DEFAULT_CLIENT_SECRET),
                    )
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", "made-up"),
                        ("redirect_uri", "http://127.0.0.1:9/callback"),
                    ])
                    .send()
                    .await
                    .expect("the token endpoint");
                let body: serde_json::Value = refused.json().await.expect("a JSON answer");
                assert_eq!(body["error"], "invalid_grant");
                validator
                    .verify_id_token(&token, &nonce, None)
                    .await
                    .expect("a valid ID token");
            })
            .await
            .expect("the floor task");
        }
    });
    if floor_ops > 0 {
        let cpu = Cpu::now().per_op_since(&before, floor_ops);
        println!(
            "library floor: {floor_ops} bare token requests and ID token validations at concurrency 10: app CPU {:.3} ms each",
            cpu.app
        );
    }
    println!(
        "library alone: {total} logins (start, provider, finish) at concurrency 10, by windows of {window} (RSS before: {:.0} MiB)",
        rss_mib()
    );
    for w in 0..total / window {
        let (client, http, app) = (client.clone(), http.clone(), app_rt.handle().clone());
        let before = Cpu::now();
        let elapsed = run(load_rt, window, 10, move || {
            let (client, http, app) = (client.clone(), http.clone(), app.clone());
            async move {
                let login = library_login(&client, &http, &app).await;
                assert_eq!(login.identity.username.as_deref(), Some("alice"));
            }
        });
        let cpu = Cpu::now().per_op_since(&before, window);
        println!(
            "  logins {:>6}..{:<6} {:>6.0} logins/s   app CPU {:.3} ms/login   provider {:.3} ms/login   RSS {:.0} MiB",
            w * window,
            (w + 1) * window,
            window as f64 / elapsed.as_secs_f64(),
            cpu.app,
            cpu.idp,
            rss_mib(),
        );
    }
}

/// Anonymous `GET /login`s that never come back (item 4 of the issue), by
/// windows of a fifth of the flood, so that growth shows as a trend.
fn report_flood(load_rt: &tokio::runtime::Runtime, http: &reqwest::Client, demo: &Served) {
    let total = env_number("LOAD_FLOOD", 20_000);
    let window = (total / 5).max(1);
    println!(
        "flood: {total} anonymous GET /login at concurrency 10, by windows of {window} (RSS before: {:.0} MiB)",
        rss_mib()
    );
    for w in 0..total / window {
        let before = Cpu::now();
        let (client, base) = (http.clone(), demo.base.clone());
        let elapsed = run(load_rt, window, 10, move || {
            let (http, base) = (client.clone(), base.clone());
            async move {
                let start = http
                    .get(format!("{base}/login"))
                    .send()
                    .await
                    .expect("GET /login");
                assert_eq!(start.status(), StatusCode::SEE_OTHER, "GET /login");
            }
        });
        let cpu = Cpu::now().per_op_since(&before, window);
        println!(
            "  requests {:>7}..{:<7} {:>6.0}/s   app CPU {:.1} µs each   RSS {:.0} MiB",
            w * window,
            (w + 1) * window,
            window as f64 / elapsed.as_secs_f64(),
            cpu.app * 1000.0,
            rss_mib(),
        );
    }
}

/// The signed-in user as `src/axum/session.rs` keeps it (`SessionUser`):
/// the identity, the sign-in time and the tokens.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredUser {
    identity: Identity,
    signed_in_at_ms: i64,
    tokens: Option<Tokens>,
}

/// The same, read without parsing the tokens (kept as raw JSON until a
/// refresh needs them).
#[derive(serde::Deserialize)]
struct StoredUserView<'a> {
    identity: Identity,
    signed_in_at_ms: i64,
    #[serde(borrow)]
    tokens: Option<&'a serde_json::value::RawValue>,
}

/// What reading the signed-in user from the session would cost if it were
/// kept another way: plain tower-sessions apps over a `MemoryStore`, each
/// `GET /me` reading a real login's identity and tokens and answering the
/// username. `value_tree`: stored as a JSON value tree, the way
/// `session.insert` keeps it today (every read clones the tree, twice);
/// `json_string`: stored as one JSON string (a read copies one string and
/// parses it); `json_string_tokens_raw`: the same, with the tokens left
/// unparsed; `json_string_decoded_cache`: the same, but an identity
/// decoded before from the very same text (by session id) is reused, so a
/// read copies the text and compares it.
fn bench_session_user(c: &mut Criterion, app_rt: &tokio::runtime::Runtime, login: &Login) {
    let user = StoredUser {
        identity: login.identity.clone(),
        signed_in_at_ms: 1_765_000_000_000,
        tokens: Some(login.tokens.clone()),
    };
    let text = serde_json::to_string(&user).expect("the user serializes");
    println!(
        "session_user: a real login's user is {} bytes of JSON ({} claims)",
        text.len(),
        login.identity.claims.len()
    );
    let tree = serde_json::to_value(&user).expect("the user serializes");
    let app = |stored: serde_json::Value, read: fn(Session) -> BoxedRead| {
        async fn set(
            axum::extract::State(stored): axum::extract::State<Arc<serde_json::Value>>,
            session: Session,
        ) -> StatusCode {
            session
                .insert("user", &*stored)
                .await
                .expect("the session store");
            StatusCode::OK
        }
        let me = move |session: Session| read(session);
        let app = Router::new()
            .route("/set", get(set))
            .route("/me", get(me))
            .with_state(Arc::new(stored))
            .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false));
        let cookie = app_rt.block_on(async {
            let response = app
                .clone()
                .oneshot(Request::get("/set").body(Body::empty()).unwrap())
                .await
                .unwrap();
            cookie_in(&response)
        });
        (app, cookie)
    };
    type BoxedRead = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;
    fn read_tree(session: Session) -> BoxedRead {
        Box::pin(async move {
            let user: StoredUser = session.get("user").await.unwrap().unwrap();
            user.identity.username.unwrap_or_default()
        })
    }
    fn read_string(session: Session) -> BoxedRead {
        Box::pin(async move {
            let text: String = session.get("user").await.unwrap().unwrap();
            let user: StoredUser = serde_json::from_str(&text).unwrap();
            user.identity.username.unwrap_or_default()
        })
    }
    fn read_string_tokens_raw(session: Session) -> BoxedRead {
        Box::pin(async move {
            let text: String = session.get("user").await.unwrap().unwrap();
            let user: StoredUserView<'_> = serde_json::from_str(&text).unwrap();
            assert!(user.tokens.is_some() && user.signed_in_at_ms > 0);
            user.identity.username.unwrap_or_default()
        })
    }
    /// Identities decoded before, by session id, with the text they were
    /// decoded from: a read whose text is unchanged skips the decoding.
    type Decoded = std::collections::HashMap<
        oidc_login::axum::tower_sessions::session::Id,
        (String, Arc<Identity>),
    >;
    static DECODED: std::sync::LazyLock<std::sync::Mutex<Decoded>> =
        std::sync::LazyLock::new(Default::default);
    fn read_string_cached(session: Session) -> BoxedRead {
        Box::pin(async move {
            let text: String = session.get("user").await.unwrap().unwrap();
            let id = session.id().expect("a loaded session has an id");
            let cached = DECODED
                .lock()
                .unwrap()
                .get(&id)
                .filter(|(seen, _)| *seen == text)
                .map(|(_, identity)| identity.clone());
            let identity = match cached {
                Some(identity) => identity,
                None => {
                    let user: StoredUserView<'_> = serde_json::from_str(&text).unwrap();
                    let identity = Arc::new(user.identity);
                    DECODED.lock().unwrap().insert(id, (text, identity.clone()));
                    identity
                }
            };
            identity.username.clone().unwrap_or_default()
        })
    }
    let cases = [
        ("value_tree", app(tree, read_tree)),
        (
            "json_string",
            app(serde_json::Value::String(text.clone()), read_string),
        ),
        (
            "json_string_tokens_raw",
            app(
                serde_json::Value::String(text.clone()),
                read_string_tokens_raw,
            ),
        ),
        (
            "json_string_decoded_cache",
            app(serde_json::Value::String(text), read_string_cached),
        ),
    ];
    let mut group = c.benchmark_group("session_user");
    for (name, (app, cookie)) in &cases {
        group.bench_function(*name, |b| {
            b.to_async(app_rt).iter(|| async {
                let request = Request::get("/me")
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                response
            })
        });
    }
    group.finish();
}

/// The `name=value` of the `Set-Cookie` of an in-process response.
fn cookie_in(response: &axum::response::Response) -> String {
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The signed-in request, in process (criterion) and over HTTP (app CPU).
fn report_signed_in_request(
    c: &mut Criterion,
    app_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    demo: &Served,
    provider: &TestProvider,
) {
    let signed_in = serve(app_rt, provider, Kind::SignedIn);
    let signed_in_cookie = load_rt.block_on(login(http, &signed_in.base, "/whoami"));
    let demo_cookie = load_rt.block_on(login(http, &demo.base, "/me"));
    let plain = |always_save: bool| {
        let app = plain_app(always_save);
        let cookie = app_rt.block_on(async {
            let response = app
                .clone()
                .oneshot(Request::get("/set").body(Body::empty()).unwrap())
                .await
                .unwrap();
            cookie_in(&response)
        });
        (app, cookie)
    };
    let (plain_default, plain_default_cookie) = plain(false);
    let (plain_saved, plain_saved_cookie) = plain(true);
    let cases = [
        (
            "signed_in_username",
            signed_in.app.clone(),
            "/whoami",
            signed_in_cookie,
        ),
        (
            "plain_session_value",
            plain_default,
            "/me",
            plain_default_cookie,
        ),
        (
            "plain_session_value_always_save",
            plain_saved,
            "/me",
            plain_saved_cookie,
        ),
        ("demo_me_json", demo.app.clone(), "/me", demo_cookie),
    ];

    // `LOAD_REQUEST_COUNT=n`: no criterion and no HTTP, but n in-process
    // requests of each case named in `LOAD_REQUEST_CASES` (all by
    // default): run under callgrind with n and with 0, the difference
    // divided by n is the instructions per request, which the machine's
    // load does not move.
    if let Ok(count) = std::env::var("LOAD_REQUEST_COUNT") {
        let count: usize = count.parse().expect("LOAD_REQUEST_COUNT: a number");
        let chosen = std::env::var("LOAD_REQUEST_CASES").unwrap_or_default();
        for (name, app, path, cookie) in &cases {
            if !chosen.is_empty() && !chosen.split(',').any(|case| case.trim() == *name) {
                continue;
            }
            app_rt.block_on(async {
                for _ in 0..count {
                    let request = Request::get(*path)
                        .header(header::COOKIE, cookie)
                        .body(Body::empty())
                        .unwrap();
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
            });
            println!("{name}: {count} requests in process");
        }
        return;
    }
    let mut group = c.benchmark_group("signed_in_request");
    for (name, app, path, cookie) in &cases {
        group.bench_function(*name, |b| {
            b.to_async(app_rt).iter(|| async {
                let request = Request::get(*path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                response
            })
        });
    }
    group.finish();

    let config = demo_app::embedded_config(provider, "http://127.0.0.1:9/callback")
        .expect("the demo's config");
    let client = app_rt
        .block_on(Client::discover(config))
        .expect("discovery");
    let login = load_rt.block_on(library_login(&client, http, app_rt.handle()));
    bench_session_user(c, app_rt, &login);

    // Over HTTP: each app served, its CPU per request at concurrency 10.
    let total = env_number("LOAD_REQUESTS", 20_000);
    println!("signed-in requests over HTTP ({total} at concurrency 10; the app's CPU per request)");
    for (name, app, path, cookie) in cases {
        let base = if name == "signed_in_username" {
            signed_in.base.clone()
        } else if name == "demo_me_json" {
            demo.base.clone()
        } else {
            let listener = app_rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("a free port");
            let addr = listener.local_addr().expect("an address");
            app_rt.spawn(async move { axum::serve(listener, app).await.expect("serves") });
            format!("http://{addr}")
        };
        let url = format!("{base}{path}");
        let client = http.clone();
        let before = Cpu::now();
        let elapsed = run(load_rt, total, 10, move || {
            let (http, url, cookie) = (client.clone(), url.clone(), cookie.clone());
            async move {
                let response = http
                    .get(&url)
                    .header(header::COOKIE, &cookie)
                    .send()
                    .await
                    .expect("the request");
                assert_eq!(response.status(), StatusCode::OK, "{url}");
                let body = response.text().await.expect("a body");
                assert!(body.contains("alice"), "{url}: {body}");
            }
        });
        let cpu = Cpu::now().per_op_since(&before, total);
        println!(
            "  {name:<40} app CPU {:>5.1} µs/request ({:.0}% system)   {:>6.0} requests/s",
            cpu.app * 1000.0,
            cpu.app_system_share * 100.0,
            total as f64 / elapsed.as_secs_f64(),
        );
    }
}

fn main() {
    let parts = std::env::var("LOAD_PARTS")
        .unwrap_or_else(|_| "request,logins,library,sustained,flood".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    let idp_rt = runtime("idp", 1);
    let app_rt = runtime("app", 2);
    let load_rt = runtime("load", 1);
    let provider = idp_rt.block_on(TestProvider::start());
    let demo = serve(&app_rt, &provider, Kind::Demo);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(200)
        .build()
        .expect("an HTTP client");
    // Warm up: connections, the key cache, the allocator.
    let warm_up = env_number("LOAD_WARMUP", 500);
    run_logins(&load_rt, &http, &demo, warm_up, 10);
    println!(
        "RSS after a warm-up of {warm_up} logins: {:.0} MiB",
        rss_mib()
    );

    let mut criterion = Criterion::default().configure_from_args();
    if part("request") {
        report_signed_in_request(&mut criterion, &app_rt, &load_rt, &http, &demo, &provider);
    }
    if part("logins") {
        report_logins(&app_rt, &idp_rt, &load_rt, &http, &demo, &provider);
    }
    if part("library") {
        report_library(&app_rt, &load_rt, &http, &provider);
    }
    if part("sustained") {
        report_sustained(&load_rt, &http, &demo);
    }
    if part("flood") {
        report_flood(&load_rt, &http, &demo);
    }
    criterion.final_summary();
}
