//! Account linking: a login is tied to a local account by the provider's
//! `sub` (with its issuer); on the first login the account is found by a
//! verified email (Axidian's model).
//!
//! 1. A login whose `(iss, sub)` is bound to an account signs in to that
//!    account, whatever its email says now.
//! 2. Otherwise the email (the configured `email_claim`) must be verified
//!    under the provider's [`EmailVerification`] policy, and an account with
//!    that email must exist. Its binding is then set to `(iss, sub)`, once:
//!    the store binds an account only while it has no binding, atomically.
//! 3. An account bound to another `(iss, sub)` is refused until an admin
//!    clears its binding with [`AccountStore::reset_binding`] (Axidian's
//!    "delete the Subject Identifier", for when the user's `sub` changed at
//!    the provider).
//!
//! Emails are compared after trimming white space and lowercasing ASCII
//! letters only (`Alice@Example.COM` matches `alice@example.com`); other
//! characters must be equal. There is no Unicode case folding and no
//! pattern matching, so that two different addresses never compare equal.

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryAccountStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteAccountStore;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AccountError, clip};
use crate::identity::Identity;

/// When an email from a provider counts as verified, so that a first login
/// may be linked to a local account by it. Set per provider in the config
/// (`email_verification` in TOML, [`ConfigBuilder::email_verification`](crate::ConfigBuilder::email_verification)).
///
/// Linking by an email the provider did not verify would let anyone who can
/// put an admin's address on their own provider account take the admin's
/// local account; so the default trusts only `email_verified: true`.
///
/// `email_verified` and `xms_edov` speak of the `email` claim: they count
/// only when the email used for linking is that claim's value (the default
/// `email_claim`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EmailVerification {
    /// The ID token (or userinfo) says `email_verified: true`.
    #[default]
    EmailVerifiedClaim,
    /// Microsoft Entra ID: `email_verified: true`, or, when the token has no
    /// `email_verified` at all (Entra sends none for work accounts), the
    /// optional claim `xms_edov: true` ("email domain owner verified": the
    /// email's domain is verified in the user's tenant). Add `xms_edov` in
    /// the app registration's token configuration.
    EntraDomainOwner,
    /// Every email this provider sends is taken as verified.
    ///
    /// # Security
    ///
    /// A deliberate trust decision: choose it only for a provider where
    /// users cannot set their own email address (a directory whose emails
    /// only its admins write, such as a PrivX or Active Directory the same
    /// organisation runs). With a provider that lets users type an address,
    /// anyone can claim an admin's email and take over the admin's account
    /// on the first login.
    TrustProvider,
}

impl EmailVerification {
    /// The name used in the TOML form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerifiedClaim => "email_verified_claim",
            Self::EntraDomainOwner => "entra_domain_owner",
            Self::TrustProvider => "trust_provider",
        }
    }

    /// Whether this policy takes the identity's email as verified.
    pub fn verifies(self, identity: &Identity) -> bool {
        let Some(email) = identity.email.as_deref() else {
            return false;
        };
        // The verification claims are about the `email` claim only.
        let is_email_claim = identity.claims.get("email").and_then(Value::as_str) == Some(email);
        match self {
            Self::EmailVerifiedClaim => is_email_claim && identity.email_verified,
            Self::EntraDomainOwner => {
                is_email_claim
                    && match identity.claims.get("email_verified") {
                        Some(_) => identity.email_verified,
                        None => is_true(identity.claims.get("xms_edov")),
                    }
            }
            Self::TrustProvider => true,
        }
    }
}

/// `true`, or the string `"true"` (some providers send booleans as strings).
fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
        || matches!(value, Some(Value::String(s)) if s == "true")
}

/// A provider identity bound to an account: the issuer and its `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The user's subject identifier at that provider (`sub`).
    pub subject: String,
}

/// A local account, as an [`AccountStore`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// The store's id of the account.
    pub id: String,
    /// The account's email, as it was entered.
    pub email: String,
    /// The name shown for the account.
    pub display_name: String,
    /// The provider identity this account is bound to, once a login linked it.
    pub binding: Option<Binding>,
}

