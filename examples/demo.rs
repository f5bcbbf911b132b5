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
//! `GET`/`POST /callback`, `GET /me` (JSON, or 401), `POST /logout`. The
//! pages are in `examples/demo_app/mod.rs`, which the browser test
//! (`tests/browser.rs`) serves too.

use std::net::SocketAddr;

use oidc_login::axum::LoginRoutes;
use oidc_login::testing::TestProvider;
use oidc_login::{Client, Config};

mod demo_app;

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
            let config = demo_app::embedded_config(&provider, format!("http://{addr}/callback"))?;
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
    let app = demo_app::app(
        LoginRoutes::new(client.clone()),
        &client,
        provider.is_some(),
    );

    println!("demo listening on http://{addr}/");
    axum::serve(listener, app).await?;
    drop(provider);
    Ok(())
}
