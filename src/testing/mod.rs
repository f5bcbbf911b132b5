//! An embedded OpenID Connect provider for tests and demos (feature
//! `test-provider`).
//!
//! [`TestProvider::start`] binds a random port on `127.0.0.1`, serves a
//! complete Authorization Code + PKCE provider on it, and stops when the
//! value is dropped. It talks to your application only over HTTP, like a real
//! provider, so the code under test is the code that will talk to Entra ID.
//! Each provider has its own users, clients, keys and counters: tests can run
//! in parallel.
//!
//! | endpoint | |
//! | --- | --- |
//! | `GET /.well-known/openid-configuration` | discovery; the issuer is `http://127.0.0.1:<port>` (plus the [issuer path](TestProviderBuilder::issuer_path), under which every endpoint then lives) |
//! | `GET /jwks` | the public signing key, with `kid`, `alg` and `use` |
//! | `GET`/`POST /authorize` | checks the request, then signs in the user named by `login_hint`, or shows a page with a button per user |
//! | `POST /token` | `authorization_code` (PKCE S256 required), `refresh_token` and `client_credentials` grants; with `resource` (RFC 8707) or a [default resource](TestProviderBuilder::default_resource), JWT access tokens (RFC 9068) |
//! | `GET`/`POST /userinfo` | the user's claims, for `Authorization: Bearer <access token>` |
//! | `GET`/`POST /logout` | `end_session_endpoint`: ends the provider session of the `id_token_hint`, sends back-channel logout tokens, redirects to an allowed `post_logout_redirect_uri` with `state` |
//! | `POST /revoke` | `revocation_endpoint` (RFC 7009): forgets a refresh or access token of the authenticated client |
//!
//! With [`EntraMode`] ([`TestProviderBuilder::entra`]) it also plays
//! Microsoft Entra ID: tenant metadata under `/<tenant>/v2.0/`, the
//! `{tenantid}` template for `common` and `organizations`, `tid`/`oid`/`ver`
//! claims, the groups overage, and Microsoft Graph's `transitiveMemberOf`
//! (paged) and `getMemberObjects`.
//!
//! # Defaults
//!
//! - Users [`alice`](TestUser::alice) and [`bob`](TestUser::bob).
//! - One client, `test-client` with secret `test-secret`, authenticating
//!   with `client_secret_basic`. Like every client registered without a
//!   [`redirect_uri`](TestClient::redirect_uri), it accepts any http loopback
//!   redirect URI (`http://127.0.0.1:<any port>/<any path>`, also `localhost`
//!   and `[::1]`), because the app under test usually listens on a random
//!   port too.
//! - ID tokens signed with RS256, living 5 minutes, with the user's profile
//!   claims; authorization codes single-use, living 60 seconds; access tokens
//!   living 5 minutes; refresh tokens issued for the `offline_access` scope
//!   and rotated on each use. A refresh issues tokens for the user as now
//!   (changed groups show), and is refused once the user is gone.
//! - The authorization response carries `iss` (RFC 9207).
//! - It remembers at most the 10,000 most recent sign-ins (provider
//!   sessions), authorization codes, access tokens and refresh tokens, of
//!   each kind; an older one is forgotten as if it had expired (a forgotten
//!   code, access or refresh token is unknown; the refresh token of a
//!   forgotten sign-in is refused like one whose session ended), so that
//!   memory and the cost of a request stay flat however many logins it
//!   serves.
//!
//! # Protocol details worth knowing
//!
//! - `/authorize` requires `client_id`, `redirect_uri`, `response_type=code`,
//!   a `scope` containing `openid`, `state`, `nonce`, and `code_challenge`
//!   with `code_challenge_method=S256`. An unknown client or redirect URI
//!   gets a `400` page; other errors are sent back to the redirect URI as
//!   `error`, `error_description`, `state` and `iss`.
//! - A client registered with [`pkce_required(false)`](TestClient::pkce_required)
//!   may leave PKCE out; its code is then redeemed without a `code_verifier`.
//! - A client registered with [`allow_implicit`](TestClient::allow_implicit)
//!   may also ask for `response_type=id_token` (the implicit flow), with
//!   `response_mode=form_post` and a `nonce`: the form posts `id_token`,
//!   `state` and `iss`, and that ID token has no `at_hash`.
//! - `login_hint` may name a user by username or email address.
//!   `prompt=none` without a usable `login_hint` answers `login_required`.
//! - Each user's last authentication is remembered (single sign-on): a
//!   later login reuses its `auth_time` and `acr` unless the request asks for
//!   more: `prompt=login`, a `max_age` it is older than, `acr_values` it was
//!   not made at, or an Entra ID authentication context (`claims` with
//!   `id_token.acrs`) it lacks. Then the user authenticates anew: `auth_time`
//!   now, `acr` the first value asked for, `acrs` the contexts asked for.
//!   [`TestProvider::backdate_authentications`] ages the remembered ones;
//!   [`Misbehavior::IgnoreStepUp`] ignores what is asked.
//! - Success answers `303 See Other` to
//!   `<redirect_uri>?code=...&state=...&iss=...`, or with
//!   `response_mode=form_post` an HTML page whose form posts `code`, `state`
//!   and `iss` to the redirect URI.
//! - Every client is registered with exactly one token endpoint
//!   authentication method; another method gets `401 invalid_client`.
//!   `client_secret_basic` credentials must be form-urlencoded before base64
//!   (RFC 6749 section 2.3.1), and are decoded strictly.
//! - `client_secret_jwt` and `private_key_jwt` clients
//!   ([`TestClientAuth::SecretJwt`], [`TestClient::private_key_jwt`]) send a
//!   JWT in `client_assertion` (RFC 7523). It is refused with `401
//!   invalid_client`, saying why, unless: it is signed (never `alg: none`)
//!   with the client's secret (HS*) or registered public key (RS*, PS*,
//!   ES*, EdDSA) as the client's method requires; its `kid` and `x5t#S256`,
//!   when sent, are the registered JWK's; `iss` and `sub` are the client id;
//!   `aud` is (or holds) the token endpoint URL; `exp` is in the future;
//!   and its `jti` was never seen before for that client.
//! - Access tokens are opaque random strings, unless the token request
//!   names a `resource` (an absolute URI, else `invalid_target`) or the
//!   provider has a [default resource](TestProviderBuilder::default_resource):
//!   then they are JWTs for it, signed like ID tokens (every signing
//!   [`Misbehavior`] applies): RFC 9068 (`typ: at+jwt`; `iss`, `sub`, `aud`,
//!   `client_id`, `jti`, `iat`, `exp`, `scope`, the user's `groups`, a
//!   `roles` extra claim, `auth_time`), or in Entra mode Entra's v2.0 shape
//!   (`typ: JWT`; `azp`, `scp` without the OpenID Connect scopes, `roles`,
//!   `tid`, `oid`, `ver: 2.0`, `nbf`).
//! - `client_credentials`: a confidential client gets a token for itself
//!   (`sub` its id) with the `scope` it asks (not `openid`) and, in `roles`,
//!   its [app roles](TestClient::app_roles); no refresh or ID token.
//! - Token endpoint errors are RFC 6749 section 5.2 JSON with
//!   `Cache-Control: no-store`, and their `error_description` says what was
//!   wrong.
//! - The ID token carries `iss`, `sub`, `aud` (the client id, a string),
//!   `exp` (`iat` + 300), `iat`, `auth_time`, `nonce`, `at_hash`, then with
//!   [`IdTokenClaimsMode::Full`] `preferred_username`, `email`,
//!   `email_verified`, `name`, `groups`, and the user's extra claims; `acr`
//!   and `acrs` when the authentication was asked for them. With
//!   [extra audiences](TestProviderBuilder::extra_audience) `aud` is an
//!   array and `azp` the client id; `azp` appears only then. The header has `alg`, `typ: "JWT"`
//!   and `kid` (no `kid` for HMAC).
//! - `at_hash` uses the hash of the signing algorithm (SHA-512 for EdDSA).
//!   ID tokens from a refresh carry the original `auth_time` and no `nonce`.
//! - Userinfo always returns the full profile (`sub`, `preferred_username`,
//!   `email`, `email_verified`, `name`, `groups`, extra claims) as JSON.
//!
//! # Faults
//!
//! Besides protocol rules, [`Misbehavior`] breaks the transport, one
//! endpoint at a time (named by its path under the issuer: `token`,
//! `userinfo`, `jwks`, `.well-known/openid-configuration`,
//! `v1.0/me/transitiveMemberOf`): [`Misbehavior::ErrorStatus`] (a proxy's
//! 5xx or 429 page), [`Misbehavior::TruncatedResponse`] (half the body, then
//! the connection drops), [`Misbehavior::NonJsonResponse`] (an HTML
//! maintenance page), [`Misbehavior::SlowEndpoint`], and
//! [`Misbehavior::UnreachableEndpoint`] (the metadata names the endpoint on
//! a [closed port](TestProvider::closed_url)). The whole provider goes down
//! with [`TestProvider::stop`], and comes up again at the same address with
//! [`TestProviderBuilder::address`]: an app that starts before its provider
//! can be tested that way.
//!
//! # Keys
//!
//! Keys are generated with aws-lc-rs (RSA 2048, P-256/384/521, Ed25519). An
//! RSA key takes a few hundred milliseconds to generate, so the first key
//! pair of each algorithm is generated once per process and shared by every
//! provider started with that algorithm, each under its own random `kid`.
//! Every later key is fresh: [`rotate_keys`](TestProvider::rotate_keys) and
//! the extra keys of [`Misbehavior::UnknownKid`],
//! [`Misbehavior::NoKidMultipleKeys`], [`Misbehavior::EmbeddedJwk`],
//! [`Misbehavior::KidOfAnotherKeyType`] and [`Misbehavior::SignsWith`]. Do
//! not rely on two providers' first keys being different; their issuers and
//! `kid`s always are.
//!
//! # Example
//!
//! ```
//! use oidc_login::testing::{Misbehavior, TestProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = TestProvider::start().await;
//! // Configure the code under test with these:
//! let metadata_url = provider.metadata_url();
//! let client_id = TestProvider::DEFAULT_CLIENT_ID; // "test-client"
//! let client_secret = TestProvider::DEFAULT_CLIENT_SECRET; // "test-secret", client_secret_basic
//! # let _ = (metadata_url, client_secret);
//!
//! // The code under test builds the authorization URL (here by hand, with
//! // fixed values where a real client sends fresh random ones) ...
//! let authorization_url = format!(
//!     "{}?response_type=code&client_id={client_id}\
//!      &redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback&scope=openid%20email\
//!      &state=xyz&nonce=n-0S6_WzA2Mj\
//!      &code_challenge=bQCNmu6T5xxJXljUVHVyaOvgVTQ0QIix1B5snSuDD8s&code_challenge_method=S256",
//!     provider.url("/authorize"),
//! );
//! // ... and the provider plays the browser: alice signs in.
//! let callback = provider.sign_in(&authorization_url, "alice").await;
//! assert!(callback.starts_with("http://127.0.0.1:3000/callback?code="));
//! assert!(callback.contains("&state=xyz&iss="));
//!
//! // Hostile-provider tests: one broken rule at a time.
//! provider.misbehave(Misbehavior::WrongAudience);
//! // ... the client must now refuse the ID token ...
//! provider.behave();
//! # Ok(())
//! # }
//! ```
//!
//! The rare options are on the [builder](TestProvider::builder):
//!
//! ```no_run
//! use oidc_login::Algorithm;
//! use oidc_login::testing::{IdTokenClaimsMode, TestClient, TestClientAuth, TestProvider, TestUser};
//!
//! # async fn example() {
//! let provider = TestProvider::builder()
//!     .algorithm(Algorithm::ES256)
//!     .user(TestUser::new("carol-sub", "carol").email("carol@example.com"))
//!     .client(
//!         TestClient::confidential("app", "app-secret", TestClientAuth::Post)
//!             .redirect_uri("http://127.0.0.1:8080/auth/callback"),
//!     )
//!     .id_token_claims(IdTokenClaimsMode::Minimal)
//!     .start()
//!     .await;
//! # drop(provider);
//! # }
//! ```