impl Account {
    /// An account, for [`AccountStore`] implementations.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        display_name: impl Into<String>,
        binding: Option<Binding>,
    ) -> Self {
        Self {
            id: id.into(),
            email: email.into(),
            display_name: display_name.into(),
            binding,
        }
    }

    /// Whether the account is bound to exactly this issuer and subject.
    pub fn is_bound_to(&self, issuer: &str, subject: &str) -> bool {
        self.binding
            .as_ref()
            .is_some_and(|b| b.issuer == issuer && b.subject == subject)
    }
}

/// The future an [`AccountStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AccountError>> + Send + 'a>>;

/// Where accounts and their bindings live: [`MemoryAccountStore`],
/// `SqliteAccountStore` (feature `sqlite`), or the app's own user table.
///
/// Used as `Arc<dyn AccountStore>`; implement the methods with
/// `Box::pin(async move { ... })`. Emails given to
/// [`find_by_email`](Self::find_by_email) are already normalized by
/// [`normalize_email`]; keep them normalized in the store too, and unique.
pub trait AccountStore: Send + Sync + fmt::Debug + 'static {
    /// The account bound to this issuer and subject, if any.
    fn find_by_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Option<Account>>;

    /// The account whose normalized email is `email` (exact comparison).
    fn find_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>>;

    /// Binds the account to `(issuer, subject)`, atomically and only while
    /// it has no binding; returns the account as now stored.
    ///
    /// Must answer, without changing anything:
    /// - the account unchanged when it is already bound to exactly this
    ///   issuer and subject (two logins of the same user raced);
    /// - [`AccountError::BoundToAnotherSubject`] when it is bound to another;
    /// - [`AccountError::SubjectBoundElsewhere`] when another account holds
    ///   this issuer and subject;
    /// - [`AccountError::UnknownAccount`] when there is no such account.
    fn bind<'a>(
        &'a self,
        account_id: &'a str,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Account>;

    /// Clears the account's binding, so that its next login links it again
    /// by email (Axidian's "delete the Subject Identifier"). Returns the
    /// binding that was removed, if there was one, for the audit log;
    /// [`AccountError::UnknownAccount`] when there is no such account.
    fn reset_binding<'a>(&'a self, account_id: &'a str) -> StoreFuture<'a, Option<Binding>>;
}

/// Normalizes an email for comparison: ASCII letters lowercased, nothing
/// else changed. `None` when it is empty or holds white space or control
/// characters anywhere, ends included: such a value is refused, never
/// trimmed, so that a provider's `alice@corp.example\u{a0}` cannot link to
/// the account of `alice@corp.example`. Trim an admin's typed input before
/// storing it, if that is wanted.
///
/// ```
/// use oidc_login::normalize_email;
///
/// assert_eq!(normalize_email("Alice@Example.COM").as_deref(), Some("alice@example.com"));
/// // Only ASCII is folded: these stay different addresses.
/// assert_ne!(normalize_email("ÅSA@example.com"), normalize_email("åsa@example.com"));
/// assert_eq!(normalize_email("   "), None);
/// assert_eq!(normalize_email("alice@example.com\u{a0}"), None);
/// assert_eq!(normalize_email(" alice@example.com"), None);
/// ```
pub fn normalize_email(email: &str) -> Option<String> {
    let usable = !email.is_empty() && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    usable.then(|| email.to_ascii_lowercase())
}

/// Checks an email before an account is created with it: not empty, one
/// `@` with text on both sides, no white space or control characters.
pub(crate) fn checked_email(email: &str) -> Result<String, AccountError> {
    let invalid = |reason: &'static str| AccountError::InvalidEmail {
        email: clip(email, 128),
        reason,
    };
    // The admin's typed value is trimmed; a provider's never is.
    let typed = email.trim();
    if typed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let normalized = normalize_email(typed)
        .ok_or_else(|| invalid("it holds white space or control characters"))?;
    match normalized.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(normalized)
        }
        _ => Err(invalid("it is not of the form `name@domain`")),
    }
}

