//! The signed-in user: who they are, their groups and roles, and every claim.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{AccessError, RefreshError};
use crate::token::{IdTokenClaims, REGISTERED_CLAIMS};

/// Who signed in, as the provider vouched for them.
///
/// Built by [`Client::finish`](crate::Client::finish) from the validated ID
/// token, merged with the userinfo response when one was fetched (the signed
/// ID token wins where both have a claim). Serde-serializable, so it can be
/// kept in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The name of the provider in the app ([`Config::name`](crate::Config::name),
    /// `default` unless configured): which of the app's providers signed
    /// the user in. Empty for a break-glass sign-in.
    #[serde(default)]
    pub provider: String,
    /// The provider's stable id of the user (`sub`). Together with `issuer`
    /// it is the only key that identifies a user; usernames and emails change.
    pub subject: String,
    /// The configured username claim (`preferred_username` by default).
    pub username: Option<String>,
    /// The configured email claim (`email` by default).
    pub email: Option<String>,
    /// Whether the provider says it verified the email (`email_verified`).
    pub email_verified: bool,
    /// The user's display name (`name`).
    pub name: Option<String>,
    /// The configured groups claim: an array of strings, a single string, or
    /// empty when absent. For an Entra ID config, the groups read from
    /// Microsoft Graph instead when the token had a groups overage marker
    /// (or `groups_source` is `graph`).
    pub groups: Vec<String>,
    /// The provider's app roles for this app: the configured app roles claim
    /// (`roles` by default, where Entra ID puts them), an array of strings or
    /// a single string, or empty when absent. Not the app's own roles: those
    /// are in [`roles`](Self::roles), and a [`Source::AppRole`](crate::Source::AppRole)
    /// row maps these to them.
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// The app's roles, from the role mapper; sorted, no duplicates.
    pub roles: Vec<String>,
    /// Every claim of the ID token and userinfo response.
    pub claims: Map<String, Value>,
    /// Whether this is a break-glass local sign-in ([`BreakGlass`](crate::BreakGlass)),
    /// not a provider's: then `issuer` is [`BREAK_GLASS_ISSUER`](crate::BREAK_GLASS_ISSUER),
    /// `subject` and `username` the local username, and there are no claims.
    #[serde(default)]
    pub break_glass: bool,
    /// The attribute the provider fills `sub` from, when the config says it
    /// is a mutable one ([`Config::mutable_subject`](crate::Config::mutable_subject),
    /// PrivX's `email=sub`): [`AccountLinker::link`](crate::AccountLinker::link)
    /// refuses such a login unless the linker accepts it.
    #[serde(default)]
    pub mutable_subject: Option<String>,
}

impl Identity {
    /// [`provider`](Self::provider), `None` when empty (a break-glass
    /// sign-in, or a session kept by a version before providers had names:
    /// the app's first provider's).
    pub fn provider_name(&self) -> Option<&str> {
        Some(self.provider.as_str()).filter(|name| !name.is_empty())
    }

    /// The claim at `path`: a top-level claim of that exact name if there is
    /// one (names such as `https://example.com/roles` hold dots), otherwise a
    /// dotted path into nested objects, such as `realm_access.roles`.
    pub fn claim(&self, path: &str) -> Option<&Value> {
        lookup(&self.claims, path)
    }

    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Claim names the crate reads; see the `*_claim` config fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimNames<'a> {
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) groups: &'a str,
    pub(crate) app_roles: &'a str,
}

pub(crate) fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Whether the claims hold everything the identity is built from; when not,
/// the `when_claims_missing` userinfo policy fetches userinfo.
pub(crate) fn has_all(claims: &Map<String, Value>, names: ClaimNames<'_>) -> bool {
    [names.username, names.email, names.groups]
        .into_iter()
        .all(|name| lookup(claims, name).is_some())
}

