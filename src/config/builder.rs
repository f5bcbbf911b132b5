//! [`ConfigBuilder`]: each setter writes one setting into the draft;
//! [`build`](ConfigBuilder::build) checks them all at once (`check.rs`).

use std::time::Duration;

use super::break_glass::BreakGlassSettings;
use super::settings::Draft;
use super::{AuthMethod, ClientAuth, Config, Flow, RequiredClaim, UserinfoPolicy};
use crate::accounts::EmailVerification;
use crate::algorithm::Algorithm;
use crate::error::ConfigError;
use crate::roles::{NoRolePolicy, RoleMapping};

/// Builds a [`Config`]; [`ConfigBuilder::build`] checks every field.
///
/// Its `Debug` shows no secret: the client secret, private key and
/// break-glass hash are redacted.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    pub(crate) draft: Draft,
}

impl Config {
    /// Starts a config for the provider at `metadata_url` (its
    /// `.well-known/openid-configuration` URL, or its issuer, to which that
    /// path is appended) and this app's `client_id`.
    pub fn builder(metadata_url: impl Into<String>, client_id: impl Into<String>) -> ConfigBuilder {
        let mut draft = Draft::default();
        draft.registration.metadata_url = metadata_url.into();
        draft.registration.client_id = client_id.into();
        ConfigBuilder { draft }
    }
}

