//! The security records that must hold across app instances, behind one
//! small trait: [`SharedState`], with [`MemoryState`] as the default for one
//! process.
//!
//! The crate keeps these kinds of record in it: the `jti`s of accepted
//! back-channel logout tokens ([`Client::verify_logout_token`](crate::Client::verify_logout_token)),
//! the break-glass failure counters ([`BreakGlass`](crate::BreakGlass)),
//! and, in the axum integration, the back-channel logouts and local
//! sign-outs the extractors check, and the logins taken from sealed
//! cookies (`LoginRoutes::pending_logins_in_cookie`), so a replay is
//! refused. Each is a small keyed entry with an
//! expiry; the only operation that must be atomic is "create this entry
//! unless it exists" ([`SharedState::insert_new`]), on which replay refusal
//! and the break-glass limit rest.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use siphasher::sip128::SipHasher13;

use crate::error::SharedStateError;

/// What the [`SharedState`] methods return: a boxed future, so the trait
/// can be used as `Arc<dyn SharedState>`. Implement the methods with
/// `Box::pin(async move { ... })`.
pub type StateFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SharedStateError>> + Send + 'a>>;

/// The name of one record: a kind (`logout_jti`, `break_glass_failure`,
/// `signed_out`, `logout_sid`, `logout_sub`, `pending_login_used`) and the values that tell
/// records of that kind apart, encoded without ambiguity.
///
/// `Debug` shows the kind only: the values include user ids, token ids,
/// client addresses and sign-in ids.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StateKey {
    kind: &'static str,
    bytes: Vec<u8>,
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl StateKey {
    /// The key of kind `kind` for `parts`. Each part is length-prefixed,
    /// so no two lists of parts share a key.
    ///
    /// ```
    /// use oidc_login::StateKey;
    ///
    /// let key = StateKey::new("logout_jti", &[b"https://idp.example", b"jti-1"]);
    /// assert_eq!(key.kind(), "logout_jti");
    /// assert_ne!(key, StateKey::new("logout_jti", &[b"https://idp.example", b"jti-2"]));
    /// assert_ne!(
    ///     StateKey::new("k", &[b"ab", b"c"]).as_bytes(),
    ///     StateKey::new("k", &[b"a", b"bc"]).as_bytes(),
    /// );
    /// assert_eq!(format!("{key:?}"), r#"StateKey { kind: "logout_jti", .. }"#);
    /// ```
    pub fn new(kind: &'static str, parts: &[&[u8]]) -> Self {
        let mut bytes = Vec::with_capacity(
            8 + kind.len() + parts.iter().map(|part| 8 + part.len()).sum::<usize>(),
        );
        for part in std::iter::once(kind.as_bytes()).chain(parts.iter().copied()) {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part);
        }
        Self { kind, bytes }
    }

    /// The kind of record.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The whole key, kind included, as bytes: derive the store's own
    /// record name from these (a store shared with untrusted data should
    /// name records with a keyed hash of them, as
    /// `oidc_login::axum::SessionStoreState` does).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Where the crate keeps the security records that must hold across app
/// instances: used `jti`s of logout tokens, break-glass failure counters,
/// back-channel logouts, local sign-outs, and the logins taken from sealed
/// cookies.
///
/// [`MemoryState`] (the default) keeps them in this process only: with
/// several app instances, each instance then accepts a replayed logout
/// token once, allows its own break-glass failures, and does not see the
/// sign-outs the others recorded. Share one store between the instances
/// instead: in the axum integration, `oidc_login::axum::SessionStoreState`
/// keeps the records in the app's `tower-sessions` store (Redis, SQL...);
/// or implement this trait on your own store.
///
/// # What an implementation must guarantee
///
/// - **One state for every instance**, with clocks that agree (NTP): the
///   records carry times written by one instance and read by another.
/// - [`insert_new`](Self::insert_new) is **atomic** across every instance:
///   when several calls for one key run at once, at most one returns
///   `true`. (Redis `SET NX`, a SQL insert on a primary key.)
/// - **No entry is dropped before it expires**, even under memory pressure
///   (for Redis, a `maxmemory-policy` of `noeviction`): a dropped entry
///   would accept a replay, forget a failure, or revive a session that was
///   signed out. When it cannot store an entry, fail with an error; the
///   crate then refuses what depended on it.
/// - An entry is **live until `expires_at`**; [`get`](Self::get) returns
///   live entries only. An expired entry not yet removed may still make
///   [`insert_new`](Self::insert_new) return `false`: the crate never
///   reuses a key after its entry has expired.
///
/// Used as `Arc<dyn SharedState>`; implement the methods with
/// `Box::pin(async move { ... })`.
pub trait SharedState: Send + Sync + fmt::Debug + 'static {
    /// Stores `value` under `key` until `expires_at`, unless a live entry
    /// is there: `true` when this call stored it, `false` when the key was
    /// taken. Atomic (see the trait's docs).
    fn insert_new<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, bool>;

    /// Stores `value` under `key` until `expires_at`, replacing any entry.
    fn put<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, ()>;

    /// The value of the live entry under `key`, if there is one.
    fn get<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, Option<i64>>;

    /// Removes the entry under `key`, if there is one.
    fn remove<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, ()>;

    /// Whether the records live in this process only (so several app
    /// instances do not share them). Default `false`.
    fn is_per_process(&self) -> bool {
        false
    }
}