/// Builds the identity (without roles) from merged claims. `sub` and `iss`
/// were checked before: the ID token's values are passed in.
pub(crate) fn build(
    issuer: String,
    subject: String,
    claims: Map<String, Value>,
    names: ClaimNames<'_>,
) -> Identity {
    let text = |name: &str| {
        lookup(&claims, name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let groups = strings(&claims, names.groups, "groups");
    let app_roles = strings(&claims, names.app_roles, "app roles");
    // Some providers send `email_verified` as the string "true".
    let email_verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "true");
    Identity {
        username: text(names.username),
        email: text(names.email),
        name: text("name"),
        email_verified,
        groups,
        app_roles,
        roles: Vec::new(),
        issuer,
        provider: String::new(),
        subject,
        claims,
        break_glass: false,
        mutable_subject: None,
    }
}

/// A claim read as a list of strings: an array (non-strings skipped), a
/// single string, or nothing.
fn strings(claims: &Map<String, Value>, name: &str, what: &'static str) -> Vec<String> {
    match lookup(claims, name) {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(other) => {
            tracing::warn!(
                target: "oidc_login::identity",
                claim = name,
                kind = json_kind(other),
                "the {what} claim is neither a string nor an array of strings; it is read as empty"
            );
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// Pexip's "required key / required value": the claim equals `value`, or is
/// an array holding it.
pub(crate) fn check_required_claim(
    claims: &Map<String, Value>,
    key: &str,
    value: &str,
) -> Result<(), AccessError> {
    let holds = match lookup(claims, key) {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some(value)),
        Some(Value::Bool(b)) => b.to_string() == value,
        Some(Value::Number(n)) => n.to_string() == value,
        _ => false,
    };
    if holds {
        Ok(())
    } else {
        Err(AccessError::RequiredClaim {
            claim: key.to_owned(),
        })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whose identity is built: the issuer and subject of a validated token,
/// never read again from a claim map.
pub(crate) struct Who {
    pub(crate) issuer: String,
    pub(crate) subject: String,
}

impl Who {
    pub(crate) fn of(claims: &IdTokenClaims) -> Self {
        Self {
            issuer: claims.issuer().to_owned(),
            subject: claims.subject().to_owned(),
        }
    }

    /// From the original login's ID token (validated when it was issued).
    pub(crate) fn from_original(claims: &Map<String, Value>) -> Result<Self, RefreshError> {
        let text = |name| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        match (text("iss"), text("sub")) {
            (Some(issuer), Some(subject)) => Ok(Self {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
            }),
            _ => Err(RefreshError::OriginalUnreadable("it has no `iss` or `sub`")),
        }
    }
}

/// How userinfo is merged into the claims.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Userinfo {
    /// Fills in claims the ID token lacks (a fresh ID token wins).
    Fill,
    /// Replaces the user's claims (of an original ID token that a refresh
    /// brought no successor for): only the protocol claims are kept.
    Replace,
}

/// Merges fresh userinfo claims into `claims`: the signed ID token wins
/// where both have a claim; with [`Userinfo::Replace`] only its protocol
/// claims are kept to win.
pub(crate) fn merge_userinfo(
    claims: &mut Map<String, Value>,
    fresh: Map<String, Value>,
    mode: Userinfo,
) {
    if mode == Userinfo::Replace {
        claims.retain(|name, _| is_protocol_claim(name));
    }
    // `email_verified` speaks of the `email` beside it: it is taken from
    // the source `email` comes from (userinfo's may fill in for the very
    // same address), never paired with another address.
    let email_from_userinfo = !claims.contains_key("email") && fresh.contains_key("email");
    if email_from_userinfo {
        claims.remove("email_verified");
    }
    let same_email = claims.get("email").is_some() && claims.get("email") == fresh.get("email");
    for (name, value) in fresh {
        if name == "email_verified" && !email_from_userinfo && !same_email {
            continue;
        }
        claims.entry(name).or_insert(value);
    }
}

/// Whether `name` describes the token rather than the user: the claims
/// the ID token rules read, and `acr`, `amr`, `sid`. Userinfo never
/// replaces them.
fn is_protocol_claim(name: &str) -> bool {
    REGISTERED_CLAIMS.contains(&name) || ["acr", "amr", "sid"].contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NAMES: ClaimNames<'static> = ClaimNames {
        username: "preferred_username",
        email: "email",
        groups: "groups",
        app_roles: "roles",
    };

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn dotted_paths_and_exact_names() {
        let c = claims(json!({
            "realm_access": {"roles": ["a", "b"]},
            "https://example.com/roles": ["x"],
            "https://example": {"com/roles": "nested"}
        }));
        assert_eq!(lookup(&c, "realm_access.roles"), Some(&json!(["a", "b"])));
        assert_eq!(lookup(&c, "https://example.com/roles"), Some(&json!(["x"])));
        assert_eq!(lookup(&c, "realm_access.missing"), None);
        assert_eq!(lookup(&c, "realm_access.roles.deeper"), None);
    }

    #[test]
    fn groups_from_array_string_or_absent() {
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"groups": ["g1", "g2", 3]})),
            NAMES,
        );
        assert_eq!(id.groups, ["g1", "g2"]);
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"groups": "g1"})),
            NAMES,
        );
        assert_eq!(id.groups, ["g1"]);
        let id = build("i".into(), "s".into(), claims(json!({})), NAMES);
        assert!(id.groups.is_empty());
        let nested = ClaimNames {
            groups: "realm_access.roles",
            ..NAMES
        };
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"realm_access": {"roles": ["r"]}})),
            nested,
        );
        assert_eq!(id.groups, ["r"]);
    }

    #[test]
    fn app_roles_come_from_their_claim() {
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"roles": ["Admin", "Reader", 5], "groups": ["g"]})),
            NAMES,
        );
        assert_eq!(id.app_roles, ["Admin", "Reader"]);
        assert_eq!(id.groups, ["g"]);
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"roles": "Admin"})),
            NAMES,
        );
        assert_eq!(id.app_roles, ["Admin"]);
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"roles": {"x": 1}})),
            NAMES,
        );
        assert!(id.app_roles.is_empty());
        // An identity kept in a session before `app_roles` existed still loads.
        let old = json!({
            "issuer": "i", "subject": "s", "username": null, "email": null,
            "email_verified": false, "name": null, "groups": [], "roles": [], "claims": {}
        });
        let id: Identity = serde_json::from_value(old).unwrap();
        assert!(id.app_roles.is_empty());
    }

    #[test]
    fn identity_fields_come_from_the_configured_claims() {
        let c = claims(
            json!({"preferred_username": "alice", "email": "a@x", "email_verified": true, "name": "Alice"}),
        );
        let id = build("iss".into(), "sub".into(), c, NAMES);
        assert_eq!(id.username.as_deref(), Some("alice"));
        assert_eq!(id.email.as_deref(), Some("a@x"));
        assert!(id.email_verified);
        assert_eq!(id.name.as_deref(), Some("Alice"));
        let id = build(
            "i".into(),
            "s".into(),
            claims(json!({"email_verified": "false"})),
            NAMES,
        );
        assert!(!id.email_verified);
    }

    #[test]
    fn required_claim_matches_value_or_array_member_only() {
        let c = claims(json!({"tid": "t1", "groups": ["a", "b"], "n": 5}));
        assert!(check_required_claim(&c, "tid", "t1").is_ok());
        assert!(check_required_claim(&c, "groups", "b").is_ok());
        assert!(check_required_claim(&c, "n", "5").is_ok());
        let err = check_required_claim(&c, "tid", "t2").unwrap_err();
        // The error names the claim, never the user's value.
        assert_eq!(
            err.to_string(),
            "the required claim `tid` is missing or does not hold the required value"
        );
        assert!(!err.to_string().contains("t1"));
        assert!(check_required_claim(&c, "missing", "t1").is_err());
        assert!(check_required_claim(&c, "groups", "c").is_err());
    }

    /// `email_verified` is never paired with another source's `email`.
    #[test]
    fn email_verified_comes_with_its_email() {
        let merged = |id_token: Value, userinfo: Value| {
            let mut c = claims(id_token);
            merge_userinfo(&mut c, claims(userinfo), Userinfo::Fill);
            let id = build("i".into(), "s".into(), c, NAMES);
            (id.email, id.email_verified)
        };
        // The ID token's address; userinfo vouches for another one.
        assert_eq!(
            merged(
                json!({"email": "mallory@corp.example"}),
                json!({"email": "alice@corp.example", "email_verified": true})
            ),
            (Some("mallory@corp.example".into()), false)
        );
        // The ID token vouches for nothing; userinfo's address is used.
        assert_eq!(
            merged(
                json!({"email_verified": true}),
                json!({"email": "alice@corp.example", "email_verified": false})
            ),
            (Some("alice@corp.example".into()), false)
        );
        assert_eq!(
            merged(
                json!({"email_verified": true}),
                json!({"email": "alice@corp.example"})
            ),
            (Some("alice@corp.example".into()), false)
        );
        // The same address from both: userinfo may fill in its verification.
        assert_eq!(
            merged(
                json!({"email": "alice@corp.example"}),
                json!({"email": "alice@corp.example", "email_verified": true})
            ),
            (Some("alice@corp.example".into()), true)
        );
        assert_eq!(
            merged(
                json!({"email": "alice@corp.example", "email_verified": true}),
                json!({"email": "other@corp.example", "email_verified": false})
            ),
            (Some("alice@corp.example".into()), true)
        );
    }

    #[test]
    fn claims_present_decides_userinfo() {
        assert!(has_all(
            &claims(json!({"preferred_username": "a", "email": "e", "groups": []})),
            NAMES
        ));
        assert!(!has_all(
            &claims(json!({"preferred_username": "a", "email": "e"})),
            NAMES
        ));
    }
}
