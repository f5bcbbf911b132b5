//! The hostile side: for every rule the client enforces, a test in which the
//! embedded provider (or the callback) breaks it and the login is refused.
//! Tests are named after the OpenID Connect RP conformance case they mirror
//! where there is one; all run offline against the embedded provider.

use crate::common;

use std::time::Duration;

use common::*;
use oidc_login::testing::{IdTokenClaimsMode, Misbehavior, TestProvider};
use oidc_login::{
    Algorithm, CallbackError, Client, DiscoveryError, Error, HttpErrorKind, Start, TokenError,
};

/// A login as alice while the provider misbehaves in one way.
async fn login_while(misbehavior: Misbehavior) -> (TestProvider, Error) {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    provider.misbehave(misbehavior.clone());
    let err = login_as(&client, "alice").await.expect_err(&format!(
        "a login must be refused when the provider misbehaves with {misbehavior:?}"
    ));
    (provider, err)
}

async fn token_error(misbehavior: Misbehavior) -> TokenError {
    match login_while(misbehavior.clone()).await.1 {
        Error::Token(e) => e,
        other => panic!("{misbehavior:?}: expected a token error, got {other:?}"),
    }
}

async fn callback_error(misbehavior: Misbehavior) -> (TestProvider, CallbackError) {
    match login_while(misbehavior.clone()).await {
        (provider, Error::Callback(e)) => (provider, e),
        (_, other) => panic!("{misbehavior:?}: expected a callback error, got {other:?}"),
    }
}

// --- ID token: signature and key ---

#[tokio::test]
async fn rp_id_token_sig_none() {
    assert!(matches!(
        token_error(Misbehavior::AlgNone).await,
        TokenError::Unsigned
    ));
}

#[tokio::test]
async fn alg_none_in_any_letter_case_is_unsigned() {
    for spelling in ["None", "NONE", "nOnE"] {
        let err = token_error(Misbehavior::AlgNoneSpelled(spelling.into())).await;
        assert!(matches!(err, TokenError::Unsigned), "{spelling}: {err}");
    }
}

#[tokio::test]
async fn rp_id_token_bad_sig_rs256() {
    assert!(matches!(
        token_error(Misbehavior::BadSignature).await,
        TokenError::BadSignature
    ));
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_is_refused() {
    // The classic algorithm-confusion attack: HS256 keyed with the RSA public key.
    let err = token_error(Misbehavior::HmacWithPublicKey).await;
    assert!(
        matches!(err, TokenError::AlgorithmNotAllowed { ref alg } if alg == "HS256"),
        "{err}"
    );
}

#[tokio::test]
async fn algorithm_outside_the_allowlist_is_refused() {
    // PS256 from a key the JWKS publishes: only the allow-list stands in the way.
    for allowed in [Some(vec![Algorithm::RS256]), None] {
        let provider = TestProvider::start().await;
        provider.misbehave(Misbehavior::SignsWith(Algorithm::PS256));
        let mut builder = config_builder(&provider);
        if let Some(allowed) = &allowed {
            builder = builder.allowed_algorithms(allowed.iter().copied());
        }
        let err = login_as(&client_with(builder).await, "alice")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenError::AlgorithmNotAllowed { ref alg }) if alg == "PS256"),
            "allowed {allowed:?}: {err}"
        );
    }
    // The same token is accepted once PS256 is allowed.
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::SignsWith(Algorithm::PS256));
    let client = client_with(
        config_builder(&provider).allowed_algorithms([Algorithm::RS256, Algorithm::PS256]),
    )
    .await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn kid_of_a_key_of_another_type_or_curve_is_refused() {
    // RS256 naming an EC key; ES256 naming a P-384 key. Each token is signed
    // by the key its `kid` names, which the JWKS publishes.
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let provider = TestProvider::builder().algorithm(alg).start().await;
        provider.misbehave(Misbehavior::KidOfAnotherKeyType);
        let client = client_with(config_builder(&provider).allowed_algorithms([
            alg,
            Algorithm::ES256,
            Algorithm::ES384,
        ]))
        .await;
        let err = login_as(&client, "alice").await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Token(TokenError::UnknownKey { kid: Some(_), alg: ref used }) if used == alg.as_str()
            ),
            "{alg}: {err}"
        );
    }
}

