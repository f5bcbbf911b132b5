//! What the provider remembers of its grants and sign-ins: the most recent
//! ones, so that its memory and the cost of each request stay flat however
//! many logins it serves.

use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;

/// How many sign-ins (provider sessions), authorization codes, access
/// tokens and refresh tokens the provider remembers, of each kind. Beyond
/// it the oldest is forgotten, as if it had expired.
pub(super) const MAX_REMEMBERED: usize = 10_000;

/// Entries by key, oldest first, each forgotten `keep_for` after it was
/// added or when [`MAX_REMEMBERED`] newer ones were added since.
///
/// Every entry is kept for the same time, so insertion order is also the
/// order in which they are forgotten: pruning looks at the oldest entries
/// only, never scans the rest.
pub(super) struct Recent<V> {
    entries: LinkedHashMap<String, (Option<Instant>, V)>,
    keep_for: Option<Duration>,
    capacity: usize,
}

impl<V> Recent<V> {
    /// Entries kept for `keep_for` (`None`: until pushed out by newer ones).
    pub(super) fn new(keep_for: Option<Duration>) -> Self {
        Self::with_capacity(keep_for, MAX_REMEMBERED)
    }

    pub(super) fn with_capacity(keep_for: Option<Duration>, capacity: usize) -> Self {
        Self {
            entries: LinkedHashMap::new(),
            keep_for,
            capacity: capacity.max(1),
        }
    }

    /// Adds an entry after forgetting the expired ones and, at capacity, the
    /// oldest.
    pub(super) fn insert(&mut self, key: String, value: V) {
        let now = Instant::now();
        while self
            .entries
            .front()
            .is_some_and(|(_, (forget_at, _))| forget_at.is_some_and(|at| at <= now))
        {
            self.entries.pop_front();
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        // A key added again (random keys never are) moves to the back.
        self.entries.remove(&key);
        let forget_at = self.keep_for.and_then(|keep_for| now.checked_add(keep_for));
        self.entries.insert(key, (forget_at, value));
    }

    pub(super) fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, value)| value)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, value)| value)
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|(_, value)| value)
    }

    /// Removes and returns the entries that match, oldest first (a scan:
    /// for the rare requests that select by something else than the key).
    pub(super) fn take_matching(&mut self, matches: impl Fn(&V) -> bool) -> Vec<V> {
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, (_, value))| matches(value))
            .map(|(key, _)| key.clone())
            .collect();
        keys.iter().filter_map(|key| self.remove(key)).collect()
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entries_go_at_capacity() {
        let mut recent = Recent::with_capacity(None, 3);
        for i in 0..5 {
            recent.insert(format!("k{i}"), i);
        }
        assert_eq!(recent.len(), 3);
        assert_eq!(recent.get("k0"), None);
        assert_eq!(recent.get("k1"), None);
        assert_eq!(recent.get("k2"), Some(&2));
        assert_eq!(recent.get("k4"), Some(&4));
    }

    #[test]
    fn expired_entries_go_when_the_next_is_added() {
        let mut recent = Recent::with_capacity(Some(Duration::from_millis(30)), 100);
        recent.insert("old".into(), 1);
        std::thread::sleep(Duration::from_millis(60));
        assert!(recent.contains_key("old"), "kept until something is added");
        recent.insert("new".into(), 2);
        assert!(!recent.contains_key("old"));
        assert_eq!(recent.get("new"), Some(&2));
        assert_eq!(recent.len(), 1);
    }

    #[test]
    fn a_removed_entry_leaves_room_and_the_order_holds() {
        let mut recent = Recent::with_capacity(None, 2);
        recent.insert("a".into(), 1);
        recent.insert("b".into(), 2);
        assert_eq!(recent.remove("a"), Some(1));
        recent.insert("c".into(), 3);
        assert_eq!(recent.len(), 2, "nothing pushed out: `a` made room");
        assert!(recent.contains_key("b"));
        recent.insert("d".into(), 4);
        assert!(!recent.contains_key("b"), "the oldest goes first");
        assert!(recent.contains_key("c") && recent.contains_key("d"));
    }

    #[test]
    fn taking_by_value_removes_only_the_matches() {
        let mut recent = Recent::new(None);
        for (key, value) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
            recent.insert(key.into(), value);
        }
        assert_eq!(recent.take_matching(|v| v % 2 == 0), vec![2, 4]);
        assert_eq!(recent.len(), 2);
        assert!(recent.contains_key("a") && recent.contains_key("c"));
        if let Some(value) = recent.get_mut("a") {
            *value = 10;
        }
        assert_eq!(recent.get("a"), Some(&10));
        recent.clear();
        assert_eq!(recent.len(), 0);
    }
}
