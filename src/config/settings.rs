//! Every setting of a [`Config`](super::Config), in small groups, each with
//! its default. The builder's setters write into them and the TOML / JSON
//! form deserializes straight into them (each group is flattened: the keys
//! stay flat); `check.rs` validates them once. A new setting is a field here
//! (with its default), a setter in `builder.rs` and its check in `check.rs`.

use std::time::Duration;

use serde::Deserialize;

use crate::accounts::EmailVerification;
use crate::algorithm::Algorithm;
use crate::roles::{NoRolePolicy, RoleMapping};

use super::accounts::AccountsSettings;
use super::break_glass::BreakGlassSettings;
use super::entra::EntraDraft;
use super::{AuthMethod, ClientAuth, Flow, RequiredClaim, UserinfoPolicy};

/// The app's registration with the provider, and how a login runs.
/// Checked into the [`Config`](super::Config)'s own fields (URLs parsed, the
/// issuer derived), which its getters return.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Registration {
    /// The provider's name in the app (`?provider=`, the identity's
    /// `provider`), default `default`.
    pub(crate) name: String,
    /// Empty when the config names an Entra ID tenant instead.
    pub(crate) metadata_url: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) login_button_text: String,
    /// The authorization request's `prompt` on every login, unless the
    /// login gives its own.
    pub(crate) prompt: Option<String>,
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) userinfo: UserinfoPolicy,
    pub(crate) flow: Flow,
    pub(crate) allow_implicit_flow: bool,
    pub(crate) post_logout_redirect_uris: Vec<String>,
    pub(crate) role_mapping: Vec<RoleMapping>,
    pub(crate) no_role_policy: NoRolePolicy,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            name: super::DEFAULT_PROVIDER_NAME.into(),
            metadata_url: String::new(),
            client_id: String::new(),
            redirect_uri: None,
            scopes: ["openid", "email", "profile"].map(String::from).into(),
            login_button_text: "Sign in".into(),
            prompt: None,
            trusted_audiences: Vec::new(),
            userinfo: UserinfoPolicy::default(),
            flow: Flow::default(),
            allow_implicit_flow: false,
            post_logout_redirect_uris: Vec::new(),
            role_mapping: Vec::new(),
            no_role_policy: NoRolePolicy::default(),
        }
    }
}

/// Which claims the identity is read from, and which one every login must
/// have ([`Config::claims`](super::Config::claims)).
///
/// A name may be a dotted path (`realm_access.roles`) into nested objects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Claims {
    /// The username (TOML `username_claim`, default `preferred_username`).
    #[serde(rename = "username_claim")]
    pub username: String,
    /// The email (TOML `email_claim`, default `email`).
    #[serde(rename = "email_claim")]
    pub email: String,
    /// The groups (TOML `groups_claim`, default `groups`), matched by
    /// [`Source::OpenIdConnect`](crate::Source::OpenIdConnect) rows.
    #[serde(rename = "groups_claim")]
    pub groups: String,
    /// The app roles (TOML `app_roles_claim`, default `roles`, where Entra
    /// ID puts them), matched by [`Source::AppRole`](crate::Source::AppRole) rows.
    #[serde(rename = "app_roles_claim")]
    pub app_roles: String,
    /// A claim every login must have, with this value (TOML
    /// `required_claim = { key, value }`; default none).
    #[serde(rename = "required_claim")]
    pub required: Option<RequiredClaim>,
    /// When an email counts as verified, so that a first login may be
    /// linked to a local account by it (TOML `email_verification`).
    pub email_verification: EmailVerification,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            email: "email".into(),
            groups: "groups".into(),
            app_roles: "roles".into(),
            required: None,
            email_verification: EmailVerification::default(),
        }
    }
}

