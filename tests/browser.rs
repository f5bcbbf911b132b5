//! The demo app in a real browser: headless Chromium, driven through
//! chromedriver (WebDriver) with fantoccini, signs in with the embedded
//! provider, sees who it is, and signs out.
//!
//! ```sh
//! apt-get install chromium chromium-driver   # Debian; `.ci/run` does this
//! cargo test --test browser
//! ```
//!
//! Environment: `CHROMIUM` and `CHROMEDRIVER` name the binaries (default:
//! `chromium`, `chromium-browser`, `google-chrome` and `chromedriver` on the
//! `PATH`). Without them every test here prints `SKIP` (to stderr, shown by
//! plain `cargo test`) and passes, unless `OIDC_LOGIN_REQUIRE_ALL=1` (set by
//! `.ci/run`), which makes it fail.
//!
//! Screenshots: each run saves the pages it sees, at a fixed 1000x700
//! viewport, in `browser/` under `CARGO_TARGET_DIR` (default `target`). With
//! `OIDC_LOGIN_SCREENSHOTS=1` the signed-in page and a refusal also go to
//! `docs/screenshots/`, which the README shows (so ordinary runs never
//! rewrite tracked files):
//!
//! ```sh
//! OIDC_LOGIN_SCREENSHOTS=1 cargo test --test browser
//! ```
//!
//! The app is served in-process: the demo's own pages
//! (`examples/demo_app/mod.rs`) and login routes. The browser reaches it as
//! `http://localhost:<port>` and the provider as `http://127.0.0.1:<port>`:
//! two different sites, so the `form_post` callback is a real cross-site POST
//! that arrives without the `SameSite=Lax` cookie of the login (the demo
//! keeps logins in flight in sealed cookies), as it does in production.

#[path = "../examples/demo_app/mod.rs"]
mod demo_app;
#[path = "support/skip.rs"]
mod skip;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use oidc_login::Client;
use oidc_login::axum::LoginRoutes;
use oidc_login::testing::TestProvider;

/// How long any one page may take to appear.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The viewport of every screenshot, in CSS pixels.
const VIEWPORT: (i64, i64) = (1000, 700);

/// Set to `1`: the screenshots the README shows are written to
/// `docs/screenshots/`.
const SCREENSHOTS: &str = "OIDC_LOGIN_SCREENSHOTS";

/// The largest screenshot the README may show, so the repository stays light.
const MAX_SCREENSHOT_BYTES: usize = 200 * 1024;

