//! [`Client`]: one discovered provider and this app's registration with it.
//! The login steps are in `login.rs`.

mod api;
pub(crate) mod credentials;
mod login;
mod revoke;

pub use api::{Api, BearerPrincipal};

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    EndpointNotSet, EndpointSet, ExtraTokenFields, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::algorithm::Algorithm;
use crate::assertion::ASSERTION_TYPE;
use crate::config::{ClientAuth, Config, Flow, GroupsSource, UserinfoPolicy};
use crate::error::{ConfigError, DiscoveryError, Error, LogoutError, TokenError};
use crate::flow::{
    CallbackRules, PendingLogin, ProviderLogout, Start, authorization_url, end_session_url,
};
use crate::http::HttpClient;
use crate::identity::Identity;
use crate::issuer::TenantPolicy;
use crate::provider::{EntraId, Origin, Provider};
use crate::roles::{RoleMapper, RoleMappingTable};
use crate::secret::{AccessToken, ClientSecret, IdToken, Nonce, RefreshToken};
use crate::shared_state::{MemoryState, SharedState};
use crate::token::{
    Binding, Expectations, IdTokenClaims, IssuerRule, Jws, LogoutExpectations, LogoutTokenClaims,
    check_claims, check_logout_claims, first_use_of_logout_token,
};

/// The relying party: a discovered provider, this app's registration with
/// it, and the role mapper. Cheap to clone (it is a few `Arc`s); share one
/// per provider across the app.
///
/// ```no_run
/// use oidc_login::{Callback, Client, Config, Start};
///
/// # async fn run() -> Result<(), oidc_login::Error> {
/// let config = Config::from_file("oidc.toml")?;
/// let client = Client::discover(config).await?;
///
/// // "Sign in" clicked: keep `pending` in the session, redirect to `url`.
/// let (url, pending) = client.start(Start::default().return_to("/admin"))?;
///
/// // The provider sent the browser back to the redirect URI:
/// let callback = Callback::from_query("code=...&state=...")?;
/// let login = client.finish(pending, callback).await?;
/// println!("{} has roles {:?}", login.identity.subject, login.identity.roles);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    config: Arc<Config>,
    provider: Arc<Provider>,
    http: HttpClient,
    oauth: Arc<OAuthClient>,
    roles: Arc<dyn RoleMapper>,
    clock: fn() -> SystemTime,
    /// Where used logout tokens (`jti`s) are recorded, shared by the
    /// clones; the axum integration keeps its records there too.
    shared_state: Arc<dyn SharedState>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("issuer", &self.provider.metadata.issuer)
            .field("client_id", &self.config.client_id())
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A finished login.
#[derive(Debug)]
#[non_exhaustive]
pub struct Login {
    /// Who signed in, with roles.
    pub identity: Identity,
    /// The tokens the provider issued.
    pub tokens: Tokens,
    /// The checked `return_to` path given to [`Client::start`], if any.
    pub return_to: Option<String>,
}

/// The tokens of a login. `Debug` shows none of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tokens {
    /// The access token, for the provider's APIs (userinfo, Graph); `None`
    /// in the implicit flow ([`Flow::Implicit`]), which issues none.
    pub access_token: Option<AccessToken>,
    /// The refresh token, when `offline_access` was granted.
    pub refresh_token: Option<RefreshToken>,
    /// The raw ID token.
    pub id_token: IdToken,
    /// When the access token expires (Unix seconds), if the provider said.
    pub expires_at: Option<i64>,
    /// The scopes granted, if the provider said.
    pub scopes: Vec<String>,
}

/// The token response's OpenID Connect member, kept raw: this crate parses
/// and checks it itself.
#[derive(Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default)]
    id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// `oauth2`'s client, for the token exchange only.
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

