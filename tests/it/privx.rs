//! PrivX as the provider, against the embedded provider taught to behave
//! like it: `private_key_jwt` and `client_secret_jwt` client
//! authentication (and each bad client assertion refused), every signature
//! algorithm PrivX offers, extra audiences with `azp`, an issuer with a path
//! and a trailing `/`, PrivX's client JSON, and the example config.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature;
use aws_lc_rs::{hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use oidc_login::testing::{Misbehavior, TestClient, TestClientAuth, TestProvider};
use oidc_login::{
    Algorithm, ClientAuth, Config, DiscoveryError, Error, IssuerHint, PrivateKeyJwt, TokenError,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::{Value, json};

const PRIVX_PATH: &str = "/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/";
const KID: &str = "app-key-1";
/// RFC 7518 3.2: an HS256 key has at least 32 bytes.
const LONG_SECRET: &str = "a-client-secret-of-32-bytes-0123";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(key_path(name)).unwrap()
}

fn key(name: &str) -> PrivateKeyJwt {
    PrivateKeyJwt::from_pem(fixture(name)).with_kid(KID)
}

/// A provider whose only client is `registration`.
async fn provider_for_client(registration: TestClient) -> TestProvider {
    TestProvider::builder()
        .client(registration.redirect_uri(REDIRECT_URI))
        .start()
        .await
}

/// A provider with a `private_key_jwt` client registered with `key`'s
/// public JWK, and a client for it signing with `key`.
async fn private_key_jwt_pair(key: PrivateKeyJwt) -> (TestProvider, oidc_login::Client) {
    let jwk = key.public_jwk().expect("a usable key");
    let provider = provider_for_client(TestClient::private_key_jwt(CLIENT_ID, jwk)).await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::PrivateKeyJwt(key))).await;
    (provider, client)
}

fn assert_refused_as_invalid_client(err: &Error) {
    assert!(
        matches!(err, Error::Token(TokenError::Exchange { error, .. }) if error == "invalid_client"),
        "{err}"
    );
}

// --- private_key_jwt and client_secret_jwt: sign-in ---------------------

#[tokio::test]
async fn sign_in_with_private_key_jwt_rsa_and_ec_keys() {
    let cases = [
        ("rsa-2048.pem", Algorithm::RS256),
        ("rsa-2048-pkcs1.pem", Algorithm::RS256),
        ("ec-p256.pem", Algorithm::ES256),
        ("ec-p256-sec1.pem", Algorithm::ES256),
        ("ec-p384.pem", Algorithm::ES384),
        ("ec-p521.pem", Algorithm::ES512),
        ("ed25519.pem", Algorithm::EdDSA),
    ];
    for (file, alg) in cases {
        let key = key(file);
        assert_eq!(key.algorithm(), Some(alg), "{file}");
        let (provider, client) = private_key_jwt_pair(key).await;
        let login = login_as(&client, "alice")
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(login.identity.subject, "alice-sub-0001");
        // A second login: a new assertion (the provider refuses a reused `jti`).
        let login = login_as(&client, "bob")
            .await
            .unwrap_or_else(|e| panic!("{file}, second login: {e}"));
        assert_eq!(login.identity.subject, "bob-sub-0002");
        assert_eq!(provider.token_requests(), 2);
    }
}

#[tokio::test]
async fn sign_in_with_private_key_jwt_and_rsa_pss() {
    let key = key("rsa-2048.pem").with_algorithm(Algorithm::PS256);
    let (_provider, client) = private_key_jwt_pair(key).await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn sign_in_with_the_private_key_jwt_shorthand() {
    let pem = fixture("ec-p256.pem");
    let jwk = PrivateKeyJwt::from_pem(pem.as_str())
        .with_kid(KID)
        .public_jwk()
        .unwrap();
    let provider = provider_for_client(TestClient::private_key_jwt(CLIENT_ID, jwk)).await;
    let client = client_with(
        config_builder(&provider).client_auth(ClientAuth::private_key_jwt(pem.as_str(), KID)),
    )
    .await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn the_certificate_thumbprint_is_sent_and_checked() {
    let key = key("rsa-2048.pem").with_certificate_pem(fixture("rsa-2048.crt"));
    let x5t = key.x5t_s256().unwrap().to_owned();
    // Computed with openssl: see tests/fixtures/keys/README.md.
    assert_eq!(x5t, "ul02dTYEQTx6AHdg-cT7Q2CcNRXIKGiuMQxEyMSvJpc");
    let mut jwk = key.public_jwk().unwrap();
    jwk["x5t#S256"] = json!(x5t);
    let provider = provider_for_client(TestClient::private_key_jwt(CLIENT_ID, jwk.clone())).await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::PrivateKeyJwt(key.clone())))
            .await;
    assert!(login_as(&client, "alice").await.is_ok());

    // The provider registered another certificate: the header names the
    // wrong one, and the assertion is refused.
    jwk["x5t#S256"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let provider = provider_for_client(TestClient::private_key_jwt(CLIENT_ID, jwk)).await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::PrivateKeyJwt(key))).await;
    assert_refused_as_invalid_client(&login_as(&client, "alice").await.unwrap_err());
}

