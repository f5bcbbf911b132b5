//! [`Api`]: the app's own API, protected by the provider's bearer access
//! tokens, checked on the client's key cache and signature fast path.

use std::sync::Arc;

use super::Client;
use super::login::claim_names;
use crate::error::{BearerError, ConfigError, Error};
use crate::identity::{self, Identity};
use crate::provider::Origin;
use crate::token::{
    AccessExpectations, AccessTokenClaims, AccessTokenProfile, Jws, check_access_claims,
    check_access_type,
};

/// An API that accepts the provider's access tokens (`Authorization:
/// Bearer`): the app's own back-end, called by a SPA, another service or a
/// daemon.
///
/// It shares the [`Client`]'s provider metadata and key cache, so an access
/// token costs what an ID token costs: one signature check on keys parsed
/// once, one pass over the claims. A token reaches an API from outside, so
/// an unknown `kid` refetches the keys at most once per
/// `jwks_refetch_cooldown_seconds`.
///
/// Access tokens are signed with the provider's keys (the JWKS), with an
/// algorithm the client accepts for ID tokens; HMAC is never accepted here,
/// even when `allowed_algorithms` names it for ID tokens, since its key
/// would be the app's own client secret.
///
/// The checks, by [`AccessTokenProfile`] (chosen from the client: Entra ID
/// for a config made with `Config::entra` or an issuer of Entra's, RFC 9068
/// otherwise):
/// - **RFC 9068** (`Jwt`): header `typ` `at+jwt` (so an ID token, whose
///   `typ` is `JWT`, is refused: RFC 8725 section 3.11), the signature,
///   `iss` exact, `aud` holding one of this API's identifiers, `exp`,
///   `iat` and `nbf` with the clock skew, `sub`, `client_id`, `jti`.
/// - **Entra ID v2.0** (`EntraV2`): the signature, `iss` (or the
///   `{tenantid}` template with the tenant policy), `aud` one of the API's
///   identifiers (its application id, or Application ID URI `api://...`),
///   the times, `ver` `2.0` (v1.0 tokens are refused and the error says how
///   to ask for v2.0), `azp`, `scp` or `roles`, and no `nonce`: Entra's ID
///   tokens carry `nonce` and no `azp` or `scp`, so one is refused even
///   when its `aud` is the same application id.
///
/// The caller's groups and roles (`roles`) go through the client's role
/// mapper, as a login's do ([`BearerPrincipal::identity`]).
/// [`authenticate`](Api::authenticate) applies the config's required claim
/// (`required_claim`, the admin's gate such as `department=ops`) to a
/// user's token, as the sign-in does, so a user kept out of the web app is
/// kept out of its API too ([`BearerError::RequiredClaim`], 403 in axum);
/// [`insecure_skip_required_claim`](Api::insecure_skip_required_claim)
/// turns that off. A daemon's token (`client_credentials`: no user, so no
/// such claim) is not gated: for RFC 9068 one whose `sub` is its
/// `client_id` (RFC 9068 section 2.2), for Entra ID an app-only token (no
/// `scp`); an API gates daemons with scopes and app roles. The no-role
/// policy is the sign-in's alone: an API decides with scopes and roles.
///
/// ```no_run
/// use oidc_login::{Api, Client, Config};
///
/// # async fn run(raw_token: &str) -> Result<(), oidc_login::Error> {
/// let client = Client::discover(Config::from_file("oidc.toml")?).await?;
/// let api = Api::new(&client, ["https://api.example.com"])?;
/// let caller = api.authenticate(raw_token).await?;
/// if caller.claims.has_scope("reports.read") {
///     println!("{} via {}", caller.claims.subject(), caller.claims.client_id());
/// }
/// # Ok(()) }
/// ```
///
/// With the `axum` feature, `oidc_login::axum::Bearer` and its kin extract
/// the caller in a handler and answer RFC 6750 refusals.
#[derive(Clone)]
pub struct Api {
    client: Client,
    audiences: Arc<[String]>,
    profile: AccessTokenProfile,
    /// Whether [`Api::authenticate`] applies the config's required claim.
    required_claim: bool,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("issuer", &self.client.issuer())
            .field("audiences", &self.audiences)
            .field("profile", &self.profile)
            .field("required_claim", &self.required_claim)
            .finish()
    }
}