impl Client {
    /// Fetches the provider's metadata and keys, checks them against the
    /// config, and builds the client. The role mapper is a
    /// [`RoleMappingTable`] of the config's `role_mapping` rows.
    ///
    /// A provider that cannot be reached yet (no connection, a timeout, an
    /// answer cut short, HTTP 5xx or 429) is tried again with exponential
    /// backoff and jitter for up to
    /// [`discovery_retry`](crate::ConfigBuilder::discovery_retry) (TOML
    /// `discovery_retry_seconds`, 60 s by default), each retry logged as a
    /// warning, so an app that starts while its provider is briefly down
    /// does not exit. A mistake (an issuer mismatch, a 404, bad metadata or
    /// keys) fails at once.
    pub async fn discover(config: Config) -> Result<Self, Error> {
        let window = config.limits().discovery_retry;
        Self::discover_within(config, window).await
    }

    /// [`discover`](Self::discover) in one attempt, whatever
    /// `discovery_retry_seconds` says: for diagnostics and health checks,
    /// which must answer now.
    pub async fn discover_once(config: Config) -> Result<Self, Error> {
        Self::discover_within(config, std::time::Duration::ZERO).await
    }

    /// Discovery in a `tracing` span `oidc_login.discovery` with the issuer.
    async fn discover_within(config: Config, window: std::time::Duration) -> Result<Self, Error> {
        let span = discovery_span(&config);
        tracing::Instrument::instrument(Self::discover_unspanned(config, window), span).await
    }

    async fn discover_unspanned(
        config: Config,
        window: std::time::Duration,
    ) -> Result<Self, Error> {
        crate::telemetry::describe();
        let http = HttpClient::new(config.limits().http_timeout)?;
        let provider = Provider::discover_retrying(&config, &http, window).await?;
        if provider.metadata.userinfo_endpoint.is_none()
            && config.userinfo() != UserinfoPolicy::Never
        {
            tracing::warn!(
                target: "oidc_login::provider",
                "the provider has no `userinfo_endpoint`; identities come from the ID token alone"
            );
        }
        match config.flow() {
            Flow::AuthorizationCodePkce => {}
            Flow::AuthorizationCode => tracing::warn!(
                target: "oidc_login::provider",
                "flow `authorization_code`: PKCE is off, so an intercepted code can be redeemed with this client's credentials; use `authorization_code_pkce` unless the provider refuses PKCE"
            ),
            Flow::Implicit => tracing::warn!(
                target: "oidc_login::provider",
                "flow `implicit` is discouraged (RFC 9700): ID tokens come back through the browser, with no access token; use `authorization_code_pkce` if the provider allows it"
            ),
        }
        let mut oauth = oauth2::Client::new(oauth2::ClientId::new(config.client_id().to_owned()))
            .set_token_uri(oauth2::TokenUrl::from_url(
                provider.metadata.token_endpoint.clone(),
            ))
            .set_redirect_uri(oauth2::RedirectUrl::from_url(config.redirect_uri().clone()));
        match config.client_auth() {
            ClientAuth::None => {}
            ClientAuth::SecretBasic(secret) => {
                oauth = oauth
                    .set_client_secret(oauth2::ClientSecret::new(secret.expose_secret().to_owned()))
                    .set_auth_type(oauth2::AuthType::BasicAuth);
            }
            ClientAuth::SecretPost(secret) => {
                oauth = oauth
                    .set_client_secret(oauth2::ClientSecret::new(secret.expose_secret().to_owned()))
                    .set_auth_type(oauth2::AuthType::RequestBody);
            }
            // `client_id` in the body, no secret; the assertion is added per
            // request.
            ClientAuth::SecretJwt(_) | ClientAuth::PrivateKeyJwt(_) => {
                oauth = oauth.set_auth_type(oauth2::AuthType::RequestBody);
            }
        }
        if config.tenant_policy() == Some(&TenantPolicy::AnyTenant) {
            tracing::warn!(
                target: "oidc_login::provider",
                "tenant policy `AnyTenant`: users of every Entra ID tenant (and, with `common`, personal Microsoft accounts) can sign in; roles or accounts must decide who gets in"
            );
        }
        if provider
            .metadata
            .entra
            .as_ref()
            .is_some_and(|e| e.groups_source == GroupsSource::Graph)
            && !config.scopes().iter().any(|s| is_graph_groups_scope(s))
        {
            tracing::warn!(
                target: "oidc_login::provider",
                "`groups_source` is `graph`, but `scopes` has no `GroupMember.Read.All`: Microsoft Graph will refuse to list the user's groups"
            );
        }
        let roles: Arc<dyn RoleMapper> = Arc::new(RoleMappingTable::from_rows(
            config.role_mapping().iter().cloned(),
        ));
        tracing::info!(
            target: "oidc_login::provider",
            issuer = %provider.metadata.issuer,
            keys = provider.keys.current().len(),
            algorithms = ?provider.metadata.signing_algorithms,
            "provider discovered"
        );
        Ok(Self {
            config: Arc::new(config),
            provider: Arc::new(provider),
            http,
            oauth: Arc::new(oauth),
            roles,
            clock: SystemTime::now,
            shared_state: Arc::new(MemoryState::default()),
        })
    }

