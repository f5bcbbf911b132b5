//! [`Config`]: the provider and client settings, as a validating builder and
//! as TOML or JSON (the fields of Pexip's OpenID Connect settings form).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::accounts::EmailVerification;
use crate::algorithm::Algorithm;
use crate::assertion::{KeyFields, PrivateKeyJwt};
use crate::break_glass::BreakGlassSettings;
use crate::entra::{Entra, EntraDraft, EntraFile};
use crate::error::ConfigError;
use crate::http::is_secure_or_loopback;
use crate::roles::{NoRolePolicy, RoleMapping};
use crate::secret::ClientSecret;

mod text;
pub(crate) use text::{Format, parse_text};

const WELL_KNOWN: &str = "/.well-known/openid-configuration";
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// How the client authenticates to the provider's token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: no secret, the login is protected by PKCE alone.
    None,
    /// `client_secret_basic`: the secret in an HTTP Basic `Authorization` header.
    SecretBasic(ClientSecret),
    /// `client_secret_post`: the secret in the form body.
    SecretPost(ClientSecret),
    /// `client_secret_jwt`: a JWT signed with HS256 keyed with the secret,
    /// made afresh for each token request (RFC 7523, OpenID Connect Core 9).
    /// The secret must be at least 32 bytes (RFC 7518 3.2).
    SecretJwt(ClientSecret),
    /// `private_key_jwt`: a JWT signed with the client's private key, made
    /// afresh for each token request (RFC 7523, OpenID Connect Core 9). The
    /// provider holds only the public key.
    PrivateKeyJwt(PrivateKeyJwt),
}

impl ClientAuth {
    /// `client_secret_basic` with this secret.
    pub fn secret_basic(secret: impl Into<String>) -> Self {
        Self::SecretBasic(ClientSecret::new(secret))
    }

    /// `client_secret_post` with this secret.
    pub fn secret_post(secret: impl Into<String>) -> Self {
        Self::SecretPost(ClientSecret::new(secret))
    }

    /// `client_secret_jwt` with this secret (at least 32 bytes).
    pub fn secret_jwt(secret: impl Into<String>) -> Self {
        Self::SecretJwt(ClientSecret::new(secret))
    }

    /// `private_key_jwt` with this PEM private key (RSA, EC or Ed25519) and
    /// key id (the assertion's `kid`). For a certificate thumbprint, another
    /// RSA algorithm or no `kid`, build a [`PrivateKeyJwt`] and wrap it in
    /// [`ClientAuth::PrivateKeyJwt`].
    ///
    /// A key that cannot be used is reported by [`ConfigBuilder::build`].
    pub fn private_key_jwt(pem: impl Into<String>, kid: impl Into<String>) -> Self {
        Self::PrivateKeyJwt(PrivateKeyJwt::from_pem(pem).with_kid(kid))
    }

    /// The method's name.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::None => AuthMethod::None,
            Self::SecretBasic(_) => AuthMethod::ClientSecretBasic,
            Self::SecretPost(_) => AuthMethod::ClientSecretPost,
            Self::SecretJwt(_) => AuthMethod::ClientSecretJwt,
            Self::PrivateKeyJwt(_) => AuthMethod::PrivateKeyJwt,
        }
    }

    /// The client secret, if the method has one.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            Self::None | Self::PrivateKeyJwt(_) => None,
            Self::SecretBasic(secret) | Self::SecretPost(secret) | Self::SecretJwt(secret) => {
                Some(secret)
            }
        }
    }
}

/// The name of a client authentication method, as in provider metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// `none`
    None,
    /// `client_secret_basic`
    ClientSecretBasic,
    /// `client_secret_post`
    ClientSecretPost,
    /// `client_secret_jwt`
    ClientSecretJwt,
    /// `private_key_jwt`
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The name used in provider metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// When the userinfo endpoint is called after the code exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserinfoPolicy {
    /// Never: the identity comes from the ID token alone.
    Never,
    /// When the ID token lacks the username, email or groups claim.
    #[default]
    WhenClaimsMissing,
    /// On every login.
    Always,
}

/// The OpenID Connect flow a login uses (Axidian's "flow" setting).
///
/// TOML: `flow = "authorization_code_pkce"` (the default),
/// `"authorization_code"` or `"implicit"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Flow {
    /// Authorization Code with PKCE S256: the code is useless without the
    /// verifier that only this login holds. Use it unless the provider
    /// cannot.
    #[default]
    AuthorizationCodePkce,
    /// Authorization Code without PKCE: no `code_challenge` is sent and no
    /// `code_verifier` with the code.
    ///
    /// Only for a provider that refuses PKCE parameters outright (some older
    /// servers answer `invalid_request` to an unknown `code_challenge`).
    /// The `state` and `nonce` checks remain, but a stolen code can then be
    /// redeemed by anyone holding the client's credentials. Discovery logs a
    /// warning.
    AuthorizationCode,
    /// The implicit flow, `response_type=id_token` with
    /// `response_mode=form_post`: the ID token arrives in the callback form
    /// and no code is exchanged.
    ///
    /// # Security
    ///
    /// Discouraged (OAuth 2.0 Security BCP, RFC 9700 section 2.1.2): the ID
    /// token travels through the browser, and there is no access token, so
    /// no userinfo and no refresh. It is accepted only when switched on by
    /// name, with [`ConfigBuilder::insecure_implicit_flow`] or
    /// `allow_implicit_flow = true` beside `flow = "implicit"`; the nonce is
    /// required and checked, and every start logs a warning.
    Implicit,
}

impl Flow {
    /// The name used in the TOML form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCodePkce => "authorization_code_pkce",
            Self::AuthorizationCode => "authorization_code",
            Self::Implicit => "implicit",
        }
    }
}

/// A claim every login must have: the claim equals `value`, or is an array
/// holding it (Pexip's "required key / required value").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredClaim {
    /// The claim's name or dotted path.
    pub key: String,
    /// The value it must hold.
    pub value: String,
}

/// Everything the client needs to know: the provider, this app's
/// registration with it, which claims to read, and the security limits.
///
/// Build it with [`Config::builder`], or load it with [`Config::from_toml`],
/// [`Config::from_json`] or [`Config::from_file`]. A config that cannot work
/// fails there, with an error naming the field.
///
/// ```
/// use oidc_login::{ClientAuth, Config};
///
/// # fn main() -> Result<(), oidc_login::ConfigError> {
/// let config = Config::builder("https://login.example.com", "my-app")
///     .client_auth(ClientAuth::secret_basic("s3cret"))
///     .redirect_uri("https://app.example.com/auth/callback")
///     .scopes(["openid", "email", "profile", "offline_access"])
///     .required_claim("tid", "3c1a0f6e-0000-4000-8000-000000000001")
///     .build()?;
/// assert_eq!(config.issuer(), "https://login.example.com");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    metadata_url: Url,
    issuer: String,
    /// The issuer was derived from a metadata URL, so it may also end with
    /// a `/` (Discovery 1.0 section 4 drops it before the well-known path).
    issuer_from_metadata_url: bool,
    client_id: String,
    client_auth: ClientAuth,
    redirect_uri: Url,
    scopes: Vec<String>,
    username_claim: String,
    email_claim: String,
    groups_claim: String,
    app_roles_claim: String,
    required_claim: Option<RequiredClaim>,
    login_button_text: String,
    clock_skew: Duration,
    allowed_algorithms: Option<Vec<Algorithm>>,
    pending_login_lifetime: Duration,
    trusted_audiences: Vec<String>,
    userinfo: UserinfoPolicy,
    jwks_refetch_cooldown: Duration,
    jwks_max_age: Duration,
    http_timeout: Duration,
    role_mapping: Vec<RoleMapping>,
    no_role_policy: NoRolePolicy,
    flow: Flow,
    email_verification: EmailVerification,
    post_logout_redirect_uris: Vec<Url>,
    break_glass: Option<BreakGlassSettings>,
    /// Microsoft Entra ID settings, when made with `Config::entra` (`src/entra.rs`).
    pub(crate) entra: Option<Entra>,
}

