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
//! With no `--config`, two embedded OpenID providers start on other loopback
//! ports, with different issuers: an Entra-like one (`entra`, issuer
//! `.../<tenant>/v2.0`) and a PrivX-like one (`privx`, issuer
//! `.../oidc/<provider-id>/`), each with the users `alice` (in the group
//! `d48429bd-9f2a-47a2-a410-993f2a37876b`, which the first's role table maps
//! to `Read-write` and the second's to `Read-only`) and `bob` (in no mapped
//! group: signed in with no roles). The page shows a button for each.
//!
//! Routes: `GET /` (the buttons, or who you are), `GET /login`
//! (`?provider=privx` for the second; without it, the first),
//! `GET`/`POST /callback` (the second's: `/callback/privx`), `GET /me` (JSON
//! with `"issuer"` and `"provider"`, or 401), `POST /logout`,
//! `GET /recent` (a step-up: a sign-in older than five minutes signs in
//! again, with `max_age` and `prompt=login`, and comes back),
//! `GET /metrics` (the crate's metrics, by a Prometheus exporter that only
//! the demo has: the library records through the `metrics` facade), and
//! `GET /api/me`, an API protected by the provider's access tokens
//! (`Authorization: Bearer`, audience `api://oidc-login-demo`). In
//! development mode the banner prints how to get a token for it from the
//! first embedded provider with `client_credentials` (the daemon client
//! `demo-daemon`, secret `demo-daemon-secret`) and call it with curl. A
//! `--config` file holds one provider, or several in `[[provider]]` tables
//! (see `Config::providers_from_file`). With
//! `--config`, the login routes move under the path of the config's
//! `redirect_uri` before `/callback` (`/auth/login`, `/auth/callback`,
//! `/auth/logout` for `.../auth/callback`, as in the sample TOML files);
//! `/` and `/me` stay. The demo warns at start-up when `redirect_uri` does not
//! end in `/callback` or names another port than `DEMO_ADDR`.
//!
//! A config file may have an `[accounts]` table (Axidian's console: logins
//! linked to local accounts, see `oidc_login::AccountsSettings`):
//!
//! ```toml
//! [accounts]
//! database = "accounts.sqlite"   # relative to the config file; created if missing
//!
//! [[accounts.account]]
//! id = 1
//! email = "alice@example.com"
//! ```
//!
//! Its rows are put into the database at each start (a binding is kept).
//! A login is then linked to the account with its verified email (then by
//! its `sub`), a user with no account is refused, and `GET /me` gains
//! `"account"`: the linked account's id, which the page shows too. Without
//! the table nothing changes.
//!
//! The pages are a small admin console: `/` signed out is a sign-in card with
//! the provider's button (and the break-glass form when the config has
//! `[break_glass]`); signed in, it shows the identity, the roles with the
//! role table row that maps each group, and the session (when the user
//! signed in at the provider, when the ID token expires, the session's
//! limits). They are plain HTML with one inline stylesheet, no scripts, no
//! external assets; everything from the provider is escaped. The set-up is
//! in `examples/demo_app/mod.rs`, the pages in `pages.rs` and `style.css`
//! beside it, all served by `tests/it/demo.rs` and the browser test
//! (`tests/browser.rs`) too, which takes the README's screenshots.

mod demo_app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let options = match demo_app::Options::from_env() {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let demo = match demo_app::Demo::start(&options).await {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("{}", demo_app::error_report(&*error));
            std::process::exit(1);
        }
    };
    println!("demo listening on {}", demo.url);
    for line in &demo.banner {
        println!("{line}");
    }
    axum::serve(demo.listener, demo.app).await?;
    drop(demo.provider);
    Ok(())
}
