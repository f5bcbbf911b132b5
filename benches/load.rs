//! Load through the demo: complete logins per second at concurrency 1, 10
//! and 100 (every login checked with `GET /me`), the CPU the app spends per
//! login, logins per second and memory over a sustained run, and a signed-in
//! request next to a plain axum + `tower-sessions` handler.
//!
//! ```sh
//! cargo bench --bench load                       # the figures in benches/README.md
//! LOAD_SUSTAINED=50000 cargo bench --bench load  # a longer sustained run
//! ```
//!
//! The demo app (`examples/demo_app/`), the embedded provider and the load
//! driver each run on a tokio runtime of their own, whose threads are named
//! `app`, `idp` and `load`; the app's CPU is read from its threads' counters
//! in `/proc/self/task`, so the provider's and the driver's work is not
//! counted. Everything listens on 127.0.0.1, on free ports. The signed-in
//! request is a criterion benchmark (`signed_in_request/*`), run in process
//! through the routers with `tower::ServiceExt::oneshot`.

#[path = "../examples/demo_app/mod.rs"]
mod demo_app;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use criterion::Criterion;
use oidc_login::Client;
use oidc_login::axum::LoginRoutes;
use oidc_login::axum::tower_sessions::{MemoryStore, Session, SessionManagerLayer};
use oidc_login::testing::TestProvider;
use tower::ServiceExt as _;

fn runtime(name: &'static str, threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// CPU time (user + system) of this process's threads named `name`.
fn cpu_of_threads(name: &str) -> Duration {
    let ticks_per_second = 100; // USER_HZ on Linux
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: comm may hold spaces, so split after `)`.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != name {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after comm.
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(11) + field(12);
    }
    Duration::from_millis(ticks * 1000 / ticks_per_second)
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

/// The demo app with the embedded provider, served on 127.0.0.1.
struct Demo {
    base: String,
    app: Router,
    _provider: TestProvider,
}

fn start_demo(app_rt: &tokio::runtime::Runtime, idp_rt: &tokio::runtime::Runtime) -> Demo {
    let provider = idp_rt.block_on(TestProvider::start());
    let listener = app_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let config = demo_app::embedded_config(&provider, format!("http://{addr}/callback"))
        .expect("the demo's config");
    let client = app_rt
        .block_on(Client::discover(config))
        .expect("discovery");
    let app = demo_app::app(LoginRoutes::new(client.clone()), &client, true);
    let served = app.clone();
    app_rt.spawn(async move {
        axum::serve(listener, served)
            .await
            .expect("the demo serves");
    });
    Demo {
        base: format!("http://{addr}"),
        app,
        _provider: provider,
    }
}

/// The `name=value` of a response's first `Set-Cookie`.
fn cookie_of(response: &reqwest::Response) -> Option<String> {
    let set = response.headers().get(header::SET_COOKIE)?.to_str().ok()?;
    Some(set.split(';').next()?.to_owned())
}

fn location_of(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .expect("a text Location")
        .to_owned()
}

/// One complete sign-in as alice, checked: the signed-in cookie.
async fn login(http: &reqwest::Client, base: &str) -> String {
    let start = http
        .get(format!("{base}/login?login_hint=alice"))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "GET /login");
    let pending = cookie_of(&start).expect("the pending login's cookie");
    let at_provider = http
        .get(location_of(&start))
        .send()
        .await
        .expect("the provider");
    assert!(at_provider.status().is_redirection(), "the provider");
    let callback = http
        .get(location_of(&at_provider))
        .header(header::COOKIE, &pending)
        .send()
        .await
        .expect("the callback");
    assert_eq!(callback.status(), StatusCode::SEE_OTHER, "the callback");
    let signed_in = cookie_of(&callback).expect("the signed-in cookie");
    let me = http
        .get(format!("{base}/me"))
        .header(header::COOKIE, &signed_in)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(me.status(), StatusCode::OK, "GET /me after the login");
    let body = me.text().await.expect("a body");
    assert!(body.contains("\"alice\""), "signed in as alice: {body}");
    signed_in
}

/// `total` logins by `concurrency` tasks: the wall time they took.
fn run_logins(
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    base: &str,
    total: usize,
    concurrency: usize,
) -> Duration {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    load_rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (http, base, done) = (http.clone(), base.to_owned(), done.clone());
                tokio::spawn(async move {
                    while done.fetch_add(1, Ordering::Relaxed) < total {
                        login(&http, &base).await;
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

fn report_logins(load_rt: &tokio::runtime::Runtime, http: &reqwest::Client, demo: &Demo) {
    for concurrency in [1, 10, 100] {
        let total = 2_000;
        let cpu_before = cpu_of_threads("app");
        let elapsed = run_logins(load_rt, http, &demo.base, total, concurrency);
        let cpu = cpu_of_threads("app") - cpu_before;
        println!(
            "logins/concurrency={concurrency:<3}  {:>6.0} logins/s   app CPU {:.3} ms/login   ({total} logins in {:.2} s)",
            total as f64 / elapsed.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / total as f64,
            elapsed.as_secs_f64(),
        );
    }
    let sustained: usize = std::env::var("LOAD_SUSTAINED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let window = 10_000.min(sustained);
    println!("sustained: {sustained} logins at concurrency 10, by windows of {window}");
    for w in 0..sustained / window {
        let elapsed = run_logins(load_rt, http, &demo.base, window, 10);
        println!(
            "  logins {:>6}..{:<6} {:>6.0} logins/s   RSS {:.0} MiB",
            w * window,
            (w + 1) * window,
            window as f64 / elapsed.as_secs_f64(),
            rss_mib(),
        );
    }
}

/// A plain axum + tower-sessions app: `GET /me` reads one session value.
fn plain_app() -> Router {
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
    Router::new()
        .route("/set", get(set))
        .route("/me", get(me))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
}

fn bench_signed_in_request(
    c: &mut Criterion,
    app_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    demo: &Demo,
) {
    let signed_in = load_rt.block_on(login(http, &demo.base));
    let plain = plain_app();
    let plain_cookie = app_rt.block_on(async {
        let response = plain
            .clone()
            .oneshot(Request::get("/set").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    });
    let mut group = c.benchmark_group("signed_in_request");
    for (name, app, cookie) in [
        ("oidc_login_me", demo.app.clone(), signed_in),
        ("plain_tower_sessions", plain, plain_cookie),
    ] {
        group.bench_function(name, |b| {
            b.to_async(app_rt).iter(|| async {
                let request = Request::get("/me")
                    .header(header::COOKIE, &cookie)
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

fn main() {
    let idp_rt = runtime("idp", 1);
    let app_rt = runtime("app", 2);
    let load_rt = runtime("load", 1);
    let demo = start_demo(&app_rt, &idp_rt);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(200)
        .build()
        .expect("an HTTP client");
    // Warm up: connections, the key cache, the allocator.
    run_logins(&load_rt, &http, &demo.base, 500, 10);
    println!("RSS after warm-up: {:.0} MiB", rss_mib());

    let mut criterion = Criterion::default().configure_from_args();
    bench_signed_in_request(&mut criterion, &app_rt, &load_rt, &http, &demo);
    report_logins(&load_rt, &http, &demo);
    criterion.final_summary();
}
