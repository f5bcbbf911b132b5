//! A small app using the axum integration, on a free loopback port.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use oidc_login::axum::{LoginRoutes, RequireRole, RoleName, SignedIn, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, ConfigBuilder};
use tokio::sync::Notify;
use tower_sessions::Session;
use tower_sessions::{MemoryStore, SessionStore};

use super::{config_builder, devs_are};

pub struct ReadWrite;
impl RoleName for ReadWrite {
    const ROLE: &'static str = "Read-write";
}

/// The app: `/private` needs a signed-in user (and answers its `sub`),
/// `/roles` too (and answers its roles, comma-separated), `/admin` the
/// `Read-write` role; these are added before `LoginRoutes::mount`, and
/// `/after`, like `/private`, after it. `/hold` is a slow request of a
/// signed-in session: it reads the user, tells [`App::held`], waits for
/// [`App::release`], then writes into the session (as a refresh would).
pub struct App {
    pub base: String,
    pub provider: Arc<TestProvider>,
    pub held: Arc<Notify>,
    pub release: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl App {
    pub async fn start() -> App {
        Self::start_with(
            Arc::new(TestProvider::start().await),
            MemoryStore::default(),
            |b| b,
        )
        .await
    }

    pub async fn start_with<S: SessionStore + Clone>(
        provider: Arc<TestProvider>,
        store: S,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, provider, store, configure, |client, _| {
            LoginRoutes::new(client)
        })
        .await
    }

    /// The same on a listener bound beforehand (so that its address can be
    /// registered at the provider first), with the login routes made by
    /// `routes` from the client, which also gets the session store.
    pub async fn start_on<S: SessionStore + Clone>(
        listener: tokio::net::TcpListener,
        provider: Arc<TestProvider>,
        store: S,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
        routes: impl FnOnce(Client, S) -> LoginRoutes,
    ) -> App {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let builder = config_builder(&provider)
            .redirect_uri(format!("{base}/callback"))
            .add_role_mapping(devs_are("Read-write"));
        let config = configure(builder).build().unwrap();
        let client = Client::discover(config).await.unwrap();
        let sessions = session_layer(store.clone(), &client);
        let app = Router::new()
            .route(
                "/private",
                get(|user: SignedIn| async move { user.identity.subject.clone() }),
            )
            .route(
                "/admin",
                get(|user: RequireRole<ReadWrite>| async move { user.identity.subject.clone() }),
            )
            .route(
                "/roles",
                get(|user: SignedIn| async move { user.identity.roles.join(",") }),
            );
        let (held, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (held_in, release_in) = (held.clone(), release.clone());
        let app = app.route(
            "/hold",
            get(move |user: SignedIn, session: Session| async move {
                held_in.notify_one();
                release_in.notified().await;
                session.insert("app.note", "written late").await.unwrap();
                user.identity.subject.clone()
            }),
        );
        let routes = routes(client, store);
        let app = routes
            .mount(app)
            // A route added after `mount` gets the same settings.
            .route(
                "/after",
                get(|user: SignedIn| async move { user.into_identity().subject }),
            )
            .layer(routes.layer())
            .layer(sessions);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        App {
            base,
            provider,
            held,
            release,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// How the request in flight at the sign-out was answered: a store that
/// saves the late write (`MemoryStore`, SQL stores that upsert) puts the
/// session back and sends the old cookie; `tower-sessions-redis-store`
/// fails it (`SET XX` finds no key, and the store reports Redis's nil
/// answer as an error): 500, no cookie.
#[derive(Debug, PartialEq, Eq)]
pub struct LateAnswer {
    pub status: u16,
    pub sent_the_old_cookie: bool,
}

impl LateAnswer {
    /// The session was saved again.
    pub const SAVED: Self = Self {
        status: 200,
        sent_the_old_cookie: true,
    };
}

/// Signs alice in, then signs out while a request of her session is in
/// flight (`/hold`), which writes into the session after the sign-out, as a
/// refresh or any session write would. The sign-out must stay: with the
/// browser's cookies, and with the cookie from before the sign-out sent by
/// hand.
pub async fn sign_out_with_a_request_in_flight(app: &App) -> LateAnswer {
    sign_out_on_one_with_a_request_in_flight_on_the_other(app, app).await
}

/// The same with two instances sharing the session store: the request in
/// flight is on `holding`, the sign-out on `app`; both are checked after.
pub async fn sign_out_on_one_with_a_request_in_flight_on_the_other(
    app: &App,
    holding: &App,
) -> LateAnswer {
    let (browser, jar) = super::browser_with_jar();
    let landed = super::sign_in_at(&browser, &app.url("/login"), "alice", "/private").await;
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001", "signed in");
    let signed_in = super::saved_cookies(&jar, &app.url("/"));
    let old_id = signed_in
        .to_str()
        .unwrap()
        .split(';')
        .find_map(|c| c.trim().split_once('=').map(|(_, v)| v.to_owned()))
        .unwrap();

    let hold = tokio::spawn({
        let (browser, url) = (browser.clone(), holding.url("/hold"));
        async move { browser.get(url).send().await.unwrap() }
    });
    holding.held.notified().await;
    let out = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(out.url().path(), "/", "signed out");
    holding.release.notify_one();
    let late = hold.await.unwrap();
    let late = LateAnswer {
        status: late.status().as_u16(),
        sent_the_old_cookie: late
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|cookie| cookie.to_str().unwrap().contains(&old_id)),
    };
    for app in [holding, app] {
        assert_eq!(
            super::status_with_cookie(&app.url("/private"), &signed_in).await,
            reqwest::StatusCode::UNAUTHORIZED,
            "the cookie from before the sign-out no longer signs in on {}",
            app.base
        );
        assert_eq!(
            browser
                .get(app.url("/private"))
                .send()
                .await
                .unwrap()
                .status(),
            reqwest::StatusCode::UNAUTHORIZED,
            "the browser, holding the old cookie again, is signed out on {}",
            app.base
        );
    }
    late
}