impl<T: SharedState + ?Sized> SharedState for Arc<T> {
    fn is_per_process(&self) -> bool {
        (**self).is_per_process()
    }

    fn insert_new<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, bool> {
        (**self).insert_new(key, value, expires_at)
    }

    fn put<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, ()> {
        (**self).put(key, value, expires_at)
    }

    fn get<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, Option<i64>> {
        (**self).get(key)
    }

    fn remove<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, ()> {
        (**self).remove(key)
    }
}

/// The in-memory [`SharedState`]: the default, for **one process**. Other
/// processes (app instances) do not see its records; see
/// [`SharedState`] for what to use with several.
///
/// Bounded: it holds at most [`capacity`](Self::with_capacity) live entries
/// ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) unless set) **of each kind
/// of record** ([`StateKey::kind`]: used logout `jti`s, logout and sign-out
/// records, break-glass failures, used logins), about 100 bytes each,
/// whatever the keys' length (so about 10 MB per kind at the default, and
/// six kinds today). Expired entries are removed when a kind's table is
/// full (at most once a second); when every entry there is still live, a
/// new one is refused with [`SharedStateError::Full`] rather than evicting
/// one (which would forget a used token or a failure). A full kind never
/// refuses another: a flood of one kind of record cannot stop a sign-out
/// from being recorded. Only validly signed logout tokens, sign-outs of
/// signed-in users, break-glass failures (themselves capped) and, with
/// logins in flight in sealed cookies
/// (`LoginRoutes::pending_logins_in_cookie`), logins whose code the
/// provider redeemed create entries, so an anonymous flood cannot fill
/// them: each used-login entry costs a login at the provider, and lives
/// for the login's lifetime (10 minutes by default, plus the clock skew).
/// An app that expects more than the capacity of logins in that time needs
/// a larger capacity, or a shared store
/// (`oidc_login::axum::SessionStoreState` on Redis).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_login::SharedStateError> {
/// use std::time::{Duration, SystemTime};
/// use oidc_login::{MemoryState, SharedState, StateKey};
///
/// let state = MemoryState::default();
/// let key = StateKey::new("example", &[b"one"]);
/// let later = SystemTime::now() + Duration::from_secs(60);
/// assert!(state.insert_new(&key, 7, later).await?);
/// assert!(!state.insert_new(&key, 8, later).await?, "taken");
/// assert_eq!(state.get(&key).await?, Some(7));
/// # Ok(()) }
/// ```
pub struct MemoryState {
    /// By kind of record ([`StateKey::kind`]), each kind bounded on its
    /// own: the keyed hash of the key → the entry, every entry the same
    /// small size. See [`MemoryState::slot`].
    entries: Mutex<HashMap<&'static str, Kind>>,
    /// SipHash-1-3 under a random key of this state's own.
    hasher: SipHasher13,
    capacity: usize,
    clock: fn() -> SystemTime,
}

/// The entries of one kind of record.
#[derive(Debug, Default)]
struct Kind {
    entries: HashMap<u128, Entry>,
    /// When its expired entries were last removed: at most once a second
    /// while it is full, so that a flood against a full kind does not scan
    /// the whole table, under the lock every lookup takes, on each attempt.
    pruned_at: Option<SystemTime>,
}

/// How often a full kind may be scanned for expired entries.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: i64,
    expires_at: SystemTime,
}

