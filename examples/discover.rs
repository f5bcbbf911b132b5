//! Diagnostics: what a provider supports, and whether a config fits it.
//!
//! ```sh
//! cargo run --example discover -- https://login.microsoftonline.com/<tenant>/v2.0
//! cargo run --example discover -- --config oidc.toml
//! cargo run --example discover -- --privx-client privx-client.json --redirect-uri https://app.example/auth/callback
//! ```
//!
//! Prints, in plain words, the provider's issuer, endpoints, signing
//! algorithms and which keys this crate can use for each, client
//! authentication and PKCE methods, and whether the scopes and claims the
//! config asks for are offered. With `--config`, it also checks the client
//! credentials (`Client::check_credentials`: a made-up code is redeemed, and
//! `invalid_grant` means the secret or key was accepted). Every problem is
//! one line starting with `PROBLEM` that names the config field to fix (a
//! config file that does not load: its path), followed by `because:` lines
//! for an error's causes (a refused connection, DNS, TLS); errors are shown
//! by their messages, never their `Debug` form. `note:` lines are worth a
//! look but do not stop a login (a PrivX record that maps an attribute to
//! `sub` gets a `note:` line saying that `sub` is mutable). Exits with status 1 when the config cannot
//! work, 2 for a usage error. No environment variables are read, except the
//! one a config's `client_secret_env` names. The checks are in
//! `examples/discover_check/mod.rs`, which `tests/it/discover.rs` runs too.

use std::process::ExitCode;

mod discover_check;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut report = discover_check::Report::printing();
    ExitCode::from(discover_check::diagnose(&args, &mut report).await)
}
