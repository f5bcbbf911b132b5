//! Tests of the embedded provider itself (feature `test-provider`), over HTTP
//! with reqwest, decoding tokens by hand. The crate's own validator is not
//! used: these tests check what the provider sends, not what the client
//! accepts.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac, signature};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use oidc_login::Algorithm;
use oidc_login::testing::{
    IdTokenClaimsMode, Misbehavior, TestClient, TestClientAuth, TestProvider, TestUser,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT_URI: &str = "http://127.0.0.1:49152/auth/callback";
const STATE: &str = "state-Zq3x";
const NONCE: &str = "nonce-Lp9w";
/// A PKCE pair: CHALLENGE = BASE64URL(SHA256(VERIFIER)).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9mbRAQiEbDvvW-lFJjqr5sEnQ";
const CHALLENGE: &str = "bQCNmu6T5xxJXljUVHVyaOvgVTQ0QIix1B5snSuDD8s";

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client builds")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The parameters of a valid authorization request for `client_id` that
/// signs `alice` in at once.
fn auth_params(client_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("scope", "openid email profile".into()),
        ("state", STATE.into()),
        ("nonce", NONCE.into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
        ("login_hint", "alice".into()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.to_owned()));
    }
    params
}

async fn authorize(provider: &TestProvider, params: &[(&str, String)]) -> reqwest::Response {
    http()
        .get(provider.url("/authorize"))
        .query(params)
        .send()
        .await
        .expect("the provider answers /authorize")
}

/// The query parameters of a redirect's `Location`, after checking it goes
/// to `REDIRECT_URI`.
fn redirect_params(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    let location = response.headers()["location"].to_str().expect("ASCII");
    let url = url::Url::parse(location).expect("an absolute Location");
    assert_eq!(
        &url[..url::Position::AfterPath],
        REDIRECT_URI,
        "redirected elsewhere: {location}"
    );
    url.query_pairs().into_owned().collect()
}

/// Signs alice in for `test-client` and returns the code.
async fn code(provider: &TestProvider) -> String {
    let response = authorize(provider, &auth_params("test-client")).await;
    let params = redirect_params(&response);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"))
        .clone()
}

/// Redeems `code` as `test-client` (client_secret_basic).
async fn exchange(provider: &TestProvider, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(provider.url("/token"))
        .basic_auth("test-client", Some("test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("the provider answers /token")
}

/// A full login as alice with the default client: the token response.
async fn tokens(provider: &TestProvider) -> Value {
    let code = code(provider).await;
    let response = exchange(provider, &code, VERIFIER).await;
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON token response");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn id_token(provider: &TestProvider) -> String {
    tokens(provider).await["id_token"]
        .as_str()
        .expect("an id_token")
        .to_owned()
}

fn b64d(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|err| panic!("`{part}` is not base64url: {err}"))
}

/// The decoded header and claims of a compact JWS.
fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let header = serde_json::from_slice(&b64d(parts[0])).expect("a JSON header");
    let claims = serde_json::from_slice(&b64d(parts[1])).expect("JSON claims");
    (header, claims)
}

async fn jwks(provider: &TestProvider) -> Value {
    http()
        .get(provider.url("/jwks"))
        .send()
        .await
        .expect("the provider answers /jwks")
        .json()
        .await
        .expect("a JSON JWKS")
}

/// Verifies a compact JWS against one JWK with aws-lc-rs directly.
fn verify_with_jwk(token: &str, jwk: &Value) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let signature = b64d(signature);
    let (header, _) = decode(token);
    let message = input.as_bytes();
    let text = |name: &str| b64d(jwk[name].as_str().expect("a JWK member"));
    match header["alg"].as_str().expect("an alg") {
        alg @ ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512") => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let public = signature::RsaPublicKeyComponents {
                n: text("n"),
                e: text("e"),
            };
            public.verify(params, message, &signature).is_ok()
        }
        alg @ ("ES256" | "ES384" | "ES512") => {
            let verification: &signature::EcdsaVerificationAlgorithm = match alg {
                "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
                "ES384" => &signature::ECDSA_P384_SHA384_FIXED,
                _ => &signature::ECDSA_P521_SHA512_FIXED,
            };
            let mut point = vec![4u8];
            point.extend(text("x"));
            point.extend(text("y"));
            signature::UnparsedPublicKey::new(verification, point)
                .verify(message, &signature)
                .is_ok()
        }
        "EdDSA" => signature::UnparsedPublicKey::new(&signature::ED25519, text("x"))
            .verify(message, &signature)
            .is_ok(),
        other => panic!("unexpected alg {other}"),
    }
}

fn hmac_ok(token: &str, key: &[u8]) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&key, input.as_bytes(), &b64d(signature)).is_ok()
}

fn at_hash_sha256(access_token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

// ----- discovery and keys ---------------------------------------------------

#[tokio::test]
async fn discovery_document_describes_the_provider() -> TestResult {
    let provider = TestProvider::start().await;
    let issuer = provider.issuer().to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert!(!issuer.ends_with('/'));
    assert_eq!(
        provider.metadata_url(),
        format!("{issuer}/.well-known/openid-configuration")
    );
    assert_eq!(provider.url("token"), format!("{issuer}/token"));

    let metadata: Value = http()
        .get(provider.metadata_url())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(metadata["issuer"], json!(issuer));
    assert_eq!(
        metadata["authorization_endpoint"],
        json!(format!("{issuer}/authorize"))
    );
    assert_eq!(metadata["token_endpoint"], json!(format!("{issuer}/token")));
    assert_eq!(
        metadata["userinfo_endpoint"],
        json!(format!("{issuer}/userinfo"))
    );
    assert_eq!(metadata["jwks_uri"], json!(format!("{issuer}/jwks")));
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(metadata["subject_types_supported"], json!(["public"]));
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        metadata["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let scopes = metadata["scopes_supported"].as_array().expect("scopes");
    assert!(scopes.contains(&json!("openid")));
    let claims = metadata["claims_supported"].as_array().expect("claims");
    assert!(claims.contains(&json!("groups")));
    Ok(())
}

#[tokio::test]
async fn iss_parameter_can_be_turned_off() -> TestResult {
    let provider = TestProvider::builder().iss_parameter(false).start().await;
    let metadata: Value = http()
        .get(provider.metadata_url())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        json!(false)
    );
    let params = redirect_params(&authorize(&provider, &auth_params("test-client")).await);
    assert!(params.contains_key("code"));
    assert!(!params.contains_key("iss"), "{params:?}");
    Ok(())
}

#[tokio::test]
async fn jwks_publishes_the_signing_key_and_counts_requests() -> TestResult {
    let provider = TestProvider::start().await;
    assert_eq!(provider.jwks_requests(), 0);
    let set = jwks(&provider).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], json!(provider.current_kid()));
    assert!(key.get("d").is_none(), "private key material published");
    jwks(&provider).await;
    assert_eq!(provider.jwks_requests(), 2);
    Ok(())
}