#[tokio::test]
async fn unusable_jwks_entries_are_skipped() {
    // `use: enc`, unknown `kty`, unknown curve, RSA 1024, malformed, not an
    // object: all under the real key's `kid`, before it.
    let provider = TestProvider::start().await;
    provider.misbehave(Misbehavior::JunkJwks);
    let client = client(&provider).await;
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn rp_id_token_kid_unknown_after_refetch() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let fetched = provider.jwks_requests();
    provider.misbehave(Misbehavior::UnknownKid);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::UnknownKey { kid: Some(_), .. })
        ),
        "{err}"
    );
    assert_eq!(
        provider.jwks_requests(),
        fetched + 1,
        "the keys were fetched again once"
    );
}

#[tokio::test]
async fn rp_id_token_kid_absent_single_jwks() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::NoKid);
    // No `kid`: checked against the keys that fit the algorithm.
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn rp_id_token_kid_absent_multiple_jwks() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::NoKidMultipleKeys);
    assert!(
        login_as(&client, "alice").await.is_ok(),
        "every key that fits the algorithm is tried"
    );
}

/// `jwk`, `jku`, `x5u` and `x5c` (a certificate of the attacker's key).
#[tokio::test]
async fn key_embedded_in_the_header_is_never_used() {
    let err = token_error(Misbehavior::EmbeddedJwk).await;
    assert!(
        matches!(
            err,
            TokenError::UnknownKey { .. } | TokenError::BadSignature
        ),
        "{err}"
    );
}

#[tokio::test]
async fn encrypted_id_token_is_refused() {
    assert!(matches!(
        token_error(Misbehavior::Jwe).await,
        TokenError::Malformed(_)
    ));
}

// --- ID token: claims ---

#[tokio::test]
async fn rp_id_token_iss_mismatch() {
    let err = token_error(Misbehavior::WrongIssuerInToken).await;
    assert!(matches!(err, TokenError::IssuerMismatch { .. }), "{err}");
}

#[tokio::test]
async fn rp_id_token_aud() {
    let err = token_error(Misbehavior::WrongAudience).await;
    assert!(matches!(err, TokenError::AudienceMismatch { .. }), "{err}");
}

#[tokio::test]
async fn untrusted_extra_audience_is_refused() {
    let err = token_error(Misbehavior::ExtraUntrustedAudience("other-api".into())).await;
    assert!(
        matches!(err, TokenError::UntrustedAudience { ref audience } if audience == "other-api"),
        "{err}"
    );
}

