//! Errors. Each variant says what went wrong and what to check.
//!
//! No variant ever holds a token, code, secret or cookie value. Claim values
//! appear only where they are not secret (issuers, audiences, group ids) and
//! never the value the user's token held for a required claim.

use std::fmt;

/// Any error of this crate.
///
/// The variants sort errors by who must act: [`Error::Config`] the operator
/// (fix the config), [`Error::Discovery`] and [`Error::Http`] the operator or
/// the provider, [`Error::Callback`] a bad or replayed browser request (HTTP
/// 400), [`Error::Token`] a provider response that failed validation
/// (HTTP 401), [`Error::Access`] a valid login that policy refuses (HTTP 403),
/// [`Error::Groups`] a login whose groups could not be read from Microsoft
/// Graph (the operator; HTTP 502).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The provider's metadata or keys could not be used.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A request to the provider failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The callback (the browser's return from the provider) was refused.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// The provider's token response or ID token failed validation.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The login was valid, but policy refuses it.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A login could not be started with these options.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A valid login could not be linked to a local account.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The user's groups could not be read (Entra ID groups overage).
    #[error(transparent)]
    Groups(#[from] GroupsError),
    /// A refresh was refused: the session must end and the user sign in again.
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// A logout request or back-channel logout token was refused.
    #[error(transparent)]
    Logout(#[from] LogoutError),
    /// A break-glass local sign-in was refused.
    #[error(transparent)]
    BreakGlass(#[from] BreakGlassError),
    /// A bearer access token presented to the app's API was refused (HTTP
    /// 401, `invalid_token`).
    #[error(transparent)]
    Bearer(#[from] BearerError),
}

impl Error {
    /// A short, stable code for this kind of error, safe to show a user or
    /// put in a URL (`state_mismatch`, `token_refused`, `required_claim`...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "config_error",
            Self::Discovery(_) => "provider_metadata_error",
            Self::Http(_) => "provider_unreachable",
            Self::Start(_) => "bad_login_request",
            Self::Callback(e) => match e {
                CallbackError::Provider { .. } => "provider_refused",
                CallbackError::StateMismatch => "state_mismatch",
                CallbackError::Expired { .. } => "login_expired",
                CallbackError::IssuerMismatch { .. } | CallbackError::MissingIssuer => {
                    "issuer_mismatch"
                }
                CallbackError::WrongProvider { .. } | CallbackError::WrongProviderName { .. } => {
                    "wrong_provider"
                }
                _ => "bad_callback",
            },
            Self::Token(TokenError::Exchange { .. }) => "code_exchange_refused",
            Self::Token(TokenError::TenantNotAllowed { .. }) => "tenant_not_allowed",
            Self::Token(
                TokenError::AuthenticationTooOld { .. }
                | TokenError::AcrNotAccepted { .. }
                | TokenError::AuthContextMissing { .. },
            ) => "step_up_not_met",
            Self::Token(_) => "token_refused",
            Self::Access(AccessError::RequiredClaim { .. }) => "required_claim",
            Self::Access(AccessError::MissingUsername { .. }) => "username_missing",
            Self::Access(_) => "no_role",
            Self::Account(e) => e.code(),
            Self::Groups(_) => "groups_unavailable",
            Self::Refresh(_) => "refresh_refused",
            Self::Logout(LogoutError::PostLogoutRedirectNotAllowed { .. }) => {
                "post_logout_redirect_not_allowed"
            }
            Self::Logout(LogoutError::NoEndSessionEndpoint) => "no_end_session_endpoint",
            Self::Logout(LogoutError::ReplayMemory(_))
            | Self::BreakGlass(BreakGlassError::Counters(_)) => "shared_state_error",
            Self::Logout(_) => "logout_token_refused",
            Self::BreakGlass(BreakGlassError::RateLimited { .. }) => "break_glass_rate_limited",
            Self::BreakGlass(_) => "break_glass_refused",
            Self::Bearer(BearerError::RequiredClaim { .. }) => "required_claim",
            Self::Bearer(_) => "bearer_token_refused",
        }
    }
}

/// A login could not be started with these options. Answer HTTP 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `return_to` is not a path on this app's own origin.
    #[error("`return_to` was refused: {reason}")]
    UnsafeReturnTo {
        /// Why.
        reason: &'static str,
    },
    /// An extra parameter would replace one the crate sets itself.
    #[error(
        "the authorization parameter `{0}` is set by this crate and cannot be given as an extra parameter"
    )]
    ReservedParameter(String),
    /// `prompt` is not a list of OpenID Connect Core 3.1.2.1 values.
    #[error("`prompt` was refused: {reason}")]
    InvalidPrompt {
        /// Why, with the values allowed.
        reason: String,
    },
    /// A parameter of the login request (such as a step-up's `max_age`)
    /// has a value that cannot be used.
    #[error("the login parameter `{name}` was refused: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What it must be.
        reason: &'static str,
    },
}