#[tokio::test]
async fn every_algorithm_signs_verifiable_tokens() -> TestResult {
    for alg in Algorithm::ASYMMETRIC {
        let provider = TestProvider::builder().algorithm(alg).start().await;
        let token = id_token(&provider).await;
        let (header, _) = decode(&token);
        assert_eq!(header["alg"], alg.as_str(), "{alg}");
        assert_eq!(header["kid"], json!(provider.current_kid()), "{alg}");
        let set = jwks(&provider).await;
        let metadata: Value = http()
            .get(provider.metadata_url())
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            metadata["id_token_signing_alg_values_supported"],
            json!([alg.as_str()])
        );
        assert_eq!(set["keys"][0]["alg"], alg.as_str());
        assert!(
            verify_with_jwk(&token, &set["keys"][0]),
            "{alg} does not verify"
        );
    }
    Ok(())
}

#[tokio::test]
async fn hs256_is_keyed_with_the_client_secret() -> TestResult {
    let provider = TestProvider::builder()
        .algorithm(Algorithm::HS256)
        .start()
        .await;
    let token = id_token(&provider).await;
    let (header, _) = decode(&token);
    assert_eq!(header["alg"], "HS256");
    assert!(header.get("kid").is_none());
    assert!(hmac_ok(&token, b"test-secret"));
    assert_eq!(jwks(&provider).await["keys"], json!([]));
    Ok(())
}

#[tokio::test]
async fn rotate_keys_publishes_only_the_new_key() -> TestResult {
    let provider = TestProvider::start().await;
    let before = provider.current_kid();
    let old_token = id_token(&provider).await;
    provider.rotate_keys();
    let after = provider.current_kid();
    assert_ne!(before, after);
    let set = jwks(&provider).await;
    let kids: Vec<&Value> = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids, [&json!(after)]);
    assert!(!verify_with_jwk(&old_token, &set["keys"][0]));
    let new_token = id_token(&provider).await;
    assert_eq!(decode(&new_token).0["kid"], json!(after));
    assert!(verify_with_jwk(&new_token, &set["keys"][0]));
    Ok(())
}

#[tokio::test]
async fn sign_id_token_signs_arbitrary_claims() -> TestResult {
    let provider = TestProvider::start().await;
    let claims = json!({"iss": "anything", "custom": [1, 2, 3]});
    let token = provider.sign_id_token(&claims);
    let (header, decoded) = decode(&token);
    assert_eq!(decoded, claims);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], json!(provider.current_kid()));
    assert!(verify_with_jwk(&token, &jwks(&provider).await["keys"][0]));
    // Misbehaviour does not apply to it.
    provider.misbehave(Misbehavior::AlgNone);
    assert_eq!(decode(&provider.sign_id_token(&claims)).0["alg"], "RS256");
    Ok(())
}

// ----- the authorization endpoint --------------------------------------------

#[tokio::test]
async fn login_hint_signs_in_at_once_with_state_and_iss() -> TestResult {
    let provider = TestProvider::start().await;
    let response = authorize(&provider, &auth_params("test-client")).await;
    assert_eq!(
        response.headers()["cache-control"].to_str()?,
        "no-store",
        "authorization responses must not be cached"
    );
    let params = redirect_params(&response);
    assert_eq!(params["state"], STATE);
    assert_eq!(params["iss"], provider.issuer());
    let code = &params["code"];
    assert!(code.len() >= 43, "a short code: {code}");
    assert_eq!(params.len(), 3, "{params:?}");
    Ok(())
}

#[tokio::test]
async fn login_hint_may_be_an_email_address() -> TestResult {
    let provider = TestProvider::start().await;
    let params = with(
        auth_params("test-client"),
        "login_hint",
        Some("bob@example.com"),
    );
    let code = redirect_params(&authorize(&provider, &params).await)["code"].clone();
    let body: Value = exchange(&provider, &code, VERIFIER).await.json().await?;
    let (_, claims) = decode(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], "bob-sub-0002");
    Ok(())
}

