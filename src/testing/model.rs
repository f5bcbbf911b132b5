//! Users and clients registered at the embedded provider.

use serde_json::{Map, Value, json};

use crate::ClientSecret;

/// A user who can sign in at the [`TestProvider`](super::TestProvider).
///
/// ```
/// use oidc_login::testing::TestUser;
///
/// let carol = TestUser::new("carol-sub-0003", "carol")
///     .email("carol@example.com")
///     .email_verified(true)
///     .name("Carol Checker")
///     .groups(["0a1b2c3d-0000-4000-8000-000000000003"])
///     .claim("tid", serde_json::json!("72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// assert_eq!(carol.username(), "carol");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TestUser {
    sub: String,
    username: String,
    email: Option<String>,
    /// `None`: the claim is left out.
    email_verified: Option<bool>,
    name: Option<String>,
    groups: Vec<String>,
    claims: Map<String, Value>,
}

impl TestUser {
    /// A user with a subject identifier (`sub`) and a username
    /// (`preferred_username`, also what `login_hint` and the sign-in page use).
    ///
    /// No email, no name, no groups, no extra claims until set.
    pub fn new(sub: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            username: username.into(),
            email: None,
            email_verified: Some(false),
            name: None,
            groups: Vec::new(),
            claims: Map::new(),
        }
    }

    /// One of the two default users: `alice`, sub `alice-sub-0001`,
    /// `alice@example.com` (verified), "Alice Admin", group
    /// `d48429bd-9f2a-47a2-a410-993f2a37876b`.
    pub fn alice() -> Self {
        Self::new("alice-sub-0001", "alice")
            .email("alice@example.com")
            .email_verified(true)
            .name("Alice Admin")
            .groups(["d48429bd-9f2a-47a2-a410-993f2a37876b"])
    }

    /// One of the two default users: `bob`, sub `bob-sub-0002`,
    /// `bob@example.com` (verified), "Bob Builder", group
    /// `7c2f0a4e-1111-4a3b-9c55-000000000001`.
    pub fn bob() -> Self {
        Self::new("bob-sub-0002", "bob")
            .email("bob@example.com")
            .email_verified(true)
            .name("Bob Builder")
            .groups(["7c2f0a4e-1111-4a3b-9c55-000000000001"])
    }

    /// Sets the `email` claim. `email_verified` stays `false` unless set with
    /// [`email_verified`](Self::email_verified).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the `email_verified` claim (sent only when an email is set).
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = Some(verified);
        self
    }

    /// Leaves the `email_verified` claim out, as Microsoft Entra ID does for
    /// work accounts: the email is then neither verified nor unverified.
    pub fn without_email_verified(mut self) -> Self {
        self.email_verified = None;
        self
    }

    /// Sets Entra's optional `xms_edov` claim ("email domain owner
    /// verified": the email's domain is verified in the user's tenant).
    /// The same as `.claim("xms_edov", json!(verified))`.
    pub fn xms_edov(self, verified: bool) -> Self {
        self.claim("xms_edov", json!(verified))
    }

    /// Sets the `name` claim.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the `groups` claim (group object IDs, as Entra ID sends them).
    /// An empty list leaves the claim out, as Entra does.
    pub fn groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Adds any other claim (`tid`, `roles`, `_claim_names` ...), sent in the
    /// ID token and by userinfo.
    ///
    /// Extra claims are applied after the profile claims, so they can replace
    /// `email`, `groups` and the like (for example an `email_verified` of the
    /// wrong type). They never replace the protocol claims (`iss`, `sub`,
    /// `aud`, `exp`, `iat`, `nonce`, `at_hash`, `auth_time`, `azp`): use a
    /// [`Misbehavior`](super::Misbehavior) for those.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// The subject identifier (`sub`).
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The same user under another `sub` (for misbehaviour).
    pub(super) fn with_sub(mut self, sub: String) -> Self {
        self.sub = sub;
        self
    }

    /// The username (`preferred_username`).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The email address, if set.
    pub fn email_address(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// The display name, if set.
    pub fn display_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The group ids set with [`groups`](Self::groups).
    pub(super) fn group_ids(&self) -> &[String] {
        &self.groups
    }

    /// Whether `hint` names this user: its username or its email address.
    pub(super) fn matches_hint(&self, hint: &str) -> bool {
        self.username == hint || self.email.as_deref() == Some(hint)
    }

    /// The profile claims (everything but `sub`), extra claims last.
    pub(super) fn profile_claims(&self) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("preferred_username".into(), json!(self.username));
        if let Some(email) = &self.email {
            claims.insert("email".into(), json!(email));
            if let Some(verified) = self.email_verified {
                claims.insert("email_verified".into(), json!(verified));
            }
        }
        if let Some(name) = &self.name {
            claims.insert("name".into(), json!(name));
        }
        if !self.groups.is_empty() {
            claims.insert("groups".into(), json!(self.groups));
        }
        claims.extend(self.extra_claims());
        claims
    }

    /// The claims added with [`claim`](Self::claim).
    pub(super) fn extra_claims(&self) -> Map<String, Value> {
        self.claims.clone()
    }
}