impl Config {
    /// Starts a config for the provider at `metadata_url` (its
    /// `.well-known/openid-configuration` URL, or its issuer, to which that
    /// path is appended) and this app's `client_id`.
    pub fn builder(metadata_url: impl Into<String>, client_id: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            metadata_url: metadata_url.into(),
            client_id: client_id.into(),
            client_auth: ClientAuth::None,
            redirect_uri: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            username_claim: "preferred_username".into(),
            email_claim: "email".into(),
            groups_claim: "groups".into(),
            app_roles_claim: "roles".into(),
            required_claim: None,
            login_button_text: "Sign in".into(),
            clock_skew: Duration::from_secs(60),
            allowed_algorithms: None,
            pending_login_lifetime: Duration::from_secs(600),
            trusted_audiences: Vec::new(),
            userinfo: UserinfoPolicy::default(),
            jwks_refetch_cooldown: Duration::from_secs(10),
            jwks_max_age: Duration::from_secs(24 * 3600),
            http_timeout: Duration::from_secs(10),
            role_mapping: Vec::new(),
            no_role_policy: NoRolePolicy::default(),
            required_auth_method: None,
            flow: Flow::default(),
            allow_implicit_flow: false,
            email_verification: EmailVerification::default(),
            post_logout_redirect_uris: Vec::new(),
            break_glass: None,
            entra: EntraDraft::default(),
        }
    }

    /// Reads the TOML form. See the crate docs for every field.
    ///
    /// A parse error names the field, line and column and the kind of
    /// mistake ("did you mean `client_secret`?"), never a value from the
    /// text: any value may be a secret.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        parse_text::<ConfigFile>(text, Format::Toml, "")?.into_config(env_var)
    }

    /// Reads the JSON form: the same fields as the TOML form.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        parse_text::<ConfigFile>(text, Format::Json, "")?.into_config(env_var)
    }

    /// Reads a file: JSON when its name ends in `.json`, TOML otherwise.
    /// Relative paths in it (`private_key_pem_file`...) are read from the
    /// file's own directory.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let format = if path.extension().is_some_and(|ext| ext == "json") {
            Format::Json
        } else {
            Format::Toml
        };
        let mut file: ConfigFile = parse_text(&text, format, "")?;
        file.base_dir = path.parent().map(std::path::Path::to_path_buf);
        file.into_config(env_var)
    }

    /// The metadata (discovery document) URL.
    pub fn metadata_url(&self) -> &Url {
        &self.metadata_url
    }
    /// The issuer the provider must publish, exactly. When the config names
    /// the metadata URL (`.../.well-known/openid-configuration`) rather than
    /// the issuer, this issuer followed by `/` is accepted too: both lead to
    /// that metadata URL (OpenID Connect Discovery 1.0 section 4), and PrivX
    /// issuers end with `/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether `published` is an issuer this config accepts (see
    /// [`issuer`](Self::issuer)).
    pub(crate) fn accepts_issuer(&self, published: &str) -> bool {
        published == self.issuer
            || (self.issuer_from_metadata_url
                && published.strip_suffix('/') == Some(self.issuer.as_str()))
    }
    /// This app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// How this app authenticates to the token endpoint.
    pub fn client_auth(&self) -> &ClientAuth {
        &self.client_auth
    }
    /// Where the provider sends the browser back.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }
    /// The scopes asked for; `openid` is always first.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// The claim read as the username.
    pub fn username_claim(&self) -> &str {
        &self.username_claim
    }
    /// The claim read as the email.
    pub fn email_claim(&self) -> &str {
        &self.email_claim
    }
    /// The claim read as the groups (a name or dotted path).
    pub fn groups_claim(&self) -> &str {
        &self.groups_claim
    }
    /// The claim read as the app roles (default `roles`), matched by
    /// [`Source::AppRole`](crate::Source::AppRole) rows.
    pub fn app_roles_claim(&self) -> &str {
        &self.app_roles_claim
    }
    /// The claim every login must have, if any.
    pub fn required_claim(&self) -> Option<&RequiredClaim> {
        self.required_claim.as_ref()
    }
    /// The sign-in button's text.
    pub fn login_button_text(&self) -> &str {
        &self.login_button_text
    }
    /// The clock difference tolerated in `exp`, `iat`, `nbf` and `auth_time`.
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }
    /// The signing algorithms accepted; `None` means what the provider
    /// advertises, among the asymmetric ones.
    pub fn allowed_algorithms(&self) -> Option<&[Algorithm]> {
        self.allowed_algorithms.as_deref()
    }
    /// How long a started login may take to finish.
    pub fn pending_login_lifetime(&self) -> Duration {
        self.pending_login_lifetime
    }
    /// Audiences besides this client id that an ID token may carry.
    pub fn trusted_audiences(&self) -> &[String] {
        &self.trusted_audiences
    }
    /// When userinfo is fetched.
    pub fn userinfo(&self) -> UserinfoPolicy {
        self.userinfo
    }
    /// The least time between two key-set refetches caused by unknown `kid`s.
    pub fn jwks_refetch_cooldown(&self) -> Duration {
        self.jwks_refetch_cooldown
    }
    /// How long a fetched key set is used before it is fetched again, so a
    /// key the provider withdraws stops being accepted.
    pub fn jwks_max_age(&self) -> Duration {
        self.jwks_max_age
    }
    /// The timeout of each request to the provider.
    pub fn http_timeout(&self) -> Duration {
        self.http_timeout
    }
    /// The role-mapping rows (`[[role_mapping]]` in TOML).
    pub fn role_mapping(&self) -> &[RoleMapping] {
        &self.role_mapping
    }
    /// What happens to a login that maps to no role.
    pub fn no_role_policy(&self) -> NoRolePolicy {
        self.no_role_policy
    }
    /// The login flow.
    pub fn flow(&self) -> Flow {
        self.flow
    }
    /// When an email from this provider counts as verified for account
    /// linking (see [`AccountLinker`](crate::AccountLinker)).
    pub fn email_verification(&self) -> EmailVerification {
        self.email_verification
    }
    /// Where the provider may send the browser after an RP-initiated logout
    /// ([`Client::logout_url`](crate::Client::logout_url)); each on the
    /// redirect URI's origin.
    pub fn post_logout_redirect_uris(&self) -> &[Url] {
        &self.post_logout_redirect_uris
    }
    /// The break-glass local account, when switched on
    /// ([`BreakGlass::from_config`](crate::BreakGlass::from_config)).
    pub fn break_glass(&self) -> Option<&BreakGlassSettings> {
        self.break_glass.as_ref()
    }
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] checks every field.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    metadata_url: String,
    client_id: String,
    client_auth: ClientAuth,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    username_claim: String,
    email_claim: String,
    groups_claim: String,
    app_roles_claim: String,
    required_claim: Option<RequiredClaim>,
    login_button_text: String,
    clock_skew: Duration,
    allowed_algorithms: Option<Vec<Algorithm>>,
    pending_login_lifetime: Duration,
    trusted_audiences: Vec<String>,
    userinfo: UserinfoPolicy,
    jwks_refetch_cooldown: Duration,
    jwks_max_age: Duration,
    http_timeout: Duration,
    role_mapping: Vec<RoleMapping>,
    no_role_policy: NoRolePolicy,
    /// The method a provider preset says the client is registered for, and
    /// the preset's field that says so.
    required_auth_method: Option<(AuthMethod, &'static str)>,
    flow: Flow,
    allow_implicit_flow: bool,
    email_verification: EmailVerification,
    post_logout_redirect_uris: Vec<String>,
    break_glass: Option<(String, String)>,
    /// Microsoft Entra ID settings (`src/entra.rs`).
    pub(crate) entra: EntraDraft,
}