#[tokio::test]
async fn sign_in_with_client_secret_jwt() {
    let provider = provider_for_client(TestClient::confidential(
        CLIENT_ID,
        LONG_SECRET,
        TestClientAuth::SecretJwt,
    ))
    .await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::secret_jwt(LONG_SECRET)))
            .await;
    assert!(login_as(&client, "alice").await.is_ok());
    assert!(login_as(&client, "bob").await.is_ok(), "a fresh jti");

    // The wrong secret (of the right length) is refused.
    let other = "another-secret-of-32-bytes-01234";
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::secret_jwt(other))).await;
    assert_refused_as_invalid_client(&login_as(&client, "alice").await.unwrap_err());
}

#[tokio::test]
async fn the_wrong_private_key_is_refused_by_the_provider() {
    let registered = key("rsa-2048.pem").public_jwk().unwrap();
    let provider = provider_for_client(TestClient::private_key_jwt(CLIENT_ID, registered)).await;
    // Same kid, another key.
    let client = client_with(
        config_builder(&provider).client_auth(ClientAuth::PrivateKeyJwt(key("other-rsa-2048.pem"))),
    )
    .await;
    let err = login_as(&client, "alice").await.unwrap_err();
    assert_refused_as_invalid_client(&err);
    assert!(err.to_string().contains("signature"), "{err}");
}

#[tokio::test]
async fn a_jwt_method_the_client_is_not_registered_for_is_refused() {
    // Registered for client_secret_basic, authenticating with client_secret_jwt.
    let provider = provider_for_client(TestClient::confidential(
        CLIENT_ID,
        LONG_SECRET,
        TestClientAuth::Basic,
    ))
    .await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::secret_jwt(LONG_SECRET)))
            .await;
    let err = login_as(&client, "alice").await.unwrap_err();
    assert_refused_as_invalid_client(&err);
    assert!(err.to_string().contains("client_secret_basic"), "{err}");
}

// --- each bad client assertion, sent by hand -----------------------------

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn compact(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// RS256 with the fixture key `file`, signed here, independently of the crate.
fn rs256(file: &str, header: &Value, claims: &Value) -> String {
    let der = PrivateKeyDer::from_pem_slice(fixture(file).as_bytes()).unwrap();
    let pair = signature::RsaKeyPair::from_pkcs8(der.secret_der()).unwrap();
    compact(header, claims, |input| {
        let mut out = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &rand::SystemRandom::new(),
            input,
            &mut out,
        )
        .unwrap();
        out
    })
}

fn header() -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": KID})
}

fn claims(provider: &TestProvider) -> Value {
    let now = now();
    json!({
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": provider.url("/token"),
        "jti": random_jti(),
        "iat": now,
        "exp": now + 60,
    })
}