/// How a confidential [`TestClient`] authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-urlencoded client id
    /// and secret (RFC 6749 section 2.3.1).
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `client_secret_jwt`: a JWT assertion (RFC 7523) signed with HS256,
    /// HS384 or HS512 keyed with the secret, in `client_assertion`.
    SecretJwt,
}

/// The one authentication method a client is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthMethod {
    Basic,
    Post,
    None,
    SecretJwt,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
            AuthMethod::None => "none",
            AuthMethod::SecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// A client (relying party) registered at the [`TestProvider`](super::TestProvider).
///
/// A client with no [`redirect_uri`](Self::redirect_uri) accepts any
/// loopback redirect URI (`http://127.0.0.1:<any port>/<any path>`, also
/// `localhost` and `[::1]`), because tests bind random ports. Once one is
/// added, redirect URIs must match one of the registered ones exactly.
///
/// ```
/// use oidc_login::testing::{TestClient, TestClientAuth};
///
/// let app = TestClient::confidential("my-app", "s3cret", TestClientAuth::Post)
///     .redirect_uri("http://127.0.0.1:8080/auth/callback");
/// let spa = TestClient::public("my-spa");
/// # let _ = (app, spa);
/// ```
#[derive(Debug, Clone)]
pub struct TestClient {
    id: String,
    secret: Option<ClientSecret>,
    method: AuthMethod,
    redirect_uris: Vec<String>,
    /// The public key of a `private_key_jwt` client.
    public_jwk: Option<Value>,
    pkce_required: bool,
    implicit: bool,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// `roles` of its `client_credentials` access tokens.
    app_roles: Vec<String>,
}

impl TestClient {
    /// A confidential client with a secret, registered for exactly one
    /// authentication method; requests using another method are refused with
    /// `401 invalid_client`.
    pub fn confidential(
        id: impl Into<String>,
        secret: impl Into<String>,
        auth: TestClientAuth,
    ) -> Self {
        Self {
            id: id.into(),
            secret: Some(ClientSecret::new(secret)),
            method: match auth {
                TestClientAuth::Basic => AuthMethod::Basic,
                TestClientAuth::Post => AuthMethod::Post,
                TestClientAuth::SecretJwt => AuthMethod::SecretJwt,
            },
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            app_roles: Vec::new(),
            public_jwk: None,
            pkce_required: true,
            implicit: false,
        }
    }

    /// A client that authenticates with `private_key_jwt` (RFC 7523,
    /// OpenID Connect Core 9): a JWT assertion signed with the private key
    /// whose public half is `public_jwk` (an RSA, EC or OKP Ed25519 JWK,
    /// such as [`PrivateKeyJwt::public_jwk`](crate::PrivateKeyJwt::public_jwk)).
    ///
    /// The token endpoint checks the signature with this key only; a `kid`
    /// in the assertion must be the JWK's `kid` when the JWK has one, and an
    /// `x5t#S256` must be the JWK's `x5t#S256` when it has one.
    ///
    /// ```
    /// use oidc_login::PrivateKeyJwt;
    /// use oidc_login::testing::TestClient;
    ///
    /// # let pem = include_str!("../../tests/fixtures/keys/ec-p256.pem");
    /// let key = PrivateKeyJwt::from_pem(pem).with_kid("app-key");
    /// let client = TestClient::private_key_jwt("app", key.public_jwk().expect("a usable key"));
    /// # let _ = client;
    /// ```
    pub fn private_key_jwt(id: impl Into<String>, public_jwk: Value) -> Self {
        Self {
            id: id.into(),
            secret: None,
            method: AuthMethod::PrivateKeyJwt,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            app_roles: Vec::new(),
            public_jwk: Some(public_jwk),
            pkce_required: true,
            implicit: false,
        }
    }

