//! Full sign-ins against the embedded provider: every client authentication
//! method, every signing algorithm, userinfo, roles, the required claim, the
//! key cache, and config from TOML.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use oidc_login::testing::{IdTokenClaimsMode, Misbehavior, TestClientAuth, TestProvider, TestUser};
use oidc_login::{
    AccessError, Algorithm, Client, ClientAuth, Config, DiscoveryError, Error, HttpErrorKind,
    IdToken, NoRolePolicy, Nonce, RoleMapping, Source, Start, TokenError, UserinfoPolicy,
};
use serde_json::json;

fn devs_row() -> RoleMapping {
    RoleMapping::new(
        "Maximus Conferencing Developers",
        Source::OpenIdConnect,
        ALICE_GROUP,
        ["Read-write"],
    )
}

#[tokio::test]
async fn sign_in_with_client_secret_basic() {
    let provider = provider_for(Some(TestClientAuth::Basic)).await;
    let client = client_with(config_builder(&provider).add_role_mapping(devs_row())).await;
    let login = login_as(&client, "alice").await.unwrap();
    let id = &login.identity;
    assert_eq!(id.issuer, provider.issuer());
    assert_eq!(id.subject, "alice-sub-0001");
    assert_eq!(id.username.as_deref(), Some("alice"));
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert!(id.email_verified);
    assert_eq!(id.name.as_deref(), Some("Alice Admin"));
    assert_eq!(id.groups, [ALICE_GROUP]);
    assert_eq!(id.roles, ["Read-write"]);
    assert!(login.tokens.expires_at.is_some());
    assert_eq!(provider.token_requests(), 1);
}

#[tokio::test]
async fn sign_in_with_client_secret_post() {
    let provider = provider_for(Some(TestClientAuth::Post)).await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::secret_post(CLIENT_SECRET)))
            .await;
    let login = login_as(&client, "bob").await.unwrap();
    assert_eq!(login.identity.subject, "bob-sub-0002");
}

#[tokio::test]
async fn sign_in_as_a_public_client_with_pkce_alone() {
    let provider = provider_for(None).await;
    let client = client_with(config_builder(&provider).client_auth(ClientAuth::None)).await;
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.subject, "alice-sub-0001");
}

#[tokio::test]
async fn wrong_client_auth_method_is_refused_by_the_provider() {
    let provider = provider_for(Some(TestClientAuth::Basic)).await;
    let client =
        client_with(config_builder(&provider).client_auth(ClientAuth::secret_post(CLIENT_SECRET)))
            .await;
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::Exchange { ref error, .. }) if error == "invalid_client"),
        "{err}"
    );
}

#[tokio::test]
async fn client_credentials_are_form_encoded_before_basic_encoding() {
    // RFC 6749 2.3.1: a client id or secret with reserved characters must be
    // form-urlencoded before the Basic encoding; the provider decodes them so.
    let (id, secret) = ("app:with/odd chars", "s3cret:+&=%");
    let client_reg =
        oidc_login::testing::TestClient::confidential(id, secret, TestClientAuth::Basic)
            .redirect_uri(REDIRECT_URI);
    let provider = TestProvider::builder().client(client_reg).start().await;
    let client = client_with(
        Config::builder(provider.issuer(), id)
            .client_auth(ClientAuth::secret_basic(secret))
            .redirect_uri(REDIRECT_URI),
    )
    .await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn sign_in_with_every_signing_algorithm() {
    for alg in Algorithm::ASYMMETRIC {
        let provider = TestProvider::builder().algorithm(alg).start().await;
        let client = client(&provider).await;
        assert_eq!(client.signing_algorithms(), [alg]);
        let login = login_as(&client, "alice")
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(login.identity.subject, "alice-sub-0001", "{alg}");
    }
}

#[tokio::test]
async fn hmac_id_tokens_only_when_named_with_a_secret() {
    // RFC 7518 3.2: an HS256 key has at least 32 bytes.
    let secret = "a-client-secret-of-32-bytes-0123";
    let registration =
        oidc_login::testing::TestClient::confidential(CLIENT_ID, secret, TestClientAuth::Basic)
            .redirect_uri(REDIRECT_URI);
    let provider = TestProvider::builder()
        .algorithm(Algorithm::HS256)
        .client(registration)
        .start()
        .await;
    let config = || config_builder(&provider).client_auth(ClientAuth::secret_basic(secret));
    // Not named: the provider advertises nothing this client accepts by default.
    let err = Client::discover(config().build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err}");
    // Named, with the client secret as the key.
    let client = client_with(config().allowed_algorithms([Algorithm::HS256])).await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn form_post_callback() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default().form_post()).await;
    assert!(callback.get("code").is_some());
    let login = client.finish(pending, callback).await.unwrap();
    assert_eq!(login.identity.username.as_deref(), Some("alice"));
}

