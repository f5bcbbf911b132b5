//! [`SessionStoreState`]: the crate's shared records (see
//! [`SharedState`]) kept in the app's own `tower-sessions` store, beside
//! the sessions, under record ids keyed with a [`SessionIndexKey`].

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::hmac;
use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};

use crate::error::{ConfigError, SharedStateError};
use crate::shared_state::{SharedState, StateFuture, StateKey};

/// The data member of a record: its value.
const VALUE: &str = "oidc_login.value";
/// A random number of the write that made the record, to tell whether a
/// `create` that answered with an error made it.
const WRITE: &str = "oidc_login.write";
/// The least key length: as long as the HMAC-SHA-256 output.
const MIN_KEY_LEN: usize = 32;

/// The secret that names the crate's records in a session store
/// ([`SessionStoreState`]). Give every app instance that shares the store
/// the same key (for example from an environment variable holding 32
/// random bytes or more, base64 or plain text); a single instance may use
/// [`random`](Self::random).
///
/// Without the key nobody can name a record, so no browser can present one
/// as its session cookie (and, say, sign out through it to erase a record).
///
/// `Debug` shows no key material.
///
/// ```
/// use oidc_login::axum::SessionIndexKey;
///
/// // Shared by every instance: 32 random bytes or more (`from_env` reads them
/// // from an environment variable).
/// let shared = SessionIndexKey::from_secret(b"0123456789abcdef0123456789abcdef")?;
/// // One instance alone:
/// let single = SessionIndexKey::random();
/// assert!(SessionIndexKey::from_secret(b"too short").is_err());
/// assert_eq!(format!("{shared:?}"), "SessionIndexKey([redacted])");
/// # let _ = single;
/// # Ok::<(), oidc_login::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionIndexKey(hmac::Key);

impl fmt::Debug for SessionIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionIndexKey([redacted])")
    }
}

impl SessionIndexKey {
    /// A key from secret bytes: at least 32 of them.
    pub fn from_secret(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_KEY_LEN {
            return Err(ConfigError::Invalid {
                field: "session_index_key",
                reason: format!(
                    "is {} bytes; it must be at least {MIN_KEY_LEN} random bytes",
                    secret.len()
                ),
            });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A key from the environment variable `variable` (at least 32 bytes).
    pub fn from_env(variable: &str) -> Result<Self, ConfigError> {
        let value = std::env::var(variable).map_err(|_| ConfigError::Invalid {
            field: "session_index_key",
            reason: format!("the environment variable `{variable}` is not set"),
        })?;
        Self::from_secret(value.as_bytes())
    }

    /// A fresh random key, for a single app instance: instances with
    /// different keys cannot find each other's records.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source failed");
        Self(hmac::Key::new(hmac::HMAC_SHA256, &secret))
    }

    /// The record id of `key`.
    fn record_id(&self, key: &StateKey) -> Id {
        let tag = hmac::sign(&self.0, key.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&tag.as_ref()[..16]);
        Id(i128::from_be_bytes(id))
    }
}

/// The crate's shared records ([`SharedState`]: used logout tokens,
/// break-glass failures, back-channel logouts, local sign-outs) kept in a
/// `tower-sessions` store, beside the sessions: give it to
/// [`Client::with_shared_state`](crate::Client::with_shared_state), with
/// the store every app instance shares, and the instances behave as one.
///
/// A record is a session record with one value, named by an HMAC of its
/// key under the [`SessionIndexKey`] (the same on every instance), that
/// expires with its entry.
///
/// # What the store must guarantee
///
/// - Its `create` is atomic: of two creates of one record id at once, one
///   keeps the id (the other gets a new id, which this deletes, or an
///   error, after which this reads whose record is there). So it is with
///   `tower-sessions-redis-store` (`SET NX`) and with SQL stores that
///   insert in a transaction or on a primary key, such as
///   `tower-sessions-rusqlite-store` and `tower-sessions-sqlx-store` 0.15;
///   not with a store that checks, then writes, outside a transaction.
/// - It keeps a record until its expiry: no eviction (Redis: a
///   `maxmemory-policy` of `noeviction`; not a capacity-bound cache such as
///   `tower-sessions-moka-store`).
/// - It is the one store of every instance, and their clocks agree (NTP).
///
/// In-process stores (`MemoryStore`, `MokaStore`) are per process: use
/// the default [`MemoryState`](crate::MemoryState) with them instead.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use oidc_login::axum::{SessionIndexKey, SessionStoreState, session_layer};
/// use oidc_login::{Client, Config};
/// use tower_sessions_redis_store::RedisStore;
/// use tower_sessions_redis_store::fred::prelude::{ClientLike, Config as RedisConfig, Pool};
///
/// let pool = Pool::new(RedisConfig::from_url("redis://127.0.0.1:6379")?, None, None, None, 4)?;
/// pool.connect();
/// pool.wait_for_connect().await?;
/// let store = RedisStore::new(pool);
/// // The same key on every instance.
/// let key = SessionIndexKey::from_env("SESSION_INDEX_KEY")?;
/// let client = Client::discover(Config::from_file("oidc.toml")?)
///     .await?
///     .with_shared_state(SessionStoreState::new(store.clone(), key));
/// let sessions = session_layer(store, &client);
/// # let _ = sessions; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionStoreState {
    store: Arc<dyn SessionStore>,
    /// For `Debug`, which shows no more of the store: a store's own
    /// `Debug` may show how it connects, password included.
    store_type: &'static str,
    key: SessionIndexKey,
}

