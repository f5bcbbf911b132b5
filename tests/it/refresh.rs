//! `Client::refresh` against the embedded provider: the rotated refresh
//! token, the identity decided afresh, and each OpenID Connect Core 12.2
//! rule broken by the provider.

use crate::common;

use common::{ALICE_GROUP, config_builder, login_as};
use oidc_login::testing::{Misbehavior, TestClient, TestClientAuth, TestProvider, TestUser};
use oidc_login::{Algorithm, Client, Error, Login, RefreshError, RoleMapping, Source};

fn read_write() -> RoleMapping {
    RoleMapping::new(
        "Developers",
        Source::OpenIdConnect,
        ALICE_GROUP,
        ["Read-write"],
    )
}

async fn offline_client(provider: &TestProvider) -> Client {
    common::client_with(
        config_builder(provider)
            .scopes(["openid", "email", "profile", "offline_access"])
            .add_role_mapping(read_write()),
    )
    .await
}

async fn alice_login(client: &Client) -> Login {
    let login = login_as(client, "alice").await.expect("alice signs in");
    assert!(
        login.tokens.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );
    login
}

fn refresh_error(result: Result<Login, Error>) -> RefreshError {
    match result {
        Err(Error::Refresh(error)) => error,
        other => panic!("expected a refresh error, got {other:?}"),
    }
}

/// OpenID Connect Core 11: a request for offline access uses
/// `prompt=consent` (the npm `oidc-provider` issues no refresh token
/// without it). Sent with `offline_access` unless a prompt is configured or
/// given, or the provider is Entra ID (`no_automatic_consent_prompt_to_entra`
/// in `entra.rs`).
#[tokio::test]
async fn offline_access_is_sent_with_prompt_consent() {
    let provider = TestProvider::start().await;
    let prompt_of = |client: &Client, options: oidc_login::Start| {
        let (url, _) = client.start(options).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
    };
    let client = offline_client(&provider).await;
    assert!(client.entra().is_none());
    assert_eq!(
        prompt_of(&client, oidc_login::Start::default()).as_deref(),
        Some("consent")
    );
    assert_eq!(
        prompt_of(&client, oidc_login::Start::default().prompt("login")).as_deref(),
        Some("login")
    );
    alice_login(&client).await;
    let configured = common::client_with(
        config_builder(&provider)
            .scopes(["openid", "offline_access"])
            .prompt("select_account"),
    )
    .await;
    assert_eq!(
        prompt_of(&configured, oidc_login::Start::default()).as_deref(),
        Some("select_account")
    );
    // Without `offline_access`, no prompt.
    let online = common::client(&provider).await;
    assert_eq!(prompt_of(&online, oidc_login::Start::default()), None);
}

#[tokio::test]
async fn a_refresh_rotates_the_tokens_and_keeps_the_user() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    let before = provider.token_requests();

    let refreshed = client.refresh(&login.tokens).await.expect("refresh works");

    assert_eq!(provider.token_requests(), before + 1, "one token request");
    assert_eq!(refreshed.identity.subject, login.identity.subject);
    assert_eq!(refreshed.identity.roles, ["Read-write"]);
    assert!(refreshed.return_to.is_none());
    let old = login.tokens.refresh_token.as_ref().unwrap();
    let new = refreshed.tokens.refresh_token.as_ref().unwrap();
    assert_ne!(
        old, new,
        "the provider rotates refresh tokens; the new one is kept"
    );
    assert_ne!(refreshed.tokens.access_token, login.tokens.access_token);
    assert_ne!(refreshed.tokens.id_token, login.tokens.id_token);
    assert!(refreshed.tokens.expires_at.is_some());

    // The rotated token works; the used one is gone at the provider.
    client
        .refresh(&refreshed.tokens)
        .await
        .expect("the rotated token refreshes");
    let reused = refresh_error(client.refresh(&login.tokens).await);
    assert!(
        matches!(&reused, RefreshError::Refused { error, .. } if error == "invalid_grant"),
        "{reused:?}"
    );
}