impl ConfigBuilder {
    /// How this app authenticates to the token endpoint (default: none, a public client).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }
    /// Where the provider sends the browser back: https, or http on a loopback host.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }
    /// The scopes (default `openid email profile`); `openid` is added if missing.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// The username claim (default `preferred_username`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = claim.into();
        self
    }
    /// The email claim (default `email`).
    pub fn email_claim(mut self, claim: impl Into<String>) -> Self {
        self.email_claim = claim.into();
        self
    }
    /// The groups claim (default `groups`); a dotted path such as
    /// `realm_access.roles` reaches into nested objects.
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = claim.into();
        self
    }
    /// The app roles claim (default `roles`, where Entra ID puts app
    /// roles), matched by [`Source::AppRole`](crate::Source::AppRole) rows.
    pub fn app_roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.app_roles_claim = claim.into();
        self
    }
    /// A claim every login must have, with this value (or an array holding it).
    pub fn required_claim(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.required_claim = Some(RequiredClaim {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    /// The sign-in button's text (default "Sign in").
    pub fn login_button_text(mut self, text: impl Into<String>) -> Self {
        self.login_button_text = text.into();
        self
    }
    /// The tolerated clock difference (default 60 s, at most 300 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
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
        self.allowed_algorithms = Some(algorithms.into_iter().collect());
        self
    }
    /// How long a started login may take (default 10 minutes).
    pub fn pending_login_lifetime(mut self, lifetime: Duration) -> Self {
        self.pending_login_lifetime = lifetime;
        self
    }
    /// Trusts another audience in the ID token's `aud` (default: none).
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }
    /// When userinfo is fetched (default: when claims are missing).
    pub fn userinfo(mut self, policy: UserinfoPolicy) -> Self {
        self.userinfo = policy;
        self
    }
    /// The least time between key-set refetches (default 10 s).
    pub fn jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refetch_cooldown = cooldown;
        self
    }
    /// How long a fetched key set is used before it is fetched again
    /// (default a day; from 1 s to 7 days).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }
    /// The timeout of each request to the provider (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }
    /// Allows a URI for the provider to send the browser to after an
    /// RP-initiated logout (register it at the provider too). It must be on
    /// the redirect URI's origin: a logout never leads off-site.
    pub fn add_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }
    /// Switches on the break-glass local sign-in ([`BreakGlass`](crate::BreakGlass)),
    /// off by default: one local account, `username`, whose password is
    /// checked against `password_hash`, an argon2 hash in PHC form
    /// (`$argon2id$v=19$...`, see [`BreakGlass::hash_password`](crate::BreakGlass::hash_password)),
    /// never a plain password. For when the provider cannot be reached.
    pub fn break_glass(
        mut self,
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Self {
        self.break_glass = Some((username.into(), password_hash.into()));
        self
    }
    /// Adds a role-mapping row.
    pub fn add_role_mapping(mut self, row: RoleMapping) -> Self {
        self.role_mapping.push(row);
        self
    }
    /// What happens to a login that maps to no role (default: allow).
    pub fn no_role_policy(mut self, policy: NoRolePolicy) -> Self {
        self.no_role_policy = policy;
        self
    }

    /// Makes [`build`](Self::build) refuse any client authentication
    /// method but `method`, reporting it under `field` (a provider preset's
    /// field naming the registered method).
    pub(crate) fn require_auth_method(mut self, method: AuthMethod, field: &'static str) -> Self {
        self.required_auth_method = Some((method, field));
        self
    }
    /// The login flow (default [`Flow::AuthorizationCodePkce`]).
    /// [`Flow::Implicit`] is refused by [`build`](Self::build) unless
    /// [`insecure_implicit_flow`](Self::insecure_implicit_flow) is called.
    pub fn flow(mut self, flow: Flow) -> Self {
        self.flow = flow;
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
        self.flow = Flow::Implicit;
        self.allow_implicit_flow = true;
        self
    }
    /// When an email from this provider counts as verified, so that a first
    /// login may be linked to a local account by it (default
    /// [`EmailVerification::EmailVerifiedClaim`]).
    pub fn email_verification(mut self, policy: EmailVerification) -> Self {
        self.email_verification = policy;
        self
    }

    /// Checks every field and builds the config.
    pub fn build(self) -> Result<Config, ConfigError> {
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };

        let (entra, metadata_url) = match self.entra.build()? {
            Some((entra, metadata_url)) => (Some(entra), metadata_url),
            None => (None, self.metadata_url),
        };
        let issuer_from_metadata_url = metadata_url.ends_with(WELL_KNOWN);
        let (metadata_url, issuer) = metadata_url_and_issuer(&metadata_url)?;

        if self.client_id.trim().is_empty() {
            return Err(ConfigError::Missing { field: "client_id" });
        }
        if self.client_id.chars().any(char::is_control) {
            return Err(invalid("client_id", "holds control characters".into()));
        }
        if let Some(secret) = self.client_auth.secret()
            && secret.expose_secret().is_empty()
        {
            return Err(invalid("client_secret", "is empty".into()));
        }
        match &self.client_auth {
            ClientAuth::PrivateKeyJwt(key) => {
                if let Some((field, reason)) = key.problem() {
                    return Err(invalid(field, reason));
                }
            }
            // RFC 7518 3.2: an HS256 key has at least 256 bits.
            ClientAuth::SecretJwt(secret) if secret.expose_secret().len() < 32 => {
                return Err(invalid(
                    "client_secret",
                    "`client_secret_jwt` signs with HS256, which needs a secret of at least 32 bytes (RFC 7518 3.2)".into(),
                ));
            }
            _ => {}
        }
        if let Some((method, field)) = self.required_auth_method
            && self.client_auth.method() != method
        {
            return Err(invalid(
                field,
                format!(
                    "the provider registers this client for `{}`, but the client authenticates with `{}`; set `client_auth` to match (for `private_key_jwt`: `ClientAuth::private_key_jwt(pem, kid)` with the client's private key)",
                    method.as_str(),
                    self.client_auth.method().as_str()
                ),
            ));
        }

        let redirect_uri = self.redirect_uri.ok_or(ConfigError::Missing {
            field: "redirect_uri",
        })?;
        let redirect_uri = Url::parse(&redirect_uri).map_err(|e| {
            invalid(
                "redirect_uri",
                format!("`{redirect_uri}` is not an absolute URL ({e})"),
            )
        })?;
        if !is_secure_or_loopback(&redirect_uri) {
            return Err(invalid(
                "redirect_uri",
                format!(
                    "`{redirect_uri}` must use https (plain http only on a loopback host such as 127.0.0.1)"
                ),
            ));
        }
        if redirect_uri.fragment().is_some() {
            return Err(invalid(
                "redirect_uri",
                "must not have a `#fragment`".into(),
            ));
        }

        let mut scopes = Vec::with_capacity(self.scopes.len() + 1);
        scopes.push("openid".to_owned());
        for scope in self.scopes {
            if scope.is_empty()
                || scope.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\')
            {
                return Err(invalid(
                    "scopes",
                    format!("`{scope}` is not a valid scope name"),
                ));
            }
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }

        for (field, value) in [
            ("username_claim", &self.username_claim),
            ("email_claim", &self.email_claim),
            ("groups_claim", &self.groups_claim),
            ("app_roles_claim", &self.app_roles_claim),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "is empty".into()));
            }
        }
        if let Some(required) = &self.required_claim
            && required.key.trim().is_empty()
        {
            return Err(invalid("required_claim", "`key` is empty".into()));
        }

        if self.clock_skew > MAX_CLOCK_SKEW {
            return Err(invalid(
                "clock_skew_seconds",
                format!(
                    "{} s is more than the {} s allowed",
                    self.clock_skew.as_secs(),
                    MAX_CLOCK_SKEW.as_secs()
                ),
            ));
        }

        if let Some(algorithms) = &self.allowed_algorithms {
            if algorithms.is_empty() {
                return Err(invalid(
                    "allowed_algorithms",
                    "is empty: list at least one, or leave it out".into(),
                ));
            }
            if algorithms.iter().any(|a| a.is_hmac()) && self.client_auth.secret().is_none() {
                return Err(invalid(
                    "allowed_algorithms",
                    "HMAC algorithms (HS256/384/512) need a client secret to be keyed with".into(),
                ));
            }
            // RFC 7518 3.2: the key must be at least as long as the hash output.
            let secret_len = self
                .client_auth
                .secret()
                .map_or(0, |s| s.expose_secret().len());
            for (alg, needed) in [
                (Algorithm::HS256, 32),
                (Algorithm::HS384, 48),
                (Algorithm::HS512, 64),
            ] {
                if algorithms.contains(&alg) && secret_len < needed {
                    return Err(invalid(
                        "allowed_algorithms",
                        format!(
                            "{alg} needs a client secret of at least {needed} bytes (RFC 7518 3.2)"
                        ),
                    ));
                }
            }
        }

        let lifetime = self.pending_login_lifetime;
        if lifetime < Duration::from_secs(30) || lifetime > Duration::from_secs(3600) {
            return Err(invalid(
                "pending_login_lifetime_seconds",
                format!("{} s is outside 30 s to 3600 s", lifetime.as_secs()),
            ));
        }
        for audience in &self.trusted_audiences {
            if audience.trim().is_empty() {
                return Err(invalid(
                    "trusted_audiences",
                    "holds an empty audience".into(),
                ));
            }
        }
        if self.jwks_refetch_cooldown < Duration::from_secs(1)
            || self.jwks_refetch_cooldown > Duration::from_secs(3600)
        {
            return Err(invalid(
                "jwks_refetch_cooldown_seconds",
                "must be between 1 s and 3600 s".into(),
            ));
        }
        if self.jwks_max_age < Duration::from_secs(1)
            || self.jwks_max_age > Duration::from_secs(7 * 24 * 3600)
        {
            return Err(invalid(
                "jwks_max_age_seconds",
                "must be between 1 s and 7 days".into(),
            ));
        }
        if self.http_timeout.is_zero() || self.http_timeout > Duration::from_secs(120) {
            return Err(invalid(
                "http_timeout_seconds",
                "must be between 1 s and 120 s".into(),
            ));
        }
        if let Some(problem) = self.role_mapping.iter().find_map(RoleMapping::problem) {
            return Err(invalid("role_mapping", problem));
        }
        match (self.flow, self.allow_implicit_flow) {
            (Flow::Implicit, false) => {
                return Err(invalid(
                    "allow_implicit_flow",
                    "must be `true` for `flow = \"implicit\"`: the implicit flow is discouraged and is switched on only by name".into(),
                ));
            }
            (Flow::AuthorizationCodePkce | Flow::AuthorizationCode, true) => {
                return Err(invalid(
                    "allow_implicit_flow",
                    format!(
                        "is `true`, but `flow` is `{}`: remove it, or set `flow = \"implicit\"`",
                        self.flow.as_str()
                    ),
                ));
            }
            _ => {}
        }
        let mut post_logout_redirect_uris =
            Vec::with_capacity(self.post_logout_redirect_uris.len());
        for given in &self.post_logout_redirect_uris {
            let field = "post_logout_redirect_uris";
            let uri = Url::parse(given)
                .map_err(|e| invalid(field, format!("`{given}` is not an absolute URL ({e})")))?;
            if uri.origin() != redirect_uri.origin() {
                return Err(invalid(
                    field,
                    format!(
                        "`{given}` is not on the origin of `redirect_uri` ({}): after a logout the browser comes back to this app only",
                        redirect_uri.origin().ascii_serialization()
                    ),
                ));
            }
            if uri.fragment().is_some() {
                return Err(invalid(field, format!("`{given}` has a fragment")));
            }
            post_logout_redirect_uris.push(uri);
        }

        let break_glass = self
            .break_glass
            .map(|(username, hash)| BreakGlassSettings::new(username, hash))
            .transpose()?;

        if self.flow == Flow::Implicit && self.userinfo == UserinfoPolicy::Always {
            return Err(invalid(
                "userinfo",
                "is `always`, but the implicit flow gets no access token to call userinfo with: use `never`, or a code flow".into(),
            ));
        }

        Ok(Config {
            issuer_from_metadata_url,
            metadata_url,
            issuer,
            client_id: self.client_id,
            client_auth: self.client_auth,
            redirect_uri,
            scopes,
            username_claim: self.username_claim,
            email_claim: self.email_claim,
            groups_claim: self.groups_claim,
            app_roles_claim: self.app_roles_claim,
            required_claim: self.required_claim,
            login_button_text: self.login_button_text,
            clock_skew: self.clock_skew,
            allowed_algorithms: self.allowed_algorithms,
            pending_login_lifetime: lifetime,
            trusted_audiences: self.trusted_audiences,
            userinfo: self.userinfo,
            jwks_refetch_cooldown: self.jwks_refetch_cooldown,
            jwks_max_age: self.jwks_max_age,
            http_timeout: self.http_timeout,
            role_mapping: self.role_mapping,
            no_role_policy: self.no_role_policy,
            flow: self.flow,
            email_verification: self.email_verification,
            post_logout_redirect_uris,
            break_glass,
            entra,
        })
    }
}