impl fmt::Debug for SessionStoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStoreState")
            .field("store", &self.store_type)
            .field("key", &self.key)
            .finish()
    }
}

impl SessionStoreState {
    /// The records in `store`, named with `key`.
    ///
    /// `Debug` shows the store's type, not its value (which may hold how
    /// it connects), and no key material:
    ///
    /// ```
    /// use oidc_login::axum::tower_sessions::MemoryStore;
    /// use oidc_login::axum::{SessionIndexKey, SessionStoreState};
    ///
    /// let state = SessionStoreState::new(MemoryStore::default(), SessionIndexKey::random());
    /// assert_eq!(
    ///     format!("{state:?}"),
    ///     "SessionStoreState { store: \"tower_sessions_memory_store::MemoryStore\", key: SessionIndexKey([redacted]) }"
    /// );
    /// ```
    pub fn new<S: SessionStore>(store: S, key: SessionIndexKey) -> Self {
        Self {
            store: Arc::new(store),
            store_type: std::any::type_name::<S>(),
            key,
        }
    }

    fn record(id: Id, value: i64, expires_at: SystemTime) -> Record {
        let mut write = [0u8; 8];
        getrandom::fill(&mut write).expect("the operating system's random source failed");
        Record {
            id,
            data: [
                (VALUE.to_owned(), Value::from(value)),
                (WRITE.to_owned(), Value::from(i64::from_be_bytes(write))),
            ]
            .into(),
            expiry_date: OffsetDateTime::from(expires_at),
        }
    }

    /// Creates the record `id` unless it exists: `true` when this created it.
    async fn create(&self, mut record: Record) -> Result<bool, SharedStateError> {
        let id = record.id;
        let write = record.data.get(WRITE).cloned();
        match self.store.create(&mut record).await {
            Ok(()) if record.id == id => Ok(true),
            Ok(()) => {
                // The id was taken (meanwhile): the store saved the record
                // under another id, which must not stay.
                self.store.delete(&record.id).await.map_err(failed)?;
                Ok(false)
            }
            // Some stores answer a taken id with an error
            // (`tower-sessions-redis-store` 0.16 cannot read Redis's nil
            // answer to `SET NX`): the record there tells whose it is.
            Err(error) => match self.store.load(&id).await.map_err(failed)? {
                Some(there) => Ok(there.data.get(WRITE) == write.as_ref()),
                None => Err(failed(error)),
            },
        }
    }
}

fn failed(error: tower_sessions::session_store::Error) -> SharedStateError {
    SharedStateError::Store(Box::new(error))
}

