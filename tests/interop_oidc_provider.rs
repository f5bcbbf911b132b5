//! Interop with a real third-party OpenID provider: panva's
//! [`oidc-provider`](https://github.com/panva/node-oidc-provider) (Node.js),
//! certified by the OpenID Foundation, configured by
//! `tests/interop/provider.mjs`.
//!
//! ```sh
//! npm ci --prefix tests/interop      # once; the test does it when node_modules is missing
//! cargo test --test interop_oidc_provider
//! ```
//!
//! Needs `node` (and `npm` for the first run) on the `PATH`; without `node`
//! every test here prints `SKIP` (to stderr, shown by plain `cargo test`) and
//! passes, unless `OIDC_LOGIN_REQUIRE_ALL=1` (set by `.ci/run`), which makes
//! it fail. The provider listens on a free
//! port of 127.0.0.1 and is killed when the test ends.
//!
//! Each login goes through the crate's public API only: `Client::discover`,
//! `Client::start`, a browser stand-in (reqwest with a cookie store) that
//! follows the provider's redirects through its interaction and stops at our
//! redirect URI, `Callback::from_query` and `Client::finish`. oidc-provider
//! puts scope claims in userinfo only, not in the ID token, so these logins
//! also cover the userinfo path.
//!
//! Every token endpoint authentication method is covered: `client_secret_basic`,
//! `client_secret_post`, `none` (PKCE alone), `client_secret_jwt` and
//! `private_key_jwt` (keys from `tests/fixtures/keys/`, RSA and EC).
//!
//! For APIs: oidc-provider's JWT access tokens (RFC 9068) for a resource
//! indicator (RFC 8707), from a daemon's `client_credentials` grant, checked
//! by `Api`; and token revocation (RFC 7009) with `Client::revoke`, after
//! which the refresh token is refused.
//!
//! A step-up login (`acr_values`, `max_age`, `prompt=login`) is checked against
//! what oidc-provider answers.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[path = "support/skip.rs"]
mod skip;

use oidc_login::{
    Algorithm, Callback, Client, ClientAuth, Config, ConfigBuilder, Login, NoRolePolicy,
    PrivateKeyJwt, RoleMapping, Source, Start, StepUp, TokenError,
};

/// Where the provider sends the browser back. Nothing listens there: the
/// browser stand-in stops before following that redirect.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// alice's group at the provider, mapped to `Read-write`.
const DEMO_GROUP: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";
const ALGORITHMS: [&str; 3] = ["rs256", "es256", "ps256"];

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Whether `node` runs; says why not (or fails under `OIDC_LOGIN_REQUIRE_ALL`).
fn node_available() -> bool {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            skip::skip(
                "the interop test",
                "`node` is not on the PATH (install Node.js 20 or later to run it)",
            );
            false
        }
    }
}

/// `npm ci --prefix tests/interop`, once per test run, and only when
/// `node_modules` lacks oidc-provider.
fn install_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = interop_dir();
        if dir
            .join("node_modules/oidc-provider/package.json")
            .is_file()
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| panic!("`npm ci --prefix {}` did not start: {e}", dir.display()));
        assert!(
            status.success(),
            "`npm ci --prefix {}` failed: {status}",
            dir.display()
        );
    });
}