#[tokio::test]
async fn trusted_extra_audience_is_accepted() {
    let provider = TestProvider::start().await;
    let client = client_with(config_builder(&provider).add_trusted_audience("other-api")).await;
    provider.misbehave(Misbehavior::ExtraUntrustedAudience("other-api".into()));
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn azp_for_another_client_is_refused() {
    let err = token_error(Misbehavior::WrongAzp).await;
    assert!(
        matches!(err, TokenError::AuthorizedPartyMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn rp_id_token_expired() {
    assert!(matches!(
        token_error(Misbehavior::Expired).await,
        TokenError::Expired { .. }
    ));
}

#[tokio::test]
async fn rp_id_token_iat_in_the_future() {
    assert!(matches!(
        token_error(Misbehavior::IssuedInFuture).await,
        TokenError::IssuedInFuture { .. }
    ));
}

#[tokio::test]
async fn id_token_not_yet_valid() {
    assert!(matches!(
        token_error(Misbehavior::NotYetValid).await,
        TokenError::NotYetValid { .. }
    ));
}

#[tokio::test]
async fn rp_id_token_iat_missing() {
    assert!(matches!(
        token_error(Misbehavior::NoIat).await,
        TokenError::MissingClaim("iat")
    ));
}

#[tokio::test]
async fn id_token_exp_missing() {
    assert!(matches!(
        token_error(Misbehavior::NoExp).await,
        TokenError::MissingClaim("exp")
    ));
}

#[tokio::test]
async fn rp_id_token_sub() {
    assert!(matches!(
        token_error(Misbehavior::NoSub).await,
        TokenError::MissingClaim("sub")
    ));
}

#[tokio::test]
async fn rp_nonce_invalid() {
    assert!(matches!(
        token_error(Misbehavior::WrongNonce).await,
        TokenError::NonceMismatch
    ));
}

#[tokio::test]
async fn rp_nonce_missing() {
    assert!(matches!(
        token_error(Misbehavior::NoNonce).await,
        TokenError::NonceMismatch
    ));
}

#[tokio::test]
async fn rp_id_token_bad_at_hash() {
    assert!(matches!(
        token_error(Misbehavior::WrongAtHash).await,
        TokenError::AccessTokenHashMismatch
    ));
}

#[tokio::test]
async fn auth_time_required_when_max_age_was_sent() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::AuthTimeMissing);
    // Without max_age, auth_time is not required.
    assert!(login_as(&client, "alice").await.is_ok());
    let (pending, callback) = start_as(&client, "alice", Start::default().max_age(600)).await;
    let err = client.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::MissingClaim("auth_time"))),
        "{err}"
    );
}

#[tokio::test]
async fn auth_time_older_than_max_age_is_refused() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::AuthTimeOld);
    let (pending, callback) = start_as(&client, "alice", Start::default().max_age(600)).await;
    let err = client.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::AuthenticationTooOld { max_age: 600, .. })
        ),
        "{err}"
    );
}

// --- token and userinfo responses ---

#[tokio::test]
async fn token_response_without_id_token() {
    assert!(matches!(
        token_error(Misbehavior::NoIdToken).await,
        TokenError::MissingIdToken
    ));
}

#[tokio::test]
async fn token_endpoint_error_is_reported_with_its_code() {
    let err = token_error(Misbehavior::TokenEndpointError).await;
    assert!(
        matches!(err, TokenError::Exchange { ref error, .. } if error == "invalid_grant"),
        "{err}"
    );
}

/// A client whose requests time out after 1 s, for a provider that puts
/// the profile in userinfo (so it is fetched).
async fn impatient_client(provider: &TestProvider) -> Client {
    client_with(config_builder(provider).http_timeout(Duration::from_secs(1))).await
}

async fn minimal_provider() -> TestProvider {
    TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await
}

/// The HTTP error of a login while the token or userinfo endpoint misbehaves.
async fn http_error(misbehavior: Misbehavior) -> HttpErrorKind {
    let provider = minimal_provider().await;
    let client = impatient_client(&provider).await;
    provider.misbehave(misbehavior.clone());
    match login_as(&client, "alice").await {
        Err(Error::Http(e)) => e.kind().clone(),
        other => panic!("{misbehavior:?}: expected an HTTP error, got {other:?}"),
    }
}

#[tokio::test]
async fn slow_token_endpoint_times_out() {
    let kind = http_error(Misbehavior::SlowEndpoint("token", Duration::from_secs(3))).await;
    assert_eq!(kind, HttpErrorKind::Timeout);
}

#[tokio::test]
async fn slow_userinfo_times_out() {
    let kind = http_error(Misbehavior::SlowEndpoint(
        "userinfo",
        Duration::from_secs(3),
    ))
    .await;
    assert_eq!(kind, HttpErrorKind::Timeout);
}

#[tokio::test]
async fn oversized_token_response_is_refused() {
    let kind = http_error(Misbehavior::HugeResponse("token")).await;
    assert_eq!(kind, HttpErrorKind::TooLarge { limit: 1024 * 1024 });
}

#[tokio::test]
async fn oversized_userinfo_is_refused() {
    let kind = http_error(Misbehavior::HugeResponse("userinfo")).await;
    assert_eq!(kind, HttpErrorKind::TooLarge { limit: 1024 * 1024 });
}

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let kind = http_error(Misbehavior::RedirectEndpoint("token")).await;
    assert_eq!(kind, HttpErrorKind::Redirect(307));
}

