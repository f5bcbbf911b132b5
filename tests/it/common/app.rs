//! A small app using the axum integration, on a free loopback port.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use oidc_login::axum::{LoginRoutes, RequireRole, RoleName, SignedIn, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, ConfigBuilder, RoleMapping, Source};
use tower_sessions::{MemoryStore, SessionStore};

use super::{ALICE_GROUP, config_builder};

pub struct ReadWrite;
impl RoleName for ReadWrite {
    const ROLE: &'static str = "Read-write";
}

/// The app: `/private` needs a signed-in user (and answers its `sub`),
/// `/roles` too (and answers its roles, comma-separated), `/admin` the
/// `Read-write` role; these are added before `LoginRoutes::mount`, and
/// `/after`, like `/private`, after it.
pub struct App {
    pub base: String,
    pub provider: Arc<TestProvider>,
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
        Self::start_on(listener, provider, store, configure, |routes, _| routes).await
    }

    /// The same on a listener bound beforehand (so that its address can be
    /// registered at the provider first), with the login routes shaped by
    /// `routes`, which also gets the session store.
    pub async fn start_on<S: SessionStore + Clone>(
        listener: tokio::net::TcpListener,
        provider: Arc<TestProvider>,
        store: S,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
        routes: impl FnOnce(LoginRoutes, S) -> LoginRoutes,
    ) -> App {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let builder = config_builder(&provider)
            .redirect_uri(format!("{base}/callback"))
            .add_role_mapping(RoleMapping::new(
                "devs",
                Source::OpenIdConnect,
                ALICE_GROUP,
                ["Read-write"],
            ));
        let config = configure(builder).build().unwrap();
        let client = Client::discover(config).await.unwrap();
        let sessions = session_layer(store.clone(), &client);
        let app = Router::new()
            .route(
                "/private",
                get(|user: SignedIn| async move { user.identity.subject }),
            )
            .route(
                "/admin",
                get(|user: RequireRole<ReadWrite>| async move { user.identity.subject }),
            )
            .route(
                "/roles",
                get(|user: SignedIn| async move { user.identity.roles.join(",") }),
            );
        let routes = routes(LoginRoutes::new(client), store);
        let app = routes
            .mount(app)
            // A route added after `mount` gets the same settings.
            .route(
                "/after",
                get(|user: SignedIn| async move { user.identity.subject }),
            )
            .layer(routes.layer())
            .layer(sessions);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        App {
            base,
            provider,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
