//! The TOML / JSON form: the settings groups deserialize straight into the
//! builder's draft; this thin layer adds only what a file says differently
//! from code: a secret or key read from the environment or a file, the
//! authentication method by name, and the `entra` and `break_glass` tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::accounts::AccountsFile;
use super::break_glass::BreakGlassSettings;
use super::builder::ConfigBuilder;
use super::entra::{EntraDraft, EntraFile, EntraTopLevel};
use super::settings::{Claims, Draft, KeySet, Limits, Registration};
use super::text::{Format, field_names, parse_text, unknown_field};
use super::{AuthMethod, ClientAuth};
use crate::algorithm::Algorithm;
use crate::assertion::{KeyFields, PrivateKeyJwt};
use crate::error::ConfigError;
use crate::secret::ClientSecret;

/// The whole form. Unknown keys are an error, so that a typo never silently
/// drops a setting (`unknown` collects them: serde refuses
/// `deny_unknown_fields` beside flattened groups).
#[derive(Deserialize)]
pub(super) struct ConfigFile {
    #[serde(flatten)]
    registration: Registration,
    #[serde(flatten)]
    claims: Claims,
    #[serde(flatten)]
    limits: Limits,
    #[serde(flatten)]
    key_set: KeySet,
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(flatten)]
    tables: Tables,
    #[serde(flatten)]
    entra: EntraTopLevel,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

/// The form with several providers: `[[provider]]` tables, each the whole
/// one-provider form with its `name`, and `[[role_mapping]]` rows beside
/// them, each added to the provider it names (`provider = "..."`) or, naming
/// none, to every provider.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProvidersFile {
    provider: Vec<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    role_mapping: Vec<crate::roles::RoleMapping>,
}

/// Whether a text holds `[[provider]]` tables (other keys ignored).
#[derive(Deserialize)]
pub(super) struct Probe {
    provider: Option<IgnoredAny>,
}

impl Probe {
    /// Whether `text` is the form with several providers; a text that does
    /// not parse is left to the one-provider form to explain.
    pub(super) fn several(text: &str, format: Format) -> bool {
        parse_text::<Self>(text, format, "").is_ok_and(|probe| probe.provider.is_some())
    }
}

impl ProvidersFile {
    /// The builders of the providers, in the order of the file, each with
    /// the shared rows that apply to it.
    pub(super) fn into_builders(
        text: &str,
        format: Format,
        source: &Lookup<'_>,
    ) -> Result<Vec<ConfigBuilder>, ConfigError> {
        let file: Self = parse_text(text, format, "")?;
        if file.provider.is_empty() {
            return Err(ConfigError::Invalid {
                field: "provider",
                reason: "holds no provider: give one `[[provider]]` table per provider".into(),
            });
        }
        if let Some(problem) = file.role_mapping.iter().find_map(|row| row.problem()) {
            return Err(ConfigError::Invalid {
                field: "role_mapping",
                reason: problem,
            });
        }
        let mut names: Vec<String> = Vec::new();
        let mut builders = Vec::new();
        for table in file.provider {
            let Some(name) = table.get("name").and_then(serde_json::Value::as_str) else {
                return Err(ConfigError::Missing { field: "name" });
            };
            let name = name.to_owned();
            if names.contains(&name) {
                return Err(ConfigError::Invalid {
                    field: "name",
                    reason: format!(
                        "two `[[provider]]` tables are named `{}`",
                        crate::error::clip(&name, 32)
                    ),
                });
            }
            // App-wide tables: the app reads them from the first provider's
            // config only, so elsewhere they would be silently ignored.
            if !builders.is_empty()
                && let Some(key) = ["accounts", "break_glass"]
                    .into_iter()
                    .find(|key| table.contains_key(*key))
            {
                return Err(ConfigError::Invalid {
                    field: "provider",
                    reason: format!(
                        "`[{key}]` is app-wide: put it in the first `[[provider]]` table, not in `{}`'s",
                        crate::error::clip(&name, 32)
                    ),
                });
            }
            // Each table is read as a one-provider form of its own.
            let text = match format {
                // (The error is not shown: it may quote a value.)
                Format::Toml => toml::to_string(&table).map_err(|_| ConfigError::Invalid {
                    field: "provider",
                    reason: "a `[[provider]]` table cannot be read".to_owned(),
                })?,
                Format::Json => serde_json::Value::Object(table).to_string(),
            };
            let mut builder = ConfigFile::parse(&text, format)
                .map_err(|error| super::text::in_provider_table(error, &name))?
                .into_builder(source)?;
            for row in &file.role_mapping {
                if row.provider_scope().is_none_or(|p| p == name) {
                    builder = builder.add_role_mapping(row.clone());
                }
            }
            names.push(name);
            builders.push(builder);
        }
        if let Some(row) = file.role_mapping.iter().find(|row| {
            row.provider_scope()
                .is_some_and(|p| !names.iter().any(|n| n == p))
        }) {
            return Err(ConfigError::Invalid {
                field: "role_mapping",
                reason: format!(
                    "row `{}` names a provider that no `[[provider]]` table is named",
                    row.name()
                ),
            });
        }
        Ok(builders)
    }
}