/// A configuration error; the message names the field to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field has a value that cannot work.
    #[error("config field `{field}`: {reason}")]
    Invalid {
        /// The field's name, as written in the TOML form.
        field: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A required field is missing.
    #[error("config field `{field}` is required")]
    Missing {
        /// The field's name, as written in the TOML form.
        field: &'static str,
    },
    /// The environment variable named by `client_secret_env` is not set.
    #[error(
        "config field `client_secret_env` names the environment variable `{variable}`, which is not set or not valid UTF-8"
    )]
    MissingEnvironmentVariable {
        /// The variable's name.
        variable: String,
    },
    /// The TOML or JSON text could not be read.
    #[error("config could not be parsed: {message}")]
    Parse {
        /// What is wrong and where: the field's path, the line and column,
        /// the kind of mistake. It never quotes the text, which may hold a
        /// secret.
        message: String,
    },
    /// The config file could not be read.
    #[error("config file `{path}` could not be read")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The provider's metadata or key set could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The metadata's `issuer` is not the configured issuer.
    #[error(
        "the provider's metadata says issuer `{published}`, but the configured issuer is `{configured}`{hint}"
    )]
    IssuerMismatch {
        /// The issuer the config leads to.
        configured: String,
        /// The issuer the provider publishes.
        published: String,
        /// A short hint on the difference, or empty.
        hint: IssuerHint,
    },
    /// A required metadata member is missing.
    #[error("the provider's metadata has no `{field}`")]
    MissingField {
        /// The metadata member's name.
        field: &'static str,
    },
    /// A provider URL is not https, and not on a loopback host.
    #[error(
        "the provider's `{field}` is `{url}`: provider URLs must use https (plain http is allowed only for loopback hosts)"
    )]
    InsecureUrl {
        /// The metadata member or config field.
        field: &'static str,
        /// The URL.
        url: String,
    },
    /// The metadata or key set is not valid JSON of the expected form.
    #[error("the provider's {document} is not valid: {message}")]
    InvalidDocument {
        /// `metadata` or `JWKS`.
        document: &'static str,
        /// What the parser said.
        message: String,
    },
    /// The provider's key set holds no key this crate can use.
    #[error(
        "the provider's JWKS at `{jwks_uri}` holds no usable signing key ({skipped} skipped: unknown type or curve, `use: enc`, RSA under 2048 bits, or malformed)"
    )]
    NoUsableKeys {
        /// Where the key set came from.
        jwks_uri: String,
        /// How many entries were skipped.
        skipped: usize,
    },
    /// The metadata publishes Entra ID's multi-tenant issuer template
    /// (`.../{tenantid}/v2.0`) and the config has no tenant policy.
    #[error(
        "the provider's metadata says issuer `{published}`, the multi-tenant template of Entra ID `common` or `organizations`, and this config has no tenant policy: say which tenants may sign in, with `Config::entra(\"organizations\", ..).entra_tenants(TenantPolicy::Only(..))` or in TOML `entra = {{ tenant = \"organizations\", allowed_tenants = [\"<tenant id>\"] }}`, or with this metadata URL the top-level `allowed_tenants = [\"<tenant id>\"]` (`allow_any_tenant = true` accepts every tenant)"
    )]
    TenantTemplateWithoutPolicy {
        /// The issuer the provider publishes.
        published: String,
    },
    /// A Microsoft Entra ID setting given with a plain metadata URL
    /// (`allowed_tenants`, `allow_any_tenant`, `graph_url`) cannot apply to
    /// this provider.
    #[error("`{setting}` cannot apply: {reason}")]
    EntraSetting {
        /// The setting.
        setting: &'static str,
        /// Why, and what to change.
        reason: String,
    },
    /// A token names a key the cached key set does not hold, and fetching
    /// the key set again failed. The keys already held still serve every
    /// token they fit. The message holds the failure (which endpoint, what
    /// to check), so that a log line of this error alone says it; it is not
    /// also a `source`, which would print it twice.
    #[error(
        "a token names a key the cached JWKS does not hold, and fetching the provider's keys again failed: {0}"
    )]
    KeysUnavailable(Box<Error>),
}

/// Explains how two issuers differ, when the difference is a common mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerHint {
    /// No hint.
    None,
    /// Only a trailing `/` differs.
    TrailingSlash,
    /// Only the letter case differs.
    Case,
}

impl fmt::Display for IssuerHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::TrailingSlash => f.write_str(
                " (they differ only by a trailing `/`: issuers are compared exactly, so set `metadata_url` to the issuer the provider publishes)",
            ),
            Self::Case => f.write_str(
                " (they differ only in letter case: issuers are compared exactly, so set `metadata_url` to the issuer the provider publishes)",
            ),
        }
    }
}

/// A request to the provider failed.
///
/// The URL is shown without its query string, so no token or code in it can
/// leak into a log.
#[derive(Debug, thiserror::Error)]
#[error("{what} `{url}` failed: {kind}")]
pub struct HttpError {
    pub(crate) what: &'static str,
    pub(crate) url: String,
    pub(crate) kind: HttpErrorKind,
    #[source]
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl HttpError {
    /// What went wrong.
    pub fn kind(&self) -> &HttpErrorKind {
        &self.kind
    }

    /// The URL that was requested, without its query string.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// What went wrong with an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// No answer within the configured timeout.
    Timeout,
    /// The connection could not be made (DNS, TCP or TLS).
    Connect,
    /// The server answered with an unexpected status.
    Status(u16),
    /// The server answered with a redirect; redirects are not followed.
    Redirect(u16),
    /// The response body was larger than the cap.
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The response body is not what was expected (wrong content type, bad JSON).
    InvalidBody(String),
    /// The connection closed before the whole answer arrived (a truncated
    /// body, or no answer at all).
    Interrupted,
    /// Any other transport failure.
    Other,
}

impl HttpErrorKind {
    /// Whether the same request may pass later without any change here: no
    /// connection, a timeout, an interrupted answer, HTTP 5xx or 429. A 404,
    /// a redirect or a body of the wrong form is a mistake that waiting does
    /// not mend.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect | Self::Interrupted => true,
            Self::Status(code) => *code == 429 || (500..=599).contains(code),
            _ => false,
        }
    }
}

