//! Role mapping: the user's groups and app roles to the app's roles.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::Identity;

/// Where a role-mapping row looks for its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// A value of the configured groups claim (`groups_claim`), such as an
    /// Entra group object id. Written `openid_connect` in TOML, like Pexip's
    /// "OpenID Connect" source.
    #[serde(rename = "openid_connect")]
    OpenIdConnect,
    /// A value of the app roles claim (`app_roles_claim`, `roles` by
    /// default): an Entra ID app role's value, such as `Admin`. Written
    /// `app_role` in TOML.
    AppRole,
    /// The username of a break-glass local sign-in ([`BreakGlass`](crate::BreakGlass)),
    /// never a provider's login. Written `local` in TOML, like Pexip's
    /// "Local Database" source.
    Local,
}

/// One row of a role-mapping table: "members of `value` get `roles`".
///
/// In TOML:
/// ```toml
/// [[role_mapping]]
/// name = "Azure Roles - Maximus Conferencing Developers"
/// source = "openid_connect"
/// value = "d48429bd-9f2a-47a2-a410-993f2a37876b"
/// roles = ["Read-write"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    name: String,
    source: Source,
    value: String,
    roles: Vec<String>,
}

impl RoleMapping {
    /// A row: a display `name`, the `source` to look in, the `value` to match
    /// exactly, and the `roles` it grants.
    pub fn new<R: Into<String>>(
        name: impl Into<String>,
        source: Source,
        value: impl Into<String>,
        roles: impl IntoIterator<Item = R>,
    ) -> Self {
        Self {
            name: name.into(),
            source,
            value: value.into(),
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }

    /// The row's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the row looks.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The value it matches exactly.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The roles it grants.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Why the row cannot work, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.value.trim().is_empty() {
            return Some(format!("row `{}` has an empty `value`", self.name));
        }
        if self.value.trim() != self.value {
            return Some(format!(
                "row `{}` has spaces around its `value`, which would never match",
                self.name
            ));
        }
        if self.roles.is_empty() || self.roles.iter().any(|r| r.trim().is_empty()) {
            return Some(format!(
                "row `{}` grants no role, or an empty role name",
                self.name
            ));
        }
        None
    }
}

/// Decides the app's roles for a signed-in user.
///
/// [`RoleMappingTable`] is the usual implementation; implement this trait to
/// read roles from somewhere else (a database, an admin UI). It runs on every
/// login, after the ID token and the required claim have been checked.
pub trait RoleMapper: Send + Sync + fmt::Debug + 'static {
    /// The roles of this identity, in any order; duplicates are removed.
    fn roles(&self, identity: &Identity) -> Vec<String>;
}

/// A table of [`RoleMapping`] rows, indexed for lookups by hash: the cost
/// grows with the number of the user's groups, not with the number of rows.
#[derive(Debug, Clone, Default)]
pub struct RoleMappingTable {
    rows: Vec<RoleMapping>,
    /// source -> value -> indexes into `role_names`.
    index: HashMap<Source, HashMap<String, Vec<u32>>>,
    role_names: Vec<String>,
}

impl RoleMappingTable {
    /// A table from rows. Several rows may share a value; their roles add up.
    pub fn from_rows(rows: impl IntoIterator<Item = RoleMapping>) -> Self {
        let rows: Vec<RoleMapping> = rows.into_iter().collect();
        let mut role_ids: HashMap<&str, u32> = HashMap::new();
        let mut role_names = Vec::new();
        let mut index: HashMap<Source, HashMap<String, Vec<u32>>> = HashMap::new();
        for row in &rows {
            let ids = index
                .entry(row.source)
                .or_default()
                .entry(row.value.clone())
                .or_default();
            for role in &row.roles {
                let id = *role_ids.entry(role).or_insert_with(|| {
                    role_names.push(role.clone());
                    (role_names.len() - 1) as u32
                });
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Self {
            rows,
            index,
            role_names,
        }
    }

    /// The rows, in the order given.
    pub fn rows(&self) -> &[RoleMapping] {
        &self.rows
    }

    /// The roles granted to someone whose `source` values are `values`,
    /// sorted and without duplicates.
    pub fn roles_for<'a>(
        &self,
        source: Source,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let Some(by_value) = self.index.get(&source) else {
            return Vec::new();
        };
        let mut ids: Vec<u32> = values
            .into_iter()
            .filter_map(|value| by_value.get(value))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut roles: Vec<String> = ids
            .iter()
            .map(|&id| self.role_names[id as usize].clone())
            .collect();
        roles.sort_unstable();
        roles
    }
}

impl RoleMapper for RoleMappingTable {
    /// The roles of the identity's groups ([`Source::OpenIdConnect`] rows)
    /// and of its app roles ([`Source::AppRole`] rows), together; for a
    /// break-glass sign-in, only the [`Source::Local`] rows of its username.
    fn roles(&self, identity: &Identity) -> Vec<String> {
        if identity.break_glass {
            return self.roles_for(Source::Local, identity.username.as_deref());
        }
        let mut roles = self.roles_for(
            Source::OpenIdConnect,
            identity.groups.iter().map(String::as_str),
        );
        if !identity.app_roles.is_empty() {
            roles.extend(self.roles_for(
                Source::AppRole,
                identity.app_roles.iter().map(String::as_str),
            ));
            roles.sort_unstable();
            roles.dedup();
        }
        roles
    }
}

/// What happens to a login that maps to no role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoRolePolicy {
    /// The user signs in with no roles; the app decides what that allows.
    #[default]
    Allow,
    /// The login is refused with [`AccessError::NoRole`](crate::AccessError::NoRole).
    Refuse,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVS: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