/// One browser at a time, so that two Chromiums do not compete for a small
/// CI machine and time out.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The browser binaries, or why there are none.
struct Binaries {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn binaries() -> Result<Binaries, String> {
    let find = |env: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(env) {
            return Some(PathBuf::from(path)).filter(|p| p.is_file());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    };
    let chromium = find(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .ok_or("no Chromium (set CHROMIUM, or `apt-get install chromium`)")?;
    let chromedriver = find("CHROMEDRIVER", &["chromedriver"])
        .ok_or("no chromedriver (set CHROMEDRIVER, or `apt-get install chromium-driver`)")?;
    Ok(Binaries {
        chromium,
        chromedriver,
    })
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A chromedriver process. Dropping it (also when a test panics) asks
/// chromedriver to shut down, which quits the browsers it started, kills it
/// if it does not exit, and removes the browser profile.
struct Chromedriver {
    child: Child,
    port: u16,
    url: String,
    profile: tempfile::TempDir,
}

impl Chromedriver {
    async fn start(binary: &Path) -> Self {
        let port = free_port();
        let profile = tempfile::Builder::new()
            .prefix("oidc-login-browser-")
            .tempdir()
            .expect("a temporary browser profile directory");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            profile,
        };
        driver.wait_ready().await;
        driver
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = http
                .get(format!("{}/status", self.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer {}/status within 10 s",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless Chromium session with a fresh profile.
    async fn browser(&self, chromium: &Path) -> Browser {
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1024,768".to_owned(),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        // rustls is built with both crypto back ends here (ring through
        // reqwest, aws-lc-rs through fantoccini): pick one, once.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        ClientBuilder::rustls()
            .expect("fantoccini's HTTP client")
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start {}: {e}", chromium.display()))
    }
}

impl Chromedriver {
    /// `GET /shutdown`: chromedriver quits every browser it started, then
    /// exits. Plain blocking I/O, as it runs in `drop`.
    fn shutdown(&self) -> std::io::Result<()> {
        use std::io::{Read as _, Write as _};

        let mut stream = std::net::TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_secs(2),
        )?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map(drop)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.shutdown();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Only chromedriver itself, by its pid: a browser it started may
        // outlive it, so say so.
        eprintln!(
            "chromedriver (pid {}) did not shut down within 10 s; killing it (its browser may linger)",
            self.child.id()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the app saw of one `/callback` request.
#[derive(Debug, Clone, PartialEq)]
struct CallbackRequest {
    method: String,
    /// With the cookie of the login in flight (`SameSite=Lax`): the demo
    /// keeps logins in sealed cookies, not in the session.
    with_login_cookie: bool,
}

/// The demo app on `127.0.0.1:<random port>`, with the embedded provider,
/// reached by the browser at `http://localhost:<port>`.
struct App {
    origin: String,
    callbacks: Arc<Mutex<Vec<CallbackRequest>>>,
    /// The path and query of each `GET /callback`, to replay one.
    callback_urls: Arc<Mutex<Vec<String>>>,
    _providers: (TestProvider, TestProvider),
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ResponseMode {
    Query,
    FormPost,
}

impl App {
    async fn start(mode: ResponseMode) -> Self {
        // The demo's two embedded providers: Entra-like and PrivX-like.
        let (provider, privx) = demo_app::embedded_providers().await;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a free port on 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://localhost:{port}");
        let config = demo_app::embedded_config(&provider, format!("{origin}/callback"))
            .expect("the demo config is valid");
        let client = Client::discover(config)
            .await
            .expect("discovery of the embedded provider works");
        let privx_client = Client::discover(
            demo_app::embedded_privx_config(&privx, &origin)
                .expect("the PrivX-like config is valid"),
        )
        .await
        .expect("discovery of the PrivX-like provider works");
        let routes = LoginRoutes::new(client.clone())
            .provider(privx_client)
            .expect("two providers");
        let routes = match mode {
            ResponseMode::Query => routes,
            ResponseMode::FormPost => routes.form_post(),
        };
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let callback_urls = Arc::new(Mutex::new(Vec::new()));
        let (seen, seen_urls) = (callbacks.clone(), callback_urls.clone());
        let app = demo_app::app(routes, &client, true).layer(middleware::from_fn(
            move |request: Request, next: Next| {
                let (seen, seen_urls) = (seen.clone(), seen_urls.clone());
                async move {
                    if request.uri().path() == "/callback" {
                        if request.method() == axum::http::Method::GET {
                            seen_urls.lock().unwrap().push(request.uri().to_string());
                        }
                        let with_login_cookie = request
                            .headers()
                            .get_all(axum::http::header::COOKIE)
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .any(|v| v.contains("oidc_login_pending_"));
                        seen.lock().unwrap().push(CallbackRequest {
                            method: request.method().to_string(),
                            with_login_cookie,
                        });
                    }
                    next.run(request).await
                }
            },
        ));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the app serves");
        });
        Self {
            origin,
            callbacks,
            callback_urls,
            _providers: (provider, privx),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn callbacks(&self) -> Vec<CallbackRequest> {
        self.callbacks.lock().unwrap().clone()
    }

    fn callback_urls(&self) -> Vec<String> {
        self.callback_urls.lock().unwrap().clone()
    }
}

/// Whether the README's screenshots are to be written ([`SCREENSHOTS`]).
fn publish_screenshots() -> bool {
    std::env::var(SCREENSHOTS).is_ok_and(|v| v == "1")
}

/// Resizes the window until the page's viewport is [`VIEWPORT`]: the window
/// size Chromium is given includes its own frame, which varies by version.
async fn fix_viewport(browser: &Browser) {
    let viewport = async || -> (i64, i64) {
        let size = browser
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("the viewport's size");
        let number = |i: usize| size[i].as_i64().expect("a size in pixels");
        (number(0), number(1))
    };
    for _ in 0..3 {
        let (width, height) = viewport().await;
        if (width, height) == VIEWPORT {
            return;
        }
        let (window_width, window_height) =
            browser.get_window_size().await.expect("the window size");
        let resize = |window: u64, want: i64, have: i64| {
            u32::try_from(window as i64 + want - have).expect("a window size that fits")
        };
        browser
            .set_window_size(
                resize(window_width, VIEWPORT.0, width),
                resize(window_height, VIEWPORT.1, height),
            )
            .await
            .expect("the window is resized");
    }
    assert_eq!(
        viewport().await,
        VIEWPORT,
        "the viewport could not be sized"
    );
}

/// Saves a screenshot of the viewport as `name` in `browser/` under the
/// target directory, and, when `readme` and [`SCREENSHOTS`] say so, in
/// `docs/screenshots/`. Returns where it went.
async fn screenshot(browser: &Browser, name: &str, readme: bool) -> PathBuf {
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let mut dirs = vec![target.join("browser")];
    if readme && publish_screenshots() {
        assert!(
            png.len() < MAX_SCREENSHOT_BYTES,
            "{name} is {} bytes, more than the README should carry",
            png.len()
        );
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"));
    }
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("the screenshot directory");
        std::fs::write(dir.join(name), &png).expect("the screenshot is written");
    }
    dirs.pop().expect("a directory").join(name)
}

/// Waits for the element `css`; panics with the page's URL and text if it
/// does not appear.
async fn element(browser: &Browser, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(error) => {
            let url = current_url(browser).await;
            let text = match browser.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("no `{css}` on {url} ({error}); the page says:\n{text}");
        }
    }
}

async fn text_of(browser: &Browser, css: &str) -> String {
    element(browser, css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("cannot read `{css}`: {e}"))
}

async fn click(browser: &Browser, css: &str) {
    element(browser, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
}

async fn current_url(browser: &Browser) -> String {
    browser
        .current_url()
        .await
        .map_or_else(|e| format!("<no URL: {e}>"), |u| u.to_string())
}

/// The whole journey: `/`, the sign-in button, alice on the provider's page,
/// back on `/` signed in with her role, a screenshot, (with a query
/// callback) the callback replayed and refused, and sign out.
async fn sign_in_and_out(mode: ResponseMode) {
    let binaries = match binaries() {
        Ok(binaries) => binaries,
        Err(why) => {
            skip::skip("the browser test", &why);
            return;
        }
    };
    let _one = ONE_BROWSER.lock().await;
    let file = |page: &str| match mode {
        ResponseMode::Query => format!("{page}.png"),
        ResponseMode::FormPost => format!("{page}-form-post.png"),
    };
    let started = Instant::now();
    let app = App::start(mode).await;
    let driver = Chromedriver::start(&binaries.chromedriver).await;
    let browser = driver.browser(&binaries.chromium).await;

    browser
        .goto(&app.url("/"))
        .await
        .expect("the app's home page");
    fix_viewport(&browser).await;
    let title = text_of(&browser, "h1").await;
    assert_eq!(title, "Sign in");
    screenshot(&browser, &file("signed-out"), false).await;
    // Two providers, a button each; the first is the Entra-like one.
    let buttons = browser
        .find_all(Locator::Css("form.oidc-login button"))
        .await
        .expect("the sign-in buttons");
    assert_eq!(buttons.len(), 2, "one button per provider");
    click(&browser, "form.oidc-login button").await;

    // The embedded provider's sign-in page: a button per user.
    click(&browser, r#"button[name="username"][value="alice"]"#).await;

    assert_eq!(text_of(&browser, "#username").await, "alice");
    let roles = text_of(&browser, "#roles").await;
    assert!(roles.contains("Read-write"), "roles shown: {roles}");
    assert_eq!(current_url(&browser).await, app.url("/"));
    let session = text_of(&browser, "#session + dl").await;
    assert!(
        session.contains("Provider sign-in") && session.contains("ID token expires"),
        "the session's times: {session}"
    );
    let path = screenshot(&browser, &file("signed-in"), mode == ResponseMode::Query).await;

    let callbacks = app.callbacks();
    match mode {
        ResponseMode::Query => assert_eq!(
            callbacks,
            [CallbackRequest {
                method: "GET".into(),
                with_login_cookie: true,
            }],
            "a query callback is a top-level GET, which carries the SameSite=Lax cookie"
        ),
        ResponseMode::FormPost => assert_eq!(
            callbacks,
            [
                CallbackRequest {
                    method: "POST".into(),
                    with_login_cookie: false,
                },
                CallbackRequest {
                    method: "POST".into(),
                    with_login_cookie: true,
                },
            ],
            "the cross-site form_post arrives without the login's cookie, and the app's \
             re-submit page posts it again from its own origin, with the cookie"
        ),
    }

    if mode == ResponseMode::Query {
        // The callback once more: its login is used up, and the crate
        // refuses it with its refusal page.
        let [callback] = app.callback_urls().try_into().expect("one GET callback");
        browser
            .goto(&app.url(&callback))
            .await
            .expect("the replayed callback");
        let refusal = text_of(&browser, "body").await;
        assert!(
            refusal.contains("no_pending_login"),
            "the refusal names its code: {refusal}"
        );
        screenshot(&browser, &file("refusal"), true).await;
        browser.goto(&app.url("/")).await.expect("back home");
    }

    click(&browser, "#logout").await;
    let button = text_of(&browser, "form.oidc-login button").await;
    assert_eq!(button, "Sign in with the embedded provider (Entra-like)");

    // The second button: alice at the PrivX-like provider, with its roles.
    click(&browser, "form.oidc-login + form.oidc-login button").await;
    click(&browser, r#"button[name="username"][value="alice"]"#).await;
    assert_eq!(text_of(&browser, "#username").await, "alice");
    let roles = text_of(&browser, "#roles").await;
    assert!(
        roles.contains("Read-only") && !roles.contains("Read-write"),
        "the PrivX-like provider's role table: {roles}"
    );
    browser.goto(&app.url("/me")).await.expect("/me");
    let me = text_of(&browser, "body").await;
    assert!(
        me.contains("\"provider\":\"privx\""),
        "/me names the provider: {me}"
    );
    browser.goto(&app.url("/")).await.expect("back home");
    click(&browser, "#logout").await;
    // The sign-out at the provider and back ends on the signed-out page:
    // wait for it, or `/me` races the redirects.
    let button = text_of(&browser, "form.oidc-login button").await;
    assert_eq!(button, "Sign in with the embedded provider (Entra-like)");
    browser.goto(&app.url("/me")).await.expect("/me");
    let me = text_of(&browser, "body").await;
    assert!(me.contains("not_signed_in"), "/me after sign-out: {me}");

    browser.close().await.expect("the browser session ends");
    println!(
        "browser sign-in ({}) passed in {:.1} s; screenshot: {}",
        match mode {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        },
        started.elapsed().as_secs_f64(),
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_with_query_response() {
    sign_in_and_out(ResponseMode::Query).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_with_form_post_across_sites() {
    sign_in_and_out(ResponseMode::FormPost).await;
}
