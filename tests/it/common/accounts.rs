//! Account-linking scenarios run against every store: each test file hands
//! in its store through [`Admin`].

use std::sync::Arc;

use oidc_login::testing::{TestProvider, TestUser};
use oidc_login::{
    Account, AccountError, AccountLinker, AccountStore, Binding, Client, EmailVerification,
    Identity,
};

use super::{client, client_with, config_builder, login_as};

/// What the scenarios need of a store beyond the trait: creating and
/// reading accounts, as an admin would. (Test code only: no `Send` bound
/// is needed on these futures.)
#[allow(async_fn_in_trait)]
pub trait Admin {
    fn store(&self) -> Arc<dyn AccountStore>;
    async fn add(&self, email: &str, name: &str) -> Result<Account, AccountError>;
    async fn get(&self, id: &str) -> Option<Account>;
}

pub const ALICE_EMAIL: &str = "alice@example.com";

/// A provider with alice (verified email), "alice-again" (alice's email,
/// verified, another `sub`: the same person after a re-created provider
/// account), mallory (alice's email in another case, *unverified*), and bob.
pub async fn provider() -> TestProvider {
    TestProvider::builder()
        .user(TestUser::alice())
        .user(TestUser::bob())
        .user(
            TestUser::new("alice-sub-recreated", "alice-again")
                .email(ALICE_EMAIL)
                .email_verified(true),
        )
        .user(
            TestUser::new("mallory-sub-6666", "mallory")
                // Alice's address in other ASCII case (white space around
                // it would make it no email at all).
                .email("ALICE@Example.com")
                .email_verified(false),
        )
        .start()
        .await
}

pub async fn identity(client: &Client, username: &str) -> Identity {
    login_as(client, username)
        .await
        .unwrap_or_else(|err| panic!("{username} signs in: {err}"))
        .identity
}

fn linker(admin: &impl Admin, policy: EmailVerification) -> AccountLinker {
    AccountLinker::new(admin.store(), policy)
}

pub async fn first_login_links_by_verified_email(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = admin.add("Alice@Example.com", "Alice Admin").await.unwrap();
    let linker = linker(&admin, client.config().claims().email_verification);

    let account = linker
        .link(&identity(&client, "alice").await)
        .await
        .unwrap();
    assert_eq!(account.id, alice.id);
    let expected = Binding {
        issuer: provider.issuer().to_owned(),
        subject: "alice-sub-0001".to_owned(),
    };
    assert_eq!(account.binding.as_ref(), Some(&expected));
    assert_eq!(admin.get(&alice.id).await.unwrap().binding, Some(expected));
}

pub async fn later_login_with_a_changed_email_signs_in_the_bound_account(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let linker = linker(&admin, EmailVerification::EmailVerifiedClaim);
    linker
        .link(&identity(&client, "alice").await)
        .await
        .unwrap();

    // At the provider, alice's email changes (and is not even verified).
    provider.add_user(
        TestUser::alice()
            .email("alice.renamed@example.org")
            .email_verified(false),
    );
    let id = identity(&client, "alice").await;
    assert_eq!(id.email.as_deref(), Some("alice.renamed@example.org"));
    let account = linker.link(&id).await.unwrap();
    assert_eq!(account.id, alice.id);
    assert_eq!(account.email, ALICE_EMAIL, "the local email is not changed");
}