mod access;
mod authorize;
mod client_assertion;
mod entra;
mod html;
mod keys;
mod logout;
mod misbehavior;
mod model;
mod recent;
mod server;
mod state;
mod step_up;
mod token;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use entra::{EntraMode, OverageForm};
pub use misbehavior::Misbehavior;
pub use model::{IdTokenClaimsMode, TestClient, TestClientAuth, TestUser};

use crate::Algorithm;
use keys::SigningKey;
use state::{Settings, Shared};

/// A running embedded OpenID Connect provider. Stops when dropped.
///
/// See the [module documentation](self) for what it serves.
pub struct TestProvider {
    shared: Arc<Shared>,
    address: SocketAddr,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Bound, never listening: holds the port of
    /// [`closed_url`](Self::closed_url) so nothing else takes it.
    _closed: tokio::net::TcpSocket,
}

impl fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProvider")
            .field("issuer", &self.shared.issuer)
            .field("algorithm", &self.shared.alg)
            .field("misbehaviors", &self.shared.misbehaviors())
            .finish_non_exhaustive()
    }
}

impl TestProvider {
    /// The client id of the default client.
    pub const DEFAULT_CLIENT_ID: &'static str = "test-client";
    /// The secret of the default client (`client_secret_basic`).
    pub const DEFAULT_CLIENT_SECRET: &'static str = "test-secret";