#[tokio::test]
async fn return_to_comes_back_with_the_login() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(
        &client,
        "alice",
        Start::default().return_to("/admin?tab=users"),
    )
    .await;
    let login = client.finish(pending, callback).await.unwrap();
    assert_eq!(login.return_to.as_deref(), Some("/admin?tab=users"));
}

#[tokio::test]
async fn userinfo_fills_claims_the_id_token_lacks() {
    let provider = TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await;
    let client = client_with(config_builder(&provider).add_role_mapping(devs_row())).await;
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(provider.userinfo_requests(), 1);
    assert_eq!(login.identity.username.as_deref(), Some("alice"));
    assert_eq!(login.identity.groups, [ALICE_GROUP]);
    assert_eq!(login.identity.roles, ["Read-write"]);
}

#[tokio::test]
async fn userinfo_is_skipped_when_the_id_token_has_every_claim() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    login_as(&client, "alice").await.unwrap();
    assert_eq!(provider.userinfo_requests(), 0);
}

#[tokio::test]
async fn userinfo_policies_never_and_always() {
    let provider = TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await;
    let never = client_with(config_builder(&provider).userinfo(UserinfoPolicy::Never)).await;
    // The minimal ID token has no username, and userinfo is not asked: the
    // login names no user, and is refused so, naming the claim.
    let err = login_as(&never, "alice").await.unwrap_err();
    assert_eq!(provider.userinfo_requests(), 0);
    assert!(
        matches!(&err, Error::Access(AccessError::MissingUsername { claim }) if claim == "preferred_username"),
        "{err}"
    );
    assert_eq!(err.code(), "username_missing");
    let always = client_with(config_builder(&provider).userinfo(UserinfoPolicy::Always)).await;
    login_as(&always, "alice").await.unwrap();
    assert_eq!(provider.userinfo_requests(), 1);
}