/// `node tests/interop/provider.mjs`, killed on drop. Its stderr is kept and
/// printed when the test fails.
struct NodeProvider {
    child: Child,
    issuer: String,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl NodeProvider {
    async fn start() -> Self {
        install_provider();
        let mut child = Command::new("node")
            .arg(interop_dir().join("provider.mjs"))
            .env("INTEROP_PORT", "0")
            .env("INTEROP_REDIRECT_URI", REDIRECT_URI)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`node tests/interop/provider.mjs` starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = err.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        // The first JSON line on stdout names the issuer.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(issuer) = v["issuer"].as_str()
                {
                    let _ = tx.send(issuer.to_owned());
                }
            }
        });
        let mut provider = Self {
            child,
            issuer: String::new(),
            stderr,
            http: reqwest::Client::new(),
        };
        provider.issuer =
            tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
                .await
                .unwrap()
                .unwrap_or_else(|_| {
                    panic!(
                        "tests/interop/provider.mjs printed no issuer within 20 s; its stderr:\n{}",
                        provider.stderr.lock().unwrap()
                    )
                });
        provider
    }

    /// New signing keys; returns their `kid`s.
    async fn rotate_keys(&self) -> Vec<String> {
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/__rotate", self.issuer))
            .send()
            .await
            .expect("POST /__rotate")
            .error_for_status()
            .expect("POST /__rotate succeeds")
            .json()
            .await
            .expect("/__rotate answers JSON");
        answer["kids"]
            .as_array()
            .expect("/__rotate lists the new kids")
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    }

    /// Replaces a user's groups at the provider.
    async fn set_groups(&self, sub: &str, groups: &[&str]) {
        self.http
            .post(format!("{}/__groups", self.issuer))
            .json(&serde_json::json!({ "sub": sub, "groups": groups }))
            .send()
            .await
            .expect("POST /__groups")
            .error_for_status()
            .expect("POST /__groups succeeds");
    }

    /// How many times the JWKS was fetched.
    async fn jwks_requests(&self) -> u64 {
        let stats: serde_json::Value = self
            .http
            .get(format!("{}/__stats", self.issuer))
            .send()
            .await
            .expect("GET /__stats")
            .json()
            .await
            .expect("/__stats answers JSON");
        stats["jwks_requests"].as_u64().expect("a count")
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- stderr of tests/interop/provider.mjs ({}) ---\n{}",
                self.issuer,
                self.stderr.lock().unwrap()
            );
        }
    }
}

/// The client auth of a client registered by provider.mjs as
/// `<method>-<alg>`.
fn client_auth(method: &str, client_id: &str, alg: &str) -> ClientAuth {
    let secret = format!("{client_id}-secret");
    match method {
        "basic" => ClientAuth::secret_basic(secret),
        "post" => ClientAuth::secret_post(secret),
        "none" => ClientAuth::None,
        "secretjwt" => ClientAuth::secret_jwt(format!("{secret}-of-at-least-32-bytes")),
        "pkjwt" => {
            let (file, assertion_alg) = match alg {
                "es256" => ("ec-p256.pem", Algorithm::ES256),
                "ps256" => ("rsa-2048.pem", Algorithm::PS256),
                _ => ("rsa-2048.pem", Algorithm::RS256),
            };
            let pem = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/keys")
                    .join(file),
            )
            .expect("the fixture key is readable");
            ClientAuth::PrivateKeyJwt(
                PrivateKeyJwt::from_pem(pem)
                    .with_kid("interop-client-key")
                    .with_algorithm(assertion_alg),
            )
        }
        other => unreachable!("no method {other}"),
    }
}

/// The config of the provider's client `{method}-{alg}`.
fn config_for(provider: &NodeProvider, method: &str, alg: &str) -> ConfigBuilder {
    let client_id = format!("{method}-{alg}");
    Config::builder(provider.issuer.as_str(), client_id.as_str())
        .client_auth(client_auth(method, &client_id, alg))
        .redirect_uri(REDIRECT_URI)
}

/// The demo group's row: `Read-write`.
fn demo_role() -> RoleMapping {
    RoleMapping::new(
        "Maximus Conferencing Developers",
        Source::OpenIdConnect,
        DEMO_GROUP,
        ["Read-write"],
    )
}

/// The scopes of a client that refreshes.
const OFFLINE_SCOPES: [&str; 5] = ["openid", "email", "profile", "groups", "offline_access"];

async fn discover(config: ConfigBuilder) -> Client {
    let config = config.build().expect("the interop config is valid");
    Client::discover(config)
        .await
        .unwrap_or_else(|e| panic!("discovery of oidc-provider failed: {e} ({e:?})"))
}

async fn client_for(provider: &NodeProvider, method: &str, alg: &str) -> Client {
    discover(
        config_for(provider, method, alg)
            .scopes(["openid", "email", "profile", "groups"])
            .add_role_mapping(demo_role())
            .no_role_policy(NoRolePolicy::Allow),
    )
    .await
}

