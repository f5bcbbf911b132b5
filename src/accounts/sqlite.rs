//! [`SqliteAccountStore`]: accounts and bindings in a SQLite file (feature
//! `sqlite`; SQLite is compiled in, no system library needed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::{Account, AccountStore, Binding, StoreFuture, checked_email};
use crate::error::{AccountError, clip};

/// The schema, one migration per version; `PRAGMA user_version` holds how
/// many have been applied. Append only: never edit a released migration.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, each with at most one provider binding.
    "CREATE TABLE accounts (
        id           INTEGER PRIMARY KEY,
        email        TEXT NOT NULL,
        email_key    TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        issuer       TEXT,
        subject      TEXT,
        bound_at     INTEGER,
        CHECK ((issuer IS NULL) = (subject IS NULL)),
        UNIQUE (issuer, subject)
    );",
];

/// How long a write waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Accounts in a SQLite database file, kept across restarts.
///
/// The schema is created and migrated on [`open`](Self::open) (a
/// `user_version`-numbered list of migrations). `(issuer, subject)` is
/// unique, and a bind is a conditional `UPDATE ... WHERE subject IS NULL`
/// in an immediate transaction, so two first logins racing for one account
/// bind it once, even from two processes sharing the file.
///
/// Every call runs on Tokio's blocking thread pool.
///
/// ```no_run
/// use std::sync::Arc;
/// use oidc_login::{AccountLinker, EmailVerification, SqliteAccountStore};
///
/// # async fn run() -> Result<(), oidc_login::AccountError> {
/// let store = Arc::new(SqliteAccountStore::open("accounts.sqlite3").await?);
/// store.add_account("alice@example.com", "Alice Admin").await?;
/// let linker = AccountLinker::new(store.clone(), EmailVerification::EmailVerifiedClaim);
/// # let _ = linker;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Debug, Clone)]
pub struct SqliteAccountStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