impl fmt::Debug for MemoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryState")
            .field("entries", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryState {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryState {
    /// The most live entries of one kind a [`MemoryState::default`] holds.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty state holding at most `capacity` live entries (at least 1)
    /// of each kind of record.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            hasher: SipHasher13::new_with_key(&random_key()),
            capacity: capacity.max(1),
            clock: SystemTime::now,
        }
    }

    /// Replaces the clock entries expire by, for tests that need time to
    /// pass.
    pub fn with_clock(mut self, now: fn() -> SystemTime) -> Self {
        self.clock = now;
        self
    }

    /// How many entries it holds, of every kind, expired ones not yet
    /// removed included.
    pub fn len(&self) -> usize {
        self.lock().values().map(|kind| kind.entries.len()).sum()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Kind>> {
        // A panic while the lock was held cannot leave an entry half written.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `key`: its 128-bit SipHash-1-3 under this state's random
    /// key: a lookup (one per signed-in request) costs an eighth of what it
    /// did with SHA-256. Two keys sharing a slot would share an entry: with
    /// the key secret and per process nobody can aim for that, and at 128
    /// bits it does not happen by chance (about 2^-95 for a full table).
    /// Even then it mostly fails closed: another key's sign-out or logout
    /// record ends a session, its `jti` or failure record refuses a logout
    /// token or counts one failure more; only a `put` could shorten the
    /// other record's life.
    fn slot(&self, key: &StateKey) -> u128 {
        self.hasher.hash(key.as_bytes()).into()
    }

    /// Stores an entry, replacing any under the slot unless `only_new` and a
    /// live one is there; `Ok(false)` when it was there.
    fn store(
        &self,
        key: &StateKey,
        value: i64,
        expires_at: SystemTime,
        only_new: bool,
    ) -> Result<bool, SharedStateError> {
        let now = (self.clock)();
        let slot = self.slot(key);
        let mut kinds = self.lock();
        let kind = kinds.entry(key.kind()).or_default();
        let entries = &mut kind.entries;
        let live = entries.get(&slot).is_some_and(|e| e.expires_at > now);
        if only_new && live {
            return Ok(false);
        }
        if !entries.contains_key(&slot) && entries.len() >= self.capacity {
            let due = kind.pruned_at.is_none_or(|at| {
                now.duration_since(at)
                    .map_or(true, |since| since >= PRUNE_EVERY)
            });
            if due {
                entries.retain(|_, entry| entry.expires_at > now);
                kind.pruned_at = Some(now);
            }
            if entries.len() >= self.capacity {
                return Err(SharedStateError::Full {
                    capacity: self.capacity,
                });
            }
        }
        entries.insert(slot, Entry { value, expires_at });
        Ok(true)
    }
}

impl SharedState for MemoryState {
    fn is_per_process(&self) -> bool {
        true
    }

    fn insert_new<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, bool> {
        let stored = self.store(key, value, expires_at, true);
        Box::pin(async move { stored })
    }

    fn put<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, ()> {
        let stored = self.store(key, value, expires_at, false).map(drop);
        Box::pin(async move { stored })
    }

    fn get<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, Option<i64>> {
        let now = (self.clock)();
        let slot = self.slot(key);
        let value = self
            .lock()
            .get(key.kind())
            .and_then(|kind| kind.entries.get(&slot))
            .filter(|entry| entry.expires_at > now)
            .map(|entry| entry.value);
        Box::pin(async move { Ok(value) })
    }

    fn remove<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, ()> {
        let slot = self.slot(key);
        if let Some(kind) = self.lock().get_mut(key.kind()) {
            kind.entries.remove(&slot);
        }
        Box::pin(async move { Ok(()) })
    }
}

/// A fresh key for [`MemoryState`]'s slot hash.
fn random_key() -> [u8; 16] {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).expect("the operating system's random source failed");
    key
}

/// Unix milliseconds, saturating: the values the crate stores are times.
#[cfg(any(feature = "axum", feature = "break-glass"))]
pub(crate) fn unix_ms(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// `now + lifetime`, or a century on for a lifetime past the clock's range.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn later(now: SystemTime, lifetime: std::time::Duration) -> SystemTime {
    now.checked_add(lifetime)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    fn key(name: &str) -> StateKey {
        StateKey::new("test", &[name.as_bytes()])
    }

    // One clock per test: tests run in parallel.
    static NOW_A: AtomicU64 = AtomicU64::new(0);
    static NOW_B: AtomicU64 = AtomicU64::new(0);

    fn clock_a() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_A.load(Ordering::SeqCst))
    }

    fn clock_b() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_B.load(Ordering::SeqCst))
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[tokio::test]
    async fn entries_are_new_once_until_they_expire() {
        NOW_A.store(1_000_000, Ordering::SeqCst);
        let state = MemoryState::default().with_clock(clock_a);
        assert!(state.insert_new(&key("a"), 1, at(1_000_010)).await.unwrap());
        assert!(!state.insert_new(&key("a"), 2, at(1_000_010)).await.unwrap());
        assert_eq!(state.get(&key("a")).await.unwrap(), Some(1));
        assert_eq!(state.get(&key("b")).await.unwrap(), None);

        NOW_A.store(1_000_010, Ordering::SeqCst);
        assert_eq!(state.get(&key("a")).await.unwrap(), None, "expired");
        assert!(state.insert_new(&key("a"), 3, at(1_000_020)).await.unwrap());
        assert_eq!(state.get(&key("a")).await.unwrap(), Some(3));

        state.put(&key("a"), 4, at(1_000_020)).await.unwrap();
        assert_eq!(state.get(&key("a")).await.unwrap(), Some(4));
        state.remove(&key("a")).await.unwrap();
        assert_eq!(state.get(&key("a")).await.unwrap(), None);
        assert!(state.insert_new(&key("a"), 5, at(1_000_020)).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_table_refuses_rather_than_evicts() {
        NOW_B.store(2_000_000, Ordering::SeqCst);
        let state = MemoryState::with_capacity(3).with_clock(clock_b);
        for name in ["a", "b"] {
            assert!(
                state
                    .insert_new(&key(name), 0, at(2_000_100))
                    .await
                    .unwrap()
            );
        }
        assert!(state.insert_new(&key("c"), 0, at(2_000_005)).await.unwrap());
        let full = state.insert_new(&key("d"), 0, at(2_000_100)).await;
        assert!(
            matches!(full, Err(SharedStateError::Full { capacity: 3 })),
            "{full:?}"
        );
        assert!(state.put(&key("d"), 0, at(2_000_100)).await.is_err());
        // Nothing was evicted: every entry still refuses a second use.
        for name in ["a", "b", "c"] {
            assert!(
                !state
                    .insert_new(&key(name), 0, at(2_000_100))
                    .await
                    .unwrap()
            );
        }
        // Replacing an entry needs no room.
        state.put(&key("a"), 9, at(2_000_100)).await.unwrap();
        // Once one expires, its room is taken back.
        NOW_B.store(2_000_005, Ordering::SeqCst);
        assert!(state.insert_new(&key("d"), 0, at(2_000_100)).await.unwrap());
        assert_eq!(state.len(), 3);
    }

    static NOW_MS: AtomicU64 = AtomicU64::new(0);

    fn clock_ms() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS.load(Ordering::SeqCst))
    }

    /// A full kind is scanned for expired entries at most once a second: a
    /// flood against it does not scan the table on each attempt.
    #[tokio::test]
    async fn a_full_kind_is_scanned_at_most_once_a_second() {
        let ms = |at: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(at);
        NOW_MS.store(5_000_000, Ordering::SeqCst);
        let state = MemoryState::with_capacity(2).with_clock(clock_ms);
        assert!(state.insert_new(&key("a"), 0, ms(5_100_000)).await.unwrap());
        assert!(state.insert_new(&key("b"), 0, ms(5_000_500)).await.unwrap());
        // Full, nothing expired: scanned now, refused.
        assert!(state.insert_new(&key("c"), 0, ms(5_100_000)).await.is_err());
        // `b` expired, but the last scan was under a second ago: refused
        // without a scan.
        NOW_MS.store(5_000_600, Ordering::SeqCst);
        assert!(state.insert_new(&key("c"), 0, ms(5_100_000)).await.is_err());
        assert_eq!(state.len(), 2, "not scanned");
        // A second after the last scan, `b`'s room is taken back.
        NOW_MS.store(5_001_000, Ordering::SeqCst);
        assert!(state.insert_new(&key("c"), 0, ms(5_100_000)).await.unwrap());
        assert_eq!(state.len(), 2);
    }

    /// A flood of one kind of record (used logins of sealed cookies, say)
    /// must not stop a sign-out or a logout from being recorded.
    #[tokio::test]
    async fn a_full_kind_does_not_refuse_another() {
        let state = MemoryState::with_capacity(2);
        let later = SystemTime::now() + Duration::from_secs(600);
        let used = |n: &str| StateKey::new("pending_login_used", &[n.as_bytes()]);
        for name in ["1", "2"] {
            assert!(state.insert_new(&used(name), 1, later).await.unwrap());
        }
        let full = state.insert_new(&used("3"), 1, later).await;
        assert!(
            matches!(full, Err(SharedStateError::Full { capacity: 2 })),
            "{full:?}"
        );
        let signed_out = StateKey::new("signed_out", &[b"sign-in-id"]);
        state.put(&signed_out, 7, later).await.unwrap();
        assert_eq!(state.get(&signed_out).await.unwrap(), Some(7));
        let jti = StateKey::new("logout_jti", &[b"https://idp.example", b"j"]);
        assert!(state.insert_new(&jti, 1, later).await.unwrap());
        // Keys of one kind are not found under another.
        assert_eq!(
            state
                .get(&StateKey::new("signed_out", &[b"1"]))
                .await
                .unwrap(),
            None
        );
        assert_eq!(state.get(&used("1")).await.unwrap(), Some(1));
        assert_eq!(state.len(), 4);
        state.remove(&used("1")).await.unwrap();
        assert!(state.insert_new(&used("3"), 1, later).await.unwrap());
    }

    #[tokio::test]
    async fn the_table_stays_bounded_under_a_flood() {
        let state = MemoryState::with_capacity(1_000);
        let later = SystemTime::now() + Duration::from_secs(60);
        let mut refused = 0;
        for i in 0..5_000u32 {
            let key = StateKey::new("flood", &[&i.to_be_bytes(), &[0u8; 512]]);
            if state.insert_new(&key, 0, later).await.is_err() {
                refused += 1;
            }
        }
        assert_eq!(state.len(), 1_000);
        assert_eq!(refused, 4_000);
    }

    #[tokio::test]
    async fn concurrent_inserts_of_one_key_store_it_once() {
        let state = Arc::new(MemoryState::default());
        let later = SystemTime::now() + Duration::from_secs(60);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32 {
            let state = state.clone();
            tasks.spawn(async move { state.insert_new(&key("race"), i, later).await.unwrap() });
        }
        let won = tasks
            .join_all()
            .await
            .into_iter()
            .filter(|&won| won)
            .count();
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn slots_are_per_key_and_per_state() {
        let state = MemoryState::default();
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(state.insert_new(&key("a"), 1, later).await.unwrap());
        assert!(state.insert_new(&key("b"), 2, later).await.unwrap());
        state.put(&key("a"), 3, later).await.unwrap();
        assert_eq!(state.len(), 2, "two keys, two entries; one key, one");
        assert_eq!(state.get(&key("a")).await.unwrap(), Some(3));
        assert_eq!(state.get(&key("b")).await.unwrap(), Some(2));
        assert_eq!(state.slot(&key("a")), state.slot(&key("a")));
        assert_ne!(state.slot(&key("a")), state.slot(&key("b")));

        // Each state hashes under a random key of its own, so nobody can
        // compute which keys share a slot.
        let other = MemoryState::default();
        assert_ne!(state.slot(&key("a")), other.slot(&key("a")));
    }

    #[test]
    fn debug_shows_no_key_values() {
        let key = StateKey::new("logout_jti", &[b"secret-looking-value"]);
        assert!(!format!("{key:?}").contains("secret"));
        let state = MemoryState::default();
        assert_eq!(
            format!("{state:?}"),
            "MemoryState { entries: 0, capacity: 100000, .. }"
        );
    }

    #[test]
    fn unix_ms_saturates() {
        assert_eq!(unix_ms(SystemTime::UNIX_EPOCH), 0);
        assert_eq!(unix_ms(at(2)), 2_000);
        assert_eq!(
            unix_ms(SystemTime::UNIX_EPOCH - Duration::from_millis(5)),
            -5
        );
        assert_eq!(later(at(1), Duration::from_secs(2)), at(3));
        let far = later(at(1), Duration::MAX);
        assert!(
            far > at(1_000_000_000),
            "a lifetime past the range saturates"
        );
    }
}
