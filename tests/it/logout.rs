//! Sign-out at the provider: `Client::logout_url` (RP-Initiated Logout 1.0)
//! and `Client::verify_logout_token` (Back-Channel Logout 1.0), each logout
//! token rule broken once.

use crate::common;

use common::{config_builder, login_as};
use oidc_login::testing::TestProvider;
use oidc_login::{Client, Error, LogoutError, RefreshError, TokenError};
use serde_json::{Value, json};

const LOGGED_OUT: &str = "http://127.0.0.1:9/logged-out";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn client(provider: &TestProvider) -> Client {
    common::client_with(
        config_builder(provider)
            .scopes(["openid", "offline_access"])
            .add_post_logout_redirect_uri(LOGGED_OUT),
    )
    .await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_provider_ends_its_session_and_sends_the_browser_back_with_the_state() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let login = login_as(&client, "alice").await.unwrap();

    let logout = client
        .logout_url(Some(&login.tokens.id_token), Some(LOGGED_OUT))
        .expect("the provider has an end_session_endpoint");
    assert!(logout.url.as_str().starts_with(&provider.url("/logout")));
    let state = logout.state.expect("a state goes with the return URI");

    let response = no_redirects().get(logout.url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(&location[..url::Position::AfterPath], LOGGED_OUT);
    let returned: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(
        returned,
        [("state".to_owned(), state.expose_secret().to_owned())]
    );
    assert_eq!(provider.logout_requests(), 1);

    // The provider session is over: its refresh token goes with it.
    let error = client.refresh(&login.tokens).await.unwrap_err();
    assert!(
        matches!(error, Error::Refresh(RefreshError::Refused { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_post_logout_uri_not_configured_is_refused_before_anything_is_sent() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let login = login_as(&client, "alice").await.unwrap();
    for uri in [
        "http://127.0.0.1:9/elsewhere",
        "https://evil.example/logged-out",
    ] {
        let error = client
            .logout_url(Some(&login.tokens.id_token), Some(uri))
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Logout(LogoutError::PostLogoutRedirectNotAllowed { .. })
            ),
            "{uri}: {error:?}"
        );
        assert_eq!(error.code(), "post_logout_redirect_not_allowed");
    }
    assert_eq!(provider.logout_requests(), 0);
}

#[tokio::test]
async fn a_post_logout_uri_off_the_apps_origin_is_a_config_error() {
    let provider = TestProvider::start().await;
    for uri in [
        "https://evil.example/logged-out",
        "http://127.0.0.1:10/logged-out",
        "http://127.0.0.1:9/logged-out#frag",
        "/logged-out",
    ] {
        let error = config_builder(&provider)
            .add_post_logout_redirect_uri(uri)
            .build()
            .unwrap_err();
        assert!(
            error.to_string().contains("post_logout_redirect_uris"),
            "{uri}: {error}"
        );
    }
}

#[tokio::test]
async fn without_a_return_uri_the_provider_shows_its_own_page() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let login = login_as(&client, "alice").await.unwrap();
    let logout = client
        .logout_url(Some(&login.tokens.id_token), None)
        .unwrap();
    assert!(logout.state.is_none());
    let response = no_redirects().get(logout.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Signed out"));
}

// ----- back-channel logout tokens ------------------------------------------

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn logout_claims(provider: &TestProvider) -> Value {
    json!({
        "iss": provider.issuer(),
        "aud": common::CLIENT_ID,
        "iat": now(),
        "exp": now() + 120,
        "jti": format!("jti-{}", rand_suffix()),
        "sid": "provider-session-1",
        "sub": "alice-sub-0001",
        "events": { EVENT: {} },
    })
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn changed(mut claims: Value, name: &str, value: Option<Value>) -> Value {
    match value {
        Some(value) => claims[name] = value,
        None => {
            claims.as_object_mut().unwrap().remove(name);
        }
    }
    claims
}

#[tokio::test]
async fn a_valid_logout_token_names_the_session_and_the_user() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let token = provider.sign_id_token(&logout_claims(&provider));
    let claims = client.verify_logout_token(&token).await.unwrap();
    assert_eq!(claims.issuer, provider.issuer());
    assert_eq!(claims.session_id.as_deref(), Some("provider-session-1"));
    assert_eq!(claims.subject.as_deref(), Some("alice-sub-0001"));

    let replay = client.verify_logout_token(&token).await.unwrap_err();
    assert!(
        matches!(replay, Error::Logout(LogoutError::Replayed)),
        "{replay:?}"
    );
    let clone = client.clone();
    let replay = clone.verify_logout_token(&token).await.unwrap_err();
    assert!(
        matches!(replay, Error::Logout(LogoutError::Replayed)),
        "clones share: {replay:?}"
    );
}

/// Each rule of Back-Channel Logout 1.0 section 2.6, broken by the token.
#[tokio::test]
async fn each_bad_logout_token_is_refused() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let base = || logout_claims(&provider);
    type Check = fn(&Error) -> bool;
    let cases: Vec<(&str, Value, Check)> = vec![
        (
            "wrong iss",
            changed(base(), "iss", Some(json!("https://evil.example"))),
            |e| {
                matches!(
                    e,
                    Error::Logout(LogoutError::Token(TokenError::IssuerMismatch { .. }))
                )
            },
        ),
        (
            "wrong aud",
            changed(base(), "aud", Some(json!("other-client"))),
            |e| {
                matches!(
                    e,
                    Error::Logout(LogoutError::Token(TokenError::AudienceMismatch { .. }))
                )
            },
        ),
        ("no iat", changed(base(), "iat", None), |e| {
            matches!(
                e,
                Error::Logout(LogoutError::Token(TokenError::MissingClaim("iat")))
            )
        }),
        (
            "iat in the future",
            changed(base(), "iat", Some(json!(now() + 600))),
            |e| {
                matches!(
                    e,
                    Error::Logout(LogoutError::Token(TokenError::IssuedInFuture { .. }))
                )
            },
        ),
        (
            "too old",
            changed(base(), "iat", Some(json!(now() - 3600))),
            |e| matches!(e, Error::Logout(LogoutError::TooOld { .. })),
        ),
        (
            "expired",
            changed(base(), "exp", Some(json!(now() - 300))),
            |e| {
                matches!(
                    e,
                    Error::Logout(LogoutError::Token(TokenError::Expired { .. }))
                )
            },
        ),
        ("no jti", changed(base(), "jti", None), |e| {
            matches!(e, Error::Logout(LogoutError::MissingJti))
        }),
        ("no events", changed(base(), "events", None), |e| {
            matches!(e, Error::Logout(LogoutError::MissingEvent))
        }),
        (
            "event not an object",
            changed(base(), "events", Some(json!({ EVENT: true }))),
            |e| matches!(e, Error::Logout(LogoutError::MissingEvent)),
        ),
        (
            "a nonce",
            changed(base(), "nonce", Some(json!("n-0S6_WzA2Mj"))),
            |e| matches!(e, Error::Logout(LogoutError::NoncePresent)),
        ),
        (
            "neither sid nor sub",
            changed(changed(base(), "sid", None), "sub", None),
            |e| matches!(e, Error::Logout(LogoutError::NoSessionOrSubject)),
        ),
    ];
    for (case, claims, expected) in cases {
        let token = provider.sign_id_token(&claims);
        let error = client.verify_logout_token(&token).await.unwrap_err();
        assert!(expected(&error), "{case}: {error:?}");
        assert_eq!(error.code(), "logout_token_refused", "{case}");
    }
}

#[tokio::test]
async fn an_id_token_is_not_a_logout_token() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let login = login_as(&client, "alice").await.unwrap();
    let error = client
        .verify_logout_token(login.tokens.id_token.expose_secret())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Logout(LogoutError::MissingJti | LogoutError::MissingEvent)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn unsigned_forged_and_foreign_logout_tokens_are_refused() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let claims = logout_claims(&provider);
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };

    // alg none, in any spelling.
    for alg in ["none", "None", "NONE"] {
        let token = format!("{}.{}.", b64(&json!({"alg": alg})), b64(&claims));
        let error = client.verify_logout_token(&token).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Logout(LogoutError::Token(
                    TokenError::Unsigned | TokenError::Malformed(_)
                ))
            ),
            "{alg}: {error:?}"
        );
    }

    // A valid signature over other claims: the signature does not verify.
    let good = provider.sign_id_token(&claims);
    let (header, rest) = good.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut forged_claims = claims.clone();
    forged_claims["sub"] = json!("admin-sub");
    let forged = format!("{header}.{}.{signature}", b64(&forged_claims));
    let error = client.verify_logout_token(&forged).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Logout(LogoutError::Token(TokenError::BadSignature))
        ),
        "{error:?}"
    );

    // Signed by another provider's key.
    let other = TestProvider::start().await;
    let foreign = other.sign_id_token(&claims);
    let error = client.verify_logout_token(&foreign).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Logout(LogoutError::Token(
                TokenError::UnknownKey { .. } | TokenError::BadSignature
            ))
        ),
        "{error:?}"
    );
}
