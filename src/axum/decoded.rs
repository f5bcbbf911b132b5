//! Signed-in users decoded before, by session id, with the stored text each
//! was decoded from: a request whose session holds the very same text reuses
//! the decoded user instead of parsing it again. The text is still read from
//! the session store on every request and compared in full, so the store
//! stays the only truth: a record that changed (a refresh, another
//! instance's write) or is gone (a sign-out) is a miss, never served stale.

use std::sync::{Arc, PoisonError, RwLock};

use hashlink::LinkedHashMap;
use tower_sessions::session::Id;

use super::session::SessionUser;

/// How many decoded users are kept; beyond, the oldest decoded is dropped
/// (and decoded again at its session's next request). A few KiB each: the
/// text (1.8 KB for the load benchmark's login, 12 claims and the tokens)
/// and the user decoded from it.
pub(crate) const MAX_DECODED: usize = 1_000;

/// The decoded users of one [`LoginLayer`](super::LoginLayer), oldest first,
/// at most [`MAX_DECODED`].
#[derive(Default)]
pub(crate) struct DecodedUsers(RwLock<LinkedHashMap<Id, (String, Arc<SessionUser>)>>);

impl std::fmt::Debug for DecodedUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither ids nor users: the users hold tokens.
        f.debug_struct("DecodedUsers")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl DecodedUsers {
    /// The user decoded from `text` in session `id`, if it is kept.
    pub(crate) fn get(&self, id: Id, text: &str) -> Option<Arc<SessionUser>> {
        let decoded = self.0.read().unwrap_or_else(PoisonError::into_inner);
        decoded
            .get(&id)
            .filter(|(seen, _)| seen == text)
            .map(|(_, user)| user.clone())
    }

    /// Keeps `user`, decoded from `text` in session `id`, in place of what
    /// was kept for that session; the oldest goes when full.
    pub(crate) fn insert(&self, id: Id, text: String, user: Arc<SessionUser>) {
        let mut decoded = self.0.write().unwrap_or_else(PoisonError::into_inner);
        // Added again, it moves to the back: it goes last.
        decoded.remove(&id);
        while decoded.len() >= MAX_DECODED {
            decoded.pop_front();
        }
        decoded.insert(id, (text, user));
    }

    pub(crate) fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(subject: &str) -> (String, Arc<SessionUser>) {
        let text = serde_json::json!({
            "identity": {
                "issuer": "https://idp.example", "subject": subject,
                "username": null, "email": null, "email_verified": false, "name": null,
                "groups": [], "roles": [], "claims": {}
            },
            "signed_in_at_ms": 1_765_000_000_000_i64,
            "sign_in_id": "00112233445566778899aabbccddeeff",
        })
        .to_string();
        let user = serde_json::from_str(&text).expect("a session user");
        (text, Arc::new(user))
    }

    #[test]
    fn only_the_very_same_text_of_the_same_session_is_a_hit() {
        let decoded = DecodedUsers::default();
        let (id, other) = (Id::default(), Id::default());
        let (text, alice) = user("alice");
        decoded.insert(id, text.clone(), alice.clone());
        let hit = decoded.get(id, &text).expect("the same text");
        assert!(Arc::ptr_eq(&hit, &alice));
        assert!(decoded.get(other, &text).is_none(), "another session");
        let (changed, _) = user("mallory");
        assert!(decoded.get(id, &changed).is_none(), "a changed record");
        assert!(decoded.get(id, &text[..text.len() - 1]).is_none());
        // A new decoding of the session replaces the old one.
        let (changed, mallory) = user("mallory");
        decoded.insert(id, changed.clone(), mallory);
        assert!(decoded.get(id, &text).is_none());
        assert_eq!(
            decoded.get(id, &changed).unwrap().identity.subject,
            "mallory"
        );
        assert_eq!(decoded.len(), 1);
    }

    #[test]
    fn it_is_bounded_the_oldest_going_first() {
        let decoded = DecodedUsers::default();
        let (text, alice) = user("alice");
        let ids: Vec<Id> = (0..MAX_DECODED + 10).map(|_| Id::default()).collect();
        for id in &ids {
            decoded.insert(*id, text.clone(), alice.clone());
        }
        assert_eq!(decoded.len(), MAX_DECODED);
        assert!(decoded.get(ids[9], &text).is_none(), "the oldest went");
        assert!(decoded.get(ids[10], &text).is_some());
        assert!(decoded.get(*ids.last().unwrap(), &text).is_some());
    }

    #[test]
    fn debug_prints_no_user() {
        let decoded = DecodedUsers::default();
        let (text, alice) = user("alice-secret-subject");
        decoded.insert(Id::default(), text, alice);
        let debug = format!("{decoded:?}");
        assert!(!debug.contains("alice-secret-subject"), "{debug}");
        assert!(debug.contains("len: 1"), "{debug}");
    }
}