    /// Replaces the role mapper (by default a [`RoleMappingTable`] of the
    /// config's rows).
    pub fn with_role_mapper(mut self, mapper: impl RoleMapper) -> Self {
        self.roles = Arc::new(mapper);
        self
    }

    /// Keeps the records that must hold across app instances in `state`
    /// (see [`SharedState`]): the `jti`s of accepted logout tokens, and in
    /// the axum integration (which takes the client's state) the logout
    /// and sign-out records and the break-glass failure counters.
    ///
    /// The default is a [`MemoryState`] of this client and its clones:
    /// **one process only**. With several app instances, give every
    /// instance the same shared store, or each instance accepts a replayed
    /// logout token once and misses the sign-outs of the others.
    ///
    /// ```no_run
    /// # async fn run(shared: impl oidc_login::SharedState) -> Result<(), Box<dyn std::error::Error>> {
    /// use oidc_login::{Client, Config};
    ///
    /// // `shared`: one store for every instance, such as
    /// // `oidc_login::axum::SessionStoreState` on the app's Redis session store.
    /// let client = Client::discover(Config::from_file("oidc.toml")?)
    ///     .await?
    ///     .with_shared_state(shared);
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn with_shared_state(mut self, state: impl SharedState) -> Self {
        self.shared_state = Arc::new(state);
        self
    }

    /// Where this client keeps its records (see
    /// [`with_shared_state`](Self::with_shared_state)); give it to a
    /// [`BreakGlass`](crate::BreakGlass) used without the axum routes.
    pub fn shared_state(&self) -> Arc<dyn SharedState> {
        self.shared_state.clone()
    }

