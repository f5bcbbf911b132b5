//! The demo: a web app with a "Sign in" button.
//!
//! ```sh
//! cargo run --example demo                          # with the embedded provider (development mode)
//! cargo run --example demo -- --config oidc.toml    # with the provider described in oidc.toml
//! ```
//!
//! Environment: `DEMO_ADDR` sets the address to listen on (default
//! `127.0.0.1:8080`; port 0 picks a free one). `RUST_LOG` sets the log level
//! (default `info`).
//!
//! With no `--config`, the embedded OpenID provider starts on another
//! loopback port with the users `alice` (in the group
//! `d48429bd-9f2a-47a2-a410-993f2a37876b`, which the demo's role table maps to
//! `Read-write`) and `bob` (in no mapped group: signed in with no roles).
//!
//! Routes: `GET /` (the button, or who you are), `GET /login`,
//! `GET`/`POST /callback`, `GET /me` (JSON, or 401), `POST /logout`.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use html_escape::encode_text as escape;
use oidc_login::axum::{LoginRoutes, MaybeSignedIn, login_button, session_layer};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, ClientAuth, Config, RoleMapping, Source};
use tower_sessions::MemoryStore;

const DEMO_GROUP: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

#[derive(Clone)]
struct Page {
    button: String,
    development: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, provider) = match args.as_slice() {
        [flag, path] if flag == "--config" => (Config::from_file(path)?, None),
        [] => {
            let provider = TestProvider::start().await;
            let config = Config::builder(provider.issuer(), TestProvider::DEFAULT_CLIENT_ID)
                .client_auth(ClientAuth::secret_basic(
                    TestProvider::DEFAULT_CLIENT_SECRET,
                ))
                .redirect_uri(format!("http://{addr}/callback"))
                .login_button_text("Sign in with the embedded provider")
                .add_role_mapping(RoleMapping::new(
                    "Maximus Conferencing Developers",
                    Source::OpenIdConnect,
                    DEMO_GROUP,
                    ["Read-write"],
                ))
                .build()?;
            (config, Some(provider))
        }
        _ => return Err("usage: demo [--config FILE]".into()),
    };
    if let Some(provider) = &provider {
        tracing::warn!(
            issuer = provider.issuer(),
            "DEVELOPMENT MODE: signing in through the embedded test provider, which lets anyone sign in as alice or bob"
        );
    }

    let client = Client::discover(config).await?;
    let page = Page {
        button: login_button(client.config().login_button_text(), "/login"),
        development: provider.is_some(),
    };
    let sessions = session_layer(MemoryStore::default(), &client);
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .with_state(page);
    let app = LoginRoutes::new(client).mount(app).layer(sessions);

    println!("demo listening on http://{addr}/");
    axum::serve(listener, app).await?;
    drop(provider);
    Ok(())
}

async fn home(
    axum::extract::State(page): axum::extract::State<Page>,
    MaybeSignedIn(user): MaybeSignedIn,
) -> Html<String> {
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
