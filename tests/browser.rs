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
//! `CARGO_TARGET_DIR` (default `target`) holds the screenshots, in
//! `browser/`.
//!
//! The app is served in-process: the demo's own pages
//! (`examples/demo_app/mod.rs`) and login routes. The browser reaches it as
//! `http://localhost:<port>` and the provider as `http://127.0.0.1:<port>`:
//! two different sites, so the `form_post` callback is a real cross-site POST
//! that arrives without the `SameSite=Lax` session cookie, as it does in
//! production.

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
    with_session_cookie: bool,
}

/// The demo app on `127.0.0.1:<random port>`, with the embedded provider,
/// reached by the browser at `http://localhost:<port>`.
struct App {
    origin: String,
    callbacks: Arc<Mutex<Vec<CallbackRequest>>>,
    _provider: TestProvider,
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
        let provider = TestProvider::start().await;
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
        let routes = match mode {
            ResponseMode::Query => LoginRoutes::new(client.clone()),
            ResponseMode::FormPost => LoginRoutes::new(client.clone()).form_post(),
        };
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let seen = callbacks.clone();
        let app = demo_app::app(routes, &client, true).layer(middleware::from_fn(
            move |request: Request, next: Next| {
                let seen = seen.clone();
                async move {
                    if request.uri().path() == "/callback" {
                        let with_session_cookie = request
                            .headers()
                            .get_all(axum::http::header::COOKIE)
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .any(|v| v.contains("oidc_login_session="));
                        seen.lock().unwrap().push(CallbackRequest {
                            method: request.method().to_string(),
                            with_session_cookie,
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
            _provider: provider,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn callbacks(&self) -> Vec<CallbackRequest> {
        self.callbacks.lock().unwrap().clone()
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir.join(name)
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
/// back on `/` signed in with her role, a screenshot, and sign out.
async fn sign_in_and_out(mode: ResponseMode, screenshot: &str) {
    let binaries = match binaries() {
        Ok(binaries) => binaries,
        Err(why) => {
            skip::skip("the browser test", &why);
            return;
        }
    };
    let _one = ONE_BROWSER.lock().await;
    let started = Instant::now();
    let app = App::start(mode).await;
    let driver = Chromedriver::start(&binaries.chromedriver).await;
    let browser = driver.browser(&binaries.chromium).await;

    browser
        .goto(&app.url("/"))
        .await
        .expect("the app's home page");
    click(&browser, "form.oidc-login button").await;

    // The embedded provider's sign-in page: a button per user.
    click(&browser, r#"button[name="username"][value="alice"]"#).await;

    assert_eq!(text_of(&browser, "#username").await, "alice");
    let roles = text_of(&browser, "#roles").await;
    assert!(roles.contains("Read-write"), "roles shown: {roles}");
    assert_eq!(current_url(&browser).await, app.url("/"));
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = screenshot_path(screenshot);
    std::fs::write(&path, &png).expect("the screenshot is written");

    let callbacks = app.callbacks();
    match mode {
        ResponseMode::Query => assert_eq!(
            callbacks,
            [CallbackRequest {
                method: "GET".into(),
                with_session_cookie: true,
            }],
            "a query callback is a top-level GET, which carries the SameSite=Lax cookie"
        ),
        ResponseMode::FormPost => assert_eq!(
            callbacks,
            [
                CallbackRequest {
                    method: "POST".into(),
                    with_session_cookie: false,
                },
                CallbackRequest {
                    method: "POST".into(),
                    with_session_cookie: true,
                },
            ],
            "the cross-site form_post arrives without the session cookie, and the app's \
             re-submit page posts it again from its own origin, with the cookie"
        ),
    }

    click(&browser, "#logout").await;
    let button = text_of(&browser, "form.oidc-login button").await;
    assert_eq!(button, "Sign in with the embedded provider");
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
    sign_in_and_out(ResponseMode::Query, "signed-in.png").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_with_form_post_across_sites() {
    sign_in_and_out(ResponseMode::FormPost, "signed-in-form-post.png").await;
}