    /// Replaces the clock, for tests that need time to pass.
    pub fn with_clock(mut self, now: fn() -> SystemTime) -> Self {
        self.clock = now;
        self
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The provider's issuer, as its metadata publishes it. For an Entra ID
    /// multi-tenant app this is the template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`; each login's
    /// tenant issuer is in [`Identity::issuer`].
    pub fn issuer(&self) -> &str {
        &self.provider.metadata.issuer
    }

    /// Microsoft Entra ID, when this provider is: recognised from the
    /// config's `entra` table, or from the discovery document itself (a
    /// plain metadata URL, Pexip's form; see [`EntraId`] for what it takes).
    /// Every Entra rule follows it: the `{tenantid}` template with a tenant
    /// policy, version 1.0 tokens refused, the groups overage read from
    /// Microsoft Graph, and no automatic `prompt=consent`.
    pub fn entra(&self) -> Option<&EntraId> {
        self.provider.metadata.entra.as_ref()
    }

    /// The ID token algorithms this client accepts from this provider.
    pub fn signing_algorithms(&self) -> &[Algorithm] {
        &self.provider.metadata.signing_algorithms
    }

    /// The provider's `end_session_endpoint`, if it has one.
    pub fn end_session_endpoint(&self) -> Option<&Url> {
        self.provider.metadata.end_session_endpoint.as_ref()
    }

    /// The provider URL that ends the user's session at the provider
    /// (OpenID Connect RP-Initiated Logout 1.0), for the browser to be sent
    /// to after the app's own session is cleared.
    ///
    /// `id_token_hint` is the login's ID token ([`Tokens::id_token`]): it
    /// tells the provider whose session to end, and most providers ask for
    /// it before they redirect back. `post_logout_redirect_uri`, when given,
    /// must be one of the config's `post_logout_redirect_uris` (compared
    /// exactly); a fresh `state` then goes along, which the provider returns
    /// there. The request also carries `client_id`.
    ///
    /// Fails with [`LogoutError::NoEndSessionEndpoint`] when the provider
    /// has none, and [`LogoutError::PostLogoutRedirectNotAllowed`] for a
    /// URI not configured.
    pub fn logout_url(
        &self,
        id_token_hint: Option<&IdToken>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<ProviderLogout, Error> {
        let endpoint = self
            .end_session_endpoint()
            .ok_or(LogoutError::NoEndSessionEndpoint)?;
        Ok(end_session_url(
            endpoint,
            self.config.client_id(),
            id_token_hint,
            post_logout_redirect_uri,
            self.config.post_logout_redirect_uris(),
        )?)
    }

    /// The time by this client's clock ([`with_clock`](Self::with_clock)).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn clock(&self) -> SystemTime {
        (self.clock)()
    }

    fn now(&self) -> i64 {
        match (self.clock)().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }

    /// Starts a login: returns the provider URL to redirect the browser to,
    /// and the [`PendingLogin`] to keep until the callback. Each call makes a
    /// fresh `state`, `nonce` and PKCE verifier.
    pub fn start(&self, options: Start) -> Result<(Url, PendingLogin), Error> {
        let started = authorization_url(
            &self.config,
            &self.provider.metadata.authorization_endpoint,
            &self.provider.metadata.issuer,
            options,
            self.now(),
            // OpenID Connect Core 11's `prompt=consent` for `offline_access`,
            // except to Entra ID, which would ask for consent every time.
            self.provider.metadata.entra.is_none(),
        )?;
        crate::telemetry::login_started(self.issuer());
        Ok(started)
    }

    /// What a token request carried that must not come back in an error
    /// if the provider (or a proxy) echoes it: the client secret (as is,
    /// form-urlencoded, and in the Basic header), the client assertion, and
    /// `also` (the code and PKCE verifier, or the refresh token), as is and
    /// form-urlencoded.
    pub(crate) fn sent_secrets(
        &self,
        assertion: &[(&'static str, String)],
        also: &[&str],
    ) -> Vec<String> {
        let mut hidden: Vec<String> = assertion
            .iter()
            .filter(|(name, _)| *name == "client_assertion")
            .map(|(_, value)| value.clone())
            .collect();
        if let Some(secret) = self.config.client_auth().secret() {
            let secret = secret.expose_secret();
            let encoded: String = byte_serialize(secret.as_bytes()).collect();
            let id: String = byte_serialize(self.config.client_id().as_bytes()).collect();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{encoded}"));
            hidden.extend([secret.to_owned(), encoded, basic]);
        }
        for value in also {
            hidden.push(byte_serialize(value.as_bytes()).collect());
            hidden.push((*value).to_owned());
        }
        hidden
    }

    /// The parameters that authenticate a token request with a JWT client
    /// assertion (`client_secret_jwt`, `private_key_jwt`): a fresh one each
    /// time; none for the other methods, which `oauth2` sends itself.
    pub(crate) fn assertion_params(&self) -> Result<Vec<(&'static str, String)>, Error> {
        let assertion = self
            .config
            .client_auth()
            .assertion(
                self.config.client_id(),
                self.provider.metadata.token_endpoint.as_str(),
                self.now(),
            )
            .map_err(|()| ConfigError::Invalid {
                field: "client_auth",
                reason: "the private key could not sign the client assertion".into(),
            })?;
        Ok(assertion
            .map(|assertion| {
                vec![
                    ("client_assertion_type", ASSERTION_TYPE.to_owned()),
                    ("client_assertion", assertion),
                ]
            })
            .unwrap_or_default())
    }

    /// Validates an ID token from this provider in full (signature and
    /// every claim rule), with `nonce` required and equal.
    ///
    /// [`finish`](Self::finish) does this itself; call it for an ID token
    /// received another way. `access_token`, when given, is checked against
    /// the token's `at_hash`.
    pub async fn verify_id_token(
        &self,
        id_token: &IdToken,
        nonce: &Nonce,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let login = Binding {
            nonce: Some(nonce.expose_secret()),
            access_token: access_token.map(AccessToken::expose_secret),
            ..Binding::default()
        };
        self.validate(id_token.expose_secret(), login, Origin::Outside)
            .await
    }

    /// Validates a back-channel logout token (OpenID Connect Back-Channel
    /// Logout 1.0, section 2.6) in full, and returns whose sessions end.
    ///
    /// The signature is checked like an ID token's: an algorithm the
    /// provider signs ID tokens with (never `none`; HMAC only when allowed
    /// by name), a key from its JWKS. Then `iss` and `aud` as for ID tokens,
    /// `iat` (not in the future, at most 10 minutes old), `exp` when
    /// present, `jti` (a token accepted before, by any client sharing its
    /// [`SharedState`], is refused), `events` holding the back-channel
    /// logout event as an object, no `nonce`, and `sid` or `sub`. Other
    /// claims are ignored.
    ///
    /// The axum integration's back-channel route calls this; call it
    /// yourself to serve the endpoint some other way. Answer 200 on success,
    /// 400 with `Cache-Control: no-store` on any error.
    pub async fn verify_logout_token(&self, raw: &str) -> Result<LogoutTokenClaims, Error> {
        let jws = Jws::parse(raw).map_err(LogoutError::Token)?;
        let payload = self
            .verified_payload(&jws, Origin::Outside, self.config.client_auth().secret())
            .await
            .map_err(|error| match error {
                Error::Token(error) => LogoutError::Token(error).into(),
                other => other,
            })?;
        let now = self.now();
        let skew_seconds = self.config.limits().clock_skew.as_secs();
        let claims = check_logout_claims(
            payload,
            &LogoutExpectations {
                issuer: self.issuer_rule(),
                client_id: self.config.client_id(),
                trusted_audiences: self.config.trusted_audiences(),
                now,
                skew_seconds,
            },
        )?;
        let first = first_use_of_logout_token(&*self.shared_state, &claims, skew_seconds)
            .await
            .map_err(LogoutError::ReplayMemory)?;
        if !first {
            return Err(LogoutError::Replayed.into());
        }
        Ok(claims)
    }

    /// Forgets that a logout token was used, so the provider may send it
    /// again: for a logout that could not be carried out.
    #[cfg(feature = "axum")]
    pub(crate) async fn forget_logout_token(
        &self,
        claims: &LogoutTokenClaims,
    ) -> Result<(), crate::error::SharedStateError> {
        crate::token::forget_logout_token(&*self.shared_state, claims).await
    }

    /// The algorithm check and signature check every signed token of the
    /// provider goes through; the payload, once verified. HMAC is keyed
    /// with `hmac_secret`, and refused without one.
    pub(super) async fn verified_payload<'t>(
        &self,
        jws: &'t Jws<'_>,
        origin: Origin,
        hmac_secret: Option<&ClientSecret>,
    ) -> Result<&'t [u8], Error> {
        let allowed = &self.provider.metadata.signing_algorithms;
        // Refuse a disallowed algorithm before it can cause a key refetch.
        if !allowed.contains(&jws.alg()) || (jws.alg().is_hmac() && hmac_secret.is_none()) {
            return Err(TokenError::AlgorithmNotAllowed {
                alg: jws.alg().to_string(),
            }
            .into());
        }
        let found = self
            .provider
            .keys
            .keys_for(jws.kid(), jws.alg(), origin)
            .await;
        let verified = jws.verify(&found.keys, allowed, hmac_secret);
        match (verified, found.refetch_error) {
            // No key fits because the key set could not be fetched: say so,
            // naming the JWKS endpoint, rather than blame the token.
            (Err(TokenError::UnknownKey { .. }), Some(cause)) => {
                Err(DiscoveryError::KeysUnavailable(Box::new(cause)).into())
            }
            (verified, _) => Ok(verified?),
        }
    }

    /// The rule for `iss`: the issuer exactly, or an Entra ID multi-tenant
    /// template with the tenant policy; for Entra ID, version 1.0 tokens
    /// refused by name.
    fn issuer_rule(&self) -> IssuerRule<'_> {
        let metadata = &self.provider.metadata;
        match (&metadata.tenant_template, self.config.tenant_policy()) {
            (Some(template), Some(policy)) => IssuerRule::Tenant { template, policy },
            _ if metadata.entra.is_some() => IssuerRule::Entra(&metadata.issuer),
            _ => IssuerRule::Exact(&metadata.issuer),
        }
    }

