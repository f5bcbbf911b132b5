//! Account linking inside `LoginRoutes` (Axidian's console): the callback
//! links the login to a local account, the extractors give the handler that
//! account, each refusal has its own page, code and log line, an admin's
//! reset (from an app route) lets a user whose `sub` changed sign in again
//! and ends the old session, and racing first logins bind once. Each
//! scenario runs on the memory store and, with feature `sqlite`, on SQLite.

use crate::common;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use common::accounts::{ALICE_EMAIL, provider};
use common::app::ReadWrite;
use common::logs::Logs;
use common::{CLIENT_ID, CLIENT_SECRET, client_with, config_builder, devs_are};
use oidc_login::axum::{LoginRoutes, RequireRole, SignedIn, session_layer};
use oidc_login::testing::{TestClient, TestClientAuth, TestProvider, TestUser};
use oidc_login::{
    Account, AccountLinker, AccountStore, Client, Config, ConfigError, MemoryAccountStore,
};
use tower_sessions::MemoryStore;

/// The app's side of a store: creating and reading accounts.
#[allow(async_fn_in_trait)]
trait Accounts: Clone {
    fn store(&self) -> Arc<dyn AccountStore>;
    async fn add(&self, email: &str, name: &str) -> Account;
    async fn get(&self, id: &str) -> Account;
}

#[derive(Clone)]
struct Memory(Arc<MemoryAccountStore>);

impl Accounts for Memory {
    fn store(&self) -> Arc<dyn AccountStore> {
        self.0.clone()
    }
    async fn add(&self, email: &str, name: &str) -> Account {
        self.0.add_account(email, name).unwrap()
    }
    async fn get(&self, id: &str) -> Account {
        self.0.account(id).unwrap()
    }
}

fn memory() -> Memory {
    Memory(Arc::new(MemoryAccountStore::new()))
}

#[cfg(feature = "sqlite")]
#[derive(Clone)]
struct Sqlite(
    Arc<oidc_login::SqliteAccountStore>,
    // Kept so the directory lives as long as the store.
    #[allow(dead_code)] Arc<tempfile::TempDir>,
);