#[tokio::test]
async fn pkce_is_required() -> TestResult {
    let provider = TestProvider::start().await;

    let missing = with(auth_params("test-client"), "code_challenge", None);
    let params = redirect_params(&authorize(&provider, &missing).await);
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    assert!(params["error_description"].contains("code_challenge"));
    assert_eq!(params["state"], STATE);
    assert_eq!(params["iss"], provider.issuer());
    assert!(!params.contains_key("code"));

    let plain = with(
        auth_params("test-client"),
        "code_challenge_method",
        Some("plain"),
    );
    let params = redirect_params(&authorize(&provider, &plain).await);
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    assert!(params["error_description"].contains("S256"));

    let no_method = with(auth_params("test-client"), "code_challenge_method", None);
    let params = redirect_params(&authorize(&provider, &no_method).await);
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    Ok(())
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    let wrong = "xBjftJeZ4CVP-mJ92K9mbRAQiEbDvvW-lFJjqr5sEnQ";
    let response = exchange(&provider, &code, wrong).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["cache-control"].to_str()?, "no-store");
    let body: Value = response.json().await?;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("a description")
            .contains("PKCE"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn missing_code_verifier_is_invalid_grant() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    let response = http()
        .post(provider.url("/token"))
        .basic_auth("test-client", Some("test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await?;
    assert_eq!(body["error"], "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn authorization_request_errors_go_back_to_the_client() -> TestResult {
    let provider = TestProvider::start().await;
    let cases = [
        (
            with(auth_params("test-client"), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (
            with(auth_params("test-client"), "scope", Some("email profile")),
            "invalid_scope",
        ),
        (
            with(auth_params("test-client"), "nonce", None),
            "invalid_request",
        ),
        (
            with(auth_params("test-client"), "code_challenge", Some("short")),
            "invalid_request",
        ),
        (
            with(
                auth_params("test-client"),
                "response_mode",
                Some("fragment"),
            ),
            "invalid_request",
        ),
        (
            with(
                with(auth_params("test-client"), "login_hint", Some("nobody")),
                "prompt",
                Some("none"),
            ),
            "login_required",
        ),
    ];
    for (params, error) in cases {
        let response = authorize(&provider, &params).await;
        let callback = redirect_params(&response);
        assert_eq!(callback["error"], error, "{params:?} -> {callback:?}");
        assert_eq!(callback["state"], STATE);
    }

    // Without state there is nothing to echo.
    let params = with(auth_params("test-client"), "state", None);
    let callback = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(callback["error"], "invalid_request");
    assert!(!callback.contains_key("state"));

    // A repeated parameter.
    let mut params = auth_params("test-client");
    params.push(("scope", "openid".into()));
    let callback = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(callback["error"], "invalid_request");
    assert!(callback["error_description"].contains("scope"));
    Ok(())
}

#[tokio::test]
async fn unknown_client_or_redirect_uri_gets_a_page_not_a_redirect() -> TestResult {
    let provider = TestProvider::builder()
        .client(
            TestClient::confidential("app", "secret", TestClientAuth::Basic)
                .redirect_uri("http://127.0.0.1:8080/cb"),
        )
        .start()
        .await;
    let cases = [
        (
            with(auth_params("app"), "client_id", Some("nobody")),
            "nobody",
        ),
        (with(auth_params("app"), "client_id", None), "client_id"),
        (
            // Registered URIs match exactly: no prefix, no other port.
            with(
                auth_params("app"),
                "redirect_uri",
                Some("http://127.0.0.1:8080/cb/x"),
            ),
            "not registered",
        ),
        (
            with(
                auth_params("app"),
                "redirect_uri",
                Some("http://127.0.0.1:8081/cb"),
            ),
            "not registered",
        ),
        (
            with(auth_params("app"), "redirect_uri", None),
            "redirect_uri",
        ),
    ];
    for (params, needle) in cases {
        let response = authorize(&provider, &params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params:?}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await?;
        assert!(page.contains(needle), "{needle} not in {page}");
    }

    // The registered URI itself works.
    let params = with(
        auth_params("app"),
        "redirect_uri",
        Some("http://127.0.0.1:8080/cb"),
    );
    let response = authorize(&provider, &params).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn default_client_accepts_only_loopback_redirects() -> TestResult {
    let provider = TestProvider::start().await;
    for uri in [
        "http://127.0.0.1:1/x",
        "http://localhost:3000/auth/callback",
        "http://[::1]:8080/cb",
    ] {
        let params = with(auth_params("test-client"), "redirect_uri", Some(uri));
        let response = authorize(&provider, &params).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
    }
    for uri in [
        "https://evil.example/cb",
        "http://evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://user@127.0.0.1:1/cb",
        "not a url",
    ] {
        let params = with(auth_params("test-client"), "redirect_uri", Some(uri));
        let response = authorize(&provider, &params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
    }
    Ok(())
}

#[tokio::test]
async fn sign_in_page_lists_users_escaped_and_posts_back() -> TestResult {
    let provider = TestProvider::builder()
        .user(TestUser::alice())
        .user(TestUser::new("mallory-sub", "<mallory>").name("\"Mal\" & <b>co</b>"))
        .start()
        .await;
    let hostile_state = "\"><script>alert(1)</script>";
    let params = with(
        with(auth_params("test-client"), "login_hint", None),
        "state",
        Some(hostile_state),
    );
    let response = authorize(&provider, &params).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let page = response.text().await?;
    assert!(page.contains("Alice Admin"), "{page}");
    assert!(page.contains("value=\"alice\""), "{page}");
    assert!(page.contains("value=\"&lt;mallory&gt;\""), "{page}");
    assert!(
        page.contains("&quot;Mal&quot; &amp; &lt;b&gt;co&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "unescaped state: {page}");
    assert!(!page.contains("<mallory>"), "unescaped username: {page}");
    assert_eq!(
        page.matches("<form method=\"post\" action=\"/authorize\">")
            .count(),
        2
    );

    // The button's form: the original parameters plus the username.
    let mut form: Vec<(&str, String)> = with(auth_params("test-client"), "login_hint", None);
    form.push(("username", "<mallory>".into()));
    let response = http()
        .post(provider.url("/authorize"))
        .form(&form)
        .send()
        .await?;
    let code = redirect_params(&response)["code"].clone();
    let body: Value = exchange(&provider, &code, VERIFIER).await.json().await?;
    let (_, claims) = decode(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], "mallory-sub");

    // An unknown username is refused.
    let mut form: Vec<(&str, String)> = with(auth_params("test-client"), "login_hint", None);
    form.push(("username", "nobody".into()));
    let response = http()
        .post(provider.url("/authorize"))
        .form(&form)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn form_post_response_mode_answers_an_auto_submitting_form() -> TestResult {
    let provider = TestProvider::start().await;
    let params = with(
        auth_params("test-client"),
        "response_mode",
        Some("form_post"),
    );
    let response = authorize(&provider, &params).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await?;
    assert!(
        page.contains(&format!("<form method=\"post\" action=\"{REDIRECT_URI}\">")),
        "{page}"
    );
    assert!(page.contains("name=\"code\""), "{page}");
    assert!(
        page.contains(&format!("name=\"state\" value=\"{STATE}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("name=\"iss\" value=\"{}\"", provider.issuer())),
        "{page}"
    );
    assert!(page.contains("submit()"), "{page}");
    Ok(())
}

// ----- the token endpoint ------------------------------------------------------

#[tokio::test]
async fn token_response_has_tokens_and_a_well_formed_id_token() -> TestResult {
    let provider = TestProvider::start().await;
    let body = tokens(&provider).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "openid email profile");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access asked"
    );
    let access_token = body["access_token"].as_str().expect("access_token");

    let (header, claims) = decode(body["id_token"].as_str().expect("id_token"));
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["sub"], "alice-sub-0001");
    assert_eq!(claims["aud"], "test-client");
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Admin");
    assert_eq!(
        claims["groups"],
        json!(["d48429bd-9f2a-47a2-a410-993f2a37876b"])
    );
    assert_eq!(claims["at_hash"], json!(at_hash_sha256(access_token)));
    let iat = claims["iat"].as_u64().expect("iat");
    assert!(iat.abs_diff(now()) <= 5);
    assert_eq!(claims["exp"].as_u64().expect("exp"), iat + 300);
    assert!(claims["auth_time"].as_u64().expect("auth_time") <= iat);
    assert!(claims.get("azp").is_none());
    assert!(claims.get("nbf").is_none());
    Ok(())
}

#[tokio::test]
async fn codes_are_single_use() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    assert_eq!(exchange(&provider, &code, VERIFIER).await.status(), 200);
    let again = exchange(&provider, &code, VERIFIER).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await?;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .contains("already used")
    );

    let unknown = exchange(&provider, "no-such-code", VERIFIER).await;
    assert_eq!(unknown.json::<Value>().await?["error"], "invalid_grant");
    assert_eq!(provider.token_requests(), 3);
    Ok(())
}

#[tokio::test]
async fn redirect_uri_must_repeat_the_authorization_request() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    let response = http()
        .post(provider.url("/token"))
        .basic_auth("test-client", Some("test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:49152/other"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["error"], "invalid_grant");
    Ok(())
}

async fn post_token(
    provider: &TestProvider,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = http().post(provider.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("the provider answers /token")
}

async fn code_for(provider: &TestProvider, client_id: &str) -> String {
    redirect_params(&authorize(provider, &auth_params(client_id)).await)["code"].clone()
}

#[tokio::test]
async fn each_client_authentication_method_is_accepted_and_others_refused() -> TestResult {
    // A secret with characters that must be form-urlencoded in Basic.
    let odd_secret = "s3cr:et/with+odd%chars ";
    let provider = TestProvider::builder()
        .client(TestClient::confidential(
            "basic-app",
            odd_secret,
            TestClientAuth::Basic,
        ))
        .client(TestClient::confidential(
            "post-app",
            "post-secret",
            TestClientAuth::Post,
        ))
        .client(TestClient::public("spa"))
        .start()
        .await;
    let grant = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
        ]
    };
    let as_refs =
        |form: &[(&'static str, String)]| -> Vec<(&'static str, String)> { form.to_vec() };

    // client_secret_basic, with RFC 6749 2.3.1 encoding.
    let code = code_for(&provider, "basic-app").await;
    let encoded: String = url::form_urlencoded::byte_serialize(odd_secret.as_bytes()).collect();
    let form = grant(&code);
    let response = http()
        .post(provider.url("/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("basic-app:{encoded}"))),
        )
        .form(&as_refs(&form))
        .send()
        .await?;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    // client_secret_post.
    let code = code_for(&provider, "post-app").await;
    let mut form = grant(&code);
    form.push(("client_id", "post-app".into()));
    form.push(("client_secret", "post-secret".into()));
    let response = http()
        .post(provider.url("/token"))
        .form(&form)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);

    // none (public client).
    let code = code_for(&provider, "spa").await;
    let mut form = grant(&code);
    form.push(("client_id", "spa".into()));
    let response = http()
        .post(provider.url("/token"))
        .form(&form)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);

    // Wrong methods: each refused with 401 invalid_client.
    let refused = [
        // The post client using Basic.
        (Some(("post-app", "post-secret")), vec![]),
        // The basic client using the body.
        (
            None,
            vec![("client_id", "basic-app"), ("client_secret", odd_secret)],
        ),
        // The basic client as a public client.
        (None, vec![("client_id", "basic-app")]),
        // The public client sending a secret.
        (Some(("spa", "anything")), vec![]),
        // A wrong secret.
        (
            None,
            vec![("client_id", "post-app"), ("client_secret", "nope")],
        ),
        // An unknown client.
        (None, vec![("client_id", "stranger")]),
        // No authentication at all.
        (None, vec![]),
    ];
    for (basic, extra) in refused {
        let code = code_for(&provider, "post-app").await;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ];
        form.extend(extra.iter().copied());
        let response = post_token(&provider, basic, &form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{basic:?} {extra:?}"
        );
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(response.headers()["cache-control"].to_str()?, "no-store");
        let body: Value = response.json().await?;
        assert_eq!(body["error"], "invalid_client", "{basic:?} {extra:?}");
    }

    // The secret unencoded in Basic (a common client bug) is refused.
    let code = code_for(&provider, "basic-app").await;
    let response = http()
        .post(provider.url("/token"))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("basic-app:{odd_secret}"))
            ),
        )
        .form(&grant(&code))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    let response = post_token(
        &provider,
        Some(("test-client", "test-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", "test-client"),
            ("client_secret", "test-secret"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["error"], "invalid_request");
    Ok(())
}

#[tokio::test]
async fn unsupported_grant_type_is_refused() -> TestResult {
    let provider = TestProvider::start().await;
    let response = post_token(
        &provider,
        Some(("test-client", "test-secret")),
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await?["error"],
        "unsupported_grant_type"
    );
    Ok(())
}

#[tokio::test]
async fn offline_access_gives_a_rotating_refresh_token() -> TestResult {
    let provider = TestProvider::start().await;
    let params = with(
        auth_params("test-client"),
        "scope",
        Some("openid offline_access"),
    );
    let code = redirect_params(&authorize(&provider, &params).await)["code"].clone();
    let first: Value = exchange(&provider, &code, VERIFIER).await.json().await?;
    let refresh = first["refresh_token"].as_str().expect("a refresh token");
    let first_claims = decode(first["id_token"].as_str().expect("id_token")).1;

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let response = post_token(&provider, Some(("test-client", "test-secret")), &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await?;
    assert_ne!(second["access_token"], first["access_token"]);
    let rotated = second["refresh_token"]
        .as_str()
        .expect("a new refresh token");
    assert_ne!(rotated, refresh);
    let claims = decode(second["id_token"].as_str().expect("id_token")).1;
    assert_eq!(claims["sub"], first_claims["sub"]);
    assert_eq!(claims["auth_time"], first_claims["auth_time"]);
    assert!(claims.get("nonce").is_none());

    // The old refresh token is gone.
    let response = post_token(&provider, Some(("test-client", "test-secret")), &form).await;
    assert_eq!(response.json::<Value>().await?["error"], "invalid_grant");
    Ok(())
}

// ----- userinfo ------------------------------------------------------------------

#[tokio::test]
async fn userinfo_needs_a_bearer_token() -> TestResult {
    let provider = TestProvider::builder()
        .user(TestUser::alice().claim("tid", json!("tenant-1")))
        .start()
        .await;
    let body = tokens(&provider).await;
    let access_token = body["access_token"].as_str().expect("access_token");

    let response = http()
        .get(provider.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let claims: Value = response.json().await?;
    assert_eq!(claims["sub"], "alice-sub-0001");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Admin");
    assert_eq!(
        claims["groups"],
        json!(["d48429bd-9f2a-47a2-a410-993f2a37876b"])
    );
    assert_eq!(claims["tid"], "tenant-1");

    let response = http().get(provider.url("/userinfo")).send().await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()?
            .starts_with("Bearer")
    );

    let response = http()
        .get(provider.url("/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()?
            .contains("invalid_token")
    );
    assert_eq!(provider.userinfo_requests(), 3);
    Ok(())
}

#[tokio::test]
async fn minimal_id_tokens_leave_the_profile_to_userinfo() -> TestResult {
    let provider = TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await;
    let body = tokens(&provider).await;
    let (_, claims) = decode(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], "alice-sub-0001");
    for absent in [
        "preferred_username",
        "email",
        "email_verified",
        "name",
        "groups",
    ] {
        assert!(claims.get(absent).is_none(), "{absent} in {claims}");
    }
    let info: Value = http()
        .get(provider.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().expect("access_token"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["groups"][0], "d48429bd-9f2a-47a2-a410-993f2a37876b");
    Ok(())
}

#[tokio::test]
async fn add_user_makes_a_user_available() -> TestResult {
    let provider = TestProvider::start().await;
    provider.add_user(TestUser::new("carol-sub", "carol"));
    let params = with(auth_params("test-client"), "login_hint", Some("carol"));
    let code = redirect_params(&authorize(&provider, &params).await)["code"].clone();
    let body: Value = exchange(&provider, &code, VERIFIER).await.json().await?;
    let (_, claims) = decode(body["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], "carol-sub");
    assert!(claims.get("email").is_none());
    Ok(())
}

// ----- lifecycle ---------------------------------------------------------------------

#[tokio::test]
async fn dropping_the_provider_stops_the_server() -> TestResult {
    let provider = TestProvider::start().await;
    let address = provider.address();
    // A live keep-alive connection should not keep it serving.
    let client = http();
    assert_eq!(
        client.get(provider.metadata_url()).send().await?.status(),
        200
    );
    let url = provider.metadata_url();
    drop(provider);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = tokio::net::TcpStream::connect(address).await.is_err();
        let failed = client.get(&url).send().await.is_err();
        if refused && failed {
            return Ok(());
        }
        assert!(Instant::now() < deadline, "still serving after drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn providers_are_independent() -> TestResult {
    let (a, b) = tokio::join!(TestProvider::start(), TestProvider::start());
    assert_ne!(a.issuer(), b.issuer());
    assert_ne!(a.current_kid(), b.current_kid());
    a.misbehave(Misbehavior::WrongAudience);
    assert_eq!(decode(&id_token(&b).await).1["aud"], "test-client");
    assert_eq!(a.token_requests(), 0);
    Ok(())
}

#[tokio::test]
async fn unknown_paths_say_what_is_served() -> TestResult {
    let provider = TestProvider::start().await;
    let response = http()
        .get(provider.url("/oauth2/v2.0/token"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await?.contains("/authorize"));
    Ok(())
}

// ----- misbehaviour: one test per broken rule -------------------------------------

/// A provider misbehaving in one way, and the ID token of a login with it.
async fn misbehaving(misbehavior: Misbehavior) -> (TestProvider, Value, Value, String) {
    let provider = TestProvider::start().await;
    provider.misbehave(misbehavior);
    let token = id_token(&provider).await;
    let (header, claims) = decode(&token);
    (provider, header, claims, token)
}

#[tokio::test]
async fn rp_id_token_issuer_mismatch() {
    let (provider, _, claims, _) = misbehaving(Misbehavior::WrongIssuerInToken).await;
    assert_eq!(
        claims["iss"],
        json!(format!("{}/wrong-issuer", provider.issuer()))
    );
}

#[tokio::test]
async fn rp_discovery_issuer_not_matching_config() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::WrongIssuerInMetadata);
    let metadata: Value = http()
        .get(provider.metadata_url())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        metadata["issuer"],
        json!(format!("{}/wrong-issuer", provider.issuer()))
    );
    // The endpoints stay where they are.
    assert_eq!(metadata["token_endpoint"], json!(provider.url("/token")));
    Ok(())
}

#[tokio::test]
async fn wrong_iss_in_callback() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::WrongIssInCallback);
    let params = redirect_params(&authorize(&provider, &auth_params("test-client")).await);
    assert_eq!(params["iss"], format!("{}/wrong-issuer", provider.issuer()));
    assert!(params.contains_key("code"));
}

#[tokio::test]
async fn no_iss_in_callback() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::NoIssInCallback);
    let params = redirect_params(&authorize(&provider, &auth_params("test-client")).await);
    assert!(!params.contains_key("iss"), "{params:?}");
    assert!(params.contains_key("code"));
    let metadata: Value = http()
        .get(provider.metadata_url())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    Ok(())
}

