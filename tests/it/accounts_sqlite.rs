//! Account linking with `SqliteAccountStore` on a real SQLite file in a
//! temporary directory: the scenarios of `tests/accounts.rs`, persistence
//! across a reopen, the unique binding, and racing first logins from two
//! connections to the same file.

use crate::common;

use std::sync::Arc;

use common::accounts::{self as scenario, Admin};
use oidc_login::{
    Account, AccountError, AccountLinker, AccountStore, EmailVerification, SqliteAccountStore,
};
use tempfile::TempDir;

struct Sqlite {
    store: Arc<SqliteAccountStore>,
    // Kept so the directory lives as long as the store.
    dir: TempDir,
}

async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteAccountStore::open(dir.path().join("accounts.sqlite3"))
        .await
        .expect("the database opens");
    Sqlite {
        store: Arc::new(store),
        dir,
    }
}

impl Admin for Sqlite {
    fn store(&self) -> Arc<dyn AccountStore> {
        self.store.clone()
    }
    async fn add(&self, email: &str, name: &str) -> Result<Account, AccountError> {
        self.store.add_account(email, name).await
    }
    async fn get(&self, id: &str) -> Option<Account> {
        self.store.account(id).await.expect("the store reads")
    }
}

#[tokio::test]
async fn first_login_links_by_verified_email() {
    scenario::first_login_links_by_verified_email(sqlite().await).await;
}

#[tokio::test]
async fn later_login_with_a_changed_email_signs_in_the_bound_account() {
    scenario::later_login_with_a_changed_email_signs_in_the_bound_account(sqlite().await).await;
}

#[tokio::test]
async fn a_stranger_with_an_unverified_copy_of_the_email_is_refused() {
    scenario::a_stranger_with_an_unverified_copy_of_the_email_is_refused(sqlite().await).await;
}

#[tokio::test]
async fn trust_provider_links_an_unverified_email() {
    scenario::trust_provider_links_an_unverified_email(sqlite().await).await;
}

#[tokio::test]
async fn entra_domain_owner_links_by_xms_edov() {
    scenario::entra_domain_owner_links_by_xms_edov(sqlite().await).await;
}

#[tokio::test]
async fn an_account_bound_to_another_sub_is_refused_until_reset() {
    scenario::an_account_bound_to_another_sub_is_refused_until_reset(sqlite().await).await;
}

#[tokio::test]
async fn no_account_for_the_email_is_a_clear_error() {
    scenario::no_account_for_the_email_is_a_clear_error(sqlite().await).await;
}

#[tokio::test]
async fn a_login_without_an_email_is_refused() {
    scenario::a_login_without_an_email_is_refused(sqlite().await).await;
}

#[tokio::test]
async fn admin_errors() {
    scenario::admin_errors(sqlite().await).await;
}

#[tokio::test]
async fn one_subject_binds_one_account() {
    scenario::one_subject_binds_one_account(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_logins_bind_once_on_one_connection() {
    let admin = sqlite().await;
    let racers = [admin.store(), admin.store()];
    scenario::racing_first_logins_bind_once(admin, racers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_logins_bind_once_across_two_connections() {
    // Two stores on one file: as two app instances sharing the database.
    let admin = sqlite().await;
    let other = SqliteAccountStore::open(admin.store.path()).await.unwrap();
    let racers: [Arc<dyn AccountStore>; 2] = [admin.store(), Arc::new(other)];
    scenario::racing_first_logins_bind_once(admin, racers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_login_racing_itself_succeeds_twice() {
    scenario::the_same_login_racing_itself_succeeds_twice(sqlite().await).await;
}

#[tokio::test]
async fn bindings_persist_across_a_reopen() {
    let provider = scenario::provider().await;
    let client = common::client(&provider).await;
    let admin = sqlite().await;
    let path = admin.store.path().to_owned();
    let alice = admin
        .add(scenario::ALICE_EMAIL, "Alice Admin")
        .await
        .unwrap();
    AccountLinker::new(admin.store(), EmailVerification::EmailVerifiedClaim)
        .link(&scenario::identity(&client, "alice").await)
        .await
        .unwrap();
    let Sqlite { store, dir } = admin;
    drop(store);

    let reopened: Arc<dyn AccountStore> = Arc::new(SqliteAccountStore::open(&path).await.unwrap());
    // The binding is there: a later login with a changed email still links.
    provider.add_user(oidc_login::testing::TestUser::alice().email("elsewhere@example.net"));
    let account = AccountLinker::new(reopened.clone(), EmailVerification::EmailVerifiedClaim)
        .link(&scenario::identity(&client, "alice").await)
        .await
        .unwrap();
    assert_eq!(account.id, alice.id);
    assert_eq!(account.display_name, "Alice Admin");
    // And a reset persists too.
    reopened.reset_binding(&alice.id).await.unwrap();
    drop(reopened);
    let again = SqliteAccountStore::open(&path).await.unwrap();
    assert_eq!(
        again.account(&alice.id).await.unwrap().unwrap().binding,
        None
    );
    drop(dir);
}

#[tokio::test]
async fn a_missing_directory_is_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteAccountStore::open(dir.path().join("no/such/dir/a.sqlite3"))
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::Store { .. }), "{err}");
    assert_eq!(oidc_login::Error::from(err).code(), "account_store_error");
}