#[tokio::test]
async fn a_user_removed_from_a_group_loses_the_role_at_the_next_refresh() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    assert_eq!(login.identity.roles, ["Read-write"]);

    provider.add_user(TestUser::alice().groups(["some-other-group"]));
    let refreshed = client.refresh(&login.tokens).await.expect("refresh works");

    assert_eq!(refreshed.identity.groups, ["some-other-group"]);
    assert!(
        refreshed.identity.roles.is_empty(),
        "{:?}",
        refreshed.identity.roles
    );
}

#[tokio::test]
async fn the_required_claim_is_checked_again() {
    let provider = TestProvider::start().await;
    let client = common::client_with(
        config_builder(&provider)
            .scopes(["openid", "offline_access"])
            .required_claim("department", "ops"),
    )
    .await;
    provider.add_user(TestUser::alice().claim("department", serde_json::json!("ops")));
    let login = alice_login(&client).await;

    provider.add_user(TestUser::alice().claim("department", serde_json::json!("sales")));
    let error = client.refresh(&login.tokens).await.unwrap_err();
    assert!(matches!(error, Error::Access(_)), "{error:?}");
}

#[tokio::test]
async fn a_login_without_a_refresh_token_cannot_refresh() {
    let provider = TestProvider::start().await;
    let client = common::client(&provider).await; // no offline_access
    let login = login_as(&client, "alice").await.unwrap();
    assert!(login.tokens.refresh_token.is_none());
    let error = refresh_error(client.refresh(&login.tokens).await);
    assert!(matches!(error, RefreshError::NoRefreshToken), "{error:?}");
    assert!(error.to_string().contains("offline_access"));
}