/// The linking step after a validated login: finds the local account of an
/// [`Identity`], binding it on the first login.
///
/// One linker per provider (its [`EmailVerification`] is the provider's);
/// several linkers may share one store.
///
/// ```no_run
/// use std::sync::Arc;
/// use oidc_login::{AccountLinker, Callback, Client, Config, MemoryAccountStore, Start};
///
/// # async fn run(client: Client, pending: oidc_login::PendingLogin, callback: Callback)
/// #     -> Result<(), oidc_login::Error> {
/// let store = Arc::new(MemoryAccountStore::new());
/// store.add_account("alice@example.com", "Alice")?;
/// let linker = AccountLinker::new(store.clone(), client.config().claims().email_verification);
///
/// let login = client.finish(pending, callback).await?;
/// let account = linker.link(&login.identity).await?;
/// println!("signed in as account {}", account.id);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccountLinker {
    store: Arc<dyn AccountStore>,
    verification: EmailVerification,
    /// The app accepted linking on a `sub` the provider remaps from a
    /// mutable attribute ([`accept_mutable_sub`](Self::accept_mutable_sub)).
    accepts_mutable_sub: bool,
}

impl AccountLinker {
    /// A linker over `store`, taking emails as verified per `verification`
    /// (usually `client.config().claims().email_verification`, [`Config::claims`](crate::Config::claims)).
    pub fn new(store: Arc<dyn AccountStore>, verification: EmailVerification) -> Self {
        Self {
            store,
            verification,
            accepts_mutable_sub: false,
        }
    }

    /// Accepts linking accounts by a `sub` that the provider remaps from a
    /// mutable attribute (PrivX's `oidc_attribute_mapping` `email=sub` or
    /// `principal=sub`, [`Config::mutable_subject`](crate::Config::mutable_subject)).
    /// Without it, [`LoginRoutes::accounts`](crate::axum::LoginRoutes::accounts)
    /// refuses such a config, and [`link`](Self::link) refuses such a login
    /// ([`AccountError::MutableSubject`]).
    ///
    /// # Security
    ///
    /// The binding is then only as stable as the attribute: when a user's
    /// email or principal name changes, the next login is refused as bound
    /// to no account (until an admin resets the binding), and when the
    /// provider gives a freed address to another person, that person signs
    /// in to the account bound to it. Accept it only where the provider's
    /// admins never reuse the attribute.
    pub fn accept_mutable_sub(mut self) -> Self {
        self.accepts_mutable_sub = true;
        self
    }

    /// Whether [`accept_mutable_sub`](Self::accept_mutable_sub) was called.
    pub fn accepts_mutable_sub(&self) -> bool {
        self.accepts_mutable_sub
    }