/// Posts an authorization code grant (with a code that does not exist)
/// authenticated by `assertion`, and returns the status and the error
/// body. A client that authenticates gets `400 invalid_grant` (the code);
/// one that does not gets `401 invalid_client`.
async fn token_request(
    provider: &TestProvider,
    assertion: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", "no-such-code"),
        ("redirect_uri", REDIRECT_URI),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mJ92K9mbRAQiEbDvvW-lFJjqr5sEnQ",
        ),
        ("client_id", CLIENT_ID),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    let response = reqwest::Client::new()
        .post(provider.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn assert_accepted(provider: &TestProvider, assertion: &str) {
    let (status, body) = token_request(provider, assertion, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

async fn assert_refused(provider: &TestProvider, assertion: &str, because: &str) {
    let (status, body) = token_request(provider, assertion, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(because),
        "{description} (expected {because})"
    );
}

async fn rsa_client_provider() -> TestProvider {
    provider_for_client(TestClient::private_key_jwt(
        CLIENT_ID,
        key("rsa-2048.pem").public_jwk().unwrap(),
    ))
    .await
}

#[tokio::test]
async fn a_well_formed_assertion_gets_past_client_authentication() {
    // The control for the refusals below: only the code is wrong.
    let provider = rsa_client_provider().await;
    assert_accepted(
        &provider,
        &rs256("rsa-2048.pem", &header(), &claims(&provider)),
    )
    .await;
}

#[tokio::test]
async fn an_assertion_signed_with_the_wrong_key_is_refused() {
    let provider = rsa_client_provider().await;
    let assertion = rs256("other-rsa-2048.pem", &header(), &claims(&provider));
    assert_refused(&provider, &assertion, "signature does not verify").await;
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let provider = rsa_client_provider().await;
    for aud in [
        json!(provider.issuer()),
        json!("https://attacker.example/token"),
        json!([]),
        json!(format!("{}/", provider.url("/token"))),
    ] {
        let mut claims = claims(&provider);
        claims["aud"] = aud;
        let assertion = rs256("rsa-2048.pem", &header(), &claims);
        assert_refused(&provider, &assertion, "`aud` must be the token endpoint").await;
    }
    // An array holding the token endpoint is fine.
    let mut claims = claims(&provider);
    claims["aud"] = json!([provider.url("/token")]);
    assert_accepted(&provider, &rs256("rsa-2048.pem", &header(), &claims)).await;
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let provider = rsa_client_provider().await;
    let mut claims = claims(&provider);
    claims["iat"] = json!(now() - 120);
    claims["exp"] = json!(now() - 60);
    assert_refused(
        &provider,
        &rs256("rsa-2048.pem", &header(), &claims),
        "expired",
    )
    .await;
    let mut claims = self::claims(&provider);
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &provider,
        &rs256("rsa-2048.pem", &header(), &claims),
        "no `exp`",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let provider = rsa_client_provider().await;
    let assertion = rs256("rsa-2048.pem", &header(), &claims(&provider));
    assert_accepted(&provider, &assertion).await;
    assert_refused(&provider, &assertion, "already used").await;
    // The same jti in a new assertion (another iat) is a replay too.
    let mut first = claims(&provider);
    let jti = first["jti"].clone();
    assert_accepted(&provider, &rs256("rsa-2048.pem", &header(), &first)).await;
    first["iat"] = json!(now() - 1);
    first["jti"] = jti;
    assert_refused(
        &provider,
        &rs256("rsa-2048.pem", &header(), &first),
        "already used",
    )
    .await;
    let mut no_jti = claims(&provider);
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_refused(
        &provider,
        &rs256("rsa-2048.pem", &header(), &no_jti),
        "no `jti`",
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_assertion_is_refused() {
    let provider = rsa_client_provider().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let assertion = compact(&header, &claims(&provider), |_| Vec::new());
        assert_refused(&provider, &assertion, "unsigned").await;
    }
}

#[tokio::test]
async fn an_hmac_assertion_keyed_with_the_public_key_is_refused() {
    // Algorithm confusion: HS256 keyed with the client's public key (PEM).
    let provider = rsa_client_provider().await;
    let public_pem = fixture("rsa-2048.pub.pem");
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": KID});
    let assertion = compact(&header, &claims(&provider), |input| {
        hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, public_pem.as_bytes()),
            input,
        )
        .as_ref()
        .to_vec()
    });
    assert_refused(&provider, &assertion, "registered for `private_key_jwt`").await;
}

#[tokio::test]
async fn other_bad_assertions_are_refused() {
    let provider = rsa_client_provider().await;
    // `iss` and `sub` must both be the client id.
    let mut claims = claims(&provider);
    claims["sub"] = json!("someone-else");
    assert_refused(
        &provider,
        &rs256("rsa-2048.pem", &header(), &claims),
        "differ",
    )
    .await;
    // An unknown client.
    let mut claims = self::claims(&provider);
    claims["iss"] = json!("stranger");
    claims["sub"] = json!("stranger");
    let (status, body) =
        token_request(&provider, &rs256("rsa-2048.pem", &header(), &claims), &[]).await;
    assert_eq!(status, 401, "{body}");
    // A kid that is not the registered key's.
    let header = json!({"alg": "RS256", "kid": "another-kid"});
    let assertion = rs256("rsa-2048.pem", &header, &self::claims(&provider));
    assert_refused(&provider, &assertion, "`kid`").await;
    // Not a JWS at all.
    assert_refused(&provider, "not.a-jwt", "compact JWS").await;
    // An assertion and a client secret at once.
    let assertion = rs256("rsa-2048.pem", &self::header(), &self::claims(&provider));
    let (status, body) = token_request(&provider, &assertion, &[("client_secret", "s")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

// --- every signature algorithm PrivX offers, PrivX-shaped -----------------

/// PrivX's setup end to end, once per ID token algorithm it offers: an
/// issuer with a path and a trailing `/`, a `private_key_jwt` client, and an
/// extra audience.
#[tokio::test]
async fn privx_shaped_sign_in_with_every_privx_algorithm() {
    let key = key("ec-p256.pem");
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let provider = TestProvider::builder()
            .issuer_path(PRIVX_PATH)
            .algorithm(alg)
            .extra_audience("testdomain.local")
            .client(
                TestClient::private_key_jwt(CLIENT_ID, key.public_jwk().unwrap())
                    .redirect_uri(REDIRECT_URI),
            )
            .start()
            .await;
        let client = client_with(
            Config::builder(provider.issuer(), CLIENT_ID)
                .client_auth(ClientAuth::PrivateKeyJwt(key.clone()))
                .redirect_uri(REDIRECT_URI)
                .allowed_algorithms([alg])
                .add_trusted_audience("testdomain.local"),
        )
        .await;
        let login = login_as(&client, "alice")
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(login.identity.issuer, provider.issuer(), "{alg}");
        let header = login
            .tokens
            .id_token
            .expose_secret()
            .split('.')
            .next()
            .unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], alg.as_str());
    }
}

// --- extra audiences and azp -----------------------------------------------

async fn provider_with_extra_audience() -> TestProvider {
    TestProvider::builder()
        .extra_audience("testdomain.local")
        .start()
        .await
}

#[tokio::test]
async fn a_trusted_extra_audience_is_accepted_with_azp() {
    let provider = provider_with_extra_audience().await;
    let client =
        client_with(config_builder(&provider).add_trusted_audience("testdomain.local")).await;
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(
        login.identity.claims["aud"],
        json!([CLIENT_ID, "testdomain.local"])
    );
    assert_eq!(login.identity.claims["azp"], CLIENT_ID);
}

#[tokio::test]
async fn an_extra_audience_not_trusted_is_refused() {
    let provider = provider_with_extra_audience().await;
    let client = client(&provider).await;
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(&err, Error::Token(TokenError::UntrustedAudience { audience }) if audience == "testdomain.local"),
        "{err}"
    );
}

#[tokio::test]
async fn several_audiences_without_azp_are_refused() {
    let provider = provider_with_extra_audience().await;
    let client =
        client_with(config_builder(&provider).add_trusted_audience("testdomain.local")).await;
    provider.misbehave(Misbehavior::NoAzp);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::MissingAuthorizedParty { audiences: 2 })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn several_audiences_with_another_azp_are_refused() {
    let provider = provider_with_extra_audience().await;
    let client =
        client_with(config_builder(&provider).add_trusted_audience("testdomain.local")).await;
    provider.misbehave(Misbehavior::WrongAzp);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::AuthorizedPartyMismatch { .. })
        ),
        "{err}"
    );
}

