//! APIs protected by the provider's access tokens: RFC 9068 JWT access
//! tokens and Entra ID v2.0 access tokens, from a user's login or a
//! daemon's `client_credentials` grant, checked by `Api` and the axum
//! bearer extractors; every refusal from the hostile side (RFC 6750 answers,
//! an ID token presented as an access token, two providers at once, one
//! answering for another).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use oidc_login::axum::{Bearer, BearerRole, BearerScope, RoleName, ScopeName};
use oidc_login::testing::{
    EntraMode, Misbehavior, TestClient, TestClientAuth, TestProvider, TestUser,
};
use oidc_login::{
    AccessTokenProfile, Api, BearerError, Client, ClientAuth, Config, Error, RoleMapping, Source,
    TenantPolicy,
};
use serde_json::{Value, json};

use crate::common::*;

const API: &str = "https://api.example";
const DAEMON: &str = "nightly-job";
const DAEMON_SECRET: &str = "job-secret";

struct ReportsRead;
impl ScopeName for ReportsRead {
    const SCOPE: &'static str = "reports.read";
}

struct ReadWrite;
impl RoleName for ReadWrite {
    const ROLE: &'static str = "Read-write";
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The login client, and a daemon holding the app role `Jobs.Admin`.
fn clients() -> [TestClient; 2] {
    [
        TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic),
        TestClient::confidential(DAEMON, DAEMON_SECRET, TestClientAuth::Basic)
            .app_roles(["Jobs.Admin"]),
    ]
}

async fn provider() -> TestProvider {
    let [login, daemon] = clients();
    TestProvider::builder()
        .client(login)
        .client(daemon)
        .default_resource(API)
        .start()
        .await
}

/// The app's client, with group and app-role rows both granting `Read-write`.
async fn api_for(provider: &TestProvider) -> Api {
    let client = client_with(
        config_builder(provider)
            .scopes(["openid", "profile", "email", "offline_access"])
            .add_role_mapping(devs_are("Read-write"))
            .add_role_mapping(RoleMapping::new(
                "jobs",
                Source::AppRole,
                "Jobs.Admin",
                ["Read-write"],
            )),
    )
    .await;
    Api::new(&client, [API]).unwrap()
}