/// Who called the API: the validated access token's claims, and the
/// caller as an [`Identity`] with the app's roles.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BearerPrincipal {
    /// The access token's claims (subject, client, scopes, app roles...).
    pub claims: AccessTokenClaims,
    /// The caller as the role mapper sees it: `issuer`, `provider` (the
    /// config's `name`, as for a sign-in), `subject`, the
    /// configured username, email and groups claims, `app_roles` from
    /// `roles`, and `roles`, the app's roles from the role mapping table.
    pub identity: Identity,
}

impl Api {
    /// An API whose identifiers (the values its tokens' `aud` may hold) are
    /// `audiences`: a resource URI (`https://api.example.com`), or for Entra
    /// ID the application id and/or its Application ID URI.
    ///
    /// Fails when `audiences` is empty or holds an empty string.
    pub fn new<I, S>(client: &Client, audiences: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let audiences: Vec<String> = audiences.into_iter().map(Into::into).collect();
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid {
                field: "api audiences",
                reason:
                    "name the API's identifiers (the `aud` its access tokens carry), none empty"
                        .into(),
            });
        }
        let profile = if client.issues_entra_tokens() {
            AccessTokenProfile::EntraV2
        } else {
            AccessTokenProfile::Jwt
        };
        Ok(Self {
            client: client.clone(),
            audiences: audiences.into(),
            profile,
            required_claim: true,
        })
    }

    /// Stops [`authenticate`](Self::authenticate) from applying the config's
    /// required claim (`required_claim`) to users' tokens.
    ///
    /// # Security
    ///
    /// The required claim is the admin's gate (Pexip's "required key /
    /// required value", such as `department=ops`): without it, a user the
    /// config keeps out of the web app's sign-in can still call the API with
    /// an access token from the same provider. Call this only when the API
    /// gates its callers itself (scopes, app roles); it is logged.
    pub fn insecure_skip_required_claim(mut self) -> Self {
        if let Some(required) = self.client.config.claims().required.as_ref() {
            tracing::warn!(
                target: "oidc_login::api",
                claim = %crate::error::clip(&required.key, 128),
                "the API does not apply the config's required claim: users the sign-in keeps out can call it"
            );
        }
        self.required_claim = false;
        self
    }

    /// Whether [`authenticate`](Self::authenticate) applies the config's
    /// required claim to users' tokens (it does unless
    /// [`insecure_skip_required_claim`](Self::insecure_skip_required_claim)
    /// was called).
    pub fn applies_required_claim(&self) -> bool {
        self.required_claim
    }

    /// Checks tokens with these rules instead of the ones chosen from the
    /// client.
    pub fn profile(mut self, profile: AccessTokenProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The rules tokens are checked with.
    pub fn token_profile(&self) -> AccessTokenProfile {
        self.profile
    }

    /// The API's identifiers.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The client whose provider issues the tokens.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Validates a bearer access token (the text after `Bearer `): the
    /// signature on the client's key cache, then the profile's claim rules.
    /// Errors are [`Error::Bearer`], or [`Error::Discovery`] when the keys
    /// could not be fetched.
    pub async fn verify(&self, raw: &str) -> Result<AccessTokenClaims, Error> {
        let bearer = |error| Error::Bearer(BearerError::from_token(error));
        let jws = Jws::parse(raw).map_err(bearer)?;
        let typ = match self.profile {
            AccessTokenProfile::Jwt => jws.typ().map_err(bearer)?,
            // Entra's header says `JWT` for every token: the claims decide.
            AccessTokenProfile::EntraV2 => None,
        };
        // Before the keys: an ID token (or anything not typed as an access
        // token) costs no key lookup, refetch or signature check.
        check_access_type(self.profile, typ.as_deref())?;
        // No HMAC key: it would be this app's client secret, and anyone
        // holding it could mint access tokens for the API. A provider signs
        // access tokens with its own keys.
        let payload = self
            .client
            .verified_payload(&jws, Origin::Outside, None)
            .await
            .map_err(|error| match error {
                Error::Token(error) => bearer(error),
                other => other,
            })?;
        let expect = AccessExpectations {
            profile: self.profile,
            issuer: self.client.issuer_rule(),
            audiences: &self.audiences,
            now: self.client.now(),
            skew_seconds: self.client.config.limits().clock_skew.as_secs(),
        };
        Ok(check_access_claims(typ.as_deref(), payload, &expect)?)
    }

    /// [`verify`](Self::verify), then the config's required claim for a
    /// user's token ([`BearerError::RequiredClaim`]; a daemon's token has no
    /// user and is not gated, see [`Api`]), then the caller as an
    /// [`Identity`] with the app's roles from the client's role mapper.
    pub async fn authenticate(&self, raw: &str) -> Result<BearerPrincipal, Error> {
        let claims = self.verify(raw).await?;
        if self.required_claim
            && let Some(required) = self.client.config.claims().required.as_ref()
            && !self.is_app_only(&claims)
            && identity::check_required_claim(claims.claims(), &required.key, &required.value)
                .is_err()
        {
            return Err(BearerError::RequiredClaim {
                claim: crate::error::clip(&required.key, 128),
            }
            .into());
        }
        let mut identity = identity::build(
            claims.issuer().to_owned(),
            claims.subject().to_owned(),
            claims.claims().clone(),
            claim_names(self.client.config.claims()),
        );
        // As a sign-in's: role rows scoped to a provider match by its name.
        identity.provider = self.client.config.name().to_owned();
        identity.mutable_subject = self.client.config.mutable_subject().map(str::to_owned);
        identity.roles = self.client.mapped_roles(&identity);
        Ok(BearerPrincipal { claims, identity })
    }
}