    /// Starts a provider with the defaults (see the [module
    /// documentation](self)) on a random port of `127.0.0.1`.
    ///
    /// Call it inside a Tokio runtime with IO and timers enabled
    /// (`#[tokio::test]` is enough); the server runs as a task on that
    /// runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, or outside a Tokio runtime.
    pub async fn start() -> TestProvider {
        Self::builder().start().await
    }

    /// A builder for the rarer options: algorithm, users, clients.
    pub fn builder() -> TestProviderBuilder {
        TestProviderBuilder::default()
    }

    /// The issuer: `http://127.0.0.1:<port>`, no trailing slash, or with an
    /// [`issuer_path`](TestProviderBuilder::issuer_path) that path appended
    /// exactly as given (`http://127.0.0.1:<port>/oidc/<id>/`).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The discovery document's URL: the issuer without a trailing `/`,
    /// followed by `/.well-known/openid-configuration` (OpenID Connect
    /// Discovery 1.0 section 4).
    pub fn metadata_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }

    /// The URL of `path` on this provider (`url("/token")`), under the
    /// issuer's path if it has one. A missing leading `/` is added.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.shared.base)
        } else {
            format!("{}/{path}", self.shared.base)
        }
    }

    /// The socket address the provider listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The signing algorithm of the ID tokens.
    pub fn algorithm(&self) -> Algorithm {
        self.shared.alg
    }

    /// Breaks one protocol rule from the next response on, until
    /// [`behave`](Self::behave). Several misbehaviours can be active;
    /// turning one on again replaces its earlier value.
    ///
    /// `UnknownKid`, `NoKidMultipleKeys` and `EmbeddedJwk` generate their
    /// extra key here (once per provider), which takes a moment for RSA.
    ///
    /// # Panics
    ///
    /// For [`Misbehavior::ErrorStatus`] with a status outside 400 to 599.
    pub fn misbehave(&self, misbehavior: Misbehavior) {
        if let Misbehavior::ErrorStatus(name, status) = &misbehavior {
            assert!(
                (400..=599).contains(status),
                "TestProvider: Misbehavior::ErrorStatus(\"{name}\", {status}) needs an error status, from 400 to 599"
            );
        }
        self.shared.misbehave(misbehavior);
    }

    /// A URL of `path` on a loopback port where nothing listens, held by
    /// this provider so that nothing else takes it: every request to it is
    /// refused at once, as to a provider that is down. For a
    /// [`graph_url`](crate::ConfigBuilder::graph_url) or metadata URL that
    /// cannot be reached; [`Misbehavior::UnreachableEndpoint`] puts one
    /// endpoint of the metadata there.
    pub fn closed_url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.shared.closed_base)
        } else {
            format!("{}/{path}", self.shared.closed_base)
        }
    }

    /// Stops serving, as a provider that goes down: once this returns,
    /// connections to its address are refused. Requests in flight are
    /// answered first, and kept-alive connections closed. The handle stays usable (counters, signing), and
    /// [`TestProviderBuilder::address`] starts a provider again at the same
    /// address.
    pub async fn stop(&self) {
        let shutdown = state::lock(&self.shutdown).take();
        if let Some(shutdown) = shutdown {
            let _ = shutdown.send(());
        }
        let server = state::lock(&self.server).take();
        if let Some(server) = server {
            let _ = server.await;
            // The kept-alive connections are closed; give the clients of
            // this process a moment to see it, so that their next request
            // opens a new connection (and is refused) rather than write to
            // a dead one.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clears all misbehaviour.
    pub fn behave(&self) {
        self.shared.behave();
    }

    /// The misbehaviours now active, in the order they were turned on.
    pub fn misbehaviors(&self) -> Vec<Misbehavior> {
        self.shared.misbehaviors()
    }

    /// Replaces the signing key with a newly generated one under a new
    /// `kid`. From then on the JWKS publishes only the new key, so tokens
    /// signed before the rotation no longer verify (the
    /// `rp-key-rotation-op-sign-key` situation: a client must refetch the
    /// JWKS on an unknown `kid`).
    ///
    /// With an HMAC algorithm nothing is published and the key stays the
    /// client secret; only the internal key identity changes.
    pub fn rotate_keys(&self) {
        self.shared.rotate_keys();
    }

    /// The `kid` of the current signing key (absent from HMAC tokens).
    pub fn current_kid(&self) -> String {
        self.shared.current_key().kid().to_owned()
    }

    /// How many requests reached `/jwks` (and its redirect target, under
    /// [`Misbehavior::RedirectJwks`]).
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// How many requests reached the discovery document (the issuer's
    /// `/.well-known/openid-configuration`, and in Entra mode each tenant's).
    pub fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// How many requests reached `/token`.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many requests reached `/logout` (`end_session_endpoint`).
    pub fn logout_requests(&self) -> usize {
        self.shared.logout_requests.load(Ordering::SeqCst)
    }

    /// Ends every session of the user named `username` at the provider, as
    /// an administrator would, and sends each client registered with a
    /// [`backchannel_logout_uri`](TestClient::backchannel_logout_uri) a
    /// logout token (`iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`,
    /// `events`) by POST. Returns the HTTP status each client answered (0
    /// for a request that failed). Refresh tokens of the ended sessions stop
    /// working.
    pub async fn backchannel_logout(&self, username: &str) -> Vec<u16> {
        let Some(user) = self.shared.user_by_hint(username) else {
            return Vec::new();
        };
        let ended = logout::take_sessions(&self.shared, |s| s.sub == user.sub());
        logout::send_backchannel_logouts(&self.shared, &ended).await
    }

    /// How many requests reached `/userinfo`.
    pub fn userinfo_requests(&self) -> usize {
        self.shared.userinfo_requests.load(Ordering::SeqCst)
    }

    /// Signs arbitrary claims as a compact JWS with the current key: header
    /// `alg`, `typ: "JWT"` and `kid`. No claim is added or checked, and no
    /// misbehaviour applies. For tests and benchmarks that need a token
    /// without a login.
    ///
    /// With an HMAC algorithm the key is the secret of the client named by
    /// the claims' `aud` (a string, or the first element of an array), else
    /// the first confidential client's.
    ///
    /// ```no_run
    /// # async fn example() {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::start().await;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH)
    ///     .unwrap()
    ///     .as_secs();
    /// let token = provider.sign_id_token(&serde_json::json!({
    ///     "iss": provider.issuer(),
    ///     "sub": "alice-sub-0001",
    ///     "aud": "test-client",
    ///     "iat": now,
    ///     "exp": now + 300,
    /// }));
    /// assert_eq!(token.split('.').count(), 3);
    /// # }
    /// ```
    pub fn sign_id_token(&self, claims: &serde_json::Value) -> String {
        let aud = match &claims["aud"] {
            serde_json::Value::String(aud) => Some(aud.as_str()),
            serde_json::Value::Array(auds) => auds.first().and_then(|aud| aud.as_str()),
            _ => None,
        };
        let secret = if self.shared.alg.is_hmac() {
            self.shared.hmac_secret_for(aud)
        } else {
            Vec::new()
        };
        self.shared.sign_plain(claims, &secret)
    }

    /// Signs `claims` as an RFC 9068 access token (header `typ: at+jwt`)
    /// with the provider's current key and any active signing
    /// [`Misbehavior`], for tests of an API's refusals (a wrong `aud`, an
    /// expired token...). The token endpoint issues real ones: see
    /// [`TestProviderBuilder::default_resource`] and the `resource`
    /// parameter.
    ///
    /// ```no_run
    /// # async fn example() {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::start().await;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH)
    ///     .unwrap()
    ///     .as_secs();
    /// let token = provider.sign_access_token(&serde_json::json!({
    ///     "iss": provider.issuer(),
    ///     "sub": "alice-sub-0001",
    ///     "aud": "https://api.example",
    ///     "client_id": "test-client",
    ///     "jti": "a1",
    ///     "scope": "reports.read",
    ///     "iat": now,
    ///     "exp": now + 300,
    /// }));
    /// # let _ = token;
    /// # }
    /// ```
    pub fn sign_access_token(&self, claims: &serde_json::Value) -> String {
        let secret = if self.shared.alg.is_hmac() {
            self.shared.hmac_secret_for(claims["client_id"].as_str())
        } else {
            Vec::new()
        };
        self.shared.sign_access_token(claims, &secret, "at+jwt")
    }

    /// How many requests reached the revocation endpoint (`/revoke`).
    pub fn revocation_requests(&self) -> usize {
        self.shared.revocation_requests.load(Ordering::SeqCst)
    }

    /// The latest revocations (at most 100), oldest first, each
    /// `<token_type_hint>:<what was revoked>`: `refresh_token:refresh_token`
    /// when a refresh token was revoked, `access_token:access_token`, or
    /// `...:unknown` for a token the provider did not know (or another
    /// client's).
    pub fn revocations(&self) -> Vec<String> {
        state::lock(&self.shared.revocations)
            .iter()
            .cloned()
            .collect()
    }

    /// Revokes every refresh token issued so far: the next refresh with one
    /// is answered `invalid_grant`, as when an administrator ends the
    /// user's sessions at the provider.
    pub fn revoke_refresh_tokens(&self) {
        state::lock(&self.shared.grants).refresh.clear();
    }

    /// Adds a user, or replaces the user with the same username.
    pub fn add_user(&self, user: TestUser) {
        self.shared.add_user(user);
    }

    /// Plays the browser: follows `authorization_url` (as built by the code
    /// under test) with `login_hint=<username>`, and returns the URL the
    /// provider redirects back to, `<redirect_uri>?code=...&state=...&iss=...`
    /// (or `?error=...` when the request was refused).
    ///
    /// ```no_run
    /// # async fn example(authorization_url: String) {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::start().await;
    /// // let (authorization_url, pending) = client.start(..)?;
    /// let callback = provider.sign_in(&authorization_url, "alice").await;
    /// // Hand `callback`'s query to the code under test's callback handler.
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the URL is not this provider's authorization endpoint, asks for
    /// `response_mode=form_post`, names no configured user, or the provider
    /// answers anything but a redirect (the panic message carries its
    /// explanation).
    pub async fn sign_in(&self, authorization_url: &str, username: &str) -> String {
        let endpoint = self.url("/authorize");
        let mut url = url::Url::parse(authorization_url).unwrap_or_else(|err| {
            panic!("TestProvider::sign_in: `{authorization_url}` is not a URL: {err}")
        });
        assert!(
            url[..url::Position::AfterPath] == endpoint,
            "TestProvider::sign_in: `{authorization_url}` is not this provider's \
             authorization endpoint `{endpoint}`"
        );
        let mut params: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(name, _)| name != "login_hint")
            .collect();
        assert!(
            !params
                .iter()
                .any(|(name, value)| name == "response_mode" && value == "form_post"),
            "TestProvider::sign_in: the request asks for response_mode=form_post, which \
             needs a browser; use the query response mode"
        );
        assert!(
            self.shared.user_by_hint(username).is_some(),
            "TestProvider::sign_in: no user `{username}`; the users are: {}",
            self.shared.usernames().join(", ")
        );
        params.push(("login_hint".to_owned(), username.to_owned()));
        url.query_pairs_mut().clear().extend_pairs(&params);

        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("TestProvider::sign_in: cannot build an HTTP client");
        let response = browser
            .get(url)
            .send()
            .await
            .unwrap_or_else(|err| panic!("TestProvider::sign_in: the request failed: {err}"));
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response.headers().get(reqwest::header::LOCATION)
        {
            return location
                .to_str()
                .expect("the provider sends ASCII locations")
                .to_owned();
        }
        let body = response.text().await.unwrap_or_default();
        // The error page says what was wrong in its first paragraph.
        let reason = body
            .split_once("<p>")
            .and_then(|(_, rest)| rest.split_once("</p>"))
            .map_or(body.as_str(), |(reason, _)| reason);
        panic!(
            "TestProvider::sign_in: expected a redirect back to the client, got {status}: {reason}"
        );
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        if let Some(shutdown) = state::lock(&self.shutdown).take() {
            // The server may already be gone with its runtime.
            let _ = shutdown.send(());
        }
    }
}