    /// Validates an ID token of this provider in full: the signature, the
    /// claim rules, and what ties it to one login.
    pub(crate) async fn validate(
        &self,
        raw: &str,
        login: Binding<'_>,
        origin: Origin,
    ) -> Result<IdTokenClaims, Error> {
        let started = std::time::Instant::now();
        let result = self.validate_timed(raw, login, origin).await;
        crate::telemetry::validation(self.issuer(), started.elapsed());
        result
    }

    async fn validate_timed(
        &self,
        raw: &str,
        login: Binding<'_>,
        origin: Origin,
    ) -> Result<IdTokenClaims, Error> {
        let jws = Jws::parse(raw)?;
        let payload = self
            .verified_payload(&jws, origin, self.config.client_auth().secret())
            .await?;
        let expectations = Expectations {
            issuer: self.issuer_rule(),
            client_id: self.config.client_id(),
            trusted_audiences: self.config.trusted_audiences(),
            now: self.now(),
            skew_seconds: self.config.limits().clock_skew.as_secs(),
            nonce: login.nonce,
            max_age: login.max_age,
            access_token: login.access_token,
            code: login.code,
        };
        Ok(check_claims(payload, jws.alg(), &expectations)?)
    }

    /// What a callback is checked against.
    pub(crate) fn callback_rules(&self) -> CallbackRules<'_> {
        let metadata = &self.provider.metadata;
        CallbackRules {
            provider: self.config.name(),
            issuer: &metadata.issuer,
            tenant: metadata
                .tenant_template
                .as_ref()
                .zip(self.config.tenant_policy()),
            iss_parameter_supported: metadata.iss_parameter_supported,
            now: self.now(),
            lifetime_seconds: self.config.limits().pending_login_lifetime.as_secs(),
        }
    }
}

