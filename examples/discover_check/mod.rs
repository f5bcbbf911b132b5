//! The checks of `examples/discover.rs`, in a module that the test
//! (`tests/it/discover.rs`) includes too, so that it checks the very code the
//! example runs.

#![allow(dead_code)] // the example and the test use different parts

use base64::Engine as _;
use oidc_login::{Algorithm, Client, Config, ConfigError, CredentialCheck, DiscoveryError, Error};
use serde_json::Value;
use url::{Host, Url};

/// How to call the example.
pub const USAGE: &str = "usage: discover <metadata-url or issuer> | discover --config FILE | discover --privx-client FILE.json [--redirect-uri URI]";

/// What the checks found: the lines, in order, and how many are problems.
#[derive(Debug, Default)]
pub struct Report {
    /// Every line, as printed.
    pub lines: Vec<String>,
    /// How many lines are `PROBLEM` lines.
    pub problems: usize,
    print: bool,
}

impl Report {
    /// A report that also prints each line as it comes.
    pub fn printing() -> Self {
        Self {
            print: true,
            ..Self::default()
        }
    }

    /// The `PROBLEM` lines.
    pub fn problem_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("PROBLEM"))
            .collect()
    }

    fn line(&mut self, text: String) {
        if self.print {
            println!("{text}");
        }
        self.lines.push(text);
    }
    fn heading(&mut self, text: &str) {
        self.line(format!("\n{text}"));
    }
    fn fact(&mut self, text: impl AsRef<str>) {
        self.line(format!("  {}", text.as_ref()));
    }
    fn note(&mut self, text: impl AsRef<str>) {
        self.line(format!("  note: {}", text.as_ref()));
    }
    /// One problem, naming the config `field` to fix.
    fn problem(&mut self, field: &str, text: impl AsRef<str>) {
        self.problems += 1;
        self.line(format!("PROBLEM `{field}`: {}", text.as_ref()));
    }
    /// One problem: `text`, then `causes` on `because:` lines.
    fn problem_lines_of(&mut self, field: &str, text: &str, causes: Vec<String>) {
        self.problem(field, text);
        for cause in causes {
            self.line(format!("    because: {cause}"));
        }
    }
    /// One problem that is an error: its message on the `PROBLEM` line,
    /// then a `because:` line for each cause (a refused connection, a DNS
    /// or TLS failure under the crate's HTTP error).
    fn problem_error(&mut self, field: &str, error: &dyn std::error::Error) {
        let mut lines = error_lines(error).into_iter();
        self.problem(field, lines.next().unwrap_or_default());
        for cause in lines {
            self.line(format!("    because: {cause}"));
        }
    }
}

/// An error's message, then each of its causes: their `Display` forms,
/// never `Debug`.
pub fn error_lines(error: &dyn std::error::Error) -> Vec<String> {
    let mut lines = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        lines.push(cause.to_string());
        source = cause.source();
    }
    lines
}

