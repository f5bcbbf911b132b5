//! Logins in flight kept in sealed cookies instead of the session
//! ([`LoginRoutes::pending_logins_in_cookie`](super::LoginRoutes::pending_logins_in_cookie)),
//! so that an anonymous `GET /login` keeps nothing on the server.
//!
//! One cookie per login (browser tabs would race over one), named after a
//! tag of its `state`, so the callback finds its own:
//! `__Host-oidc_login_pending_<tag>` on https, `oidc_login_pending_<tag>`
//! on plain http. Its value is the [`PendingLogin`] and the time it was
//! sealed, as JSON, sealed by the `cookie` crate's private jar: AES-256-GCM
//! with a random nonce, the cookie's name as associated data, so a value
//! moved under another name does not open.
//!
//! A cookie can be sent again (the browser's back button, or an attacker
//! who copied it), where a session's pending login is gone once taken: so
//! the callback records each login it takes as used, in the client's
//! [`SharedState`], and refuses it a second time, on every instance that
//! shares that state.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use ::axum::http::header::{COOKIE, SET_COOKIE};
use ::axum::http::{HeaderMap, HeaderValue};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Limits;
use crate::error::{ConfigError, SharedStateError};
use crate::flow::PendingLogin;
use crate::secret::constant_time_eq;
use crate::shared_state::{SharedState, StateKey, later};

/// The name of a login's cookie on https: `__Host-` makes the browser
/// refuse it unless it is `Secure`, has `Path=/` and no `Domain`, so a
/// sibling subdomain cannot plant one.
const HOST_PREFIX: &str = "__Host-oidc_login_pending_";
/// The same on plain http (loopback), where `__Host-` cannot be used.
const PLAIN_PREFIX: &str = "oidc_login_pending_";
/// Base64url characters of SHA-256(state) in a cookie's name: 96 bits.
const TAG_LEN: usize = 16;
/// Logins in flight per browser, as in the session mode.
const MAX_PENDING: usize = super::session::MAX_PENDING;
/// The most login cookies `/login` opens to find the oldest: whatever a
/// request carries, the work per request stays bounded. (Only the
/// browser's own logins count against it; more than this many are junk.)
const MAX_EXAMINED: usize = 16;
/// The most cookies of one login's name the callback tries to open: on
/// plain http (loopback only) cookies are not scoped by port, so another
/// local app may plant one of the same name; `__Host-` rules that out on
/// https.
const MAX_SAME_NAME: usize = 4;
/// What the `cookie` crate's `Key` needs.
const MIN_KEY_LEN: usize = 64;
/// The largest cookie (name and value) browsers are sure to keep.
const MAX_COOKIE_LEN: usize = 4096;
/// The most bytes (names and values) of all a browser's login cookies
/// together: they are sent with every request to the app, and proxies
/// refuse large `Cookie` headers (nginx: 8 KiB), so a hostile page that
/// opens `/login` with long `return_to`s must not lock the user out.
const MAX_TOTAL_LEN: usize = 4096;

/// The secret that seals logins in flight in their cookies
/// ([`LoginRoutes::pending_logins_in_cookie`](super::LoginRoutes::pending_logins_in_cookie)).
///
/// **Several instances**: every instance that may receive a callback must
/// have the same key, from the same 64 random bytes or more
/// (`openssl rand -base64 64`), for example in an environment variable
/// ([`from_env`](Self::from_env)). With [`generate`](Self::generate), the
/// key lives in this process only: a login started on one instance and
/// finished on another is refused (`no_pending_login`), and so is every
/// login in flight when the process restarts.
///
/// `Debug` shows no key material.
///
/// ```
/// use oidc_login::axum::PendingCookieKey;
///
/// // Shared by every instance: `openssl rand -base64 64`, whitespace ignored.
/// let shared = PendingCookieKey::from_base64(
///     "Y4Ktv5J9xLz3x3wR7r0VqF1f0tC2yQm3oH8bN6pW4dE5sA9uJ1kL7gT2vX0zI3cQ
///      8eR6nM4hB1jD5fG7aS9wK2lP0oU3iY6tV8xZ1qC4bN7mE5rT2yH9gJ6fD3sA0w==",
/// )?;
/// // One instance alone (this process only):
/// let single = PendingCookieKey::generate();
/// assert!(PendingCookieKey::from_bytes(&[7; 32]).is_err());
/// assert_eq!(format!("{shared:?}"), "PendingCookieKey([redacted])");
/// # let _ = single;
/// # Ok::<(), oidc_login::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PendingCookieKey(Key);

impl fmt::Debug for PendingCookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingCookieKey([redacted])")
    }
}