#[tokio::test]
async fn rp_id_token_aud() {
    let (_, _, claims, _) = misbehaving(Misbehavior::WrongAudience).await;
    assert_eq!(claims["aud"], "some-other-client");
}

#[tokio::test]
async fn extra_untrusted_audience() {
    let (_, _, claims, _) =
        misbehaving(Misbehavior::ExtraUntrustedAudience("api://stranger".into())).await;
    assert_eq!(claims["aud"], json!(["test-client", "api://stranger"]));
    assert_eq!(claims["azp"], "test-client");
}

#[tokio::test]
async fn wrong_azp() {
    let (_, _, claims, _) = misbehaving(Misbehavior::WrongAzp).await;
    assert_eq!(claims["aud"], "test-client");
    assert_eq!(claims["azp"], "some-other-client");
}

#[tokio::test]
async fn expired() {
    let (_, _, claims, _) = misbehaving(Misbehavior::Expired).await;
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(exp + 590 <= now(), "exp {exp} is not 10 minutes ago");
    assert!(claims["iat"].as_u64().expect("iat") < exp);
}

#[tokio::test]
async fn issued_in_future() {
    let (_, _, claims, _) = misbehaving(Misbehavior::IssuedInFuture).await;
    assert!(claims["iat"].as_u64().expect("iat") >= now() + 590);
    assert!(claims["exp"].as_u64().expect("exp") > claims["iat"].as_u64().expect("iat"));
}