/// Builds a [`TestProvider`] with non-default options.
///
/// ```no_run
/// # async fn example() {
/// use oidc_login::Algorithm;
/// use oidc_login::testing::{TestClient, TestProvider, TestUser};
///
/// let provider = TestProvider::builder()
///     .algorithm(Algorithm::EdDSA)
///     .user(TestUser::alice())
///     .user(TestUser::new("dave-sub", "dave"))
///     .client(TestClient::public("spa"))
///     .iss_parameter(false)
///     .start()
///     .await;
/// # drop(provider);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TestProviderBuilder {
    alg: Algorithm,
    users: Option<Vec<TestUser>>,
    clients: Option<Vec<TestClient>>,
    iss_parameter: bool,
    nonce_on_refresh: bool,
    claims_mode: IdTokenClaimsMode,
    issuer_path: Option<String>,
    extra_audiences: Vec<String>,
    entra: Option<EntraMode>,
    address: Option<SocketAddr>,
    default_resource: Option<String>,
}

impl Default for TestProviderBuilder {
    fn default() -> Self {
        Self {
            alg: Algorithm::RS256,
            users: None,
            clients: None,
            iss_parameter: true,
            nonce_on_refresh: false,
            claims_mode: IdTokenClaimsMode::Full,
            issuer_path: None,
            extra_audiences: Vec::new(),
            entra: None,
            address: None,
            default_resource: None,
        }
    }
}