// --- issuers with a path ---------------------------------------------------

#[tokio::test]
async fn an_issuer_with_a_path_and_a_trailing_slash_discovers_and_signs_in() {
    let provider = TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .start()
        .await;
    assert!(
        provider.issuer().ends_with(PRIVX_PATH),
        "{}",
        provider.issuer()
    );
    assert_eq!(
        provider.metadata_url(),
        format!("{}.well-known/openid-configuration", provider.issuer())
    );
    // Configured by the issuer, or by the metadata URL: the same issuer.
    for configured in [provider.issuer().to_owned(), provider.metadata_url()] {
        let client = client_with(
            Config::builder(configured.as_str(), CLIENT_ID)
                .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
                .redirect_uri(REDIRECT_URI),
        )
        .await;
        assert_eq!(client.issuer(), provider.issuer());
        let (url, pending) = client
            .start(oidc_login::Start::default().login_hint("alice"))
            .unwrap();
        assert_eq!(
            url.as_str().split('?').next(),
            Some(provider.url("/authorize").as_str())
        );
        let returned = authorize(&url).await;
        assert!(
            url::form_urlencoded::parse(returned.as_bytes())
                .any(|(k, v)| k == "iss" && v == provider.issuer()),
            "{returned}"
        );
        let callback = oidc_login::Callback::from_query(&returned).unwrap();
        let login = client.finish(pending, callback).await.unwrap();
        assert_eq!(login.identity.issuer, provider.issuer());
    }
    // Nothing is served outside the path.
    let status = reqwest::get(format!(
        "http://{}/.well-known/openid-configuration",
        provider.address()
    ))
    .await
    .unwrap()
    .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_trailing_slash_difference_says_exactly_what_differs() {
    let provider = TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .start()
        .await;
    let published = provider.issuer().to_owned();
    let configured = published.trim_end_matches('/').to_owned();
    let config = Config::builder(configured.as_str(), CLIENT_ID)
        .redirect_uri(REDIRECT_URI)
        .build()
        .unwrap();
    // The metadata URL is the same either way, so discovery reaches PrivX ...
    assert_eq!(config.metadata_url().as_str(), provider.metadata_url());
    let err = oidc_login::Client::discover(config).await.unwrap_err();
    // ... and the issuers differ by the trailing `/` only.
    match &err {
        Error::Discovery(DiscoveryError::IssuerMismatch {
            configured: c,
            published: p,
            hint,
        }) => {
            assert_eq!(c, &configured);
            assert_eq!(p, &published);
            assert_eq!(hint, &IssuerHint::TrailingSlash);
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&format!("`{published}`")), "{message}");
    assert!(message.contains(&format!("`{configured}`")), "{message}");
    assert!(message.contains("trailing `/`"), "{message}");

    // The other way round: a provider without a trailing `/`, configured with one.
    let provider = TestProvider::start().await;
    let config = Config::builder(format!("{}/", provider.issuer()), CLIENT_ID)
        .redirect_uri(REDIRECT_URI)
        .build()
        .unwrap();
    let err = oidc_login::Client::discover(config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Discovery(DiscoveryError::IssuerMismatch {
                hint: IssuerHint::TrailingSlash,
                ..
            })
        ),
        "{err}"
    );
}