/// Splits the configured URL into the metadata URL and the issuer it implies
/// (OpenID Connect Discovery 1.0 section 4: issuer + the well-known path).
fn metadata_url_and_issuer(given: &str) -> Result<(Url, String), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        field: "metadata_url",
        reason,
    };
    if given.trim().is_empty() {
        return Err(ConfigError::Missing {
            field: "metadata_url",
        });
    }
    let url = Url::parse(given)
        .map_err(|e| invalid(format!("`{given}` is not an absolute URL ({e})")))?;
    if !is_secure_or_loopback(&url) {
        return Err(invalid(format!(
            "`{given}` must use https (plain http only on a loopback host such as 127.0.0.1)"
        )));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid(format!(
            "`{given}` must not have a query, fragment or user name"
        )));
    }
    // Keep the issuer as written: issuers are compared exactly, trailing `/` included.
    let (issuer, metadata) = match given.strip_suffix(WELL_KNOWN) {
        Some(issuer) => (issuer.to_owned(), url),
        None => {
            let metadata = format!("{}{WELL_KNOWN}", given.trim_end_matches('/'));
            let metadata = Url::parse(&metadata).map_err(|e| invalid(e.to_string()))?;
            (given.to_owned(), metadata)
        }
    };
    Ok((metadata, issuer))
}

/// The TOML / JSON form. Unknown fields are an error, so that a typo never
/// silently drops a setting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    metadata_url: Option<String>,
    entra: Option<EntraFile>,
    client_id: String,
    client_secret: Option<ClientSecret>,
    client_secret_env: Option<String>,
    auth_method: Option<AuthMethod>,
    redirect_uri: String,
    scopes: Option<Vec<String>>,
    username_claim: Option<String>,
    email_claim: Option<String>,
    groups_claim: Option<String>,
    app_roles_claim: Option<String>,
    required_claim: Option<RequiredClaim>,
    login_button_text: Option<String>,
    clock_skew_seconds: Option<u64>,
    allowed_algorithms: Option<Vec<Algorithm>>,
    pending_login_lifetime_seconds: Option<u64>,
    #[serde(default)]
    trusted_audiences: Vec<String>,
    userinfo: Option<UserinfoPolicy>,
    jwks_refetch_cooldown_seconds: Option<u64>,
    jwks_max_age_seconds: Option<u64>,
    http_timeout_seconds: Option<u64>,
    #[serde(default)]
    role_mapping: Vec<RoleMapping>,
    no_role_policy: Option<NoRolePolicy>,
    private_key_pem_file: Option<String>,
    private_key_env: Option<String>,
    private_key_kid: Option<String>,
    private_key_certificate_pem_file: Option<String>,
    private_key_algorithm: Option<Algorithm>,
    /// Where relative paths are read from: the config file's directory
    /// ([`Config::from_file`]), else the working directory.
    #[serde(skip)]
    base_dir: Option<std::path::PathBuf>,
    flow: Option<Flow>,
    #[serde(default)]
    allow_implicit_flow: bool,
    email_verification: Option<EmailVerification>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    break_glass: Option<BreakGlassFile>,
}

/// `[break_glass]`: the local account, with its argon2 hash inline or in an
/// environment variable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassFile {
    username: String,
    password_hash: Option<String>,
    password_hash_env: Option<String>,
}