/// The client's credentials as a file gives them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Credentials {
    client_secret: Option<ClientSecret>,
    client_secret_env: Option<String>,
    auth_method: Option<AuthMethod>,
    private_key_pem_file: Option<String>,
    private_key_env: Option<String>,
    private_key_kid: Option<String>,
    private_key_certificate_pem_file: Option<String>,
    private_key_algorithm: Option<Algorithm>,
}

/// The tables: `entra = { tenant = ".." }`, `[break_glass]` and `[accounts]`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Tables {
    entra: Option<EntraFile>,
    break_glass: Option<BreakGlassFile>,
    accounts: Option<AccountsFile>,
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

/// Where the text came from: relative paths (`private_key_pem_file`) are
/// read from `base_dir`, environment variables through `env` (injected so
/// tests need not set one).
pub(super) struct Lookup<'a> {
    pub(super) base_dir: Option<&'a Path>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl ConfigFile {
    /// Parses the form. A flattened group hides where an error is (serde
    /// reads it from a buffer, without the path, line and column), so on an
    /// error each part is read again on its own to say where.
    pub(super) fn parse(text: &str, format: Format) -> Result<Self, ConfigError> {
        let file = parse_text::<Self>(text, format, "").map_err(|error| {
            None.or_else(|| parse_text::<Registration>(text, format, "").err())
                .or_else(|| parse_text::<Claims>(text, format, "").err())
                .or_else(|| parse_text::<Limits>(text, format, "").err())
                .or_else(|| parse_text::<KeySet>(text, format, "").err())
                .or_else(|| parse_text::<Credentials>(text, format, "").err())
                .or_else(|| parse_text::<Tables>(text, format, "").err())
                .or_else(|| parse_text::<EntraTopLevel>(text, format, "").err())
                .unwrap_or(error)
        })?;
        file.refuse_unknown(Some((text, format)))?;
        Ok(file)
    }

    /// An error for the first unknown key, placed in `text` when given.
    pub(super) fn refuse_unknown(&self, text: Option<(&str, Format)>) -> Result<(), ConfigError> {
        let Some(key) = self.unknown.keys().next() else {
            return Ok(());
        };
        let known = [
            field_names::<Registration>(),
            field_names::<Claims>(),
            field_names::<Limits>(),
            field_names::<KeySet>(),
            field_names::<Credentials>(),
            field_names::<Tables>(),
            field_names::<EntraTopLevel>(),
        ]
        .concat();
        Err(unknown_field(key, &known, text))
    }

    /// The builder this form describes.
    pub(super) fn into_builder(self, source: &Lookup<'_>) -> Result<ConfigBuilder, ConfigError> {
        let client_auth = self.credentials.client_auth(source)?;
        let entra = match (self.tables.entra, self.registration.metadata_url.is_empty()) {
            (Some(_), false) => {
                return Err(ConfigError::Invalid {
                    field: "entra",
                    reason: "set either `metadata_url` or `entra`, not both".into(),
                });
            }
            (Some(entra), true) => {
                if let Some(key) = self.entra.first_given() {
                    return Err(ConfigError::Invalid {
                        field: key,
                        reason: "with an `entra` table, set it inside the table (`entra = { tenant = \"...\", ... }`)".into(),
                    });
                }
                EntraDraft::from_file(entra)?
            }
            (None, _) => EntraDraft::from_top_level(self.entra)?,
        };
        let break_glass = self
            .tables
            .break_glass
            .map(|file| file.settings(source))
            .transpose()?;
        let accounts = self
            .tables
            .accounts
            .map(|file| file.settings(source.base_dir))
            .transpose()?;
        Ok(ConfigBuilder {
            draft: Draft {
                registration: self.registration,
                claims: self.claims,
                limits: self.limits,
                key_set: self.key_set,
                client_auth,
                required_auth_method: None,
                break_glass,
                entra,
                provider_record: Default::default(),
                accounts,
            },
        })
    }
}

