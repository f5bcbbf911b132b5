//! The diagnostics of `cargo run --example discover`: the example's own
//! checks (`examples/discover_check/mod.rs`) against the embedded provider
//! and against a doctored metadata document served on loopback; what it
//! prints when the provider cannot be reached; and
//! `Client::check_credentials`, against the embedded provider and against
//! token endpoints that misbehave.

use crate::common::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, config_builder, provider_for};
use crate::discover_check;

use std::path::{Path, PathBuf};

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use base64::Engine as _;
use discover_check::{Report, diagnose, is_loopback_http, key_fits, unusable_reason};
use oidc_login::testing::{TestClient, TestClientAuth, TestProvider};
use oidc_login::{
    Algorithm, Client, ClientAuth, CredentialCheck, Error, HttpErrorKind, PrivateKeyJwt, TokenError,
};
use serde_json::{Value, json};

/// Writes `toml` to a temporary file and runs `discover --config FILE`.
async fn discover_config(toml: &str) -> (u8, Report) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc.toml");
    std::fs::write(&file, toml).unwrap();
    discover(&["--config", &file.display().to_string()]).await
}

async fn discover(args: &[&str]) -> (u8, Report) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut report = Report::default();
    let status = diagnose(&args, &mut report).await;
    (status, report)
}

/// A config for `metadata_url` with the embedded provider's default client.
fn config_toml(metadata_url: &str, extra: &str) -> String {
    format!(
        r#"
metadata_url = "{metadata_url}"
client_id = "{id}"
client_secret = "{secret}"
redirect_uri = "http://127.0.0.1:8080/auth/callback"
{extra}
"#,
        id = TestProvider::DEFAULT_CLIENT_ID,
        secret = TestProvider::DEFAULT_CLIENT_SECRET,
    )
}

/// Every `PROBLEM` line names a field: "PROBLEM `<field>`: ...".
fn assert_problems_name_a_field(report: &Report) {
    for line in report.problem_lines() {
        let field = line
            .strip_prefix("PROBLEM `")
            .and_then(|rest| rest.split_once("`: "))
            .map(|(field, _)| field);
        assert!(
            field.is_some_and(|f| !f.is_empty()),
            "a PROBLEM line without a field: {line}"
        );
    }
}

fn has_problem(report: &Report, field: &str, words: &str) -> bool {
    report
        .problem_lines()
        .iter()
        .any(|l| l.starts_with(&format!("PROBLEM `{field}`: ")) && l.contains(words))
}

#[tokio::test]
async fn a_good_config_has_no_problem() {
    let provider = TestProvider::start().await;
    // `groups` is not in the provider's `scopes_supported`: only a note.
    let toml = config_toml(
        &provider.metadata_url(),
        r#"auth_method = "client_secret_basic"
scopes = ["openid", "email", "profile", "groups"]"#,
    );
    let (status, report) = discover_config(&toml).await;
    let text = report.lines.join("\n");
    assert_eq!(report.problem_lines(), Vec::<&str>::new(), "{text}");
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("note: `scopes`: `groups` is not in `scopes_supported`"),
        "{text}"
    );
    assert!(
        text.contains(": usable"),
        "the provider's key is usable: {text}"
    );
    assert!(text.contains("RS256: usable key(s) "), "{text}");
    assert!(text.contains("OK: this config can sign users in"), "{text}");
    assert!(
        text.contains("the token endpoint accepted the client credentials"),
        "{text}"
    );
    assert_eq!(
        provider.token_requests(),
        1,
        "one made-up code, redeemed once"
    );

    let (status, report) = discover(&[&provider.metadata_url()]).await;
    assert_eq!(status, 0, "{}", report.lines.join("\n"));
}