impl TestProviderBuilder {
    /// The ID token signing algorithm (default RS256). With `HS256`,
    /// `HS384` or `HS512` the key is the client secret, so every client must
    /// be confidential, and the JWKS is empty.
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// Adds a user. The first call replaces the default users (alice and
    /// bob); use [`TestUser::alice`] and [`TestUser::bob`] to keep them.
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.get_or_insert_with(Vec::new).push(user);
        self
    }

    /// Registers a client. The first call replaces the default client
    /// (`test-client`).
    pub fn client(mut self, client: TestClient) -> Self {
        self.clients.get_or_insert_with(Vec::new).push(client);
        self
    }

    /// Whether the authorization response carries the RFC 9207 `iss`
    /// parameter and the metadata says
    /// `authorization_response_iss_parameter_supported` (default `true`).
    pub fn iss_parameter(mut self, enabled: bool) -> Self {
        self.iss_parameter = enabled;
        self
    }

    /// Whether ID tokens from a refresh repeat the login's `nonce`, as
    /// Entra ID's do (default `false`: they carry none).
    pub fn nonce_on_refresh(mut self, enabled: bool) -> Self {
        self.nonce_on_refresh = enabled;
        self
    }

    /// Which claims the ID token carries (default
    /// [`IdTokenClaimsMode::Full`]).
    pub fn id_token_claims(mut self, mode: IdTokenClaimsMode) -> Self {
        self.claims_mode = mode;
        self
    }

    /// Serves the provider under `path`, as PrivX does
    /// (`/oidc/<provider id>/`): the issuer is `http://127.0.0.1:<port>`
    /// followed by `path` exactly as given, trailing `/` included, and every
    /// endpoint (discovery included) lives under it
    /// (`<issuer without its final />/token`...).
    ///
    /// ```no_run
    /// # async fn example() {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::builder()
    ///     .issuer_path("/oidc/4b8e3a52-0d0c-4c48-9d3c-2a9f4d1b7e61/")
    ///     .start()
    ///     .await;
    /// assert!(provider.issuer().ends_with("/oidc/4b8e3a52-0d0c-4c48-9d3c-2a9f4d1b7e61/"));
    /// assert!(provider
    ///     .metadata_url()
    ///     .ends_with("/oidc/4b8e3a52-0d0c-4c48-9d3c-2a9f4d1b7e61/.well-known/openid-configuration"));
    /// # }
    /// ```
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = Some(path.into());
        self
    }

    /// Adds an audience every ID token carries besides the client id, like
    /// PrivX's `oidc_audience`. ID tokens then have `aud` as an array and
    /// `azp` set to the client id.
    pub fn extra_audience(mut self, audience: impl Into<String>) -> Self {
        self.extra_audiences.push(audience.into());
        self
    }

    /// Makes every access token asked without a `resource` parameter a
    /// JWT for `resource` (RFC 9068; Entra ID's v2.0 shape in Entra mode),
    /// as when the app signs users in to call its own API: the login's
    /// access token is then one the app's [`Api`](crate::Api) accepts. A
    /// token request's own `resource` (RFC 8707) names another.
    ///
    /// ```no_run
    /// # async fn example() {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::builder()
    ///     .default_resource("https://api.example")
    ///     .start()
    ///     .await;
    /// # drop(provider);
    /// # }
    /// ```
    pub fn default_resource(mut self, resource: impl Into<String>) -> Self {
        self.default_resource = Some(resource.into());
        self
    }

    /// Listens on this loopback address instead of a random port of
    /// `127.0.0.1`: to start a provider again where a
    /// [stopped](TestProvider::stop) one was, as when a provider comes up
    /// after the app. The issuer is `http://<address>`.
    ///
    /// ```no_run
    /// # async fn example() {
    /// use oidc_login::testing::TestProvider;
    ///
    /// let provider = TestProvider::start().await;
    /// let address = provider.address();
    /// provider.stop().await; // down: connections are refused
    /// let again = TestProvider::builder().address(address).start().await;
    /// assert_eq!(again.issuer(), provider.issuer());
    /// # }
    /// ```
    pub fn address(mut self, address: SocketAddr) -> Self {
        self.address = Some(address);
        self
    }

    /// Binds a random port on `127.0.0.1` and starts serving.
    ///
    /// # Panics
    ///
    /// If two users share a username, two clients share an id, an HMAC
    /// algorithm is combined with a client that has no secret, the issuer
    /// path does not start with `/` or holds `//`, `?`, `#` or whitespace
    /// (or is combined with Entra mode), the [address](Self::address) is
    /// not a loopback one or cannot be bound,
    /// no loopback port can be bound, or outside a Tokio runtime.
    pub async fn start(self) -> TestProvider {
        let issuer_path = self.issuer_path.unwrap_or_default();
        assert!(
            issuer_path.is_empty()
                || (issuer_path.starts_with('/')
                    && !issuer_path.contains("//")
                    && !issuer_path.contains(|c: char| c == '?' || c == '#' || c.is_whitespace())),
            "TestProvider: the issuer path `{issuer_path}` must start with `/` and hold no `//`, `?`, `#` or whitespace"
        );
        assert!(
            issuer_path.is_empty() || self.entra.is_none(),
            "TestProvider: Entra mode has issuers of its own (`/<tenant>/v2.0`); it cannot be combined with an issuer path"
        );
        let users = self
            .users
            .unwrap_or_else(|| vec![TestUser::alice(), TestUser::bob()]);
        let clients = self.clients.unwrap_or_else(|| {
            vec![TestClient::confidential(
                TestProvider::DEFAULT_CLIENT_ID,
                TestProvider::DEFAULT_CLIENT_SECRET,
                TestClientAuth::Basic,
            )]
        });
        for (i, user) in users.iter().enumerate() {
            assert!(
                !users[..i].iter().any(|u| u.username() == user.username()),
                "TestProvider: two users are named `{}`",
                user.username()
            );
        }
        for (i, client) in clients.iter().enumerate() {
            assert!(
                !clients[..i].iter().any(|c| c.id() == client.id()),
                "TestProvider: two clients have the id `{}`",
                client.id()
            );
            assert!(
                !(self.alg.is_hmac() && client.secret().is_none()),
                "TestProvider: {} signs with the client secret, but client `{}` has no secret (a public or `private_key_jwt` client)",
                self.alg,
                client.id()
            );
        }

        let wanted = self
            .address
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        assert!(
            wanted.ip().is_loopback(),
            "TestProvider: the address {wanted} is not a loopback one; the provider serves plain http on loopback only"
        );
        let listener = tokio::net::TcpListener::bind(wanted)
            .await
            .unwrap_or_else(|err| panic!("TestProvider: cannot bind {wanted}: {err}"));
        let closed = tokio::net::TcpSocket::new_v4()
            .and_then(|socket| {
                socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
                Ok(socket)
            })
            .expect("TestProvider: cannot bind a port on 127.0.0.1");
        let closed_address = closed
            .local_addr()
            .expect("TestProvider: a bound socket has an address");
        let address = listener
            .local_addr()
            .expect("TestProvider: a bound listener has an address");
        let alg = self.alg;
        let started = Instant::now();
        let key = tokio::task::spawn_blocking(move || SigningKey::pooled(alg))
            .await
            .expect("TestProvider: key generation panicked");
        tracing::debug!(
            target: "oidc_login::testing",
            %alg,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "signing key ready"
        );
        let shared = Arc::new(Shared::new(Settings {
            issuer: format!("http://{address}{issuer_path}"),
            extra_audiences: self.extra_audiences,
            alg,
            iss_parameter: self.iss_parameter,
            nonce_on_refresh: self.nonce_on_refresh,
            claims_mode: self.claims_mode,
            clients,
            users,
            key,
            entra: self.entra,
            closed: closed_address,
            default_resource: self.default_resource,
        }));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::warn!(target: "oidc_login::testing", error = %err, "test provider stopped");
            }
        });
        TestProvider {
            shared,
            address,
            shutdown: Mutex::new(Some(shutdown)),
            server: Mutex::new(Some(server)),
            _closed: closed,
        }
    }
}
