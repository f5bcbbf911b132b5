//! [`Client`]: one discovered provider and this app's registration with it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    EndpointNotSet, EndpointSet, ExtraTokenFields, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::algorithm::Algorithm;
use crate::assertion::ASSERTION_TYPE;
use crate::config::{ClientAuth, Config, Flow, GroupsSource, UserinfoPolicy};
use crate::entra::{self, GroupsPlan};
use crate::error::{
    AccessError, CallbackError, ConfigError, Error, GroupsError, LogoutError, RefreshError,
    TokenError,
};
use crate::flow::{
    Callback, PendingLogin, ProviderLogout, Start, authorization_url, end_session_url,
};
use crate::http::HttpClient;
use crate::identity::{self, ClaimNames, Identity};
use crate::issuer::TenantPolicy;
use crate::provider::Provider;
use crate::roles::{NoRolePolicy, RoleMapper, RoleMappingTable};
use crate::secret::{AccessToken, IdToken, Nonce, RefreshToken, constant_time_eq};
use crate::token::{
    Expectations, IdTokenClaims, IssuerRule, Jws, LogoutExpectations, LogoutTokenClaims,
    REGISTERED_CLAIMS, SeenLogoutTokens, check_claims, check_logout_claims,
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
    /// Logout tokens already accepted (`jti`s), shared by the clones.
    seen_logout_tokens: Arc<SeenLogoutTokens>,
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
    pub async fn discover(config: Config) -> Result<Self, Error> {
        let http = HttpClient::new(config.limits().http_timeout)?;
        let provider = Provider::discover(&config, &http).await?;
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
        if config.groups_source() == GroupsSource::Graph
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
            seen_logout_tokens: Arc::default(),
        })
    }

    /// Replaces the role mapper (by default a [`RoleMappingTable`] of the
    /// config's rows).
    pub fn with_role_mapper(mut self, mapper: impl RoleMapper) -> Self {
        self.roles = Arc::new(mapper);
        self
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
        Ok(authorization_url(
            &self.config,
            &self.provider.metadata.authorization_endpoint,
            &self.provider.metadata.issuer,
            options,
            self.now(),
        )?)
    }

    /// Finishes a login: checks the callback against the pending login,
    /// redeems the code, validates the ID token in full, reads userinfo when
    /// the policy says so, checks the required claim and maps the roles.
    ///
    /// `pending` is taken by value: a pending login is finished once,
    /// whatever the outcome.
    ///
    /// With [`Flow::Implicit`] the ID token comes in the callback itself
    /// (`id_token`); it is validated the same way, with the nonce required,
    /// and a callback carrying a `code` or `access_token` is refused.
    pub async fn finish(&self, pending: PendingLogin, callback: Callback) -> Result<Login, Error> {
        self.check_callback(&pending, &callback)?;
        if self.config.flow() == Flow::Implicit {
            return self.finish_implicit(pending, &callback).await;
        }
        let code = callback
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::MissingParameter("code"))?;

        let mut exchange = self
            .oauth
            .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()));
        if self.config.flow() == Flow::AuthorizationCodePkce {
            exchange = exchange.set_pkce_verifier(oauth2::PkceCodeVerifier::new(
                pending.pkce_verifier.expose_secret().to_owned(),
            ));
        }
        if let Some(assertion) = self.client_assertion()? {
            exchange = exchange
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", assertion);
        }
        let response = exchange
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;

        let raw_id_token = response
            .extra_fields()
            .id_token
            .clone()
            .ok_or(TokenError::MissingIdToken)?;
        let access_token = AccessToken::new(response.access_token().secret().clone());
        let claims = self
            .validate(
                &raw_id_token,
                Some(pending.nonce.expose_secret()),
                pending.max_age,
                Some(access_token.expose_secret()),
                Some(code),
            )
            .await?;

        self.check_callback_issuer_is_the_tokens(&callback, &claims)?;

        let userinfo = self
            .wants_userinfo(claims.claims())
            .then_some(Userinfo::Fill);
        let identity = self
            .complete_identity(
                Who::of(&claims),
                claims.into_claims(),
                Some(&access_token),
                userinfo,
            )
            .await?;
        let now = self.now();
        let tokens = Tokens {
            access_token: Some(access_token),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone())),
            id_token: IdToken::new(raw_id_token),
            expires_at: expires_at(&response, now),
            scopes: granted_scopes(&response).unwrap_or_default(),
        };
        Ok(finished(identity, tokens, pending.return_to))
    }

    /// Refreshes a login with its refresh token (the `refresh_token` grant,
    /// with the configured client authentication), and decides the identity
    /// afresh: the required claim, the groups and the roles are those of
    /// now, so a user removed from a group loses its role here.
    ///
    /// The returned [`Login`] holds the new tokens: the rotated refresh
    /// token when the provider sent one, else the same one. Its
    /// `return_to` is `None`.
    ///
    /// A returned ID token is validated in full, and then as OpenID Connect
    /// Core 12.2 asks: `iss`, `sub` and `aud` equal the original login's;
    /// `azp` the client id (as in any ID token); `auth_time`, when both
    /// tokens have it, unchanged; `iat`
    /// fresh (within a minute plus the clock skew); a `nonce`, if present,
    /// the original one. When the provider returns no ID token, the
    /// original token's protocol claims are kept and every claim about the
    /// user (profile, groups, roles) is read afresh from userinfo; with no
    /// userinfo (policy `never`, or no endpoint) such a refresh is refused
    /// ([`RefreshError::NoFreshClaims`]) rather than keep old groups.
    ///
    /// Any error means the tokens no longer stand for the user: end the
    /// session. `tokens` must be the ones [`finish`](Self::finish) or an
    /// earlier refresh returned, kept on the server side.
    pub async fn refresh(&self, tokens: &Tokens) -> Result<Login, Error> {
        let refresh_token = tokens
            .refresh_token
            .as_ref()
            .ok_or(RefreshError::NoRefreshToken)?;
        let original = original_claims(&tokens.id_token)?;
        let grant = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let mut request = self.oauth.exchange_refresh_token(&grant);
        if let Some(assertion) = self.client_assertion()? {
            request = request
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", assertion);
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(refresh_error)?;
        let access_token = AccessToken::new(response.access_token().secret().clone());

        let (who, claims, id_token, userinfo) = match &response.extra_fields().id_token {
            Some(raw) => {
                let claims = self
                    .validate(raw, None, None, Some(access_token.expose_secret()), None)
                    .await?;
                check_refreshed(
                    &original,
                    &claims,
                    self.now(),
                    self.config.limits().clock_skew.as_secs(),
                )?;
                let userinfo = self
                    .wants_userinfo(claims.claims())
                    .then_some(Userinfo::Fill);
                (
                    Who::of(&claims),
                    claims.into_claims(),
                    IdToken::new(raw.clone()),
                    userinfo,
                )
            }
            // No new ID token: the original protocol claims, and the user's
            // claims read afresh from userinfo (never the old ones, which
            // may hold groups the user has lost).
            None => {
                if self.config.userinfo() == UserinfoPolicy::Never
                    || self.provider.metadata.userinfo_endpoint.is_none()
                {
                    return Err(RefreshError::NoFreshClaims.into());
                }
                let who = Who::from_original(&original)?;
                (
                    who,
                    original,
                    tokens.id_token.clone(),
                    Some(Userinfo::Replace),
                )
            }
        };
        // The grant succeeded and rotated the refresh token: a failure from
        // here on cannot keep the session, whose refresh token is now spent.
        let identity = self
            .complete_identity(who, claims, Some(&access_token), userinfo)
            .await
            .map_err(|error| match error {
                Error::Http(_) | Error::Discovery(_) | Error::Groups(_) => {
                    RefreshError::AfterGrant(Box::new(error)).into()
                }
                other => other,
            })?;
        let now = self.now();
        let refreshed = Tokens {
            access_token: Some(access_token),
            refresh_token: Some(
                response
                    .refresh_token()
                    .map(|t| RefreshToken::new(t.secret().clone()))
                    .unwrap_or_else(|| refresh_token.clone()),
            ),
            id_token,
            expires_at: expires_at(&response, now),
            scopes: granted_scopes(&response).unwrap_or_else(|| tokens.scopes.clone()),
        };
        tracing::info!(
            target: "oidc_login::login",
            issuer = %identity.issuer,
            subject = %identity.subject,
            roles = ?identity.roles,
            "login refreshed"
        );
        Ok(Login {
            identity,
            tokens: refreshed,
            return_to: None,
        })
    }

    /// The identity of validated claims: userinfo merged in when asked, the
    /// groups read from Microsoft Graph on an overage, then the required
    /// claim, the roles and the no-role policy.
    async fn complete_identity(
        &self,
        who: Who,
        mut claims: Map<String, Value>,
        access_token: Option<&AccessToken>,
        userinfo: Option<Userinfo>,
    ) -> Result<Identity, Error> {
        let Who { issuer, subject } = who;
        if let (Some(mode), Some(access_token)) = (userinfo, access_token) {
            let fresh = self.userinfo(access_token, &subject).await?;
            if mode == Userinfo::Replace {
                claims.retain(|name, _| is_protocol_claim(name));
            }
            // The signed ID token wins where both have a claim (after a
            // `Replace`, only its protocol claims are left to win).
            for (name, value) in fresh {
                claims.entry(name).or_insert(value);
            }
        }
        // Single-use and already checked: not part of the identity.
        claims.remove("nonce");
        let groups = self.overage_groups(&claims, access_token, &subject).await?;
        self.identity(issuer, subject, claims, groups)
    }

    /// A fresh client assertion for the token endpoint, for the JWT client
    /// authentication methods.
    fn client_assertion(&self) -> Result<Option<String>, Error> {
        self.config
            .client_auth()
            .assertion(
                self.config.client_id(),
                self.provider.metadata.token_endpoint.as_str(),
                self.now(),
            )
            .map_err(|()| {
                ConfigError::Invalid {
                    field: "client_auth",
                    reason: "the private key could not sign the client assertion".into(),
                }
                .into()
            })
    }

    /// The implicit flow's end: the ID token is in the callback, and is
    /// validated like one from the token endpoint (nonce required; no access
    /// token, so no `at_hash` and no userinfo).
    async fn finish_implicit(
        &self,
        pending: PendingLogin,
        callback: &Callback,
    ) -> Result<Login, Error> {
        // `response_type=id_token` returns neither: one here means a mix-up
        // or an injected response.
        for unexpected in ["code", "access_token"] {
            if callback.get(unexpected).is_some() {
                return Err(CallbackError::UnexpectedParameter(unexpected).into());
            }
        }
        let raw_id_token = callback
            .get("id_token")
            .filter(|t| !t.is_empty())
            .ok_or(CallbackError::MissingParameter("id_token"))?;
        if callback.in_url() {
            return Err(CallbackError::IdTokenInUrl.into());
        }
        let claims = self
            .validate(
                raw_id_token,
                Some(pending.nonce.expose_secret()),
                pending.max_age,
                None,
                None,
            )
            .await?;
        self.check_callback_issuer_is_the_tokens(callback, &claims)?;
        let identity = self
            .complete_identity(Who::of(&claims), claims.into_claims(), None, None)
            .await?;
        let tokens = Tokens {
            access_token: None,
            refresh_token: None,
            id_token: IdToken::new(raw_id_token.to_owned()),
            expires_at: None,
            scopes: Vec::new(),
        };
        Ok(finished(identity, tokens, pending.return_to))
    }

    /// Entra ID multi-tenant: the callback's `iss` (checked against the
    /// template before the exchange) must be the token's own issuer.
    fn check_callback_issuer_is_the_tokens(
        &self,
        callback: &Callback,
        claims: &IdTokenClaims,
    ) -> Result<(), Error> {
        if self.provider.metadata.tenant_template.is_some()
            && let Some(iss) = callback.get("iss")
            && iss != claims.issuer()
        {
            return Err(CallbackError::IssuerMismatch {
                expected: claims.issuer().to_owned(),
                found: crate::error::clip(iss, 256),
            }
            .into());
        }
        Ok(())
    }

    /// The groups read from Microsoft Graph when the token has an Entra
    /// overage marker (or `groups_source` is `graph`); `None` to use the
    /// groups claim. An overage that cannot be read refuses the login.
    async fn overage_groups(
        &self,
        claims: &Map<String, Value>,
        access_token: Option<&AccessToken>,
        subject: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        match entra::groups_plan(&self.config, claims) {
            GroupsPlan::Token => Ok(None),
            GroupsPlan::Refuse(reason) => Err(GroupsError::OverageUnresolved { reason }.into()),
            GroupsPlan::Graph(settings, trigger) => {
                let Some(access_token) = access_token else {
                    return Err(GroupsError::OverageUnresolved {
                        reason: "the implicit flow returns no access token to read them from Microsoft Graph with: use `flow = \"authorization_code_pkce\"`",
                    }
                    .into());
                };
                let groups = entra::read_groups(&self.http, settings, access_token)
                    .await
                    .map_err(|failure| GroupsError::Graph { trigger, failure })?;
                tracing::info!(
                    target: "oidc_login::login",
                    subject = %subject,
                    groups = groups.len(),
                    trigger = ?trigger,
                    "groups read from Microsoft Graph"
                );
                Ok(Some(groups))
            }
        }
    }

    /// Checks the callback before anything is sent to the provider.
    fn check_callback(&self, pending: &PendingLogin, callback: &Callback) -> Result<(), Error> {
        let issuer = &self.provider.metadata.issuer;
        if pending.issuer != *issuer {
            return Err(CallbackError::WrongProvider {
                pending: pending.issuer.clone(),
                client: issuer.clone(),
            }
            .into());
        }
        let age = self.now().saturating_sub(pending.created_at);
        let lifetime = self.config.limits().pending_login_lifetime.as_secs();
        if age < 0 || age.unsigned_abs() > lifetime {
            return Err(CallbackError::Expired {
                lifetime_seconds: lifetime,
            }
            .into());
        }
        let state = callback.get("state");
        if let Some(state) = state
            && !constant_time_eq(state.as_bytes(), pending.state.expose_secret().as_bytes())
        {
            return Err(CallbackError::StateMismatch.into());
        }
        if let Some(error) = callback.get("error") {
            return Err(CallbackError::Provider {
                error: crate::error::clip(error, 64),
                description: callback
                    .get("error_description")
                    .map(|d| crate::error::clip(d, 512)),
            }
            .into());
        }
        if state.is_none() {
            return Err(CallbackError::MissingParameter("state").into());
        }
        // RFC 9207, checked before the code is redeemed.
        match callback.get("iss") {
            Some(iss) if !self.callback_issuer_ok(iss) => {
                return Err(CallbackError::IssuerMismatch {
                    expected: issuer.clone(),
                    found: crate::error::clip(iss, 256),
                }
                .into());
            }
            None if self.provider.metadata.iss_parameter_supported => {
                return Err(CallbackError::MissingIssuer.into());
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the callback's `iss` names this provider: the issuer exactly,
    /// or for an Entra ID multi-tenant app the template with a tenant the
    /// policy allows (the token's own tenant is checked after the exchange).
    fn callback_issuer_ok(&self, iss: &str) -> bool {
        let metadata = &self.provider.metadata;
        match (&metadata.tenant_template, self.config.tenant_policy()) {
            (Some(template), Some(policy)) => template.allows_issuer(iss, policy),
            _ => iss == metadata.issuer,
        }
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
        self.validate(
            id_token.expose_secret(),
            Some(nonce.expose_secret()),
            None,
            access_token.map(AccessToken::expose_secret),
            None,
        )
        .await
    }

    /// Validates a back-channel logout token (OpenID Connect Back-Channel
    /// Logout 1.0, section 2.6) in full, and returns whose sessions end.
    ///
    /// The signature is checked like an ID token's: an algorithm the
    /// provider signs ID tokens with (never `none`; HMAC only when allowed
    /// by name), a key from its JWKS. Then `iss` and `aud` as for ID tokens,
    /// `iat` (not in the future, at most 10 minutes old), `exp` when
    /// present, `jti` (a token seen before by this client, or any clone of
    /// it, is refused), `events` holding the back-channel logout event as
    /// an object, no `nonce`, and `sid` or `sub`. Other claims are ignored.
    ///
    /// The axum integration's back-channel route calls this; call it
    /// yourself to serve the endpoint some other way. Answer 200 on success,
    /// 400 with `Cache-Control: no-store` on any error.
    pub async fn verify_logout_token(&self, raw: &str) -> Result<LogoutTokenClaims, Error> {
        let jws = Jws::parse(raw).map_err(LogoutError::Token)?;
        let payload = self
            .verified_payload(&jws)
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
        if !self
            .seen_logout_tokens
            .first_use(&claims, now, skew_seconds)
        {
            return Err(LogoutError::Replayed.into());
        }
        Ok(claims)
    }

    /// Forgets that a logout token was used, so the provider may send it
    /// again: for a logout that could not be carried out.
    #[cfg(feature = "axum")]
    pub(crate) fn forget_logout_token(&self, claims: &LogoutTokenClaims) {
        self.seen_logout_tokens.forget(claims);
    }

    /// The algorithm check and signature check every signed token of the
    /// provider goes through; the payload, once verified.
    async fn verified_payload<'t>(&self, jws: &'t Jws<'_>) -> Result<&'t [u8], Error> {
        let allowed = &self.provider.metadata.signing_algorithms;
        // Refuse a disallowed algorithm before it can cause a key refetch.
        if !allowed.contains(&jws.alg()) {
            return Err(TokenError::AlgorithmNotAllowed {
                alg: jws.alg().to_string(),
            }
            .into());
        }
        let keys = self.provider.keys.keys_for(jws.kid(), jws.alg()).await;
        Ok(jws.verify(&keys, allowed, self.config.client_auth().secret())?)
    }

    /// The rule for `iss`: the issuer exactly, or an Entra ID multi-tenant
    /// template with the tenant policy.
    fn issuer_rule(&self) -> IssuerRule<'_> {
        let metadata = &self.provider.metadata;
        match (&metadata.tenant_template, self.config.tenant_policy()) {
            (Some(template), Some(policy)) => IssuerRule::Tenant { template, policy },
            _ => IssuerRule::Exact(&metadata.issuer),
        }
    }

    async fn validate(
        &self,
        raw: &str,
        nonce: Option<&str>,
        max_age: Option<u64>,
        access_token: Option<&str>,
        code: Option<&str>,
    ) -> Result<IdTokenClaims, Error> {
        let jws = Jws::parse(raw)?;
        let payload = self.verified_payload(&jws).await?;
        let expectations = Expectations {
            issuer: self.issuer_rule(),
            client_id: self.config.client_id(),
            trusted_audiences: self.config.trusted_audiences(),
            now: self.now(),
            skew_seconds: self.config.limits().clock_skew.as_secs(),
            nonce,
            max_age,
            access_token,
            code,
        };
        Ok(check_claims(payload, jws.alg(), &expectations)?)
    }

    fn claim_names(&self) -> ClaimNames<'_> {
        ClaimNames {
            username: self.config.claims().username.as_str(),
            email: self.config.claims().email.as_str(),
            groups: self.config.claims().groups.as_str(),
            app_roles: self.config.claims().app_roles.as_str(),
        }
    }

    fn wants_userinfo(&self, claims: &Map<String, Value>) -> bool {
        if self.provider.metadata.userinfo_endpoint.is_none() {
            return false;
        }
        match self.config.userinfo() {
            UserinfoPolicy::Never => false,
            UserinfoPolicy::Always => true,
            UserinfoPolicy::WhenClaimsMissing => !identity::has_all(claims, self.claim_names()),
        }
    }

    async fn userinfo(
        &self,
        access_token: &AccessToken,
        subject: &str,
    ) -> Result<Map<String, Value>, Error> {
        let Some(endpoint) = &self.provider.metadata.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let body = self
            .http
            .get_json("fetching userinfo from", endpoint, Some(access_token))
            .await?;
        let claims: Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
            TokenError::InvalidResponse(
                "the userinfo response is not a JSON object (signed or encrypted userinfo is not supported)".into(),
            )
        })?;
        // OpenID Connect Core 5.3.2: the userinfo `sub` must be the ID token's.
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if sub == subject => Ok(claims),
            _ => Err(TokenError::UserinfoSubjectMismatch.into()),
        }
    }

    /// Builds the identity, applies the required claim, maps the roles and
    /// applies the no-role policy. `groups`, when given, replace the groups
    /// claim (read from Microsoft Graph).
    fn identity(
        &self,
        issuer: String,
        subject: String,
        claims: Map<String, Value>,
        groups: Option<Vec<String>>,
    ) -> Result<Identity, Error> {
        if let Some(required) = self.config.claims().required.as_ref() {
            identity::check_required_claim(&claims, &required.key, &required.value)?;
        }
        let mut identity = identity::build(issuer, subject, claims, self.claim_names());
        if let Some(groups) = groups {
            identity.groups = groups;
        }
        let mut roles = self.roles.roles(&identity);
        roles.sort_unstable();
        roles.dedup();
        identity.roles = roles;
        if identity.roles.is_empty() && self.config.no_role_policy() == NoRolePolicy::Refuse {
            return Err(AccessError::NoRole {
                claim: self.config.claims().groups.as_str().to_owned(),
                values: identity.groups.clone(),
            }
            .into());
        }
        Ok(identity)
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

/// Whose identity is built: the issuer and subject of a validated token,
/// never read again from a claim map.
struct Who {
    issuer: String,
    subject: String,
}

impl Who {
    fn of(claims: &IdTokenClaims) -> Self {
        Self {
            issuer: claims.issuer().to_owned(),
            subject: claims.subject().to_owned(),
        }
    }

    /// From the original login's ID token (validated when it was issued).
    fn from_original(claims: &Map<String, Value>) -> Result<Self, RefreshError> {
        let text = |name| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        match (text("iss"), text("sub")) {
            (Some(issuer), Some(subject)) => Ok(Self {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
            }),
            _ => Err(RefreshError::OriginalUnreadable("it has no `iss` or `sub`")),
        }
    }
}

/// How userinfo is merged into the claims.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Userinfo {
    /// Fills in claims the ID token lacks (a fresh ID token wins).
    Fill,
    /// Replaces the user's claims (of an original ID token that a refresh
    /// brought no successor for): only the protocol claims are kept.
    Replace,
}