pub async fn a_stranger_with_an_unverified_copy_of_the_email_is_refused(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let linker = linker(&admin, client.config().claims().email_verification);

    let mallory = identity(&client, "mallory").await;
    assert!(!mallory.email_verified);
    let err = linker.link(&mallory).await.unwrap_err();
    assert!(
        matches!(
            err,
            AccountError::EmailNotVerified {
                policy: "email_verified_claim"
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("unverified email never links"),
        "{err}"
    );
    assert_eq!(admin.get(&alice.id).await.unwrap().binding, None);
    // Alice herself still links afterwards.
    let account = linker
        .link(&identity(&client, "alice").await)
        .await
        .unwrap();
    assert_eq!(account.id, alice.id);
}

pub async fn trust_provider_links_an_unverified_email(admin: impl Admin) {
    let provider = provider().await;
    let client =
        client_with(config_builder(&provider).email_verification(EmailVerification::TrustProvider))
            .await;
    let alice = admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let linker = linker(&admin, client.config().claims().email_verification);
    let account = linker
        .link(&identity(&client, "mallory").await)
        .await
        .unwrap();
    assert_eq!(account.id, alice.id);
    assert!(account.is_bound_to(provider.issuer(), "mallory-sub-6666"));
}

pub async fn entra_domain_owner_links_by_xms_edov(admin: impl Admin) {
    let provider = TestProvider::builder()
        .user(
            TestUser::new("entra-oid-1", "carol")
                .email("carol@contoso.example")
                .without_email_verified()
                .xms_edov(true),
        )
        .user(
            TestUser::new("entra-oid-2", "dave")
                .email("dave@contoso.example")
                .without_email_verified()
                .xms_edov(false),
        )
        .start()
        .await;
    let carol = admin.add("carol@contoso.example", "Carol").await.unwrap();
    admin.add("dave@contoso.example", "Dave").await.unwrap();

    // The default policy wants `email_verified`, which Entra does not send.
    let client = client(&provider).await;
    let err = linker(&admin, client.config().claims().email_verification)
        .link(&identity(&client, "carol").await)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::EmailNotVerified { .. }),
        "{err}"
    );

    let entra = client_with(
        config_builder(&provider).email_verification(EmailVerification::EntraDomainOwner),
    )
    .await;
    let linker = linker(&admin, entra.config().claims().email_verification);
    let account = linker.link(&identity(&entra, "carol").await).await.unwrap();
    assert_eq!(account.id, carol.id);
    let err = linker
        .link(&identity(&entra, "dave").await)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::EmailNotVerified { .. }),
        "{err}"
    );
}

pub async fn an_account_bound_to_another_sub_is_refused_until_reset(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let linker = linker(&admin, EmailVerification::EmailVerifiedClaim);
    linker
        .link(&identity(&client, "alice").await)
        .await
        .unwrap();

    // The same verified email, another `sub`: refused, with the way out.
    let again = identity(&client, "alice-again").await;
    let err = linker.link(&again).await.unwrap_err();
    match &err {
        AccountError::BoundToAnotherSubject { account_id } => assert_eq!(account_id, &alice.id),
        other => panic!("expected BoundToAnotherSubject, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("an administrator must reset its binding"),
        "{err}"
    );
    assert_eq!(
        oidc_login::Error::from(err).code(),
        "account_bound_elsewhere"
    );
    // Nothing changed.
    assert!(
        admin
            .get(&alice.id)
            .await
            .unwrap()
            .is_bound_to(provider.issuer(), "alice-sub-0001")
    );

    // The admin deletes the stored subject; the next login links again.
    let removed = admin.store().reset_binding(&alice.id).await.unwrap();
    assert_eq!(
        removed.map(|b| b.subject).as_deref(),
        Some("alice-sub-0001")
    );
    assert_eq!(admin.store().reset_binding(&alice.id).await.unwrap(), None);
    let account = linker.link(&again).await.unwrap();
    assert_eq!(account.id, alice.id);
    assert!(account.is_bound_to(provider.issuer(), "alice-sub-recreated"));
    // And the old subject is now the stranger.
    let err = linker
        .link(&identity(&client, "alice").await)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::BoundToAnotherSubject { .. }),
        "{err}"
    );
}

pub async fn no_account_for_the_email_is_a_clear_error(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let linker = linker(&admin, EmailVerification::EmailVerifiedClaim);
    let err = linker
        .link(&identity(&client, "bob").await)
        .await
        .unwrap_err();
    match &err {
        AccountError::NoAccount { email } => assert_eq!(email, "bob@example.com"),
        other => panic!("expected NoAccount, got {other:?}"),
    }
    assert!(
        err.to_string().contains("an administrator must create one"),
        "{err}"
    );
    assert!(
        admin
            .store()
            .find_by_subject(provider.issuer(), "bob-sub-0002")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_login_without_an_email_is_refused(admin: impl Admin) {
    let provider = TestProvider::builder()
        .user(TestUser::new("no-mail-sub", "nomail"))
        .start()
        .await;
    let client = client(&provider).await;
    admin.add(ALICE_EMAIL, "Alice Admin").await.unwrap();
    let err = linker(&admin, EmailVerification::TrustProvider)
        .link(&identity(&client, "nomail").await)
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::NoEmail), "{err}");
}

