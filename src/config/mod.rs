//! [`Config`]: the provider and client settings, as a validating builder and
//! as TOML or JSON (the fields of Pexip's OpenID Connect settings form).
//!
//! | file | holds |
//! | --- | --- |
//! | `mod.rs` | [`Config`], its getters and the TOML / JSON entry points |
//! | `settings.rs` | every setting, in small groups with their defaults |
//! | `builder.rs` | [`ConfigBuilder`]: one setter per setting |
//! | `check.rs` | the one validation of every setting |
//! | `file.rs` | the TOML / JSON form: secrets and keys from the environment or files |
//! | `text.rs` | parsing text, with errors that never quote it |
//! | `client_auth.rs`, `entra.rs`, `privx.rs`, `break_glass.rs`, `accounts.rs` | client authentication, Entra ID, PrivX, break-glass settings, the `[accounts]` table |

use std::path::Path;

use serde::Deserialize;
use url::Url;

use crate::error::ConfigError;
use crate::roles::{NoRolePolicy, RoleMapping};

mod accounts;
mod break_glass;
mod builder;
mod check;
mod client_auth;
mod entra;
mod file;
mod privx;
mod settings;
mod text;

pub use accounts::{AccountRow, AccountsSettings};
pub use break_glass::BreakGlassSettings;
pub use builder::ConfigBuilder;
pub use client_auth::{AuthMethod, ClientAuth};
pub(crate) use entra::Entra;
pub use entra::{GraphQuery, GroupsSource};
pub use settings::{Claims, KeySet, Limits};

/// The name of a provider whose config names none.
pub(crate) const DEFAULT_PROVIDER_NAME: &str = "default";

/// A provider name: 1 to 32 ASCII letters, digits, `-` or `_`, so that it
/// is safe in a URL path, a query, a log line and an HTML attribute as is.
pub(crate) fn valid_provider_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
pub(crate) use text::{Format, describe as scrub_parse_message, parse_text};

use file::{ConfigFile, Lookup};
use settings::Registration;

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
    client_auth: ClientAuth,
    redirect_uri: Url,
    post_logout_redirect_uris: Vec<Url>,
    /// Checked; its URLs are the parsed ones above.
    registration: Registration,
    claims: Claims,
    limits: Limits,
    key_set: KeySet,
    break_glass: Option<BreakGlassSettings>,
    /// Microsoft Entra ID settings: the `entra` table's, or a plain
    /// metadata URL's (applied when discovery recognises Entra ID).
    pub(crate) entra: Entra,
    /// The attribute the provider fills `sub` from, when it remaps it.
    mutable_subject: Option<String>,
    /// The `[accounts]` table.
    accounts: Option<AccountsSettings>,
}

/// A config file's text, and its format: JSON when its name ends in
/// `.json`, TOML otherwise.
fn read_config_file(path: &Path) -> Result<(String, Format), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let format = match path.extension().is_some_and(|ext| ext == "json") {
        true => Format::Json,
        false => Format::Toml,
    };
    Ok((text, format))
}