/// Whether `name` describes the token rather than the user: the claims
/// the ID token rules read, and `acr`, `amr`, `sid`. Userinfo never
/// replaces them.
fn is_protocol_claim(name: &str) -> bool {
    REGISTERED_CLAIMS.contains(&name) || ["acr", "amr", "sid"].contains(&name)
}

/// The claims of the original login's ID token, which this crate validated
/// when the login finished. Its signature is not checked again: the key may
/// have been rotated since, and the token was kept on the server side.
fn original_claims(id_token: &IdToken) -> Result<Map<String, Value>, RefreshError> {
    let jws = Jws::parse(id_token.expose_secret())
        .map_err(|_| RefreshError::OriginalUnreadable("not a compact JWS"))?;
    serde_json::from_slice(jws.unverified_payload())
        .map_err(|_| RefreshError::OriginalUnreadable("its payload is not a JSON object"))
}

/// OpenID Connect Core 12.2: the refreshed ID token is about the same
/// login as the original one.
fn check_refreshed(
    original: &Map<String, Value>,
    refreshed: &IdTokenClaims,
    now: i64,
    skew_seconds: u64,
) -> Result<(), RefreshError> {
    let was = |claim: &str| original.get(claim);
    let changed = |claim| RefreshError::ClaimChanged { claim };
    if was("iss").and_then(Value::as_str) != Some(refreshed.issuer()) {
        return Err(changed("iss"));
    }
    if was("sub").and_then(Value::as_str) != Some(refreshed.subject()) {
        return Err(changed("sub"));
    }
    let mut before: Vec<&str> = match was("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut after: Vec<&str> = refreshed.audiences().iter().map(String::as_str).collect();
    before.sort_unstable();
    after.sort_unstable();
    if before != after {
        return Err(changed("aud"));
    }
    // `azp`, when present, is the client id in both tokens (checked when
    // each was validated), so it cannot have changed.
    if let (Some(before), Some(after)) = (was("auth_time"), refreshed.auth_time())
        && before.as_i64() != Some(after)
    {
        return Err(changed("auth_time"));
    }
    if let Some(nonce) = refreshed.nonce() {
        match was("nonce").and_then(Value::as_str) {
            Some(before) if constant_time_eq(before.as_bytes(), nonce.as_bytes()) => {}
            _ => return Err(changed("nonce")),
        }
    }
    let window_seconds = skew_seconds.saturating_add(REFRESH_FRESHNESS_SECONDS);
    if i128::from(refreshed.issued_at()) + i128::from(window_seconds) < i128::from(now) {
        return Err(RefreshError::NotFresh {
            iat: refreshed.issued_at(),
            now,
            window_seconds,
        });
    }
    Ok(())
}

/// How old (beyond the clock skew) a refreshed ID token's `iat` may be.
const REFRESH_FRESHNESS_SECONDS: u64 = 60;

fn refresh_error(
    error: oauth2::RequestTokenError<crate::error::HttpError, BasicErrorResponse>,
) -> Error {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => RefreshError::Refused {
            error: crate::error::clip(response.error().as_ref(), 64),
            description: response
                .error_description()
                .map(|d| crate::error::clip(d, 512)),
        }
        .into(),
        other => exchange_error(other),
    }
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

/// Logs the finished login and builds the [`Login`].
fn finished(identity: Identity, tokens: Tokens, return_to: Option<String>) -> Login {
    tracing::info!(
        target: "oidc_login::login",
        issuer = %identity.issuer,
        subject = %identity.subject,
        roles = ?identity.roles,
        "login finished"
    );
    Login {
        identity,
        tokens,
        return_to,
    }
}

fn exchange_error(
    error: oauth2::RequestTokenError<crate::error::HttpError, BasicErrorResponse>,
) -> Error {
    use oauth2::RequestTokenError as E;
    match error {
        E::ServerResponse(response) => TokenError::Exchange {
            error: crate::error::clip(response.error().as_ref(), 64),
            description: response
                .error_description()
                .map(|d| crate::error::clip(d, 512)),
        }
        .into(),
        E::Request(http) => http.into(),
        // The body is not included: it may hold tokens.
        E::Parse(parse, _body) => {
            TokenError::InvalidResponse(format!("at `{}`: {}", parse.path(), parse.inner())).into()
        }
        E::Other(message) => TokenError::InvalidResponse(crate::error::clip(&message, 256)).into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::token::{Expectations, IssuerRule, check_claims};

    const NOW: i64 = 1_700_000_000;

    fn original() -> Map<String, Value> {
        json!({
            "iss": "https://idp.example", "sub": "alice", "aud": "app",
            "iat": NOW - 3600, "auth_time": NOW - 3600, "nonce": "n-1",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    /// A refreshed ID token with these changes, validated as `validate`
    /// would (its own issuer, `trusted` among the audiences).
    fn refreshed(changes: Value) -> IdTokenClaims {
        let mut claims = json!({
            "iss": "https://idp.example", "sub": "alice", "aud": "app",
            "iat": NOW, "exp": NOW + 300, "auth_time": NOW - 3600,
        });
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let issuer = claims["iss"].as_str().unwrap().to_owned();
        let trusted = ["trusted".to_owned()];
        check_claims(
            claims.to_string().as_bytes(),
            Algorithm::RS256,
            &Expectations {
                issuer: IssuerRule::Exact(&issuer),
                client_id: "app",
                trusted_audiences: &trusted,
                now: NOW,
                skew_seconds: 60,
                nonce: None,
                max_age: None,
                access_token: None,
                code: None,
            },
        )
        .unwrap()
    }

    fn check(changes: Value) -> Result<(), RefreshError> {
        check_refreshed(&original(), &refreshed(changes), NOW, 60)
    }

    #[test]
    fn a_refreshed_token_of_the_same_login_passes() {
        check(json!({})).unwrap();
        check(json!({"nonce": "n-1"})).unwrap();
        // `azp` may appear when it is the client id.
        check(json!({"azp": "app"})).unwrap();
    }

    /// Each rule of OpenID Connect Core 12.2, including those a token that
    /// passed `validate` can still break: another issuer (an Entra ID
    /// multi-tenant app accepts several), another trusted audience.
    #[test]
    fn a_refreshed_token_of_another_login_is_refused() {
        for (changes, claim) in [
            (json!({"iss": "https://idp.example/other-tenant"}), "iss"),
            (json!({"sub": "mallory"}), "sub"),
            (json!({"aud": ["app", "trusted"], "azp": "app"}), "aud"),
            (json!({"auth_time": NOW - 60}), "auth_time"),
            (json!({"nonce": "n-2"}), "nonce"),
        ] {
            let error = check(changes.clone()).unwrap_err();
            assert!(
                matches!(error, RefreshError::ClaimChanged { claim: c } if c == claim),
                "{changes}: {error:?}"
            );
        }
        let mut original = original();
        original.remove("nonce");
        let error =
            check_refreshed(&original, &refreshed(json!({"nonce": "n-1"})), NOW, 60).unwrap_err();
        assert!(matches!(
            error,
            RefreshError::ClaimChanged { claim: "nonce" }
        ));
        let error = check(json!({"iat": NOW - 121})).unwrap_err();
        assert!(matches!(error, RefreshError::NotFresh { .. }), "{error:?}");
        check(json!({"iat": NOW - 120})).unwrap();
    }
}