impl fmt::Display for HttpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str(
                "no answer before the timeout (`http_timeout_seconds`): check that the server is up and reachable from this host",
            ),
            Self::Connect => f.write_str(
                "could not connect: check that the server is up, and the host name, port and TLS",
            ),
            Self::Status(429) => f.write_str(
                "the provider answered HTTP 429 (too many requests): it is limiting this app's requests; try again later",
            ),
            Self::Status(code @ 500..=599) => write!(
                f,
                "the provider answered HTTP {code}, a failure on its side (or at a proxy in front of it): check that it is up and healthy"
            ),
            Self::Status(404) => f.write_str(
                "the provider answered HTTP 404: nothing is served there; check the URL",
            ),
            Self::Status(code) => write!(f, "the provider answered HTTP {code}"),
            Self::Redirect(code) => write!(
                f,
                "the provider answered with a redirect (HTTP {code}), which is not followed: configure the final URL"
            ),
            Self::TooLarge { limit } => write!(f, "the response is larger than {limit} bytes"),
            Self::InvalidBody(reason) => write!(f, "the response is not valid: {reason}"),
            Self::Interrupted => f.write_str(
                "the connection closed before the whole answer arrived: check that the server is not restarting, and any proxy in between",
            ),
            Self::Other => f.write_str("the request failed"),
        }
    }
}

/// The browser's return from the provider was refused. Answer HTTP 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The provider sent the user back with an error instead of a code.
    ///
    /// `description` is the provider's text, kept as plain text: escape it
    /// before putting it in HTML.
    #[error("the provider refused the login: `{error}`{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// The OAuth 2.0 error code, such as `access_denied`.
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// A required callback parameter is missing.
    #[error("the callback has no `{0}` parameter")]
    MissingParameter(&'static str),
    /// A callback parameter appears more than once.
    #[error("the callback has the parameter `{0}` more than once")]
    DuplicateParameter(String),
    /// The callback could not be parsed.
    #[error("the callback is not valid form data")]
    Malformed,
    /// `state` does not match the pending login: a forged or crossed callback.
    #[error(
        "the callback's `state` does not match this browser's pending login (a forged request, or a callback for another login)"
    )]
    StateMismatch,
    /// The pending login is older than `pending_login_lifetime_seconds`.
    #[error(
        "the login took longer than {lifetime_seconds} s (`pending_login_lifetime_seconds`); start again"
    )]
    Expired {
        /// The configured lifetime.
        lifetime_seconds: u64,
    },
    /// The pending login was started for another provider.
    #[error("the pending login was started with issuer `{pending}`, not this client's `{client}`")]
    WrongProvider {
        /// The issuer stored in the pending login.
        pending: String,
        /// This client's issuer.
        client: String,
    },
    /// The pending login was started with another provider of the app
    /// (RFC 9700 4.4 mix-up defence).
    #[error(
        "the pending login was started with provider `{pending}`, not this client's `{client}` (mix-up defence)"
    )]
    WrongProviderName {
        /// The provider name stored in the pending login.
        pending: String,
        /// This client's provider name.
        client: String,
    },
    /// RFC 9207: the callback's `iss` is not this provider's issuer (a mix-up attack).
    #[error(
        "the callback's `iss` is `{found}`, not the provider's issuer `{expected}` (RFC 9207 mix-up defence)"
    )]
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// What the callback said.
        found: String,
    },
    /// The callback carries a parameter the configured flow never returns,
    /// such as a `code` in the implicit flow: a mix-up or an injected
    /// response.
    #[error(
        "the callback has a `{0}` parameter, which the configured flow never returns (a mixed-up or injected response)"
    )]
    UnexpectedParameter(&'static str),
    /// The implicit flow's ID token came in a URL query string, where
    /// browser history, logs and `Referer` headers keep it; this crate asks
    /// for `response_mode=form_post`.
    #[error(
        "the implicit flow's `id_token` came in a URL query string; it must come by form post (`response_mode=form_post`)"
    )]
    IdTokenInUrl,
    /// RFC 9207: the provider promises an `iss` parameter, and it is missing.
    #[error(
        "the provider advertises `authorization_response_iss_parameter_supported`, but the callback has no `iss`"
    )]
    MissingIssuer,
}