impl BreakGlassFile {
    fn settings(self, source: &Lookup<'_>) -> Result<BreakGlassSettings, ConfigError> {
        let hash = match (self.password_hash, self.password_hash_env) {
            (Some(hash), None) => hash,
            (None, Some(variable)) => {
                (source.env)(&variable).ok_or_else(|| ConfigError::Invalid {
                    field: "break_glass",
                    reason: format!(
                        "`password_hash_env` names the environment variable `{variable}`, which is not set"
                    ),
                })?
            }
            _ => {
                return Err(ConfigError::Invalid {
                    field: "break_glass",
                    reason: "give exactly one of `password_hash` and `password_hash_env`".into(),
                });
            }
        };
        Ok(BreakGlassSettings::unchecked(self.username, hash))
    }
}

impl Credentials {
    /// The client authentication the fields describe, with the secret or
    /// key read from where they name.
    fn client_auth(self, source: &Lookup<'_>) -> Result<ClientAuth, ConfigError> {
        let invalid = |field: &'static str, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.into(),
        };
        let has_key_fields = self.private_key_pem_file.is_some()
            || self.private_key_env.is_some()
            || self.private_key_kid.is_some()
            || self.private_key_certificate_pem_file.is_some()
            || self.private_key_algorithm.is_some();
        Ok(match (self.auth_method, self.secret(source)?) {
            (Some(AuthMethod::PrivateKeyJwt), Some(_)) => {
                return Err(invalid(
                    "auth_method",
                    "is `private_key_jwt`, which uses no client secret: remove `client_secret` / `client_secret_env`",
                ));
            }
            (Some(AuthMethod::PrivateKeyJwt), None) => {
                ClientAuth::PrivateKeyJwt(self.private_key(source)?)
            }
            _ if has_key_fields => {
                return Err(invalid(
                    "auth_method",
                    "`private_key_*` fields are set, so `auth_method` must be `private_key_jwt`",
                ));
            }
            (Some(AuthMethod::ClientSecretJwt), Some(secret)) => ClientAuth::SecretJwt(secret),
            (None | Some(AuthMethod::ClientSecretBasic), Some(secret)) => {
                ClientAuth::SecretBasic(secret)
            }
            (Some(AuthMethod::ClientSecretPost), Some(secret)) => ClientAuth::SecretPost(secret),
            (None | Some(AuthMethod::None), None) => ClientAuth::None,
            (Some(AuthMethod::None), Some(_)) => {
                return Err(invalid(
                    "auth_method",
                    "is `none`, but a client secret is set: remove the secret or choose `client_secret_basic`",
                ));
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
        })
    }

    /// `client_secret`, or the variable `client_secret_env` names.
    fn secret(&self, source: &Lookup<'_>) -> Result<Option<ClientSecret>, ConfigError> {
        match (&self.client_secret, &self.client_secret_env) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid {
                field: "client_secret_env",
                reason: "set either `client_secret` or `client_secret_env`, not both".into(),
            }),
            (Some(secret), None) => Ok(Some(secret.clone())),
            (None, Some(variable)) => match (source.env)(variable) {
                Some(value) if !value.is_empty() => Ok(Some(ClientSecret::new(value))),
                _ => Err(ConfigError::MissingEnvironmentVariable {
                    variable: variable.clone(),
                }),
            },
            (None, None) => Ok(None),
        }
    }

    /// The `private_key_jwt` key from `private_key_pem_file` or
    /// `private_key_env`, with its `kid`, certificate and algorithm.
    fn private_key(&self, source: &Lookup<'_>) -> Result<PrivateKeyJwt, ConfigError> {
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
        let (pem, key_field) = match (&self.private_key_pem_file, &self.private_key_env) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "private_key_env",
                    "set either `private_key_pem_file` or `private_key_env`, not both".into(),
                ));
            }
            (Some(path), None) => (
                read_file(source, "private_key_pem_file", path)?,
                "private_key_pem_file",
            ),
            (None, Some(variable)) => match (source.env)(variable) {
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
            let field = "private_key_certificate_pem_file";
            key = key.with_certificate_pem(read_file(source, field, path)?);
        }
        Ok(key)
    }
}

/// Reads a file named by `field`, relative to the config file's directory.
fn read_file(source: &Lookup<'_>, field: &'static str, path: &str) -> Result<String, ConfigError> {
    let path = match source.base_dir {
        Some(dir) if Path::new(path).is_relative() => dir.join(path),
        _ => PathBuf::from(path),
    };
    std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
        field,
        reason: format!("`{}` could not be read ({e})", path.display()),
    })
}
