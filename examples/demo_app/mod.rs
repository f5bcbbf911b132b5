//! The demo's own pages and wiring, shared by `examples/demo.rs` and the
//! browser test (`tests/browser.rs`), so that the test drives the very app
//! the demo serves.
//!
//! Routes: `GET /` (the button, or who you are) and `GET /me` (JSON, or 401),
//! plus the login routes of [`LoginRoutes`].

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use html_escape::encode_text as escape;
use oidc_login::axum::{LoginRoutes, MaybeSignedIn, login_button, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, ClientAuth, Config, ConfigError, RoleMapping, Source};
use tower_sessions::MemoryStore;

/// The group of `alice` at the embedded provider, which the demo's role
/// table maps to `Read-write`.
pub const DEMO_GROUP: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

/// The demo's config for the embedded provider's default client, with the
/// app's callback at `redirect_uri`.
pub fn embedded_config(
    provider: &TestProvider,
    redirect_uri: impl Into<String>,
) -> Result<Config, ConfigError> {
    Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID)
        .client_auth(ClientAuth::secret_basic(
            TestProvider::DEFAULT_CLIENT_SECRET,
        ))
        .redirect_uri(redirect_uri)
        .login_button_text("Sign in with the embedded provider")
        .add_role_mapping(RoleMapping::new(
            "Maximus Conferencing Developers",
            Source::OpenIdConnect,
            DEMO_GROUP,
            ["Read-write"],
        ))
        .build()
}

/// The whole app: the demo's pages, `routes` (built on `client`), and
/// sessions in memory. `development` shows the embedded-provider banner.
pub fn app(routes: LoginRoutes, client: &Client, development: bool) -> Router {
    let page = Page {
        button: login_button(client.config().login_button_text(), &routes.login_path()),
        development,
    };
    let sessions = session_layer(MemoryStore::default(), client);
    let pages = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .with_state(page);
    routes.mount(pages).layer(sessions)
}

#[derive(Clone)]
struct Page {
    button: String,
    development: bool,
}

async fn home(State(page): State<Page>, MaybeSignedIn(user): MaybeSignedIn) -> Html<String> {
    let banner = if page.development {
        "<p class=\"banner\" style=\"background:#fff3cd;padding:.5rem\"><strong>Development mode:</strong> \
         the embedded test provider is in use; anyone can sign in as <code>alice</code> or <code>bob</code>.</p>"
    } else {
        ""
    };
    let body = match user {
        None => format!("<p>You are signed out.</p>{}", page.button),
        Some(id) => {
            let list = |items: &[String]| {
                if items.is_empty() {
                    "<em>none</em>".to_owned()
                } else {
                    items
                        .iter()
                        .map(|i| format!("<code>{}</code>", escape(i)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            format!(
                "<p>Signed in as <strong id=\"username\">{}</strong> (<span id=\"email\">{}</span>).</p>\
                 <p>Groups: <span id=\"groups\">{}</span></p><p>Roles: <span id=\"roles\">{}</span></p>\
                 <form method=\"post\" action=\"/logout\"><button type=\"submit\" id=\"logout\">Sign out</button></form>",
                escape(id.username.as_deref().unwrap_or(&id.subject)),
                escape(id.email.as_deref().unwrap_or("no email")),
                list(&id.groups),
                list(&id.roles),
            )
        }
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>oidc-login demo</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto\">\
         <h1>oidc-login demo</h1>{banner}{body}</body></html>"
    ))
}

async fn me(MaybeSignedIn(user): MaybeSignedIn) -> Response {
    match user {
        Some(id) => axum::Json(serde_json::json!({
            "issuer": id.issuer,
            "subject": id.subject,
            "username": id.username,
            "email": id.email,
            "groups": id.groups,
            "roles": id.roles,
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "not_signed_in"})),
        )
            .into_response(),
    }
}