/// Runs the checks for the command-line `args`; the exit status: 0 when the
/// config can work, 1 when it cannot, 2 for a usage error.
pub async fn diagnose(args: &[String], report: &mut Report) -> u8 {
    let (config, from_file) = match args {
        [flag, path] if flag == "--config" => match Config::from_file(path) {
            Ok(config) => (config, true),
            Err(error) => {
                report.problem_error(path, &error);
                return 1;
            }
        },
        [flag, path, rest @ ..] if flag == "--privx-client" => {
            let redirect_uri = match rest {
                [] => None,
                [flag, uri] if flag == "--redirect-uri" => Some(uri.as_str()),
                _ => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            };
            match privx_config(path, redirect_uri) {
                Ok(config) => (config, true),
                Err(error) => {
                    report.problem_error(path, &*error);
                    return 1;
                }
            }
        }
        [url] if !url.starts_with('-') => {
            match Config::builder(url.as_str(), "diagnostics")
                .redirect_uri("http://127.0.0.1/callback")
                .build()
            {
                Ok(config) => (config, false),
                Err(error) => {
                    report.problem_error("metadata_url", &error);
                    return 1;
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    run(&config, from_file, report).await;
    if report.problems == 0 {
        report.line("\nOK: this config can sign users in with this provider.".into());
        0
    } else {
        report.line(format!(
            "\n{} problem(s): this config cannot work as it is.",
            report.problems
        ));
        1
    }
}

/// A config from PrivX's `identity_provider_client` JSON in `path`, with
/// the app's `redirect_uri` when given (needed when PrivX allows several).
fn privx_config(
    path: &str,
    redirect_uri: Option<&str>,
) -> Result<Config, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut builder = Config::from_privx_client_json(&text)?;
    if let Some(uri) = redirect_uri {
        builder = builder.redirect_uri(uri);
    }
    Ok(builder.build()?)
}

/// Whether `url` is plain http on a loopback host (`127.0.0.0/8`, `::1`,
/// `localhost`), where https is not needed. The host is parsed:
/// `http://localhost.evil.example` and `http://127.0.0.1.evil.example` are
/// not loopback.
pub fn is_loopback_http(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

fn is_secure(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| u.scheme() == "https") || is_loopback_http(url)
}

/// Why this crate cannot check ID token signatures with the JWKS entry
/// `key`, or `None` when it can: RSA of 2048 bits or more, EC on P-256,
/// P-384 or P-521, OKP Ed25519; `use`, when present, `sig`.
pub fn unusable_reason(key: &Value) -> Option<String> {
    if let Some(usage) = key.get("use")
        && usage.as_str() != Some("sig")
    {
        return Some(format!("`use` is {usage}, not \"sig\""));
    }
    let curve = key["crv"].as_str().unwrap_or("-");
    match key["kty"].as_str() {
        Some("RSA") => match rsa_bits(key) {
            None => Some("an RSA key without a readable modulus `n`".into()),
            Some(bits) if bits < 2048 => Some(format!("an RSA key of {bits} bits, under 2048")),
            Some(_) => None,
        },
        Some("EC") if matches!(curve, "P-256" | "P-384" | "P-521") => None,
        Some("EC") => Some(format!("an EC key on curve `{curve}`, not P-256/384/521")),
        Some("OKP") if curve == "Ed25519" => None,
        Some("OKP") => Some(format!("an OKP key on curve `{curve}`, not Ed25519")),
        Some("oct") => Some("a symmetric key, which is never taken from a JWKS".into()),
        Some(other) => Some(format!("key type `{other}` is not supported")),
        None => Some("no `kty`".into()),
    }
}

fn rsa_bits(key: &Value) -> Option<usize> {
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["n"].as_str()?.trim_end_matches('='))
        .ok()?;
    let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
    let first = *n.first()?;
    Some((n.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Whether the usable `key` can check a signature made with `alg`.
pub fn key_fits(key: &Value, alg: Algorithm) -> bool {
    if key["alg"].as_str().is_some_and(|a| a != alg.as_str()) {
        return false;
    }
    let (kty, crv) = (key["kty"].as_str(), key["crv"].as_str());
    match alg.as_str() {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => kty == Some("RSA"),
        "ES256" => kty == Some("EC") && crv == Some("P-256"),
        "ES384" => kty == Some("EC") && crv == Some("P-384"),
        "ES512" => kty == Some("EC") && crv == Some("P-521"),
        "EdDSA" => kty == Some("OKP") && crv == Some("Ed25519"),
        _ => false,
    }
}

/// The config field to fix for an error of [`Client::discover`] or
/// [`Client::check_credentials`].
fn field_of(error: &Error) -> &'static str {
    match error {
        Error::Discovery(DiscoveryError::TenantTemplateWithoutPolicy { .. }) => "entra",
        Error::Discovery(DiscoveryError::EntraSetting { setting, .. }) => setting,
        Error::Config(ConfigError::Invalid { field, .. } | ConfigError::Missing { field }) => field,
        _ => "metadata_url",
    }
}

/// A provider document, read again for the details the crate does not
/// expose. A failure here is reported in the crate's words by the caller
/// when [`Client::discover`] failed on it too; otherwise (the provider
/// answered discovery but not this second request) by the error's own
/// message and causes.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, Vec<String>> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| error_lines(&e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(vec![format!(
            "the provider answered HTTP {}",
            status.as_u16()
        )]);
    }
    response
        .json()
        .await
        .map_err(|e| error_lines(&e.without_url()))
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