/// The provider's token response or ID token failed validation. Answer HTTP 401.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint refused the code.
    #[error("the token endpoint refused the code: `{error}`{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Exchange {
        /// The OAuth 2.0 error code, such as `invalid_grant`.
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// The token response could not be read.
    #[error("the token response is not valid: {0}")]
    InvalidResponse(String),
    /// The token response has no `id_token` (is `openid` among the scopes?).
    #[error("the token response has no `id_token`: check that the scopes include `openid`")]
    MissingIdToken,
    /// Not a compact JWS.
    #[error("the ID token is not a compact JWS: {0}")]
    Malformed(&'static str),
    /// `alg: none` in any spelling: an unsigned token.
    #[error("the ID token is unsigned (`alg: none`); unsigned tokens are never accepted")]
    Unsigned,
    /// The token's algorithm is not allowed.
    #[error(
        "the ID token is signed with `{alg}`, which is not allowed here; check `allowed_algorithms` and the provider's `id_token_signing_alg_values_supported`"
    )]
    AlgorithmNotAllowed {
        /// The header's `alg`, as sent (clipped to 32 characters).
        alg: String,
    },
    /// No key in the provider's key set fits the token's `kid` and algorithm.
    #[error(
        "no key in the provider's JWKS fits the ID token (kid {}, alg `{alg}`), even after fetching the keys again", kid.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "absent".into())
    )]
    UnknownKey {
        /// The header's `kid`, if any (clipped to 128 characters).
        kid: Option<String>,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the ID token's signature does not verify with the provider's keys")]
    BadSignature,
    /// `iss` is not the provider's issuer.
    #[error("the ID token's `iss` is `{found}`, not the provider's issuer `{expected}`")]
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// An Entra ID version 1.0 token (`ver` 1.0, issuer
    /// `https://sts.windows.net/<tenant>/`): only v2.0 tokens are accepted.
    #[error(
        "the ID token is an Entra ID version 1.0 token (issuer `{issuer}`); only v2.0 tokens are accepted: use the v2.0 endpoints, whose metadata URL ends in `/v2.0/.well-known/openid-configuration` (as `Config::entra` and `entra = {{ tenant = .. }}` do)"
    )]
    EntraV1Token {
        /// The token's `iss`.
        issuer: String,
    },
    /// The token's Entra ID tenant (`tid`) is not allowed by the tenant policy.
    #[error(
        "the ID token is from the Entra ID tenant `{tenant}`, which the tenant policy does not allow; add it to `allowed_tenants` if it should sign in"
    )]
    TenantNotAllowed {
        /// The token's `tid`.
        tenant: String,
    },
    /// `aud` does not contain this client id.
    #[error("the ID token's `aud` does not contain this client id `{client_id}`")]
    AudienceMismatch {
        /// This client's id.
        client_id: String,
    },
    /// `aud` contains an audience that is not trusted.
    #[error(
        "the ID token's `aud` holds `{audience}`, which is neither this client nor a trusted audience; add it to `trusted_audiences` if it is expected"
    )]
    UntrustedAudience {
        /// The untrusted audience.
        audience: String,
    },
    /// `azp` is present and not this client id.
    #[error("the ID token's `azp` is `{azp}`, not this client id `{client_id}`")]
    AuthorizedPartyMismatch {
        /// The token's `azp`.
        azp: String,
        /// This client's id.
        client_id: String,
    },
    /// `aud` holds several audiences and there is no `azp` to say which
    /// one the token was issued to (OpenID Connect Core 3.1.3.7 step 4,
    /// enforced as a rule).
    #[error(
        "the ID token's `aud` holds {audiences} audiences but the token has no `azp`; with several audiences `azp` must name this client id"
    )]
    MissingAuthorizedParty {
        /// How many audiences `aud` holds.
        audiences: usize,
    },
    /// A required claim is missing.
    #[error("the ID token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the ID token's `{claim}` claim is not {expected}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What it should be, such as "a number".
        expected: &'static str,
    },
    /// `exp` is in the past, beyond the allowed skew.
    #[error(
        "the ID token expired at {exp} (now {now}, allowed skew {skew_seconds} s): check both clocks"
    )]
    Expired {
        /// The token's `exp` (Unix seconds).
        exp: i64,
        /// This machine's clock (Unix seconds).
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// `iat` is in the future, beyond the allowed skew.
    #[error(
        "the ID token was issued in the future (`iat` {iat}, now {now}, allowed skew {skew_seconds} s): check both clocks"
    )]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// This machine's clock.
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// `nbf` is in the future, beyond the allowed skew.
    #[error(
        "the ID token is not valid before {nbf} (now {now}, allowed skew {skew_seconds} s): check both clocks"
    )]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// This machine's clock.
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// `nonce` is missing or not the one sent: a replayed or injected token.
    #[error("the ID token's `nonce` is not the one this login sent (a replayed or injected token)")]
    NonceMismatch,
    /// `at_hash` does not match the access token.
    #[error("the ID token's `at_hash` does not match the access token")]
    AccessTokenHashMismatch,
    /// `c_hash` does not match the authorization code.
    #[error("the ID token's `c_hash` does not match the authorization code")]
    CodeHashMismatch,
    /// `auth_time` is older than the `max_age` the login asked for.
    #[error(
        "the user authenticated at {auth_time}, longer ago than the requested `max_age` of {max_age} s (allowed skew {skew_seconds} s)"
    )]
    AuthenticationTooOld {
        /// The token's `auth_time`.
        auth_time: i64,
        /// The requested `max_age`.
        max_age: u64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// The userinfo response's `sub` is not the ID token's.
    #[error("the userinfo response is for another user: its `sub` differs from the ID token's")]
    UserinfoSubjectMismatch,
    /// A step-up login asked for `acr_values` and the ID token's `acr` is
    /// none of them (or absent): the provider did not authenticate the user
    /// as strongly as asked.
    #[error(
        "the ID token's `acr` is {}, not one of the values the login asked for ({})",
        acr.as_deref().map(|a| format!("`{a}`")).unwrap_or_else(|| "absent".into()),
        accepted.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
    )]
    AcrNotAccepted {
        /// The token's `acr` (clipped to 128 characters), if any.
        acr: Option<String>,
        /// The values asked for.
        accepted: Vec<String>,
    },
    /// A step-up login asked for an Entra ID authentication context and
    /// the ID token's `acrs` does not hold it.
    #[error(
        "the ID token's `acrs` does not hold the authentication context `{context}` the login asked for (is a Conditional Access policy assigned to it?)"
    )]
    AuthContextMissing {
        /// The authentication context asked for, such as `c1`.
        context: String,
    },
}