fn store_error(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> AccountError {
    move |source| AccountError::Store {
        operation,
        source: Box::new(source),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

const COLUMNS: &str = "id, email, display_name, issuer, subject";

fn account_of(row: &Row<'_>) -> rusqlite::Result<Account> {
    let id: i64 = row.get(0)?;
    let issuer: Option<String> = row.get(3)?;
    let subject: Option<String> = row.get(4)?;
    Ok(Account::new(
        id.to_string(),
        row.get::<_, String>(1)?,
        row.get::<_, String>(2)?,
        issuer
            .zip(subject)
            .map(|(issuer, subject)| Binding { issuer, subject }),
    ))
}

/// Account ids are decimal row ids; anything else names no account.
fn row_id(account_id: &str) -> Result<i64, AccountError> {
    account_id
        .parse::<i64>()
        .ok()
        // Only the canonical spelling: `+1` or `01` name no account.
        .filter(|id| id.to_string() == account_id)
        .ok_or_else(|| AccountError::UnknownAccount {
            account_id: clip(account_id, 64),
        })
}

fn by_id(connection: &Connection, id: i64) -> rusqlite::Result<Option<Account>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
            params![id],
            account_of,
        )
        .optional()
}

/// Brings the schema to the newest version, one migration per transaction.
fn migrate(connection: &mut Connection) -> Result<(), AccountError> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    loop {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error("migrating the schema"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(store_error("reading the schema version"))?;
        if version > supported {
            return Err(AccountError::SchemaTooNew {
                found: version,
                supported,
            });
        }
        let Some(migration) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(migration)
            .map_err(store_error("migrating the schema"))?;
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(store_error("migrating the schema"))?;
        tx.commit().map_err(store_error("migrating the schema"))?;
        tracing::info!(
            target: "oidc_login::accounts",
            version = version + 1,
            "account database migrated"
        );
    }
}

impl SqliteAccountStore {
    /// Opens (creating if needed) the database at `path` and migrates its
    /// schema to this version's.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, AccountError> {
        let path = path.as_ref().to_owned();
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || {
            let mut connection =
                Connection::open(&opened).map_err(store_error("opening the database"))?;
            connection
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(store_error("opening the database"))?;
            // WAL lets readers work while a login binds an account.
            connection
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(store_error("opening the database"))?;
            migrate(&mut connection)?;
            Ok::<_, AccountError>(connection)
        })
        .await
        .map_err(|join| AccountError::Store {
            operation: "opening the database",
            source: Box::new(join),
        })??;
        Ok(Self {
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on the blocking thread pool.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Connection) -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard: MutexGuard<'_, Connection> = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|join| AccountError::Store {
            operation,
            source: Box::new(join),
        })?
    }

    /// Creates an unbound account (for admins and tests). The email must be
    /// unique after [`normalize_email`](crate::normalize_email).
    pub async fn add_account(
        &self,
        email: &str,
        display_name: impl Into<String>,
    ) -> Result<Account, AccountError> {
        let key = checked_email(email)?;
        let email = email.trim().to_owned();
        let display_name = display_name.into();
        self.run("adding an account", move |connection| {
            let inserted = connection.execute(
                "INSERT INTO accounts (email, email_key, display_name) VALUES (?1, ?2, ?3)",
                params![email, key, display_name],
            );
            match inserted {
                Ok(_) => Ok(Account::new(
                    connection.last_insert_rowid().to_string(),
                    email,
                    display_name,
                    None,
                )),
                Err(e) if is_unique_violation(&e) => Err(AccountError::EmailTaken {
                    email: clip(&key, 128),
                }),
                Err(e) => Err(store_error("adding an account")(e)),
            }
        })
        .await
    }

    /// Puts the account with this id, a positive integer (the `[accounts]`
    /// rows of a config file, [`AccountsSettings`](crate::AccountsSettings)):
    /// creates it unbound, or sets the email and display name of the one
    /// there, keeping its binding, so that putting the same rows at every
    /// start changes nothing. The email must be unique among the other
    /// accounts ([`AccountError::EmailTaken`]).
    pub async fn put_account(
        &self,
        account_id: &str,
        email: &str,
        display_name: impl Into<String>,
    ) -> Result<Account, AccountError> {
        let id = row_id(account_id)?;
        if id <= 0 {
            return Err(AccountError::UnknownAccount {
                account_id: clip(account_id, 64),
            });
        }
        let key = checked_email(email)?;
        let email = email.trim().to_owned();
        let display_name = display_name.into();
        self.run("putting an account", move |connection| {
            let failed = || store_error("putting an account");
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(failed())?;
            let written = if by_id(&tx, id).map_err(failed())?.is_some() {
                tx.execute(
                    "UPDATE accounts SET email = ?2, email_key = ?3, display_name = ?4 WHERE id = ?1",
                    params![id, email, key, display_name],
                )
            } else {
                tx.execute(
                    "INSERT INTO accounts (id, email, email_key, display_name) VALUES (?1, ?2, ?3, ?4)",
                    params![id, email, key, display_name],
                )
            };
            match written {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(AccountError::EmailTaken {
                        email: clip(&key, 128),
                    });
                }
                Err(e) => return Err(failed()(e)),
            }
            let account = by_id(&tx, id)
                .map_err(failed())?
                .ok_or_else(|| AccountError::UnknownAccount {
                    account_id: id.to_string(),
                })?;
            tx.commit().map_err(failed())?;
            Ok(account)
        })
        .await
    }

    /// The account with this id, if any.
    pub async fn account(&self, account_id: &str) -> Result<Option<Account>, AccountError> {
        let Ok(id) = row_id(account_id) else {
            return Ok(None);
        };
        self.run("reading an account", move |connection| {
            by_id(connection, id).map_err(store_error("reading an account"))
        })
        .await
    }

    /// Every account, by id.
    pub async fn accounts(&self) -> Result<Vec<Account>, AccountError> {
        self.run("listing the accounts", |connection| {
            let mut statement = connection
                .prepare(&format!("SELECT {COLUMNS} FROM accounts ORDER BY id"))
                .map_err(store_error("listing the accounts"))?;
            let rows = statement
                .query_map([], account_of)
                .map_err(store_error("listing the accounts"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(store_error("listing the accounts"))
        })
        .await
    }
}

impl AccountStore for SqliteAccountStore {
    fn find_by_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Option<Account>> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        Box::pin(
            self.run("finding an account by subject", move |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM accounts WHERE issuer = ?1 AND subject = ?2"
                        ),
                        params![issuer, subject],
                        account_of,
                    )
                    .optional()
                    .map_err(store_error("finding an account by subject"))
            }),
        )
    }

    fn find_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>> {
        let key = email.to_owned();
        Box::pin(self.run("finding an account by email", move |connection| {
            // `=`, never LIKE: an email is not a pattern.
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM accounts WHERE email_key = ?1"),
                    params![key],
                    account_of,
                )
                .optional()
                .map_err(store_error("finding an account by email"))
        }))
    }

    fn bind<'a>(
        &'a self,
        account_id: &'a str,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Account> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        let id = row_id(account_id);
        Box::pin(async move {
            let id = id?;
            self.run("binding an account", move |connection| {
                bind(connection, id, &issuer, &subject)
            })
            .await
        })
    }

    fn reset_binding<'a>(&'a self, account_id: &'a str) -> StoreFuture<'a, Option<Binding>> {
        let id = row_id(account_id);
        Box::pin(async move {
            let id = id?;
            self.run("resetting a binding", move |connection| {
                let failed = || store_error("resetting a binding");
                let tx = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(failed())?;
                let Some(account) = by_id(&tx, id).map_err(failed())? else {
                    return Err(AccountError::UnknownAccount {
                        account_id: id.to_string(),
                    });
                };
                tx.execute(
                    "UPDATE accounts SET issuer = NULL, subject = NULL, bound_at = NULL WHERE id = ?1",
                    params![id],
                )
                .map_err(failed())?;
                tx.commit().map_err(failed())?;
                Ok(account.binding)
            })
            .await
        })
    }
}