#[tokio::test]
async fn userinfo_redirect_is_not_followed() {
    let kind = http_error(Misbehavior::RedirectEndpoint("userinfo")).await;
    assert_eq!(kind, HttpErrorKind::Redirect(307));
}

#[tokio::test]
async fn rp_userinfo_bad_sub_claim() {
    let provider = TestProvider::builder()
        .id_token_claims(IdTokenClaimsMode::Minimal)
        .start()
        .await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::UserinfoWrongSub);
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::UserinfoSubjectMismatch)),
        "{err}"
    );
}

// --- callback ---

#[tokio::test]
async fn rp_callback_iss_mismatch_is_refused_before_the_code_is_redeemed() {
    let (provider, err) = callback_error(Misbehavior::WrongIssInCallback).await;
    assert!(matches!(err, CallbackError::IssuerMismatch { .. }), "{err}");
    assert_eq!(
        provider.token_requests(),
        0,
        "the code must not be redeemed"
    );
}

#[tokio::test]
async fn callback_without_iss_when_the_provider_promises_it() {
    let (provider, err) = callback_error(Misbehavior::NoIssInCallback).await;
    assert!(matches!(err, CallbackError::MissingIssuer), "{err}");
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn callback_without_iss_is_fine_when_the_provider_does_not_promise_it() {
    let provider = TestProvider::builder().iss_parameter(false).start().await;
    let client = client(&provider).await;
    provider.misbehave(Misbehavior::NoIssInCallback);
    assert!(login_as(&client, "alice").await.is_ok());
}

#[tokio::test]
async fn provider_error_is_typed_and_kept_as_text() {
    let (_, err) = callback_error(Misbehavior::AuthorizeError("access_denied".into())).await;
    match err {
        CallbackError::Provider { error, .. } => assert_eq!(error, "access_denied"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn provider_error_description_with_markup_is_kept_as_raw_text() {
    let sent = "<b>x</b> & <script>alert(\"hi\")</script> &amp;";
    let (_, err) = callback_error(Misbehavior::AuthorizeErrorDescribed {
        error: "access_denied".into(),
        description: sent.into(),
    })
    .await;
    match err {
        CallbackError::Provider { error, description } => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some(sent));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn state_mismatch_is_refused_before_the_code_is_redeemed() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    // Two logins: the callback of the second arrives with the pending login of the first.
    let (pending_a, _callback_a) = start_as(&client, "alice", Start::default()).await;
    let (_pending_b, callback_b) = start_as(&client, "bob", Start::default()).await;
    let err = client.finish(pending_a, callback_b).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err}"
    );
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn replayed_callback_is_refused() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let replay = oidc_login::Callback::from_query(&format!(
        "code={}&state={}&iss={}",
        callback.get("code").unwrap(),
        callback.get("state").unwrap(),
        callback.get("iss").unwrap()
    ))
    .unwrap();
    client.finish(pending, callback).await.unwrap();
    // The pending login is consumed; a new one has another state.
    let (pending, _) = start_as(&client, "alice", Start::default()).await;
    let err = client.finish(pending, replay).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err}"
    );
}

#[tokio::test]
async fn reused_code_is_refused_by_the_provider() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let query = format!(
        "code={}&state={}&iss={}",
        callback.get("code").unwrap(),
        callback.get("state").unwrap(),
        callback.get("iss").unwrap()
    );
    let pending_json = serde_json::to_string(&pending).unwrap();
    client.finish(pending, callback).await.unwrap();
    // An attacker who copied the pending login and the callback.
    let copied = serde_json::from_str(&pending_json).unwrap();
    let err = client
        .finish(copied, oidc_login::Callback::from_query(&query).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::Exchange { ref error, .. }) if error == "invalid_grant"),
        "{err}"
    );
}

