//! The provider's state: users, clients, keys, grants, misbehaviour, and
//! how ID tokens are made from them.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};

use super::entra::EntraMode;
use super::keys::{self, SigningKey, b64, b64_std, random_b64};
use super::misbehavior::Misbehavior;
use super::model::{IdTokenClaimsMode, TestClient, TestUser};
use super::recent::Recent;
use crate::Algorithm;

/// How long an authorization code can be redeemed.
pub(super) const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long access and ID tokens live, in seconds.
pub(super) const TOKEN_LIFETIME_SECS: u64 = 300;
/// The `iss` used by the issuer-related misbehaviours: starts with the real
/// issuer, so that a prefix comparison would accept it.
const WRONG_ISSUER_SUFFIX: &str = "/wrong-issuer";
/// The `aud` / `azp` of `WrongAudience` / `WrongAzp`.
const OTHER_CLIENT: &str = "some-other-client";

/// Everything the endpoints share with the `TestProvider` handle.
pub(super) struct Shared {
    pub(super) issuer: String,
    /// The issuer without a trailing `/`: endpoint URLs are `<base>/<name>`.
    pub(super) base: String,
    /// `http://127.0.0.1:<port>` of a port the provider holds with nothing
    /// listening: connections to it are refused.
    pub(super) closed_base: String,
    /// Audiences every ID token carries besides the client id.
    pub(super) extra_audiences: Vec<String>,
    /// `(client id, jti)` of client assertions seen, with their `exp`.
    pub(super) assertion_jtis: Mutex<HashMap<(String, String), u64>>,
    pub(super) alg: Algorithm,
    pub(super) iss_parameter: bool,
    /// Refreshed ID tokens repeat the login's `nonce`.
    pub(super) nonce_on_refresh: bool,
    claims_mode: IdTokenClaimsMode,
    pub(super) clients: Vec<TestClient>,
    /// Shared with the grants issued to them, which are many.
    pub(super) users: Mutex<Vec<Arc<TestUser>>>,
    /// Sign-ins not ended yet, by `sid`, oldest first.
    pub(super) sessions: Mutex<Recent<ProviderSession>>,
    pub(super) keys: Mutex<Keys>,
    misbehaviors: Mutex<Vec<Misbehavior>>,
    pub(super) grants: Mutex<Grants>,
    pub(super) jwks_requests: AtomicUsize,
    pub(super) discovery_requests: AtomicUsize,
    pub(super) token_requests: AtomicUsize,
    pub(super) logout_requests: AtomicUsize,
    pub(super) userinfo_requests: AtomicUsize,
    /// Entra ID mode (`entra.rs`).
    pub(super) entra: Option<EntraMode>,
    pub(super) graph_requests: AtomicUsize,
    /// The `securityEnabledOnly` of the last `getMemberObjects` request.
    pub(super) security_enabled_only: Mutex<Option<bool>>,
    /// The audience of access tokens asked without `resource` (then JWTs).
    pub(super) default_resource: Option<String>,
    pub(super) revocation_requests: AtomicUsize,
    /// `<token_type_hint>:<what was revoked>` of the latest revocations,
    /// oldest first, at most `access::REVOCATIONS_KEPT`.
    pub(super) revocations: Mutex<std::collections::VecDeque<String>>,
    /// Users' last authentications, for `max_age` and `acr_values` (`step_up.rs`).
    pub(super) step_up: super::step_up::StepUpState,
}

/// The current signing key and the extra keys some misbehaviours need.
pub(super) struct Keys {
    pub(super) current: Arc<SigningKey>,
    /// Signs `UnknownKid` tokens; never published.
    pub(super) unknown: Option<Arc<SigningKey>>,
    /// Published next to the current key for `NoKidMultipleKeys`.
    pub(super) decoy: Option<Arc<SigningKey>>,
    /// The attacker's key of `EmbeddedJwk`, published only at `/attacker-jwks`.
    pub(super) attacker: Option<Arc<SigningKey>>,
    /// The key of another type or curve of `KidOfAnotherKeyType`, published
    /// next to the current key.
    pub(super) mismatched: Option<Arc<SigningKey>>,
    /// The key of `SignsWith`, published next to the current key.
    pub(super) foreign: Option<Arc<SigningKey>>,
}