#[tokio::test]
async fn an_algorithm_the_provider_does_not_offer_is_a_problem() {
    let provider = TestProvider::start().await; // RS256
    let toml = config_toml(
        &provider.metadata_url(),
        r#"allowed_algorithms = ["ES256"]"#,
    );
    let (status, report) = discover_config(&toml).await;
    let text = report.lines.join("\n");
    assert_eq!(status, 1, "{text}");
    assert!(
        has_problem(&report, "allowed_algorithms", "none of the offered"),
        "{text}"
    );
    assert_problems_name_a_field(&report);
}

/// A provider whose metadata and keys are doctored: only
/// `client_secret_post`, no `openid` scope, endpoints on a host that only
/// looks like loopback, and no key this crate can use.
#[tokio::test]
async fn a_provider_that_cannot_work_gives_one_problem_per_field() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let metadata = json!({
        "issuer": base,
        "authorization_endpoint": "http://localhost.evil.example/authorize",
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "scopes_supported": ["profile", "email"],
    });
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "small", "n": b64(&[0xC0; 128]), "e": "AQAB"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(&[0xC0; 256]), "e": "AQAB"},
        {"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA"},
    ]});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let toml = config_toml(
        &format!("{base}/.well-known/openid-configuration"),
        r#"auth_method = "client_secret_basic""#,
    );
    let (status, report) = discover_config(&toml).await;
    server.abort();
    let text = report.lines.join("\n");
    println!("{text}");
    assert_eq!(status, 1, "{text}");
    assert_problems_name_a_field(&report);
    assert!(
        has_problem(&report, "auth_method", "`client_secret_basic` is not among"),
        "{text}"
    );
    assert!(
        has_problem(&report, "auth_method", "client_secret_post"),
        "names the way out: {text}"
    );
    assert!(
        has_problem(&report, "metadata_url", "`openid` scope"),
        "{text}"
    );
    assert!(
        has_problem(
            &report,
            "metadata_url",
            "`authorization_endpoint` is not https"
        ),
        "localhost.evil.example is not loopback: {text}"
    );
    assert!(
        has_problem(
            &report,
            "allowed_algorithms",
            "no accepted algorithm has a usable key"
        ),
        "{text}"
    );
    for why in [
        "1024 bits, under 2048",
        "`use` is \"enc\"",
        "curve `secp256k1`",
    ] {
        assert!(text.contains(why), "`{why}`: {text}");
    }
    assert!(
        !text.contains("`scopes`: `email`"),
        "listed scopes are not noted: {text}"
    );
}

#[tokio::test]
async fn a_config_file_that_does_not_load_is_a_problem_naming_it() {
    let (status, report) = discover(&["--config", "/nonexistent/oidc.toml"]).await;
    assert_eq!(status, 1);
    assert_eq!(report.problem_lines().len(), 1, "{:?}", report.lines);
    assert!(report.problem_lines()[0].starts_with("PROBLEM `/nonexistent/oidc.toml`: "));
    assert_eq!(discover(&[]).await.0, 2, "usage");
    assert_eq!(discover(&["--config"]).await.0, 2, "usage");
}

/// `discover --config` on a file with a mistake on the secret's line says
/// where it is, never the secret.
#[tokio::test]
async fn a_config_file_with_a_mistake_never_shows_the_secret() {
    let base = "metadata_url = \"https://login.example.com\"\nclient_id = \"app\"\n\
                redirect_uri = \"http://127.0.0.1:8080/auth/callback\"\n";
    for bad in [
        "client_secert = \"hunter2secret\"\n",
        "client_secret = \"hunter2secret\n",
        "client_secret = hunter2secret\n",
        "client_secret = 839274619283\n",
        "auth_method = \"hunter2secret\"\n",
    ] {
        let (status, report) = discover_config(&format!("{base}{bad}")).await;
        assert_eq!(status, 1);
        let printed = report.lines.join("\n");
        assert!(printed.contains("line 4"), "{bad:?}: {printed}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("83927"),
            "{printed}"
        );
    }
    let (_, report) = discover_config(&format!("{base}client_secert = \"x\"\n")).await;
    assert!(
        report
            .lines
            .join("\n")
            .contains("did you mean `client_secret`?"),
        "{:?}",
        report.lines
    );
}