#[tokio::test]
async fn duplicate_callback_parameters_are_refused() {
    let err = oidc_login::Callback::from_query("code=a&state=b&state=c").unwrap_err();
    assert!(matches!(err, CallbackError::DuplicateParameter(ref p) if p == "state"));
}

#[tokio::test]
async fn callback_without_code_or_state() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let no_code = oidc_login::Callback::from_query(&format!(
        "state={}&iss={}",
        callback.get("state").unwrap(),
        callback.get("iss").unwrap()
    ))
    .unwrap();
    let err = client.finish(pending, no_code).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::MissingParameter("code"))
        ),
        "{err}"
    );
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let no_state =
        oidc_login::Callback::from_query(&format!("code={}", callback.get("code").unwrap()))
            .unwrap();
    let err = client.finish(pending, no_state).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::MissingParameter("state"))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn expired_pending_login_is_refused() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    let (pending, callback) = start_as(&client, "alice", Start::default()).await;
    let later = client
        .clone()
        .with_clock(|| std::time::SystemTime::now() + std::time::Duration::from_secs(601));
    let err = later.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::Expired {
                lifetime_seconds: 600
            })
        ),
        "{err}"
    );
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn pending_login_for_another_provider_is_refused() {
    let one = TestProvider::start().await;
    let two = TestProvider::start().await;
    let client_one = client(&one).await;
    let client_two = client(&two).await;
    let (pending, callback) = start_as(&client_one, "alice", Start::default()).await;
    let err = client_two.finish(pending, callback).await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::WrongProvider { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn unsafe_return_to_is_refused_at_start() {
    let provider = TestProvider::start().await;
    let client = client(&provider).await;
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "https://evil.example/x",
        "/.//evil.example",
        "/%2e//evil.example/x",
        "/a/..//evil.example",
        "/./%2e//evil.example",
    ] {
        let err = client.start(Start::default().return_to(bad)).unwrap_err();
        assert!(matches!(err, Error::Start(_)), "{bad}: {err}");
    }
}

// --- discovery ---

async fn discovery_error(misbehavior: Misbehavior) -> Error {
    let provider = TestProvider::start().await;
    provider.misbehave(misbehavior);
    Client::discover(config_builder(&provider).build().unwrap())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn rp_discovery_issuer_not_matching_config() {
    let err = discovery_error(Misbehavior::WrongIssuerInMetadata).await;
    assert!(
        matches!(err, Error::Discovery(DiscoveryError::IssuerMismatch { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    match discovery_error(Misbehavior::HugeJwks).await {
        Error::Http(e) => assert_eq!(e.kind(), &HttpErrorKind::TooLarge { limit: 1024 * 1024 }),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    match discovery_error(Misbehavior::RedirectJwks).await {
        Error::Http(e) => assert!(matches!(e.kind(), HttpErrorKind::Redirect(_)), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn metadata_without_a_required_endpoint_is_refused_naming_it() {
    let err = discovery_error(Misbehavior::MetadataWithout("token_endpoint")).await;
    assert!(
        matches!(
            err,
            Error::Discovery(DiscoveryError::MissingField {
                field: "token_endpoint"
            })
        ),
        "{err}"
    );
    // `openidconnect`'s document type requires these two itself.
    for member in ["authorization_endpoint", "jwks_uri"] {
        let err = discovery_error(Misbehavior::MetadataWithout(member)).await;
        assert!(
            matches!(
                err,
                Error::Discovery(DiscoveryError::InvalidDocument { .. })
            ),
            "{member}: {err}"
        );
        assert!(err.to_string().contains(member), "{member}: {err}");
    }
}

#[tokio::test]
async fn plain_http_provider_endpoint_is_refused() {
    for member in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        let provider = TestProvider::start().await;
        provider.misbehave(Misbehavior::InsecureEndpoint(member));
        let err = Client::discover(config_builder(&provider).build().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Discovery(DiscoveryError::InsecureUrl { field, ref url })
                    if field == member && url.starts_with("http://0.0.0.0:")
            ),
            "{member}: {err}"
        );
        assert_eq!(provider.jwks_requests(), 0, "{member}: no key was fetched");
    }
}
