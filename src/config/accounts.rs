//! The `[accounts]` table: the local accounts an app seeds its account
//! store with (Axidian's console keeps them in its own database), and the
//! SQLite file they live in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::accounts::checked_email;
use crate::error::{ConfigError, clip};

/// The `[accounts]` table of a config file ([`Config::accounts`](super::Config::accounts)):
/// where the account store lives and the accounts to put in it.
///
/// ```toml
/// [accounts]
/// database = "accounts.sqlite"   # relative to the config file; created if missing
///
/// [[accounts.account]]
/// id = 1
/// email = "alice@example.com"
/// name = "Alice Admin"           # optional: the display name, default the email
/// ```
///
/// The crate does not open the database itself: the app does, with
/// `SqliteAccountStore::open` (feature `sqlite`), and puts each row with
/// `put_account`, which creates the account or updates its email and name
/// and keeps its binding, so that a restart changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountsSettings {
    /// The SQLite file: a relative path is resolved against the config
    /// file's directory ([`Config::from_file`](super::Config::from_file);
    /// from text, it stays as written). `None`: the accounts live in memory.
    pub database: Option<PathBuf>,
    /// The accounts, in the file's order.
    pub accounts: Vec<AccountRow>,
}

/// One `[[accounts.account]]` row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountRow {
    /// The account's id (`id`, an integer or a string; `SqliteAccountStore`
    /// takes positive integers).
    pub id: String,
    /// The account's email (`email`), checked like `add_account`'s.
    pub email: String,
    /// The name shown for the account (`name`, default the email).
    pub display_name: String,
}

/// The table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountsFile {
    database: Option<String>,
    #[serde(default)]
    account: Vec<AccountRowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRowFile {
    id: IdValue,
    email: String,
    name: Option<String>,
}

/// `id = 1` or `id = "1"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Number(u64),
    Text(String),
}

fn invalid(reason: String) -> ConfigError {
    ConfigError::Invalid {
        field: "accounts",
        reason,
    }
}

impl AccountsFile {
    /// Checks the rows (ids and emails well formed and unique) and resolves
    /// the database path against `base_dir`.
    pub(super) fn settings(self, base_dir: Option<&Path>) -> Result<AccountsSettings, ConfigError> {
        let database = match self.database {
            Some(path) if path.trim().is_empty() => {
                return Err(invalid("`database` is empty".into()));
            }
            Some(path) => Some(match base_dir {
                Some(dir) if Path::new(&path).is_relative() => dir.join(path),
                _ => PathBuf::from(path),
            }),
            None => None,
        };
        let (mut ids, mut emails) = (HashSet::new(), HashSet::new());
        let mut accounts = Vec::with_capacity(self.account.len());
        for (index, row) in self.account.into_iter().enumerate() {
            let n = index + 1;
            let id = match row.id {
                IdValue::Number(id) => id.to_string(),
                IdValue::Text(id) => id,
            };
            if id.trim().is_empty() || id.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "account {n}: `id` is empty or holds control characters"
                )));
            }
            let key = checked_email(&row.email)
                .map_err(|error| invalid(format!("account {n}: {error}")))?;
            if !ids.insert(id.clone()) {
                return Err(invalid(format!(
                    "account {n}: the id `{}` is used twice",
                    clip(&id, 64)
                )));
            }
            if !emails.insert(key.clone()) {
                return Err(invalid(format!(
                    "account {n}: the email `{}` is used twice (emails compare without ASCII case)",
                    clip(&key, 128)
                )));
            }
            let email = row.email.trim().to_owned();
            accounts.push(AccountRow {
                id,
                display_name: row.name.unwrap_or_else(|| email.clone()),
                email,
            });
        }
        Ok(AccountsSettings { database, accounts })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::error::ConfigError;

    const BASE: &str = "metadata_url = \"https://p.example\"\nclient_id = \"a\"\nredirect_uri = \"https://a.example/cb\"\n";

    fn reason(text: &str) -> String {
        match Config::from_toml(&format!("{BASE}{text}")).unwrap_err() {
            ConfigError::Invalid { field, reason } => {
                assert_eq!(field, "accounts");
                reason
            }
            ConfigError::Parse { message } => message,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn no_table_no_accounts() {
        assert_eq!(Config::from_toml(BASE).unwrap().accounts(), None);
    }

    #[test]
    fn rows_and_a_database_path_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc.toml");
        std::fs::write(
            &path,
            format!(
                "{BASE}[accounts]\ndatabase = \"accounts.sqlite\"\n\
                 [[accounts.account]]\nid = 1\nemail = \" Alice@Example.com \"\nname = \"Alice Admin\"\n\
                 [[accounts.account]]\nid = \"7\"\nemail = \"bob@example.com\"\n"
            ),
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        let accounts = config.accounts().unwrap();
        assert_eq!(
            accounts.database.as_deref(),
            Some(dir.path().join("accounts.sqlite").as_path())
        );
        let rows: Vec<(&str, &str, &str)> = accounts
            .accounts
            .iter()
            .map(|r| (r.id.as_str(), r.email.as_str(), r.display_name.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("1", "Alice@Example.com", "Alice Admin"),
                ("7", "bob@example.com", "bob@example.com")
            ]
        );
        // An absolute path stays as it is; no database: memory.
        let config = Config::from_toml(&format!(
            "{BASE}[accounts]\ndatabase = \"/var/lib/app/a.sqlite\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.accounts().unwrap().database.as_deref(),
            Some(std::path::Path::new("/var/lib/app/a.sqlite"))
        );
        let config = Config::from_toml(&format!("{BASE}[accounts]\n")).unwrap();
        assert_eq!(config.accounts().unwrap().database, None);
        assert!(config.accounts().unwrap().accounts.is_empty());
    }

    #[test]
    fn bad_rows_are_named() {
        let row = |id: &str, email: &str| {
            format!("[[accounts.account]]\nid = {id}\nemail = \"{email}\"\n")
        };
        let r = reason(&format!(
            "{}{}",
            row("1", "a@x.example"),
            row("1", "b@x.example")
        ));
        assert!(r.contains("account 2: the id `1` is used twice"), "{r}");
        let r = reason(&format!(
            "{}{}",
            row("1", "a@x.example"),
            row("2", "A@X.example")
        ));
        assert!(
            r.contains("account 2: the email `a@x.example` is used twice"),
            "{r}"
        );
        let r = reason(&row("1", "not-an-email"));
        assert!(r.contains("account 1:"), "{r}");
        let r = reason(&row("\"\"", "a@x.example"));
        assert!(r.contains("`id` is empty"), "{r}");
        let r = reason("[accounts]\ndatabase = \" \"\n");
        assert!(r.contains("`database` is empty"), "{r}");
        // Unknown keys in the table are refused.
        let err = Config::from_toml(&format!("{BASE}[accounts]\ndatabse = \"a.sqlite\"\n"));
        assert!(err.is_err());
        let err = Config::from_toml(&format!(
            "{BASE}[[accounts.account]]\nid = 1\nemail = \"a@x.example\"\nrole = \"admin\"\n"
        ));
        assert!(err.is_err());
    }
}
