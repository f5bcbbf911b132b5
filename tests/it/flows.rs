//! Axidian's three flows against the embedded provider: Authorization Code
//! with PKCE (the default, tested everywhere else), Authorization Code
//! without PKCE, and the implicit flow (`response_type=id_token` by form
//! post), with the implicit flow's refusals.

use crate::common;

use common::*;
use oidc_login::testing::{Misbehavior, TestClient, TestClientAuth, TestProvider};
use oidc_login::{Callback, CallbackError, Client, Config, Error, Flow, Start, TokenError};

fn query(url: &url::Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// A provider whose client may leave PKCE out.
async fn pkce_optional_provider() -> TestProvider {
    TestProvider::builder()
        .client(
            TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                .pkce_required(false),
        )
        .start()
        .await
}

/// A provider whose client may use the implicit flow.
async fn implicit_provider() -> TestProvider {
    TestProvider::builder()
        .client(
            TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                .allow_implicit(),
        )
        .start()
        .await
}

async fn implicit_client(provider: &TestProvider) -> Client {
    client_with(config_builder(provider).insecure_implicit_flow()).await
}

#[tokio::test]
async fn code_flow_without_pkce_sends_no_code_challenge() {
    let provider = pkce_optional_provider().await;
    let client = client_with(config_builder(&provider).flow(Flow::AuthorizationCode)).await;
    let (url, _) = client.start(Start::default()).unwrap();
    let q = query(&url);
    assert_eq!(q["response_type"], "code");
    assert!(!q.contains_key("code_challenge"), "{url}");
    assert!(!q.contains_key("code_challenge_method"), "{url}");
    // The provider refuses a `code_verifier` for a code issued without a
    // challenge, so this login also shows that none was sent.
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.subject, "alice-sub-0001");
    assert!(login.tokens.access_token.is_some());
}

#[tokio::test]
async fn pkce_is_still_sent_and_checked_when_the_provider_makes_it_optional() {
    let provider = pkce_optional_provider().await;
    let client = client(&provider).await;
    let (url, _) = client.start(Start::default()).unwrap();
    assert_eq!(query(&url)["code_challenge_method"], "S256");
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn code_flow_without_pkce_is_refused_by_a_provider_that_requires_it() {
    let provider = TestProvider::start().await;
    let client = client_with(config_builder(&provider).flow(Flow::AuthorizationCode)).await;
    let err = login_as(&client, "alice").await.unwrap_err();
    match &err {
        Error::Callback(CallbackError::Provider { error, description }) => {
            assert_eq!(error, "invalid_request");
            assert!(description.as_deref().unwrap().contains("PKCE"), "{err}");
        }
        other => panic!("expected the provider's refusal, got {other:?}"),
    }
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn a_code_verifier_for_a_code_without_a_challenge_is_refused_by_the_provider() {
    // The provider side of the downgrade rule the test above relies on.
    let provider = pkce_optional_provider().await;
    let client = client_with(config_builder(&provider).flow(Flow::AuthorizationCode)).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let code = callback.get("code").unwrap().to_owned();
    drop(pending);
    let response = reqwest::Client::new()
        .post(provider.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &"v".repeat(43)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no code_challenge"),
        "{body}"
    );
}

#[tokio::test]
async fn implicit_is_refused_unless_enabled_by_name() {
    let provider = implicit_provider().await;
    let toml = format!(
        "metadata_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nredirect_uri = \"{REDIRECT_URI}\"\nflow = \"implicit\"\n",
        provider.issuer()
    );
    let err = Config::from_toml(&toml).unwrap_err();
    assert!(err.to_string().contains("`allow_implicit_flow`"), "{err}");
    let err = config_builder(&provider)
        .flow(Flow::Implicit)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("`allow_implicit_flow`"), "{err}");
    // Named: accepted.
    let config = Config::from_toml(&format!("{toml}allow_implicit_flow = true\n")).unwrap();
    let client = Client::discover(config).await.unwrap();
    assert_eq!(client.config().flow(), Flow::Implicit);
}

#[tokio::test]
async fn implicit_login_works_end_to_end_via_form_post() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    let (url, _) = client.start(Start::default()).unwrap();
    let q = query(&url);
    assert_eq!(q["response_type"], "id_token");
    assert_eq!(q["response_mode"], "form_post");
    assert!(!q.contains_key("code_challenge"));

    let (pending, callback) =
        start_as(&client, "alice", Start::default().return_to("/admin")).await;
    assert!(callback.get("id_token").is_some());
    assert!(callback.get("code").is_none());
    let login = client.finish(pending, callback).await.unwrap();
    assert_eq!(login.identity.subject, "alice-sub-0001");
    assert_eq!(login.identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(login.return_to.as_deref(), Some("/admin"));
    assert!(login.tokens.access_token.is_none());
    assert!(login.tokens.refresh_token.is_none());
    assert!(!login.tokens.id_token.expose_secret().is_empty());
    assert!(login.identity.claim("at_hash").is_none());
    // No code exchange, no userinfo.
    assert_eq!(provider.token_requests(), 0);
    assert_eq!(provider.userinfo_requests(), 0);
}

#[tokio::test]
async fn implicit_id_token_in_a_query_string_is_refused() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    // The same parameters, as if the provider had put them in the URL.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            ["id_token", "state", "iss"]
                .iter()
                .filter_map(|name| callback.get(name).map(|value| (*name, value))),
        )
        .finish();
    let in_url = Callback::from_query(&query).unwrap();
    let err = client.finish(pending, in_url).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::IdTokenInUrl)),
        "{err:?}"
    );
}