pub async fn admin_errors(admin: impl Admin) {
    admin.add(ALICE_EMAIL, "Alice").await.unwrap();
    let err = admin
        .add(" ALICE@example.COM", "Alice twin")
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::EmailTaken { .. }), "{err}");
    let err = admin.add("not an email", "X").await.unwrap_err();
    assert!(matches!(err, AccountError::InvalidEmail { .. }), "{err}");
    let err = admin
        .store()
        .reset_binding("no-such-account")
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::UnknownAccount { .. }), "{err}");
    let err = admin
        .store()
        .bind("424242", "https://idp.example", "s")
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::UnknownAccount { .. }), "{err}");
}

pub async fn one_subject_binds_one_account(admin: impl Admin) {
    let a = admin.add("a@example.com", "A").await.unwrap();
    let b = admin.add("b@example.com", "B").await.unwrap();
    let store = admin.store();
    store
        .bind(&a.id, "https://idp.example", "s1")
        .await
        .unwrap();
    // Binding again to the same identity answers the account unchanged.
    let again = store
        .bind(&a.id, "https://idp.example", "s1")
        .await
        .unwrap();
    assert!(again.is_bound_to("https://idp.example", "s1"));
    let err = store
        .bind(&b.id, "https://idp.example", "s1")
        .await
        .unwrap_err();
    match err {
        AccountError::SubjectBoundElsewhere { account_id } => assert_eq!(account_id, a.id),
        other => panic!("expected SubjectBoundElsewhere, got {other:?}"),
    }
    assert_eq!(admin.get(&b.id).await.unwrap().binding, None);
    // The same `sub` at another issuer is another identity.
    store
        .bind(&b.id, "https://other-idp.example", "s1")
        .await
        .unwrap();
    let found = store
        .find_by_subject("https://other-idp.example", "s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, b.id);
}

/// Two first logins with the same verified email and different subjects,
/// many rounds, started together: each round binds the account exactly once.
pub async fn racing_first_logins_bind_once(admin: impl Admin, racers: [Arc<dyn AccountStore>; 2]) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = identity(&client, "alice").await;
    let again = identity(&client, "alice-again").await;
    for round in 0..25 {
        let email = format!("racer{round}@example.com");
        let account = admin.add(&email, "Racer").await.unwrap();
        let mut tasks = Vec::new();
        for (store, who) in racers.iter().zip([&alice, &again]) {
            let linker = AccountLinker::new(store.clone(), EmailVerification::TrustProvider);
            // Fresh subjects each round, so that no earlier binding matches.
            let mut who = who.clone();
            who.email = Some(email.clone());
            who.subject = format!("{}-round-{round}", who.subject);
            tasks.push(tokio::spawn(async move { linker.link(&who).await }));
        }
        let mut won = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(account) => won.push(account),
                Err(AccountError::BoundToAnotherSubject { .. }) => {}
                Err(other) => panic!("round {round}: unexpected {other}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        let stored = admin.get(&account.id).await.unwrap();
        assert_eq!(stored.binding, won[0].binding, "round {round}");
    }
}

/// The same user's two tabs finishing together: both sign in to the account.
pub async fn the_same_login_racing_itself_succeeds_twice(admin: impl Admin) {
    let provider = provider().await;
    let client = client(&provider).await;
    let alice = identity(&client, "alice").await;
    for round in 0..10 {
        let email = format!("tab{round}@example.com");
        let account = admin.add(&email, "Tabs").await.unwrap();
        let mut who = alice.clone();
        who.email = Some(email);
        who.subject = format!("tab-sub-{round}");
        let linker = AccountLinker::new(admin.store(), EmailVerification::TrustProvider);
        let (a, b) = tokio::join!(linker.link(&who), linker.link(&who));
        assert_eq!(a.unwrap().id, account.id);
        assert_eq!(b.unwrap().id, account.id);
    }
}