#[tokio::test]
async fn required_claim_passes_on_value_and_array_member() {
    let provider = TestProvider::start().await;
    provider.add_user(TestUser::new("carol-sub", "carol").claim("tid", json!("tenant-1")));
    let client = client_with(config_builder(&provider).required_claim("tid", "tenant-1")).await;
    assert!(login_as(&client, "carol").await.is_ok());
    let client = client_with(config_builder(&provider).required_claim("groups", ALICE_GROUP)).await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn required_claim_refuses_other_values_and_absence_without_echoing_them() {
    let provider = TestProvider::start().await;
    provider.add_user(TestUser::new("carol-sub", "carol").claim("tid", json!("other-tenant")));
    let client = client_with(config_builder(&provider).required_claim("tid", "tenant-1")).await;
    let err = login_as(&client, "carol").await.unwrap_err();
    assert!(
        matches!(err, Error::Access(AccessError::RequiredClaim { ref claim }) if claim == "tid"),
        "{err}"
    );
    assert!(!err.to_string().contains("other-tenant"), "{err}");
    // alice has no `tid` at all.
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Access(AccessError::RequiredClaim { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn unmapped_user_signs_in_with_no_roles_by_default() {
    let provider = TestProvider::start().await;
    let client = client_with(config_builder(&provider).add_role_mapping(devs_row())).await;
    let login = login_as(&client, "bob").await.unwrap();
    assert!(login.identity.roles.is_empty());
}

#[tokio::test]
async fn no_role_policy_refuses_and_says_what_was_read() {
    let provider = TestProvider::start().await;
    let client = client_with(
        config_builder(&provider)
            .add_role_mapping(devs_row())
            .no_role_policy(NoRolePolicy::Refuse),
    )
    .await;
    assert!(login_as(&client, "alice").await.is_ok());
    let err = login_as(&client, "bob").await.unwrap_err();
    match &err {
        Error::Access(AccessError::NoRole { claim, values }) => {
            assert_eq!(claim, "groups");
            assert_eq!(values, &["7c2f0a4e-1111-4a3b-9c55-000000000001"]);
        }
        other => panic!("expected NoRole, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("7c2f0a4e-1111-4a3b-9c55-000000000001"),
        "{err}"
    );
}

#[tokio::test]
async fn custom_role_mapper() {
    #[derive(Debug)]
    struct EveryoneIsViewer;
    impl oidc_login::RoleMapper for EveryoneIsViewer {
        fn roles(&self, identity: &oidc_login::Identity) -> Vec<String> {
            vec!["viewer".into(), format!("user:{}", identity.subject)]
        }
    }
    let provider = TestProvider::start().await;
    let client = client(&provider).await.with_role_mapper(EveryoneIsViewer);
    let login = login_as(&client, "bob").await.unwrap();
    assert_eq!(login.identity.roles, ["user:bob-sub-0002", "viewer"]);
}

#[tokio::test]
async fn rotated_keys_are_fetched_once_on_an_unknown_kid() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    login_as(&client, "alice").await.unwrap();
    let fetched = provider.jwks_requests();
    provider.rotate_keys();
    login_as(&client, "alice").await.unwrap();
    assert_eq!(provider.jwks_requests(), fetched + 1);
    // The new key is cached now.
    login_as(&client, "bob").await.unwrap();
    assert_eq!(provider.jwks_requests(), fetched + 1);
}

fn id_token_claims(provider: &TestProvider, nonce: &str) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "iss": provider.issuer(), "sub": "alice-sub-0001", "aud": CLIENT_ID,
        "exp": now + 300, "iat": now, "nonce": nonce
    })
}

#[tokio::test]
async fn many_concurrent_unknown_kids_share_one_fetch() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let fetched = provider.jwks_requests();
    provider.rotate_keys();
    let token = IdToken::new(provider.sign_id_token(&id_token_claims(&provider, "n")));
    let nonce = Nonce::new("n");
    let client = Arc::new(client);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (client, token, nonce) = (client.clone(), token.clone(), nonce.clone());
            tokio::spawn(async move { client.verify_id_token(&token, &nonce, None).await })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("every caller validates with the refetched key");
    }
    assert_eq!(
        provider.jwks_requests(),
        fetched + 1,
        "one fetch for 32 concurrent callers"
    );
}

/// `token` with its header's `kid` replaced: what an attacker sends to make
/// the app fetch the provider's keys (the signature no longer matters, the
/// key is looked up first).
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"] = json!(kid);
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    format!("{header}.{rest}")
}

/// Tokens from outside (here handed to `verify_id_token`, as a browser or a
/// logout POST would) that name unknown keys cause one refetch per cooldown.
#[tokio::test]
async fn random_kids_cannot_hammer_the_provider() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let fetched = provider.jwks_requests();
    let token = provider.sign_id_token(&id_token_claims(&provider, "n"));
    for i in 0..10 {
        let forged = IdToken::new(with_kid(&token, &format!("attacker-{i}")));
        let err = client
            .verify_id_token(&forged, &Nonce::new("n"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenError::UnknownKey { .. })),
            "{err}"
        );
    }
    assert_eq!(
        provider.jwks_requests(),
        fetched + 1,
        "one refetch per cooldown"
    );
}

/// A token the provider's own token endpoint returns is not held to the
/// cooldown: two key rotations a moment apart both sign users in (each
/// causing one refetch), where the second used to fail with "no key fits".
#[tokio::test]
async fn two_key_rotations_within_the_cooldown_do_not_stop_logins() {
    let provider = TestProvider::start().await;
    let client =
        client_with(config_builder(&provider).jwks_refetch_cooldown(Duration::from_secs(3600)))
            .await;
    login_as(&client, "alice")
        .await
        .expect("before any rotation");
    let fetched = provider.jwks_requests();
    provider.rotate_keys();
    login_as(&client, "alice")
        .await
        .expect("after one rotation");
    provider.rotate_keys();
    login_as(&client, "alice")
        .await
        .expect("after a second rotation");
    assert_eq!(
        provider.jwks_requests(),
        fetched + 2,
        "one refetch per rotation"
    );
    // Still single-flight: concurrent logins after a rotation share a fetch.
    provider.rotate_keys();
    let client = Arc::new(client);
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { login_as(&client, "alice").await })
        })
        .collect();
    for login in logins {
        login
            .await
            .unwrap()
            .expect("a login after the third rotation");
    }
    assert_eq!(
        provider.jwks_requests(),
        fetched + 3,
        "one fetch for 8 logins"
    );
}