/// A browser stand-in: keeps the provider's cookies, follows its redirects,
/// and stops at the redirect URI.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().as_str().starts_with(REDIRECT_URI) {
                attempt.stop()
            } else if attempt.previous().len() > 10 {
                attempt.error("more than 10 redirects")
            } else {
                attempt.follow()
            }
        }))
        .build()
        .expect("an HTTP client")
}

/// A whole login as `user`: start, the provider's redirects and
/// interaction, the callback, finish.
async fn login_as(client: &Client, user: &str) -> Login {
    login_with(client, Start::default().login_hint(user), user).await
}

async fn login_with(client: &Client, start: Start, user: &str) -> Login {
    try_login_with(client, start)
        .await
        .unwrap_or_else(|e| panic!("finish failed for {user}: {e} ({e:?})"))
}

/// A whole login whose `finish` may refuse it.
async fn try_login_with(client: &Client, start: Start) -> Result<Login, oidc_login::Error> {
    let (url, pending) = client.start(start).expect("start works");
    let response = browser()
        .get(url.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url} failed: {e}"));
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let Some(location) = location.filter(|l| l.starts_with(REDIRECT_URI)) else {
        let at = response.url().clone();
        let body = response.text().await.unwrap_or_default();
        panic!("the provider did not redirect back to {REDIRECT_URI}: {status} at {at}: {body}");
    };
    let callback_url = url::Url::parse(&location).expect("the redirect is a URL");
    assert!(
        callback_url.query_pairs().all(|(k, _)| k != "error"),
        "the provider refused the login: {location}"
    );
    let callback = Callback::from_query(callback_url.query().unwrap_or_default())
        .expect("the callback parses");
    client.finish(pending, callback).await
}

/// The algorithm in the ID token's header, and its `kid`.
fn id_token_header(login: &Login) -> (String, String) {
    use base64::Engine as _;
    let raw = login.tokens.id_token.expose_secret();
    let header = raw.split('.').next().expect("a compact JWS");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64url"),
    )
    .expect("a JSON header");
    (
        header["alg"].as_str().expect("alg").to_owned(),
        header["kid"].as_str().expect("kid").to_owned(),
    )
}

fn assert_alice(login: &Login, issuer: &str) {
    let id = &login.identity;
    assert_eq!(id.issuer, issuer);
    assert_eq!(id.subject, "alice-0001");
    assert_eq!(id.username.as_deref(), Some("alice"), "from userinfo");
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert!(id.email_verified);
    assert_eq!(id.name.as_deref(), Some("Alice Example"));
    assert_eq!(id.groups, [DEMO_GROUP, "staff"]);
    assert_eq!(id.roles, ["Read-write"]);
}

/// alice signs in with every algorithm through the clients of one
/// authentication method.
async fn every_algorithm(method: &str) {
    if !node_available() {
        return;
    }
    let started = Instant::now();
    let provider = NodeProvider::start().await;
    for alg in ALGORITHMS {
        let client = client_for(&provider, method, alg).await;
        let login = login_as(&client, "alice").await;
        assert_alice(&login, &provider.issuer);
        let (header_alg, _) = id_token_header(&login);
        assert_eq!(header_alg, alg.to_uppercase(), "client {method}-{alg}");
    }
    println!(
        "oidc-provider, {method}: {} logins in {:.1} s",
        ALGORITHMS.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn client_secret_basic_with_rs256_es256_ps256() {
    every_algorithm("basic").await;
}

#[tokio::test]
async fn client_secret_post_with_rs256_es256_ps256() {
    every_algorithm("post").await;
}

#[tokio::test]
async fn public_client_with_pkce_with_rs256_es256_ps256() {
    every_algorithm("none").await;
}

#[tokio::test]
async fn client_secret_jwt_with_rs256_es256_ps256() {
    every_algorithm("secretjwt").await;
}

/// `private_key_jwt` with an RSA key (RS256 and PS256 assertions) and an EC
/// P-256 key (ES256 assertions).
#[tokio::test]
async fn private_key_jwt_with_rs256_es256_ps256() {
    every_algorithm("pkjwt").await;
}

/// bob is in no mapped group: signed in, with no role.
#[tokio::test]
async fn user_without_a_mapped_group_has_no_role() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    let client = client_for(&provider, "basic", "rs256").await;
    let login = login_as(&client, "bob").await;
    assert_eq!(login.identity.username.as_deref(), Some("bob"));
    assert_eq!(login.identity.groups, ["visitors"]);
    assert!(!login.identity.email_verified);
    assert!(
        login.identity.roles.is_empty(),
        "{:?}",
        login.identity.roles
    );
}

/// The provider rotates its signing keys between two logins: the client
/// meets an unknown `kid`, fetches the JWKS again, once, and accepts the
/// token (OpenID RP conformance `rp-key-rotation-op-sign-key`).
#[tokio::test]
async fn key_rotation_between_two_logins() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    for alg in ["rs256", "es256"] {
        let client = client_for(&provider, "basic", alg).await;
        let first = login_as(&client, "alice").await;
        let (_, old_kid) = id_token_header(&first);

        let new_kids = provider.rotate_keys().await;
        assert!(!new_kids.contains(&old_kid));
        let fetched = provider.jwks_requests().await;

        let second = login_as(&client, "alice").await;
        assert_alice(&second, &provider.issuer);
        let (_, new_kid) = id_token_header(&second);
        assert!(
            new_kids.contains(&new_kid),
            "{alg}: signed with {new_kid}, not one of the new keys {new_kids:?}"
        );
        assert_eq!(
            provider.jwks_requests().await,
            fetched + 1,
            "{alg}: the unknown kid makes the client fetch the JWKS once"
        );
    }
}