#[test]
fn loopback_is_decided_by_the_parsed_host() {
    for yes in [
        "http://127.0.0.1/x",
        "http://127.1.2.3:8080/x",
        "http://[::1]:3000/",
        "http://localhost/",
        "http://LOCALHOST:9/",
    ] {
        assert!(is_loopback_http(yes), "{yes}");
    }
    for no in [
        "http://localhost.evil.com/",
        "http://127.0.0.1.evil.com/",
        "http://127.0.0.1@evil.com/",
        "http://[::2]/",
        "http://10.0.0.1/",
        "https://localhost/",
        "localhost",
    ] {
        assert!(!is_loopback_http(no), "{no}");
    }
}

#[test]
fn which_keys_are_usable() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let rsa = |bytes: usize| json!({"kty": "RSA", "n": b64(&vec![0x80; bytes]), "e": "AQAB"});
    assert_eq!(unusable_reason(&rsa(256)), None);
    // A leading zero byte does not count.
    let mut padded = vec![0u8];
    padded.extend([0x80; 256]);
    assert_eq!(
        unusable_reason(&json!({"kty": "RSA", "n": b64(&padded)})),
        None
    );
    assert!(unusable_reason(&rsa(255)).unwrap().contains("2040 bits"));
    let with = |key: Value, name: &str, value: &str| {
        let mut key = key;
        key[name] = json!(value);
        key
    };
    assert_eq!(unusable_reason(&with(rsa(256), "use", "sig")), None);
    assert!(unusable_reason(&with(rsa(256), "use", "enc")).is_some());
    for crv in ["P-256", "P-384", "P-521"] {
        assert_eq!(
            unusable_reason(&json!({"kty": "EC", "crv": crv})),
            None,
            "{crv}"
        );
    }
    assert!(unusable_reason(&json!({"kty": "EC", "crv": "secp256k1"})).is_some());
    assert_eq!(
        unusable_reason(&json!({"kty": "OKP", "crv": "Ed25519"})),
        None
    );
    assert!(unusable_reason(&json!({"kty": "OKP", "crv": "X25519"})).is_some());
    assert!(unusable_reason(&json!({"kty": "oct", "k": "c2VjcmV0"})).is_some());

    assert!(key_fits(&rsa(256), Algorithm::PS256));
    assert!(!key_fits(&with(rsa(256), "alg", "RS512"), Algorithm::RS256));
    assert!(key_fits(
        &json!({"kty": "EC", "crv": "P-384"}),
        Algorithm::ES384
    ));
    assert!(!key_fits(
        &json!({"kty": "EC", "crv": "P-256"}),
        Algorithm::ES384
    ));
    assert!(key_fits(
        &json!({"kty": "OKP", "crv": "Ed25519"}),
        Algorithm::EdDSA
    ));
}

// --- a provider that cannot be reached -----------------------------------

/// No `Debug` dump of an error in the report: no type names, no struct
/// braces.
fn assert_no_debug_dump(text: &str) {
    for debug in ["reqwest", "HttpError", "kind:", "Error {", "Some(", "Kind("] {
        assert!(!text.contains(debug), "`{debug}` in: {text}");
    }
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Serves `app` on a loopback port; returns its base URL.
async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server)
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_in_the_crates_words_with_its_cause() {
    let url = format!(
        "http://127.0.0.1:{}/.well-known/openid-configuration",
        closed_port().await
    );
    for (status, report) in [
        discover(&[&url]).await,
        discover_config(&config_toml(&url, "")).await,
    ] {
        let text = report.lines.join("\n");
        assert_eq!(status, 1, "{text}");
        assert_eq!(report.problem_lines().len(), 1, "{text}");
        assert!(
            has_problem(
                &report,
                "metadata_url",
                &format!("fetching the provider metadata from `{url}` failed: could not connect")
            ),
            "{text}"
        );
        assert!(
            report
                .lines
                .iter()
                .any(|l| l.starts_with("    because: ") && l.to_lowercase().contains("refused")),
            "the cause, a refused connection, is shown: {text}"
        );
        assert_no_debug_dump(&text);
    }
}