/// A `client_credentials` token request; the token response as JSON.
async fn client_credentials(
    provider: &TestProvider,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut body = vec![("grant_type", "client_credentials")];
    body.extend_from_slice(form);
    let response = reqwest::Client::new()
        .post(provider.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn daemon_token(provider: &TestProvider, scope: &str) -> String {
    let (status, body) = client_credentials(
        provider,
        DAEMON,
        DAEMON_SECRET,
        &[("scope", scope), ("resource", API)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The claims of an RFC 9068 access token of `provider` for the API.
fn at_claims(provider: &TestProvider) -> Value {
    json!({
        "iss": provider.issuer(),
        "sub": "alice-sub-0001",
        "aud": API,
        "client_id": CLIENT_ID,
        "jti": "j-1",
        "scope": "reports.read",
        "iat": now(),
        "exp": now() + 300,
    })
}

fn bearer_error(result: Result<impl std::fmt::Debug, Error>) -> BearerError {
    match result {
        Err(Error::Bearer(error)) => error,
        other => panic!("expected a bearer refusal, got {other:?}"),
    }
}

/// Asserts that `result` is a bearer refusal matching the pattern (and
/// shows the refusal when it is not); the refusal, for more checks.
macro_rules! assert_bearer_error {
    ($result:expr, $($pattern:tt)+) => {{
        let error = bearer_error($result);
        assert!(matches!(&error, $($pattern)+), "{error}");
        error
    }};
}

#[tokio::test]
async fn a_daemon_token_from_client_credentials_is_accepted_with_its_app_roles() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    assert_eq!(api.token_profile(), AccessTokenProfile::Jwt);
    assert!(Api::new(api.client(), Vec::<String>::new()).is_err());
    assert!(Api::new(api.client(), [API, ""]).is_err());
    let token = daemon_token(&provider, "reports.read").await;
    let caller = api.authenticate(&token).await.unwrap();
    assert_eq!(caller.claims.subject(), DAEMON);
    assert_eq!(caller.claims.client_id(), DAEMON);
    assert_eq!(caller.claims.scopes(), ["reports.read"]);
    assert_eq!(caller.claims.app_roles(), ["Jobs.Admin"]);
    assert_eq!(caller.identity.app_roles, ["Jobs.Admin"]);
    assert_eq!(caller.identity.roles, ["Read-write"]);
}

#[tokio::test]
async fn the_client_credentials_grant_refuses_what_it_must() {
    let provider = provider().await;
    let (status, body) = client_credentials(&provider, DAEMON, "wrong", &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) =
        client_credentials(&provider, DAEMON, DAEMON_SECRET, &[("scope", "openid")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = client_credentials(
        &provider,
        DAEMON,
        DAEMON_SECRET,
        &[("resource", "not a uri")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = client_credentials(&provider, DAEMON, DAEMON_SECRET, &[]).await;
    assert_eq!(status, 200);
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
}

#[tokio::test]
async fn a_users_login_access_token_is_accepted_and_mapped_like_the_login() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let login = login_as(api.client(), "alice").await.unwrap();
    let token = login.tokens.access_token.as_ref().unwrap();
    let caller = api.authenticate(token.expose_secret()).await.unwrap();
    assert_eq!(caller.claims.subject(), login.identity.subject);
    assert_eq!(caller.claims.client_id(), CLIENT_ID);
    assert!(caller.claims.has_scope("openid"));
    assert_eq!(caller.identity.groups, login.identity.groups);
    assert_eq!(caller.identity.roles, ["Read-write"]);
    assert_eq!(caller.identity.username.as_deref(), Some("alice"));
}

#[tokio::test]
async fn an_id_token_is_never_accepted_as_an_access_token() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let login = login_as(api.client(), "alice").await.unwrap();
    assert_bearer_error!(
        api.verify(login.tokens.id_token.expose_secret()).await,
        BearerError::NotAnAccessToken { typ } if typ.as_deref() == Some("JWT")
    );
    // Even one whose `aud` is the API's: the `typ` tells it apart.
    let id_token = provider.sign_id_token(&at_claims(&provider));
    assert_bearer_error!(
        api.verify(&id_token).await,
        BearerError::NotAnAccessToken { .. }
    );
}

#[tokio::test]
async fn each_claim_check_refuses_from_the_hostile_side() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    api.verify(&provider.sign_access_token(&at_claims(&provider)))
        .await
        .unwrap();
    let refused = |name: &str, value: Value| {
        let mut claims = at_claims(&provider);
        claims[name] = value;
        provider.sign_access_token(&claims)
    };
    let cases = [
        ("aud", json!("https://other-api.example")),
        ("aud", json!(CLIENT_ID)),
        ("iss", json!("https://evil.example")),
        ("exp", json!(now() - 600)),
        ("nbf", json!(now() + 600)),
        ("iat", json!(now() + 600)),
        ("client_id", json!("")),
    ];
    for (name, value) in cases {
        let error = bearer_error(api.verify(&refused(name, value.clone())).await);
        let expected = match name {
            "aud" => matches!(error, BearerError::AudienceMismatch { .. }),
            "iss" => matches!(error, BearerError::IssuerMismatch { .. }),
            "exp" => matches!(error, BearerError::Expired { .. }),
            "nbf" => matches!(error, BearerError::NotYetValid { .. }),
            "iat" => matches!(error, BearerError::IssuedInFuture { .. }),
            _ => matches!(error, BearerError::InvalidClaim { .. }),
        };
        assert!(expected, "{name} = {value}: {error}");
        assert!(!error.to_string().contains("eyJ"), "no token text: {error}");
    }
    for missing in ["sub", "client_id", "jti", "exp"] {
        let mut claims = at_claims(&provider);
        claims.as_object_mut().unwrap().remove(missing);
        assert_bearer_error!(
            api.verify(&provider.sign_access_token(&claims)).await,
            BearerError::MissingClaim(m) if *m == missing
        );
    }
}

#[tokio::test]
async fn signature_attacks_are_refused() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let claims = at_claims(&provider);
    provider.misbehave(Misbehavior::AlgNone);
    assert_bearer_error!(
        api.verify(&provider.sign_access_token(&claims)).await,
        BearerError::Unsigned
    );
    provider.behave();
    provider.misbehave(Misbehavior::BadSignature);
    assert_bearer_error!(
        api.verify(&provider.sign_access_token(&claims)).await,
        BearerError::BadSignature
    );
    provider.behave();
    provider.misbehave(Misbehavior::HmacWithPublicKey);
    assert_bearer_error!(
        api.verify(&provider.sign_access_token(&claims)).await,
        BearerError::AlgorithmNotAllowed { .. }
    );
    provider.behave();
    // Not a JWT at all: an opaque token.
    assert_bearer_error!(
        api.verify("opaque-token-value").await,
        BearerError::Malformed(_)
    );
}

#[tokio::test]
async fn unknown_kids_from_outside_refetch_the_keys_once_per_cooldown() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let fetched = provider.jwks_requests();
    provider.misbehave(Misbehavior::UnknownKid);
    for _ in 0..5 {
        assert_bearer_error!(
            api.verify(&provider.sign_access_token(&at_claims(&provider)))
                .await,
            BearerError::UnknownKey { .. }
        );
    }
    assert_eq!(
        provider.jwks_requests() - fetched,
        1,
        "one refetch for a stream of unknown kids from outside"
    );
}

#[tokio::test]
async fn two_providers_at_once_and_one_answering_for_another() {
    let ours = provider().await;
    let theirs = provider().await;
    let api = api_for(&ours).await;
    // A token of the other provider, for the same API.
    assert_bearer_error!(
        api.verify(&daemon_token(&theirs, "reports.read").await)
            .await,
        BearerError::IssuerMismatch { .. } | BearerError::UnknownKey { .. }
    );
    // The other provider answers for ours: our issuer, its key.
    let forged = theirs.sign_access_token(&at_claims(&ours));
    assert_bearer_error!(
        api.verify(&forged).await,
        BearerError::UnknownKey { .. } | BearerError::BadSignature
    );
    // Each API accepts its own provider's tokens, side by side.
    let their_api = api_for(&theirs).await;
    their_api
        .verify(&daemon_token(&theirs, "reports.read").await)
        .await
        .unwrap();
    api.verify(&daemon_token(&ours, "reports.read").await)
        .await
        .unwrap();
}

/// An API server with the three extractors.
async fn serve(api: Api) -> (String, tokio::task::JoinHandle<()>) {
    let app =
        Router::new()
            .route(
                "/api/me",
                get(|caller: Bearer| async move { caller.claims.subject().to_owned() }),
            )
            .route(
                "/api/reports",
                get(|caller: BearerScope<ReportsRead>| async move {
                    caller.claims.client_id().to_owned()
                }),
            )
            .route(
                "/api/admin",
                get(|caller: BearerRole<ReadWrite>| async move { caller.identity.subject }),
            )
            .route(
                "/api/maybe",
                get(|caller: Option<Bearer>| async move {
                    caller.map_or("anonymous".to_owned(), |c| c.claims.subject().to_owned())
                }),
            )
            .layer(api.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server)
}

async fn get_with(url: &str, authorization: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        challenge,
        response.text().await.unwrap(),
    )
}

#[tokio::test]
async fn the_extractors_answer_as_rfc_6750_says() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let (base, server) = serve(api).await;
    let url = |path: &str| format!("{base}{path}");

    // No token: 401 and a bare challenge.
    let (status, challenge, _) = get_with(&url("/api/me"), None).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer realm=\"https://api.example\"")
    );
    // Another scheme is no bearer token either.
    let (status, _, _) = get_with(&url("/api/me"), Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(status, 401);
    let (_, _, body) = get_with(&url("/api/maybe"), None).await;
    assert_eq!(body, "anonymous");

    // A bad token: 401 invalid_token, and nothing of it echoed.
    let expired = {
        let mut claims = at_claims(&provider);
        claims["exp"] = json!(now() - 600);
        provider.sign_access_token(&claims)
    };
    for path in ["/api/me", "/api/maybe", "/api/reports"] {
        let (status, challenge, body) =
            get_with(&url(path), Some(&format!("Bearer {expired}"))).await;
        assert_eq!(status, 401, "{path}");
        let challenge = challenge.unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"https://api.example\", error=\"invalid_token\""),
            "{challenge}"
        );
        for part in expired.split('.') {
            assert!(!body.contains(part) && !challenge.contains(part));
        }
    }
    // A malformed header: 400 invalid_request.
    let (status, challenge, _) = get_with(&url("/api/me"), Some("Bearer a b")).await;
    assert_eq!(status, 400);
    assert!(challenge.unwrap().contains("error=\"invalid_request\""));

    // A daemon without the scope: 403 insufficient_scope with the scope.
    let token = daemon_token(&provider, "other.scope").await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = get_with(&url("/api/me"), Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (200, DAEMON));
    let (status, challenge, _) = get_with(&url("/api/reports"), Some(&bearer)).await;
    assert_eq!(status, 403);
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"reports.read\""),
        "{challenge}"
    );
    // With it: 200. Its app role maps to `Read-write`.
    let token = daemon_token(&provider, "reports.read").await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = get_with(&url("/api/reports"), Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (200, DAEMON));
    let (status, _, _) = get_with(&url("/api/admin"), Some(&bearer)).await;
    assert_eq!(status, 200);

    // Bob's login token: no group, no role: 403.
    let client = client_with(config_builder(&provider)).await;
    let bob = login_as(&client, "bob").await.unwrap();
    let bearer = format!(
        "Bearer {}",
        bob.tokens.access_token.unwrap().expose_secret()
    );
    let (status, challenge, _) = get_with(&url("/api/admin"), Some(&bearer)).await;
    assert_eq!(status, 403);
    assert!(challenge.unwrap().contains("error=\"insufficient_scope\""));
    server.abort();
}