impl ConfigFile {
    /// The `private_key_jwt` key from `private_key_pem_file` or
    /// `private_key_env`, with its `kid`, certificate and algorithm.
    fn private_key(
        &self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<PrivateKeyJwt, ConfigError> {
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
        let (pem, key_field) = match (&self.private_key_pem_file, &self.private_key_env) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "private_key_env",
                    "set either `private_key_pem_file` or `private_key_env`, not both".into(),
                ));
            }
            (Some(path), None) => (
                self.read_file("private_key_pem_file", path)?,
                "private_key_pem_file",
            ),
            (None, Some(variable)) => match env(variable) {
                Some(pem) if !pem.is_empty() => (pem, "private_key_env"),
                _ => {
                    return Err(invalid(
                        "private_key_env",
                        format!(
                            "names the environment variable `{variable}`, which is not set or not valid UTF-8"
                        ),
                    ));
                }
            },
            (None, None) => {
                return Err(invalid(
                    "auth_method",
                    "`private_key_jwt` needs `private_key_pem_file` or `private_key_env`".into(),
                ));
            }
        };
        let mut key = PrivateKeyJwt::from_pem(pem).reported_as(KeyFields {
            key: key_field,
            kid: "private_key_kid",
            certificate: "private_key_certificate_pem_file",
            algorithm: "private_key_algorithm",
        });
        if let Some(kid) = &self.private_key_kid {
            key = key.with_kid(kid.clone());
        }
        if let Some(algorithm) = self.private_key_algorithm {
            key = key.with_algorithm(algorithm);
        }
        if let Some(path) = &self.private_key_certificate_pem_file {
            let certificate = self.read_file("private_key_certificate_pem_file", path)?;
            key = key.with_certificate_pem(certificate);
        }
        Ok(key)
    }

    /// Reads a file named by `field`, relative to `base_dir`.
    fn read_file(&self, field: &'static str, path: &str) -> Result<String, ConfigError> {
        let path = match &self.base_dir {
            Some(dir) if std::path::Path::new(path).is_relative() => dir.join(path),
            _ => std::path::PathBuf::from(path),
        };
        std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
            field,
            reason: format!("`{}` could not be read ({e})", path.display()),
        })
    }

    /// `env` reads an environment variable (injected so tests need not set one).
    fn into_config(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let private_key = (self.auth_method == Some(AuthMethod::PrivateKeyJwt))
            .then(|| self.private_key(&env))
            .transpose()?;
        let has_key_fields = self.private_key_pem_file.is_some()
            || self.private_key_env.is_some()
            || self.private_key_kid.is_some()
            || self.private_key_certificate_pem_file.is_some()
            || self.private_key_algorithm.is_some();
        let secret = match (self.client_secret, self.client_secret_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    field: "client_secret_env",
                    reason: "set either `client_secret` or `client_secret_env`, not both".into(),
                });
            }
            (Some(secret), None) => Some(secret),
            (None, Some(variable)) => match env(&variable) {
                Some(value) if !value.is_empty() => Some(ClientSecret::new(value)),
                _ => return Err(ConfigError::MissingEnvironmentVariable { variable }),
            },
            (None, None) => None,
        };
        let client_auth = match (self.auth_method, secret) {
            (Some(AuthMethod::PrivateKeyJwt), None) => {
                // Read above for `private_key_jwt`.
                ClientAuth::PrivateKeyJwt(private_key.ok_or(ConfigError::Missing {
                    field: "private_key_pem_file",
                })?)
            }
            (Some(AuthMethod::PrivateKeyJwt), Some(_)) => {
                return Err(ConfigError::Invalid {
                    field: "auth_method",
                    reason: "is `private_key_jwt`, which uses no client secret: remove `client_secret` / `client_secret_env`".into(),
                });
            }
            _ if has_key_fields => {
                return Err(ConfigError::Invalid {
                    field: "auth_method",
                    reason:
                        "`private_key_*` fields are set, so `auth_method` must be `private_key_jwt`"
                            .into(),
                });
            }
            (Some(AuthMethod::ClientSecretJwt), Some(secret)) => ClientAuth::SecretJwt(secret),
            (None | Some(AuthMethod::ClientSecretBasic), Some(secret)) => {
                ClientAuth::SecretBasic(secret)
            }
            (Some(AuthMethod::ClientSecretPost), Some(secret)) => ClientAuth::SecretPost(secret),
            (None | Some(AuthMethod::None), None) => ClientAuth::None,
            (Some(AuthMethod::None), Some(_)) => {
                return Err(ConfigError::Invalid {
                    field: "auth_method",
                    reason: "is `none`, but a client secret is set: remove the secret or choose `client_secret_basic`".into(),
                });
            }
            (Some(method), None) => {
                return Err(ConfigError::Invalid {
                    field: "auth_method",
                    reason: format!(
                        "`{}` needs `client_secret` or `client_secret_env`",
                        method.as_str()
                    ),
                });
            }
        };

        let mut builder = match (self.metadata_url, self.entra) {
            (Some(url), None) => Config::builder(url, self.client_id),
            (None, Some(entra)) => {
                let mut builder = Config::builder(String::new(), self.client_id);
                builder.entra = EntraDraft::from_file(entra)?;
                builder
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    field: "entra",
                    reason: "set either `metadata_url` or `entra`, not both".into(),
                });
            }
            (None, None) => {
                return Err(ConfigError::Invalid {
                    field: "metadata_url",
                    reason: "is missing: set `metadata_url`, or `entra = { tenant = \"...\" }` for Microsoft Entra ID".into(),
                });
            }
        }
        .client_auth(client_auth)
            .redirect_uri(self.redirect_uri);
        if let Some(scopes) = self.scopes {
            builder = builder.scopes(scopes);
        }
        if let Some(claim) = self.username_claim {
            builder = builder.username_claim(claim);
        }
        if let Some(claim) = self.email_claim {
            builder = builder.email_claim(claim);
        }
        if let Some(claim) = self.groups_claim {
            builder = builder.groups_claim(claim);
        }
        if let Some(claim) = self.app_roles_claim {
            builder = builder.app_roles_claim(claim);
        }
        builder.required_claim = self.required_claim;
        if let Some(text) = self.login_button_text {
            builder = builder.login_button_text(text);
        }
        if let Some(secs) = self.clock_skew_seconds {
            builder = builder.clock_skew(Duration::from_secs(secs));
        }
        builder.allowed_algorithms = self.allowed_algorithms;
        if let Some(secs) = self.pending_login_lifetime_seconds {
            builder = builder.pending_login_lifetime(Duration::from_secs(secs));
        }
        builder.trusted_audiences = self.trusted_audiences;
        builder.post_logout_redirect_uris = self.post_logout_redirect_uris;
        if let Some(file) = self.break_glass {
            let hash = match (file.password_hash, file.password_hash_env) {
                (Some(hash), None) => hash,
                (None, Some(variable)) => env(&variable).ok_or_else(|| ConfigError::Invalid {
                    field: "break_glass",
                    reason: format!(
                        "`password_hash_env` names the environment variable `{variable}`, which is not set"
                    ),
                })?,
                _ => {
                    return Err(ConfigError::Invalid {
                        field: "break_glass",
                        reason: "give exactly one of `password_hash` and `password_hash_env`"
                            .into(),
                    });
                }
            };
            builder = builder.break_glass(file.username, hash);
        }
        if let Some(policy) = self.userinfo {
            builder = builder.userinfo(policy);
        }
        if let Some(secs) = self.jwks_refetch_cooldown_seconds {
            builder = builder.jwks_refetch_cooldown(Duration::from_secs(secs));
        }
        if let Some(secs) = self.jwks_max_age_seconds {
            builder = builder.jwks_max_age(Duration::from_secs(secs));
        }
        if let Some(secs) = self.http_timeout_seconds {
            builder = builder.http_timeout(Duration::from_secs(secs));
        }
        builder.role_mapping = self.role_mapping;
        if let Some(policy) = self.no_role_policy {
            builder = builder.no_role_policy(policy);
        }
        if let Some(flow) = self.flow {
            builder = builder.flow(flow);
        }
        builder.allow_implicit_flow = self.allow_implicit_flow;
        if let Some(policy) = self.email_verification {
            builder = builder.email_verification(policy);
        }
        builder.build()
    }
}