/// When the access token expires (Unix seconds), if the response says.
fn expires_at(response: &TokenResponse, now: i64) -> Option<i64> {
    response
        .expires_in()
        .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

/// The scopes granted, if the response says.
fn granted_scopes(response: &TokenResponse) -> Option<Vec<String>> {
    response
        .scopes()
        .map(|scopes| scopes.iter().map(|s| s.to_string()).collect())
}

/// A scope that lets Microsoft Graph list the user's groups.
fn is_graph_groups_scope(scope: &str) -> bool {
    let name = scope
        .strip_prefix("https://graph.microsoft.com/")
        .unwrap_or(scope);
    [
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
    ]
    .iter()
    .any(|s| s.eq_ignore_ascii_case(name))
}

fn exchange_error(
    error: oauth2::RequestTokenError<crate::error::HttpError, BasicErrorResponse>,
    hidden: &[String],
) -> Error {
    use oauth2::RequestTokenError as E;
    match error {
        E::ServerResponse(response) => TokenError::Exchange {
            error: provider_text(response.error().as_ref(), hidden, 64),
            description: response
                .error_description()
                .map(|d| provider_text(d, hidden, 512)),
        }
        .into(),
        E::Request(http) => http.into(),
        // The body is not included, nor a value the parser quotes: they may
        // hold tokens.
        E::Parse(parse, _body) => TokenError::InvalidResponse(format!(
            "at `{}`: {}",
            provider_text(&parse.path().to_string(), hidden, 128),
            crate::config::scrub_parse_message(&parse.inner().to_string()),
        ))
        .into(),
        E::Other(message) => {
            TokenError::InvalidResponse(provider_text(&message, hidden, 256)).into()
        }
    }
}

/// Text of the provider's, for an error: without anything the request
/// carried (`hidden`), escaped and clipped.
pub(crate) fn provider_text(text: &str, hidden: &[String], max: usize) -> String {
    crate::error::clip(&redact(text, hidden), max)
}

/// `text` with every occurrence of each of `hidden` replaced.
pub(crate) fn redact(text: &str, hidden: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in hidden.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    text
}

/// The `tracing` span of a discovery, with the configured issuer and the
/// provider's name.
fn discovery_span(config: &Config) -> tracing::Span {
    tracing::info_span!(
        target: "oidc_login::provider",
        "oidc_login.discovery",
        issuer = config.issuer(),
        provider = config.name()
    )
}

#[cfg(test)]
mod tests {
    use oauth2::basic::BasicErrorResponseType;

    use super::*;

    const SECRET: &str = "s3cr3t/+&=";
    const CODE: &str = "code-Zq81";
    const VERIFIER: &str = "verifier-Kx77";

    fn hidden() -> Vec<String> {
        [SECRET, "s3cr3t%2F%2B%26%3D", CODE, VERIFIER]
            .map(String::from)
            .into()
    }

    /// A provider (or a proxy) that echoes the request in its error.
    fn echoed() -> oauth2::RequestTokenError<crate::error::HttpError, BasicErrorResponse> {
        oauth2::RequestTokenError::ServerResponse(BasicErrorResponse::new(
            BasicErrorResponseType::InvalidClient,
            Some(format!(
                "bad secret {SECRET} (s3cr3t%2F%2B%26%3D) for code={CODE}&code_verifier={VERIFIER}"
            )),
            None,
        ))
    }

    fn assert_nothing_sent_shows(error: &Error) {
        for shown in [error.to_string(), format!("{error:?}")] {
            for sent in ["s3cr3t", CODE, VERIFIER] {
                assert!(!shown.contains(sent), "`{sent}` in {shown}");
            }
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    #[test]
    fn an_echoing_token_endpoint_never_gets_what_was_sent_into_an_error() {
        assert_nothing_sent_shows(&exchange_error(echoed(), &hidden()));
        let refresh = login::refresh_error(echoed(), &hidden());
        assert!(matches!(refresh, Error::Refresh(_)), "{refresh}");
        assert_nothing_sent_shows(&refresh);
    }

    #[test]
    fn a_token_response_that_does_not_parse_quotes_no_value() {
        let body = br#"{"access_token": 83927461928374, "token_type": "bearer"}"#;
        let mut json = serde_json::Deserializer::from_slice(body);
        let parse = serde_path_to_error::deserialize::<_, TokenResponse>(&mut json).unwrap_err();
        let error = exchange_error(
            oauth2::RequestTokenError::Parse(parse, body.to_vec()),
            &hidden(),
        );
        let shown = error.to_string();
        assert!(!shown.contains("83927461928374"), "{shown}");
        assert!(shown.contains("access_token"), "{shown}");
    }
}