    /// A public client (token endpoint auth method `none`): it sends only its
    /// `client_id`, and PKCE is what protects its codes.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: None,
            method: AuthMethod::None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            app_roles: Vec::new(),
            public_jwk: None,
            pkce_required: true,
            implicit: false,
        }
    }

    /// Registers a redirect URI (exact match). Call it again to add more.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Whether authorization requests must carry a PKCE S256
    /// `code_challenge` (default `true`). With `false`, a request without
    /// one is accepted and its code is redeemed without a `code_verifier`
    /// (one sent anyway is refused, as a downgrade); a request with one is
    /// still checked.
    pub fn pkce_required(mut self, required: bool) -> Self {
        self.pkce_required = required;
        self
    }

    /// Lets this client use the implicit flow: `response_type=id_token`
    /// with `response_mode=form_post` (the only response mode the provider
    /// offers for it) and a required `nonce`. The ID token comes in the
    /// form post, with no access token (so no `at_hash`). The metadata
    /// lists `id_token` among `response_types_supported` only when some
    /// client allows it.
    pub fn allow_implicit(mut self) -> Self {
        self.implicit = true;
        self
    }

    /// Registers a post-logout redirect URI (exact match) for
    /// `end_session`. A client with none accepts any http loopback URI,
    /// like its redirect URIs.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Registers the client's back-channel logout URI: its ID tokens then
    /// carry `sid`, and when a user's session at the provider ends
    /// (`end_session`, or [`TestProvider::backchannel_logout`](super::TestProvider::backchannel_logout))
    /// the provider POSTs a logout token there.
    pub fn backchannel_logout_uri(mut self, uri: impl Into<String>) -> Self {
        self.backchannel_logout_uri = Some(uri.into());
        self
    }

    /// The app roles (application permissions) of this client's
    /// `client_credentials` access tokens, in their `roles` claim, as Entra
    /// ID grants a daemon.
    ///
    /// ```
    /// use oidc_login::testing::{TestClient, TestClientAuth};
    ///
    /// let daemon = TestClient::confidential("nightly-job", "job-secret", TestClientAuth::Basic)
    ///     .app_roles(["Reports.Read"]);
    /// # let _ = daemon;
    /// ```
    pub fn app_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.app_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    pub(super) fn registered_app_roles(&self) -> &[String] {
        &self.app_roles
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn registered_backchannel_logout_uri(&self) -> Option<&str> {
        self.backchannel_logout_uri.as_deref()
    }

    /// Whether `uri` is an allowed post-logout redirect URI of this client.
    pub(super) fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        allowed_uri(&self.post_logout_redirect_uris, uri)
    }

    pub(super) fn requires_pkce(&self) -> bool {
        self.pkce_required
    }

    pub(super) fn allows_implicit(&self) -> bool {
        self.implicit
    }

    pub(super) fn secret(&self) -> Option<&ClientSecret> {
        self.secret.as_ref()
    }

    pub(super) fn method(&self) -> AuthMethod {
        self.method
    }

    pub(super) fn public_jwk(&self) -> Option<&Value> {
        self.public_jwk.as_ref()
    }

    pub(super) fn registered_redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// Whether `uri` is an allowed redirect URI of this client.
    pub(super) fn allows_redirect(&self, uri: &str) -> bool {
        allowed_uri(&self.redirect_uris, uri)
    }
}

/// One of `registered` exactly, or with none registered any http loopback URI.
fn allowed_uri(registered: &[String], uri: &str) -> bool {
    if !registered.is_empty() {
        return registered.iter().any(|registered| registered == uri);
    }
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    url.scheme() == "http"
        && loopback
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// Which claims the ID token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IdTokenClaimsMode {
    /// The protocol claims plus the user's profile: `preferred_username`,
    /// `email`, `email_verified`, `name`, `groups` and extra claims.
    #[default]
    Full,
    /// Only the protocol claims and the user's extra claims: username, email,
    /// name and groups come only from the userinfo endpoint. Exercises a
    /// client's userinfo path.
    Minimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_client_secret() {
        let client = TestClient::confidential("app", "hunter2-secret", TestClientAuth::Basic);
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app"));
    }

    #[test]
    fn loopback_leniency_and_exact_match() {
        let lenient = TestClient::public("spa");
        assert!(lenient.allows_redirect("http://127.0.0.1:1234/any/path?x=1"));
        assert!(lenient.allows_redirect("http://localhost/cb"));
        assert!(!lenient.allows_redirect("https://127.0.0.1/cb"));
        assert!(!lenient.allows_redirect("http://127.0.0.1/cb#frag"));
        assert!(!lenient.allows_redirect("http://localhost.example/cb"));

        let strict = TestClient::public("spa").redirect_uri("http://127.0.0.1:8080/cb");
        assert!(strict.allows_redirect("http://127.0.0.1:8080/cb"));
        assert!(!strict.allows_redirect("http://127.0.0.1:8080/cb/"));
        assert!(!strict.allows_redirect("http://127.0.0.1:8081/cb"));
    }

    #[test]
    fn extra_claims_come_last_in_the_profile() {
        let user = TestUser::alice().claim("email_verified", json!("true"));
        let claims = user.profile_claims();
        assert_eq!(claims["email_verified"], "true");
        assert_eq!(claims["preferred_username"], "alice");
        assert!(!claims.contains_key("sub"));
    }
}