/// The TOML / JSON form inside the app's own config, checked like
/// [`ConfigBuilder::build`].
///
/// # Security
///
/// Parse errors then come from the app's deserializer, and `toml`'s
/// `Display` quotes the offending source line, which may be the client
/// secret's. Print `toml::de::Error::message()` with its position, or keep
/// the provider's settings in a file of their own read with
/// [`Config::from_file`], whose errors never quote the text.
impl<'de> Deserialize<'de> for Config {
    /// The TOML / JSON form, checked like [`ConfigBuilder::build`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ConfigFile::deserialize(deserializer)?
            .into_config(env_var)
            .map_err(serde::de::Error::custom)
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::Source;

    const PEXIP_TOML: &str = r#"
metadata_url = "https://login.microsoftonline.com/3c1a0f6e-0000-4000-8000-000000000001/v2.0/.well-known/openid-configuration"
client_id = "6731de76-14a6-49ae-97bc-6eba6914391e"
client_secret_env = "OIDC_LOGIN_TEST_SECRET_PEXIP"
auth_method = "client_secret_basic"
redirect_uri = "http://127.0.0.1:8080/callback"
scopes = ["openid", "email", "profile", "offline_access"]
username_claim = "preferred_username"
groups_claim = "groups"
required_claim = { key = "tid", value = "3c1a0f6e-0000-4000-8000-000000000001" }
login_button_text = "Sign in with Entra ID"

[[role_mapping]]
name = "Azure Roles - Maximus Conferencing Developers"
source = "openid_connect"
value = "d48429bd-9f2a-47a2-a410-993f2a37876b"
roles = ["Read-write"]
"#;

    fn builder() -> ConfigBuilder {
        Config::builder("https://login.example", "app").redirect_uri("https://app.example/cb")
    }