// --- PrivX's client JSON and the example config ---------------------------

/// A PrivX `identity_provider_client` for `provider`, as PrivX's API
/// returns it.
fn privx_client_json(provider: &TestProvider, method: &str) -> String {
    json!({
        "id": "e00a8f60-9051-48d7-a755-cef45801a7cc",
        "name": "oidc-login tests",
        "idp_type": "oidc",
        "enabled": true,
        "oidc_issuer": provider.issuer(),
        "oidc_audience": ["testdomain.local"],
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes_enabled": ["profile", "email", "offline_access", "privx_roles"],
        "oidc_response_types_supported": ["code", "id_token token", "id_token"],
        "oidc_grant_types_supported": ["authorization_code", "refresh_token", "implicit"],
        "oidc_code_challenge_method_enabled": true,
        "oidc_auth_method_enabled": method,
        "oidc_auth_method_post": false,
        "oidc_grant_type_refresh_token": true,
        "oidc_allowed_redirect_uris": [REDIRECT_URI],
        "oidc_signature_algorithm": "ES384",
        "oidc_access_token_valid_in_minutes": 5,
        "oidc_refresh_token_valid_in_minutes": 60,
        "user_filter": ""
    })
    .to_string()
}

#[tokio::test]
async fn a_config_from_privx_client_json_signs_in() {
    let provider = TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .algorithm(Algorithm::ES384)
        .extra_audience("testdomain.local")
        .client(
            TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                .redirect_uri(REDIRECT_URI),
        )
        .start()
        .await;
    let builder =
        Config::from_privx_client_json(&privx_client_json(&provider, "client_secret_basic"))
            .unwrap();
    let client = client_with(builder).await;
    assert_eq!(client.signing_algorithms(), [Algorithm::ES384]);
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.issuer, provider.issuer());
}

