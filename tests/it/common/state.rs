//! A shared state that can be taken down, to see what fails closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use oidc_login::{MemoryState, SharedState, SharedStateError, StateFuture, StateKey};

/// A [`MemoryState`] whose every call fails while it is down.
#[derive(Debug, Clone, Default)]
pub struct Flaky {
    inner: Arc<MemoryState>,
    down: Arc<AtomicBool>,
}

impl Flaky {
    /// One that is down from the start.
    pub fn down() -> Self {
        let flaky = Self::default();
        flaky.set_down(true);
        flaky
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), SharedStateError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SharedStateError::Store("the test took it down".into()));
        }
        Ok(())
    }
}

impl SharedState for Flaky {
    fn insert_new<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.insert_new(key, value, expires_at).await
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a StateKey,
        value: i64,
        expires_at: SystemTime,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.put(key, value, expires_at).await
        })
    }

    fn get<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, Option<i64>> {
        Box::pin(async move {
            self.check()?;
            self.inner.get(key).await
        })
    }

    fn remove<'a>(&'a self, key: &'a StateKey) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.remove(key).await
        })
    }
}