#[tokio::test]
async fn a_provider_answering_500_is_reported_with_the_status() {
    let (base, server) = serve(
        axum::Router::new()
            .fallback(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>") }),
    )
    .await;
    let (status, report) = discover(&[&base]).await;
    server.abort();
    let text = report.lines.join("\n");
    assert_eq!(status, 1, "{text}");
    assert_eq!(report.problem_lines().len(), 1, "{text}");
    assert!(
        has_problem(
            &report,
            "metadata_url",
            "failed: the provider answered HTTP 500"
        ),
        "{text}"
    );
    assert!(!text.contains("oops"), "the body is not shown: {text}");
    assert_no_debug_dump(&text);
}

#[tokio::test]
async fn keys_answering_500_are_reported_with_the_status() {
    let provider = TestProvider::start().await;
    let metadata = provider_metadata(&provider).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut metadata = metadata;
    metadata["issuer"] = json!(base);
    metadata["jwks_uri"] = json!(format!("{base}/jwks"));
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (status, report) = discover(&[&base]).await;
    server.abort();
    let text = report.lines.join("\n");
    assert_eq!(status, 1, "{text}");
    assert!(
        has_problem(
            &report,
            "metadata_url",
            &format!(
                "the provider's keys (JWKS) from `{base}/jwks` failed: the provider answered HTTP 500"
            )
        ),
        "{text}"
    );
    assert_no_debug_dump(&text);
}

#[tokio::test]
async fn a_misspelled_key_is_answered_with_the_nearest_field() {
    let toml = config_toml(
        "https://login.example.com",
        r#"scope = ["openid", "email"]"#,
    );
    let (status, report) = discover_config(&toml).await;
    let text = report.lines.join("\n");
    assert_eq!(status, 1, "{text}");
    assert_eq!(report.problem_lines().len(), 1, "{text}");
    let line = report.problem_lines()[0];
    assert!(line.contains("unknown field `scope`"), "{line}");
    assert!(line.contains("did you mean `scopes`?"), "{line}");
    assert!(line.contains("line 6"), "where it is: {line}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
}

// --- the client credentials, through `discover --config` ------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn key(name: &str) -> PrivateKeyJwt {
    PrivateKeyJwt::from_pem(std::fs::read_to_string(fixture(name)).unwrap()).with_kid("app-key-1")
}

/// A provider whose only client authenticates with `private_key_jwt`,
/// registered with the public half of `rsa-2048.pem`.
async fn private_key_jwt_provider() -> TestProvider {
    let jwk = key("rsa-2048.pem").public_jwk().unwrap();
    TestProvider::builder()
        .client(TestClient::private_key_jwt(CLIENT_ID, jwk).redirect_uri(REDIRECT_URI))
        .start()
        .await
}

#[tokio::test]
async fn discover_names_the_secret_when_the_provider_refuses_it() {
    let provider = TestProvider::start().await;
    let toml = config_toml(&provider.metadata_url(), "")
        .replace(TestProvider::DEFAULT_CLIENT_SECRET, "not-the-secret-7731");
    let (status, report) = discover_config(&toml).await;
    let text = report.lines.join("\n");
    assert_eq!(status, 1, "{text}");
    assert_eq!(report.problem_lines().len(), 1, "{text}");
    assert!(
        has_problem(
            &report,
            "client_secret",
            "the token endpoint refused the client credentials: `invalid_client`"
        ),
        "{text}"
    );
    assert!(
        has_problem(
            &report,
            "client_secret",
            "then `client_id` and `auth_method`"
        ),
        "{text}"
    );
    assert!(!text.contains("not-the-secret-7731"), "{text}");
    assert!(!text.contains("OK: this config"), "{text}");
}

#[tokio::test]
async fn discover_names_the_key_field_when_the_provider_refuses_the_key() {
    let provider = private_key_jwt_provider().await;
    for (pem, refused) in [("rsa-2048.pem", false), ("other-rsa-2048.pem", true)] {
        let toml = format!(
            r#"
metadata_url = "{metadata_url}"
client_id = "{CLIENT_ID}"
redirect_uri = "{REDIRECT_URI}"
auth_method = "private_key_jwt"
private_key_pem_file = "{path}"
private_key_kid = "app-key-1"
"#,
            metadata_url = provider.metadata_url(),
            path = fixture(pem).display(),
        );
        let (status, report) = discover_config(&toml).await;
        let text = report.lines.join("\n");
        if refused {
            assert_eq!(status, 1, "{text}");
            assert!(
                has_problem(
                    &report,
                    "private_key_pem_file",
                    "then `private_key_kid`, `client_id` and `auth_method`"
                ),
                "{text}"
            );
            assert!(!text.contains("PRIVATE KEY"), "{text}");
        } else {
            assert_eq!(status, 0, "{text}");
            assert!(
                text.contains("the token endpoint accepted the client credentials"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn discover_says_a_public_client_has_no_credentials_to_check() {
    let provider = provider_for(None).await;
    let toml = format!(
        r#"
metadata_url = "{metadata_url}"
client_id = "{CLIENT_ID}"
redirect_uri = "{REDIRECT_URI}"
auth_method = "none"
"#,
        metadata_url = provider.metadata_url(),
    );
    let (status, report) = discover_config(&toml).await;
    let text = report.lines.join("\n");
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("a public client (`auth_method = \"none\"`) has no credentials to check"),
        "{text}"
    );
    assert_eq!(provider.token_requests(), 0, "nothing was sent");
}

// --- Client::check_credentials against the embedded provider -------------

async fn check(provider: &TestProvider, auth: ClientAuth) -> Result<CredentialCheck, Error> {
    let config = config_builder(provider).client_auth(auth).build().unwrap();
    Client::discover(config)
        .await
        .unwrap()
        .check_credentials()
        .await
}

#[tokio::test]
async fn the_right_secret_is_accepted_and_a_wrong_one_refused() {
    for (registered, right, wrong) in [
        (
            TestClientAuth::Basic,
            ClientAuth::secret_basic(CLIENT_SECRET),
            ClientAuth::secret_basic("a-wrong-secret-4411"),
        ),
        (
            TestClientAuth::Post,
            ClientAuth::secret_post(CLIENT_SECRET),
            ClientAuth::secret_post("a-wrong-secret-4411"),
        ),
    ] {
        let provider = provider_for(Some(registered)).await;
        assert_eq!(
            check(&provider, right).await.unwrap(),
            CredentialCheck::Accepted
        );
        assert_eq!(provider.token_requests(), 1);

        let refused = check(&provider, wrong).await.unwrap();
        let CredentialCheck::Refused {
            error,
            description,
            fields,
        } = &refused
        else {
            panic!("not refused: {refused}");
        };
        assert_eq!(error, "invalid_client");
        assert!(
            description
                .as_deref()
                .is_some_and(|d| d.contains("wrong client secret")),
            "the provider's reason: {refused}"
        );
        assert_eq!(fields, &["client_secret", "client_id", "auth_method"]);
        assert_eq!(refused.field(), Some("client_secret"));
        for shown in [refused.to_string(), format!("{refused:?}")] {
            assert!(!shown.contains("a-wrong-secret"), "{shown}");
            assert!(!shown.contains(CLIENT_SECRET), "{shown}");
        }
    }
}

#[tokio::test]
async fn the_wrong_method_is_refused_naming_auth_method_too() {
    // Registered for client_secret_post, authenticating with client_secret_basic.
    let provider = provider_for(Some(TestClientAuth::Post)).await;
    let refused = check(&provider, ClientAuth::secret_basic(CLIENT_SECRET))
        .await
        .unwrap();
    assert_eq!(refused.field(), Some("client_secret"));
    let text = refused.to_string();
    assert!(
        text.contains("registered for `client_secret_post`"),
        "{text}"
    );
    assert!(text.contains("`auth_method`"), "{text}");
}

#[tokio::test]
async fn private_key_jwt_with_the_registered_key_is_accepted_and_another_key_refused() {
    let provider = private_key_jwt_provider().await;
    let right = ClientAuth::PrivateKeyJwt(key("rsa-2048.pem"));
    assert_eq!(
        check(&provider, right).await.unwrap(),
        CredentialCheck::Accepted
    );
    let wrong = ClientAuth::PrivateKeyJwt(key("other-rsa-2048.pem"));
    let refused = check(&provider, wrong).await.unwrap();
    let CredentialCheck::Refused { error, fields, .. } = &refused else {
        panic!("not refused: {refused}");
    };
    assert_eq!(error, "invalid_client");
    // Built in code: the key is `client_auth`.
    assert_eq!(fields, &["client_auth", "client_id", "auth_method"]);
    assert!(refused.to_string().contains("signature"), "{refused}");
    assert_eq!(provider.token_requests(), 2);
}

#[tokio::test]
async fn a_public_client_sends_nothing() {
    let provider = provider_for(None).await;
    assert_eq!(
        check(&provider, ClientAuth::None).await.unwrap(),
        CredentialCheck::NoCredentials
    );
    assert_eq!(provider.token_requests(), 0);
}

// --- Client::check_credentials against token endpoints that misbehave ----

/// The embedded provider's metadata, as served.
async fn provider_metadata(provider: &TestProvider) -> Value {
    reqwest::get(provider.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A provider with the embedded provider's metadata and keys, and `token`
/// as its token endpoint; a client for it authenticating with `auth`.
async fn with_token_endpoint(
    provider: &TestProvider,
    auth: ClientAuth,
    token: MethodRouter,
) -> (Client, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut metadata = provider_metadata(provider).await;
    metadata["issuer"] = json!(base);
    metadata["token_endpoint"] = json!(format!("{base}/token"));
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route("/token", token);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = oidc_login::Config::builder(base.as_str(), CLIENT_ID)
        .client_auth(auth)
        .redirect_uri(REDIRECT_URI)
        .build()
        .unwrap();
    (Client::discover(config).await.unwrap(), server)
}

/// A secret with characters that form-urlencoding changes.
const ODD_SECRET: &str = "s3cr3t/+&= é-0451";

#[tokio::test]
async fn a_provider_echoing_the_secret_never_gets_it_printed() {
    let provider = TestProvider::start().await;
    // Echoes the Authorization header and the form body, in that order.
    let echo = post(|headers: HeaderMap, body: Bytes| async move {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = String::from_utf8(body.to_vec()).unwrap();
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error": "invalid_client",
                "error_description": format!("{authorization} | {body}"),
            })),
        )
    });
    let key = key("rsa-2048.pem");
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(CLIENT_ID),
        encode(ODD_SECRET)
    ));
    for auth in [
        ClientAuth::secret_basic(ODD_SECRET),
        ClientAuth::secret_post(ODD_SECRET),
        ClientAuth::secret_jwt("a-client-secret-of-32-bytes-0451"),
        ClientAuth::PrivateKeyJwt(key.clone()),
    ] {
        let method = auth.method().as_str();
        let (client, server) = with_token_endpoint(&provider, auth, echo.clone()).await;
        let refused = client.check_credentials().await.unwrap();
        server.abort();
        let CredentialCheck::Refused { description, .. } = &refused else {
            panic!("{method}: not refused: {refused}");
        };
        let description = description.as_deref().unwrap();
        // The echo arrived: the request was the authorization-code grant
        // with a made-up code and verifier...
        for sent in [
            "grant_type=authorization_code",
            "code=",
            "code_verifier=",
            "redirect_uri=",
        ] {
            assert!(description.contains(sent), "{method}: {description}");
        }
        // ...and every secret in it was cut out.
        assert!(
            description.contains("[redacted]"),
            "{method}: {description}"
        );
        for shown in [refused.to_string(), format!("{refused:?}")] {
            // The secrets, as sent in a Basic header too, and a JWT
            // (`header.payload`, both base64url JSON).
            for secret in ["s3cr3t", basic.as_str(), "bytes-0451", ".eyJ"] {
                assert!(!shown.contains(secret), "{method}: `{secret}` in {shown}");
            }
        }
    }
}

#[tokio::test]
async fn a_bare_401_is_a_refusal() {
    let provider = TestProvider::start().await;
    let (client, server) = with_token_endpoint(
        &provider,
        ClientAuth::secret_basic(CLIENT_SECRET),
        post(|| async { (StatusCode::UNAUTHORIZED, "Unauthorized") }),
    )
    .await;
    let refused = client.check_credentials().await.unwrap();
    server.abort();
    assert!(
        matches!(&refused, CredentialCheck::Refused { error, description: None, .. } if error == "HTTP 401"),
        "{refused}"
    );
}

#[tokio::test]
async fn unauthorized_client_is_a_refusal_and_other_codes_do_not_tell() {
    let provider = TestProvider::start().await;
    let answer = |error: &'static str, description: &'static str| {
        post(move || async move {
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": error, "error_description": description})),
            )
        })
    };
    let (client, server) = with_token_endpoint(
        &provider,
        ClientAuth::secret_basic(CLIENT_SECRET),
        answer("unauthorized_client", "not allowed"),
    )
    .await;
    let refused = client.check_credentials().await.unwrap();
    server.abort();
    assert_eq!(refused.field(), Some("client_secret"), "{refused}");

    let (client, server) = with_token_endpoint(
        &provider,
        ClientAuth::secret_basic(CLIENT_SECRET),
        answer("invalid_request", "bad\nINFO forged line \u{1b}[31m"),
    )
    .await;
    let unknown = client.check_credentials().await.unwrap();
    server.abort();
    assert_eq!(
        unknown,
        CredentialCheck::Unknown {
            error: "invalid_request".into(),
            description: Some("bad\\nINFO forged line \\u{1b}[31m".into()),
        }
    );
    let text = unknown.to_string();
    assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
    assert!(text.contains("does not tell whether"), "{text}");
}