#[tokio::test]
async fn not_yet_valid() {
    let (_, _, claims, _) = misbehaving(Misbehavior::NotYetValid).await;
    assert!(claims["nbf"].as_u64().expect("nbf") >= now() + 590);
}

#[tokio::test]
async fn rp_nonce_invalid() {
    let (_, _, claims, _) = misbehaving(Misbehavior::WrongNonce).await;
    assert_eq!(claims["nonce"], "not-the-nonce-you-sent");
}

#[tokio::test]
async fn no_nonce() {
    let (_, _, claims, _) = misbehaving(Misbehavior::NoNonce).await;
    assert!(claims.get("nonce").is_none(), "{claims}");
}

#[tokio::test]
async fn rp_id_token_sub() {
    let (_, _, claims, _) = misbehaving(Misbehavior::NoSub).await;
    assert!(claims.get("sub").is_none(), "{claims}");
}

#[tokio::test]
async fn no_exp() {
    let (_, _, claims, _) = misbehaving(Misbehavior::NoExp).await;
    assert!(claims.get("exp").is_none(), "{claims}");
    assert!(claims.get("iat").is_some());
}

#[tokio::test]
async fn rp_id_token_iat() {
    let (_, _, claims, _) = misbehaving(Misbehavior::NoIat).await;
    assert!(claims.get("iat").is_none(), "{claims}");
    assert!(claims.get("exp").is_some());
}