impl ConfigBuilder {
    /// How this app authenticates to the token endpoint (default: none, a public client).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.draft.client_auth = auth;
        self
    }
    /// Where the provider sends the browser back: https, or http on a loopback host.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.draft.registration.redirect_uri = Some(uri.into());
        self
    }
    /// The scopes (default `openid email profile`); `openid` is added if missing.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.draft.registration.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// The username claim (default `preferred_username`); a dotted path
    /// such as `account.login` reaches into nested objects. A login without
    /// it (in the ID token or userinfo), or where it is not a string, is
    /// refused ([`AccessError::MissingUsername`](crate::AccessError::MissingUsername)):
    /// for a provider that sends no `preferred_username`, name another
    /// (`email`, Entra's `upn`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.claims.username = claim.into();
        self
    }
    /// The email claim (default `email`).
    pub fn email_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.claims.email = claim.into();
        self
    }
    /// The groups claim (default `groups`); a dotted path such as
    /// `realm_access.roles` reaches into nested objects.
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.claims.groups = claim.into();
        self
    }
    /// The app roles claim (default `roles`, where Entra ID puts app
    /// roles), matched by [`Source::AppRole`](crate::Source::AppRole) rows.
    pub fn app_roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.claims.app_roles = claim.into();
        self
    }
    /// A claim every login must have, with this value (or an array holding it).
    pub fn required_claim(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.draft.claims.required = Some(RequiredClaim {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    /// The authorization request's `prompt` on every login (TOML `prompt`;
    /// default none): `none`, `login`, `consent` or `select_account` (OpenID
    /// Connect Core 3.1.2.1), or several separated by spaces, `none` alone.
    /// A login's own ([`Start::prompt`](crate::Start::prompt), `GET
    /// /login?prompt=`) wins.
    ///
    /// Without one, `prompt=consent` is sent when `scopes` has
    /// `offline_access`, as Core section 11 asks (providers that follow it,
    /// such as the npm `oidc-provider`, issue no refresh token otherwise),
    /// except to Microsoft Entra ID, which issues refresh tokens without it
    /// and would show its consent screen at every sign-in. Set `prompt` to
    /// choose otherwise, e.g. `"login"`.
    ///
    /// ```
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let config = oidc_login::Config::builder("https://login.example", "app")
    ///     .redirect_uri("https://app.example/callback")
    ///     .prompt("select_account")
    ///     .build()?;
    /// assert_eq!(config.prompt(), Some("select_account"));
    /// # Ok(()) }
    /// ```
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.draft.registration.prompt = Some(prompt.into());
        self
    }
    /// The provider's name in the app (default `default`): the
    /// `?provider=` of `GET /login` and the identity's
    /// [`provider`](crate::Identity::provider) when the app offers several
    /// providers. 1 to 32 ASCII letters, digits, `-` or `_`.
    ///
    /// ```
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let config = oidc_login::Config::builder("https://login.example", "app")
    ///     .redirect_uri("https://app.example/callback/entra")
    ///     .name("entra")
    ///     .build()?;
    /// assert_eq!(config.name(), "entra");
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.draft.registration.name = name.into();
        self
    }
    /// The sign-in button's text (default "Sign in").
    pub fn login_button_text(mut self, text: impl Into<String>) -> Self {
        self.draft.registration.login_button_text = text.into();
        self
    }
    /// The tolerated clock difference (default 60 s, at most 300 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.draft.limits.clock_skew = skew;
        self
    }
    /// The accepted ID token algorithms (default: what the provider
    /// advertises, among RS*, PS*, ES* and EdDSA).
    ///
    /// # Security
    /// HMAC algorithms (HS256/384/512) are accepted only when listed here
    /// and the client has a secret: the token is then keyed with the client
    /// secret, which the provider must keep as well as you do.
    pub fn allowed_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.draft.key_set.allowed_algorithms = Some(algorithms.into_iter().collect());
        self
    }
    /// How long a started login may take (default 10 minutes).
    pub fn pending_login_lifetime(mut self, lifetime: Duration) -> Self {
        self.draft.limits.pending_login_lifetime = lifetime;
        self
    }
    /// Trusts another audience in the ID token's `aud` (default: none).
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.draft
            .registration
            .trusted_audiences
            .push(audience.into());
        self
    }
    /// When userinfo is fetched (default: when claims are missing).
    pub fn userinfo(mut self, policy: UserinfoPolicy) -> Self {
        self.draft.registration.userinfo = policy;
        self
    }
    /// The least time between key-set refetches (default 10 s).
    pub fn jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.draft.key_set.refetch_cooldown = cooldown;
        self
    }
    /// How long a fetched key set is used before it is fetched again
    /// (default a day; from 1 s to 7 days).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.draft.key_set.max_age = max_age;
        self
    }
    /// The timeout of each request to the provider (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.draft.limits.http_timeout = timeout;
        self
    }
    /// How long [`Client::discover`](crate::Client::discover) keeps trying
    /// a provider it cannot reach yet, with exponential backoff and jitter,
    /// before it returns the error (default 60 s, at most 600 s). Only what
    /// time can mend is retried: no connection, a timeout, an answer cut
    /// short, HTTP 5xx or 429. `Duration::ZERO` tries once.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let config = oidc_login::Config::builder("https://login.example", "app")
    ///     .redirect_uri("https://app.example/callback")
    ///     .discovery_retry(Duration::from_secs(120))
    ///     .build()?;
    /// assert_eq!(config.limits().discovery_retry, Duration::from_secs(120));
    /// # Ok(()) }
    /// ```
    pub fn discovery_retry(mut self, window: Duration) -> Self {
        self.draft.limits.discovery_retry = window;
        self
    }
    /// Allows a URI for the provider to send the browser to after an
    /// RP-initiated logout (register it at the provider too). It must be on
    /// the redirect URI's origin: a logout never leads off-site.
    pub fn add_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.draft
            .registration
            .post_logout_redirect_uris
            .push(uri.into());
        self
    }
    /// Switches on the break-glass local sign-in ([`BreakGlass`](crate::BreakGlass)),
    /// off by default: one local account, `username`, whose password is
    /// checked against `password_hash`, an argon2id hash in PHC form
    /// (`$argon2id$v=19$...`, see [`BreakGlass::hash_password`](crate::BreakGlass::hash_password)),
    /// never a plain password, of at least OWASP's minimum cost and at most
    /// a ceiling ([`BreakGlassSettings`] says which). For when the provider
    /// cannot be reached.
    pub fn break_glass(
        mut self,
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Self {
        self.draft.break_glass = Some(BreakGlassSettings::unchecked(
            username.into(),
            password_hash.into(),
        ));
        self
    }
    /// Adds a role-mapping row.
    pub fn add_role_mapping(mut self, row: RoleMapping) -> Self {
        self.draft.registration.role_mapping.push(row);
        self
    }
    /// What happens to a login that maps to no role (default: allow).
    pub fn no_role_policy(mut self, policy: NoRolePolicy) -> Self {
        self.draft.registration.no_role_policy = policy;
        self
    }

    /// Makes [`build`](Self::build) refuse any client authentication
    /// method but `method`, reporting it under `field` (a provider preset's
    /// field naming the registered method).
    pub(crate) fn require_auth_method(mut self, method: AuthMethod, field: &'static str) -> Self {
        self.draft.required_auth_method = Some((method, field));
        self
    }
    /// The login flow (default [`Flow::AuthorizationCodePkce`]).
    /// [`Flow::Implicit`] is refused by [`build`](Self::build) unless
    /// [`insecure_implicit_flow`](Self::insecure_implicit_flow) is called.
    pub fn flow(mut self, flow: Flow) -> Self {
        self.draft.registration.flow = flow;
        self
    }
    /// Switches the implicit flow on ([`Flow::Implicit`]): the only way to
    /// get it, so that it is never chosen by accident.
    ///
    /// # Security
    ///
    /// The ID token comes back through the browser in a form post, without
    /// a code exchange. The nonce is required and checked; there is no
    /// access token, so no userinfo and no refresh. Prefer
    /// [`Flow::AuthorizationCodePkce`] whenever the provider allows it.
    pub fn insecure_implicit_flow(mut self) -> Self {
        self.draft.registration.flow = Flow::Implicit;
        self.draft.registration.allow_implicit_flow = true;
        self
    }
    /// When an email from this provider counts as verified, so that a first
    /// login may be linked to a local account by it (default
    /// [`EmailVerification::EmailVerifiedClaim`]).
    pub fn email_verification(mut self, policy: EmailVerification) -> Self {
        self.draft.claims.email_verification = policy;
        self
    }

    /// Checks every field and builds the config.
    pub fn build(self) -> Result<Config, ConfigError> {
        super::check::check(self.draft)
    }
}