#[tokio::test]
async fn a_privx_private_key_jwt_client_signs_in_with_the_apps_key() {
    let key = key("ec-p384.pem");
    let provider = TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .algorithm(Algorithm::ES384)
        .extra_audience("testdomain.local")
        .client(
            TestClient::private_key_jwt(CLIENT_ID, key.public_jwk().unwrap())
                .redirect_uri(REDIRECT_URI),
        )
        .start()
        .await;
    let json = privx_client_json(&provider, "private_key_jwt");
    // Without the key: refused, naming PrivX's member.
    let err = Config::from_privx_client_json(&json)
        .unwrap()
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("oidc_auth_method_enabled"),
        "{err}"
    );
    let builder = Config::from_privx_client_json(&json)
        .unwrap()
        .client_auth(ClientAuth::PrivateKeyJwt(key));
    let login = login_as(&client_with(builder).await, "alice")
        .await
        .unwrap();
    assert_eq!(login.identity.subject, "alice-sub-0001");
}

#[test]
fn a_saml_client_from_privx_is_refused() {
    let json = json!({"id": "x", "idp_type": "saml", "saml_entity_id": "https://sp.example"});
    let err = Config::from_privx_client_json(&json.to_string()).unwrap_err();
    assert!(err.to_string().contains("idp_type"), "{err}");
    assert!(err.to_string().contains("OpenID Connect only"), "{err}");
}

#[test]
fn a_privx_client_without_an_issuer_is_refused_by_name() {
    let json = json!({"idp_type": "oidc", "oidc_client_id": "a", "oidc_client_secret": "s"});
    let err = Config::from_privx_client_json(&json.to_string()).unwrap_err();
    assert_eq!(err.to_string(), "config field `oidc_issuer` is required");
}

#[test]
fn the_privx_example_config_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/privx-private-key-jwt.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    // The key file it names, next to a copy of it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("privx-private-key-jwt.toml"), &text).unwrap();
    std::fs::copy(
        key_path("rsa-2048.pem"),
        dir.path().join("privx-client-key.pem"),
    )
    .unwrap();
    let config = Config::from_file(dir.path().join("privx-private-key-jwt.toml")).unwrap();
    assert!(config.issuer().ends_with('/'), "{}", config.issuer());
    assert!(config.issuer().contains("/oidc/"), "{}", config.issuer());
    let ClientAuth::PrivateKeyJwt(key) = config.client_auth() else {
        panic!("{:?}", config.client_auth());
    };
    assert!(key.kid().is_some());
    assert!(config.scopes().iter().any(|s| s == "privx_roles"));
    assert!(!config.role_mapping().is_empty());
    // Without the key file next to it, the field is named.
    std::fs::remove_file(dir.path().join("privx-client-key.pem")).unwrap();
    let err = Config::from_file(dir.path().join("privx-private-key-jwt.toml")).unwrap_err();
    assert!(err.to_string().contains("private_key_pem_file"), "{err}");
}

// --- secrets ---------------------------------------------------------------

#[tokio::test]
async fn no_key_material_in_debug_or_errors() {
    let pem = fixture("rsa-2048.pem");
    let body_line = pem.lines().nth(1).unwrap().to_owned();
    let signing = PrivateKeyJwt::from_pem(pem.as_str()).with_kid(KID);
    let (provider, client) = private_key_jwt_pair(signing.clone()).await;
    let config = client.config().clone();
    let login = login_as(&client, "alice").await.unwrap();
    let registration = TestClient::private_key_jwt(CLIENT_ID, signing.public_jwk().unwrap());
    let wrong = client_with(
        config_builder(&provider).client_auth(ClientAuth::PrivateKeyJwt(key("other-rsa-2048.pem"))),
    )
    .await;
    let err = login_as(&wrong, "alice").await.unwrap_err();
    for shown in [
        format!("{signing:?}"),
        format!("{:?}", ClientAuth::PrivateKeyJwt(signing.clone())),
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{login:?}"),
        format!("{registration:?}"),
        format!("{err} {err:?}"),
        format!("{provider:?}"),
    ] {
        assert!(!shown.contains(&body_line), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
    let err = Config::builder("https://privx.example/oidc/x/", CLIENT_ID)
        .redirect_uri(REDIRECT_URI)
        .client_auth(ClientAuth::private_key_jwt(
            fixture("rsa-2048-encrypted.pem"),
            KID,
        ))
        .build()
        .unwrap_err();
    let encrypted_line = fixture("rsa-2048-encrypted.pem")
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(!format!("{err} {err:?}").contains(&encrypted_line));
}