#[tokio::test]
async fn rp_id_token_bad_sig_rs256() {
    let (provider, header, _, token) = misbehaving(Misbehavior::BadSignature).await;
    assert_eq!(header["kid"], json!(provider.current_kid()));
    let set = jwks(&provider).await;
    assert!(!verify_with_jwk(&token, &set["keys"][0]));
    provider.behave();
    assert!(verify_with_jwk(&id_token(&provider).await, &set["keys"][0]));
}

#[tokio::test]
async fn rp_id_token_bad_sig_hs256() {
    let provider = TestProvider::builder()
        .algorithm(Algorithm::HS256)
        .start()
        .await;
    provider.misbehave(Misbehavior::BadSignature);
    let token = id_token(&provider).await;
    assert_eq!(decode(&token).0["alg"], "HS256");
    assert!(!hmac_ok(&token, b"test-secret"));
}

#[tokio::test]
async fn rp_id_token_sig_none() {
    let (_, header, claims, token) = misbehaving(Misbehavior::AlgNone).await;
    assert_eq!(header, json!({"alg": "none", "typ": "JWT"}));
    assert!(token.ends_with('.'), "{token}");
    assert_eq!(claims["sub"], "alice-sub-0001");
}

#[tokio::test]
async fn hmac_with_public_key() {
    use aws_lc_rs::encoding::AsDer as _;
    let (provider, header, _, token) = misbehaving(Misbehavior::HmacWithPublicKey).await;
    assert_eq!(header["alg"], "HS256");
    let set = jwks(&provider).await;
    let jwk = &set["keys"][0];
    let components = signature::RsaPublicKeyComponents {
        n: b64d(jwk["n"].as_str().expect("n")),
        e: b64d(jwk["e"].as_str().expect("e")),
    };
    let der = components.as_der().expect("SPKI DER");
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("ASCII"))
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    assert!(
        hmac_ok(&token, pem.as_bytes()),
        "not keyed with the PEM public key"
    );
}