impl Config {
    /// Reads the TOML form. See the crate docs for every field.
    ///
    /// A parse error names the field, line and column and the kind of
    /// mistake ("did you mean `client_secret`?"), never a value from the
    /// text: any value may be a secret.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_text(text, Format::Toml, None)
    }

    /// Reads the JSON form: the same fields as the TOML form.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        Self::from_text(text, Format::Json, None)
    }

    /// Reads a file: JSON when its name ends in `.json`, TOML otherwise.
    /// Relative paths in it (`private_key_pem_file`...) are read from the
    /// file's own directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let (text, format) = read_config_file(path)?;
        Self::from_text(&text, format, path.parent())
    }

    /// Reads a file with one provider or several: `[[provider]]` tables,
    /// each with the keys of the one-provider form and its `name`, and
    /// `[[role_mapping]]` rows beside them, each added to the provider it
    /// names or, naming none, to every one. A file of the one-provider form
    /// gives one config, as [`from_file`](Self::from_file) does. JSON when
    /// the name ends in `.json` (`{"provider": [..]}`), TOML otherwise.
    ///
    /// ```
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let configs = oidc_login::Config::providers_from_toml(r#"
    ///     [[provider]]
    ///     name = "entra"
    ///     metadata_url = "https://login.example/v2.0"
    ///     client_id = "app"
    ///     redirect_uri = "https://app.example/callback"
    ///     login_button_text = "Sign in with Entra ID"
    ///
    ///     [[provider]]
    ///     name = "privx"
    ///     metadata_url = "https://privx.example/oidc/p1/"
    ///     client_id = "app"
    ///     redirect_uri = "https://app.example/callback/privx"
    ///
    ///     [[role_mapping]]
    ///     name = "PrivX admins"
    ///     source = "openid_connect"
    ///     value = "admins"
    ///     roles = ["Read-write"]
    ///     provider = "privx"
    /// "#)?;
    /// assert_eq!(configs.len(), 2);
    /// assert_eq!(configs[1].name(), "privx");
    /// assert_eq!(configs[1].role_mapping().len(), 1);
    /// assert!(configs[0].role_mapping().is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file), for each provider; a table
    /// without `name`, two with one name, or a row naming no provider of
    /// the file.
    pub fn providers_from_file(path: impl AsRef<Path>) -> Result<Vec<Self>, ConfigError> {
        let path = path.as_ref();
        let (text, format) = read_config_file(path)?;
        Self::providers_from_text(&text, format, path.parent())
    }

    /// The TOML form of [`providers_from_file`](Self::providers_from_file).
    pub fn providers_from_toml(text: &str) -> Result<Vec<Self>, ConfigError> {
        Self::providers_from_text(text, Format::Toml, None)
    }

    fn providers_from_text(
        text: &str,
        format: Format,
        base_dir: Option<&Path>,
    ) -> Result<Vec<Self>, ConfigError> {
        if !file::Probe::several(text, format) {
            return Ok(vec![Self::from_text(text, format, base_dir)?]);
        }
        let source = Lookup {
            base_dir,
            env: &env_var,
        };
        file::ProvidersFile::into_builders(text, format, &source)?
            .into_iter()
            .map(ConfigBuilder::build)
            .collect()
    }

    fn from_text(text: &str, format: Format, base_dir: Option<&Path>) -> Result<Self, ConfigError> {
        if file::Probe::several(text, format) {
            return Err(ConfigError::Invalid {
                field: "provider",
                reason: "the file holds `[[provider]]` tables: read it with `Config::providers_from_file`".into(),
            });
        }
        let source = Lookup {
            base_dir,
            env: &env_var,
        };
        ConfigFile::parse(text, format)?
            .into_builder(&source)?
            .build()
    }

    /// The metadata (discovery document) URL.
    pub fn metadata_url(&self) -> &Url {
        &self.metadata_url
    }

    /// The issuer the provider must publish, exactly (or the multi-tenant
    /// template, for an Entra ID config with a tenant policy).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether the provider's published issuer is the configured one:
    /// exactly, or with a trailing `/` when the issuer was derived from a
    /// metadata URL.
    pub(crate) fn accepts_issuer(&self, published: &str) -> bool {
        published == self.issuer
            || (self.issuer_from_metadata_url
                && published.strip_suffix('/') == Some(self.issuer.as_str()))
    }

    /// This app's client id at the provider.
    pub fn client_id(&self) -> &str {
        &self.registration.client_id
    }

    /// How this app authenticates to the token endpoint.
    pub fn client_auth(&self) -> &ClientAuth {
        &self.client_auth
    }

    /// Where the provider sends the browser back.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The scopes asked for, `openid` first.
    pub fn scopes(&self) -> &[String] {
        &self.registration.scopes
    }

    /// The authorization request's `prompt` on every login, if configured
    /// (see [`ConfigBuilder::prompt`]).
    pub fn prompt(&self) -> Option<&str> {
        self.registration.prompt.as_deref()
    }

    /// The provider's name in the app (default `default`, see
    /// [`ConfigBuilder::name`]).
    pub fn name(&self) -> &str {
        &self.registration.name
    }

    /// The sign-in button's text.
    pub fn login_button_text(&self) -> &str {
        &self.registration.login_button_text
    }

    /// Audiences trusted beside the client id in an ID token's `aud`.
    pub fn trusted_audiences(&self) -> &[String] {
        &self.registration.trusted_audiences
    }

    /// When userinfo is fetched.
    pub fn userinfo(&self) -> UserinfoPolicy {
        self.registration.userinfo
    }

    /// The login flow.
    pub fn flow(&self) -> Flow {
        self.registration.flow
    }

    /// Where the provider may send the browser after an RP-initiated logout.
    pub fn post_logout_redirect_uris(&self) -> &[Url] {
        &self.post_logout_redirect_uris
    }

    /// The role-mapping rows.
    pub fn role_mapping(&self) -> &[RoleMapping] {
        &self.registration.role_mapping
    }

    /// What happens to a login that maps to no role.
    pub fn no_role_policy(&self) -> NoRolePolicy {
        self.registration.no_role_policy
    }

    /// The claims the identity is read from, and the one every login must have.
    ///
    /// ```
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let config = oidc_login::Config::builder("https://login.example.com", "app")
    ///     .redirect_uri("https://app.example.com/callback")
    ///     .username_claim("upn")
    ///     .build()?;
    /// assert_eq!(config.claims().username, "upn");
    /// assert_eq!(config.claims().groups, "groups");
    /// # Ok(()) }
    /// ```
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The time limits: clock skew, login lifetime, HTTP timeout.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The key-set settings: accepted algorithms, refetch cooldown, maximum age.
    pub fn key_set(&self) -> &KeySet {
        &self.key_set
    }

    /// The break-glass local account, when switched on.
    pub fn break_glass(&self) -> Option<&BreakGlassSettings> {
        self.break_glass.as_ref()
    }

    /// The attribute the provider fills `sub` from, when its record of the
    /// client remaps `sub` (PrivX's `oidc_attribute_mapping` `email=sub` or
    /// `principal=sub`, read by [`Config::from_privx_client_json`]): `sub`
    /// then changes when that attribute does, and is no stable key. `None`:
    /// `sub` is the provider's own stable identifier.
    ///
    /// [`build`](ConfigBuilder::build) logs a warning for it, and
    /// account linking keyed on `sub` is refused unless the app accepts it
    /// ([`AccountLinker::accept_mutable_sub`](crate::AccountLinker::accept_mutable_sub)).
    pub fn mutable_subject(&self) -> Option<&str> {
        self.mutable_subject.as_deref()
    }

    /// The `[accounts]` table of the file form: the local accounts to seed
    /// the app's account store with, and its SQLite file. `None` without
    /// the table.
    pub fn accounts(&self) -> Option<&AccountsSettings> {
        self.accounts.as_ref()
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
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let file = ConfigFile::deserialize(deserializer)?;
        file.refuse_unknown(None)
            .map_err(serde::de::Error::custom)?;
        let source = Lookup {
            base_dir: None,
            env: &env_var,
        };
        file.into_builder(&source)
            .and_then(ConfigBuilder::build)
            .map_err(serde::de::Error::custom)
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A mistake in a `[[provider]]` table after the first: the error names
    /// the table, and gives no line of the copy it was read from (which
    /// would point at the wrong line of the file), nor the value.
    #[test]
    fn an_error_in_a_provider_table_names_the_table_not_a_wrong_line() {
        let text = r#"
[[provider]]
name = "entra"
metadata_url = "https://login.example/v2.0"
client_id = "app"
redirect_uri = "https://app.example/callback"

[[provider]]
name = "privx"
metadata_url = "https://privx.example/oidc/p1/"
client_id = "app"
redirect_uri = "https://app.example/callback/privx"
scopes = "openid s3cr3t-in-the-wrong-place"
"#;
        let error = Config::providers_from_toml(text).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(
            shown.contains("in the `[[provider]]` table `privx`"),
            "{shown}"
        );
        assert!(shown.contains("scopes"), "{shown}");
        assert!(!shown.contains("(line "), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
    use crate::accounts::EmailVerification;
    use crate::algorithm::Algorithm;
    use crate::issuer::TenantPolicy;
    use crate::roles::Source;
    use crate::secret::ClientSecret;

    /// The form read with `env` for the environment.
    fn into_config(
        file: ConfigFile,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let source = Lookup {
            base_dir: None,
            env: &env,
        };
        file.into_builder(&source)?.build()
    }

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
        let config = into_config(file, env).unwrap();
        assert_eq!(config.break_glass().unwrap().username(), "breakglass");
        assert!(!format!("{config:?}").contains(HASH));

        let file: ConfigFile = toml::from_str(text).unwrap();
        let err = into_config(file, |_| None).unwrap_err().to_string();
        assert!(
            err.contains("OIDC_LOGIN_TEST_HASH") && err.contains("break_glass"),
            "{err}"
        );
        // A plain password in the variable is refused, and not echoed.
        let file: ConfigFile = toml::from_str(text).unwrap();
        let err = into_config(file, |_| Some("hunter2-plain".to_owned()))
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
        let config = into_config(file, env).unwrap();
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
        assert_eq!(config.claims().required.as_ref().unwrap().key, "tid");
        assert_eq!(config.login_button_text(), "Sign in with Entra ID");
        assert_eq!(config.role_mapping()[0].source(), Source::OpenIdConnect);
        assert_eq!(config.role_mapping()[0].roles(), ["Read-write"]);
        assert_eq!(config.limits().clock_skew, Duration::from_secs(60));
        assert_eq!(
            config.limits().pending_login_lifetime,
            Duration::from_secs(600)
        );
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

    /// A URL field's error quotes the URL without its user name, password,
    /// query and fragment, and a value that is no URL not at all: either
    /// may hold a secret.
    #[test]
    fn url_errors_quote_no_credentials() {
        let cases = [
            Config::builder("https://admin:Pa55w0rd@idp.example/?client_secret=zz9", "a")
                .redirect_uri("https://a.example/cb")
                .build(),
            Config::builder("http://idp.example/?client_secret=zz9", "a")
                .redirect_uri("https://a.example/cb")
                .build(),
            builder().redirect_uri("hunter2secret").build(),
            // A secret of the form `name:password` parses as a URL.
            builder().redirect_uri("svc:Pa55w0rd").build(),
            builder()
                .add_post_logout_redirect_uri("svc:Pa55w0rd")
                .build(),
            builder()
                .redirect_uri("http://u:Pa55w0rd@app.example/cb?zz9")
                .build(),
            builder()
                .add_post_logout_redirect_uri("https://u:Pa55w0rd@other.example/?zz9")
                .build(),
            Config::entra("organizations", "a")
                .entra_tenants(TenantPolicy::AnyTenant)
                .graph_url("https://u:Pa55w0rd@graph.example/?zz9")
                .redirect_uri("https://a.example/cb")
                .build(),
        ];
        for result in cases {
            let err = result.unwrap_err();
            let shown = format!("{err} {err:?}");
            for secret in ["Pa55w0rd", "zz9", "hunter2"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        let err = builder()
            .redirect_uri("http://app.example/cb?x=1")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`http://app.example/cb`"), "{err}");
    }

    /// Every settings group is flattened into the form; an error in any of
    /// them still names its field, line and column.
    #[test]
    fn errors_in_each_group_are_placed() {
        for (bad, field, line) in [
            ("clock_skew_seconds = \"x\"\n", "clock_skew_seconds", 4),
            ("jwks_max_age_seconds = -1\n", "jwks_max_age_seconds", 4),
            ("groups_claim = 5\n", "groups_claim", 4),
            ("scopes = \"openid\"\n", "scopes", 4),
            ("auth_method = \"basic\"\n", "auth_method", 4),
            ("entra = { tenant = 5 }\n", "entra.tenant", 4),
            (
                "[break_glass]\nusername = \"x\"\npasword_hash = \"y\"\n",
                "break_glass",
                6,
            ),
        ] {
            let err = Config::from_toml(&format!("{TOML_BASE}{bad}")).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(&format!("`{field}`")), "{bad:?}: {shown}");
            assert!(
                shown.contains(&format!("(line {line}, column")),
                "{bad:?}: {shown}"
            );
        }
        // A misspelled top-level key, after the groups took theirs.
        let err = Config::from_toml(&format!("{TOML_BASE}\n  groups_clam = \"g\"\n")).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("did you mean `groups_claim`?"), "{shown}");
        assert!(shown.contains("(line 5, column 3)"), "{shown}");
        let err = Config::from_json(&format!("{{{JSON_BASE},\n \"scope\": []}}")).unwrap_err();
        assert!(err.to_string().contains("did you mean `scopes`?"), "{err}");
        assert!(err.to_string().contains("(line 2, column 2)"), "{err}");
    }

    /// Inside an app's own config struct, unknown keys are refused too.
    #[test]
    fn an_embedded_config_refuses_unknown_keys() {
        #[derive(Deserialize)]
        struct App {
            #[allow(dead_code)]
            oidc: Config,
        }
        let text = format!("[oidc]\n{TOML_BASE}client_secert = \"x\"\n");
        let err = toml::from_str::<App>(&text).err().expect("refused");
        assert!(
            err.message().contains("did you mean `client_secret`?"),
            "{err}"
        );
        let text = format!(
            "[oidc]\n{TOML_BASE}\n[oidc.break_glass]\nusername = \"u\"\npassword_hash = \"hunter2\"\n"
        );
        let err = toml::from_str::<App>(&text).err().expect("refused");
        assert!(err.message().contains("break_glass"), "{err}");
        assert!(!err.message().contains("hunter2"), "{err}");
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
        assert_eq!(
            config.key_set().allowed_algorithms.as_deref(),
            Some(&[Algorithm::ES256][..])
        );
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
        let config = into_config(file, env).unwrap();
        assert_eq!(config.client_auth().method(), AuthMethod::PrivateKeyJwt);
        let shown = format!("{config:?}");
        assert!(!shown.contains(pem.lines().nth(1).unwrap()), "{shown}");
        // Unset: the field is named, not the secret.
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let err = into_config(file, |_| None).unwrap_err();
        assert_eq!(field_of(err), "private_key_env");
        // Not a key: the field it came from is named.
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let err = into_config(file, |_| Some("-----BEGIN CERTIFICATE-----".into())).unwrap_err();
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
            c.claims().email_verification,
            EmailVerification::EmailVerifiedClaim
        );
        let c = Config::from_toml(&format!(
            "{BASE}flow = \"authorization_code\"\nclient_secret = \"s\"\nemail_verification = \"trust_provider\"\n"
        ))
        .unwrap();
        assert_eq!(c.flow(), Flow::AuthorizationCode);
        assert_eq!(
            c.claims().email_verification,
            EmailVerification::TrustProvider
        );
        let c = Config::from_toml(&format!(
            "{BASE}email_verification = \"entra_domain_owner\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.claims().email_verification,
            EmailVerification::EntraDomainOwner
        );
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
    fn plain_authorization_code_needs_client_credentials() {
        // Axidian's rule: the code flow without PKCE is for a confidential
        // client only.
        let err = Config::from_toml(&format!("{BASE}flow = \"authorization_code\"\n")).unwrap_err();
        assert_eq!(field_of(err), "client_secret");
        let err = Config::from_toml(&format!(
            "{BASE}flow = \"authorization_code\"\nauth_method = \"none\"\n"
        ))
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("config field `client_secret`"),
            "{message}"
        );
        assert!(message.contains("authorization_code"), "{message}");
        let err = builder().flow(Flow::AuthorizationCode).build().unwrap_err();
        assert_eq!(field_of(err), "client_secret");
        // With a secret, or a private key, it builds.
        for auth in [
            ClientAuth::secret_basic("s"),
            ClientAuth::secret_post("s"),
            ClientAuth::private_key_jwt(
                std::fs::read_to_string(key_file("rsa-2048.pem"))
                    .unwrap()
                    .as_str(),
                "k1",
            ),
        ] {
            let c = builder()
                .flow(Flow::AuthorizationCode)
                .client_auth(auth)
                .build()
                .unwrap();
            assert_eq!(c.flow(), Flow::AuthorizationCode);
        }
        let c = Config::from_toml(&format!(
            "{BASE}flow = \"authorization_code\"\nclient_secret = \"s\"\n"
        ))
        .unwrap();
        assert_eq!(c.flow(), Flow::AuthorizationCode);
        // PKCE and the implicit flow (no code to steal) need no secret.
        assert!(builder().build().is_ok());
        assert!(builder().insecure_implicit_flow().build().is_ok());
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
        assert_eq!(
            c.key_set().allowed_algorithms.as_deref(),
            Some(&[Algorithm::HS256][..])
        );
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

    /// Review finding: a `ConfigBuilder` printed with `{:?}` (in a panic
    /// message, a `dbg!`, a log line) must show none of the secrets it holds:
    /// the client secret, the private key, the break-glass hash.
    #[test]
    fn the_builder_s_debug_shows_no_secret() {
        const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Gk4rKXeiFNqJ1rSNCNxSQdLWq+3hKdMDpwWNWS1dsAw";
        let pem = std::fs::read_to_string(key_file("rsa-2048.pem")).unwrap();
        // A line from the middle of the key's base64 body.
        let key_line = pem.lines().nth(5).unwrap().to_owned();
        let secret = "client-secret-never-printed-0123456789";
        let with_secret = builder()
            .client_auth(ClientAuth::secret_basic(secret))
            .break_glass("breakglass", HASH);
        let with_key = builder()
            .client_auth(ClientAuth::private_key_jwt(pem.clone(), "k1"))
            .break_glass("breakglass", HASH);
        for debug in [
            format!("{with_secret:?}"),
            format!("{with_secret:#?}"),
            format!("{with_key:?}"),
            format!("{with_key:#?}"),
        ] {
            assert!(debug.contains("breakglass"), "the username shows: {debug}");
            for hidden in [
                secret,
                HASH,
                "c29tZXNhbHRzb21lc2FsdA",
                "Gk4rKXeiFNqJ1rSNCNxSQdLWq",
                key_line.as_str(),
            ] {
                assert!(!debug.contains(hidden), "`{hidden}` shows in {debug}");
            }
        }
        // The config built from it hides them as well.
        let config = with_secret.build().unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains(secret) && !debug.contains("Gk4rKXei"),
            "{debug}"
        );
    }
}