#[tokio::test]
async fn implicit_without_nonce_in_the_token_is_refused() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    for misbehavior in [Misbehavior::NoNonce, Misbehavior::WrongNonce] {
        provider.misbehave(misbehavior.clone());
        let err = login_as(&client, "alice").await.unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenError::NonceMismatch)),
            "{misbehavior:?}: {err}"
        );
        provider.behave();
    }
}

#[tokio::test]
async fn implicit_id_token_replayed_into_another_login_is_refused() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    let (_first, stolen) = start_as(&client, "alice", Start::default()).await;
    let (second, genuine) = start_as(&client, "alice", Start::default()).await;
    // The attacker's form: the second login's state, the first one's token.
    let forged = Callback::from_pairs([
        (
            "id_token".to_owned(),
            stolen.get("id_token").unwrap().to_owned(),
        ),
        ("state".to_owned(), genuine.get("state").unwrap().to_owned()),
        ("iss".to_owned(), provider.issuer().to_owned()),
    ])
    .unwrap();
    let err = client.finish(second, forged).await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::NonceMismatch)),
        "{err}"
    );
}

#[tokio::test]
async fn implicit_callback_with_a_code_is_refused() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    for extra in ["code", "access_token"] {
        let (pending, callback) = start_as(&client, "alice", Start::default()).await;
        let mut pairs: Vec<(String, String)> = ["id_token", "state", "iss"]
            .iter()
            .map(|name| (name.to_string(), callback.get(name).unwrap().to_owned()))
            .collect();
        pairs.push((extra.to_owned(), "injected".to_owned()));
        let err = client
            .finish(pending, Callback::from_pairs(pairs).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Callback(CallbackError::UnexpectedParameter(name)) if name == extra),
            "{err}"
        );
    }
    assert_eq!(provider.token_requests(), 0, "nothing was redeemed");
}

#[tokio::test]
async fn implicit_callback_without_an_id_token_is_refused() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let pairs = ["state", "iss"]
        .iter()
        .map(|name| (name.to_string(), callback.get(name).unwrap().to_owned()));
    let err = client
        .finish(pending, Callback::from_pairs(pairs).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::MissingParameter("id_token"))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn implicit_shares_the_code_flow_checks() {
    let provider = implicit_provider().await;
    let client = implicit_client(&provider).await;
    // The signature...
    provider.misbehave(Misbehavior::BadSignature);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::BadSignature)),
        "{err}"
    );
    provider.behave();
    // ...the audience...
    provider.misbehave(Misbehavior::WrongAudience);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::AudienceMismatch { .. })),
        "{err}"
    );
    provider.behave();
    // ...the RFC 9207 `iss` and the `state`.
    provider.misbehave(Misbehavior::WrongIssInCallback);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::IssuerMismatch { .. })),
        "{err}"
    );
    provider.behave();
    let (pending, _) = start_as(&client, "alice", Start::default()).await;
    let (_, other) = start_as(&client, "alice", Start::default()).await;
    let err = client.finish(pending, other).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err}"
    );
}

#[tokio::test]
async fn implicit_is_refused_by_a_provider_that_does_not_offer_it() {
    // Discovery: the default provider lists only `code`.
    let provider = TestProvider::start().await;
    let config = config_builder(&provider)
        .insecure_implicit_flow()
        .build()
        .unwrap();
    let err = Client::discover(config).await.unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err}");
    assert!(err.to_string().contains("`id_token`"), "{err}");

    // A provider that offers it, for another client only.
    let provider = TestProvider::builder()
        .client(TestClient::confidential(
            CLIENT_ID,
            CLIENT_SECRET,
            TestClientAuth::Basic,
        ))
        .client(TestClient::public("spa").allow_implicit())
        .start()
        .await;
    let client = implicit_client(&provider).await;
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::Provider { ref error, .. }) if error == "unauthorized_client"),
        "{err}"
    );
}