/// A bearer access token was refused by an [`Api`](crate::Api): answer
/// HTTP 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750
/// section 3), and never echo the token or this message to the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// Not a compact JWS (an opaque token, a JWE, bad base64...).
    #[error("the access token is not a compact JWS: {0}")]
    Malformed(&'static str),
    /// `alg: none` in any spelling.
    #[error("the access token is unsigned (`alg: none`); unsigned tokens are never accepted")]
    Unsigned,
    /// The token's algorithm is not one the provider's tokens are accepted with.
    #[error(
        "the access token is signed with `{alg}`, which is not allowed here; check `allowed_algorithms` and the provider's `id_token_signing_alg_values_supported`"
    )]
    AlgorithmNotAllowed {
        /// The header's `alg`, as sent (clipped to 32 characters).
        alg: String,
    },
    /// No key in the provider's key set fits the token's `kid` and algorithm.
    #[error(
        "no key in the provider's JWKS fits the access token (kid {}, alg `{alg}`)", kid.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "absent".into())
    )]
    UnknownKey {
        /// The header's `kid`, if any (clipped to 128 characters).
        kid: Option<String>,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the access token's signature does not verify with the provider's keys")]
    BadSignature,
    /// The header's `typ` is not `at+jwt` (RFC 9068 section 2.1): an ID
    /// token, or another JWT, presented as an access token (RFC 8725
    /// section 3.11).
    #[error(
        "the token's `typ` is {}, not `at+jwt`: it is not an RFC 9068 access token (an ID token is never accepted as one)", typ.as_deref().map(|t| format!("`{t}`")).unwrap_or_else(|| "absent".into())
    )]
    NotAnAccessToken {
        /// The header's `typ`, if any (clipped to 64 characters).
        typ: Option<String>,
    },
    /// An Entra ID token that is no access token of this API: an ID token
    /// (it has a `nonce`, or no `azp`, or neither `scp` nor `roles`).
    #[error(
        "the token is not an Entra ID access token: {reason} (an ID token is never accepted as an access token)"
    )]
    NotAnEntraAccessToken {
        /// What it lacks or has.
        reason: &'static str,
    },
    /// `iss` is not the provider's issuer.
    #[error("the access token's `iss` is `{found}`, not the provider's issuer `{expected}`")]
    IssuerMismatch {
        /// The provider's issuer (for Entra multi-tenant, the template with the token's `tid`).
        expected: String,
        /// The token's `iss` (clipped).
        found: String,
    },
    /// An Entra ID version 1.0 access token: the API's app registration
    /// must ask for v2.0 tokens.
    #[error(
        "the access token is an Entra ID version 1.0 token (issuer `{issuer}`); set `accessTokenAcceptedVersion` (`requestedAccessTokenVersion`) to 2 in the API's app registration manifest"
    )]
    EntraV1Token {
        /// The token's `iss`.
        issuer: String,
    },
    /// The token's Entra ID tenant is not allowed by the tenant policy.
    #[error(
        "the access token is from the Entra ID tenant `{tenant}`, which the tenant policy does not allow"
    )]
    TenantNotAllowed {
        /// The token's `tid`.
        tenant: String,
    },
    /// `aud` holds none of the API's identifiers.
    #[error("the access token's `aud` holds none of this API's identifiers ({expected})")]
    AudienceMismatch {
        /// The API's identifiers, comma-separated.
        expected: String,
    },
    /// A required claim is missing.
    #[error("the access token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or form.
    #[error("the access token's `{claim}` claim is not {expected}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// A user's token lacks the config's required claim (or holds another
    /// value): the admin's gate keeps this user out of the API as out of
    /// the sign-in. Answer 403, not 401: the token itself is valid.
    #[error(
        "the caller's access token lacks the required claim `{claim}` or holds another value: the config's `required_claim` keeps this user out"
    )]
    RequiredClaim {
        /// The required claim's name (from the config).
        claim: String,
    },
    /// `exp` is in the past, beyond the allowed skew.
    #[error("the access token expired at {exp} (now {now}, allowed skew {skew_seconds} s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// This machine's clock.
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// `iat` is in the future, beyond the allowed skew.
    #[error(
        "the access token was issued in the future (`iat` {iat}, now {now}, allowed skew {skew_seconds} s): check both clocks"
    )]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// This machine's clock.
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
    /// `nbf` is in the future, beyond the allowed skew.
    #[error(
        "the access token is not valid before {nbf} (now {now}, allowed skew {skew_seconds} s): check both clocks"
    )]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// This machine's clock.
        now: i64,
        /// The allowed skew.
        skew_seconds: u64,
    },
}