/// Refresh against a real provider: `offline_access` with `prompt=consent`
/// gives a refresh token; a refresh keeps the user, rotates the tokens, and
/// decides the roles afresh (the groups come from userinfo, where
/// oidc-provider puts them), so a group the user lost takes the role along.
#[tokio::test]
async fn refresh_decides_the_roles_afresh() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    for method in ["basic", "none", "pkjwt"] {
        let client = discover(
            config_for(&provider, method, "rs256")
                .scopes(OFFLINE_SCOPES)
                .add_role_mapping(demo_role()),
        )
        .await;
        provider
            .set_groups("alice-0001", &[DEMO_GROUP, "staff"])
            .await;
        let login = login_with(
            &client,
            Start::default().login_hint("alice").prompt("consent"),
            "alice",
        )
        .await;
        assert_alice(&login, &provider.issuer);
        assert!(
            login.tokens.refresh_token.is_some(),
            "{method}: offline_access with prompt=consent gives a refresh token"
        );

        let refreshed = client
            .refresh(&login.tokens)
            .await
            .unwrap_or_else(|e| panic!("{method}: refresh failed: {e} ({e:?})"));
        assert_alice(&refreshed, &provider.issuer);
        assert_ne!(refreshed.tokens.access_token, login.tokens.access_token);

        provider.set_groups("alice-0001", &["staff"]).await;
        let again = client
            .refresh(&refreshed.tokens)
            .await
            .unwrap_or_else(|e| panic!("{method}: second refresh failed: {e} ({e:?})"));
        assert_eq!(again.identity.groups, ["staff"], "{method}");
        assert!(
            again.identity.roles.is_empty(),
            "{method}: the role went with the group"
        );
    }
    provider
        .set_groups("alice-0001", &[DEMO_GROUP, "staff"])
        .await;
}

/// OpenID Connect Core 11, as `oidc-provider` follows it: no refresh token
/// for `offline_access` without `prompt=consent`. The crate sends it with
/// `offline_access` itself, so a login that names no prompt (as `GET
/// /login` does) gets a refresh token; one that asks for another prompt
/// gets none, which shows the provider's rule holds.
#[tokio::test]
async fn offline_access_gets_a_refresh_token_without_an_explicit_prompt() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    let client = discover(
        config_for(&provider, "basic", "rs256")
            .scopes(OFFLINE_SCOPES)
            .add_role_mapping(demo_role()),
    )
    .await;
    let login = login_with(&client, Start::default().login_hint("alice"), "alice").await;
    assert_alice(&login, &provider.issuer);
    assert!(
        login.tokens.refresh_token.is_some(),
        "offline_access with the automatic prompt=consent gives a refresh token"
    );
    client
        .refresh(&login.tokens)
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e} ({e:?})"));
    // The provider's rule: with another prompt, no refresh token.
    let login = login_with(
        &client,
        Start::default().login_hint("alice").prompt("login"),
        "alice",
    )
    .await;
    assert!(
        login.tokens.refresh_token.is_none(),
        "oidc-provider issues none without prompt=consent"
    );
}