/// The checks. The crate's own discovery runs first: when it cannot reach
/// the provider, its error (what was fetched, why it failed, the causes)
/// is the one problem reported.
async fn run(config: &Config, from_file: bool, report: &mut Report) {
    report.line(format!("Metadata: {}", config.metadata_url()));
    if let Some(attribute) = config.mutable_subject() {
        report.note(format!(
            "mutable `sub`: the provider fills `sub` from the attribute `{attribute}` (`oidc_attribute_mapping`), which can change; account linking keyed on `sub` is refused unless the app calls `AccountLinker::accept_mutable_sub()`"
        ));
    }
    // One attempt: a diagnosis answers now, where an app at start-up would
    // wait `discovery_retry_seconds` for its provider.
    let discovered = Client::discover_once(config.clone()).await;
    if let Err(error @ Error::Http(_)) = &discovered {
        report.problem_error("metadata_url", error);
        return;
    }
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.limits().http_timeout)
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            report.problem_error("metadata_url", &error);
            return;
        }
    };
    let metadata = match get_json(&http, config.metadata_url().as_str()).await {
        Ok(metadata) => metadata,
        Err(why) => {
            match &discovered {
                Err(error) => report.problem_error(field_of(error), error),
                Ok(_) => report.problem_lines_of(
                    "metadata_url",
                    "the provider's metadata answered discovery, but not a second request",
                    why,
                ),
            }
            return;
        }
    };

    report.heading("Issuer");
    let issuer = metadata["issuer"].as_str().unwrap_or_default();
    report.fact(format!("published:  {issuer}"));
    report.fact(format!("configured: {}", config.issuer()));
    if issuer.contains("{tenantid}") {
        report.note("a multi-tenant issuer template (Entra `common`/`organizations`): pin one tenant's metadata URL, or say which tenants may sign in (`allowed_tenants`)");
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

    report.heading("Endpoints");
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        match metadata[field].as_str() {
            Some(url) => {
                report.fact(format!("{field}: {url}"));
                if !is_secure(url) {
                    report.problem(
                        "metadata_url",
                        format!(
                            "the provider's `{field}` is not https (plain http only on a loopback host): {url}"
                        ),
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

    signing(config, &metadata, &http, &discovered, report).await;

    report.heading("Client authentication and PKCE");
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
    if from_file {
        if !methods.is_empty() && !methods.iter().any(|m| m == ours) {
            report.problem(
                "auth_method",
                format!(
                    "`{ours}` is not among the provider's methods; pick one of: {}",
                    methods.join(", ")
                ),
            );
        } else if methods.is_empty() && ours != "client_secret_basic" {
            report.note(format!(
                "`auth_method` = `{ours}`, but the provider lists no methods, which means only `client_secret_basic`"
            ));
        }
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
        report.note(
            "PKCE S256 is not listed; it is sent anyway (`flow = \"authorization_code\"` leaves it out, for a provider that refuses it)",
        );
    }

    report.heading("Scopes and claims");
    let scopes = strings(&metadata["scopes_supported"]);
    let claims = strings(&metadata["claims_supported"]);
    if scopes.is_empty() {
        report.fact("scopes: not listed");
    } else {
        report.fact(format!("scopes offered: {}", scopes.join(", ")));
        for scope in config.scopes() {
            if scopes.contains(scope) {
                continue;
            }
            if scope == "openid" {
                report.problem(
                    "metadata_url",
                    "the provider does not offer the `openid` scope: is this an OpenID Connect provider's metadata?",
                );
            } else {
                report.note(format!(
                    "`scopes`: `{scope}` is not in `scopes_supported` (providers often leave scopes out of the list; a login will tell)"
                ));
            }
        }
    }
    if !claims.is_empty() {
        for (field, claim) in [
            ("username_claim", config.claims().username.as_str()),
            ("email_claim", config.claims().email.as_str()),
            ("groups_claim", config.claims().groups.as_str()),
        ] {
            let top = claim.split('.').next().unwrap_or(claim);
            if !claims.iter().any(|c| c == top) {
                report.note(format!(
                    "`{field}` = `{claim}` is not in `claims_supported`"
                ));
            }
        }
    }
    report.fact(format!(
        "RFC 9207 `iss` in callbacks: {}",
        metadata["authorization_response_iss_parameter_supported"] == Value::Bool(true)
    ));

    report.heading("The crate's own checks");
    let client = match discovered {
        Ok(client) => {
            report.fact(format!(
                "discovery passes; ID tokens accepted with: {}",
                client
                    .signing_algorithms()
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            match client.entra() {
                Some(entra) => {
                    report.fact(format!("provider: {entra}"));
                    if entra.version == oidc_login::EntraVersion::V1 {
                        report.problem(
                            "metadata_url",
                            "this is Entra ID's version 1.0 metadata, whose ID tokens are refused: use the URL ending in `/v2.0/.well-known/openid-configuration`",
                        );
                    }
                }
                None => report
                    .fact("provider: not Microsoft Entra ID (a generic OpenID Connect provider)"),
            }
            client
        }
        Err(error) => {
            report.problem_error(field_of(&error), &error);
            return;
        }
    };
    if from_file {
        credentials(&client, report).await;
    } else {
        report.note(
            "no config given: client id, secret and claims were not checked (use --config FILE)",
        );
    }
}

/// Whether the token endpoint accepts the client's credentials: a made-up
/// code is redeemed; `invalid_grant` means they passed.
async fn credentials(client: &Client, report: &mut Report) {
    report.heading("Client credentials");
    match client.check_credentials().await {
        Ok(check @ CredentialCheck::Refused { .. }) => {
            report.problem(check.field().unwrap_or("auth_method"), check.to_string());
        }
        Ok(check @ (CredentialCheck::Accepted | CredentialCheck::NoCredentials)) => {
            report.fact(check.to_string());
        }
        Ok(check) => report.note(check.to_string()),
        Err(error) => report.problem_error(field_of(&error), &error),
    }
}

/// The algorithms offered and accepted, the keys, and whether each
/// accepted algorithm has a usable key.
async fn signing(
    config: &Config,
    metadata: &Value,
    http: &reqwest::Client,
    discovered: &Result<Client, Error>,
    report: &mut Report,
) {
    report.heading("Signing");
    let offered = strings(&metadata["id_token_signing_alg_values_supported"]);
    report.fact(format!(
        "ID token algorithms offered: {}",
        offered.join(", ")
    ));
    let allowed: Vec<Algorithm> = match config.key_set().allowed_algorithms.as_deref() {
        Some(allowed) => allowed.to_vec(),
        None => Algorithm::ASYMMETRIC.to_vec(),
    };
    let accepted: Vec<Algorithm> = offered
        .iter()
        .filter_map(|name| name.parse::<Algorithm>().ok())
        .filter(|alg| allowed.contains(alg))
        .collect();
    if accepted.is_empty() {
        report.problem(
            "allowed_algorithms",
            format!(
                "none of the offered algorithms is accepted (accepted: {})",
                allowed
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let Some(jwks_uri) = metadata["jwks_uri"].as_str() else {
        return;
    };
    let jwks = match get_json(http, jwks_uri).await {
        Ok(jwks) => jwks,
        // Discovery fetched the keys and failed on them: its error, in the
        // crate's words, closes the report.
        Err(_)
            if matches!(
                discovered,
                Err(Error::Discovery(DiscoveryError::InvalidDocument {
                    document: "JWKS",
                    ..
                }))
            ) =>
        {
            return;
        }
        Err(why) => {
            report.problem_lines_of(
                "metadata_url",
                &format!("the provider's keys at `{jwks_uri}` could not be read"),
                why,
            );
            return;
        }
    };
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let mut usable = Vec::new();
    for key in &keys {
        let text = |name: &str| key[name].as_str().unwrap_or("-").to_owned();
        let verdict = match unusable_reason(key) {
            None => {
                usable.push(key);
                "usable".to_owned()
            }
            Some(why) => format!("NOT usable: {why}"),
        };
        report.fact(format!(
            "key kid={} kty={} alg={} crv={} use={}: {verdict}",
            text("kid"),
            text("kty"),
            text("alg"),
            text("crv"),
            text("use")
        ));
    }
    if keys.is_empty() {
        report.problem("metadata_url", "the provider's JWKS holds no keys");
        return;
    }
    let mut covered = 0;
    for alg in accepted.iter().filter(|a| !a.as_str().starts_with("HS")) {
        let kids: Vec<&str> = usable
            .iter()
            .filter(|key| key_fits(key, *alg))
            .map(|key| key["kid"].as_str().unwrap_or("(no kid)"))
            .collect();
        if kids.is_empty() {
            report.note(format!(
                "{alg}: no usable key in the JWKS; an ID token signed with it would be refused",
                alg = alg.as_str()
            ));
        } else {
            covered += 1;
            report.fact(format!(
                "{}: usable key(s) {}",
                alg.as_str(),
                kids.join(", ")
            ));
        }
    }
    let asymmetric = accepted.iter().any(|a| !a.as_str().starts_with("HS"));
    if asymmetric && covered == 0 {
        report.problem(
            "allowed_algorithms",
            "no accepted algorithm has a usable key in the provider's JWKS: every ID token would be refused",
        );
    }
}