/// The conditional bind, in one immediate transaction.
fn bind(
    connection: &mut Connection,
    id: i64,
    issuer: &str,
    subject: &str,
) -> Result<Account, AccountError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error("binding an account"))?;
    let updated = tx.execute(
        "UPDATE accounts SET issuer = ?2, subject = ?3, bound_at = ?4
         WHERE id = ?1 AND subject IS NULL",
        params![id, issuer, subject, unix_now()],
    );
    match updated {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            let holder: Option<i64> = tx
                .query_row(
                    "SELECT id FROM accounts WHERE issuer = ?1 AND subject = ?2",
                    params![issuer, subject],
                    |row| row.get(0),
                )
                .optional()
                .map_err(store_error("binding an account"))?;
            return match holder {
                Some(holder) if holder == id => by_id(&tx, id)
                    .map_err(store_error("binding an account"))?
                    .ok_or_else(|| AccountError::UnknownAccount {
                        account_id: id.to_string(),
                    }),
                Some(holder) => Err(AccountError::SubjectBoundElsewhere {
                    account_id: holder.to_string(),
                }),
                None => Err(store_error("binding an account")(e)),
            };
        }
        Err(e) => return Err(store_error("binding an account")(e)),
    }
    let account = by_id(&tx, id)
        .map_err(store_error("binding an account"))?
        .ok_or_else(|| AccountError::UnknownAccount {
            account_id: id.to_string(),
        })?;
    if !account.is_bound_to(issuer, subject) {
        return Err(AccountError::BoundToAnotherSubject {
            account_id: account.id,
        });
    }
    tx.commit().map_err(store_error("binding an account"))?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_run_once_and_set_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite3");
        let store = SqliteAccountStore::open(&path).await.unwrap();
        store.add_account("a@x.example", "A").await.unwrap();
        drop(store);
        // Reopening does not re-run migration 1 (which would fail: the
        // table exists) and keeps the data.
        let store = SqliteAccountStore::open(&path).await.unwrap();
        assert_eq!(store.accounts().await.unwrap().len(), 1);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let err = SqliteAccountStore::open(&path).await.unwrap_err();
        assert!(
            matches!(
                err,
                AccountError::SchemaTooNew {
                    found: 99,
                    supported: 1
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_schema_refuses_a_duplicate_binding_and_a_half_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite3");
        drop(SqliteAccountStore::open(&path).await.unwrap());
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "INSERT INTO accounts (email, email_key, display_name, issuer, subject)
             VALUES ('a@x', 'a@x', 'A', 'https://idp', 's1');",
        )
        .unwrap();
        let duplicate = db.execute_batch(
            "INSERT INTO accounts (email, email_key, display_name, issuer, subject)
             VALUES ('b@x', 'b@x', 'B', 'https://idp', 's1');",
        );
        assert!(duplicate.is_err(), "UNIQUE (issuer, subject)");
        let half = db.execute_batch(
            "INSERT INTO accounts (email, email_key, display_name, issuer)
             VALUES ('c@x', 'c@x', 'C', 'https://idp');",
        );
        assert!(half.is_err(), "an issuer without a subject");
        let same_email = db.execute_batch(
            "INSERT INTO accounts (email, email_key, display_name) VALUES ('A@X', 'a@x', 'A2');",
        );
        assert!(same_email.is_err(), "UNIQUE email_key");
    }

    #[tokio::test]
    async fn put_account_creates_then_updates_and_keeps_the_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite3");
        let store = SqliteAccountStore::open(&path).await.unwrap();
        let a = store.put_account("5", "A@x.example", "A").await.unwrap();
        assert_eq!((a.id.as_str(), a.email.as_str()), ("5", "A@x.example"));
        store.bind("5", "https://idp", "s1").await.unwrap();
        // Again, as at a restart: nothing changes, the binding stays.
        let again = store.put_account("5", "A@x.example", "A").await.unwrap();
        assert!(again.is_bound_to("https://idp", "s1"));
        // A new email and name are taken, the binding still kept.
        let moved = store.put_account("5", "a2@x.example", "A2").await.unwrap();
        assert_eq!(
            (moved.email.as_str(), moved.display_name.as_str()),
            ("a2@x.example", "A2")
        );
        assert!(moved.is_bound_to("https://idp", "s1"));
        assert!(store.find_by_email("a@x.example").await.unwrap().is_none());
        assert_eq!(
            store
                .find_by_email("a2@x.example")
                .await
                .unwrap()
                .unwrap()
                .id,
            "5"
        );
        // Another account's email is refused; so are ids that are no row id.
        assert!(matches!(
            store.put_account("6", "A2@X.example", "B").await,
            Err(AccountError::EmailTaken { .. })
        ));
        for bad in ["0", "-1", "x", "01"] {
            assert!(
                matches!(
                    store.put_account(bad, "c@x.example", "C").await,
                    Err(AccountError::UnknownAccount { .. })
                ),
                "{bad}"
            );
        }
        // `add_account` numbers after it.
        assert_eq!(store.add_account("d@x.example", "D").await.unwrap().id, "6");
        drop(store);
        let store = SqliteAccountStore::open(&path).await.unwrap();
        assert_eq!(store.accounts().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn ids_that_are_not_row_ids_name_no_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccountStore::open(dir.path().join("a.sqlite3"))
            .await
            .unwrap();
        store.add_account("a@x.example", "A").await.unwrap();
        assert!(store.account("1").await.unwrap().is_some());
        for id in ["x", "", "+1", "01", "1 OR 1=1", "99"] {
            assert!(
                matches!(
                    store.reset_binding(id).await,
                    Err(AccountError::UnknownAccount { .. })
                ),
                "{id:?}"
            );
            assert!(store.account(id).await.unwrap().is_none());
        }
    }
}
