//! Diagnostics: what a provider supports, and whether a config fits it.
//!
//! ```sh
//! cargo run --example discover -- https://login.microsoftonline.com/<tenant>/v2.0
//! cargo run --example discover -- --config oidc.toml
//! ```
//!
//! Prints, in plain words, the provider's issuer, endpoints, signing
//! algorithms and usable keys, client authentication and PKCE methods, and
//! whether the scopes and claims the config asks for are offered. Every
//! problem is one line starting with `PROBLEM` that names the field to fix.
//! Exits with status 1 when the config cannot work. No environment variables
//! are read, except the one a config's `client_secret_env` names.

use std::process::ExitCode;

use oidc_login::{Client, Config};
use serde_json::Value;

struct Report {
    problems: usize,
}

impl Report {
    fn fact(&self, text: impl AsRef<str>) {
        println!("  {}", text.as_ref());
    }
    fn warn(&self, text: impl AsRef<str>) {
        println!("  note: {}", text.as_ref());
    }
    fn problem(&mut self, field: &str, text: impl AsRef<str>) {
        self.problems += 1;
        println!("PROBLEM `{field}`: {}", text.as_ref());
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, from_file) = match args.as_slice() {
        [flag, path] if flag == "--config" => match Config::from_file(path) {
            Ok(config) => (config, true),
            Err(error) => {
                println!("PROBLEM {error}");
                return ExitCode::FAILURE;
            }
        },
        [url] if !url.starts_with('-') => {
            match Config::builder(url.as_str(), "diagnostics")
                .redirect_uri("http://127.0.0.1/callback")
                .build()
            {
                Ok(config) => (config, false),
                Err(error) => {
                    println!("PROBLEM {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("usage: discover <metadata-url or issuer> | discover --config FILE");
            return ExitCode::from(2);
        }
    };
    let mut report = Report { problems: 0 };
    match run(&config, from_file, &mut report).await {
        Ok(()) if report.problems == 0 => {
            println!("\nOK: this config can sign users in with this provider.");
            ExitCode::SUCCESS
        }
        Ok(()) => {
            println!(
                "\n{} problem(s): this config cannot work as it is.",
                report.problems
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            println!("PROBLEM {error}");
            ExitCode::FAILURE
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("`{url}` could not be fetched: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("`{url}` answered HTTP {status}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("`{url}` is not JSON: {e}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn run(config: &Config, from_file: bool, report: &mut Report) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.http_timeout())
        .build()
        .map_err(|e| e.to_string())?;

    println!("Metadata: {}", config.metadata_url());
    let metadata = get_json(&http, config.metadata_url().as_str()).await?;

    println!("\nIssuer");
    let issuer = metadata["issuer"].as_str().unwrap_or_default();
    report.fact(format!("published:  {issuer}"));
    report.fact(format!("configured: {}", config.issuer()));
    if issuer.contains("{tenantid}") {
        report.warn("a multi-tenant issuer template (Entra `common`/`organizations`): pin one tenant's metadata URL");
    }
    if issuer != config.issuer() {
        let how = if issuer.trim_end_matches('/') == config.issuer().trim_end_matches('/') {
            " (only a trailing `/` differs)"
        } else {
            ""
        };
        report.problem(
            "metadata_url",
            format!("the issuer must be exactly `{issuer}`{how}; set `metadata_url` to it"),
        );
    }

    println!("\nEndpoints");
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        match metadata[field].as_str() {
            Some(url) => {
                let secure = url.starts_with("https://")
                    || ["http://127.", "http://localhost", "http://[::1]"]
                        .iter()
                        .any(|p| url.starts_with(p));
                report.fact(format!("{field}: {url}"));
                if !secure {
                    report.problem(
                        "metadata_url",
                        format!("the provider's `{field}` is not https: {url}"),
                    );
                }
            }
            None if matches!(
                field,
                "authorization_endpoint" | "token_endpoint" | "jwks_uri"
            ) =>
            {
                report.problem(
                    "metadata_url",
                    format!("the provider's metadata has no `{field}`"),
                );
            }
            None => report.fact(format!("{field}: not offered")),
        }
    }

    println!("\nSigning");
    let algorithms = strings(&metadata["id_token_signing_alg_values_supported"]);
    report.fact(format!(
        "ID token algorithms offered: {}",
        algorithms.join(", ")
    ));
    if let Some(allowed) = config.allowed_algorithms()
        && !allowed
            .iter()
            .any(|a| algorithms.iter().any(|o| o == a.as_str()))
    {
        report.problem(
            "allowed_algorithms",
            "none of them is offered by the provider",
        );
    }
    if let Some(jwks_uri) = metadata["jwks_uri"].as_str() {
        let jwks = get_json(&http, jwks_uri).await?;
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        for key in &keys {
            let text = |name: &str| key[name].as_str().unwrap_or("-").to_owned();
            report.fact(format!(
                "key kid={} kty={} alg={} crv={} use={}",
                text("kid"),
                text("kty"),
                text("alg"),
                text("crv"),
                text("use")
            ));
        }
        if keys.is_empty() {
            report.problem("metadata_url", "the provider's JWKS holds no keys");
        }
    }

    println!("\nClient authentication and PKCE");
    let methods = strings(&metadata["token_endpoint_auth_methods_supported"]);
    report.fact(format!(
        "token endpoint auth methods: {}",
        if methods.is_empty() {
            "not listed (client_secret_basic by default)".into()
        } else {
            methods.join(", ")
        }
    ));
    let ours = config.client_auth().method().as_str();
    if from_file && !methods.is_empty() && !methods.iter().any(|m| m == ours) {
        report.problem(
            "auth_method",
            format!("`{ours}` is not among the provider's methods"),
        );
    }
    let pkce = strings(&metadata["code_challenge_methods_supported"]);
    report.fact(format!(
        "PKCE methods: {}",
        if pkce.is_empty() {
            "not listed".into()
        } else {
            pkce.join(", ")
        }
    ));
    if config.flow() == oidc_login::Flow::AuthorizationCodePkce
        && !pkce.is_empty()
        && !pkce.iter().any(|m| m == "S256")
    {
        report.warn(
            "PKCE S256 is not listed; it is sent anyway (`flow = \"authorization_code\"` leaves it out, for a provider that refuses it)",
        );
    }

    println!("\nScopes and claims");
    let scopes = strings(&metadata["scopes_supported"]);
    let claims = strings(&metadata["claims_supported"]);
    if !scopes.is_empty() {
        for scope in config.scopes() {
            if !scopes.contains(scope) {
                report.warn(format!(
                    "scope `{scope}` is not in `scopes_supported` (providers often under-list)"
                ));
            }
        }
    }
    if !claims.is_empty() {
        for (field, claim) in [
            ("username_claim", config.username_claim()),
            ("email_claim", config.email_claim()),
            ("groups_claim", config.groups_claim()),
        ] {
            let top = claim.split('.').next().unwrap_or(claim);
            if !claims.iter().any(|c| c == top) {
                report.warn(format!(
                    "`{field}` = `{claim}` is not in `claims_supported`"
                ));
            }
        }
    }
    report.fact(format!(
        "RFC 9207 `iss` in callbacks: {}",
        metadata["authorization_response_iss_parameter_supported"] == Value::Bool(true)
    ));

    println!("\nThe crate's own checks");
    match Client::discover(config.clone()).await {
        Ok(client) => report.fact(format!(
            "discovery passes; ID tokens accepted with: {}",
            client
                .signing_algorithms()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(error) => report.problem("metadata_url", error.to_string()),
    }
    if !from_file {
        report.warn(
            "no config given: client id, secret and claims were not checked (use --config FILE)",
        );
    }
    Ok(())
}
