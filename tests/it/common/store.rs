//! A session store that counts what it is asked to do.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tower_sessions::MemoryStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::Result;

/// A memory store that counts its reads, the records it was asked to
/// write, and the records it holds.
#[derive(Debug, Clone, Default)]
pub struct CountingStore {
    inner: MemoryStore,
    loads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    ids: Arc<Mutex<HashSet<Id>>>,
}

impl CountingStore {
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn records(&self) -> usize {
        self.ids.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl tower_sessions::SessionStore for CountingStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await?;
        self.ids.lock().unwrap().insert(record.id);
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(record).await?;
        self.ids.lock().unwrap().insert(record.id);
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await?;
        self.ids.lock().unwrap().remove(id);
        Ok(())
    }
}