#[tokio::test]
async fn a_route_without_the_api_layer_answers_500() {
    let app = Router::new().route("/api/me", get(|_: Bearer| async { "no" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/me", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (status, _, _) = get_with(&url, Some("Bearer abc")).await;
    assert_eq!(status, 500);
    server.abort();
}

// ----- Entra ID -------------------------------------------------------------

const HOME: &str = "3c1a0f6e-0000-4000-8000-000000000001";
const PARTNER: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const APP_ID_URI: &str = "api://test-client";

async fn entra_provider() -> TestProvider {
    let [login, daemon] = clients();
    TestProvider::builder()
        .entra(EntraMode::new(HOME))
        .client(login)
        .client(daemon)
        .user(TestUser::alice())
        .user(TestUser::new("pat-sub-0004", "pat").tenant(PARTNER))
        .default_resource(APP_ID_URI)
        .start()
        .await
}

async fn entra_api(provider: &TestProvider, tenant: &str, policy: Option<TenantPolicy>) -> Api {
    let mut builder = Config::entra(tenant, CLIENT_ID)
        .entra_authority(provider.entra_authority())
        .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
        .redirect_uri(REDIRECT_URI)
        .scopes(["openid", "profile", "access_as_user"]);
    if let Some(policy) = policy {
        builder = builder.entra_tenants(policy);
    }
    let client: Client = client_with(builder).await;
    Api::new(&client, [CLIENT_ID, APP_ID_URI]).unwrap()
}

#[tokio::test]
async fn entra_access_tokens_of_a_user_and_a_daemon_are_accepted() {
    let provider = entra_provider().await;
    let api = entra_api(&provider, HOME, None).await;
    assert_eq!(api.token_profile(), AccessTokenProfile::EntraV2);
    let login = login_as(api.client(), "alice").await.unwrap();
    let caller = api
        .authenticate(login.tokens.access_token.as_ref().unwrap().expose_secret())
        .await
        .unwrap();
    assert_eq!(caller.claims.client_id(), CLIENT_ID);
    assert_eq!(caller.claims.scopes(), ["access_as_user"]);
    assert_eq!(caller.claims.claims()["tid"], json!(HOME));

    let (status, body) = client_credentials(
        &provider,
        DAEMON,
        DAEMON_SECRET,
        &[("resource", APP_ID_URI)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let caller = api
        .authenticate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(caller.claims.client_id(), DAEMON);
    assert_eq!(caller.claims.app_roles(), ["Jobs.Admin"]);
    assert!(caller.claims.scopes().is_empty());

    // The login's ID token has the same `aud` (the application id), but
    // it is no access token.
    assert_bearer_error!(
        api.verify(login.tokens.id_token.expose_secret()).await,
        BearerError::NotAnEntraAccessToken { .. }
    );
}

#[tokio::test]
async fn entra_access_tokens_follow_the_tenant_policy() {
    let provider = entra_provider().await;
    let api = entra_api(
        &provider,
        "organizations",
        Some(TenantPolicy::Only(vec![HOME.into()])),
    )
    .await;
    let alice = login_as(api.client(), "alice").await.unwrap();
    api.verify(alice.tokens.access_token.as_ref().unwrap().expose_secret())
        .await
        .unwrap();
    // Pat's tenant is not allowed to sign in, nor to call the API; the
    // token is made as the provider would for a partner's sign-in.
    let mut pat_at = alice_like_entra_claims(&provider, PARTNER);
    pat_at["sub"] = json!("pat-sub-0004");
    let token = provider.sign_id_token(&pat_at);
    assert_bearer_error!(
        api.verify(&token).await,
        BearerError::TenantNotAllowed { .. }
    );
    // v1.0 tokens are refused by name.
    let mut v1 = alice_like_entra_claims(&provider, HOME);
    v1["ver"] = json!("1.0");
    v1["iss"] = json!(format!("https://sts.windows.net/{HOME}/"));
    assert_bearer_error!(
        api.verify(&provider.sign_id_token(&v1)).await,
        BearerError::EntraV1Token { .. }
    );
}

/// An Entra v2.0 access token's claims for the embedded provider in Entra
/// mode, tenant `tid`.
fn alice_like_entra_claims(provider: &TestProvider, tid: &str) -> Value {
    json!({
        "iss": format!("{}/{tid}/v2.0", provider.entra_authority()),
        "sub": "alice-sub-0001",
        "aud": APP_ID_URI,
        "azp": CLIENT_ID,
        "scp": "access_as_user",
        "tid": tid,
        "ver": "2.0",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 300,
    })
}

#[tokio::test]
async fn hmac_access_tokens_are_refused_even_when_id_tokens_may_use_it() {
    const LONG_SECRET: &str = "a-client-secret-of-at-least-32-bytes-for-hs256";
    let provider = TestProvider::builder()
        .algorithm(oidc_login::Algorithm::HS256)
        .client(TestClient::confidential(
            CLIENT_ID,
            LONG_SECRET,
            TestClientAuth::Basic,
        ))
        .start()
        .await;
    let client = client_with(
        config_builder(&provider)
            .client_auth(ClientAuth::secret_basic(LONG_SECRET))
            .allowed_algorithms([oidc_login::Algorithm::HS256]),
    )
    .await;
    // ID tokens signed with the client secret pass...
    login_as(&client, "alice").await.unwrap();
    // ... but an access token so signed is refused.
    let api = Api::new(&client, [API]).unwrap();
    let token = provider.sign_access_token(&at_claims(&provider));
    assert_bearer_error!(
        api.verify(&token).await,
        BearerError::AlgorithmNotAllowed { alg } if alg == "HS256"
    );
}

/// A token whose `sub` and `client_id` carry a line break and a fake log
/// line: the refusal's log line holds them escaped, and forges nothing.
#[tokio::test]
async fn a_sub_with_a_newline_cannot_forge_a_log_line() {
    let provider = provider().await;
    let api = api_for(&provider).await;
    let logs = crate::common::logs::Logs::capture();
    let (base, server) = serve(api).await;
    let forged = "\nINFO oidc_login::axum: bearer request accepted subject=admin";
    let mut claims = at_claims(&provider);
    claims["sub"] = json!(format!("mallory{forged}"));
    claims["client_id"] = json!(format!("{CLIENT_ID}{forged}"));
    claims["scope"] = json!("other.scope");
    let bearer = format!("Bearer {}", provider.sign_access_token(&claims));
    // Refused for the scope, then for the role: both log the caller.
    let (status, _, _) = get_with(&format!("{base}/api/reports"), Some(&bearer)).await;
    assert_eq!(status, 403);
    let (status, _, _) = get_with(&format!("{base}/api/admin"), Some(&bearer)).await;
    assert_eq!(status, 403);
    server.abort();
    let text = logs.text();
    assert!(text.contains("mallory\\nINFO oidc_login::axum"), "{text}");
    assert!(
        text.contains(&format!("{CLIENT_ID}\\nINFO oidc_login::axum")),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|line| line.starts_with("INFO oidc_login::axum: bearer request accepted")),
        "a forged line: {text}"
    );
}

/// A provider off Microsoft's login hosts (here on loopback) whose
/// discovery document has Entra's issuer form and members, reached by a
/// plain metadata URL: recognised as Entra for sign-in, but its access
/// tokens are checked by RFC 9068's rules, so a token without `typ:
/// at+jwt` (an ID token, or an Entra-shaped token) is refused.
#[tokio::test]
async fn an_entra_look_alike_off_microsofts_hosts_keeps_rfc_9068() {
    let provider = entra_provider().await;
    let client = client_with(
        Config::builder(provider.entra_metadata_url(HOME), CLIENT_ID)
            .graph_url(provider.graph_url())
            .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
            .redirect_uri(REDIRECT_URI)
            .scopes(["openid", "profile", "access_as_user"]),
    )
    .await;
    assert!(client.entra().is_some(), "recognised as Entra for sign-in");
    let api = Api::new(&client, [CLIENT_ID, APP_ID_URI]).unwrap();
    assert_eq!(api.token_profile(), AccessTokenProfile::Jwt);
    // An Entra v2.0 access token's claims, header `typ: JWT`.
    let entra_shaped = provider.sign_id_token(&alice_like_entra_claims(&provider, HOME));
    assert_bearer_error!(
        api.verify(&entra_shaped).await,
        BearerError::NotAnAccessToken { .. }
    );
    // The login's ID token, whose `aud` is the application id.
    let login = login_as(&client, "alice").await.unwrap();
    assert_bearer_error!(
        api.verify(login.tokens.id_token.expose_secret()).await,
        BearerError::NotAnAccessToken { .. }
    );
}

/// The config's required claim (`department=ops`) keeps a user out of the
/// API as out of the sign-in: a user's token without it, or with another
/// value, is refused (403 in axum); a daemon's token (no user) is not
/// gated; the opt-out is named for what it does.
#[tokio::test]
async fn a_user_kept_out_by_the_required_claim_is_kept_out_of_the_api() {
    let provider = provider().await;
    let client = client_with(
        config_builder(&provider)
            .required_claim("department", "ops")
            .add_role_mapping(RoleMapping::new(
                "jobs",
                Source::AppRole,
                "Jobs.Admin",
                ["Read-write"],
            )),
    )
    .await;
    let api = Api::new(&client, [API]).unwrap();
    assert!(api.applies_required_claim());
    let token = |department: Option<&str>| {
        let mut claims = at_claims(&provider);
        if let Some(department) = department {
            claims["department"] = json!(department);
        }
        provider.sign_access_token(&claims)
    };
    let (ops, dev, none) = (token(Some("ops")), token(Some("dev")), token(None));
    api.authenticate(&ops).await.unwrap();
    for hostile in [&dev, &none] {
        let error = assert_bearer_error!(
            api.authenticate(hostile).await,
            BearerError::RequiredClaim { claim } if claim == "department"
        );
        assert!(!error.to_string().contains("dev"), "{error}");
    }
    // A daemon's token has no user, so no such claim: not gated.
    let daemon = daemon_token(&provider, "reports.read").await;
    api.authenticate(&daemon).await.unwrap();

    // Through the extractors: 403 `insufficient_scope`, for the user only.
    let (base, server) = serve(api.clone()).await;
    for path in ["/api/me", "/api/reports"] {
        let (status, challenge, body) =
            get_with(&format!("{base}{path}"), Some(&format!("Bearer {none}"))).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            challenge.unwrap().contains("error=\"insufficient_scope\""),
            "{path}"
        );
        assert!(!body.contains("department"), "{body}");
        let (status, _, _) =
            get_with(&format!("{base}{path}"), Some(&format!("Bearer {ops}"))).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, _, _) =
        get_with(&format!("{base}/api/me"), Some(&format!("Bearer {daemon}"))).await;
    assert_eq!(status, 200);
    server.abort();

    // The opt-out, by name.
    let open = api.insecure_skip_required_claim();
    assert!(!open.applies_required_claim());
    open.authenticate(&none).await.unwrap();
}

/// A token not typed as an access token (an ID token's `typ: JWT`) is
/// refused from its header alone: a stream of them naming unknown keys
/// makes no key set request.
#[tokio::test]
async fn a_token_of_another_type_is_refused_before_any_key_lookup() {
    use base64::Engine as _;
    let provider = provider().await;
    let api = api_for(&provider).await;
    let fetched = provider.jwks_requests();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    for kid in ["unknown-1", "unknown-2", "unknown-3"] {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(at_claims(&provider).to_string().as_bytes()),
            b64(b"not a signature")
        );
        assert_bearer_error!(
            api.verify(&token).await,
            BearerError::NotAnAccessToken { .. }
        );
    }
    assert_eq!(provider.jwks_requests(), fetched, "no key set request");
}
