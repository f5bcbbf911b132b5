//! What this crate keeps in the session, under its own keys.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use super::decoded::DecodedUsers;
use crate::client::{Client, Tokens};
use crate::flow::PendingLogin;
use crate::identity::Identity;
use crate::secret::{State, constant_time_eq};

const PENDING_KEY: &str = "oidc_login.pending";
const USER_KEY: &str = "oidc_login.user";
const LOGOUT_STATE_KEY: &str = "oidc_login.logout_state";
/// When a signed-in session was last saved for its activity (Unix seconds).
const ACTIVE_KEY: &str = "oidc_login.active_at";
/// How long the browser may take to come back from the provider's logout.
const LOGOUT_STATE_LIFETIME: time::Duration = time::Duration::minutes(10);
/// Logins in flight per session (browser tabs); the oldest is dropped beyond.
pub(crate) const MAX_PENDING: usize = 5;

/// How long a signed-in session lives without activity.
pub(crate) const SIGNED_IN_INACTIVITY: time::Duration = time::Duration::hours(8);
/// The longest a request of a signed-in session goes without saving the
/// session, which renews its expiry: activity keeps it alive to within
/// this (or a tenth of the inactivity expiry, when that is shorter).
const TOUCH_EVERY: time::Duration = time::Duration::minutes(1);

/// A session layer with the cookie attributes logins need: `HttpOnly`,
/// `SameSite=Lax`, `Secure` unless the client's redirect URI is plain http
/// on a loopback host (then also the `__Host-` name prefix, so a sibling
/// subdomain cannot plant the cookie), and an 8-hour inactivity expiry,
/// which activity renews: a signed-in session is saved again (and its
/// cookie sent again) at most once a minute while it is used. An expiry of
/// the app's own (`.with_expiry(..)` on the returned layer) is kept as it
/// is, at sign-in too. A session that holds only logins in flight expires
/// with them (`pending_login_lifetime_seconds`).
///
/// Every anonymous `GET /login` creates a session (unless logins in flight
/// are kept in sealed cookies:
/// [`LoginRoutes::pending_logins_in_cookie`](super::LoginRoutes::pending_logins_in_cookie),
/// with which `/login` writes no record), so the store must not
/// grow without bound: use one that bounds its records or deletes expired
/// ones. In one process, `tower-sessions-moka-store` (`MokaStore` with a
/// capacity) does both; Redis deletes expired records by itself; SQL
/// stores need their `ExpiredDeletion` task. `tower_sessions::MemoryStore`
/// never deletes a record: it is for tests. Sessions may be evicted from a
/// bounded store (their users sign in again); the crate's security records
/// live elsewhere ([`Client::with_shared_state`](crate::Client::with_shared_state)).
/// The store must be of the `tower-sessions` this crate re-exports
/// ([`tower_sessions`](super::tower_sessions)).
///
/// Add it after (outside) the [`LoginLayer`](super::LoginLayer):
///
/// ```no_run
/// use axum::Router;
/// use oidc_login::axum::{LoginRoutes, session_layer};
/// use tower_sessions_moka_store::MokaStore;
///
/// # fn app(client: oidc_login::Client, app: Router) -> Router {
/// let routes = LoginRoutes::new(client.clone());
/// // One process: at most 100,000 sessions, expired ones dropped.
/// let store = MokaStore::new(Some(100_000));
/// routes
///     .mount(app)
///     .layer(routes.layer())
///     .layer(session_layer(store, &client))
/// # }
/// ```
pub fn session_layer<S: SessionStore + Clone>(store: S, client: &Client) -> SessionManagerLayer<S> {
    let redirect = client.config().redirect_uri();
    let secure = redirect.scheme() == "https";
    let name = if secure {
        "__Host-oidc_login_session"
    } else {
        "oidc_login_session"
    };
    SessionManagerLayer::new(store)
        .with_name(name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(SIGNED_IN_INACTIVITY))
}