#[tokio::test]
async fn unknown_kid() {
    let (provider, header, _, token) = misbehaving(Misbehavior::UnknownKid).await;
    let set = jwks(&provider).await;
    let kid = header["kid"].as_str().expect("a kid");
    assert!(
        set["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["kid"] != kid),
        "kid {kid} is in {set}"
    );
    assert!(!verify_with_jwk(&token, &set["keys"][0]));
}

#[tokio::test]
async fn rp_id_token_kid_absent_single_jwks() {
    let (provider, header, _, token) = misbehaving(Misbehavior::NoKid).await;
    assert!(header.get("kid").is_none(), "{header}");
    let set = jwks(&provider).await;
    assert_eq!(set["keys"].as_array().expect("keys").len(), 1);
    assert!(verify_with_jwk(&token, &set["keys"][0]));
}

#[tokio::test]
async fn rp_id_token_kid_absent_multiple_jwks() {
    let (provider, header, _, token) = misbehaving(Misbehavior::NoKidMultipleKeys).await;
    assert!(header.get("kid").is_none(), "{header}");
    let set = jwks(&provider).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kty"], keys[1]["kty"]);
    assert_eq!(
        keys.iter().filter(|k| verify_with_jwk(&token, k)).count(),
        1
    );
}

#[tokio::test]
async fn embedded_jwk() -> TestResult {
    let (provider, header, _, token) = misbehaving(Misbehavior::EmbeddedJwk).await;
    let attacker_jwks = provider.url("/attacker-jwks");
    assert_eq!(header["jku"], json!(attacker_jwks));
    assert_eq!(header["x5u"], json!(attacker_jwks));
    assert!(
        verify_with_jwk(&token, &header["jwk"]),
        "the embedded key signed it"
    );
    // `x5c`: one standard-base64 DER certificate.
    let certificate = STANDARD.decode(header["x5c"][0].as_str().expect("an x5c certificate"))?;
    assert_eq!(certificate.first(), Some(&0x30), "a DER SEQUENCE");
    let set = jwks(&provider).await;
    assert!(!verify_with_jwk(&token, &set["keys"][0]));
    assert!(
        set["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["kid"] != header["kid"])
    );
    let elsewhere: Value = http().get(attacker_jwks).send().await?.json().await?;
    assert_eq!(elsewhere["keys"][0], header["jwk"]);
    Ok(())
}

#[tokio::test]
async fn kid_of_another_key_type() {
    let (provider, header, _, token) = misbehaving(Misbehavior::KidOfAnotherKeyType).await;
    assert_eq!(header["alg"], "RS256");
    assert_ne!(header["kid"], json!(provider.current_kid()));
    let set = jwks(&provider).await;
    let named = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the JWKS publishes the key the kid names");
    assert_eq!(
        (&named["kty"], &named["alg"]),
        (&json!("EC"), &json!("ES256"))
    );
    // ... and signed it with ES256, its own algorithm.
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let mut point = vec![4u8];
    point.extend(b64d(named["x"].as_str().expect("x")));
    point.extend(b64d(named["y"].as_str().expect("y")));
    assert!(
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &b64d(signature))
            .is_ok()
    );
}

#[tokio::test]
async fn signs_with_another_algorithm() {
    let (provider, header, _, token) = misbehaving(Misbehavior::SignsWith(Algorithm::PS256)).await;
    assert_eq!(header["alg"], "PS256");
    let set = jwks(&provider).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "PS256" && verify_with_jwk(&token, k))
    );
}

#[tokio::test]
async fn junk_jwks() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::JunkJwks);
    let set = jwks(&provider).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 7);
    let real = keys.last().expect("the real key comes last");
    assert_eq!(real["kid"], json!(provider.current_kid()));
    assert_eq!(real["use"], "sig");
    assert_eq!(keys[0]["use"], "enc");
    assert_eq!(keys[0]["n"], real["n"]);
}

#[tokio::test]
async fn http_misbehaviour_of_one_endpoint() -> TestResult {
    let provider = TestProvider::start().await;
    let url = provider.metadata_url();
    let genuine = http().get(&url).send().await?.text().await?;
    provider.misbehave(Misbehavior::RedirectEndpoint(
        ".well-known/openid-configuration",
    ));
    let redirect = http().get(&url).send().await?;
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.headers()["location"].to_str()?.to_owned();
    assert_eq!(location, format!("{url}?redirected=true"));
    assert_eq!(http().get(&location).send().await?.text().await?, genuine);
    provider.behave();
    provider.misbehave(Misbehavior::HugeResponse(
        ".well-known/openid-configuration",
    ));
    let padded = http().get(&url).send().await?.bytes().await?;
    assert!(padded.len() > 1024 * 1024);
    assert_eq!(
        serde_json::from_slice::<Value>(&padded)?,
        serde_json::from_str::<Value>(&genuine)?
    );
    // The other endpoints are not touched.
    assert_eq!(
        jwks(&provider).await["keys"].as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn wrong_at_hash() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::WrongAtHash);
    let body = tokens(&provider).await;
    let (_, claims) = decode(body["id_token"].as_str().expect("id_token"));
    let right = at_hash_sha256(body["access_token"].as_str().expect("access_token"));
    assert!(claims["at_hash"].is_string());
    assert_ne!(claims["at_hash"], json!(right));
}

#[tokio::test]
async fn auth_time_missing() {
    let (_, _, claims, _) = misbehaving(Misbehavior::AuthTimeMissing).await;
    assert!(claims.get("auth_time").is_none(), "{claims}");
}

#[tokio::test]
async fn auth_time_old() {
    let (_, _, claims, _) = misbehaving(Misbehavior::AuthTimeOld).await;
    assert!(claims["auth_time"].as_u64().expect("auth_time") <= now() - 86_000);
}