/// The API of provider.mjs (RFC 8707 resource indicator).
const API_RESOURCE: &str = "https://api.interop.example";

/// oidc-provider's JWT access tokens for a resource indicator (RFC 9068,
/// `typ: at+jwt`), from a daemon's `client_credentials` grant, pass `Api`;
/// one for another audience or an ID token do not.
#[tokio::test]
async fn jwt_access_tokens_for_a_resource_indicator() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    let client = client_for(&provider, "basic", "rs256").await;
    let api = oidc_login::Api::new(&client, [API_RESOURCE]).unwrap();
    let http = reqwest::Client::new();
    let token_endpoint = format!("{}/token", provider.issuer);
    let ask = |resource: &'static str| {
        http.post(&token_endpoint)
            .basic_auth("daemon", Some("daemon-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "reports.read"),
                ("resource", resource),
            ])
            .send()
    };
    let answer: serde_json::Value = ask(API_RESOURCE).await.unwrap().json().await.unwrap();
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {answer}"));
    let caller = api
        .authenticate(token)
        .await
        .unwrap_or_else(|e| panic!("oidc-provider's access token refused: {e}"));
    assert_eq!(caller.claims.subject(), "daemon");
    assert_eq!(caller.claims.client_id(), "daemon");
    assert_eq!(caller.claims.scopes(), ["reports.read"]);
    assert_eq!(caller.claims.issuer(), provider.issuer);

    // A resource oidc-provider does not serve: `invalid_target`.
    let refused = ask("https://other.example").await.unwrap();
    assert_eq!(refused.status(), 400);
    // Another API's identifier: the audience does not match.
    let other = oidc_login::Api::new(&client, ["https://other.example"]).unwrap();
    assert!(matches!(
        other.verify(token).await,
        Err(oidc_login::Error::Bearer(
            oidc_login::BearerError::AudienceMismatch { .. }
        ))
    ));
    // A login's ID token is no access token.
    let login = login_as(&client, "alice").await;
    assert!(matches!(
        api.verify(login.tokens.id_token.expose_secret()).await,
        Err(oidc_login::Error::Bearer(
            oidc_login::BearerError::NotAnAccessToken { .. }
        ))
    ));
}

/// Revocation at oidc-provider (RFC 7009): `Client::revoke` revokes the
/// refresh token (then the access token), and the refresh token is refused
/// afterwards.
#[tokio::test]
async fn revocation_ends_the_refresh_token() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    for method in ["basic", "post", "pkjwt"] {
        let client = discover(config_for(&provider, method, "rs256").scopes(OFFLINE_SCOPES)).await;
        assert!(client.revocation_endpoint().is_some(), "{method}");
        let login = login_with(
            &client,
            Start::default().login_hint("alice").prompt("consent"),
            "alice",
        )
        .await;
        assert!(login.tokens.refresh_token.is_some(), "{method}");
        client
            .revoke(&login.tokens)
            .await
            .unwrap_or_else(|e| panic!("{method}: revocation failed: {e}"));
        let refused = client.refresh(&login.tokens).await;
        assert!(
            matches!(
                refused,
                Err(oidc_login::Error::Refresh(
                    oidc_login::RefreshError::Refused { .. }
                ))
            ),
            "{method}: {refused:?}"
        );
    }
}