/// A provider whose token endpoint names a key its JWKS does not hold
/// fails each login with the key error. Logins that wait while a fetch
/// runs share it, even when it does not find the key: a JWKS that lags
/// behind a rotation costs one fetch per wave of logins, not one each.
#[tokio::test]
async fn a_token_endpoint_naming_an_unknown_key_fails_the_login() {
    let provider = TestProvider::start().await;
    let client = Arc::new(client(&provider).await);
    provider.misbehave(Misbehavior::UnknownKid);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::UnknownKey { .. })),
        "{err}"
    );
    provider.misbehave(Misbehavior::SlowEndpoint("jwks", Duration::from_secs(1)));
    let fetched = provider.jwks_requests();
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { login_as(&client, "alice").await })
        })
        .collect();
    for login in logins {
        let err = login.await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenError::UnknownKey { .. })),
            "{err}"
        );
    }
    assert_eq!(
        provider.jwks_requests(),
        fetched + 1,
        "one fetch for the 8 logins that waited on it"
    );
}

#[tokio::test]
async fn cached_keys_keep_working_through_a_provider_outage() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let good = IdToken::new(provider.sign_id_token(&id_token_claims(&provider, "n")));
    provider.misbehave(Misbehavior::RedirectJwks);
    provider.rotate_keys();
    // A token with an unknown key: the refetch fails, the login is refused,
    // saying the keys could not be fetched (and why)...
    let unknown = IdToken::new(provider.sign_id_token(&id_token_claims(&provider, "n")));
    let err = client
        .verify_id_token(&unknown, &Nonce::new("n"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Discovery(DiscoveryError::KeysUnavailable(cause))
                if matches!(**cause, Error::Http(ref http) if matches!(http.kind(), HttpErrorKind::Redirect(302)))
        ),
        "{err}"
    );
    // ...and a token with a cached key still validates.
    client
        .verify_id_token(&good, &Nonce::new("n"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn config_from_toml_with_the_secret_from_the_environment() {
    let provider = TestProvider::start().await;
    // Set by `.cargo/config.toml` (`[env]`) for every test process.
    assert_eq!(
        std::env::var("OIDC_LOGIN_TEST_TOML_SECRET").as_deref(),
        Ok(CLIENT_SECRET),
        "run the tests with cargo, which sets it from .cargo/config.toml"
    );
    let toml = format!(
        r#"
metadata_url = "{issuer}/.well-known/openid-configuration"
client_id = "{CLIENT_ID}"
client_secret_env = "OIDC_LOGIN_TEST_TOML_SECRET"
auth_method = "client_secret_basic"
redirect_uri = "{REDIRECT_URI}"
scopes = ["openid", "email", "profile", "offline_access"]
username_claim = "preferred_username"
groups_claim = "groups"
login_button_text = "Sign in with the test provider"

[[role_mapping]]
name = "Azure Roles - Maximus Conferencing Developers"
source = "openid_connect"
value = "{ALICE_GROUP}"
roles = ["Read-write"]
"#,
        issuer = provider.issuer()
    );
    let config = Config::from_toml(&toml).unwrap();
    assert!(!format!("{config:?}").contains(CLIENT_SECRET));
    let client = Client::discover(config).await.unwrap();
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-write"]);
    assert!(
        login.tokens.refresh_token.is_some(),
        "offline_access grants a refresh token"
    );
}

#[tokio::test]
async fn secrets_never_reach_debug_or_errors() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let code = callback.get("code").unwrap().to_owned();
    let state = pending.state().expose_secret().to_owned();
    let shown = format!("{pending:?} {callback:?} {client:?} {:?}", client.config());
    for secret in [code.as_str(), state.as_str(), CLIENT_SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let login = client.finish(pending, callback).await.unwrap();
    let shown = format!("{login:?} {:?}", login.tokens);
    for secret in [
        login.tokens.access_token.as_ref().unwrap().expose_secret(),
        login.tokens.id_token.expose_secret(),
        code.as_str(),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // A refused login: the error holds neither code nor tokens.
    provider.misbehave(Misbehavior::BadSignature);
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let code = callback.get("code").unwrap().to_owned();
    let err = client.finish(pending, callback).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(&code), "{shown}");
}

#[tokio::test]
async fn timeouts_apply_to_every_request() {
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::SlowResponses(Duration::from_secs(5)));
    let config = config_builder(&provider)
        .http_timeout(Duration::from_secs(1))
        // A timeout is retried at start-up; here one attempt is enough.
        .discovery_retry(Duration::ZERO)
        .build()
        .unwrap();
    let err = Client::discover(config).await.unwrap_err();
    match err {
        Error::Http(http) => assert_eq!(http.kind(), &oidc_login::HttpErrorKind::Timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_withdrawn_key_stops_being_accepted_once_the_key_set_is_old() {
    let provider = TestProvider::start().await;
    let client = client_with(config_builder(&provider).jwks_max_age(Duration::from_secs(1))).await;
    let old = IdToken::new(provider.sign_id_token(&id_token_claims(&provider, "n")));
    client
        .verify_id_token(&old, &Nonce::new("n"), None)
        .await
        .unwrap();
    // The provider withdraws the key (a leak, say): its JWKS holds only a new one.
    provider.rotate_keys();
    let fetched = provider.jwks_requests();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = client
        .verify_id_token(&old, &Nonce::new("n"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::UnknownKey { .. })),
        "{err}"
    );
    assert_eq!(provider.jwks_requests(), fetched + 1);
}

#[tokio::test]
async fn a_hanging_jwks_endpoint_costs_one_fetch_not_one_per_caller() {
    let provider = TestProvider::start().await;
    let client = client_with(
        config_builder(&provider)
            .http_timeout(Duration::from_secs(1))
            .jwks_refetch_cooldown(Duration::from_secs(1)),
    )
    .await;
    provider.rotate_keys();
    let token = IdToken::new(provider.sign_id_token(&id_token_claims(&provider, "n")));
    let fetched = provider.jwks_requests();
    provider.misbehave(Misbehavior::SlowResponses(Duration::from_secs(3)));
    let client = Arc::new(client);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (client, token) = (client.clone(), token.clone());
            tokio::spawn(
                async move { client.verify_id_token(&token, &Nonce::new("n"), None).await },
            )
        })
        .collect();
    for task in tasks {
        assert!(
            task.await.unwrap().is_err(),
            "the new key could not be fetched"
        );
    }
    assert_eq!(
        provider.jwks_requests(),
        fetched + 1,
        "the waiters did not fetch one after another"
    );
}

/// `username_claim` other than the default: Entra's `upn`, the `email`, a
/// dotted path into a nested object, and a claim the login lacks (refused,
/// naming the claim, never signed in with no username).
#[tokio::test]
async fn username_claim_upn_email_dotted_path_and_missing() {
    let provider = TestProvider::start().await;
    provider.add_user(
        TestUser::new("upn-sub-0001", "una")
            .email("una@contoso.example")
            .claim("upn", json!("una@contoso.onmicrosoft.com"))
            .claim(
                "account",
                json!({"profile": {"login": "u.nakamura"}, "id": 7}),
            ),
    );
    let username = |claim: &str| {
        let builder = config_builder(&provider).username_claim(claim);
        async move {
            let client = client_with(builder).await;
            login_as(&client, "una").await
        }
    };
    for (claim, expected) in [
        ("upn", "una@contoso.onmicrosoft.com"),
        ("email", "una@contoso.example"),
        ("account.profile.login", "u.nakamura"),
        ("preferred_username", "una"),
    ] {
        let login = username(claim).await.unwrap();
        assert_eq!(
            login.identity.username.as_deref(),
            Some(expected),
            "{claim}"
        );
    }
    // Missing, a path that stops short, a number, an object: refused.
    for claim in [
        "unique_name",
        "account.profile.name",
        "account.id",
        "account",
    ] {
        let err = username(claim).await.unwrap_err();
        assert!(
            matches!(&err, Error::Access(AccessError::MissingUsername { claim: c }) if c == claim),
            "{claim}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("`{claim}`")), "{message}");
        assert!(message.contains("username_claim"), "{message}");
    }
    // From TOML, as an admin writes it.
    let toml = format!(
        "metadata_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nredirect_uri = \"{REDIRECT_URI}\"\nusername_claim = \"upn\"\n",
        provider.issuer()
    );
    let client = Client::discover(Config::from_toml(&toml).unwrap())
        .await
        .unwrap();
    let login = login_as(&client, "una").await.unwrap();
    assert_eq!(
        login.identity.username.as_deref(),
        Some("una@contoso.onmicrosoft.com")
    );
}