impl BearerError {
    /// The access-token wording of a check shared with ID tokens.
    pub(crate) fn from_token(error: TokenError) -> Self {
        use TokenError as T;
        match error {
            T::Malformed(reason) => Self::Malformed(reason),
            T::Unsigned => Self::Unsigned,
            T::AlgorithmNotAllowed { alg } => Self::AlgorithmNotAllowed { alg },
            T::UnknownKey { kid, alg } => Self::UnknownKey { kid, alg },
            T::BadSignature => Self::BadSignature,
            T::IssuerMismatch { expected, found } => Self::IssuerMismatch { expected, found },
            T::EntraV1Token { issuer } => Self::EntraV1Token { issuer },
            T::TenantNotAllowed { tenant } => Self::TenantNotAllowed { tenant },
            T::MissingClaim(claim) => Self::MissingClaim(claim),
            T::InvalidClaim { claim, expected } => Self::InvalidClaim { claim, expected },
            T::Expired {
                exp,
                now,
                skew_seconds,
            } => Self::Expired {
                exp,
                now,
                skew_seconds,
            },
            T::IssuedInFuture {
                iat,
                now,
                skew_seconds,
            } => Self::IssuedInFuture {
                iat,
                now,
                skew_seconds,
            },
            T::NotYetValid {
                nbf,
                now,
                skew_seconds,
            } => Self::NotYetValid {
                nbf,
                now,
                skew_seconds,
            },
            // The ID-token-only checks (nonce, hashes, azp, auth_time,
            // userinfo, the exchange) are never run on an access token.
            other => {
                debug_assert!(false, "an ID-token-only error for an access token: {other}");
                Self::Malformed("it failed a check of another kind of token")
            }
        }
    }
}

/// A refresh ([`Client::refresh`](crate::Client::refresh)) was refused.
/// The tokens can no longer be trusted to stand for the user: end the
/// session, and have the user sign in again (HTTP 401).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The login has no refresh token.
    #[error(
        "the login has no refresh token: add `offline_access` to `scopes` (some providers also need `prompt=consent`)"
    )]
    NoRefreshToken,
    /// The token endpoint refused the refresh token (expired, revoked,
    /// already used, or the user's sign-in was ended at the provider).
    #[error("the token endpoint refused the refresh token: `{error}`{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth 2.0 error code (`invalid_grant`...), clipped.
        error: String,
        /// The provider's `error_description`, as text, clipped.
        description: Option<String>,
    },
    /// The refreshed ID token names another user, provider, audience,
    /// authorized party or authentication than the original login's
    /// (OpenID Connect Core 12.2).
    #[error(
        "the refreshed ID token's `{claim}` differs from the original login's (OpenID Connect Core 12.2): the user must sign in again"
    )]
    ClaimChanged {
        /// The claim that changed: `iss`, `sub`, `aud`, `auth_time` or `nonce`.
        claim: &'static str,
    },
    /// The refreshed ID token was not issued now (a replayed token).
    #[error(
        "the refreshed ID token was issued at {iat}, not now ({now}, allowing {window_seconds} s): a replayed or stale token"
    )]
    NotFresh {
        /// The token's `iat`.
        iat: i64,
        /// The time of the check.
        now: i64,
        /// How old `iat` may be.
        window_seconds: u64,
    },
    /// The provider returned no new ID token, and userinfo is off or
    /// missing: the user's groups could not be read afresh.
    #[error(
        "the refresh returned no ID token and userinfo is off (`userinfo = \"never\"`) or missing, so the user's claims and groups cannot be read again: the session must end"
    )]
    NoFreshClaims,
    /// The refresh grant succeeded, but reading the user's claims afterwards
    /// (userinfo, Microsoft Graph) failed; the rotated refresh token is not
    /// kept, so the session must end.
    #[error("the refresh grant succeeded, but then: {0}")]
    AfterGrant(#[source] Box<Error>),
    /// The stored ID token of the original login cannot be read.
    #[error(
        "the original login's ID token cannot be read ({0}): keep `Tokens` as `Client::finish` returned them"
    )]
    OriginalUnreadable(&'static str),
}

/// A logout could not be started, or a back-channel logout token was
/// refused (OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout
/// 1.0). A refused logout token is answered with HTTP 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    /// The provider's metadata has no `end_session_endpoint`.
    #[error(
        "the provider has no `end_session_endpoint`: it does not support RP-initiated logout, so only the local session can end"
    )]
    NoEndSessionEndpoint,
    /// The `post_logout_redirect_uri` is not one of the configured ones.
    #[error(
        "the post-logout redirect URI `{uri}` is not in the config field `post_logout_redirect_uris`"
    )]
    PostLogoutRedirectNotAllowed {
        /// The URI asked for, clipped.
        uri: String,
    },
    /// The logout token failed a rule it shares with ID tokens (its form,
    /// algorithm, key, signature, `iss`, `aud`, `iat`, `exp`).
    #[error("the logout token was refused: {0}")]
    Token(#[source] TokenError),
    /// The logout token has no `events` claim holding the back-channel
    /// logout event as a JSON object.
    #[error(
        "the logout token's `events` claim does not hold `http://schemas.openid.net/event/backchannel-logout` as a JSON object"
    )]
    MissingEvent,
    /// The logout token carries a `nonce` (so it may be an ID token passed
    /// off as a logout token).
    #[error("the logout token carries a `nonce`, which logout tokens must not")]
    NoncePresent,
    /// The logout token names neither a session (`sid`) nor a user (`sub`).
    #[error("the logout token has neither `sid` nor `sub`")]
    NoSessionOrSubject,
    /// The logout token has no `jti`.
    #[error("the logout token has no `jti`")]
    MissingJti,
    /// A logout token with this `jti` was already accepted.
    #[error("the logout token was already used (its `jti` was seen before)")]
    Replayed,
    /// The memory of used logout tokens ([`SharedState`](crate::SharedState))
    /// failed, so the token could not be checked for a replay: it is
    /// refused, and may be sent again.
    #[error("the logout token could not be checked for a replay: the shared state failed")]
    ReplayMemory(#[source] SharedStateError),
    /// The logout token is older than the window in which replays are
    /// remembered.
    #[error(
        "the logout token was issued at {iat}, more than {max_age_seconds} s before now ({now})"
    )]
    TooOld {
        /// The token's `iat`.
        iat: i64,
        /// The time of the check.
        now: i64,
        /// How old a logout token may be.
        max_age_seconds: u64,
    },
}