#[tokio::test]
async fn a_token_endpoint_failing_is_an_http_error() {
    let provider = TestProvider::start().await;
    let (client, server) = with_token_endpoint(
        &provider,
        ClientAuth::secret_basic(CLIENT_SECRET),
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>").into_response() }),
    )
    .await;
    let error = client.check_credentials().await.unwrap_err();
    server.abort();
    let Error::Http(http) = &error else {
        panic!("not an HTTP error: {error}");
    };
    assert_eq!(http.kind(), &HttpErrorKind::Status(500));
    assert!(error.to_string().contains("answered HTTP 500"), "{error}");
}

#[tokio::test]
async fn a_token_endpoint_that_takes_any_code_is_an_error() {
    let provider = TestProvider::start().await;
    let (client, server) = with_token_endpoint(
        &provider,
        ClientAuth::secret_basic(CLIENT_SECRET),
        post(|| async {
            Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": "x.y.z"}))
        }),
    )
    .await;
    let error = client.check_credentials().await.unwrap_err();
    server.abort();
    assert!(
        matches!(&error, Error::Token(TokenError::InvalidResponse(m)) if m.contains("made-up authorization code")),
        "{error}"
    );
}

/// `discover --privx-client FILE`: PrivX's record, whose attribute mapping
/// fills `sub` from the email, is diagnosed with a note that `sub` is
/// mutable; with several allowed redirect URIs, `--redirect-uri` picks one,
/// and one not among them is a problem naming the field.
#[tokio::test]
async fn a_privx_record_with_sub_remapped_is_noted_as_mutable() {
    let provider = TestProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("privx-client.json");
    let callback = "http://127.0.0.1:8080/auth/callback";
    std::fs::write(
        &file,
        json!({
            "idp_type": "oidc",
            "enabled": true,
            "oidc_issuer": provider.issuer(),
            "oidc_client_id": TestProvider::DEFAULT_CLIENT_ID,
            "oidc_client_secret": TestProvider::DEFAULT_CLIENT_SECRET,
            "oidc_scopes_enabled": ["profile", "email"],
            "oidc_auth_method_enabled": "client_secret_basic",
            "oidc_allowed_redirect_uris": [callback, "http://127.0.0.1:9090/callback"],
            "oidc_attribute_mapping": {"email": "sub"},
        })
        .to_string(),
    )
    .unwrap();
    let path = file.display().to_string();
    let (status, report) = discover(&["--privx-client", &path, "--redirect-uri", callback]).await;
    assert_eq!(status, 0, "{:#?}", report.lines);
    let notes: Vec<&String> = report
        .lines
        .iter()
        .filter(|l| l.contains("note: mutable `sub`"))
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", report.lines);
    assert!(notes[0].contains("`email`"), "{}", notes[0]);
    assert!(notes[0].contains("accept_mutable_sub"), "{}", notes[0]);

    let (status, report) = discover(&[
        "--privx-client",
        &path,
        "--redirect-uri",
        "http://127.0.0.1:8080/elsewhere",
    ])
    .await;
    assert_eq!(status, 1);
    assert!(
        has_problem(&report, &path, "oidc_allowed_redirect_uris"),
        "{:#?}",
        report.lines
    );
    // Without a mapping, no note.
    std::fs::write(
        &file,
        json!({
            "idp_type": "oidc",
            "oidc_issuer": provider.issuer(),
            "oidc_client_id": TestProvider::DEFAULT_CLIENT_ID,
            "oidc_client_secret": TestProvider::DEFAULT_CLIENT_SECRET,
            "oidc_allowed_redirect_uris": [callback],
        })
        .to_string(),
    )
    .unwrap();
    let (status, report) = discover(&["--privx-client", &path]).await;
    assert_eq!(status, 0, "{:#?}", report.lines);
    assert!(!report.lines.iter().any(|l| l.contains("mutable")));
    assert_eq!(discover(&["--privx-client", &path, "--oops"]).await.0, 2);
}