impl PendingCookieKey {
    /// A key from at least 64 random bytes (the first 64 are used).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `pending_cookie_key` when there are
    /// fewer than 64 bytes; the message says how to make a key, and never
    /// shows the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(ConfigError::Invalid {
                field: "pending_cookie_key",
                reason: format!(
                    "is {} bytes; it must be at least {MIN_KEY_LEN} random bytes: make one with `openssl rand -base64 64` and give every app instance the same",
                    bytes.len()
                ),
            });
        }
        Ok(Self(Key::from(bytes)))
    }

    /// A key from base64 text (standard alphabet, padding optional) of at
    /// least 64 bytes, such as `openssl rand -base64 64` prints; white
    /// space (its line breaks) is ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `pending_cookie_key` when the text is
    /// not base64 or holds fewer than 64 bytes; the text is never shown.
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        let compact: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect::<String>(),
        );
        let compact = compact.trim_end_matches('=');
        let bytes = STANDARD_NO_PAD
            .decode(compact)
            .map(Zeroizing::new)
            .map_err(|_| ConfigError::Invalid {
                field: "pending_cookie_key",
                reason: "is not base64: make one with `openssl rand -base64 64`".into(),
            })?;
        Self::from_bytes(&bytes)
    }

    /// A key from the environment variable `variable`, in base64 (see
    /// [`from_base64`](Self::from_base64)).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `pending_cookie_key` when the
    /// variable is not set or holds no usable key.
    pub fn from_env(variable: &str) -> Result<Self, ConfigError> {
        let value = Zeroizing::new(std::env::var(variable).map_err(|_| ConfigError::Invalid {
            field: "pending_cookie_key",
            reason: format!(
                "the environment variable `{variable}` is not set (or not UTF-8): set it to the output of `openssl rand -base64 64`, the same on every app instance"
            ),
        })?);
        Self::from_base64(&value)
    }

    /// A fresh random key for **this process only**: with several app
    /// instances, a login started on one and finished on another is
    /// refused (`no_pending_login`), and a restart refuses the logins in
    /// flight. Give every instance the same key instead
    /// ([`from_env`](Self::from_env)).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; MIN_KEY_LEN]);
        getrandom::fill(bytes.as_mut()).expect("the operating system's random source failed");
        Self(Key::from(bytes.as_ref()))
    }
}

/// What a login's cookie holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Sealed {
    pub(crate) login: PendingLogin,
    /// Unix seconds. A cookie's `Max-Age` is the browser's promise, not
    /// this app's: the age is checked against this.
    pub(crate) sealed_at: i64,
}

/// Where the callback's look for its login ended.
pub(crate) enum Outcome {
    /// The login, checked and not used before; the route records it as
    /// used ([`UsedLogin::record`]) once the provider redeemed its code.
    Login(Box<PendingLogin>, UsedLogin),
    /// No usable login: why, for the log.
    Refused(&'static str),
    /// The shared state failed: the login is refused (fail closed).
    StateFailed(SharedStateError),
}

/// The record that a login taken from its cookie was used: written only
/// once the provider redeemed the login's code, so that a flood of
/// callbacks with cookies of the attacker's own `/login`s and junk codes
/// writes nothing (each record costs a code the provider issued). A replay
/// is still refused before the token endpoint when the record is there
/// ([`PendingCookies::take`] looks first), and of two callbacks racing with
/// one cookie, only one records it (`insert_new`), on every instance that
/// shares the state.
pub(crate) struct UsedLogin {
    key: StateKey,
    sealed_at: i64,
    expires_at: SystemTime,
}

impl UsedLogin {
    /// Records the login as used: `Ok(false)` when it already was (the
    /// callback lost a race with another use of the same cookie).
    pub(crate) async fn record(&self, used: &dyn SharedState) -> Result<bool, SharedStateError> {
        used.insert_new(&self.key, self.sealed_at, self.expires_at)
            .await
    }
}

/// What the callback found, and the cookie removal its answer must carry
/// (whenever the login's cookie was sent, whatever the outcome).
pub(crate) struct Taken {
    pub(crate) outcome: Outcome,
    pub(crate) removal: Option<HeaderValue>,
}

/// The sealing of logins in flight of one set of login routes.
#[derive(Clone)]
pub(crate) struct PendingCookies {
    key: Key,
    secure: bool,
}

impl fmt::Debug for PendingCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCookies")
            .field("key", &"[redacted]")
            .field("secure", &self.secure)
            .finish()
    }
}

impl PendingCookies {
    /// With `secure` when the redirect URI is https (as the session cookie).
    pub(crate) fn new(key: PendingCookieKey, secure: bool) -> Self {
        Self { key: key.0, secure }
    }

