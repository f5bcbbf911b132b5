//! [`MemoryAccountStore`]: accounts in a `Mutex`, for tests, demos and apps
//! whose accounts are loaded at start.

use std::sync::{Mutex, MutexGuard};

use super::{Account, AccountStore, Binding, StoreFuture, checked_email};
use crate::error::AccountError;

/// Accounts kept in memory, lost when the process ends.
///
/// Every method holds one lock for its whole work, so a bind is atomic:
/// two first logins racing for one account cannot both bind it.
///
/// ```
/// use oidc_login::MemoryAccountStore;
///
/// # fn main() -> Result<(), oidc_login::AccountError> {
/// let store = MemoryAccountStore::new();
/// let alice = store.add_account("alice@example.com", "Alice Admin")?;
/// assert_eq!(store.account(&alice.id).unwrap().binding, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct MemoryAccountStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// `(normalized email, account)`.
    accounts: Vec<(String, Account)>,
}

impl MemoryAccountStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not lock every login out.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates an unbound account (for admins and tests). The email must be
    /// unique after [`normalize_email`](crate::normalize_email); ids are
    /// `"1"`, `"2"`, ... in order of creation.
    pub fn add_account(
        &self,
        email: &str,
        display_name: impl Into<String>,
    ) -> Result<Account, AccountError> {
        let key = checked_email(email)?;
        let mut inner = self.lock();
        if inner.accounts.iter().any(|(k, _)| *k == key) {
            return Err(AccountError::EmailTaken {
                email: crate::error::clip(&key, 128),
            });
        }
        inner.next_id += 1;
        let account = Account::new(inner.next_id.to_string(), email.trim(), display_name, None);
        inner.accounts.push((key, account.clone()));
        Ok(account)
    }

    /// Puts the account with this id (the `[accounts]` rows of a config
    /// file, [`AccountsSettings`](crate::AccountsSettings)): creates it
    /// unbound, or sets the email and display name of the one there,
    /// keeping its binding, so that putting the same rows again changes
    /// nothing. The email must be unique among the other accounts.
    pub fn put_account(
        &self,
        id: &str,
        email: &str,
        display_name: impl Into<String>,
    ) -> Result<Account, AccountError> {
        let key = checked_email(email)?;
        let display_name = display_name.into();
        let mut inner = self.lock();
        if inner.accounts.iter().any(|(k, a)| *k == key && a.id != id) {
            return Err(AccountError::EmailTaken {
                email: crate::error::clip(&key, 128),
            });
        }
        if let Some((k, account)) = inner.accounts.iter_mut().find(|(_, a)| a.id == id) {
            *k = key;
            account.email = email.trim().to_owned();
            account.display_name = display_name;
            return Ok(account.clone());
        }
        // `add_account` numbers after the highest numeric id.
        if let Ok(n) = id.parse::<u64>() {
            inner.next_id = inner.next_id.max(n);
        }
        let account = Account::new(id, email.trim(), display_name, None);
        inner.accounts.push((key, account.clone()));
        Ok(account)
    }

    /// The account with this id, if any.
    pub fn account(&self, id: &str) -> Option<Account> {
        self.lock()
            .accounts
            .iter()
            .find(|(_, a)| a.id == id)
            .map(|(_, a)| a.clone())
    }

    /// Every account, in order of creation.
    pub fn accounts(&self) -> Vec<Account> {
        self.lock()
            .accounts
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }
}

impl AccountStore for MemoryAccountStore {
    fn find_by_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Option<Account>> {
        let found = self
            .lock()
            .accounts
            .iter()
            .find(|(_, a)| a.is_bound_to(issuer, subject))
            .map(|(_, a)| a.clone());
        Box::pin(async move { Ok(found) })
    }

    fn find_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>> {
        let found = self
            .lock()
            .accounts
            .iter()
            .find(|(key, _)| key == email)
            .map(|(_, a)| a.clone());
        Box::pin(async move { Ok(found) })
    }

    fn bind<'a>(
        &'a self,
        account_id: &'a str,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Account> {
        let result = bind(&mut self.lock(), account_id, issuer, subject);
        Box::pin(async move { result })
    }

    fn reset_binding<'a>(&'a self, account_id: &'a str) -> StoreFuture<'a, Option<Binding>> {
        let result = {
            let mut inner = self.lock();
            match inner.accounts.iter_mut().find(|(_, a)| a.id == account_id) {
                Some((_, account)) => Ok(account.binding.take()),
                None => Err(AccountError::UnknownAccount {
                    account_id: crate::error::clip(account_id, 64),
                }),
            }
        };
        Box::pin(async move { result })
    }
}

fn bind(
    inner: &mut Inner,
    account_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<Account, AccountError> {
    if let Some((_, holder)) = inner
        .accounts
        .iter()
        .find(|(_, a)| a.is_bound_to(issuer, subject))
    {
        return if holder.id == account_id {
            Ok(holder.clone())
        } else {
            Err(AccountError::SubjectBoundElsewhere {
                account_id: holder.id.clone(),
            })
        };
    }
    let Some((_, account)) = inner.accounts.iter_mut().find(|(_, a)| a.id == account_id) else {
        return Err(AccountError::UnknownAccount {
            account_id: crate::error::clip(account_id, 64),
        });
    };
    if account.binding.is_some() {
        return Err(AccountError::BoundToAnotherSubject {
            account_id: account.id.clone(),
        });
    }
    account.binding = Some(Binding {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
    });
    Ok(account.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_account_creates_then_updates_and_keeps_the_binding() {
        let store = MemoryAccountStore::new();
        store.put_account("5", "A@x.example", "A").unwrap();
        store.bind("5", "https://idp", "s1").await.unwrap();
        let again = store.put_account("5", "a2@x.example", "A2").unwrap();
        assert!(again.is_bound_to("https://idp", "s1"));
        assert_eq!(again.display_name, "A2");
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
        assert!(matches!(
            store.put_account("6", "A2@X.example", "B"),
            Err(AccountError::EmailTaken { .. })
        ));
        // `add_account` numbers after the highest numeric id.
        assert_eq!(store.add_account("b@x.example", "B").unwrap().id, "6");
        assert_eq!(store.accounts().len(), 2);
    }
}