    fn table() -> RoleMappingTable {
        RoleMappingTable::from_rows([
            RoleMapping::new("Devs", Source::OpenIdConnect, DEVS, ["Read-write"]),
            RoleMapping::new(
                "Devs again",
                Source::OpenIdConnect,
                DEVS,
                ["Read-write", "Audit"],
            ),
            RoleMapping::new("Ops", Source::OpenIdConnect, "ops-group", ["Admin"]),
        ])
    }

    #[test]
    fn groups_map_to_sorted_unique_roles() {
        let t = table();
        assert_eq!(
            t.roles_for(Source::OpenIdConnect, [DEVS]),
            ["Audit", "Read-write"]
        );
        assert_eq!(
            t.roles_for(Source::OpenIdConnect, [DEVS, "ops-group", DEVS]),
            ["Admin", "Audit", "Read-write"]
        );
        assert!(t.roles_for(Source::OpenIdConnect, ["unknown"]).is_empty());
    }

    #[test]
    fn the_mapper_reads_groups_and_app_roles() {
        let t = RoleMappingTable::from_rows([
            RoleMapping::new("Devs", Source::OpenIdConnect, DEVS, ["Read-write"]),
            RoleMapping::new("Admins", Source::AppRole, "Admin", ["Admin", "Read-write"]),
            // The same value under the other source does not match.
            RoleMapping::new("Not a group", Source::AppRole, DEVS, ["Wrong"]),
        ]);
        let identity = |groups: &[&str], app_roles: &[&str]| {
            let mut id: Identity = serde_json::from_value(serde_json::json!({
                "issuer": "i", "subject": "s", "username": null, "email": null,
                "email_verified": false, "name": null, "groups": groups,
                "app_roles": app_roles, "roles": [], "claims": {}
            }))
            .unwrap();
            id.roles.clear();
            id
        };
        assert_eq!(t.roles(&identity(&[DEVS], &[])), ["Read-write"]);
        assert_eq!(t.roles(&identity(&[], &["Admin"])), ["Admin", "Read-write"]);
        assert_eq!(
            t.roles(&identity(&[DEVS], &["Admin"])),
            ["Admin", "Read-write"]
        );
        // Each value is looked up under its own source only.
        assert!(t.roles(&identity(&["Admin"], &[])).is_empty());
        assert_eq!(t.roles(&identity(&[], &[DEVS])), ["Wrong"]);
        let row: RoleMapping = toml::from_str(
            "name = \"a\"\nsource = \"app_role\"\nvalue = \"Admin\"\nroles = [\"x\"]",
        )
        .unwrap();
        assert_eq!(row.source(), Source::AppRole);
    }

    #[test]
    fn local_rows_match_only_break_glass_sign_ins() {
        let t = RoleMappingTable::from_rows([
            RoleMapping::new("Local", Source::Local, "breakglass", ["Admin"]),
            RoleMapping::new("Group", Source::OpenIdConnect, "breakglass", ["Wrong"]),
        ]);
        let identity = |break_glass: bool| -> Identity {
            serde_json::from_value(serde_json::json!({
                "issuer": "i", "subject": "breakglass", "username": "breakglass",
                "email": null, "email_verified": false, "name": null,
                "groups": ["breakglass"], "app_roles": [], "roles": [], "claims": {},
                "break_glass": break_glass
            }))
            .unwrap()
        };
        assert_eq!(t.roles(&identity(true)), ["Admin"]);
        // A provider's user named (or grouped) like the local account gets no local role.
        assert_eq!(t.roles(&identity(false)), ["Wrong"]);
        let row: RoleMapping =
            toml::from_str("name = \"a\"\nsource = \"local\"\nvalue = \"x\"\nroles = [\"y\"]")
                .unwrap();
        assert_eq!(row.source(), Source::Local);
    }

    #[test]
    fn matching_is_exact() {
        let t = table();
        for near in [
            DEVS.to_uppercase(),
            format!(" {DEVS}"),
            "ops".into(),
            "ops-group2".into(),
        ] {
            assert!(
                t.roles_for(Source::OpenIdConnect, [near.as_str()])
                    .is_empty(),
                "{near}"
            );
        }
    }

    #[test]
    fn row_problems_are_found() {
        assert!(
            RoleMapping::new("a", Source::OpenIdConnect, "", ["r"])
                .problem()
                .is_some()
        );
        assert!(
            RoleMapping::new("a", Source::OpenIdConnect, " g", ["r"])
                .problem()
                .is_some()
        );
        assert!(
            RoleMapping::new("a", Source::OpenIdConnect, "g", Vec::<String>::new())
                .problem()
                .is_some()
        );
        assert!(
            RoleMapping::new("a", Source::OpenIdConnect, "g", ["r"])
                .problem()
                .is_none()
        );
    }

    #[test]
    fn large_tables_map_many_groups() {
        let rows = (0..10_000).map(|i| {
            RoleMapping::new(
                format!("row {i}"),
                Source::OpenIdConnect,
                format!("group-{i}"),
                [format!("role-{}", i % 50)],
            )
        });
        let t = RoleMappingTable::from_rows(rows);
        let groups: Vec<String> = (0..200).map(|i| format!("group-{}", i * 7)).collect();
        let roles = t.roles_for(Source::OpenIdConnect, groups.iter().map(String::as_str));
        assert_eq!(roles.len(), 50);
    }
}