#[tokio::test]
async fn a_revoked_refresh_token_is_refused() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    provider.revoke_refresh_tokens();
    let error = refresh_error(client.refresh(&login.tokens).await);
    assert!(
        matches!(&error, RefreshError::Refused { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
}

/// Each rule of OpenID Connect Core 12.2, broken by the provider.
#[tokio::test]
async fn a_refreshed_id_token_about_another_login_is_refused() {
    let provider = TestProvider::builder().nonce_on_refresh(true).start().await;
    let client = offline_client(&provider).await;
    for (misbehavior, claim) in [
        (Misbehavior::RefreshNewSubject, "sub"),
        (Misbehavior::RefreshNewAuthTime, "auth_time"),
        (Misbehavior::RefreshWrongNonce, "nonce"),
    ] {
        let login = alice_login(&client).await;
        provider.misbehave(misbehavior.clone());
        let error = refresh_error(client.refresh(&login.tokens).await);
        provider.behave();
        assert!(
            matches!(error, RefreshError::ClaimChanged { claim: c } if c == claim),
            "{misbehavior:?}: {error:?}"
        );
    }

    let login = alice_login(&client).await;
    provider.misbehave(Misbehavior::RefreshStaleIssuedAt);
    let error = refresh_error(client.refresh(&login.tokens).await);
    assert!(matches!(error, RefreshError::NotFresh { .. }), "{error:?}");
}

#[tokio::test]
async fn the_original_nonce_repeated_is_accepted() {
    let provider = TestProvider::builder().nonce_on_refresh(true).start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    client
        .refresh(&login.tokens)
        .await
        .expect("Entra ID repeats the nonce; that is fine");
}

/// The ID token rules of a login apply to a refreshed ID token too.
#[tokio::test]
async fn a_refreshed_id_token_is_validated_in_full() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    for misbehavior in [
        Misbehavior::WrongAudience,
        Misbehavior::WrongIssuerInToken,
        Misbehavior::BadSignature,
        Misbehavior::Expired,
        Misbehavior::WrongAtHash,
    ] {
        let login = alice_login(&client).await;
        provider.misbehave(misbehavior.clone());
        let error = client.refresh(&login.tokens).await.unwrap_err();
        provider.behave();
        assert!(
            matches!(error, Error::Token(_)),
            "{misbehavior:?}: {error:?}"
        );
    }
}

/// A refresh uses the configured client authentication, the JWT ones too.
#[tokio::test]
async fn refresh_works_with_every_client_authentication() {
    for auth in [
        TestClientAuth::Basic,
        TestClientAuth::Post,
        TestClientAuth::SecretJwt,
    ] {
        let secret = "a-client-secret-of-at-least-32-bytes!";
        let provider = TestProvider::builder()
            .client(TestClient::confidential("app", secret, auth))
            .start()
            .await;
        let client_auth = match auth {
            TestClientAuth::Basic => oidc_login::ClientAuth::secret_basic(secret),
            TestClientAuth::Post => oidc_login::ClientAuth::secret_post(secret),
            _ => oidc_login::ClientAuth::secret_jwt(secret),
        };
        let client = common::client_with(
            oidc_login::Config::builder(provider.issuer(), "app")
                .client_auth(client_auth)
                .redirect_uri(common::REDIRECT_URI)
                .scopes(["openid", "offline_access"]),
        )
        .await;
        let login = alice_login(&client).await;
        client
            .refresh(&login.tokens)
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
    }
}

#[tokio::test]
async fn a_public_client_refreshes_with_an_es256_provider() {
    let provider = TestProvider::builder()
        .algorithm(Algorithm::ES256)
        .client(TestClient::public("spa"))
        .start()
        .await;
    let client = common::client_with(
        oidc_login::Config::builder(provider.issuer(), "spa")
            .redirect_uri(common::REDIRECT_URI)
            .scopes(["openid", "offline_access"]),
    )
    .await;
    let login = alice_login(&client).await;
    let refreshed = client.refresh(&login.tokens).await.expect("refresh works");
    assert_eq!(refreshed.identity.subject, login.identity.subject);
}

/// Without a new ID token, the user's claims come from userinfo afresh,
/// never from the old token: a lost group is lost.
#[tokio::test]
async fn without_a_new_id_token_userinfo_decides_the_groups() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    provider.add_user(TestUser::alice().groups(["another-group"]));
    provider.misbehave(Misbehavior::NoIdToken);
    let before = provider.userinfo_requests();
    let refreshed = client.refresh(&login.tokens).await.expect("refresh works");
    assert_eq!(provider.userinfo_requests(), before + 1);
    assert_eq!(refreshed.identity.groups, ["another-group"]);
    assert!(refreshed.identity.roles.is_empty());
    assert_eq!(refreshed.identity.subject, login.identity.subject);
    assert_eq!(
        refreshed.tokens.id_token, login.tokens.id_token,
        "the original ID token is kept"
    );
}

#[tokio::test]
async fn without_a_new_id_token_or_userinfo_the_refresh_is_refused() {
    let provider = TestProvider::start().await;
    let client = common::client_with(
        config_builder(&provider)
            .scopes(["openid", "email", "profile", "offline_access"])
            .userinfo(oidc_login::UserinfoPolicy::Never),
    )
    .await;
    let login = alice_login(&client).await;
    provider.misbehave(Misbehavior::NoIdToken);
    let error = refresh_error(client.refresh(&login.tokens).await);
    assert!(matches!(error, RefreshError::NoFreshClaims), "{error:?}");
}

/// The grant rotated the refresh token; if userinfo then fails, the
/// session cannot go on with the spent one.
#[tokio::test]
async fn a_failure_after_the_grant_is_a_refresh_error() {
    let provider = TestProvider::start().await;
    let client = offline_client(&provider).await;
    let login = alice_login(&client).await;
    provider.misbehave(Misbehavior::NoIdToken);
    provider.misbehave(Misbehavior::HugeResponse("userinfo"));
    let error = refresh_error(client.refresh(&login.tokens).await);
    assert!(matches!(error, RefreshError::AfterGrant(_)), "{error:?}");
}