/// Step-up against a real provider: `acr_values`, `max_age` and
/// `prompt=login` are sent, oidc-provider authenticates again at the level
/// asked, and the ID token's `acr` and `auth_time` meet it; a user the
/// provider can only sign in at a weaker level is refused by name.
#[tokio::test]
async fn step_up_with_acr_values_and_max_age() {
    if !node_available() {
        return;
    }
    let provider = NodeProvider::start().await;
    let client = client_for(&provider, "basic", "rs256").await;
    // A plain sign-in works as before; each login has a browser of its own.
    login_as(&client, "alice").await;
    let step_up = StepUp::new()
        .max_age(Duration::from_secs(60))
        .acr_values(["urn:interop:mfa"]);
    let stepped = login_with(
        &client,
        Start::default()
            .login_hint("alice")
            .step_up(step_up.clone()),
        "alice",
    )
    .await;
    assert_eq!(
        stepped.identity.claim("acr").and_then(|a| a.as_str()),
        Some("urn:interop:mfa")
    );
    let auth_time = stepped
        .identity
        .claim("auth_time")
        .and_then(|t| t.as_i64())
        .expect("auth_time, as max_age was sent");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - auth_time).abs() < 30,
        "a new authentication: {auth_time}"
    );

    let refused = try_login_with(&client, Start::default().login_hint("bob").step_up(step_up))
        .await
        .expect_err("bob cannot do mfa");
    assert!(
        matches!(
            &refused,
            oidc_login::Error::Token(TokenError::AcrNotAccepted { acr: Some(acr), .. }) if acr == "urn:interop:pwd"
        ),
        "{refused}"
    );
    assert_eq!(refused.code(), "step_up_not_met");
}

/// Two providers in one app: `oidc-provider` and the embedded provider,
/// each a client with its own name. Each signs alice in and names itself
/// in the identity; a login started at one is refused by the other's
/// client before anything is sent (RFC 9700 4.4 mix-up defence), both
/// ways.
#[tokio::test]
async fn two_providers_oidc_provider_and_the_embedded_one() {
    use oidc_login::testing::TestProvider;
    if !node_available() {
        return;
    }
    let node = NodeProvider::start().await;
    let node_client = discover(
        config_for(&node, "basic", "rs256")
            .name("node")
            .scopes(["openid", "email", "profile", "groups"]),
    )
    .await;
    let embedded = TestProvider::start().await;
    let config = Config::builder(embedded.issuer(), TestProvider::DEFAULT_CLIENT_ID)
        .name("embedded")
        .client_auth(ClientAuth::secret_basic(
            TestProvider::DEFAULT_CLIENT_SECRET,
        ))
        .redirect_uri(format!("{REDIRECT_URI}/embedded"))
        .build()
        .expect("the embedded config is valid");
    let embedded_client = Client::discover(config)
        .await
        .expect("discovery of the embedded provider");

    let login = login_as(&node_client, "alice").await;
    assert_eq!(login.identity.provider, "node");
    assert_eq!(login.identity.issuer, node.issuer);
    let (url, pending) = embedded_client
        .start(Start::default().login_hint("alice"))
        .unwrap();
    let back = url::Url::parse(&embedded.sign_in(url.as_str(), "alice").await).unwrap();
    let callback = Callback::from_query(back.query().unwrap()).unwrap();
    let login = embedded_client.finish(pending, callback).await.unwrap();
    assert_eq!(login.identity.provider, "embedded");
    assert_eq!(login.identity.issuer, embedded.issuer());
    let token_requests = embedded.token_requests();

    // oidc-provider's answer (with its RFC 9207 `iss`) finished by the
    // embedded provider's client: refused before its token endpoint.
    let (url, pending) = node_client
        .start(Start::default().login_hint("alice"))
        .unwrap();
    let response = browser().get(url).send().await.unwrap();
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let callback =
        Callback::from_query(url::Url::parse(&location).unwrap().query().unwrap()).unwrap();
    let refused = embedded_client.finish(pending, callback).await.unwrap_err();
    assert_eq!(refused.code(), "wrong_provider", "{refused}");
    assert_eq!(embedded.token_requests(), token_requests);

    // The embedded provider's answer finished by oidc-provider's client:
    // refused before anything is sent.
    let (url, pending) = embedded_client
        .start(Start::default().login_hint("alice"))
        .unwrap();
    let back = url::Url::parse(&embedded.sign_in(url.as_str(), "alice").await).unwrap();
    let callback = Callback::from_query(back.query().unwrap()).unwrap();
    let refused = node_client.finish(pending, callback).await.unwrap_err();
    assert_eq!(refused.code(), "wrong_provider", "{refused}");
}