/// The signed-in user as kept in the session: serialized into one JSON
/// string under [`USER_KEY`], so that a read copies one string (not a tree
/// of JSON values, twice: the store's load and `Session::get`), and a store
/// holds the same bytes whatever it is. A value there that does not decode
/// (a JSON object, as builds before this encoding kept it, or anything else) is a
/// signed-out session: it is logged and the session flushed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionUser {
    /// Shared with the extractors ([`SignedIn`](super::SignedIn)) and the
    /// [decoded users](DecodedUsers), not copied into them.
    #[serde(with = "shared_identity")]
    pub(crate) identity: Arc<Identity>,
    /// In milliseconds: a back-channel logout record is compared with it,
    /// and a sign-in right after a logout must not pass for one before.
    #[serde(
        rename = "signed_in_at_ms",
        with = "time::serde::timestamp::milliseconds_i64"
    )]
    pub(crate) signed_in_at: OffsetDateTime,
    /// Kept only when refresh or sign-out at the provider needs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tokens: Option<Tokens>,
    /// A random name of this sign-in, under which a sign-out is recorded
    /// (see `sign_out.rs`). A session without one (from an older version)
    /// is ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sign_in_id: Option<String>,
    /// The id of the local account the login was linked to, when
    /// [`LoginRoutes::accounts`](super::LoginRoutes::accounts) is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
}

/// `Arc<Identity>` (de)serialized as the identity itself.
mod shared_identity {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::identity::Identity;