impl Api {
    /// Whether the token is a daemon's (no user): RFC 9068 section 2.2 has
    /// a `client_credentials` token's `sub` name the client; Entra ID's
    /// app-only tokens carry app roles and no `scp` (a user's always has
    /// `scp`).
    fn is_app_only(&self, claims: &AccessTokenClaims) -> bool {
        match self.profile {
            AccessTokenProfile::Jwt => claims.subject() == claims.client_id(),
            AccessTokenProfile::EntraV2 => claims.scopes().is_empty(),
        }
    }
}

impl Client {
    /// Whether this client's access tokens are Entra ID's: an Entra client
    /// (the one decision of `provider/recognise.rs`) from the `entra` table
    /// or whose metadata came from a Microsoft login host. Any other host
    /// whose document looks like Entra's keeps RFC 9068's rules.
    pub(crate) fn issues_entra_tokens(&self) -> bool {
        self.entra()
            .is_some_and(|entra| entra.issues_entra_access_tokens(self.config().metadata_url()))
    }
}

#[cfg(all(test, feature = "test-provider"))]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::testing::TestProvider;
    use crate::{ClientAuth, Config, RoleMapping, Source};

    /// A caller's roles are a sign-in's: a row scoped to this provider
    /// (by the config's `name`) grants.
    #[tokio::test]
    async fn provider_scoped_role_rows_match_by_the_clients_provider_name() {
        let provider = TestProvider::start().await;
        let config = Config::builder(provider.issuer(), "app")
            .client_auth(ClientAuth::secret_basic("secret"))
            .redirect_uri("http://127.0.0.1/cb")
            .name("corp")
            .add_role_mapping(
                RoleMapping::new("corp devs", Source::OpenIdConnect, "devs", ["Read-write"])
                    .provider("corp"),
            )
            .build()
            .unwrap();
        let client = Client::discover(config).await.unwrap();
        let api = Api::new(&client, ["https://api.example"]).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = provider.sign_access_token(&serde_json::json!({
            "iss": provider.issuer(),
            "sub": "alice-sub-0001",
            "aud": "https://api.example",
            "client_id": "app",
            "jti": "j-1",
            "groups": ["devs"],
            "iat": now,
            "exp": now + 300,
        }));
        let caller = api.authenticate(&token).await.unwrap();
        assert_eq!(caller.identity.provider, "corp");
        assert_eq!(caller.identity.roles, ["Read-write"]);
    }
}
