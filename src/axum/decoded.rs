//! Signed-in users decoded before, by session id, with the stored text each
//! was decoded from: a request whose session holds the very same text reuses
//! the decoded user instead of parsing it again. The text is still read from
//! the session store on every request and compared in full, so the store
//! stays the only truth: a record that changed (a refresh, another
//! instance's write) or is gone (a sign-out) is a miss, never served stale.
//!
//! A sign-in keeps the user it stored too, by its text alone (the session's
//! new id is chosen when the session is saved, after the sign-in), so the
//! first request after a login does not decode what the login just encoded.

use std::sync::{Arc, PoisonError, RwLock};

use hashlink::LinkedHashMap;
use tower_sessions::session::Id;

use super::session::SessionUser;

/// How many decoded users are kept; beyond, the oldest decoded is dropped
/// (and decoded again at its session's next request). A few KiB each: the
/// text (1.8 KB for the load benchmark's login, 12 claims and the tokens)
/// and the user decoded from it. As many again for users just signed in.
pub(crate) const MAX_DECODED: usize = 1_000;

/// The decoded users of one [`LoginLayer`](super::LoginLayer), oldest first,
/// at most [`MAX_DECODED`], and as many users just signed in.
#[derive(Default)]
pub(crate) struct DecodedUsers(RwLock<Users>);

#[derive(Default)]
struct Users {
    /// By session id, with the text each was decoded from.
    by_session: LinkedHashMap<Id, (String, Arc<SessionUser>)>,
    /// Users signed in by this layer's routes whose session has not been
    /// read since, by the text the sign-in stored.
    signed_in: LinkedHashMap<String, Arc<SessionUser>>,
}

impl std::fmt::Debug for DecodedUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither ids nor users: the users hold tokens.
        f.debug_struct("DecodedUsers")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl DecodedUsers {
    /// The user decoded from `text` in session `id`, if it is kept; or the
    /// user a sign-in stored as `text`, from now on kept for session `id`.
    pub(crate) fn get(&self, id: Id, text: &str) -> Option<Arc<SessionUser>> {
        {
            let users = self.0.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((seen, user)) = users.by_session.get(&id)
                && seen == text
            {
                return Some(user.clone());
            }
            if users.signed_in.is_empty() {
                return None;
            }
        }
        let mut users = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let (text, user) = users.signed_in.remove_entry(text)?;
        users.keep(id, text, user.clone());
        Some(user)
    }

    /// Keeps `user`, decoded from `text` in session `id`, in place of what
    /// was kept for that session; the oldest goes when full.
    pub(crate) fn insert(&self, id: Id, text: String, user: Arc<SessionUser>) {
        let mut users = self.0.write().unwrap_or_else(PoisonError::into_inner);
        users.keep(id, text, user);
    }

    /// Keeps `user`, just signed in and stored as `text`, for the first
    /// request of its session; the oldest goes when full.
    pub(crate) fn signed_in(&self, text: String, user: Arc<SessionUser>) {
        let mut users = self.0.write().unwrap_or_else(PoisonError::into_inner);
        while users.signed_in.len() >= MAX_DECODED {
            users.signed_in.pop_front();
        }
        users.signed_in.insert(text, user);
    }

    pub(crate) fn len(&self) -> usize {
        let users = self.0.read().unwrap_or_else(PoisonError::into_inner);
        users.by_session.len() + users.signed_in.len()
    }
}

impl Users {
    fn keep(&mut self, id: Id, text: String, user: Arc<SessionUser>) {
        // Added again, it moves to the back: it goes last.
        self.by_session.remove(&id);
        while self.by_session.len() >= MAX_DECODED {
            self.by_session.pop_front();
        }
        self.by_session.insert(id, (text, user));
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
    fn a_user_just_signed_in_is_found_by_its_very_text_once() {
        let decoded = DecodedUsers::default();
        let (id, other) = (Id::default(), Id::default());
        let (text, alice) = user("alice");
        decoded.signed_in(text.clone(), alice.clone());
        let (changed, _) = user("mallory");
        assert!(decoded.get(id, &changed).is_none(), "another text");
        assert!(decoded.get(id, &text[..text.len() - 1]).is_none());
        let hit = decoded.get(id, &text).expect("the text the sign-in stored");
        assert!(Arc::ptr_eq(&hit, &alice));
        assert_eq!(decoded.len(), 1, "now kept for its session only");
        assert!(decoded.get(other, &text).is_none(), "taken by the first");
        assert!(Arc::ptr_eq(&decoded.get(id, &text).unwrap(), &alice));
    }

    #[test]
    fn users_just_signed_in_are_bounded_too() {
        let decoded = DecodedUsers::default();
        for i in 0..MAX_DECODED + 10 {
            let (text, alice) = user(&format!("alice-{i}"));
            decoded.signed_in(text, alice);
        }
        assert_eq!(decoded.len(), MAX_DECODED);
        let (oldest, _) = user("alice-9");
        assert!(
            decoded.get(Id::default(), &oldest).is_none(),
            "the oldest went"
        );
        let (kept, _) = user("alice-10");
        assert!(decoded.get(Id::default(), &kept).is_some());
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