    pub(super) fn serialize<S: Serializer>(
        identity: &Arc<Identity>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        identity.as_ref().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<Identity>, D::Error> {
        Identity::deserialize(deserializer).map(Arc::new)
    }
}

pub(crate) async fn push_pending(
    session: &Session,
    pending: PendingLogin,
    lifetime: std::time::Duration,
) -> Result<(), tower_sessions::session::Error> {
    if user(session, None).await?.is_none() {
        // Nobody is signed in: the session lives only as long as the login may take.
        let lifetime = time::Duration::try_from(lifetime).unwrap_or(SIGNED_IN_INACTIVITY);
        session.set_expiry(Some(Expiry::OnInactivity(lifetime)));
    }
    let mut all = pending_logins(session).await?;
    all.push(pending);
    if all.len() > MAX_PENDING {
        all.drain(..all.len() - MAX_PENDING);
    }
    keep_pending(session, &all).await
}

/// Removes and returns the pending login whose `state` is `state`: each is
/// used once, whatever the outcome of the callback.
pub(crate) async fn take_pending(
    session: &Session,
    state: &str,
) -> Result<Option<PendingLogin>, tower_sessions::session::Error> {
    let mut all = pending_logins(session).await?;
    let found = all
        .iter()
        .position(|p| constant_time_eq(p.state().expose_secret().as_bytes(), state.as_bytes()));
    let taken = found.map(|i| all.remove(i));
    if taken.is_some() {
        keep_pending(session, &all).await?;
    }
    Ok(taken)
}

pub(crate) async fn has_pending(session: &Session) -> bool {
    matches!(pending_logins(session).await, Ok(all) if !all.is_empty())
}

/// The logins in flight, kept like the signed-in user as one JSON string.
/// A value there that does not decode (a tree of JSON values, as builds
/// before this encoding kept it) holds none: those logins start again.
async fn pending_logins(
    session: &Session,
) -> Result<Vec<PendingLogin>, tower_sessions::session::Error> {
    match session.get_value(PENDING_KEY).await? {
        None => Ok(Vec::new()),
        Some(serde_json::Value::String(text)) => Ok(serde_json::from_str(&text).unwrap_or_else(|error: serde_json::Error| {
            tracing::info!(target: "oidc_login::axum", category = ?error.classify(), "the session's logins in flight do not decode: dropped");
            Vec::new()
        })),
        Some(_) => {
            tracing::info!(target: "oidc_login::axum", "the session's logins in flight are not kept as this version keeps them: dropped");
            Ok(Vec::new())
        }
    }
}

async fn keep_pending(
    session: &Session,
    all: &[PendingLogin],
) -> Result<(), tower_sessions::session::Error> {
    if all.is_empty() {
        session.remove_value(PENDING_KEY).await?;
        return Ok(());
    }
    session
        .insert_value(PENDING_KEY, serde_json::to_string(all)?.into())
        .await?;
    Ok(())
}

/// Signs `identity` in: a new session id, the user stored in the session,
/// and, with `decoded`, kept there for the session's next request, so that
/// it is not decoded again from what was just encoded.
pub(crate) async fn sign_in(
    session: &Session,
    identity: Identity,
    tokens: Option<Tokens>,
    account: Option<String>,
    decoded: Option<&DecodedUsers>,
) -> Result<(), tower_sessions::session::Error> {
    // A new session id at sign-in: a session id fixed before the login
    // (by an attacker who planted the cookie) is worthless after it. The
    // expiry is the session layer's (the app's), as this request's session
    // was made with it.
    session.cycle_id().await?;
    let mut sign_in_id = [0u8; 16];
    getrandom::fill(&mut sign_in_id).expect("the operating system's random source failed");
    let now = OffsetDateTime::now_utc();
    let user = SessionUser {
        identity: Arc::new(identity),
        // In whole milliseconds, as it is stored: the user kept in `decoded`
        // is the one decoding the stored text gives.
        signed_in_at: now.replace_millisecond(now.millisecond()).unwrap_or(now),
        tokens,
        // In hex: one formatting of the number, not one per byte.
        sign_in_id: Some(format!("{:032x}", u128::from_be_bytes(sign_in_id))),
        account,
    };
    session.insert(ACTIVE_KEY, now.unix_timestamp()).await?;
    let text = serde_json::to_string(&user)?;
    session.insert_value(USER_KEY, text.clone().into()).await?;
    if let Some(decoded) = decoded {
        decoded.signed_in(text, Arc::new(user));
    }
    Ok(())
}

/// Marks a signed-in session active, so that it is saved (its expiry
/// renewed, its cookie sent again) when it was last saved for activity
/// longer ago than a minute, or than a tenth of its inactivity expiry.
/// An expiry at a fixed date is left alone.
pub(crate) async fn touch(session: &Session) -> Result<(), tower_sessions::session::Error> {
    let every = match session.expiry() {
        Some(Expiry::AtDateTime(_)) => return Ok(()),
        Some(Expiry::OnInactivity(inactivity)) => TOUCH_EVERY.min(inactivity / 10),
        Some(Expiry::OnSessionEnd) | None => TOUCH_EVERY,
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let active_at: Option<i64> = session.get(ACTIVE_KEY).await?;
    let due = active_at.is_none_or(|at| now.saturating_sub(at) >= every.whole_seconds().max(1));
    if due {
        session.insert(ACTIVE_KEY, now).await?;
    }
    Ok(())
}

/// Replaces the signed-in user (after a refresh).
pub(crate) async fn update_user(
    session: &Session,
    user: &SessionUser,
) -> Result<(), tower_sessions::session::Error> {
    session
        .insert_value(USER_KEY, serde_json::to_string(user)?.into())
        .await?;
    Ok(())
}

/// Keeps the `state` of a logout at the provider, in the (new, empty)
/// session that outlives the signed-in one, until the browser returns.
pub(crate) async fn keep_logout_state(
    session: &Session,
    state: &State,
) -> Result<(), tower_sessions::session::Error> {
    session.set_expiry(Some(Expiry::OnInactivity(LOGOUT_STATE_LIFETIME)));
    session
        .insert(LOGOUT_STATE_KEY, state.expose_secret())
        .await
}

/// Whether `returned` is the kept logout `state`; it is used up either way.
pub(crate) async fn take_logout_state(
    session: &Session,
    returned: Option<&str>,
) -> Result<bool, tower_sessions::session::Error> {
    let kept: Option<String> = session.remove(LOGOUT_STATE_KEY).await?;
    Ok(match (kept, returned) {
        (Some(kept), Some(returned)) => constant_time_eq(kept.as_bytes(), returned.as_bytes()),
        _ => false,
    })
}

/// The signed-in user, if any. With `decoded`, a user decoded before from
/// the very same stored text (in this session) is reused instead of being
/// decoded again; the store stays the only truth, as the text is read from
/// it each time. A stored value that does not decode ends the session (it
/// is flushed): nobody is signed in.
pub(crate) async fn user(
    session: &Session,
    decoded: Option<&DecodedUsers>,
) -> Result<Option<Arc<SessionUser>>, tower_sessions::session::Error> {
    let Some(value) = session.get_value(USER_KEY).await? else {
        return Ok(None);
    };
    let serde_json::Value::String(text) = value else {
        tracing::info!(target: "oidc_login::axum", "session ended: its signed-in user is not kept as this version keeps it (written before it was kept as one JSON string?)");
        session.flush().await?;
        return Ok(None);
    };
    let id = session.id();
    if let (Some(decoded), Some(id)) = (decoded, id)
        && let Some(user) = decoded.get(id, &text)
    {
        return Ok(Some(user));
    }
    match serde_json::from_str::<SessionUser>(&text) {
        Ok(user) => {
            let user = Arc::new(user);
            if let (Some(decoded), Some(id)) = (decoded, id) {
                decoded.insert(id, text, user.clone());
            }
            Ok(Some(user))
        }
        Err(error) => {
            // Where and what kind of error only: serde's message may quote
            // the stored text, tokens included.
            tracing::info!(target: "oidc_login::axum", category = ?error.classify(), line = error.line(), column = error.column(), "session ended: its signed-in user does not decode");
            session.flush().await?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn the_user_kept_at_sign_in_is_the_one_its_stored_text_decodes_to() {
        let store = Arc::new(tower_sessions::MemoryStore::default());
        let session = Session::new(None, store, None);
        let identity: Identity = serde_json::from_value(json!({
            "issuer": "https://idp.example", "provider": "idp", "subject": "alice-sub",
            "username": "alice", "email": "alice@example.com", "email_verified": true,
            "name": "Alice \"A\" \u{e9}", "groups": ["g1", "g2"], "app_roles": ["r"],
            "roles": ["Read-write"],
            "claims": {"sub": "alice-sub", "n": 1.5, "big": 12_345_678_901_i64, "neg": -3,
                       "nested": {"a": [true, null, "x\ny"]}},
        }))
        .unwrap();
        let tokens: Tokens = serde_json::from_value(json!({
            "access_token": "at", "refresh_token": "rt", "id_token": "a.b.c",
            "expires_at": 1_765_000_000, "scopes": ["openid", "email"],
        }))
        .unwrap();
        let decoded = DecodedUsers::default();
        let account = Some("account-1".to_owned());
        sign_in(
            &session,
            identity.clone(),
            Some(tokens),
            account,
            Some(&decoded),
        )
        .await
        .unwrap();
        assert_eq!(decoded.len(), 1, "kept at sign-in");
        // The new session id is chosen when the session is saved.
        session.save().await.unwrap();

        let Some(serde_json::Value::String(text)) = session.get_value(USER_KEY).await.unwrap()
        else {
            panic!("the user is stored as one string");
        };
        let stored: SessionUser = serde_json::from_str(&text).unwrap();
        let kept = user(&session, Some(&decoded)).await.unwrap().unwrap();
        assert_eq!(
            decoded.len(),
            1,
            "the user kept at sign-in was taken, not decoded again"
        );
        assert_eq!(*kept.identity, identity);
        assert_eq!(kept.identity, stored.identity);
        assert_eq!(kept.signed_in_at, stored.signed_in_at, "whole milliseconds");
        assert_eq!(kept.sign_in_id, stored.sign_in_id);
        assert_eq!(kept.account, stored.account);
        assert_eq!(
            serde_json::to_string(&kept.tokens).unwrap(),
            serde_json::to_string(&stored.tokens).unwrap()
        );
        assert_eq!(serde_json::to_string(&*kept).unwrap(), text);
        // From now on it is kept for this session.
        let again = user(&session, Some(&decoded)).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&again, &kept));
    }
}