/// A break-glass local sign-in ([`BreakGlass`](crate::BreakGlass)) was
/// refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BreakGlassError {
    /// The username or the password is wrong (which one is not said).
    #[error("break-glass sign-in refused: wrong username or password")]
    WrongCredentials,
    /// Too many failed attempts: every attempt is refused for a while.
    #[error(
        "break-glass sign-in refused: too many failed attempts; try again in {retry_after_seconds} s"
    )]
    RateLimited {
        /// When attempts are accepted again.
        retry_after_seconds: u64,
    },
    /// The password could not be checked (the OS random source or a worker
    /// thread failed).
    #[error("break-glass sign-in is unavailable: the password could not be checked")]
    Unavailable,
    /// The failure counters ([`SharedState`](crate::SharedState)) could not
    /// be read or written: the attempt is refused without checking the
    /// password.
    #[error(
        "break-glass sign-in is unavailable: its failure counters could not be read or written"
    )]
    Counters(#[source] SharedStateError),
}

/// The [`SharedState`](crate::SharedState) (used logout tokens,
/// break-glass failures, logout and sign-out records) could not store or
/// read a record. What depended on it is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedStateError {
    /// The in-memory state ([`MemoryState`](crate::MemoryState)) holds as
    /// many live records of this kind as it may; it evicts none.
    #[error(
        "the in-memory shared state holds {capacity} live records of this kind, its capacity: a new record is refused rather than one evicted"
    )]
    Full {
        /// The most live records of one kind it holds.
        capacity: usize,
    },
    /// The store behind the state failed (or held a record it could not read).
    #[error("the shared state's store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A valid login refused by policy. Answer HTTP 403.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The required claim is missing or has another value.
    ///
    /// The user's value is deliberately not included.
    #[error("the required claim `{claim}` is missing or does not hold the required value")]
    RequiredClaim {
        /// The claim's name.
        claim: String,
    },
    /// The configured username claim is in neither the ID token nor
    /// userinfo (or is not a string): the login names no user.
    #[error(
        "the login has no username: the claim `{claim}` (`username_claim`) is in neither the ID token nor userinfo, or is not a string; set `username_claim` to a claim the provider sends (such as `email` or `upn`), or map `{claim}` at the provider"
    )]
    MissingUsername {
        /// The configured username claim.
        claim: String,
    },
    /// The login maps to no role, and the no-role policy refuses it.
    #[error(
        "no role mapping matches this user (claim `{claim}` held {}): the no-role policy refuses the login",
        format_values(values)
    )]
    NoRole {
        /// The claim that was read (the groups claim).
        claim: String,
        /// What it held (group ids are not secrets), each value with
        /// control characters and bidirectional overrides escaped and
        /// clipped to 128 characters, so that none can forge a log line.
        values: Vec<String>,
    },
}

/// A login could not be linked to a local account (see
/// [`AccountLinker`](crate::AccountLinker)), or an account store operation
/// failed. The refusals of a login answer HTTP 403; [`AccountError::Store`]
/// is the operator's (500).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The login is bound to no account, and has no email to find one by.
    #[error(
        "this login is not linked to an account, and has no email to find one by: check the `email_claim` and that the scopes ask for it (`email`)"
    )]
    NoEmail,
    /// The login is bound to no account, and its email is not verified
    /// under the provider's policy, so it cannot link one.
    #[error(
        "this login is not linked to an account, and the provider does not vouch for its email (policy `{policy}`): an unverified email never links an account"
    )]
    EmailNotVerified {
        /// The provider's email verification policy, by its TOML name
        /// ([`EmailVerification::as_str`](crate::EmailVerification::as_str)).
        policy: &'static str,
    },
    /// No account has the login's (verified) email.
    #[error("no local account has the email `{email}`: an administrator must create one first")]
    NoAccount {
        /// The email, normalized.
        email: String,
    },
    /// The account with the login's email is bound to another provider
    /// identity.
    #[error(
        "account `{account_id}` is already bound to another identity at the provider (another `sub`): an administrator must reset its binding before this login can link it"
    )]
    BoundToAnotherSubject {
        /// The account's id.
        account_id: String,
    },
    /// Another account is already bound to this issuer and subject.
    #[error("this provider identity is already bound to account `{account_id}`")]
    SubjectBoundElsewhere {
        /// The account that holds the binding.
        account_id: String,
    },
    /// No account has this id.
    #[error("there is no account `{account_id}`")]
    UnknownAccount {
        /// The id asked for.
        account_id: String,
    },
    /// An account with this email already exists.
    #[error(
        "an account with the email `{email}` already exists (emails compare without ASCII case)"
    )]
    EmailTaken {
        /// The email, normalized.
        email: String,
    },
    /// An account cannot be created with this email.
    #[error("`{email}` is not a usable account email: {reason}")]
    InvalidEmail {
        /// The email as given (clipped).
        email: String,
        /// Why.
        reason: &'static str,
    },
    /// The login's `sub` is filled by the provider from a mutable attribute
    /// ([`Config::mutable_subject`](crate::Config::mutable_subject)), and the
    /// linker does not accept that
    /// ([`AccountLinker::accept_mutable_sub`](crate::AccountLinker::accept_mutable_sub)).
    #[error(
        "the provider fills `sub` from the attribute `{attribute}`, which can change, so linking an account by it would lock users out or hand the account to whoever gets the value next: remove the mapping at the provider, or accept it with `AccountLinker::accept_mutable_sub()`"
    )]
    MutableSubject {
        /// The attribute (clipped).
        attribute: String,
    },
    /// The store's database was written by a newer version of this crate.
    #[error(
        "the account database is at schema version {found}, newer than the {supported} this version knows: upgrade the app, or restore a backup"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this crate knows.
        supported: i64,
    },
    /// The store failed.
    #[error("the account store failed while {operation}")]
    Store {
        /// What the store was doing.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AccountError {
    /// A short, stable code for this kind of error, as [`Error::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoEmail => "account_no_email",
            Self::EmailNotVerified { .. } => "account_email_not_verified",
            Self::NoAccount { .. } => "account_not_found",
            Self::BoundToAnotherSubject { .. } | Self::SubjectBoundElsewhere { .. } => {
                "account_bound_elsewhere"
            }
            Self::UnknownAccount { .. }
            | Self::EmailTaken { .. }
            | Self::InvalidEmail { .. }
            | Self::MutableSubject { .. } => "account_admin_error",
            Self::SchemaTooNew { .. } | Self::Store { .. } => "account_store_error",
        }
    }
}