/// `discover` says whether the provider is Entra ID, and how it was
/// recognised: from the metadata for a plain metadata URL (Pexip's form).
#[tokio::test]
async fn discover_prints_the_entra_recognition() {
    use oidc_login::testing::EntraMode;
    const HOME: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    let provider = TestProvider::builder()
        .entra(EntraMode::new(HOME))
        .start()
        .await;
    let (status, report) = discover_config(&config_toml(
        &provider.entra_metadata_url(HOME),
        &format!("graph_url = \"{}\"", provider.graph_url()),
    ))
    .await;
    let text = report.lines.join("\n");
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("provider: Microsoft Entra ID (v2.0, recognised by its metadata; cloud `microsoftonline.com`; region `EU`; groups overage read from Microsoft Graph at"),
        "{text}"
    );
    // Version 1.0 metadata: a problem naming the metadata URL.
    let v1 = format!(
        "{}/{HOME}/.well-known/openid-configuration",
        provider.entra_authority()
    );
    let (status, report) = discover_config(&config_toml(&v1, "")).await;
    let text = report.lines.join("\n");
    assert_ne!(status, 0, "{text}");
    assert!(
        has_problem(&report, "metadata_url", "version 1.0"),
        "{text}"
    );
    // A generic provider.
    let plain = TestProvider::start().await;
    let (_, report) = discover_config(&config_toml(&plain.metadata_url(), "")).await;
    let text = report.lines.join("\n");
    assert!(text.contains("provider: not Microsoft Entra ID"), "{text}");
}