#[tokio::test]
async fn rp_userinfo_bad_sub_claim() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::UserinfoWrongSub);
    let body = tokens(&provider).await;
    assert_eq!(
        decode(body["id_token"].as_str().expect("id_token")).1["sub"],
        "alice-sub-0001"
    );
    let info: Value = http()
        .get(provider.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().expect("access_token"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(info["sub"], "someone-else-0000");
    Ok(())
}

#[tokio::test]
async fn no_id_token() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::NoIdToken);
    let body = tokens(&provider).await;
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn token_endpoint_error() -> TestResult {
    let provider = TestProvider::start().await;
    let code = code(&provider).await;
    provider.misbehave(Misbehavior::TokenEndpointError);
    let response = exchange(&provider, &code, VERIFIER).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["error"], "invalid_grant");
    assert_eq!(provider.token_requests(), 1);
    Ok(())
}

#[tokio::test]
async fn jwe_shaped_id_token() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::Jwe);
    let token = id_token(&provider).await;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5, "{token}");
    let header: Value = serde_json::from_slice(&b64d(parts[0])).expect("a JSON header");
    assert_eq!(header["enc"], "A256GCM");
}

#[tokio::test]
async fn authorize_error() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::AuthorizeError("access_denied".into()));
    let params = redirect_params(&authorize(&provider, &auth_params("test-client")).await);
    assert_eq!(params["error"], "access_denied");
    assert!(params.contains_key("error_description"));
    assert_eq!(params["state"], STATE);
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn slow_responses() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::SlowResponses(Duration::from_millis(400)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()?;
    let result = impatient.get(provider.metadata_url()).send().await;
    assert!(result.is_err_and(|err| err.is_timeout()));
    let started = Instant::now();
    assert_eq!(
        http().get(provider.url("/jwks")).send().await?.status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    provider.behave();
    let started = Instant::now();
    http().get(provider.metadata_url()).send().await?;
    assert!(started.elapsed() < Duration::from_millis(400));
    Ok(())
}

#[tokio::test]
async fn huge_jwks() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::HugeJwks);
    let body = http()
        .get(provider.url("/jwks"))
        .send()
        .await?
        .bytes()
        .await?;
    assert!(body.len() > 1024 * 1024, "only {} bytes", body.len());
    let set: Value = serde_json::from_slice(&body)?;
    assert_eq!(set["keys"][0]["kid"], json!(provider.current_kid()));
    Ok(())
}

#[tokio::test]
async fn redirect_jwks() -> TestResult {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::RedirectJwks);
    let response = http().get(provider.url("/jwks")).send().await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str()?.to_owned();
    assert_eq!(location, provider.url("/jwks-redirected"));
    let set: Value = http().get(location).send().await?.json().await?;
    assert_eq!(set["keys"][0]["kid"], json!(provider.current_kid()));
    assert_eq!(provider.jwks_requests(), 2);
    Ok(())
}

#[tokio::test]
async fn misbehaviours_combine_replace_and_clear() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::WrongAudience);
    provider.misbehave(Misbehavior::AuthorizeError("server_error".into()));
    provider.misbehave(Misbehavior::AuthorizeError(
        "temporarily_unavailable".into(),
    ));
    provider.misbehave(Misbehavior::WrongNonce);
    assert_eq!(
        provider.misbehaviors(),
        [
            Misbehavior::WrongAudience,
            Misbehavior::AuthorizeError("temporarily_unavailable".into()),
            Misbehavior::WrongNonce,
        ]
    );
    provider.misbehave(Misbehavior::AuthorizeError("x".into()));
    provider.behave();
    assert!(provider.misbehaviors().is_empty());

    provider.misbehave(Misbehavior::WrongAudience);
    provider.misbehave(Misbehavior::WrongNonce);
    let (_, claims) = decode(&id_token(&provider).await);
    assert_eq!(claims["aud"], "some-other-client");
    assert_eq!(claims["nonce"], "not-the-nonce-you-sent");
    assert!(format!("{provider:?}").contains("WrongNonce"));
}

// ----- sign_in, the browser stand-in ----------------------------------------------

fn authorization_url(provider: &TestProvider, params: &[(&str, String)]) -> String {
    let mut url = url::Url::parse(&provider.url("/authorize")).expect("a URL");
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

#[tokio::test]
async fn sign_in_returns_the_callback_url() -> TestResult {
    let provider = TestProvider::start().await;
    // Any login_hint in the request is replaced.
    let url = authorization_url(&provider, &auth_params("test-client"));
    let callback = url::Url::parse(&provider.sign_in(&url, "bob").await)?;
    assert_eq!(&callback[..url::Position::AfterPath], REDIRECT_URI);
    let params: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    assert_eq!(params["state"], STATE);
    let body: Value = exchange(&provider, &params["code"], VERIFIER)
        .await
        .json()
        .await?;
    assert_eq!(
        decode(body["id_token"].as_str().expect("id_token")).1["sub"],
        "bob-sub-0002"
    );

    provider.misbehave(Misbehavior::AuthorizeError("access_denied".into()));
    let callback = provider.sign_in(&url, "alice").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    Ok(())
}

#[tokio::test]
#[should_panic(expected = "no user `nobody`; the users are: alice, bob")]
async fn sign_in_names_the_users_when_the_user_is_unknown() {
    let provider = TestProvider::start().await;
    let url = authorization_url(&provider, &auth_params("test-client"));
    provider.sign_in(&url, "nobody").await;
}

#[tokio::test]
#[should_panic(expected = "unknown client_id `stranger`")]
async fn sign_in_says_why_the_provider_refused() {
    let provider = TestProvider::start().await;
    let url = authorization_url(&provider, &auth_params("stranger"));
    provider.sign_in(&url, "alice").await;
}

#[tokio::test]
#[should_panic(expected = "is not this provider's authorization endpoint")]
async fn sign_in_refuses_other_urls() {
    let provider = TestProvider::start().await;
    provider
        .sign_in(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "alice",
        )
        .await;
}