/// The user's groups could not be read: the login is refused rather than
/// signed in with no groups. For the operator (HTTP 502).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupsError {
    /// The token has an overage marker and this config does not read
    /// Microsoft Graph.
    #[error(
        "the ID token has no `groups`: the user is in too many groups to fit in a token (Entra ID groups overage), and {reason}; the login is refused rather than signed in with no groups"
    )]
    OverageUnresolved {
        /// Why the groups were not read, and what to configure.
        reason: &'static str,
    },
    /// Reading the groups from Microsoft Graph failed.
    #[error(
        "{trigger}, so the user's groups were read from Microsoft Graph, which failed: {failure}"
    )]
    Graph {
        /// Why Graph was asked.
        trigger: GraphTrigger,
        /// What went wrong.
        failure: GraphFailure,
    },
}

/// Why the groups were read from Microsoft Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphTrigger {
    /// The ID token had an overage marker instead of `groups`.
    Overage,
    /// `groups_source` is `graph`.
    Configured,
}

impl fmt::Display for GraphTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Overage => {
                "the ID token has no `groups`: the user is in too many groups to fit in a token (Entra ID groups overage detected)"
            }
            Self::Configured => "`groups_source` is `graph`",
        })
    }
}

/// What went wrong reading the user's groups from Microsoft Graph.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphFailure {
    /// Graph answered 403.
    #[error(
        "Microsoft Graph answered HTTP 403: the consent for `GroupMember.Read.All` is missing (give the app registration the delegated Microsoft Graph permission `GroupMember.Read.All` with admin consent, and keep it in `scopes`)"
    )]
    Forbidden,
    /// Graph answered 401.
    #[error(
        "Microsoft Graph answered HTTP 401: it refused the user's access token (put a Microsoft Graph permission such as `GroupMember.Read.All` in `scopes`, so that the access token is for Graph)"
    )]
    Unauthorized,
    /// The request failed otherwise.
    #[error(transparent)]
    Request(HttpError),
    /// The answer is not a Graph collection of ids.
    #[error("Microsoft Graph's answer is not valid: {0}")]
    InvalidResponse(String),
    /// An `@odata.nextLink` leads away from the configured Graph URL.
    #[error(
        "Microsoft Graph's `@odata.nextLink` points to `{link}`, outside the configured Graph URL `{graph}`; it was not followed (the access token is only sent to Graph)"
    )]
    ForeignNextLink {
        /// The link, without its query.
        link: String,
        /// The configured Graph URL.
        graph: String,
    },
    /// More pages than the limit.
    #[error("Microsoft Graph returned more than {limit} pages of groups; the rest was not read")]
    TooManyPages {
        /// The most pages read.
        limit: usize,
    },
}

fn format_values(values: &[String]) -> String {
    if values.is_empty() {
        return "nothing".to_owned();
    }
    const SHOWN: usize = 20;
    let mut text = values
        .iter()
        .take(SHOWN)
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        text.push_str(&format!(" and {} more", values.len() - SHOWN));
    }
    text
}

/// Makes a value taken from a hostile input safe for an error or a log
/// line: control characters and bidirectional overrides are escaped (so it
/// cannot forge a log line or reorder one), and it is clipped to `max`
/// characters of the input.
pub(crate) fn clip(value: &str, max: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max.saturating_mul(4)));
    for (count, c) in value.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_to_fix() {
        let e = Error::from(ConfigError::Invalid {
            field: "redirect_uri",
            reason: "must be an absolute URL".into(),
        });
        assert_eq!(
            e.to_string(),
            "config field `redirect_uri`: must be an absolute URL"
        );
        let e = AccessError::NoRole {
            claim: "groups".into(),
            values: vec!["g1".into()],
        };
        assert!(e.to_string().contains("claim `groups` held `g1`"));
    }

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("ééé", 2), "éé…");
    }

    #[test]
    fn clip_escapes_what_could_forge_a_log_line() {
        assert_eq!(
            clip("a\nINFO forged line\r\u{1b}[31m", 64),
            "a\\nINFO forged line\\r\\u{1b}[31m"
        );
        assert_eq!(clip("ab\ncd", 3), "ab\\n…");
        assert_eq!(clip("x\u{202e}y", 8), "x\\u{202e}y");
    }
}