impl SharedState for SessionStoreState {
    fn insert_new<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            let id = self.key.record_id(key);
            // A live record: taken, without a write.
            if self.store.load(&id).await.map_err(failed)?.is_some() {
                return Ok(false);
            }
            self.create(Self::record(id, value, expires_at)).await
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let id = self.key.record_id(key);
            let record = Self::record(id, value, expires_at);
            // Some stores' `save` only updates (Redis: `SET XX`, which
            // `tower-sessions-redis-store` answers with an error when there
            // is nothing to update): create when there is nothing, update
            // when there is, and try again when the record came or went
            // meanwhile.
            let mut last_error = None;
            for _ in 0..3 {
                if self.store.load(&id).await.map_err(failed)?.is_none() {
                    if self.create(record.clone()).await? {
                        return Ok(());
                    }
                    continue;
                }
                match self.store.save(&record).await {
                    Ok(()) => return Ok(()),
                    Err(error) => last_error = Some(error),
                }
            }
            Err(match last_error {
                Some(error) => failed(error),
                None => SharedStateError::Store(
                    "the record was created and removed again while it was being written".into(),
                ),
            })
        })
    }

    fn get<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, Option<i64>> {
        Box::pin(async move {
            let id = self.key.record_id(key);
            let Some(record) = self.store.load(&id).await.map_err(failed)? else {
                return Ok(None);
            };
            // An unreadable record is an error, not an absent one: what
            // depends on it fails closed.
            match record.data.get(VALUE).and_then(Value::as_i64) {
                Some(value) => Ok(Some(value)),
                None => Err(SharedStateError::Store(
                    "a shared-state record in the session store holds no readable value".into(),
                )),
            }
        })
    }

    fn remove<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.store
                .delete(&self.key.record_id(key))
                .await
                .map_err(failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower_sessions::MemoryStore;

    use super::*;

    #[test]
    fn keys_must_be_long_and_do_not_print() {
        assert!(SessionIndexKey::from_secret("short").is_err());
        let key = SessionIndexKey::from_secret([7u8; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SessionIndexKey([redacted])");
    }

    #[test]
    fn record_ids_depend_on_every_part_and_the_key() {
        let key = SessionIndexKey::from_secret([7u8; 32]).unwrap();
        let state_key = |kind, parts: &[&str]| {
            let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
            StateKey::new(kind, &parts)
        };
        let id = key.record_id(&state_key("sub", &["https://idp", "alice"]));
        assert_eq!(
            id,
            key.record_id(&state_key("sub", &["https://idp", "alice"]))
        );
        assert_ne!(
            id,
            key.record_id(&state_key("sid", &["https://idp", "alice"]))
        );
        assert_ne!(
            id,
            key.record_id(&state_key("sub", &["https://idp2", "alice"]))
        );
        assert_ne!(
            id,
            key.record_id(&state_key("sub", &["https://idp", "alic"]))
        );
        // No ambiguity from where one part ends.
        assert_ne!(
            key.record_id(&state_key("sub", &["ab", "c"])),
            key.record_id(&state_key("sub", &["a", "bc"]))
        );
        let other = SessionIndexKey::from_secret([8u8; 32]).unwrap();
        assert_ne!(
            id,
            other.record_id(&state_key("sub", &["https://idp", "alice"]))
        );
    }

    #[tokio::test]
    async fn records_live_in_the_store_under_keyed_ids() {
        let store = MemoryStore::default();
        let state = SessionStoreState::new(store.clone(), SessionIndexKey::random());
        let key = StateKey::new("test", &[b"one"]);
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(state.insert_new(&key, 5, later).await.unwrap());
        assert!(!state.insert_new(&key, 6, later).await.unwrap());
        assert_eq!(state.get(&key).await.unwrap(), Some(5));
        let id = state.key.record_id(&key);
        let record = store.load(&id).await.unwrap().expect("in the store");
        assert_eq!(
            record.expiry_date.unix_timestamp(),
            OffsetDateTime::from(later).unix_timestamp()
        );

        state.put(&key, 7, later).await.unwrap();
        assert_eq!(state.get(&key).await.unwrap(), Some(7));
        state.remove(&key).await.unwrap();
        assert_eq!(state.get(&key).await.unwrap(), None);
        // `put` creates as well as replaces.
        state.put(&key, 8, later).await.unwrap();
        assert_eq!(state.get(&key).await.unwrap(), Some(8));

        // A record that holds no value is an error, not an absent record.
        let mut broken = Record {
            id: state.key.record_id(&StateKey::new("test", &[b"two"])),
            data: Default::default(),
            expiry_date: OffsetDateTime::from(later),
        };
        store.create(&mut broken).await.unwrap();
        assert!(state.get(&StateKey::new("test", &[b"two"])).await.is_err());
    }

    /// A memory store that knows which ids it holds.
    #[derive(Debug, Clone, Default)]
    struct Tracked {
        inner: MemoryStore,
        ids: Arc<std::sync::Mutex<std::collections::HashSet<Id>>>,
    }

    #[async_trait::async_trait]
    impl SessionStore for Tracked {
        async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
            self.inner.create(record).await?;
            self.ids.lock().unwrap().insert(record.id);
            Ok(())
        }

        async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
            self.inner.save(record).await?;
            self.ids.lock().unwrap().insert(record.id);
            Ok(())
        }

        async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
            self.inner.load(id).await
        }

        async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
            self.inner.delete(id).await?;
            self.ids.lock().unwrap().remove(id);
            Ok(())
        }
    }

    /// A store that answers a create of a taken id, and a save of a
    /// missing one, with an error (as `tower-sessions-redis-store` 0.16
    /// does with Redis's nil answers).
    #[derive(Debug, Clone, Default)]
    struct Strict(MemoryStore);

    #[async_trait::async_trait]
    impl SessionStore for Strict {
        async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
            if self.0.load(&record.id).await?.is_some() {
                return Err(tower_sessions::session_store::Error::Backend(
                    "could not convert to bool".into(),
                ));
            }
            self.0.create(record).await
        }

        async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
            if self.0.load(&record.id).await?.is_none() {
                return Err(tower_sessions::session_store::Error::Backend(
                    "could not convert to bool".into(),
                ));
            }
            self.0.save(record).await
        }

        async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
            self.0.load(id).await
        }

        async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
            self.0.delete(id).await
        }
    }

    #[tokio::test]
    async fn a_store_that_answers_a_taken_id_with_an_error_still_tells_who_won() {
        let store = Strict::default();
        let state = SessionStoreState::new(store.clone(), SessionIndexKey::random());
        let key = StateKey::new("test", &[b"race"]);
        let later = SystemTime::now() + Duration::from_secs(60);
        let id = state.key.record_id(&key);
        let mut theirs = SessionStoreState::record(id, 1, later);
        store.create(&mut theirs).await.unwrap();
        // This instance lost the race: the store's error is a "taken".
        let mine = SessionStoreState::record(id, 2, later);
        assert!(!state.create(mine).await.unwrap());
        assert_eq!(state.get(&key).await.unwrap(), Some(1));
        // `put` creates and replaces through such a store too.
        let other = StateKey::new("test", &[b"put"]);
        state.put(&other, 3, later).await.unwrap();
        state.put(&other, 4, later).await.unwrap();
        assert_eq!(state.get(&other).await.unwrap(), Some(4));
        // A failure with no record behind it stays a failure.
        #[derive(Debug, Clone)]
        struct Down;
        #[async_trait::async_trait]
        impl SessionStore for Down {
            async fn create(&self, _: &mut Record) -> tower_sessions::session_store::Result<()> {
                Err(tower_sessions::session_store::Error::Backend("down".into()))
            }
            async fn save(&self, _: &Record) -> tower_sessions::session_store::Result<()> {
                Err(tower_sessions::session_store::Error::Backend("down".into()))
            }
            async fn load(&self, _: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
                Ok(None)
            }
            async fn delete(&self, _: &Id) -> tower_sessions::session_store::Result<()> {
                Ok(())
            }
        }
        let down = SessionStoreState::new(Down, SessionIndexKey::random());
        assert!(down.insert_new(&key, 1, later).await.is_err());
        assert!(down.put(&key, 1, later).await.is_err());
    }

    #[tokio::test]
    async fn a_lost_race_leaves_no_stray_record() {
        let store = Tracked::default();
        let state = SessionStoreState::new(store.clone(), SessionIndexKey::random());
        let key = StateKey::new("test", &[b"race"]);
        let later = SystemTime::now() + Duration::from_secs(60);
        let id = state.key.record_id(&key);
        // Another instance created the record after this one's `load`.
        let mut theirs = SessionStoreState::record(id, 1, later);
        store.create(&mut theirs).await.unwrap();
        let mine = SessionStoreState::record(id, 2, later);
        assert!(!state.create(mine).await.unwrap(), "the id was taken");
        assert_eq!(state.get(&key).await.unwrap(), Some(1), "theirs stays");
        assert_eq!(
            *store.ids.lock().unwrap(),
            [id].into(),
            "the copy under a new id is gone"
        );
    }
}