    /// Clears the account's binding (the admin's "delete the Subject
    /// Identifier", for a user whose `sub` changed at the provider): the
    /// account's next login links it again by verified email. The removed
    /// binding is logged as an audit line and returned;
    /// [`AccountError::UnknownAccount`] when there is no such account.
    ///
    /// Call it from an admin-only route of the app. With the axum
    /// integration, a session signed in to the account before the reset is
    /// ended at its next request (the link is checked on each one).
    ///
    /// ```no_run
    /// # async fn f(linker: oidc_login::AccountLinker) -> Result<(), oidc_login::AccountError> {
    /// if let Some(old) = linker.reset("42").await? {
    ///     println!("account 42 was bound to `{}` at {}", old.subject, old.issuer);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn reset(&self, account_id: &str) -> Result<Option<Binding>, AccountError> {
        let removed = self.store.reset_binding(account_id).await?;
        match &removed {
            Some(binding) => tracing::warn!(
                target: "oidc_login::accounts",
                account = %clip(account_id, 64),
                issuer = binding.issuer,
                subject = binding.subject,
                "account binding reset by an administrator: the next login links the account again by verified email"
            ),
            None => tracing::info!(
                target: "oidc_login::accounts",
                account = %clip(account_id, 64),
                "account binding reset by an administrator: the account was not bound"
            ),
        }
        Ok(removed)
    }

    /// The account a signed-in session is linked to, as the store has it
    /// now: `None` when the identity's `(iss, sub)` is no longer bound to
    /// the account `account_id` (reset, deleted, or bound to another).
    #[cfg(feature = "axum")]
    pub(crate) async fn still_linked(
        &self,
        identity: &Identity,
        account_id: &str,
    ) -> Result<Option<Account>, AccountError> {
        let found = self
            .store
            .find_by_subject(&identity.issuer, &identity.subject)
            .await?;
        Ok(found.filter(|account| account.id == account_id))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    /// The email verification policy.
    pub fn email_verification(&self) -> EmailVerification {
        self.verification
    }

    /// The local account of this login: the one bound to its issuer and
    /// `sub`, or, on the first login, the one with its verified email, which
    /// is then bound.
    ///
    /// A login whose `sub` the provider fills from a mutable attribute
    /// ([`Identity::mutable_subject`]) is refused with
    /// [`AccountError::MutableSubject`] unless the linker
    /// [accepts it](Self::accept_mutable_sub).
    pub async fn link(&self, identity: &Identity) -> Result<Account, AccountError> {
        let (issuer, subject) = (identity.issuer.as_str(), identity.subject.as_str());
        if let Some(attribute) = &identity.mutable_subject
            && !self.accepts_mutable_sub
        {
            tracing::warn!(
                target: "oidc_login::accounts",
                attribute = %clip(attribute, 64),
                "login refused: the provider fills `sub` from a mutable attribute, and the linker does not accept it"
            );
            return Err(AccountError::MutableSubject {
                attribute: clip(attribute, 64),
            });
        }
        if let Some(account) = self.store.find_by_subject(issuer, subject).await? {
            tracing::debug!(
                target: "oidc_login::accounts",
                account = %account.id,
                issuer,
                subject,
                "login of a linked account"
            );
            return Ok(account);
        }
        let email = identity
            .email
            .as_deref()
            .and_then(normalize_email)
            .ok_or(AccountError::NoEmail)?;
        if !self.verification.verifies(identity) {
            tracing::warn!(
                target: "oidc_login::accounts",
                issuer,
                subject,
                policy = self.verification.as_str(),
                "first login refused: the email is not verified"
            );
            return Err(AccountError::EmailNotVerified {
                policy: self.verification.as_str(),
            });
        }
        let account =
            self.store
                .find_by_email(&email)
                .await?
                .ok_or_else(|| AccountError::NoAccount {
                    email: clip(&email, 128),
                })?;
        match self.store.bind(&account.id, issuer, subject).await {
            Ok(account) => {
                tracing::info!(
                    target: "oidc_login::accounts",
                    account = %account.id,
                    issuer,
                    subject,
                    "first login: account linked by verified email"
                );
                Ok(account)
            }
            Err(err) => {
                if let AccountError::BoundToAnotherSubject { account_id } = &err {
                    tracing::warn!(
                        target: "oidc_login::accounts",
                        account = %account_id,
                        issuer,
                        subject,
                        "login refused: the account is bound to another provider identity; an admin must reset its binding"
                    );
                }
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(claims: Value) -> Identity {
        let claims = claims.as_object().unwrap().clone();
        let names = crate::identity::ClaimNames {
            username: "preferred_username",
            email: "email",
            groups: "groups",
            app_roles: "roles",
        };
        crate::identity::build("https://idp".into(), "sub-1".into(), claims, names)
    }

    #[test]
    fn emails_are_ascii_lowercased_only_and_never_trimmed() {
        assert_eq!(
            normalize_email("Bob@EXAMPLE.com").as_deref(),
            Some("bob@example.com")
        );
        // White space or a control character anywhere: no email (a
        // trimmed one would link to another address's account).
        for bad in [
            " Bob@EXAMPLE.com\n",
            "bob@example.com\u{a0}",
            "\u{2003}bob@example.com",
            "bob@example.com\u{0}",
            "bob@exa mple.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_email("").as_deref(), None);
        // The Kelvin sign is not folded to `k`.
        assert_ne!(
            normalize_email("\u{212A}im@example.com"),
            normalize_email("kim@example.com")
        );
        // No wildcard meaning.
        assert_ne!(
            normalize_email("%@example.com"),
            normalize_email("a@example.com")
        );
    }

    /// A provider's verified email with a trailing no-break space (or a
    /// control character) does not link to the account of the address
    /// without it: it is no email at all.
    #[tokio::test]
    async fn a_provider_email_with_white_space_links_nothing() {
        let store = Arc::new(crate::MemoryAccountStore::new());
        store.add_account("alice@corp.example", "Alice").unwrap();
        let linker = AccountLinker::new(store, EmailVerification::EmailVerifiedClaim);
        for email in [
            "alice@corp.example\u{a0}",
            "\u{2003}alice@corp.example",
            "alice@corp.example\n",
            "alice@corp.example\u{0}",
        ] {
            let id = identity(json!({"email": email, "email_verified": true}));
            let error = linker.link(&id).await.unwrap_err();
            assert!(
                matches!(error, AccountError::NoEmail),
                "{email:?}: {error:?}"
            );
        }
        let id = identity(json!({"email": "Alice@corp.example", "email_verified": true}));
        assert_eq!(linker.link(&id).await.unwrap().email, "alice@corp.example");
    }

    /// A login whose `sub` the provider fills from a mutable attribute is
    /// refused by a linker used directly (not only by `LoginRoutes`), unless
    /// it accepts that by name.
    #[tokio::test]
    async fn a_mutable_sub_is_refused_by_the_linker_itself() {
        let store = Arc::new(crate::MemoryAccountStore::new());
        store.add_account("alice@corp.example", "Alice").unwrap();
        let mut id = identity(json!({"email": "alice@corp.example", "email_verified": true}));
        id.mutable_subject = Some("email".into());
        let linker = AccountLinker::new(store.clone(), EmailVerification::EmailVerifiedClaim);
        let error = linker.link(&id).await.unwrap_err();
        assert!(
            matches!(&error, AccountError::MutableSubject { attribute } if attribute == "email"),
            "{error:?}"
        );
        // Nothing was bound by the refused login.
        assert!(
            store
                .find_by_subject("https://idp", "sub-1")
                .await
                .unwrap()
                .is_none()
        );
        let accepting = linker.accept_mutable_sub();
        assert_eq!(
            accepting.link(&id).await.unwrap().email,
            "alice@corp.example"
        );
    }

    #[test]
    fn account_emails_are_checked() {
        assert_eq!(checked_email(" A@B.c ").unwrap(), "a@b.c");
        for bad in [
            "",
            "  ",
            "no-at",
            "@b.c",
            "a@",
            "a b@c.d",
            "a@b@c",
            "a\u{7}@b.c",
        ] {
            assert!(checked_email(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn email_verified_claim_policy() {
        let p = EmailVerification::EmailVerifiedClaim;
        assert!(p.verifies(&identity(json!({"email": "a@x", "email_verified": true}))));
        assert!(p.verifies(&identity(json!({"email": "a@x", "email_verified": "true"}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x", "email_verified": false}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x"}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x", "xms_edov": true}))));
        assert!(!p.verifies(&identity(json!({"email_verified": true}))));
    }

    #[test]
    fn verification_claims_count_only_for_the_email_claim() {
        // The email used comes from another claim: `email_verified` is about
        // a different value and proves nothing about it.
        let claims = json!({"upn": "admin@x", "email": "me@y", "email_verified": true})
            .as_object()
            .unwrap()
            .clone();
        let names = crate::identity::ClaimNames {
            username: "preferred_username",
            email: "upn",
            groups: "groups",
            app_roles: "roles",
        };
        let id = crate::identity::build("i".into(), "s".into(), claims, names);
        assert_eq!(id.email.as_deref(), Some("admin@x"));
        assert!(!EmailVerification::EmailVerifiedClaim.verifies(&id));
        assert!(!EmailVerification::EntraDomainOwner.verifies(&id));
        assert!(EmailVerification::TrustProvider.verifies(&id));
    }

    #[test]
    fn entra_domain_owner_policy() {
        let p = EmailVerification::EntraDomainOwner;
        assert!(p.verifies(&identity(json!({"email": "a@x", "xms_edov": true}))));
        assert!(p.verifies(&identity(json!({"email": "a@x", "email_verified": true}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x", "xms_edov": false}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x", "xms_edov": 1}))));
        assert!(!p.verifies(&identity(json!({"email": "a@x"}))));
        // An explicit `email_verified: false` is not overridden.
        assert!(!p.verifies(&identity(
            json!({"email": "a@x", "email_verified": false, "xms_edov": true})
        )));
    }

    #[test]
    fn trust_provider_needs_only_an_email() {
        let p = EmailVerification::TrustProvider;
        assert!(p.verifies(&identity(json!({"email": "a@x", "email_verified": false}))));
        assert!(!p.verifies(&identity(json!({}))));
    }

    #[test]
    fn policy_names_round_trip() {
        for p in [
            EmailVerification::EmailVerifiedClaim,
            EmailVerification::EntraDomainOwner,
            EmailVerification::TrustProvider,
        ] {
            let parsed: EmailVerification = serde_json::from_value(json!(p.as_str())).unwrap();
            assert_eq!(parsed, p);
        }
    }
}
