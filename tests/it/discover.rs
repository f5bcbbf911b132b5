//! The diagnostics of `cargo run --example discover`: the example's own
//! checks (`examples/discover_check/mod.rs`) against the embedded provider
//! and against a doctored metadata document served on loopback.

use crate::discover_check;

use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use discover_check::{Report, diagnose, is_loopback_http, key_fits, unusable_reason};
use oidc_login::Algorithm;
use oidc_login::testing::TestProvider;
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