    fn prefix(&self) -> &'static str {
        if self.secure {
            HOST_PREFIX
        } else {
            PLAIN_PREFIX
        }
    }

    /// The name of the cookie of the login whose `state` is `state`.
    pub(crate) fn name(&self, state: &str) -> String {
        let hash = digest::digest(&digest::SHA256, state.as_bytes());
        let mut tag = URL_SAFE_NO_PAD.encode(hash.as_ref());
        tag.truncate(TAG_LEN);
        format!("{}{tag}", self.prefix())
    }

    fn seal(&self, name: String, sealed: &Sealed) -> Cookie<'static> {
        let json =
            Zeroizing::new(serde_json::to_string(sealed).expect("a pending login serializes"));
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key)
            .add(Cookie::new(name.clone(), json.as_str().to_owned()));
        jar.get(&name).expect("just added").clone()
    }

    fn unseal(&self, cookie: Cookie<'static>) -> Option<Sealed> {
        let opened = CookieJar::new().private(&self.key).decrypt(cookie)?;
        let json = Zeroizing::new(opened.value().to_owned());
        serde_json::from_str(&json).ok()
    }

    /// The `Set-Cookie` values of `GET /login`: the oldest logins in
    /// flight removed (those that do not open first), so that with the new
    /// one at most [`MAX_PENDING`] remain, of at most [`MAX_TOTAL_LEN`]
    /// bytes together, then the new one's cookie, which lives `lifetime`.
    /// `None` when the cookie would be too long for a browser to keep.
    pub(crate) fn start(
        &self,
        headers: &HeaderMap,
        login: PendingLogin,
        lifetime: Duration,
        now: SystemTime,
    ) -> Option<Vec<HeaderValue>> {
        let name = self.name(login.state().expose_secret());
        let sealed = Sealed {
            login,
            sealed_at: unix_seconds(now),
        };
        let mut cookie = self.seal(name, &sealed);
        if cookie.name().len() + cookie.value().len() > MAX_COOKIE_LEN {
            return None;
        }
        self.attributes(&mut cookie);
        cookie.set_max_age(time::Duration::try_from(lifetime).ok());

        // Ours, up to a bound, each name once (a name sent twice counts
        // as its newest that opens): the oldest first, those that do not
        // open (another key, junk) before all.
        let mut by_name: HashMap<String, (Option<i64>, usize)> = HashMap::new();
        for found in self
            .request_cookies(headers)
            .filter(|found| found.name() != cookie.name())
            .take(MAX_EXAMINED)
        {
            let name = found.name().to_owned();
            let len = name.len() + found.value().len();
            let sealed_at = self.unseal(found).map(|s| s.sealed_at);
            let kept = by_name.entry(name).or_default();
            *kept = (kept.0.max(sealed_at), kept.1.max(len));
        }
        let mut in_flight: Vec<(Option<i64>, String, usize)> = by_name
            .into_iter()
            .map(|(name, (at, len))| (at, name, len))
            .collect();
        // The newest first: kept while they fit beside the new one.
        in_flight.sort_by(|a, b| b.cmp(a));
        let mut room = MAX_TOTAL_LEN.saturating_sub(cookie.name().len() + cookie.value().len());
        let mut kept = 1;
        let mut set: Vec<HeaderValue> = Vec::new();
        for (_, name, len) in in_flight {
            if kept < MAX_PENDING && len <= room {
                kept += 1;
                room -= len;
            } else {
                set.push(self.removal(name));
            }
        }
        set.reverse(); // the oldest removed first
        set.push(header_value(&cookie));
        Some(set)
    }

    /// Whether the request carries the cookie of the login whose `state`
    /// is `state` (unopened: for the `form_post` re-submit only).
    pub(crate) fn has(&self, headers: &HeaderMap, state: &str) -> bool {
        let name = self.name(state);
        self.request_cookies(headers)
            .any(|cookie| cookie.name() == name)
    }

    /// The callback's login: the cookie of `state`'s name, opened, its
    /// `state` equal (in constant time), not older than its provider's
    /// `pending_login_lifetime` (nor sealed later than the clock skew
    /// allows; `limits_of` gives the limits of the provider a login
    /// names), and not used before, as recorded in `used` (the route
    /// records it there once the provider redeemed the code: see
    /// [`UsedLogin`]). A cookie that was sent is removed whatever the
    /// outcome.
    pub(crate) async fn take(
        &self,
        headers: &HeaderMap,
        state: &str,
        limits_of: impl Fn(Option<&str>) -> Limits,
        used: &dyn SharedState,
        now: SystemTime,
    ) -> Taken {
        let name = self.name(state);
        // Collected, not held across the `await` below.
        let sent: Vec<Cookie<'static>> = self
            .request_cookies(headers)
            .filter(|cookie| cookie.name() == name)
            .take(MAX_SAME_NAME)
            .collect();
        if sent.is_empty() {
            return Taken {
                outcome: Outcome::Refused("no cookie of this login was sent"),
                removal: None,
            };
        }
        let opened = sent.into_iter().find_map(|cookie| self.unseal(cookie));
        let removal = Some(self.removal(name));
        let refused = |why| Taken {
            outcome: Outcome::Refused(why),
            removal: removal.clone(),
        };
        let Some(sealed) = opened else {
            return refused(
                "the login's cookie does not open (sealed with another key, altered, or moved from another login's cookie)",
            );
        };
        if !constant_time_eq(
            sealed.login.state().expose_secret().as_bytes(),
            state.as_bytes(),
        ) {
            return refused("the login's cookie holds another `state`");
        }
        // The limits of the provider the login was started with (the
        // route refuses it if that is not its own).
        let limits = limits_of(sealed.login.provider());
        let lifetime = limits.pending_login_lifetime;
        let skew = limits.clock_skew;
        if !fresh(sealed.sealed_at, unix_seconds(now), lifetime, skew) {
            return refused("the login's cookie is older than `pending_login_lifetime_seconds`");
        }
        // Kept until no instance (whose clock may be `skew` behind) would
        // take the cookie any more.
        let sealed_at = SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(sealed.sealed_at).unwrap_or(0));
        let expires_at = later(later(sealed_at, lifetime), skew);
        let key = used_key(state);
        match used.get(&key).await {
            Ok(None) => Taken {
                outcome: Outcome::Login(
                    Box::new(sealed.login),
                    UsedLogin {
                        key,
                        sealed_at: sealed.sealed_at,
                        expires_at,
                    },
                ),
                removal,
            },
            Ok(Some(_)) => refused(REPLAYED),
            Err(error) => Taken {
                outcome: Outcome::StateFailed(error),
                removal,
            },
        }
    }

    /// The request's cookies of this crate's pending-login name, lazily
    /// (no more is parsed than the caller takes).
    fn request_cookies<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> impl Iterator<Item = Cookie<'static>> + 'h {
        let prefix = self.prefix();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(move |cookie| cookie.name().starts_with(prefix))
            .map(Cookie::into_owned)
    }

    fn attributes(&self, cookie: &mut Cookie<'static>) {
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.secure);
        cookie.set_path("/");
    }

    /// The `Set-Cookie` value that removes the cookie `name`.
    fn removal(&self, name: String) -> HeaderValue {
        let mut cookie = Cookie::new(name, "");
        self.attributes(&mut cookie);
        cookie.make_removal();
        header_value(&cookie)
    }
}