    fn field_of(err: ConfigError) -> &'static str {
        match err {
            ConfigError::Invalid { field, .. } | ConfigError::Missing { field } => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn break_glass_hash_from_the_environment() {
        // A real argon2id PHC string (of "x"), as `BreakGlass::hash_password` makes.
        const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Gk4rKXeiFNqJ1rSNCNxSQdLWq+3hKdMDpwWNWS1dsAw";
        let text = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n[break_glass]\nusername = \"breakglass\"\npassword_hash_env = \"OIDC_LOGIN_TEST_HASH\"\n";
        let file: ConfigFile = toml::from_str(text).unwrap();
        let env = |name: &str| (name == "OIDC_LOGIN_TEST_HASH").then(|| HASH.to_owned());
        let config = file.into_config(env).unwrap();
        assert_eq!(config.break_glass().unwrap().username(), "breakglass");
        assert!(!format!("{config:?}").contains(HASH));

        let file: ConfigFile = toml::from_str(text).unwrap();
        let err = file.into_config(|_| None).unwrap_err().to_string();
        assert!(
            err.contains("OIDC_LOGIN_TEST_HASH") && err.contains("break_glass"),
            "{err}"
        );
        // A plain password in the variable is refused, and not echoed.
        let file: ConfigFile = toml::from_str(text).unwrap();
        let err = file
            .into_config(|_| Some("hunter2-plain".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("never a plain password") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn pexip_toml_loads_with_the_secret_from_the_environment() {
        let file: ConfigFile = toml::from_str(PEXIP_TOML).unwrap();
        let env = |name: &str| {
            (name == "OIDC_LOGIN_TEST_SECRET_PEXIP").then(|| "from-the-env".to_owned())
        };
        let config = file.into_config(env).unwrap();
        assert_eq!(
            config.issuer(),
            "https://login.microsoftonline.com/3c1a0f6e-0000-4000-8000-000000000001/v2.0"
        );
        assert_eq!(
            config.client_auth(),
            &ClientAuth::secret_basic("from-the-env")
        );
        assert_eq!(
            config.scopes(),
            ["openid", "email", "profile", "offline_access"]
        );
        assert_eq!(config.required_claim().unwrap().key, "tid");
        assert_eq!(config.login_button_text(), "Sign in with Entra ID");
        assert_eq!(config.role_mapping()[0].source(), Source::OpenIdConnect);
        assert_eq!(config.role_mapping()[0].roles(), ["Read-write"]);
        assert_eq!(config.clock_skew(), Duration::from_secs(60));
        assert_eq!(config.pending_login_lifetime(), Duration::from_secs(600));
        // Debug shows no secret.
        assert!(!format!("{config:?}").contains("from-the-env"));
    }

    #[test]
    fn missing_environment_variable_names_it() {
        let text = PEXIP_TOML.replace(
            "OIDC_LOGIN_TEST_SECRET_PEXIP",
            "OIDC_LOGIN_TEST_SECRET_UNSET",
        );
        let err = Config::from_toml(&text).unwrap_err();
        assert!(
            err.to_string().contains("OIDC_LOGIN_TEST_SECRET_UNSET"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\nrequierd_claim = { key = \"tid\", value = \"x\" }\n";
        let err = Config::from_toml(text).unwrap_err();
        assert!(err.to_string().contains("requierd_claim"), "{err}");
        let json = r#"{"metadata_url":"https://p.example","client_id":"a","redirect_uri":"https://a.example/cb","scope":["openid"]}"#;
        assert!(
            Config::from_json(json)
                .unwrap_err()
                .to_string()
                .contains("scope")
        );
    }

    /// Bad config texts that hold the secret somewhere a parser may quote
    /// it, in TOML and in JSON: the secret is `hunter2secret` (shaped like a
    /// key, so no rule keeps it for looking like one) or `839274619283`.
    const LEAKY_TOML: &[&str] = &[
        "client_secert = \"hunter2secret\"\n",
        "client_secret = \"hunter2secret\n",
        "client_secret = hunter2secret\n",
        "client_secret = 839274619283\n",
        "client_secret = [\"hunter2secret\"]\n",
        "client_secret = \"hunter2secret\"\nauth_method = \"hunter2secret\"\n",
        "scopes = \"hunter2secret\"\n",
        "client_secret = \"hunter2secret\" hunter2secret\n",
        "[break_glass]\nusername = \"x\"\npassword_hash = hunter2secret\n",
        "[\"hunter2secret\"]\n",
        "\"hunter2secret\" = 1\n",
    ];
    const LEAKY_JSON: &[&str] = &[
        r#""client_secert": "hunter2secret""#,
        r#""client_secret": "hunter2secret"#,
        r#""client_secret": hunter2secret"#,
        r#""client_secret": 839274619283"#,
        r#""client_secret": ["hunter2secret"]"#,
        r#""client_secret": "hunter2secret", "auth_method": "hunter2secret""#,
        r#""scopes": "hunter2secret""#,
        r#""hunter2secret": 1"#,
        r#""client_secret": "hunter2secret"} hunter2secret"#,
    ];
    const TOML_BASE: &str = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n";
    const JSON_BASE: &str = r#""metadata_url": "https://p.example", "client_id": "a", "redirect_uri": "https://a.example/cb""#;

    /// The error, its `Debug` and its whole source chain.
    fn everything_shown(err: &ConfigError) -> String {
        let mut shown = format!("{err} {err:?}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            shown.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        shown
    }

    fn assert_no_secret(err: &ConfigError, input: &str) {
        let shown = everything_shown(err);
        for secret in ["hunter2", "839274619283", "83927"] {
            assert!(!shown.contains(secret), "{input:?} gave: {shown}");
        }
    }

    #[test]
    fn parse_errors_never_quote_the_secret_in_any_entry_point() {
        let dir = tempfile::tempdir().unwrap();
        for (i, bad) in LEAKY_TOML.iter().enumerate() {
            let text = format!("{TOML_BASE}{bad}");
            let err = Config::from_toml(&text).unwrap_err();
            assert!(matches!(err, ConfigError::Parse { .. }), "{bad:?}: {err}");
            assert!(err.to_string().contains("(line "), "{bad:?}: {err}");
            assert_no_secret(&err, bad);
            let path = dir.path().join(format!("bad-{i}.toml"));
            std::fs::write(&path, &text).unwrap();
            assert_no_secret(&Config::from_file(&path).unwrap_err(), bad);
        }
        for (i, bad) in LEAKY_JSON.iter().enumerate() {
            let text = format!("{{{JSON_BASE}, {bad}}}");
            let err = Config::from_json(&text).unwrap_err();
            assert!(matches!(err, ConfigError::Parse { .. }), "{bad:?}: {err}");
            assert_no_secret(&err, bad);
            let path = dir.path().join(format!("bad-{i}.json"));
            std::fs::write(&path, &text).unwrap();
            assert_no_secret(&Config::from_file(&path).unwrap_err(), bad);
            // A JSON file under a TOML name is parsed as TOML: still no secret.
            let path = dir.path().join(format!("bad-json-{i}.conf"));
            std::fs::write(&path, &text).unwrap();
            assert_no_secret(&Config::from_file(&path).unwrap_err(), bad);
        }
    }

    #[test]
    fn parse_errors_name_the_place_and_the_nearest_field() {
        let err = Config::from_toml(&format!("{TOML_BASE}client_secert = \"x\"\n")).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("unknown field `client_secert`"), "{shown}");
        assert!(shown.contains("did you mean `client_secret`?"), "{shown}");
        assert!(shown.contains("line 4"), "{shown}");
        let err = Config::from_toml(&format!(
            "{TOML_BASE}auth_method = \"client_secret_bassic\"\n"
        ))
        .unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("at `auth_method`"), "{shown}");
        assert!(shown.contains("client_secret_basic"), "{shown}");
        assert!(!shown.contains("bassic"), "{shown}");
        let err = Config::from_json(&format!(
            "{{{JSON_BASE}, \"role_mapping\": [{{\"name\": 1}}]}}"
        ))
        .unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("at `role_mapping[0].name`"), "{shown}");
        assert!(shown.contains("line 1"), "{shown}");
    }

    #[test]
    fn json_form_matches_toml_form() {
        let json = r#"{"metadata_url":"https://p.example/","client_id":"a","client_secret":"s","auth_method":"client_secret_post",
            "redirect_uri":"https://a.example/cb","allowed_algorithms":["ES256"],"userinfo":"always","no_role_policy":"refuse"}"#;
        let config = Config::from_json(json).unwrap();
        assert_eq!(config.issuer(), "https://p.example/");
        assert_eq!(
            config.metadata_url().as_str(),
            "https://p.example/.well-known/openid-configuration"
        );
        assert_eq!(config.client_auth().method(), AuthMethod::ClientSecretPost);
        assert_eq!(config.allowed_algorithms(), Some(&[Algorithm::ES256][..]));
        assert_eq!(config.userinfo(), UserinfoPolicy::Always);
        assert_eq!(config.no_role_policy(), NoRolePolicy::Refuse);
        assert!(!format!("{config:?}").contains("\"s\""));
    }

    #[test]
    fn issuer_keeps_a_trailing_slash_as_written() {
        let c = builder().build().unwrap();
        assert_eq!(c.issuer(), "https://login.example");
        let c = Config::builder("https://h.example/oidc/p1/", "a")
            .redirect_uri("https://a.example/cb")
            .build()
            .unwrap();
        assert_eq!(c.issuer(), "https://h.example/oidc/p1/");
        assert_eq!(
            c.metadata_url().as_str(),
            "https://h.example/oidc/p1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn openid_scope_is_always_first() {
        let c = builder()
            .scopes(["email", "openid", "email"])
            .build()
            .unwrap();
        assert_eq!(c.scopes(), ["openid", "email"]);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: Vec<(ConfigBuilder, &str)> = vec![
            (
                Config::builder("http://login.example", "a").redirect_uri("https://a/cb"),
                "metadata_url",
            ),
            (
                Config::builder("not a url", "a").redirect_uri("https://a/cb"),
                "metadata_url",
            ),
            (
                Config::builder("https://p.example?x=1", "a").redirect_uri("https://a/cb"),
                "metadata_url",
            ),
            (
                Config::builder("https://p.example", " ").redirect_uri("https://a/cb"),
                "client_id",
            ),
            (Config::builder("https://p.example", "a"), "redirect_uri"),
            (
                builder().redirect_uri("http://app.example/cb"),
                "redirect_uri",
            ),
            (
                builder().redirect_uri("https://app.example/cb#x"),
                "redirect_uri",
            ),
            (builder().scopes(["open id"]), "scopes"),
            (builder().groups_claim(""), "groups_claim"),
            (
                builder().clock_skew(Duration::from_secs(301)),
                "clock_skew_seconds",
            ),
            (builder().allowed_algorithms([]), "allowed_algorithms"),
            (
                builder().allowed_algorithms([Algorithm::HS256]),
                "allowed_algorithms",
            ),
            (
                builder().pending_login_lifetime(Duration::from_secs(5)),
                "pending_login_lifetime_seconds",
            ),
            (
                builder().http_timeout(Duration::ZERO),
                "http_timeout_seconds",
            ),
            (
                builder().client_auth(ClientAuth::secret_basic("")),
                "client_secret",
            ),
            (
                builder().add_role_mapping(RoleMapping::new("r", Source::OpenIdConnect, "", ["x"])),
                "role_mapping",
            ),
        ];
        for (b, field) in cases {
            assert_eq!(field_of(b.build().unwrap_err()), field);
        }
    }

    #[test]
    fn auth_method_and_secret_must_agree() {
        let base = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n";
        let err = Config::from_toml(&format!("{base}auth_method = \"client_secret_post\"\n"))
            .unwrap_err();
        assert_eq!(field_of(err), "auth_method");
        let err = Config::from_toml(&format!(
            "{base}auth_method = \"none\"\nclient_secret = \"s\"\n"
        ))
        .unwrap_err();
        assert_eq!(field_of(err), "auth_method");
        let c = Config::from_toml(&format!("{base}client_secret = \"s\"\n")).unwrap();
        assert_eq!(c.client_auth().method(), AuthMethod::ClientSecretBasic);
        let c = Config::from_toml(base).unwrap();
        assert_eq!(c.client_auth(), &ClientAuth::None);
    }

    const KEY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");
    const KEY_BASE: &str = "metadata_url = \"https://p.example/oidc/x/\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n";

    fn key_file(name: &str) -> String {
        format!("{KEY_DIR}/{name}")
    }

    #[test]
    fn private_key_jwt_from_a_file_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(key_file("rsa-2048.pem"), dir.path().join("client.pem")).unwrap();
        std::fs::copy(key_file("rsa-2048.crt"), dir.path().join("client.crt")).unwrap();
        let text = format!(
            "{KEY_BASE}auth_method = \"private_key_jwt\"\nprivate_key_pem_file = \"client.pem\"\nprivate_key_kid = \"k1\"\nprivate_key_certificate_pem_file = \"client.crt\"\nprivate_key_algorithm = \"PS256\"\n"
        );
        let path = dir.path().join("oidc.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Config::from_file(&path).unwrap();
        let ClientAuth::PrivateKeyJwt(key) = config.client_auth() else {
            panic!("{:?}", config.client_auth());
        };
        assert_eq!(key.kid(), Some("k1"));
        assert_eq!(key.algorithm(), Some(Algorithm::PS256));
        assert!(key.x5t_s256().is_some());
        assert_eq!(config.client_auth().method(), AuthMethod::PrivateKeyJwt);
        assert_eq!(config.client_auth().secret(), None);
        // From a string, relative paths are the working directory's: not found here.
        let err = Config::from_toml(&text).unwrap_err();
        assert_eq!(field_of(err), "private_key_pem_file");
        // The JSON form, with an absolute path.
        let json = format!(
            r#"{{"metadata_url":"https://p.example","client_id":"a","redirect_uri":"https://a.example/cb","auth_method":"private_key_jwt","private_key_pem_file":"{}"}}"#,
            key_file("ec-p384.pem")
        );
        let config = Config::from_json(&json).unwrap();
        let ClientAuth::PrivateKeyJwt(key) = config.client_auth() else {
            panic!()
        };
        assert_eq!(key.algorithm(), Some(Algorithm::ES384));
    }

    #[test]
    fn private_key_jwt_from_the_environment() {
        let pem = std::fs::read_to_string(key_file("ec-p256-sec1.pem")).unwrap();
        let text = format!(
            "{KEY_BASE}auth_method = \"private_key_jwt\"\nprivate_key_env = \"OIDC_LOGIN_TEST_KEY\"\n"
        );
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let env = |name: &str| (name == "OIDC_LOGIN_TEST_KEY").then(|| pem.clone());
        let config = file.into_config(env).unwrap();
        assert_eq!(config.client_auth().method(), AuthMethod::PrivateKeyJwt);
        let shown = format!("{config:?}");
        assert!(!shown.contains(pem.lines().nth(1).unwrap()), "{shown}");
        // Unset: the field is named, not the secret.
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let err = file.into_config(|_| None).unwrap_err();
        assert_eq!(field_of(err), "private_key_env");
        // Not a key: the field it came from is named.
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let err = file
            .into_config(|_| Some("-----BEGIN CERTIFICATE-----".into()))
            .unwrap_err();
        assert!(err.to_string().contains("private_key_env"), "{err}");
    }

    #[test]
    fn private_key_jwt_fields_must_agree() {
        let jwt = format!("{KEY_BASE}auth_method = \"private_key_jwt\"\n");
        let file = |extra: &str| format!("{jwt}{extra}");
        let cases = [
            (jwt.clone(), "auth_method"),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nprivate_key_env = \"X\"\n",
                    key_file("rsa-2048.pem")
                )),
                "private_key_env",
            ),
            (
                file("private_key_pem_file = \"/nonexistent/key.pem\"\n"),
                "private_key_pem_file",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\n",
                    key_file("rsa-1024.pem")
                )),
                "private_key_pem_file",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\n",
                    key_file("rsa-2048-encrypted.pem")
                )),
                "private_key_pem_file",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nprivate_key_kid = \"\"\n",
                    key_file("rsa-2048.pem")
                )),
                "private_key_kid",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nprivate_key_certificate_pem_file = \"{}\"\n",
                    key_file("rsa-2048.pem"),
                    key_file("other-rsa-2048.crt")
                )),
                "private_key_certificate_pem_file",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nprivate_key_certificate_pem_file = \"/nonexistent.crt\"\n",
                    key_file("rsa-2048.pem")
                )),
                "private_key_certificate_pem_file",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nprivate_key_algorithm = \"ES256\"\n",
                    key_file("rsa-2048.pem")
                )),
                "private_key_algorithm",
            ),
            (
                file(&format!(
                    "private_key_pem_file = \"{}\"\nclient_secret = \"s\"\n",
                    key_file("rsa-2048.pem")
                )),
                "auth_method",
            ),
            (
                format!(
                    "{KEY_BASE}client_secret = \"s\"\nprivate_key_pem_file = \"{}\"\n",
                    key_file("rsa-2048.pem")
                ),
                "auth_method",
            ),
            (
                format!("{KEY_BASE}private_key_kid = \"k\"\n"),
                "auth_method",
            ),
        ];
        for (text, field) in cases {
            let err = Config::from_toml(&text).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
            assert_eq!(field_of(err), field, "{text}");
        }
    }

    const BASE: &str = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n";

    #[test]
    fn flows_and_email_verification_from_toml() {
        let c = Config::from_toml(BASE).unwrap();
        assert_eq!(c.flow(), Flow::AuthorizationCodePkce);
        assert_eq!(
            c.email_verification(),
            EmailVerification::EmailVerifiedClaim
        );
        let c = Config::from_toml(&format!(
            "{BASE}flow = \"authorization_code\"\nemail_verification = \"trust_provider\"\n"
        ))
        .unwrap();
        assert_eq!(c.flow(), Flow::AuthorizationCode);
        assert_eq!(c.email_verification(), EmailVerification::TrustProvider);
        let c = Config::from_toml(&format!(
            "{BASE}email_verification = \"entra_domain_owner\"\n"
        ))
        .unwrap();
        assert_eq!(c.email_verification(), EmailVerification::EntraDomainOwner);
        for bad in [
            "flow = \"hybrid\"\n",
            "flow = \"Implicit\"\n",
            "email_verification = \"always\"\n",
        ] {
            let err = Config::from_toml(&format!("{BASE}{bad}")).unwrap_err();
            assert!(matches!(err, ConfigError::Parse { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn client_secret_jwt_needs_a_secret_of_32_bytes() {
        let long = "a-client-secret-of-32-bytes-0123";
        let text =
            format!("{KEY_BASE}auth_method = \"client_secret_jwt\"\nclient_secret = \"{long}\"\n");
        let config = Config::from_toml(&text).unwrap();
        assert_eq!(config.client_auth(), &ClientAuth::secret_jwt(long));
        assert_eq!(
            config
                .client_auth()
                .secret()
                .map(ClientSecret::expose_secret),
            Some(long)
        );
        let err = Config::from_toml(&text.replace(long, &long[1..])).unwrap_err();
        assert_eq!(field_of(err), "client_secret");
        let err = Config::from_toml(&format!("{KEY_BASE}auth_method = \"client_secret_jwt\"\n"))
            .unwrap_err();
        assert_eq!(field_of(err), "auth_method");
        // The builder agrees.
        let err = builder()
            .client_auth(ClientAuth::secret_jwt("short"))
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "client_secret");
    }

    #[test]
    fn a_bad_key_given_in_code_is_reported_under_client_auth() {
        let err = builder()
            .client_auth(ClientAuth::private_key_jwt("not a key", "k1"))
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("holds no PEM private key"),
            "{err}"
        );
        assert_eq!(field_of(err), "client_auth");
        let pem = std::fs::read_to_string(key_file("ed25519.pem")).unwrap();
        let config = builder()
            .client_auth(ClientAuth::private_key_jwt(pem.as_str(), "k1"))
            .build()
            .unwrap();
        assert_eq!(config.client_auth().method(), AuthMethod::PrivateKeyJwt);
        assert!(!format!("{config:?}").contains(pem.lines().nth(1).unwrap()));
    }

    #[test]
    fn the_implicit_flow_is_switched_on_only_by_name() {
        let err = Config::from_toml(&format!("{BASE}flow = \"implicit\"\n")).unwrap_err();
        assert_eq!(field_of(err), "allow_implicit_flow");
        let err = Config::from_toml(&format!(
            "{BASE}flow = \"implicit\"\nallow_implicit_flow = false\n"
        ))
        .unwrap_err();
        assert_eq!(field_of(err), "allow_implicit_flow");
        let c = Config::from_toml(&format!(
            "{BASE}flow = \"implicit\"\nallow_implicit_flow = true\n"
        ))
        .unwrap();
        assert_eq!(c.flow(), Flow::Implicit);
        // The switch alone, for another flow, is a mistake worth naming.
        let err = Config::from_toml(&format!("{BASE}allow_implicit_flow = true\n")).unwrap_err();
        assert_eq!(field_of(err), "allow_implicit_flow");

        let err = builder().flow(Flow::Implicit).build().unwrap_err();
        assert_eq!(field_of(err), "allow_implicit_flow");
        let c = builder().insecure_implicit_flow().build().unwrap();
        assert_eq!(c.flow(), Flow::Implicit);
        // Choosing a code flow afterwards leaves the switch on: refused.
        let err = builder()
            .insecure_implicit_flow()
            .flow(Flow::AuthorizationCodePkce)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "allow_implicit_flow");
        // No access token, so userinfo cannot be `always`.
        let err = builder()
            .insecure_implicit_flow()
            .userinfo(UserinfoPolicy::Always)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "userinfo");
    }

    #[test]
    fn hmac_is_allowed_only_by_name_with_a_secret() {
        let secret = "a-client-secret-of-32-bytes-0123";
        let c = builder()
            .client_auth(ClientAuth::secret_basic(secret))
            .allowed_algorithms([Algorithm::HS256])
            .build()
            .unwrap();
        assert_eq!(c.allowed_algorithms(), Some(&[Algorithm::HS256][..]));
        // Shorter than the hash output: refused.
        let err = builder()
            .client_auth(ClientAuth::secret_basic(&secret[1..]))
            .allowed_algorithms([Algorithm::HS256])
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "allowed_algorithms");
        let err = builder()
            .client_auth(ClientAuth::secret_basic(secret))
            .allowed_algorithms([Algorithm::HS512])
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "allowed_algorithms");
    }
}