/// The grants issued, by code or token, oldest first. Codes are kept
/// twice their lifetime (a late redemption is told it expired, a repeated
/// one that it was used), access tokens their lifetime, refresh tokens
/// until [`MAX_REMEMBERED`](super::recent::MAX_REMEMBERED) newer ones push
/// them out.
pub(super) struct Grants {
    pub(super) codes: Recent<CodeGrant>,
    pub(super) access: Recent<AccessGrant>,
    pub(super) refresh: Recent<RefreshGrant>,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            codes: Recent::new(Some(CODE_LIFETIME * 2)),
            access: Recent::new(Some(Duration::from_secs(TOKEN_LIFETIME_SECS))),
            refresh: Recent::new(None),
        }
    }
}

pub(super) struct CodeGrant {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// `None` when the request had none (a client not requiring PKCE).
    pub(super) code_challenge: Option<String>,
    pub(super) nonce: String,
    pub(super) scope: String,
    pub(super) user: Arc<TestUser>,
    pub(super) auth_time: u64,
    pub(super) issued: Instant,
    pub(super) used: bool,
    pub(super) sid: String,
}

pub(super) struct AccessGrant {
    /// The client it was issued to (revocation checks it).
    pub(super) client_id: String,
    pub(super) user: Arc<TestUser>,
    pub(super) expires: Instant,
    /// The granted scope (Microsoft Graph checks it in Entra mode).
    pub(super) scope: String,
}

/// What an ID token is issued in answer to.
#[derive(Clone, Copy)]
pub(super) struct IdTokenContext<'a> {
    /// The `nonce` claim, if any.
    pub(super) nonce: Option<&'a str>,
    pub(super) auth_time: u64,
    /// The access token issued with it (for `at_hash`), if any.
    pub(super) access_token: Option<&'a str>,
    /// Whether this answers a refresh grant.
    pub(super) refresh: bool,
    /// The provider session the login belongs to.
    pub(super) sid: &'a str,
}

/// A sign-in at the provider (what `sid` names), ended by `end_session`
/// or [`TestProvider::backchannel_logout`](super::TestProvider::backchannel_logout).
#[derive(Clone, Debug)]
pub(super) struct ProviderSession {
    pub(super) sid: String,
    pub(super) sub: String,
    pub(super) client_id: String,
}

#[derive(Clone)]
pub(super) struct RefreshGrant {
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) user: Arc<TestUser>,
    pub(super) auth_time: u64,
    /// The login's nonce (Entra ID repeats it in refreshed ID tokens).
    pub(super) nonce: String,
    pub(super) sid: String,
}