/// Whether a cookie sealed at `sealed_at` may still be used at `now`
/// (Unix seconds): not older than `lifetime`, and not sealed later than
/// `skew` ahead of this clock.
fn fresh(sealed_at: i64, now: i64, lifetime: Duration, skew: Duration) -> bool {
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    let skew = i64::try_from(skew.as_secs()).unwrap_or(i64::MAX);
    let age = now.saturating_sub(sealed_at);
    age <= lifetime && age >= -skew
}

/// Why a login recorded as used is refused, for the log.
pub(crate) const REPLAYED: &str = "the login's cookie was used before (replayed)";

/// The record of a login taken at a callback: the SHA-256 of its `state`.
fn used_key(state: &str) -> StateKey {
    let hash = digest::digest(&digest::SHA256, state.as_bytes());
    StateKey::new("pending_login_used", &[hash.as_ref()])
}

fn unix_seconds(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Names are ours or echo a request cookie's name (a header value that
    // was already valid text), values base64, attributes fixed.
    HeaderValue::try_from(cookie.to_string()).expect("a cookie of this crate is a valid header")
}

/// The request's `Set-Cookie` values, appended to `response`.
pub(crate) fn append(response: &mut ::axum::response::Response, values: Vec<HeaderValue>) {
    let headers = response.headers_mut();
    for value in values {
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::secret::{Nonce, PkceVerifier, State};
    use crate::shared_state::{MemoryState, StateFuture};

    const NOW: i64 = 1_700_000_000;

    fn at(seconds: i64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn key(byte: u8) -> PendingCookieKey {
        PendingCookieKey::from_bytes(&[byte; 64]).unwrap()
    }

    fn cookies(secure: bool) -> PendingCookies {
        PendingCookies::new(key(1), secure)
    }

    fn login(state: &str) -> PendingLogin {
        PendingLogin {
            issuer: "https://idp.example".into(),
            provider: None,
            state: State::new(state),
            nonce: Nonce::new("nonce"),
            pkce_verifier: PkceVerifier::new("verifier"),
            return_to: None,
            max_age: None,
            created_at: NOW,
            step_up: None,
        }
    }

    fn sealed(jar: &PendingCookies, name: String, state: &str, at: i64) -> (String, String) {
        let cookie = jar.seal(
            name,
            &Sealed {
                login: login(state),
                sealed_at: at,
            },
        );
        (cookie.name().to_owned(), cookie.value().to_owned())
    }

    /// `n` logins in flight, `state-0` the oldest, sealed a second apart.
    fn in_flight(jar: &PendingCookies, n: i64) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                let state = format!("state-{i}");
                sealed(jar, jar.name(&state), &state, NOW - 100 + i)
            })
            .collect()
    }

    fn request(pairs: &[(String, String)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let text = pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        headers.insert(COOKIE, HeaderValue::try_from(text).unwrap());
        headers
    }

    fn parsed(values: &[HeaderValue]) -> Vec<Cookie<'static>> {
        values
            .iter()
            .map(|value| Cookie::parse(value.to_str().unwrap().to_owned()).unwrap())
            .collect()
    }

    /// The names of the cookies `set` removes, in order.
    fn removed(set: &[Cookie<'static>]) -> Vec<String> {
        set.iter()
            .filter(|c| c.max_age() == Some(time::Duration::ZERO))
            .map(|c| c.name().to_owned())
            .collect()
    }

    fn limits() -> Limits {
        Limits::default()
    }

    /// A state whose clock is [`NOW`].
    fn state() -> MemoryState {
        MemoryState::default().with_clock(|| at(NOW))
    }

    /// A shared state that fails every call, counting them.
    #[derive(Debug, Default)]
    struct Down(AtomicUsize);

    impl SharedState for Down {
        fn insert_new<'a>(
            &'a self,
            _: &'a StateKey,
            _: i64,
            _: SystemTime,
        ) -> StateFuture<'a, bool> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(SharedStateError::Full { capacity: 0 }) })
        }
        fn put<'a>(&'a self, _: &'a StateKey, _: i64, _: SystemTime) -> StateFuture<'a, ()> {
            Box::pin(async { Err(SharedStateError::Full { capacity: 0 }) })
        }
        fn get<'a>(&'a self, _: &'a StateKey) -> StateFuture<'a, Option<i64>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(SharedStateError::Full { capacity: 0 }) })
        }
        fn remove<'a>(&'a self, _: &'a StateKey) -> StateFuture<'a, ()> {
            Box::pin(async { Err(SharedStateError::Full { capacity: 0 }) })
        }
    }

    fn refused(taken: &Taken) -> &'static str {
        match taken.outcome {
            Outcome::Refused(why) => why,
            Outcome::Login(..) => panic!("the login was taken"),
            Outcome::StateFailed(_) => panic!("the state failed"),
        }
    }

    #[test]
    fn a_short_key_is_refused_saying_how_to_make_one_and_never_showing_it() {
        let error = PendingCookieKey::from_bytes(b"hunter2-hunter2-hunter2").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("pending_cookie_key"), "{shown}");
        assert!(shown.contains("openssl rand -base64 64"), "{shown}");
        assert!(shown.contains("at least 64"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(PendingCookieKey::from_bytes(&[0; 63]).is_err());
        assert!(PendingCookieKey::from_bytes(&[0; 64]).is_ok());

        let error = PendingCookieKey::from_base64("c2hvcnQtc2VjcmV0LXZhbHVl").unwrap_err();
        assert!(
            error.to_string().contains("openssl rand -base64 64"),
            "{error}"
        );
        let error = PendingCookieKey::from_base64("not*base64*hunter2").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("not base64"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_base64_key_reads_as_openssl_prints_it() {
        // `openssl rand -base64 64`: 88 characters over two lines.
        let bytes: Vec<u8> = (0..64).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let printed = format!("{}\n{}\n", &text[..64], &text[64..]);
        let from_text = PendingCookieKey::from_base64(&printed).unwrap();
        let from_bytes = PendingCookieKey::from_bytes(&bytes).unwrap();
        assert!(from_text.0 == from_bytes.0);
        let generated = (PendingCookieKey::generate(), PendingCookieKey::generate());
        assert!(generated.0.0 != generated.1.0, "two random keys");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let bytes = [0x41u8; 64];
        let key = PendingCookieKey::from_bytes(&bytes).unwrap();
        assert_eq!(format!("{key:?}"), "PendingCookieKey([redacted])");
        let jar = PendingCookies::new(key, true);
        let shown = format!("{jar:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains("AAAA") && !shown.contains("65"), "{shown}");
    }

    #[test]
    fn names_carry_a_tag_of_the_state_and_host_only_on_https() {
        let https = cookies(true).name("state-one");
        let http = cookies(false).name("state-one");
        assert!(https.starts_with("__Host-oidc_login_pending_"), "{https}");
        assert_eq!(https.len(), HOST_PREFIX.len() + TAG_LEN);
        assert_eq!(
            http,
            format!("oidc_login_pending_{}", &https[HOST_PREFIX.len()..])
        );
        assert_ne!(https, cookies(true).name("state-two"));
        assert!(!https.contains("state"), "the tag is a hash, not the state");
    }

    #[test]
    fn a_sealed_login_opens_only_with_its_key_under_its_own_name() {
        let jar = cookies(true);
        // Long enough not to turn up in random base64 by chance ("s1" does,
        // one time in ten).
        let state = "the-state-of-login-one";
        let name = jar.name(state);
        let (_, value) = sealed(&jar, name.clone(), state, NOW);
        assert!(
            !value.contains(state) && !value.contains("verifier"),
            "sealed"
        );
        let open = jar
            .unseal(Cookie::new(name.clone(), value.clone()))
            .unwrap();
        assert_eq!(open.login.state().expose_secret(), state);
        assert_eq!(open.sealed_at, NOW);

        let other_key = PendingCookies::new(key(2), true);
        assert!(
            other_key
                .unseal(Cookie::new(name.clone(), value.clone()))
                .is_none()
        );
        let moved = jar.name("s2");
        assert!(jar.unseal(Cookie::new(moved, value.clone())).is_none());
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&value)
            .unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(jar.unseal(Cookie::new(name, tampered)).is_none());
    }

    #[test]
    fn login_sets_one_cookie_with_the_attributes() {
        let jar = cookies(true);
        let lifetime = Duration::from_secs(600);
        let set = jar
            .start(&HeaderMap::new(), login("s1"), lifetime, at(NOW))
            .unwrap();
        let set = parsed(&set);
        assert_eq!(set.len(), 1);
        let cookie = &set[0];
        assert_eq!(cookie.name(), jar.name("s1"));
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.max_age(), Some(time::Duration::seconds(600)));
        assert_eq!(cookie.domain(), None);
        let plain = cookies(false)
            .start(&HeaderMap::new(), login("s1"), lifetime, at(NOW))
            .unwrap();
        assert_ne!(parsed(&plain)[0].secure(), Some(true));
    }

    #[test]
    fn the_longest_return_to_still_fits_a_cookie() {
        let mut long = login("s1");
        long.return_to = Some(format!("/{}", "a".repeat(2047)));
        long.provider = Some("p".repeat(64));
        let set = cookies(true)
            .start(&HeaderMap::new(), long, Duration::from_secs(600), at(NOW))
            .expect("fits");
        let cookie = &parsed(&set)[0];
        assert!(cookie.name().len() + cookie.value().len() <= MAX_COOKIE_LEN);
    }

    #[test]
    fn beyond_five_in_flight_the_oldest_go_those_that_do_not_open_first() {
        let jar = cookies(true);
        let mut sent: Vec<(String, String)> = in_flight(&jar, 6);
        sent.push((jar.name("junk"), "not-sealed".into()));
        sent.rotate_left(3);
        let set = jar
            .start(
                &request(&sent),
                login("new"),
                Duration::from_secs(600),
                at(NOW),
            )
            .unwrap();
        let set = parsed(&set);
        let removed = removed(&set);
        assert_eq!(
            removed,
            [jar.name("junk"), jar.name("state-0"), jar.name("state-1")]
        );
        assert_eq!(set.last().unwrap().name(), jar.name("new"));
        assert_eq!(set.len(), 4, "three removed, one set: five remain");
    }

    /// Logins with long `return_to`s (a hostile page can open `/login`
    /// with any): the newest that fit in [`MAX_TOTAL_LEN`] beside the new
    /// one are kept, so the `Cookie` header stays small.
    #[test]
    fn the_login_cookies_together_stay_under_the_total_bound() {
        let jar = cookies(true);
        let long = |state: &str, at: i64| {
            let mut login = login(state);
            login.return_to = Some(format!("/{}", "a".repeat(1_200)));
            let cookie = jar.seal(
                jar.name(state),
                &Sealed {
                    login,
                    sealed_at: at,
                },
            );
            (cookie.name().to_owned(), cookie.value().to_owned())
        };
        let sent: Vec<(String, String)> = (0..4)
            .map(|i| long(&format!("state-{i}"), NOW - 100 + i))
            .collect();
        // About 1.7 KB each, sealed: beside the new one, one fits.
        let each = sent[0].0.len() + sent[0].1.len();
        assert!(
            2 * each <= MAX_TOTAL_LEN && 3 * each > MAX_TOTAL_LEN,
            "{each}"
        );
        let mut new = login("new");
        new.return_to = Some(format!("/{}", "b".repeat(1_200)));
        let set = jar
            .start(&request(&sent), new, Duration::from_secs(600), at(NOW))
            .unwrap();
        let set = parsed(&set);
        let removed = removed(&set);
        assert_eq!(
            removed,
            [
                jar.name("state-0"),
                jar.name("state-1"),
                jar.name("state-2")
            ],
            "the oldest go"
        );
        let kept: usize = sent
            .iter()
            .filter(|(name, _)| !removed.contains(name))
            .map(|(name, value)| name.len() + value.len())
            .sum();
        let new = set.last().unwrap();
        assert!(kept + new.name().len() + new.value().len() <= MAX_TOTAL_LEN);
    }

    #[test]
    fn a_login_too_long_for_a_cookie_sets_nothing() {
        let mut long = login("s1");
        long.return_to = Some(format!("/{}", "a".repeat(MAX_COOKIE_LEN)));
        assert!(
            cookies(true)
                .start(&HeaderMap::new(), long, Duration::from_secs(600), at(NOW))
                .is_none()
        );
    }

    #[test]
    fn a_name_sent_twice_counts_once() {
        let jar = cookies(true);
        let mut sent: Vec<(String, String)> = in_flight(&jar, 4);
        // A planted copy of the oldest's name (on plain http, another app
        // on the same host could): still four logins, the new one makes five.
        sent.push((jar.name("state-0"), "planted".into()));
        let set = jar
            .start(
                &request(&sent),
                login("new"),
                Duration::from_secs(600),
                at(NOW),
            )
            .unwrap();
        assert_eq!(parsed(&set).len(), 1, "nothing removed");
    }

    #[test]
    fn a_flood_of_junk_cookies_costs_a_bounded_amount() {
        let jar = cookies(true);
        let junk: Vec<(String, String)> = (0..800)
            .map(|i| (format!("{HOST_PREFIX}{i:016}"), "A".repeat(60)))
            .collect();
        let headers = request(&junk);
        assert_eq!(jar.request_cookies(&headers).count(), 800);
        let set = jar
            .start(&headers, login("new"), Duration::from_secs(600), at(NOW))
            .unwrap();
        // 16 opened; with the new one at most 5 remain: 12 removed, 1 set.
        assert_eq!(set.len(), MAX_EXAMINED + 1 - MAX_PENDING + 1);
    }

    /// The login `taken` holds, recorded as used as the route does once
    /// the provider redeemed its code.
    async fn record(taken: &Taken, used: &dyn SharedState) -> bool {
        match &taken.outcome {
            Outcome::Login(_, login) => login.record(used).await.unwrap(),
            _ => panic!("no login taken"),
        }
    }

    #[tokio::test]
    async fn the_callback_takes_a_login_once_and_records_only_what_opened() {
        let jar = cookies(true);
        let used = state();
        let (name, value) = sealed(&jar, jar.name("s1"), "s1", NOW - 10);
        let headers = request(&[(name.clone(), value)]);

        let taken = jar.take(&headers, "s1", |_| limits(), &used, at(NOW)).await;
        assert!(
            matches!(taken.outcome, Outcome::Login(ref l, _) if l.state().expose_secret() == "s1")
        );
        assert!(used.is_empty(), "recorded only once the code is redeemed");
        // A callback racing with this one, with the same cookie, takes it
        // too; only one of them records it.
        let racing = jar.take(&headers, "s1", |_| limits(), &used, at(NOW)).await;
        assert!(record(&taken, &used).await);
        assert!(!record(&racing, &used).await, "the race is lost");
        let removal = Cookie::parse(taken.removal.unwrap().to_str().unwrap().to_owned()).unwrap();
        assert_eq!(removal.name(), name);
        assert_eq!(removal.max_age(), Some(time::Duration::ZERO));

        let again = jar.take(&headers, "s1", |_| limits(), &used, at(NOW)).await;
        assert!(
            refused(&again).contains("used before"),
            "{}",
            refused(&again)
        );
        assert!(again.removal.is_some(), "removed again");
        assert_eq!(used.len(), 1);

        // Not sent: nothing to remove.
        let none = jar
            .take(&HeaderMap::new(), "s1", |_| limits(), &used, at(NOW))
            .await;
        assert!(refused(&none).contains("no cookie"));
        assert!(none.removal.is_none());
    }

    #[tokio::test]
    async fn forged_cookies_leave_no_record() {
        let jar = cookies(true);
        let used = state();
        let name = jar.name("s1");
        let (_, other_keys) = sealed(&PendingCookies::new(key(9), true), name.clone(), "s1", NOW);
        for value in ["junk".to_owned(), other_keys] {
            let headers = request(&[(name.clone(), value)]);
            let taken = jar.take(&headers, "s1", |_| limits(), &used, at(NOW)).await;
            assert!(
                refused(&taken).contains("does not open"),
                "{}",
                refused(&taken)
            );
            assert!(taken.removal.is_some());
        }
        assert!(used.is_empty(), "nothing recorded for forged cookies");
        let down = Down::default();
        let headers = request(&[(name, "junk".into())]);
        let taken = jar.take(&headers, "s1", |_| limits(), &down, at(NOW)).await;
        assert!(refused(&taken).contains("does not open"));
        assert_eq!(down.0.load(Ordering::SeqCst), 0, "the state was not asked");
    }

    /// On plain http another local app may plant cookies of a login's
    /// name: the login's own still opens behind a few, and a flood of them
    /// is refused after [`MAX_SAME_NAME`] tries.
    #[tokio::test]
    async fn planted_cookies_of_the_same_name_are_tried_a_bounded_number_of_times() {
        let jar = cookies(false);
        let used = state();
        let (name, value) = sealed(&jar, jar.name("s1"), "s1", NOW);
        let planted = |n: usize| -> Vec<(String, String)> {
            (0..n)
                .map(|i| (name.clone(), format!("planted-{i}")))
                .collect()
        };
        let mut sent = planted(MAX_SAME_NAME - 1);
        sent.push((name.clone(), value.clone()));
        let taken = jar
            .take(&request(&sent), "s1", |_| limits(), &used, at(NOW))
            .await;
        assert!(matches!(taken.outcome, Outcome::Login(..)));

        let mut sent = planted(MAX_SAME_NAME);
        sent.push((name, value));
        let taken = jar
            .take(&request(&sent), "s1", |_| limits(), &used, at(NOW))
            .await;
        assert!(refused(&taken).contains("does not open"));
        assert!(taken.removal.is_some());
        assert!(used.is_empty());
    }

    #[tokio::test]
    async fn an_old_cookie_is_refused_whatever_its_max_age_said() {
        let jar = cookies(true);
        let used = state();
        let lifetime = limits().pending_login_lifetime.as_secs() as i64;
        let skew = limits().clock_skew.as_secs() as i64;
        for (sealed_at, fresh) in [
            (NOW - lifetime, true),
            (NOW - lifetime - 1, false),
            (NOW + skew, true),
            (NOW + skew + 1, false),
        ] {
            let state = format!("s-{sealed_at}");
            let (name, value) = sealed(&jar, jar.name(&state), &state, sealed_at);
            let headers = request(&[(name, value)]);
            let taken = jar
                .take(&headers, &state, |_| limits(), &used, at(NOW))
                .await;
            match (fresh, &taken.outcome) {
                (true, Outcome::Login(..)) => assert!(record(&taken, &used).await),
                (false, Outcome::Refused(why)) => assert!(why.contains("older"), "{why}"),
                _ => panic!("sealed at now{:+}: fresh {fresh}", sealed_at - NOW),
            }
        }
        assert_eq!(used.len(), 2, "only the fresh ones recorded");
    }

    #[tokio::test]
    async fn a_cookie_holding_another_state_is_refused() {
        // Only the key's holder can seal one; the check holds anyway.
        let jar = cookies(true);
        let used = state();
        let (name, value) = sealed(&jar, jar.name("asked"), "another", NOW);
        let headers = request(&[(name, value)]);
        let taken = jar
            .take(&headers, "asked", |_| limits(), &used, at(NOW))
            .await;
        assert!(refused(&taken).contains("another `state`"));
        assert!(used.is_empty());
    }

    #[tokio::test]
    async fn a_failing_shared_state_refuses_the_login() {
        let jar = cookies(true);
        let down = Down::default();
        let (name, value) = sealed(&jar, jar.name("s1"), "s1", NOW);
        let headers = request(&[(name, value)]);
        let taken = jar.take(&headers, "s1", |_| limits(), &down, at(NOW)).await;
        assert!(matches!(taken.outcome, Outcome::StateFailed(_)));
        assert!(taken.removal.is_some());
        assert_eq!(down.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_record_outlives_every_instance_that_would_take_the_cookie() {
        static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(NOW);
        let used = MemoryState::default().with_clock(|| at(CLOCK.load(Ordering::SeqCst)));
        let jar = cookies(true);
        let (name, value) = sealed(&jar, jar.name("s1"), "s1", NOW);
        let headers = request(&[(name, value)]);
        let taken = jar.take(&headers, "s1", |_| limits(), &used, at(NOW)).await;
        assert!(record(&taken, &used).await);
        // An instance whose clock is the skew behind takes the cookie until
        // this clock reads sealed_at + lifetime + skew: the record lives
        // until then, and no longer.
        let last = NOW + (limits().pending_login_lifetime + limits().clock_skew).as_secs() as i64;
        CLOCK.store(last - 1, Ordering::SeqCst);
        assert_eq!(used.get(&used_key("s1")).await.unwrap(), Some(NOW));
        CLOCK.store(last, Ordering::SeqCst);
        assert_eq!(used.get(&used_key("s1")).await.unwrap(), None);
    }
}
