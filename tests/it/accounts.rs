//! Account linking with the in-memory store: first login by verified email,
//! later logins by `sub`, and every refusal (unverified email, an account
//! bound to another `sub`, no account), against the embedded provider.

use crate::common;

use std::sync::Arc;

use common::accounts::{self as scenario, Admin};
use oidc_login::{Account, AccountError, AccountStore, MemoryAccountStore};

struct Memory(Arc<MemoryAccountStore>);

fn memory() -> Memory {
    Memory(Arc::new(MemoryAccountStore::new()))
}

impl Admin for Memory {
    fn store(&self) -> Arc<dyn AccountStore> {
        self.0.clone()
    }
    async fn add(&self, email: &str, name: &str) -> Result<Account, AccountError> {
        self.0.add_account(email, name)
    }
    async fn get(&self, id: &str) -> Option<Account> {
        self.0.account(id)
    }
}

#[tokio::test]
async fn first_login_links_by_verified_email() {
    scenario::first_login_links_by_verified_email(memory()).await;
}

#[tokio::test]
async fn later_login_with_a_changed_email_signs_in_the_bound_account() {
    scenario::later_login_with_a_changed_email_signs_in_the_bound_account(memory()).await;
}

#[tokio::test]
async fn a_stranger_with_an_unverified_copy_of_the_email_is_refused() {
    scenario::a_stranger_with_an_unverified_copy_of_the_email_is_refused(memory()).await;
}

#[tokio::test]
async fn trust_provider_links_an_unverified_email() {
    scenario::trust_provider_links_an_unverified_email(memory()).await;
}

#[tokio::test]
async fn entra_domain_owner_links_by_xms_edov() {
    scenario::entra_domain_owner_links_by_xms_edov(memory()).await;
}

#[tokio::test]
async fn an_account_bound_to_another_sub_is_refused_until_reset() {
    scenario::an_account_bound_to_another_sub_is_refused_until_reset(memory()).await;
}

#[tokio::test]
async fn no_account_for_the_email_is_a_clear_error() {
    scenario::no_account_for_the_email_is_a_clear_error(memory()).await;
}

#[tokio::test]
async fn a_login_without_an_email_is_refused() {
    scenario::a_login_without_an_email_is_refused(memory()).await;
}

#[tokio::test]
async fn admin_errors() {
    scenario::admin_errors(memory()).await;
}

#[tokio::test]
async fn one_subject_binds_one_account() {
    scenario::one_subject_binds_one_account(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_logins_bind_once() {
    let admin = memory();
    let racers = [admin.store(), admin.store()];
    scenario::racing_first_logins_bind_once(admin, racers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_login_racing_itself_succeeds_twice() {
    scenario::the_same_login_racing_itself_succeeds_twice(memory()).await;
}

#[test]
fn accounts_list_in_order_and_debug_shows_no_secret() {
    let store = MemoryAccountStore::new();
    let a = store.add_account("a@example.com", "A").unwrap();
    let b = store.add_account("b@example.com", "B").unwrap();
    let ids: Vec<String> = store.accounts().into_iter().map(|x| x.id).collect();
    assert_eq!(ids, [a.id, b.id]);
    assert!(store.account("nope").is_none());
}

#[test]
fn the_axidian_example_config_loads() {
    // `AXIDIAN_OIDC_CLIENT_SECRET` is set by `.cargo/config.toml` (`[env]`).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/axidian.toml");
    let config = oidc_login::Config::from_file(path).unwrap();
    assert_eq!(config.flow(), oidc_login::Flow::AuthorizationCodePkce);
    assert_eq!(
        config.claims().email_verification,
        oidc_login::EmailVerification::EmailVerifiedClaim
    );
    assert_eq!(config.claims().email.as_str(), "email");
    assert!(config.scopes().iter().any(|s| s == "email"));
    assert!(!format!("{config:?}").contains("from-the-environment"));

    // The commented implicit lines, switched on, load too.
    let text = std::fs::read_to_string(path).unwrap();
    let implicit = text
        .replace("flow = \"authorization_code_pkce\"\n", "")
        .replace("# flow = \"implicit\"", "flow = \"implicit\"")
        .replace("# allow_implicit_flow = true", "allow_implicit_flow = true");
    let config = oidc_login::Config::from_toml(&implicit).unwrap();
    assert_eq!(config.flow(), oidc_login::Flow::Implicit);
}