/// The settings a `Shared` is made from.
pub(super) struct Settings {
    pub(super) issuer: String,
    pub(super) extra_audiences: Vec<String>,
    pub(super) alg: Algorithm,
    pub(super) iss_parameter: bool,
    /// Refreshed ID tokens repeat the login's `nonce`.
    pub(super) nonce_on_refresh: bool,
    pub(super) claims_mode: IdTokenClaimsMode,
    pub(super) clients: Vec<TestClient>,
    pub(super) users: Vec<TestUser>,
    pub(super) key: Arc<SigningKey>,
    pub(super) entra: Option<EntraMode>,
    /// A loopback address held with nothing listening.
    pub(super) closed: std::net::SocketAddr,
    pub(super) default_resource: Option<String>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one handler must not take the whole provider down.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Shared {
    pub(super) fn new(settings: Settings) -> Self {
        Self {
            base: settings.issuer.trim_end_matches('/').to_owned(),
            closed_base: format!("http://{}", settings.closed),
            issuer: settings.issuer,
            extra_audiences: settings.extra_audiences,
            assertion_jtis: Mutex::new(HashMap::new()),
            alg: settings.alg,
            iss_parameter: settings.iss_parameter,
            nonce_on_refresh: settings.nonce_on_refresh,
            claims_mode: settings.claims_mode,
            clients: settings.clients,
            users: Mutex::new(settings.users.into_iter().map(Arc::new).collect()),
            sessions: Mutex::new(Recent::new(None)),
            step_up: super::step_up::StepUpState::default(),
            keys: Mutex::new(Keys {
                current: settings.key,
                unknown: None,
                decoy: None,
                attacker: None,
                mismatched: None,
                foreign: None,
            }),
            misbehaviors: Mutex::new(Vec::new()),
            grants: Mutex::new(Grants::default()),
            jwks_requests: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            logout_requests: AtomicUsize::new(0),
            userinfo_requests: AtomicUsize::new(0),
            entra: settings.entra,
            graph_requests: AtomicUsize::new(0),
            security_enabled_only: Mutex::new(None),
            default_resource: settings.default_resource,
            revocation_requests: AtomicUsize::new(0),
            revocations: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    // ----- handle-side operations -------------------------------------

    pub(super) fn misbehave(&self, misbehavior: Misbehavior) {
        self.prepare_keys(&misbehavior);
        let mut active = lock(&self.misbehaviors);
        let kind = std::mem::discriminant(&misbehavior);
        if let Some(slot) = active
            .iter_mut()
            .find(|m| std::mem::discriminant(*m) == kind)
        {
            *slot = misbehavior;
        } else {
            active.push(misbehavior);
        }
    }

    /// Makes the extra key a misbehaviour needs now, not inside a request.
    fn prepare_keys(&self, misbehavior: &Misbehavior) {
        let mut keys = lock(&self.keys);
        let (slot, alg) = match misbehavior {
            Misbehavior::UnknownKid => (&mut keys.unknown, self.alg),
            Misbehavior::NoKidMultipleKeys => (&mut keys.decoy, self.alg),
            // An HMAC provider has no public key type to imitate: an attacker
            // then uses ES256.
            Misbehavior::EmbeddedJwk if self.alg.is_hmac() => {
                (&mut keys.attacker, Algorithm::ES256)
            }
            Misbehavior::EmbeddedJwk => (&mut keys.attacker, self.alg),
            Misbehavior::KidOfAnotherKeyType => (&mut keys.mismatched, other_key_type(self.alg)),
            Misbehavior::SignsWith(alg) => (&mut keys.foreign, *alg),
            _ => return,
        };
        if slot.as_ref().is_none_or(|key| key.alg() != alg) {
            *slot = Some(Arc::new(SigningKey::generate(alg)));
        }
    }

    pub(super) fn behave(&self) {
        lock(&self.misbehaviors).clear();
    }

    pub(super) fn misbehaviors(&self) -> Vec<Misbehavior> {
        lock(&self.misbehaviors).clone()
    }

    pub(super) fn rotate_keys(&self) {
        let fresh = Arc::new(SigningKey::generate(self.alg));
        lock(&self.keys).current = fresh;
    }

    pub(super) fn add_user(&self, user: TestUser) {
        let user = Arc::new(user);
        let mut users = lock(&self.users);
        if let Some(existing) = users.iter_mut().find(|u| u.username() == user.username()) {
            *existing = user;
        } else {
            users.push(user);
        }
    }

    pub(super) fn current_key(&self) -> Arc<SigningKey> {
        lock(&self.keys).current.clone()
    }

    /// The HMAC key for tokens addressed to `aud`: that client's secret, or
    /// the first confidential client's.
    pub(super) fn hmac_secret_for(&self, aud: Option<&str>) -> Vec<u8> {
        let by_aud = aud
            .and_then(|aud| self.client(aud))
            .and_then(TestClient::secret);
        by_aud
            .or_else(|| self.clients.iter().find_map(TestClient::secret))
            .map(|secret| secret.expose_secret().as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Signs `claims` with the current key, no misbehaviour.
    pub(super) fn sign_plain(&self, claims: &Value, hmac_secret: &[u8]) -> String {
        let key = self.current_key();
        compact(&key, header_for(&key, true), claims, hmac_secret)
    }

    // ----- request-side helpers ----------------------------------------

    pub(super) fn is(&self, misbehavior: &Misbehavior) -> bool {
        lock(&self.misbehaviors).contains(misbehavior)
    }

    pub(super) fn find<T>(&self, pick: impl Fn(&Misbehavior) -> Option<T>) -> Option<T> {
        lock(&self.misbehaviors).iter().find_map(pick)
    }

    pub(super) fn wrong_issuer(&self) -> String {
        format!("{}{WRONG_ISSUER_SUFFIX}", self.issuer)
    }

    /// The URL of the endpoint `name` (`token`, `jwks`...).
    pub(super) fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    pub(super) fn client(&self, id: &str) -> Option<&TestClient> {
        self.clients.iter().find(|client| client.id() == id)
    }

    pub(super) fn user_by_username(&self, username: &str) -> Option<Arc<TestUser>> {
        lock(&self.users)
            .iter()
            .find(|user| user.username() == username)
            .cloned()
    }

    pub(super) fn usernames(&self) -> Vec<String> {
        lock(&self.users)
            .iter()
            .map(|user| user.username().to_owned())
            .collect()
    }

    /// Starts a provider session for this sign-in: its `sid`.
    pub(super) fn new_session(&self, user: &TestUser, client: &TestClient) -> String {
        let sid = crate::secret::random_token::<16>();
        lock(&self.sessions).insert(
            sid.clone(),
            ProviderSession {
                sid: sid.clone(),
                sub: user.sub().to_owned(),
                client_id: client.id().to_owned(),
            },
        );
        sid
    }

    pub(super) fn user_by_hint(&self, hint: &str) -> Option<Arc<TestUser>> {
        lock(&self.users)
            .iter()
            .find(|user| user.matches_hint(hint))
            .cloned()
    }

    /// The ID token for a token response, with every active misbehaviour.
    pub(super) fn id_token(
        &self,
        client: &TestClient,
        user: &TestUser,
        context: IdTokenContext<'_>,
    ) -> String {
        let IdTokenContext {
            nonce,
            auth_time,
            access_token,
            refresh,
            sid,
        } = context;
        let active = self.misbehaviors();
        let has = |m: &Misbehavior| active.contains(m);
        let now = unix_now();

        let mut claims = match self.claims_mode {
            IdTokenClaimsMode::Full => user.profile_claims(),
            IdTokenClaimsMode::Minimal => user.extra_claims(),
        };
        // Protocol claims are the provider's, never a user's extra claim.
        for name in [
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "nonce",
            "auth_time",
            "at_hash",
            "sid",
        ] {
            claims.remove(name);
        }
        let mut set = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        set(
            "iss",
            json!(if has(&Misbehavior::WrongIssuerInToken) {
                self.wrong_issuer()
            } else {
                self.token_issuer(user)
            }),
        );
        if !has(&Misbehavior::NoSub) {
            set("sub", json!(user.sub()));
        }
        let extra_aud = active.iter().find_map(|m| match m {
            Misbehavior::ExtraUntrustedAudience(aud) => Some(aud.clone()),
            _ => None,
        });
        let mut audiences = vec![client.id().to_owned()];
        audiences.extend(self.extra_audiences.iter().cloned());
        audiences.extend(extra_aud);
        if has(&Misbehavior::WrongAudience) {
            set("aud", json!(OTHER_CLIENT));
        } else if audiences.len() > 1 {
            set("aud", json!(audiences));
            if !has(&Misbehavior::NoAzp) {
                set("azp", json!(client.id()));
            }
        } else {
            set("aud", json!(client.id()));
        }
        if has(&Misbehavior::WrongAzp) {
            set("azp", json!(OTHER_CLIENT));
        }
        let (iat, exp) = if refresh && has(&Misbehavior::RefreshStaleIssuedAt) {
            (now - 600, now + TOKEN_LIFETIME_SECS)
        } else if has(&Misbehavior::Expired) {
            (now - 900, now - 600)
        } else if has(&Misbehavior::IssuedInFuture) {
            (now + 600, now + 600 + TOKEN_LIFETIME_SECS)
        } else {
            (now, now + TOKEN_LIFETIME_SECS)
        };
        if !has(&Misbehavior::NoIat) {
            set("iat", json!(iat));
        }
        if !has(&Misbehavior::NoExp) {
            set("exp", json!(exp));
        }
        if has(&Misbehavior::NotYetValid) {
            set("nbf", json!(now + 600));
        }
        if let Some(nonce) = nonce {
            if has(&Misbehavior::WrongNonce) {
                set("nonce", json!("not-the-nonce-you-sent"));
            } else if !has(&Misbehavior::NoNonce) {
                set("nonce", json!(nonce));
            }
        }
        if has(&Misbehavior::AuthTimeOld) {
            set("auth_time", json!(now - 86_400));
        } else if !has(&Misbehavior::AuthTimeMissing) {
            set("auth_time", json!(auth_time));
        }
        // The provider session, for clients that take back-channel logouts.
        if client.registered_backchannel_logout_uri().is_some() {
            set("sid", json!(sid));
        }
        let key = self.current_key();
        // No access token (the implicit flow's `id_token`): no `at_hash`.
        if let Some(access_token) = access_token {
            let hashed = if has(&Misbehavior::WrongAtHash) {
                "not-the-access-token"
            } else {
                access_token
            };
            set("at_hash", json!(keys::token_hash(key.alg(), hashed)));
        }
        super::step_up::decorate(self, sid, &mut claims);
        if let Some(mode) = &self.entra {
            super::entra::decorate(self, mode, user, &active, &mut claims);
        }

        let claims = Value::Object(claims);
        let secret = client
            .secret()
            .map(|secret| secret.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        let signing = active.iter().find(|m| m.is_signing()).cloned();
        self.sign_misbehaving(&key, &claims, &secret, signing.as_ref())
    }

    fn sign_misbehaving(
        &self,
        key: &SigningKey,
        claims: &Value,
        secret: &[u8],
        misbehavior: Option<&Misbehavior>,
    ) -> String {
        self.sign_typed(key, claims, secret, misbehavior, "JWT")
    }

    /// Signs an access token (`typ` `at+jwt`, or Entra's `JWT`) with the
    /// current key and every active signing misbehaviour, as ID tokens are.
    pub(super) fn sign_access_token(&self, claims: &Value, secret: &[u8], typ: &str) -> String {
        let key = self.current_key();
        let signing = self.misbehaviors().into_iter().find(|m| m.is_signing());
        self.sign_typed(&key, claims, secret, signing.as_ref(), typ)
    }

    fn sign_typed(
        &self,
        key: &SigningKey,
        claims: &Value,
        secret: &[u8],
        misbehavior: Option<&Misbehavior>,
        typ: &str,
    ) -> String {
        let header_for = |key: &SigningKey, with_kid: bool| header_typed(key, with_kid, typ);
        let Some(misbehavior) = misbehavior else {
            return compact(key, header_for(key, true), claims, secret);
        };
        match misbehavior {
            Misbehavior::BadSignature => {
                let token = compact(key, header_for(key, true), claims, secret);
                let (input, signature) = token.rsplit_once('.').expect("a JWS has three parts");
                let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(signature)
                    .expect("we encoded it");
                let middle = signature.len() / 2;
                signature[middle] ^= 0x01;
                format!("{input}.{}", b64(signature))
            }
            Misbehavior::AlgNone => {
                let header = json!({"alg": "none", "typ": typ});
                keys::compact_jws(&header, claims, |_| Vec::new())
            }
            Misbehavior::AlgNoneSpelled(spelling) => {
                let header = json!({"alg": spelling, "typ": typ});
                keys::compact_jws(&header, claims, |_| Vec::new())
            }
            Misbehavior::KidOfAnotherKeyType => {
                let other = lock(&self.keys)
                    .mismatched
                    .clone()
                    .expect("misbehave() made the key");
                // The provider's `alg`, the other key's `kid` and signature.
                let mut header = header_for(key, true);
                header["kid"] = json!(other.kid());
                compact(&other, header, claims, secret)
            }
            Misbehavior::SignsWith(_) => {
                let foreign = lock(&self.keys)
                    .foreign
                    .clone()
                    .expect("misbehave() made the key");
                compact(&foreign, header_for(&foreign, true), claims, secret)
            }
            Misbehavior::HmacWithPublicKey => {
                let mut header = json!({"alg": "HS256", "typ": typ});
                if !key.is_hmac() {
                    header["kid"] = json!(key.kid());
                }
                let pem = key.public_key_pem().unwrap_or_default();
                keys::compact_jws(&header, claims, |input| {
                    keys::hmac_sign(Algorithm::HS256, pem.as_bytes(), input)
                })
            }
            Misbehavior::UnknownKid => {
                let unknown = lock(&self.keys)
                    .unknown
                    .clone()
                    .expect("misbehave() made the key");
                let mut header = header_for(&unknown, true);
                header["kid"] = json!(unknown.kid());
                compact(&unknown, header, claims, b"not-the-client-secret")
            }
            Misbehavior::NoKid | Misbehavior::NoKidMultipleKeys => {
                compact(key, header_for(key, false), claims, secret)
            }
            Misbehavior::EmbeddedJwk => {
                let attacker = lock(&self.keys)
                    .attacker
                    .clone()
                    .expect("misbehave() made the key");
                let mut header = header_for(&attacker, true);
                let elsewhere = self.endpoint("attacker-jwks");
                header["jwk"] = attacker.public_jwk().unwrap_or(Value::Null);
                header["x5c"] = json!(
                    attacker
                        .self_signed_certificate()
                        .map(b64_std)
                        .into_iter()
                        .collect::<Vec<_>>()
                );
                header["jku"] = json!(elsewhere);
                header["x5u"] = json!(elsewhere);
                compact(&attacker, header, claims, b"")
            }
            Misbehavior::Jwe => {
                let header = json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": key.kid()});
                format!(
                    "{}.{}.{}.{}.{}",
                    b64(header.to_string()),
                    random_b64::<256>(),
                    random_b64::<12>(),
                    random_b64::<200>(),
                    random_b64::<16>(),
                )
            }
            _ => compact(key, header_for(key, true), claims, secret),
        }
    }
}

/// The algorithm of `KidOfAnotherKeyType`'s key: another key type than
/// `alg`'s, or for ECDSA another curve.
fn other_key_type(alg: Algorithm) -> Algorithm {
    match alg {
        Algorithm::ES256 => Algorithm::ES384,
        _ => Algorithm::ES256,
    }
}

/// The JOSE header for `key`: `alg`, `typ`, and `kid` unless HMAC or
/// `with_kid` is false.
fn header_for(key: &SigningKey, with_kid: bool) -> Value {
    header_typed(key, with_kid, "JWT")
}

/// [`header_for`] with another `typ` (`at+jwt` for access tokens).
fn header_typed(key: &SigningKey, with_kid: bool, typ: &str) -> Value {
    let mut header = json!({"alg": key.alg().as_str(), "typ": typ});
    if with_kid && !key.is_hmac() {
        header["kid"] = json!(key.kid());
    }
    header
}

fn compact(key: &SigningKey, header: Value, claims: &Value, secret: &[u8]) -> String {
    keys::compact_jws(&header, claims, |input| key.sign(input, secret))
}

#[cfg(test)]
mod tests {
    use super::super::model::TestClientAuth;
    use super::super::recent::MAX_REMEMBERED;
    use super::*;

    fn shared() -> Shared {
        Shared::new(Settings {
            issuer: "http://127.0.0.1:1".into(),
            extra_audiences: Vec::new(),
            alg: Algorithm::ES256,
            iss_parameter: true,
            nonce_on_refresh: false,
            claims_mode: IdTokenClaimsMode::Full,
            clients: vec![TestClient::confidential("c", "s", TestClientAuth::Basic)],
            users: vec![TestUser::alice()],
            key: SigningKey::pooled(Algorithm::ES256),
            entra: None,
            closed: "127.0.0.1:9".parse().unwrap(),
            default_resource: None,
        })
    }

    #[test]
    fn sessions_are_bounded_and_the_oldest_is_ended_first() {
        let shared = shared();
        let user = shared.user_by_hint("alice").expect("alice");
        let client = shared.client("c").expect("the client");
        let first = shared.new_session(&user, client);
        let second = shared.new_session(&user, client);
        for _ in 0..MAX_REMEMBERED - 1 {
            shared.new_session(&user, client);
        }
        let sessions = lock(&shared.sessions);
        assert_eq!(sessions.len(), MAX_REMEMBERED);
        assert!(
            !sessions.contains_key(&first),
            "the oldest sign-in is ended"
        );
        assert!(sessions.contains_key(&second));
    }

    #[test]
    fn grants_are_bounded() {
        let shared = shared();
        let user = shared.user_by_hint("alice").expect("alice");
        let mut grants = lock(&shared.grants);
        for i in 0..=MAX_REMEMBERED {
            grants.access.insert(
                format!("access-{i}"),
                AccessGrant {
                    client_id: "c".into(),
                    user: user.clone(),
                    expires: Instant::now() + Duration::from_secs(TOKEN_LIFETIME_SECS),
                    scope: "openid".into(),
                },
            );
            grants.refresh.insert(
                format!("refresh-{i}"),
                RefreshGrant {
                    client_id: "c".into(),
                    scope: "openid".into(),
                    user: user.clone(),
                    auth_time: 0,
                    nonce: "n".into(),
                    sid: "sid".into(),
                },
            );
        }
        assert_eq!(grants.access.len(), MAX_REMEMBERED);
        assert_eq!(grants.refresh.len(), MAX_REMEMBERED);
        assert!(!grants.access.contains_key("access-0"));
        assert!(!grants.refresh.contains_key("refresh-0"));
        assert!(
            grants
                .refresh
                .contains_key(&format!("refresh-{MAX_REMEMBERED}"))
        );
        // One user value shared by every grant, not a copy per grant.
        assert_eq!(Arc::strong_count(&user), 2 * MAX_REMEMBERED + 2);
    }
}
