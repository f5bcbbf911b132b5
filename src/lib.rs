//! "Sign in with Entra ID" (or any OpenID Connect provider) for Rust web apps.
//!
//! `oidc-login` is the relying-party side of OpenID Connect: it runs the
//! Authorization Code + PKCE login, validates the ID token in full, and turns
//! the user's group claims into the app's own roles.
//!
//! # Contents
//! - [Quick start](#quick-start)
//! - [The login, step by step](#the-login-step-by-step)
//! - [Features](#features)
//! - [Client authentication](#client-authentication)
//! - [Security](#security)
//! - [Microsoft Entra ID](#microsoft-entra-id)
//! - [Account linking](#account-linking)
//! - [Flows](#flows)
//! - [PrivX](#privx)
//! - [After sign-in: refresh, sign-out, break-glass](#after-sign-in-refresh-sign-out-break-glass)
//! - [APIs: the provider's access tokens](#apis-the-providers-access-tokens)
//! - [Step-up](#step-up)
//! - [Observability](#observability)
//! - [Several providers](#several-providers)
//! - [Testing your app](#testing-your-app)
//! - [Where things live](#where-things-live)
//!
//! # Quick start
//!
//! ```no_run
//! use oidc_login::{Callback, Client, ClientAuth, Config, RoleMapping, Source, Start};
//!
//! # async fn run() -> Result<(), oidc_login::Error> {
//! let config = Config::builder(
//!         "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration",
//!         "<application (client) id>",
//!     )
//!     .client_auth(ClientAuth::secret_basic("<client secret>"))
//!     .redirect_uri("https://app.example.com/auth/callback")
//!     .scopes(["openid", "email", "profile", "offline_access"])
//!     .required_claim("tid", "<tenant id>")
//!     .add_role_mapping(RoleMapping::new(
//!         "Maximus Conferencing Developers",
//!         Source::OpenIdConnect,
//!         "d48429bd-9f2a-47a2-a410-993f2a37876b",
//!         ["Read-write"],
//!     ))
//!     .build()?;
//! let client = Client::discover(config).await?;
//!
//! // "Sign in" clicked: keep `pending` (in the session), redirect the browser to `url`.
//! let (url, pending) = client.start(Start::default().return_to("/admin"))?;
//!
//! // The provider sends the browser back with a query string (or a form post):
//! let callback = Callback::from_query("code=...&state=...&iss=...")?;
//! let login = client.finish(pending, callback).await?;
//! let who = &login.identity;
//! println!("{:?} ({}) has roles {:?}", who.username, who.subject, who.roles);
//! # Ok(()) }
//! ```
//!
//! The same settings load from TOML or JSON with [`Config::from_file`]; the
//! field names are those of the builder (`metadata_url` or
//! `entra = { tenant = ".." }`; with Entra's metadata URL also
//! `allowed_tenants`, `allow_any_tenant`, `home_tenant`, `graph_url`,
//! `groups_source`, `graph_query`), `client_id`,
//! `client_secret` or `client_secret_env`, `auth_method`, `redirect_uri`,
//! `scopes`, `username_claim`, `email_claim`, `groups_claim`,
//! `app_roles_claim`,
//! `required_claim = { key, value }`, `login_button_text`, `prompt`,
//! `clock_skew_seconds`, `allowed_algorithms`, `pending_login_lifetime_seconds`,
//! `trusted_audiences`, `userinfo`, `jwks_refetch_cooldown_seconds`,
//! `jwks_max_age_seconds`, `http_timeout_seconds`, `discovery_retry_seconds`,
//! `no_role_policy`, `flow`, `allow_implicit_flow`,
//! `email_verification`, `post_logout_redirect_uris`, a `[break_glass]`
//! table (`username`, `password_hash` or `password_hash_env`), and
//! `[[role_mapping]]` rows; for `private_key_jwt`:
//! `private_key_pem_file` or `private_key_env`, `private_key_kid`,
//! `private_key_certificate_pem_file`, `private_key_algorithm`). Unknown
//! fields are refused, so a typo never silently drops a check, and a parse
//! error names the field, line and column ("did you mean `client_secret`?")
//! without quoting the text, which may hold a secret.
//!
//! A built config is read back through its getters and three groups:
//! [`Config::claims`] (the claim names, the required claim, the email
//! verification policy), [`Config::limits`] (clock skew, login lifetime,
//! HTTP timeout) and [`Config::key_set`] (accepted algorithms, key-set
//! refetch cooldown and maximum age).
//!
//! # The login, step by step
//!
//! 1. [`Client::discover`] fetches the provider's metadata and keys once and
//!    checks them: the issuer must be exactly the configured one, and every
//!    provider URL must be https (plain http only on loopback). A provider
//!    that cannot be reached yet (no connection, a timeout, HTTP 5xx or 429)
//!    is tried again with exponential backoff and jitter for
//!    `discovery_retry_seconds` (60 by default), each retry logged as a
//!    warning; a mistake (an issuer mismatch, a 404, bad metadata) fails at
//!    once.
//! 2. [`Client::start`] returns the provider URL and a [`PendingLogin`]
//!    holding a fresh `state`, `nonce` and PKCE verifier. Keep it on the
//!    server side (a session) or sealed (encrypted and authenticated, as
//!    axum's `LoginRoutes::pending_logins_in_cookie` does), never in a
//!    readable cookie.
//! 3. [`Client::finish`] takes the pending login by value and the
//!    [`Callback`]: it checks `state` (in constant time), the RFC 9207 `iss`,
//!    the pending login's age, then redeems the code with the PKCE verifier,
//!    validates the ID token, fetches userinfo when needed, checks the
//!    required claim and maps the roles into an [`Identity`].
//!
//! # Features
//!
//! | feature | enables | default |
//! | --- | --- | --- |
//! | `axum` | `axum`: login routes, extractors and `tower-sessions` glue for axum apps | no |
//! | `test-provider` | `testing::TestProvider`, an embedded OpenID provider for tests and demos | no |
//! | `sqlite` | `SqliteAccountStore`: account links in a SQLite file (SQLite compiled in) | no |
//! | `break-glass` | `BreakGlass`, the local sign-in for when the provider is down, and axum's `/local-login` (argon2); without it a config's `[break_glass]` is refused | no |
//!
//! # Client authentication
//!
//! How the app proves itself to the token endpoint ([`ClientAuth`],
//! `auth_method` in TOML):
//!
//! | method | sends | config |
//! | --- | --- | --- |
//! | `none` | `client_id` alone; PKCE protects the code | [`ClientAuth::None`] |
//! | `client_secret_basic` | the secret in `Authorization: Basic` | [`ClientAuth::secret_basic`], `client_secret` or `client_secret_env` |
//! | `client_secret_post` | the secret in the form body | [`ClientAuth::secret_post`] |
//! | `client_secret_jwt` | a JWT signed with HS256 keyed with the secret (32 bytes or more) | [`ClientAuth::secret_jwt`] |
//! | `private_key_jwt` | a JWT signed with the app's RSA, EC or Ed25519 key (PEM); the provider holds only the public key | [`ClientAuth::private_key_jwt`], [`PrivateKeyJwt`], `private_key_pem_file` or `private_key_env` |
//!
//! The two JWT methods (RFC 7523, OpenID Connect Core 9) make a new
//! assertion for every token request: `iss` and `sub` the client id, `aud`
//! the token endpoint URL (the very URL it is sent to), a random `jti`, `iat`,
//! and `exp` 60 seconds later; the header has `kid` and `x5t#S256` when
//! configured. A key that cannot be used (encrypted, RSA under 2048 bits, an
//! unsupported curve, a certificate for another key) fails at
//! [`ConfigBuilder::build`], naming the field. Private keys never appear in
//! `Debug`, errors or logs, and their PEM text is wiped once parsed.
//!
//! [`Client::check_credentials`] tells, without a user, whether the token
//! endpoint accepts them: it redeems a made-up code and reads the refusal
//! (`invalid_grant`: the client passed; `invalid_client`: it did not, and
//! which field to check). `cargo run --example discover -- --config FILE`
//! runs it.
//!
//! # Security
//!
//! Secure by default; nothing below can be switched off, except PKCE and
//! the code exchange, and those only by naming another [`Flow`].
//! - PKCE S256 on every login; `state` and `nonce` of 256 bits from the OS
//!   random source, single-use because [`PendingLogin`] is consumed.
//! - The ID token: compact JWS only; `alg: none` never accepted in any
//!   spelling; HMAC only when named in `allowed_algorithms` with a client
//!   secret; keys are found only in the provider's JWKS (never through
//!   `jku`, `x5u`, `jwk` or `x5c`) and must fit the algorithm; `iss` exact;
//!   `aud` must hold the client id and nothing untrusted; `azp` the client
//!   id, required when `aud` holds several audiences; `exp`, `iat`,
//!   `nbf` with a bounded clock skew (at most 300 s); `nonce`; `sub`;
//!   `at_hash`, `c_hash`; `auth_time` when `max_age` was sent; a step-up
//!   login's `acr` and Entra ID `acrs` ([`StepUp`]).
//! - Signatures are checked with `aws-lc-rs` on keys parsed once per key-set
//!   fetch. An unknown `kid` causes at most one refetch at a time; from a
//!   token that reached the app from outside (the browser, a logout POST),
//!   at most one per cooldown, while a token the provider's token endpoint
//!   just returned may always refetch, so key rotations never fail a login.
//!   A provider outage does not stop validation with the keys already held.
//! - HTTP: timeouts, no redirects, responses capped at 1 MiB. Only a JSON
//!   answer is read as the provider's: a 5xx, a 429, a body cut short or a
//!   page that is not JSON is an [`Error::Http`] naming the request and what
//!   to check, never a refusal of the code or refresh token, so a refresh
//!   that fails so can keep the session (the axum integration does).
//! - `return_to` is accepted only as a path on the app's own origin.
//! - Secrets (client secret, tokens, PKCE verifier, `state`, `nonce`) are
//!   newtypes whose `Debug` is redacted and that have no `Display`; no error
//!   or log line holds one.
//! - Every table the crate keeps in memory is bounded: the
//!   [`MemoryState`] (100,000 records; full, it refuses a record rather than
//!   evict one), the decoded signed-in users (1,000, and 1,000 just signed
//!   in), the refreshes in flight (10,000), the logins in flight per
//!   session or browser (5; in sealed cookies, at most 16 opened per
//!   request), the key set (one, of at most 1 MiB). The session store is
//!   the app's: see `axum::session_layer` for a bounded one, or keep
//!   logins in flight out of it (`axum::LoginRoutes::pending_logins_in_cookie`).
//!
//! ## Several instances
//!
//! What several app instances share, and what they do not:
//!
//! | what | where | shared between instances |
//! | --- | --- | --- |
//! | sessions, logins in flight, the signed-in user and its tokens | the app's `tower-sessions` store | when the store is (Redis, SQL) |
//! | logins in flight with `LoginRoutes::pending_logins_in_cookie` | the browser, in cookies sealed with the app's `PendingCookieKey` | when every instance has the same key (`PendingCookieKey::from_env`); with `PendingCookieKey::generate` a login finishes only on the instance that started it |
//! | the logins taken from those cookies (a replay refused) | the first provider's client's [`SharedState`] | when the state is |
//! | local sign-outs and back-channel logouts (records checked by every signed-in request) | the client's [`SharedState`] | when the state is |
//! | the `jti`s of accepted logout tokens (replays refused) | the client's [`SharedState`] | when the state is |
//! | break-glass failure counters (per client address and in all) | the client's [`SharedState`] in the axum routes, or [`BreakGlass::with_shared_state`] | when the state is |
//! | the provider's metadata and keys | each [`Client`] | no: each instance fetches its own |
//! | signed-in users decoded before, and those just signed in here (a cache of at most 1,000 each; a hit needs the very text the store holds now) | each instance (axum) | no, and need not be: the session store stays the only truth, every check still runs per request |
//! | refreshes in flight (one refresh per session at a time) | each instance | no: two instances may refresh one session at once (see `LoginRoutes::refresh_before_expiry`) |
//! | one break-glass password check at a time | each instance | no (it bounds memory, not guesses) |
//!
//! The default [`SharedState`], [`MemoryState`], is **this process only**:
//! with it, N instances accept a replayed logout token N times, allow their
//! own break-glass failures each, miss each other's sign-outs, and (logins
//! in sealed cookies) take a replayed login's cookie once each, leaving
//! only the provider's single-use code to refuse it. Give
//! every instance one shared state with [`Client::with_shared_state`]; the
//! axum integration's `SessionStoreState` keeps it in the app's session
//! store. The shared store must create a record atomically, never drop one
//! before it expires, and the instances' clocks must agree (see
//! [`SharedState`]).
//!
//! Errors say what to fix, and sort by who must act: [`Error::Config`],
//! [`Error::Discovery`], [`Error::Http`] and [`Error::Groups`] are for the
//! operator;
//! [`Error::Start`] and [`Error::Callback`] are bad browser requests (HTTP
//! 400); [`Error::Token`] is a login the provider's answer failed (401);
//! [`Error::Access`] is a valid login that policy refuses (403).
//!
//! # Microsoft Entra ID
//!
//! Entra ID is configured either way; both get every rule below.
//!
//! **Pexip's form**: Entra's "OpenID Connect metadata document" URL pasted
//! into a generic config, nothing in it saying "Entra":
//!
//! ```toml
//! metadata_url = "https://login.microsoftonline.com/<tenant id>/v2.0/.well-known/openid-configuration"
//! client_id = "<application (client) id>"
//! client_secret_env = "OIDC_LOGIN_ENTRA_SECRET"
//! redirect_uri = "https://pexip.example.com/auth/callback"
//! scopes = ["openid", "email", "profile", "GroupMember.Read.All", "offline_access"]
//! username_claim = "preferred_username"
//! groups_claim = "groups"
//! # multi-tenant (`organizations` / `common` metadata URL):
//! # allowed_tenants = ["<tenant id>"]     (or allow_any_tenant = true)
//! # graph_url = "https://graph.microsoft.us"   (national clouds, tests)
//! ```
//!
//! The crate recognises Entra ID from the discovery document itself, not
//! from how the config is spelled: its `issuer` has Entra's form
//! (`<metadata URL's origin>/<tenant id or {tenantid}>/v2.0`, or
//! `https://sts.windows.net/<tenant>/` for version 1.0) **and** it has
//! Entra's own members `cloud_instance_name` and `msgraph_host`. Neither
//! alone is enough. Recognition is logged once at discovery,
//! [`Client::entra`] returns it ([`EntraId`]), and `cargo run --example
//! discover` prints it. The top-level `allowed_tenants`, `allow_any_tenant`,
//! `home_tenant`, `graph_url` and `groups_source` mean what they mean in
//! the `entra` table; given for a provider that is not recognised, they are
//! a discovery error ([`DiscoveryError::EntraSetting`]). The Microsoft Graph
//! URL, which receives the user's access token, is never taken from the
//! document: it is `graph_url`, or Microsoft's Graph of the recognised cloud
//! (`https://graph.microsoft.com` for `microsoftonline.com`) when the
//! metadata came from that cloud's login host over https; a provider
//! elsewhere that copies Entra's members gets no Graph unless configured.
//! `examples/entra-pexip.toml` is this form, commented.
//!
//! **The `entra` table**: [`Config::entra`] (TOML: `entra = { tenant = "..." }` instead of
//! `metadata_url`) fills in the v2.0 metadata URL
//! `https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration`
//! and Entra's claims: username `preferred_username`, groups (object ids) in
//! `groups` (enable the groups claim in the app registration's token
//! configuration), app roles in `roles`. The tenant is a directory id, a
//! verified domain, or for a multi-tenant app `common` or `organizations`.
//!
//! ```
//! use oidc_login::{ClientAuth, Config, RoleMapping, Source, TenantPolicy};
//!
//! # fn main() -> Result<(), oidc_login::ConfigError> {
//! let config = Config::entra("organizations", "<application (client) id>")
//!     .entra_tenants(TenantPolicy::Only(vec![
//!         "3c1a0f6e-0000-4000-8000-000000000001".into(),
//!     ]))
//!     .client_auth(ClientAuth::secret_basic("<client secret>"))
//!     .redirect_uri("https://app.example.com/auth/callback")
//!     .scopes(["openid", "email", "profile", "GroupMember.Read.All"])
//!     .add_role_mapping(RoleMapping::new(
//!         "Developers",
//!         Source::OpenIdConnect,
//!         "d48429bd-9f2a-47a2-a410-993f2a37876b",
//!         ["Read-write"],
//!     ))
//!     .add_role_mapping(RoleMapping::new("Approvers", Source::AppRole, "Approver", ["Approve"]))
//!     .build()?;
//! # let _ = config;
//! # Ok(()) }
//! ```
//!
//! - **One tenant**: the issuer is `https://login.microsoftonline.com/<tenant id>/v2.0`,
//!   compared exactly like any other (a tenant given by domain is pinned to
//!   the tenant id its metadata names).
//! - **Several tenants**: the `common` and `organizations` metadata
//!   publish the issuer template `https://login.microsoftonline.com/{tenantid}/v2.0`.
//!   It is accepted only with a [`TenantPolicy`]
//!   ([`entra_tenants`](ConfigBuilder::entra_tenants); TOML
//!   `allowed_tenants = [..]` or `allow_any_tenant = true`): each ID token's
//!   `iss` must be the template with the token's own `tid` put in, and the
//!   `tid` must be allowed. Without a policy, such metadata is a discovery
//!   error. No setting turns the issuer check off. [`TenantPolicy::AnyTenant`]
//!   is a deliberate, logged choice. `consumers` is refused: personal
//!   accounts share one tenant id and have no groups. The client's
//!   [`issuer`](Client::issuer) and the pending login keep the template;
//!   [`Identity::issuer`] is the user's tenant issuer. Entra sends no RFC
//!   9207 `iss` in the callback; when one comes, it must name an allowed
//!   tenant, and then the token's issuer.
//! - **Version 1.0 tokens** (`ver` `1.0`, issuer `https://sts.windows.net/<tenant>/`)
//!   are refused with [`TokenError::EntraV1Token`], which says to use the
//!   v2.0 endpoints; also when a plain metadata URL is Entra's version 1.0
//!   one (`.../<tenant>/.well-known/openid-configuration`), whose issuer
//!   they match (discovery warns).
//! - **App roles**: rows with [`Source::AppRole`] (TOML `app_role`) match
//!   values of `roles` ([`Identity::app_roles`]); rows with
//!   [`Source::OpenIdConnect`] match group ids. A row may be either. A row
//!   may name the tenants whose sign-ins it applies to ([`TenantScope`],
//!   TOML `tenants = [..]` or `"any"`, matched against `tid`). App roles
//!   are assigned in each tenant by its own admins, so in a multi-tenant
//!   app an app-role row that names no tenant applies to the home tenant
//!   only ([`entra_home_tenant`](ConfigBuilder::entra_home_tenant), TOML
//!   `home_tenant`, required when several tenants may sign in; one allowed
//!   tenant is the home tenant): a partner's admin cannot grant your app's
//!   roles.
//! - **Groups overage**: a user in more groups than fit in a token (about
//!   200) gets no `groups` but `_claim_names`/`_claim_sources` (or
//!   `hasgroups`). The groups are then read from Microsoft Graph with the
//!   user's access token ([`GroupsSource::GraphOnOverage`], the default;
//!   [`GraphQuery`] picks `transitiveMemberOf`, paged, or `getMemberObjects`),
//!   which needs the delegated permission `GroupMember.Read.All` with admin
//!   consent and that scope in `scopes`. The endpoint named in
//!   `_claim_sources` is never called (it is the retired Azure AD Graph, and a
//!   token should not choose where the access token goes); only the
//!   configured [`graph_url`](ConfigBuilder::graph_url) is, and a page's
//!   `@odata.nextLink` is followed only when it stays under it, for at most
//!   50 pages. If Graph fails, the login is refused with
//!   [`Error::Groups`], which says the overage was detected and why Graph
//!   failed (a 403: the consent for `GroupMember.Read.All` is missing);
//!   a login is never signed in as having no groups. `groups_source =
//!   "graph"` reads Graph on every login; `"token"` refuses an overage
//!   instead. A provider not recognised as Entra ID never gets a token sent
//!   to Graph, and an overage marker from it is refused likewise, as in the
//!   implicit flow, which has no access token.
//!
//! `examples/entra-single-tenant.toml` and `examples/entra-multi-tenant.toml`
//! are commented configs for both setups in the `entra` table's form,
//! `examples/entra-pexip.toml` in Pexip's. The embedded provider plays Entra
//! ID with `TestProvider::builder().entra(EntraMode::new(tenant))`.
//!
//! # Account linking
//!
//! [`AccountLinker::link`] turns a validated [`Identity`] into the app's own
//! [`Account`], Axidian's way: a login whose issuer and `sub` are bound to
//! an account signs in to it, whatever its email now says; the first login
//! finds the account by email and binds it. Only a verified email links
//! ([`EmailVerification`]: `email_verified: true` by default, Entra's
//! `xms_edov`, or a provider trusted by name), because linking by an
//! unverified email would hand an admin's account to anyone who types the
//! admin's address at the provider. An account bound to another `sub` is
//! refused until an admin calls [`AccountLinker::reset`] (or
//! [`AccountStore::reset_binding`]). Emails compare trimmed and without
//! ASCII case, nothing more. Stores: [`MemoryAccountStore`],
//! `SqliteAccountStore` (feature `sqlite`), or your own [`AccountStore`].
//!
//! With axum, `LoginRoutes::accounts(linker)` links at the callback: the
//! session holds the account's id, `SignedIn::account` gives the account
//! (checked against the store on each request, so an admin's reset ends the
//! old session), and each refusal has its own page and code
//! (`account_not_found`, `account_bound_elsewhere`,
//! `account_email_not_verified`, `account_no_email`). A config file's
//! `[accounts]` table ([`AccountsSettings`]) lists the accounts and the
//! SQLite file to put them in (the demo uses it).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use oidc_login::{AccountLinker, Client, MemoryAccountStore};
//! # async fn run(client: Client, login: oidc_login::Login) -> Result<(), oidc_login::Error> {
//! let store = Arc::new(MemoryAccountStore::new());
//! store.add_account("alice@example.com", "Alice Admin")?;
//! let linker = AccountLinker::new(store.clone(), client.config().claims().email_verification);
//! let account = linker.link(&login.identity).await?; // after `client.finish`
//! # let _ = account; Ok(()) }
//! ```
//!
//! # Flows
//!
//! [`Flow::AuthorizationCodePkce`] is the default. [`Flow::AuthorizationCode`]
//! leaves PKCE out, for a provider that refuses it, and needs a client
//! secret (or private key): without either, `build` refuses it naming
//! `client_secret`. [`Flow::Implicit`]
//! (`response_type=id_token` by form post, no code exchange, no access
//! token) is discouraged and exists only when switched on by name:
//! [`ConfigBuilder::insecure_implicit_flow`], or `flow = "implicit"` with
//! `allow_implicit_flow = true`. Discovery logs a warning for either.
//!
//! # PrivX
//!
//! PrivX's issuer is `https://<host>/oidc/<client config id>/`, trailing `/`
//! included: give it as `metadata_url` exactly as PrivX shows it (or give
//! the `.well-known/openid-configuration` URL under it). A configured issuer
//! that differs by the `/` is refused with an error that says so.
//! [`Config::from_privx_client_json`] starts a config from PrivX's
//! `identity_provider_client` JSON (issuer, client id and secret, scopes,
//! authentication method, signature algorithm, extra audiences). PrivX's
//! extra audiences (`oidc_audience`) go in `trusted_audiences`; the token's
//! `azp` must then be the client id. `examples/privx-private-key-jwt.toml` is
//! a commented config with `private_key_jwt`.
//!
//! The record's members that change how the app must behave are kept:
//! `oidc_default_logout_redirect_uri` becomes a post-logout redirect URI;
//! `oidc_grant_type_refresh_token = false` with `offline_access` in the
//! scopes is a config error naming both; with several
//! `oidc_allowed_redirect_uris` the app picks its `redirect_uri`, which
//! `build` refuses when it is not one of them; and an
//! `oidc_attribute_mapping` that fills `sub` from `email` or `principal`
//! makes `sub` mutable ([`Config::mutable_subject`]): `build` logs a
//! warning, `discover --privx-client` notes it, and account linking keyed
//! on it is refused (by `LoginRoutes::accounts` at setup, and by
//! [`AccountLinker::link`] for each login, [`Identity::mutable_subject`])
//! unless the app accepts it by name ([`AccountLinker::accept_mutable_sub`]).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use oidc_login::{AccountLinker, Client, Config, MemoryAccountStore};
//! # async fn run(record_json: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_privx_client_json(record_json)?
//!     .redirect_uri("https://admin.example.com/auth/callback") // one of the allowed
//!     .build()?;
//! let client = Client::discover(config).await?;
//! let linker = AccountLinker::new(
//!     Arc::new(MemoryAccountStore::new()),
//!     client.config().claims().email_verification,
//! );
//! // PrivX maps `email=sub`: the app accepts it knowingly.
//! let linker = match client.config().mutable_subject() {
//!     Some(_) => linker.accept_mutable_sub(),
//!     None => linker,
//! };
//! # let _ = linker; Ok(()) }
//! ```
//!
//! # After sign-in: refresh, sign-out, break-glass
//!
//! - [`Client::refresh`] runs the refresh grant (scope `offline_access`)
//!   and decides the identity afresh. A returned ID token is validated in
//!   full, then must be about the same login (OpenID Connect Core 12.2):
//!   the same `iss`, `sub` and `aud`, `azp` and `auth_time` unchanged, `iat`
//!   fresh, and a `nonce` only the original one ([`RefreshError`]). The
//!   required claim, groups and roles are decided again, so a user removed
//!   from a group loses the role at the next refresh. Any error means the
//!   session must end.
//! - Getting a refresh token: `offline_access` in `scopes`, and what the
//!   provider needs besides. OpenID Connect Core 11 says a request for
//!   offline access uses `prompt=consent`, so the crate sends it with
//!   `offline_access` unless the config (`prompt`,
//!   [`ConfigBuilder::prompt`]) or the login ([`Start::prompt`], axum's
//!   `GET /login?prompt=`) sets a `prompt`, or the provider is Entra ID.
//!   Which provider needs what:
//!
//!   | provider | for a refresh token | rotates refresh tokens |
//!   | --- | --- | --- |
//!   | npm `oidc-provider` (and others that follow Core 11) | `offline_access` and `prompt=consent` (sent automatically) | yes |
//!   | Microsoft Entra ID | `offline_access`; no `prompt` (none is sent: its consent screen would show at every sign-in) | yes |
//!   | glewlwyd, LemonLDAP::NG | `offline_access` | no: each refresh that falls due still reaches the provider |
//!
//!   A provider that shows a consent screen for `prompt=consent` where you
//!   do not want one: set `prompt` (`"login"`, `"select_account"`), which
//!   replaces the automatic one. `prompt` takes the values of Core 3.1.2.1
//!   only (`none`, `login`, `consent`, `select_account`, several separated
//!   by a space, `none` alone); anything else is refused.
//! - [`Client::logout_url`] is the provider's `end_session_endpoint` URL
//!   (RP-Initiated Logout 1.0) with `id_token_hint`, `client_id`, and a
//!   `post_logout_redirect_uri` that must be one of the config's
//!   `post_logout_redirect_uris` (each on the redirect URI's origin), with
//!   a fresh `state` ([`ProviderLogout`]).
//! - [`Client::verify_logout_token`] validates a back-channel logout token
//!   (Back-Channel Logout 1.0): the signature as for ID tokens (the
//!   provider's algorithms, never `none`), `iss`, `aud`, `iat` (at most 10
//!   minutes old), `exp` when present, `jti` (a replay is refused, by every
//!   client sharing the [`SharedState`]), the
//!   `events` member holding the back-channel logout event as an object,
//!   no `nonce`, and `sid` or `sub` ([`LogoutTokenClaims`], [`LogoutError`]).
//! - [`BreakGlass`], off unless the config has `[break_glass]`: one local
//!   account whose password is checked against an argon2id hash (never a
//!   plain password; of at least OWASP's minimum cost and at most a ceiling,
//!   see [`BreakGlassSettings`]), for when the provider is down. Five failures
//!   from one client address in 15 minutes lock it for that address, twenty
//!   from all addresses for everyone, counted in a [`SharedState`]; it logs a
//!   warning when switched on and at each use;
//!   its [`Identity`] is marked [`break_glass`](Identity::break_glass) and
//!   gets its roles from [`Source::Local`] rows only.
//!
//! - [`Client::revoke`] revokes a login's tokens at the provider's
//!   `revocation_endpoint` (RFC 7009), refresh token first, with the
//!   configured client authentication; the axum `POST /logout` calls it for
//!   a session that holds tokens, logs a failure and signs out anyway.
//!
//! The axum integration wires each in: `LoginRoutes::refresh_before_expiry`,
//! `provider_logout`, `back_channel_logout` and `break_glass`, applied to
//! every route through `LoginRoutes::layer`; `LoginRoutes::user_access_token`
//! lets a handler take the signed-in user's access token
//! (`axum::UserAccessToken`), refreshed first, for calls to Microsoft Graph
//! or the app's own back-end.
//!
//! # APIs: the provider's access tokens
//!
//! [`Api`] checks bearer access tokens for the app's own API on the
//! client's key cache and signature fast path, so a token costs what an ID
//! token costs; a token from outside refetches keys at most once per
//! cooldown. [`AccessTokenProfile::Jwt`] is RFC 9068 (`typ` `at+jwt`,
//! `client_id`, `jti`, `scope`); [`AccessTokenProfile::EntraV2`] is Entra
//! ID's v2.0 access token (`aud` the application id or its Application ID
//! URI, `azp`, `scp` or `roles`, `ver` `2.0`, the tenant policy), chosen for
//! an Entra client of the `entra` table or whose metadata came from a
//! Microsoft login host (a look-alike elsewhere keeps RFC 9068). An ID token is never accepted as an access token (RFC
//! 8725 section 3.11): its `typ` differs, and Entra's has no `azp` or `scp`.
//! [`Api::authenticate`] also applies the config's required claim to a
//! user's token, as the sign-in does (a daemon's `client_credentials`
//! token, which has no user, is not gated; opt out with
//! [`Api::insecure_skip_required_claim`]), and maps the caller's groups and
//! `roles` through the client's role mapper ([`BearerPrincipal`]). Refusals are
//! [`Error::Bearer`] ([`BearerError`]). With `axum`, the extractors
//! `Bearer`, `BearerScope<S>` and `BearerRole<R>` answer RFC 6750
//! (`WWW-Authenticate: Bearer`, `invalid_token`, `insufficient_scope`).
//!
//! # Step-up
//!
//! [`StepUp`] asks for a recent or a stronger authentication: a maximum age
//! of `auth_time`, an `acr` among accepted values, Entra ID's Conditional
//! Access authentication context (the `acrs` claim). [`Start::step_up`]
//! sends it (`max_age`, `acr_values`, `prompt=login`, and for Entra the
//! `claims` parameter `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`),
//! the [`PendingLogin`] remembers it, and [`Client::finish`] refuses an ID
//! token that does not meet it ([`TokenError::AuthenticationTooOld`],
//! [`TokenError::AcrNotAccepted`], [`TokenError::AuthContextMissing`]; code
//! `step_up_not_met`). With axum, `RequireStepUp<P>` asks for it on a
//! route: a browser navigation goes through a new login and back to the
//! same page, any other request gets 401 with an RFC 9470 challenge, and a
//! requirement still unmet right after a step-up login is a 403, never
//! another redirect.
//!
//! # Observability
//!
//! Metrics go through the [`metrics`](https://docs.rs/metrics) facade: the
//! app installs the recorder (exporter) it wants, this crate picks none, and
//! without one they cost next to nothing. Every label value is bounded: the
//! provider's issuer, an outcome, or an error's stable [`Error::code`],
//! never a user's or token's value.
//!
//! | metric | kind | labels | counts |
//! | --- | --- | --- | --- |
//! | `oidc_login_logins_started_total` | counter | `issuer` | [`Client::start`] calls that returned a provider URL |
//! | `oidc_login_logins_finished_total` | counter | `issuer` | [`Client::finish`] calls that succeeded |
//! | `oidc_login_logins_refused_total` | counter | `issuer`, `code` | logins refused, by [`Error::code`]: [`Client::finish`] calls that failed, and with axum the callbacks refused before it (`no_pending_login`, a malformed callback, `wrong_provider`) or after it (account linking) |
//! | `oidc_login_refreshes_total` | counter | `issuer`, `outcome` (`ok`, `failed`) | [`Client::refresh`] calls |
//! | `oidc_login_jwks_fetches_total` | counter | `outcome` (`ok`, `failed`) | fetches of the provider's key set (at discovery, on an unknown `kid`, when it is too old) |
//! | `oidc_login_code_exchange_seconds` | histogram | `issuer` | the code exchange at the token endpoint |
//! | `oidc_login_id_token_validation_seconds` | histogram | `issuer` | ID token validation (signature, a key set refetch if one is needed, claims) |
//!
//! `tracing` spans, each with the provider's `issuer` and `provider` name
//! (its [`Config::name`]) as fields, wrap
//! discovery (`oidc_login.discovery`), the callback
//! (`oidc_login.callback`: [`Client::finish`]), a refresh
//! (`oidc_login.refresh`) and the axum sign-out (`oidc_login.sign_out`), so
//! every log line inside names its provider. The demo serves the metrics at
//! `GET /metrics` with `metrics-exporter-prometheus` (the example's
//! dependency, not the crate's).
//!
//! # Several providers
//!
//! An app may offer several providers at once (Entra ID and PrivX, say):
//! each is a [`Client`] of its own, whose [`Config::name`] names it
//! (`default` unless set), with its own redirect URI, role table and button
//! text. The axum integration serves them all:
//! `LoginRoutes::new(first).provider(second)?`, one button each
//! (`LoginRoutes::login_buttons`), `GET /login?provider=<name>` (without
//! it, the first), each provider's callback at its own route
//! (`/callback/<name>`; the first's stays `/callback`). The
//! [`Identity::provider`] names the provider beside its `issuer`; refresh,
//! sign-out at the provider and back-channel logout
//! (`/backchannel-logout/<name>`) go to the provider of each session; a
//! role row may name the provider it applies to ([`RoleMapping::provider`]).
//! In a file, [`Config::providers_from_file`] reads `[[provider]]` tables
//! (each the one-provider form with a `name`) and shared `[[role_mapping]]`
//! rows; a file of the one-provider form keeps working.
//!
//! **Mix-up defence** (RFC 9700 4.4): every provider has its own redirect
//! URI (4.4.2), which works with every provider, where RFC 9207's `iss`
//! works only when every provider sends it (Entra ID does not; the `iss`
//! is still checked whenever a provider sends one). A [`PendingLogin`]
//! records the provider it was started with ([`PendingLogin::provider`]):
//! the callback route finishes it only when it is its own provider's, and
//! [`Client::finish`] refuses another provider's pending login
//! ([`CallbackError::WrongProviderName`], [`CallbackError::WrongProvider`])
//! before anything is sent, so a code only ever reaches the token endpoint
//! of the provider the login was started with.
//!
//! # Testing your app
//!
//! With the `test-provider` feature, `testing::TestProvider::start().await`
//! runs a real OpenID provider on a random loopback port, with users, clients
//! and signing algorithms of your choice, and can be told to misbehave (a
//! wrong issuer, an expired token, a bad signature...) so your app's refusals
//! can be tested too. For an API, it issues RFC 9068 access tokens for a
//! `resource` (RFC 8707) or its default resource, the `client_credentials`
//! grant for a daemon client, and revokes tokens at `/revoke` (RFC 7009).
//!
//! # Where things live
//!
//! | path | holds |
//! | --- | --- |
//! | `src/lib.rs` | these docs, the lint block, re-exports; no logic |
//! | `src/algorithm.rs` | [`Algorithm`], the JWS algorithm names |
//! | `src/config/` | [`Config`] and its getters (`mod.rs`); every setting in small groups with their defaults ([`Claims`], [`Limits`], [`KeySet`]: `settings.rs`); [`ConfigBuilder`], one setter per setting (`builder.rs`); the one validation (`check.rs`); the TOML/JSON form's secrets, environment variables, key files and tables, and its `[[provider]]` form (`file.rs`); parsing text with errors that never quote it (`text.rs`); [`ClientAuth`] (`client_auth.rs`); the Entra ID, PrivX and break-glass settings and the `[accounts]` table (`entra.rs`, `privx.rs`: [`Config::from_privx_client_json`] and the rules of PrivX's record, `break_glass.rs`, `accounts.rs`: [`AccountsSettings`], with the break-glass hash's bounds; the home tenant and the tenant scope of role rows are checked in `entra.rs`) |
//! | `src/assertion.rs` | [`PrivateKeyJwt`] and the JWT client assertions of `private_key_jwt` and `client_secret_jwt` |
//! | `src/break_glass.rs` | [`BreakGlass`]: the break-glass local sign-in, its argon2 check and its failure limits (per client address and in all, counted in a [`SharedState`]); its settings are in `src/config/break_glass.rs` |
//! | `src/shared_state.rs` | [`SharedState`], the records that must hold across instances, and [`MemoryState`], the bounded in-process default |
//! | `src/secret.rs` | secret newtypes: redacted `Debug`, no `Display`, constant-time equality |
//! | `src/error.rs` | the `#[non_exhaustive]` error enums |
//! | `src/telemetry.rs` | the metric names and the calls that record them (through the `metrics` facade) |
//! | `src/http.rs` | the one way the crate talks HTTP: timeouts, body cap, no redirects, https unless loopback, only JSON answers passed on |
//! | `src/provider/` | discovery and metadata checks, the JWKS cache with single-flight refetch, discovery retried with backoff at start-up (`retry.rs`); the one decision "this provider is Microsoft Entra ID" ([`EntraId`], from the `entra` table or the discovery document: `recognise.rs`), which every Entra rule reads |
//! | `src/flow/` | [`Start`], [`PendingLogin`], `return_to` safety; [`StepUp`], what a step-up asks for and its check of the claims (`step_up.rs`); [`Callback`] parsing and the checks a callback passes before the code is redeemed (`callback.rs`); the OpenID Connect Core 12.2 checks of a refreshed ID token (`refresh.rs`); the `end_session` URL ([`ProviderLogout`], `logout.rs`) |
//! | `src/client/` | [`Client`]: discovery, start, token verification, logout URL, [`Login`], [`Tokens`] (`mod.rs`); the login steps: finish (code exchange or implicit), refresh, completing the identity with userinfo, Graph groups and roles (`login.rs`); the client credentials check, [`CredentialCheck`] (`credentials.rs`); [`Api`], bearer access tokens for the app's API, and [`BearerPrincipal`] (`api.rs`); token revocation, [`Client::revoke`] (`revoke.rs`) |
//! | `src/token/` | compact JWS parsing, JWKS keys parsed once, signature check with `aws-lc-rs`, ID-token claim rules (`claims.rs`), logout-token claim rules and the `jti` replay records (`logout.rs`), access-token claim rules, RFC 9068 and Entra v2.0 ([`AccessTokenClaims`], [`AccessTokenProfile`]: `access.rs`) |
//! | `src/identity.rs` | [`Identity`], claim lookup by name or dotted path, the required-claim gate, the userinfo merge |
//! | `src/roles.rs` | [`RoleMapper`], [`RoleMappingTable`], [`RoleMapping`] and its [`TenantScope`] and provider scope, [`NoRolePolicy`] |
//! | `src/issuer.rs` | protocol level: the `{tenantid}` issuer template, [`TenantPolicy`], Entra ID v1 token recognition; used by the provider and token layers |
//! | `src/entra.rs` | Microsoft Entra ID at sign-in: where a login's groups come from, and the Microsoft Graph reader for the groups overage |
//! | `src/accounts/` | [`AccountLinker`] (link, admin reset, mutable-`sub` acceptance), [`AccountStore`], [`MemoryAccountStore`], `SqliteAccountStore` (`sqlite.rs`, feature `sqlite`); the `[accounts]` table is read in `src/config/accounts.rs` |
//! | `src/axum/` | axum integration (feature `axum`): `LoginRoutes`, its routes and the break-glass routes (`routes.rs`), the layer that applies the settings and resolves the user once per request (`layer.rs`), extractors and rejections (`extract.rs`), the bearer extractors of an API and their RFC 6750 answers (`bearer.rs`), the user's access token for downstream calls (`downstream.rs`), refusal pages the app can replace (`refusal.rs`), account linking at the callback and its check on each request (`routes.rs`, `layer.rs`), HTML fragments and buttons (`pages.rs`), the set of providers, `?provider=` and the mix-up rules (`providers.rs`), logins in flight in sealed cookies, `PendingCookieKey` and the used-login records (`pending_cookie.rs`), session glue, the signed-in user's encoding (one JSON string) and activity (`session.rs`), signed-in users decoded before, reused while the store holds the same text, and those a sign-in just stored (`decoded.rs`), refresh on demand (`refresh.rs`), back-channel logout and its logout records (`back_channel.rs`), local sign-out records (`sign_out.rs`), `RequireStepUp`, the step-up redirect, its 401 challenge and loop guard (`step_up.rs`), the shared records in the app's session store, `SessionStoreState` and `SessionIndexKey` (`store_state.rs`), the client address of break-glass attempts (`client_address.rs`); `routes.rs` uses the others, never the reverse |
//! | `src/testing/` | the embedded OpenID provider (feature `test-provider`), also used by the examples; `end_session` and back-channel logout in `logout.rs`; JWT access tokens for a resource, the `client_credentials` grant and revocation in `access.rs`; its grants and sessions, oldest first and bounded, in `recent.rs`; users' last authentications, for `max_age`, `prompt=login`, `acr_values` and Entra's `acrs`, in `step_up.rs` |
//! | `examples/` | `demo` (a web app with the sign-in button; its pages in `demo_app/`), `discover` (diagnostics; its checks in `discover_check/`), sample configs (Entra single- and multi-tenant, Axidian, PrivX with `private_key_jwt`) |
//! | `tests/it/` | the integration tests, one binary with a module per subject (sign-in, flows, hostile provider, several providers and the mix-up defence, bearer access tokens for an API, the user's token downstream and revocation, account linking with both stores, Entra, PrivX, refresh, logout, session life in axum, break-glass, axum, a SQL session store and two instances on it, provider faults, security review findings, logins in flight in sealed cookies, the embedded provider itself, the demo, discover, step-up, metrics and spans) and their shared helpers (`common/`) |
//! | `tests/*.rs` | the tests that need a service or a process of their own: a browser (`browser.rs`), Redis and two instances on it (`redis_sessions.rs`), `oidc-provider` on Node (`interop_oidc_provider.rs`, `tests/interop/`), the process's memory under 100,000 anonymous logins (`memory.rs`); `tests/support/skip.rs` skips or fails them when the tool is missing; key fixtures in `tests/fixtures/keys/` |
//! | `src/fuzz/` | (tests only) property-based fuzzing of every parser of outside input, one file per target, each against a reference |
//! | `benches/` | criterion benchmarks (ID token and access token validation, role mapping) and the load benchmark (`load.rs`: logins through the demo, a signed-in request, memory); `benches/README.md` holds the latest figures, the profile and the long fuzzing pass |

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod accounts;
mod algorithm;
mod assertion;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "break-glass")]
mod break_glass;
mod client;
mod config;
mod entra;
mod error;
mod flow;
#[cfg(test)]
mod fuzz;
mod http;
mod identity;
mod issuer;
mod provider;
mod roles;
mod secret;
mod shared_state;
mod telemetry;
#[cfg(feature = "test-provider")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-provider")))]
pub mod testing;
mod token;

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use accounts::SqliteAccountStore;
pub use accounts::{
    Account, AccountLinker, AccountStore, Binding, EmailVerification, MemoryAccountStore,
    StoreFuture, normalize_email,
};
pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use assertion::PrivateKeyJwt;
#[cfg(feature = "break-glass")]
#[cfg_attr(docsrs, doc(cfg(feature = "break-glass")))]
pub use break_glass::{BREAK_GLASS_ISSUER, BreakGlass};
pub use client::credentials::CredentialCheck;
pub use client::{Api, BearerPrincipal, Client, Login, Tokens};
pub use config::{
    AccountRow, AccountsSettings, AuthMethod, BreakGlassSettings, Claims, ClientAuth, Config,
    ConfigBuilder, Flow, GraphQuery, GroupsSource, KeySet, Limits, RequiredClaim, UserinfoPolicy,
};
pub use error::{
    AccessError, AccountError, BearerError, BreakGlassError, CallbackError, ConfigError,
    DiscoveryError, Error, GraphFailure, GraphTrigger, GroupsError, HttpError, HttpErrorKind,
    IssuerHint, LogoutError, RefreshError, SharedStateError, StartError, TokenError,
};
pub use flow::{Callback, PendingLogin, ProviderLogout, Start, StepUp};
pub use identity::Identity;
pub use issuer::TenantPolicy;
pub use provider::{EntraId, EntraVersion, Recognition};
pub use roles::{NoRolePolicy, RoleMapper, RoleMapping, RoleMappingTable, Source, TenantScope};
pub use secret::{AccessToken, ClientSecret, IdToken, Nonce, PkceVerifier, RefreshToken, State};
pub use shared_state::{MemoryState, SharedState, StateFuture, StateKey};
pub use token::{AccessTokenClaims, AccessTokenProfile, IdTokenClaims, LogoutTokenClaims};