#[cfg(feature = "sqlite")]
impl Accounts for Sqlite {
    fn store(&self) -> Arc<dyn AccountStore> {
        self.0.clone()
    }
    async fn add(&self, email: &str, name: &str) -> Account {
        self.0.add_account(email, name).await.unwrap()
    }
    async fn get(&self, id: &str) -> Account {
        self.0.account(id).await.unwrap().unwrap()
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let store = oidc_login::SqliteAccountStore::open(dir.path().join("accounts.sqlite3"))
        .await
        .unwrap();
    Sqlite(Arc::new(store), Arc::new(dir))
}

/// The app: `/me` answers `<sub> <account id>` (the account from the
/// extractor), `/admin/me` the same for `Read-write` users, and `POST
/// /admin/accounts/{id}/reset` is the admin's reset, calling the linker the
/// routes were given.
struct LinkedApp {
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LinkedApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LinkedApp {
    async fn start(provider: &TestProvider, store: Arc<dyn AccountStore>) -> LinkedApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = client_with(
            config_builder(provider)
                .redirect_uri(format!("{base}/callback"))
                .add_role_mapping(devs_are("Read-write")),
        )
        .await;
        let linker = AccountLinker::new(store, client.config().claims().email_verification);
        let routes = LoginRoutes::new(client.clone()).accounts(linker).unwrap();
        let linker = routes.account_linker().unwrap().clone();
        let pages = Router::new()
            .route("/me", get(me))
            .route(
                "/admin/me",
                get(|user: RequireRole<ReadWrite>| async move {
                    format!("{} {}", user.identity.subject, account_id(user.account))
                }),
            )
            .route("/admin/accounts/{id}/reset", post(reset))
            .with_state(linker);
        let app = routes
            .mount(pages)
            .layer(routes.layer())
            .layer(session_layer(MemoryStore::default(), &client));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        LinkedApp { base, server }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new browser signs in as `username`, landing on `/me`.
    async fn sign_in(&self, username: &str) -> (reqwest::Client, reqwest::Response) {
        let (browser, _) = common::browser_with_jar();
        let landed = common::sign_in_at(&browser, &self.url("/login"), username, "/me").await;
        (browser, landed)
    }
}

fn account_id(account: Option<Account>) -> String {
    account.map_or_else(|| "-".to_owned(), |a| a.id)
}

async fn me(user: SignedIn) -> String {
    format!("{} {}", user.identity.subject, account_id(user.account))
}

/// The admin's reset: only for `Read-write` users.
async fn reset(
    _admin: RequireRole<ReadWrite>,
    State(linker): State<AccountLinker>,
    Path(id): Path<String>,
) -> String {
    match linker.reset(&id).await {
        Ok(Some(old)) => format!("reset {}", old.subject),
        Ok(None) => "not bound".to_owned(),
        Err(error) => format!("error {}", error.code()),
    }
}

async fn first_login_links_and_the_handler_gets_the_account(accounts: impl Accounts) {
    let provider = provider().await;
    let alice = accounts.add("Alice@Example.com", "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;

    let (browser, landed) = app.sign_in("alice").await;
    assert_eq!(landed.status(), 200);
    assert_eq!(
        landed.text().await.unwrap(),
        format!("alice-sub-0001 {}", alice.id)
    );
    let bound = accounts.get(&alice.id).await.binding.unwrap();
    assert_eq!(bound.subject, "alice-sub-0001");
    assert_eq!(bound.issuer, provider.issuer());
    // RequireRole carries it too.
    let admin = browser.get(app.url("/admin/me")).send().await.unwrap();
    assert_eq!(
        admin.text().await.unwrap(),
        format!("alice-sub-0001 {}", alice.id)
    );
    // A later login, in another browser, finds the account by its binding.
    let (_, again) = app.sign_in("alice").await;
    assert_eq!(
        again.text().await.unwrap(),
        format!("alice-sub-0001 {}", alice.id)
    );
}

#[tokio::test]
async fn first_login_links_and_the_handler_gets_the_account_memory() {
    first_login_links_and_the_handler_gets_the_account(memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn first_login_links_and_the_handler_gets_the_account_sqlite() {
    first_login_links_and_the_handler_gets_the_account(sqlite().await).await;
}

/// The refusal page of `landed`: its status, and whether it shows `code`.
async fn refused_with(landed: reqwest::Response, code: &str) -> String {
    assert_eq!(landed.status(), 403, "{}", landed.url());
    let page = landed.text().await.unwrap();
    assert!(page.contains(code), "the page shows `{code}`: {page}");
    page
}

#[tokio::test]
async fn a_login_with_no_matching_account_is_refused_with_its_page_code_and_log() {
    let logs = Logs::capture();
    let provider = provider().await;
    let accounts = memory();
    accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;

    let (browser, landed) = app.sign_in("bob").await;
    let page = refused_with(landed, "account_not_found").await;
    assert!(page.contains("no account with your email"), "{page}");
    // Not signed in.
    let me = browser.get(app.url("/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let lines = logs.lines_with("code=\"account_not_found\"");
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(
        lines[0].contains("no local account has the email `bob@example.com`"),
        "{}",
        lines[0]
    );
    // No token reaches the log.
    assert!(!logs.text().contains("eyJ"), "{}", logs.text());
}

#[tokio::test]
async fn hostile_an_unverified_email_of_an_existing_account_is_refused() {
    let logs = Logs::capture();
    let provider = provider().await;
    let accounts = memory();
    let alice = accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;

    // mallory's provider account carries alice's email, unverified.
    let (browser, landed) = app.sign_in("mallory").await;
    let page = refused_with(landed, "account_email_not_verified").await;
    assert!(page.contains("not verified your email"), "{page}");
    assert_eq!(
        browser.get(app.url("/me")).send().await.unwrap().status(),
        401
    );
    assert_eq!(accounts.get(&alice.id).await.binding, None, "nothing bound");
    assert_eq!(
        logs.lines_with("code=\"account_email_not_verified\"").len(),
        1,
        "{}",
        logs.text()
    );
    // alice herself still links.
    let (_, landed) = app.sign_in("alice").await;
    assert_eq!(
        landed.text().await.unwrap(),
        format!("alice-sub-0001 {}", alice.id)
    );
}

async fn a_changed_sub_signs_in_after_the_admin_reset_and_not_before(accounts: impl Accounts) {
    let logs = Logs::capture();
    let provider = provider().await;
    let alice = accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;
    let (admin, landed) = app.sign_in("alice").await;
    assert_eq!(
        landed.text().await.unwrap(),
        format!("alice-sub-0001 {}", alice.id)
    );

    // Her provider account was re-created: same verified email, new `sub`.
    let (_, landed) = app.sign_in("alice-again").await;
    let page = refused_with(landed, "account_bound_elsewhere").await;
    assert!(page.contains("reset the link"), "{page}");
    assert_eq!(
        logs.lines_with("code=\"account_bound_elsewhere\"").len(),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        accounts.get(&alice.id).await.binding.unwrap().subject,
        "alice-sub-0001",
        "the refusal changed nothing"
    );

    // The admin resets the binding from the app's admin route.
    let reset = admin
        .post(app.url(&format!("/admin/accounts/{}/reset", alice.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.text().await.unwrap(), "reset alice-sub-0001");
    assert_eq!(accounts.get(&alice.id).await.binding, None);
    assert_eq!(
        logs.lines_with("account binding reset by an administrator")
            .len(),
        1,
        "{}",
        logs.text()
    );
    // The session of the old `sub` ends at its next request.
    let old = admin.get(app.url("/me")).send().await.unwrap();
    assert_eq!(old.status(), 401);
    assert_eq!(
        logs.lines_with("session ended: its account is no longer bound")
            .len(),
        1,
        "{}",
        logs.text()
    );

    // Now the new `sub` links the account.
    let (browser, landed) = app.sign_in("alice-again").await;
    assert_eq!(landed.status(), 200);
    assert_eq!(
        landed.text().await.unwrap(),
        format!("alice-sub-recreated {}", alice.id)
    );
    assert_eq!(
        accounts.get(&alice.id).await.binding.unwrap().subject,
        "alice-sub-recreated"
    );
    // And the old one is refused in turn.
    let (_, landed) = app.sign_in("alice").await;
    refused_with(landed, "account_bound_elsewhere").await;
    let me = browser.get(app.url("/me")).send().await.unwrap();
    assert_eq!(
        me.text().await.unwrap(),
        format!("alice-sub-recreated {}", alice.id)
    );
}

#[tokio::test]
async fn a_changed_sub_signs_in_after_the_admin_reset_and_not_before_memory() {
    a_changed_sub_signs_in_after_the_admin_reset_and_not_before(memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_changed_sub_signs_in_after_the_admin_reset_and_not_before_sqlite() {
    a_changed_sub_signs_in_after_the_admin_reset_and_not_before(sqlite().await).await;
}

#[tokio::test]
async fn the_reset_route_is_for_admins_only() {
    let provider = provider().await;
    let accounts = memory();
    let alice = accounts.add(ALICE_EMAIL, "Alice Admin").await;
    accounts.add("bob@example.com", "Bob").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;
    app.sign_in("alice").await;
    let (bob, landed) = app.sign_in("bob").await;
    assert_eq!(landed.status(), 200);
    let reset = bob
        .post(app.url(&format!("/admin/accounts/{}/reset", alice.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 403);
    assert!(accounts.get(&alice.id).await.binding.is_some());
}

/// Two first logins of one email with two `sub`s at once: one binds, the
/// other is refused; the store holds one binding, the winner's.
async fn racing_first_logins_bind_one_sub(accounts: impl Accounts) {
    let provider = provider().await;
    let alice = accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;
    let (a, b) = tokio::join!(app.sign_in("alice"), app.sign_in("alice-again"));
    let mut signed_in = Vec::new();
    for (_, landed) in [a, b] {
        match landed.status().as_u16() {
            200 => signed_in.push(landed.text().await.unwrap()),
            403 => {
                refused_with(landed, "account_bound_elsewhere").await;
            }
            other => panic!("answered {other}"),
        }
    }
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    let winner = signed_in[0].split(' ').next().unwrap().to_owned();
    assert_eq!(signed_in[0], format!("{winner} {}", alice.id));
    assert_eq!(
        accounts.get(&alice.id).await.binding.unwrap().subject,
        winner
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_logins_bind_one_sub_memory() {
    racing_first_logins_bind_one_sub(memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_logins_bind_one_sub_sqlite() {
    racing_first_logins_bind_one_sub(sqlite().await).await;
}

/// The same user's first login twice at once: both sign in to the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_first_login_racing_itself_signs_in_twice() {
    let provider = provider().await;
    let accounts = memory();
    let alice = accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;
    let (a, b) = tokio::join!(app.sign_in("alice"), app.sign_in("alice"));
    for (_, landed) in [a, b] {
        assert_eq!(
            landed.text().await.unwrap(),
            format!("alice-sub-0001 {}", alice.id)
        );
    }
}

// --- PrivX: `sub` remapped from a mutable attribute -------------------------

const PRIVX_PATH: &str = "/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/";

/// A PrivX whose client maps the email attribute to `sub`: its tokens carry
/// the email as `sub`.
async fn privx_with_email_as_sub() -> TestProvider {
    TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .user(
            TestUser::new(ALICE_EMAIL, "alice")
                .email(ALICE_EMAIL)
                .email_verified(true),
        )
        .client(TestClient::confidential(
            CLIENT_ID,
            CLIENT_SECRET,
            TestClientAuth::Basic,
        ))
        .start()
        .await
}

fn privx_record(provider: &TestProvider, mapping: serde_json::Value) -> String {
    serde_json::json!({
        "idp_type": "oidc",
        "enabled": true,
        "oidc_issuer": provider.issuer(),
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes_enabled": ["profile", "email"],
        "oidc_auth_method_enabled": "client_secret_basic",
        "oidc_allowed_redirect_uris": [common::REDIRECT_URI],
        "oidc_attribute_mapping": mapping,
    })
    .to_string()
}

#[tokio::test]
async fn linking_on_a_mutable_sub_is_refused_unless_accepted_by_name() {
    let logs = Logs::capture();
    let provider = privx_with_email_as_sub().await;
    let config = Config::from_privx_client_json(&privx_record(
        &provider,
        serde_json::json!({"email": "sub"}),
    ))
    .unwrap()
    .build()
    .unwrap();
    assert_eq!(config.mutable_subject(), Some("email"));
    assert_eq!(
        logs.lines_with("mutable `sub`").len(),
        1,
        "one warning at build: {}",
        logs.text()
    );
    let client = Client::discover(config).await.unwrap();
    let store = Arc::new(MemoryAccountStore::new());
    store.add_account(ALICE_EMAIL, "Alice").unwrap();
    let linker = AccountLinker::new(store.clone(), client.config().claims().email_verification);

    let refused = LoginRoutes::new(client.clone())
        .accounts(linker.clone())
        .unwrap_err();
    match &refused {
        ConfigError::Invalid { field, reason } => {
            assert_eq!(*field, "oidc_attribute_mapping");
            assert!(reason.contains("`email`"), "{reason}");
            assert!(reason.contains("accept_mutable_sub"), "{reason}");
        }
        other => panic!("{other}"),
    }

    let routes = LoginRoutes::new(client.clone())
        .accounts(linker.accept_mutable_sub())
        .unwrap();
    assert!(routes.account_linker().unwrap().accepts_mutable_sub());
    assert_eq!(
        logs.lines_with("accepted by the app with `accept_mutable_sub`")
            .len(),
        1,
        "{}",
        logs.text()
    );
    // And the login links, keyed on the email-as-`sub`.
    let login = common::login_as(&client, "alice").await.unwrap();
    let account = routes
        .account_linker()
        .unwrap()
        .link(&login.identity)
        .await
        .unwrap();
    assert_eq!(account.binding.unwrap().subject, ALICE_EMAIL);
}

#[tokio::test]
async fn a_stable_sub_needs_no_acceptance() {
    let provider = privx_with_email_as_sub().await;
    for mapping in [
        serde_json::json!({"email": "email"}),
        serde_json::json!({}),
        serde_json::Value::Null,
    ] {
        let config = Config::from_privx_client_json(&privx_record(&provider, mapping.clone()))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(config.mutable_subject(), None, "{mapping}");
        let client = Client::discover(config).await.unwrap();
        let linker = AccountLinker::new(
            Arc::new(MemoryAccountStore::new()),
            client.config().claims().email_verification,
        );
        let routes = LoginRoutes::new(client).accounts(linker).unwrap();
        assert!(routes.account_linker().is_some());
    }
}

/// PrivX's whole client record, as its admin sets it: several allowed
/// redirect URIs (the app picks its own), a default logout redirect URI,
/// the email mapped to `sub` (accepted by name for linking). The app signs
/// in through `LoginRoutes` with account linking, and signs out at PrivX,
/// which sends the browser back to the logout redirect URI.
#[tokio::test]
async fn privx_whole_record_signs_in_links_and_signs_out_end_to_end() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (callback, logged_out) = (
        format!("{base}/auth/callback"),
        format!("{base}/auth/logged-out"),
    );
    let provider = TestProvider::builder()
        .issuer_path(PRIVX_PATH)
        .user(
            TestUser::new(ALICE_EMAIL, "alice")
                .email(ALICE_EMAIL)
                .email_verified(true),
        )
        .client(
            TestClient::confidential(CLIENT_ID, CLIENT_SECRET, TestClientAuth::Basic)
                .redirect_uri(callback.clone())
                .post_logout_redirect_uri(logged_out.clone()),
        )
        .start()
        .await;
    let record = serde_json::json!({
        "idp_type": "oidc",
        "enabled": true,
        "oidc_issuer": provider.issuer(),
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes_enabled": ["profile", "email"],
        "oidc_auth_method_enabled": "client_secret_basic",
        "oidc_grant_type_refresh_token": false,
        "oidc_allowed_redirect_uris": ["https://other-app.example/callback", callback],
        "oidc_default_logout_redirect_uri": logged_out,
        "oidc_attribute_mapping": {"email": "sub"},
    })
    .to_string();
    // Not one of them: refused, naming both.
    let err = Config::from_privx_client_json(&record)
        .unwrap()
        .redirect_uri(format!("{base}/callback"))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("oidc_allowed_redirect_uris"),
        "{err}"
    );
    let config = Config::from_privx_client_json(&record)
        .unwrap()
        .redirect_uri(callback.as_str())
        .build()
        .unwrap();
    assert_eq!(config.post_logout_redirect_uris()[0].as_str(), logged_out);
    let client = Client::discover(config).await.unwrap();
    let store = Arc::new(MemoryAccountStore::new());
    let alice = store.add_account(ALICE_EMAIL, "Alice").unwrap();
    let linker = AccountLinker::new(store.clone(), client.config().claims().email_verification)
        .accept_mutable_sub();
    let routes = LoginRoutes::new(client.clone())
        .prefix("/auth")
        .provider_logout()
        .accounts(linker)
        .unwrap();
    let app = routes
        .mount(Router::new().route("/me", get(me)))
        .layer(routes.layer())
        .layer(session_layer(MemoryStore::default(), &client));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (browser, _) = common::browser_with_jar();
    let landed = common::sign_in_at(&browser, &format!("{base}/auth/login"), "alice", "/me").await;
    assert_eq!(
        landed.text().await.unwrap(),
        format!("{ALICE_EMAIL} {}", alice.id)
    );
    let out = browser
        .post(format!("{base}/auth/logout"))
        .send()
        .await
        .unwrap();
    // Back from PrivX's end_session through the logout redirect URI.
    assert_eq!(out.url().path(), "/", "{}", out.url());
    assert_eq!(provider.logout_requests(), 1, "signed out at the provider");
    let me = browser.get(format!("{base}/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    server.abort();
}

/// A session signed in while linking was off (on another instance sharing
/// the session store) is ended by an instance that links: it holds no
/// account.
#[tokio::test]
async fn a_session_from_before_linking_was_on_is_ended() {
    let logs = Logs::capture();
    let provider = Arc::new(provider().await);
    let sessions = MemoryStore::default();
    let accounts = memory();
    accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let plain = common::app::App::start_on(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        provider.clone(),
        sessions.clone(),
        |b| b,
        |client, _| LoginRoutes::new(client),
    )
    .await;
    let store = accounts.store();
    let linking = common::app::App::start_on(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        provider.clone(),
        sessions,
        |b| b,
        move |client, _| {
            let linker = AccountLinker::new(store, client.config().claims().email_verification);
            LoginRoutes::new(client).accounts(linker).unwrap()
        },
    )
    .await;
    let (browser, _) = common::browser_with_jar();
    let landed = common::sign_in_at(&browser, &plain.url("/login"), "alice", "/private").await;
    assert_eq!(landed.text().await.unwrap(), "alice-sub-0001");
    // The same cookie (cookies do not tell ports apart) at the linking one.
    let there = browser.get(linking.url("/private")).send().await.unwrap();
    assert_eq!(there.status(), 401);
    assert_eq!(
        logs.lines_with("signed in before account linking was switched on")
            .len(),
        1,
        "{}",
        logs.text()
    );
    // Ended for good: the session was flushed.
    let back = browser.get(plain.url("/private")).send().await.unwrap();
    assert_eq!(back.status(), 401);
}

/// A provider that puts a line break and a fake log line into a verified
/// email: refused as no email, and nothing of it forges a log line.
#[tokio::test]
async fn hostile_an_email_with_a_line_break_cannot_forge_a_log_line() {
    let logs = Logs::capture();
    let provider = TestProvider::builder()
        .user(
            TestUser::new("eve-sub-0005", "eve")
                .email("eve@example.com\nINFO forged: account linked")
                .email_verified(true),
        )
        .start()
        .await;
    let accounts = memory();
    accounts.add(ALICE_EMAIL, "Alice Admin").await;
    let app = LinkedApp::start(&provider, accounts.store()).await;
    let (_, landed) = app.sign_in("eve").await;
    // An email with a control character is no email: refused before any
    // look-up, so it never reaches a log line at all.
    refused_with(landed, "account_no_email").await;
    let text = logs.text();
    assert!(
        !text.lines().any(|line| line.starts_with("INFO forged")),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("info forged"), "{text}");
}