/// Time limits: clock skew, how long a login may take, HTTP timeouts, how
/// long discovery retries ([`Config::limits`](super::Config::limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// The tolerated clock difference with the provider (TOML
    /// `clock_skew_seconds`, default 60 s, at most 300 s).
    #[serde(rename = "clock_skew_seconds", with = "seconds")]
    pub clock_skew: Duration,
    /// How long a started login may take (TOML
    /// `pending_login_lifetime_seconds`, default 10 minutes, 30 s to 1 hour).
    #[serde(rename = "pending_login_lifetime_seconds", with = "seconds")]
    pub pending_login_lifetime: Duration,
    /// The timeout of each request to the provider (TOML
    /// `http_timeout_seconds`, default 10 s, 1 s to 120 s).
    #[serde(rename = "http_timeout_seconds", with = "seconds")]
    pub http_timeout: Duration,
    /// How long [`Client::discover`](crate::Client::discover) keeps trying
    /// a provider it cannot reach (no connection, a timeout, HTTP 5xx or
    /// 429), with exponential backoff, before it gives up (TOML
    /// `discovery_retry_seconds`, default 60 s, 0 to 600 s; 0 tries once).
    /// A mistake (an issuer mismatch, a 404, bad metadata) fails at once.
    #[serde(rename = "discovery_retry_seconds", with = "seconds")]
    pub discovery_retry: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(60),
            pending_login_lifetime: Duration::from_secs(600),
            http_timeout: Duration::from_secs(10),
            discovery_retry: Duration::from_secs(60),
        }
    }
}

/// The provider's key set: which algorithms are accepted and how the key
/// set is kept fresh ([`Config::key_set`](super::Config::key_set)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct KeySet {
    /// The accepted ID token algorithms (TOML `allowed_algorithms`); `None`:
    /// what the provider advertises, among RS*, PS*, ES* and EdDSA.
    pub allowed_algorithms: Option<Vec<Algorithm>>,
    /// The least time between key-set refetches for a token from outside
    /// (TOML `jwks_refetch_cooldown_seconds`, default 10 s, 1 s to 1 hour).
    #[serde(rename = "jwks_refetch_cooldown_seconds", with = "seconds")]
    pub refetch_cooldown: Duration,
    /// How long a fetched key set is used before it is fetched again (TOML
    /// `jwks_max_age_seconds`, default a day, 1 s to 7 days).
    #[serde(rename = "jwks_max_age_seconds", with = "seconds")]
    pub max_age: Duration,
}

impl Default for KeySet {
    fn default() -> Self {
        Self {
            allowed_algorithms: None,
            refetch_cooldown: Duration::from_secs(10),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// Everything a builder holds, unchecked: the settings groups, and what is
/// given in code only (the client authentication, a preset's rule).
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) registration: Registration,
    pub(crate) claims: Claims,
    pub(crate) limits: Limits,
    pub(crate) key_set: KeySet,
    pub(crate) client_auth: ClientAuth,
    /// The method a provider preset says the client is registered for, and
    /// the preset's field that says so.
    pub(crate) required_auth_method: Option<(AuthMethod, &'static str)>,
    pub(crate) break_glass: Option<BreakGlassSettings>,
    pub(crate) entra: EntraDraft,
    /// What the provider's own record of the client says (PrivX's
    /// `identity_provider_client`), checked against the rest at build.
    pub(crate) provider_record: ProviderRecord,
    /// The `[accounts]` table (file form only).
    pub(crate) accounts: Option<AccountsSettings>,
}

/// Rules from the provider's record of this client that change how the app
/// must behave, each with the record's member that says so.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProviderRecord {
    /// The provider fills `sub` from this attribute (`email`, `principal`),
    /// which can change: `sub` is then not a stable key.
    pub(crate) mutable_subject: Option<String>,
    /// The provider refuses the refresh-token grant (the member's name).
    pub(crate) refresh_grant_off: Option<&'static str>,
    /// The redirect URIs the provider allows (the member's name, the list):
    /// the config's `redirect_uri` must be one of them.
    pub(crate) allowed_redirect_uris: Option<(&'static str, Vec<String>)>,
}

/// The TOML / JSON form of a duration: whole seconds.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
