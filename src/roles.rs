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

/// Which Entra ID tenants' sign-ins a [`RoleMapping`] row applies to, by
/// the ID token's `tid`. Matters for a multi-tenant app (an Entra config
/// with a [`TenantPolicy`](crate::TenantPolicy)), where users of several
/// tenants sign in.
///
/// In TOML, a row's `tenants = ["<tenant id>", ...]` or `tenants = "any"`;
/// no `tenants` is [`Unspecified`](Self::Unspecified).
///
/// # Security
///
/// An app role (`roles` claim) is defined once, in the app registration,
/// but assigned in each tenant by that tenant's own admins: in a
/// multi-tenant app, a partner tenant's admin can give the app's `Admin`
/// role to any of their users. So an app-role row that names no tenant
/// applies only to the home tenant (see
/// [`entra_home_tenant`](crate::ConfigBuilder::entra_home_tenant)); name
/// the partner tenants, or [`Any`](Self::Any), to let theirs count too.
/// Group rows match group object ids, which one tenant cannot mint for
/// another, and apply to every tenant unless they name some; a row that
/// matches group *names* (a `groups_claim` of names, not ids) should name
/// its tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantScope {
    /// Not named: an app-role row of a multi-tenant Entra config applies
    /// to the home tenant only (the config makes it
    /// [`Only`](Self::Only) the home tenant); any other row, or a row
    /// given to [`RoleMappingTable::from_rows`] directly, to every tenant.
    #[default]
    Unspecified,
    /// Only sign-ins whose `tid` is one of these tenant ids (GUIDs); a
    /// sign-in without a `tid` never matches.
    Only(Vec<String>),
    /// Sign-ins of every tenant the config lets in.
    Any,
}

impl TenantScope {
    fn is_unspecified(&self) -> bool {
        *self == Self::Unspecified
    }

    fn admits_every_tenant(&self) -> bool {
        matches!(self, Self::Unspecified | Self::Any)
    }

    /// Whether a sign-in of `tenant` (its `tid`) is in scope.
    fn admits(&self, tenant: Option<&str>) -> bool {
        match self {
            Self::Unspecified | Self::Any => true,
            Self::Only(tenants) => {
                tenant.is_some_and(|tid| tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)))
            }
        }
    }
}

impl Serialize for TenantScope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unspecified => serializer.serialize_none(),
            Self::Only(tenants) => tenants.serialize(serializer),
            Self::Any => serializer.serialize_str("any"),
        }
    }
}

impl<'de> Deserialize<'de> for TenantScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScopeVisitor;
        impl<'de> serde::de::Visitor<'de> for ScopeVisitor {
            type Value = TenantScope;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tenant ids, or \"any\"")
            }

            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<TenantScope, E> {
                match word {
                    "any" => Ok(TenantScope::Any),
                    // The value is not quoted back: config errors never quote.
                    _ => Err(E::custom("`tenants` is a list of tenant ids, or \"any\"")),
                }
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TenantScope, A::Error> {
                let mut tenants = Vec::new();
                while let Some(tenant) = seq.next_element::<String>()? {
                    tenants.push(tenant);
                }
                Ok(TenantScope::Only(tenants))
            }
        }
        deserializer.deserialize_any(ScopeVisitor)
    }
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
///
/// # A multi-tenant app: a partner tenant's approvers count too.
/// [[role_mapping]]
/// name = "Approvers, here and at the partner"
/// source = "app_role"
/// value = "Approver"
/// roles = ["Approve"]
/// tenants = ["3c1a0f6e-0000-4000-8000-000000000001", "72f988bf-86f1-41af-91ab-2d7cd011db47"]
/// ```
///
/// `tenants` ([`TenantScope`]) says whose sign-ins the row applies to; an
/// app-role row without it applies only to the home tenant of a
/// multi-tenant Entra config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    name: String,
    source: Source,
    value: String,
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "TenantScope::is_unspecified")]
    tenants: TenantScope,
    /// The provider whose sign-ins the row applies to (its
    /// [`Config::name`](crate::Config::name)); every provider's when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
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
            tenants: TenantScope::Unspecified,
            provider: None,
        }
    }

    /// Applies the row only to sign-ins at the provider named `name` (its
    /// [`Config::name`](crate::Config::name)), when the app has several
    /// (TOML `provider = "entra"` in the row); without it, the row applies
    /// to every provider's sign-ins. A group id of one provider means
    /// nothing at another, and may even name another group there.
    ///
    /// ```
    /// use oidc_login::{RoleMapping, Source};
    ///
    /// let row = RoleMapping::new("PrivX admins", Source::OpenIdConnect, "admins", ["Read-write"])
    ///     .provider("privx");
    /// assert_eq!(row.provider_scope(), Some("privx"));
    /// ```
    pub fn provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }

    /// The provider the row applies to, if only one.
    pub fn provider_scope(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// Whether the row applies to a sign-in at `provider` (`None`: not
    /// known, or a break-glass sign-in).
    fn admits_provider(&self, provider: Option<&str>) -> bool {
        self.provider.is_none() || self.provider.as_deref() == provider
    }

    /// Applies the row only to sign-ins of these Entra tenants (their
    /// `tid`, a GUID). See [`TenantScope`].
    ///
    /// ```
    /// use oidc_login::{RoleMapping, Source, TenantScope};
    ///
    /// let partner = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    /// let row = RoleMapping::new("Partner readers", Source::AppRole, "Reader", ["Read-only"])
    ///     .tenants([partner]);
    /// assert_eq!(row.tenant_scope(), &TenantScope::Only(vec![partner.into()]));
    /// ```
    pub fn tenants<T: Into<String>>(mut self, tenants: impl IntoIterator<Item = T>) -> Self {
        self.tenants = TenantScope::Only(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Applies the row to sign-ins of every tenant the config lets in,
    /// app-role rows included.
    ///
    /// # Security
    /// In a multi-tenant app, an app role of another tenant was assigned
    /// by that tenant's admins: with this, they decide who gets the row's
    /// roles in this app.
    pub fn any_tenant(mut self) -> Self {
        self.tenants = TenantScope::Any;
        self
    }

    /// Whose sign-ins the row applies to.
    pub fn tenant_scope(&self) -> &TenantScope {
        &self.tenants
    }

    /// The row with its scope replaced (the config's default for app-role
    /// rows, checked tenant ids).
    pub(crate) fn with_scope(mut self, tenants: TenantScope) -> Self {
        self.tenants = tenants;
        self
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
        if let Some(provider) = &self.provider {
            if !crate::config::valid_provider_name(provider) {
                return Some(format!(
                    "row `{}` names a `provider` that is not a provider name (1 to 32 ASCII letters, digits, `-` or `_`)",
                    self.name
                ));
            }
            if self.source == Source::Local {
                return Some(format!(
                    "row `{}` is a `local` row, which matches break-glass sign-ins: they have no provider, so the row cannot name `provider`",
                    self.name
                ));
            }
        }
        match (&self.tenants, self.source) {
            (TenantScope::Only(_) | TenantScope::Any, Source::Local) => Some(format!(
                "row `{}` is a `local` row, which matches break-glass sign-ins: they have no tenant, so the row cannot name `tenants`",
                self.name
            )),
            (TenantScope::Only(tenants), _) if tenants.is_empty() => Some(format!(
                "row `{}` has an empty `tenants` list, so it would never match",
                self.name
            )),
            _ => None,
        }
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
    /// source -> value -> the roles granted, and to which tenants.
    index: HashMap<Source, HashMap<String, Vec<Grant>>>,
    role_names: Vec<String>,
}

/// A role a value grants: an index into `role_names`, and the index of the
/// row (whose tenant scope applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grant {
    role: u32,
    row: u32,
}

impl RoleMappingTable {
    /// A table from rows. Several rows may share a value; their roles add up.
    ///
    /// The rows apply as written: a row whose [`TenantScope`] is
    /// unspecified applies to every tenant. The rows of
    /// [`Config::role_mapping`](crate::Config::role_mapping) are already
    /// scoped (app-role rows to the home tenant of a multi-tenant Entra
    /// config); scope rows of your own with [`RoleMapping::tenants`].
    pub fn from_rows(rows: impl IntoIterator<Item = RoleMapping>) -> Self {
        let rows: Vec<RoleMapping> = rows.into_iter().collect();
        let mut role_ids: HashMap<&str, u32> = HashMap::new();
        let mut role_names = Vec::new();
        let mut index: HashMap<Source, HashMap<String, Vec<Grant>>> = HashMap::new();
        for (row_index, row) in rows.iter().enumerate() {
            let grants = index
                .entry(row.source)
                .or_default()
                .entry(row.value.clone())
                .or_default();
            for role in &row.roles {
                let id = *role_ids.entry(role).or_insert_with(|| {
                    role_names.push(role.clone());
                    (role_names.len() - 1) as u32
                });
                let grant = Grant {
                    role: id,
                    row: row_index as u32,
                };
                // A role granted already, to every tenant or to the same
                // ones, needs no other grant.
                if !grants.iter().any(|g| {
                    let granted = &rows[g.row as usize];
                    let scope = &granted.tenants;
                    g.role == id
                        && (scope.admits_every_tenant() || *scope == row.tenants)
                        && (granted.provider.is_none() || granted.provider == row.provider)
                }) {
                    grants.push(grant);
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

    /// The roles granted to someone of `tenant` (the token's `tid`, if
    /// any) whose `source` values are `values`, sorted and without
    /// duplicates. A row scoped to tenants matches only a `tenant` it
    /// names; a row scoped to a provider ([`RoleMapping::provider`]) does
    /// not match here (see [`roles_at`](Self::roles_at)).
    pub fn roles_for<'a>(
        &self,
        source: Source,
        tenant: Option<&str>,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        self.roles_at(source, None, tenant, values)
    }

    /// The same for a sign-in at the provider named `provider`: the rows
    /// scoped to it match too.
    pub fn roles_at<'a>(
        &self,
        source: Source,
        provider: Option<&str>,
        tenant: Option<&str>,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let Some(by_value) = self.index.get(&source) else {
            return Vec::new();
        };
        let mut ids: Vec<u32> = values
            .into_iter()
            .filter_map(|value| by_value.get(value))
            .flatten()
            .filter(|grant| {
                let row = &self.rows[grant.row as usize];
                row.tenants.admits(tenant) && row.admits_provider(provider)
            })
            .map(|grant| grant.role)
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
    ///
    /// Rows scoped to tenants ([`TenantScope::Only`]) match only when the
    /// identity's `tid` claim names one of them; rows scoped to a provider
    /// ([`RoleMapping::provider`]) only when the identity's
    /// [`provider`](Identity::provider) is that one.
    fn roles(&self, identity: &Identity) -> Vec<String> {
        if identity.break_glass {
            return self.roles_for(Source::Local, None, identity.username.as_deref());
        }
        let tenant = identity
            .claims
            .get("tid")
            .and_then(serde_json::Value::as_str);
        let provider = identity.provider_name();
        let mut roles = self.roles_at(
            Source::OpenIdConnect,
            provider,
            tenant,
            identity.groups.iter().map(String::as_str),
        );
        if !identity.app_roles.is_empty() {
            roles.extend(self.roles_at(
                Source::AppRole,
                provider,
                tenant,
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
            t.roles_for(Source::OpenIdConnect, None, [DEVS]),
            ["Audit", "Read-write"]
        );
        assert_eq!(
            t.roles_for(Source::OpenIdConnect, None, [DEVS, "ops-group", DEVS]),
            ["Admin", "Audit", "Read-write"]
        );
        assert!(
            t.roles_for(Source::OpenIdConnect, None, ["unknown"])
                .is_empty()
        );
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
                t.roles_for(Source::OpenIdConnect, None, [near.as_str()])
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
        let roles = t.roles_for(
            Source::OpenIdConnect,
            None,
            groups.iter().map(String::as_str),
        );
        assert_eq!(roles.len(), 50);
    }

    const HOME: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const PARTNER: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn entra_identity(tid: Option<&str>, groups: &[&str], app_roles: &[&str]) -> Identity {
        let claims = match tid {
            Some(tid) => serde_json::json!({ "tid": tid }),
            None => serde_json::json!({}),
        };
        serde_json::from_value(serde_json::json!({
            "issuer": "i", "subject": "s", "username": null, "email": null,
            "email_verified": false, "name": null, "groups": groups,
            "app_roles": app_roles, "roles": [], "claims": claims
        }))
        .unwrap()
    }

    fn identity_at(provider: &str, groups: &[&str]) -> Identity {
        let mut identity = entra_identity(None, groups, &[]);
        identity.provider = provider.into();
        identity
    }

    /// A row naming a provider grants its roles to that provider's sign-ins
    /// only: the same group id at another provider grants nothing.
    #[test]
    fn rows_naming_a_provider_match_only_its_sign_ins() {
        let t = RoleMappingTable::from_rows([
            RoleMapping::new("PrivX admins", Source::OpenIdConnect, "admins", ["Admin"])
                .provider("privx"),
            RoleMapping::new(
                "Entra admins",
                Source::OpenIdConnect,
                "admins",
                ["Read-only"],
            )
            .provider("entra"),
            RoleMapping::new(
                "Everyone's devs",
                Source::OpenIdConnect,
                DEVS,
                ["Read-write"],
            ),
            // The same role, unscoped, after a scoped grant of it: still granted to all.
            RoleMapping::new("Ops", Source::OpenIdConnect, "ops", ["Admin"]).provider("privx"),
            RoleMapping::new("Ops anywhere", Source::OpenIdConnect, "ops", ["Admin"]),
        ]);
        assert_eq!(t.roles(&identity_at("privx", &["admins"])), ["Admin"]);
        assert_eq!(t.roles(&identity_at("entra", &["admins"])), ["Read-only"]);
        assert!(t.roles(&identity_at("other", &["admins"])).is_empty());
        assert!(t.roles(&identity_at("", &["admins"])).is_empty());
        assert_eq!(t.roles(&identity_at("other", &[DEVS])), ["Read-write"]);
        assert_eq!(t.roles(&identity_at("entra", &["ops"])), ["Admin"]);
        // Without a provider, only the unscoped rows.
        assert!(
            t.roles_for(Source::OpenIdConnect, None, ["admins"])
                .is_empty()
        );
        assert_eq!(
            t.roles_at(Source::OpenIdConnect, Some("privx"), None, ["admins"]),
            ["Admin"]
        );
        // The TOML form.
        let row: RoleMapping = toml::from_str(
            "name = \"x\"\nsource = \"openid_connect\"\nvalue = \"g\"\nroles = [\"r\"]\nprovider = \"privx\"",
        )
        .unwrap();
        assert_eq!(row.provider_scope(), Some("privx"));
        for bad in [
            RoleMapping::new("x", Source::OpenIdConnect, "g", ["r"]).provider("a b"),
            RoleMapping::new("x", Source::Local, "u", ["r"]).provider("privx"),
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
    }

    /// The review's case: the partner tenant's admin assigns our app's
    /// `Admin` app role to a partner user. A row scoped to the home tenant
    /// does not grant it; one naming the partner, or any tenant, does.
    #[test]
    fn scoped_rows_match_only_their_tenants() {
        let t = RoleMappingTable::from_rows([
            RoleMapping::new("Admins", Source::AppRole, "Admin", ["Admin"]).tenants([HOME]),
            RoleMapping::new("Readers", Source::AppRole, "Reader", ["Read-only"])
                .tenants([HOME.to_uppercase(), PARTNER.into()]),
            RoleMapping::new("Approvers", Source::AppRole, "Approver", ["Approve"]).any_tenant(),
            RoleMapping::new("Devs", Source::OpenIdConnect, DEVS, ["Read-write"]),
            RoleMapping::new(
                "Partner devs",
                Source::OpenIdConnect,
                "p-devs",
                ["Read-write"],
            )
            .tenants([PARTNER]),
        ]);
        let all = ["Admin", "Reader", "Approver"];
        assert_eq!(
            t.roles(&entra_identity(Some(HOME), &[DEVS], &all)),
            ["Admin", "Approve", "Read-only", "Read-write"]
        );
        assert_eq!(
            t.roles(&entra_identity(Some(PARTNER), &[DEVS], &all)),
            ["Approve", "Read-only", "Read-write"],
            "no Admin for the partner's users"
        );
        // Tenant ids compare without ASCII case.
        assert_eq!(
            t.roles(&entra_identity(
                Some(&PARTNER.to_uppercase()),
                &[],
                &["Reader"]
            )),
            ["Read-only"]
        );
        // No `tid`: a scoped row never matches.
        assert_eq!(
            t.roles(&entra_identity(None, &["p-devs"], &all)),
            ["Approve"]
        );
        assert!(
            t.roles(&entra_identity(Some(HOME), &["p-devs"], &[]))
                .is_empty()
        );
        assert_eq!(
            t.roles(&entra_identity(Some(PARTNER), &["p-devs"], &[])),
            ["Read-write"]
        );
        assert_eq!(
            t.roles_for(Source::AppRole, Some(PARTNER), ["Admin"]),
            Vec::<String>::new()
        );
        assert_eq!(
            t.roles_for(Source::AppRole, Some(HOME), ["Admin"]),
            ["Admin"]
        );
    }

    #[test]
    fn the_same_role_from_a_scoped_and_an_unscoped_row() {
        let t = RoleMappingTable::from_rows([
            RoleMapping::new("Here", Source::AppRole, "Admin", ["Admin"]).tenants([HOME]),
            RoleMapping::new("Everywhere", Source::AppRole, "Admin", ["Admin"]).any_tenant(),
            RoleMapping::new("Twice", Source::AppRole, "Ops", ["Ops", "Ops"]).tenants([HOME]),
        ]);
        assert_eq!(
            t.roles_for(Source::AppRole, Some(PARTNER), ["Admin"]),
            ["Admin"]
        );
        assert_eq!(
            t.roles_for(Source::AppRole, Some(HOME), ["Admin", "Ops"]),
            ["Admin", "Ops"]
        );
        assert!(
            t.roles_for(Source::AppRole, Some(PARTNER), ["Ops"])
                .is_empty()
        );
    }

    #[test]
    fn tenants_in_toml_and_their_problems() {
        let row = |extra: &str| -> Result<RoleMapping, toml::de::Error> {
            toml::from_str(&format!(
                "name = \"a\"\nsource = \"app_role\"\nvalue = \"Admin\"\nroles = [\"x\"]\n{extra}"
            ))
        };
        assert_eq!(row("").unwrap().tenant_scope(), &TenantScope::Unspecified);
        assert_eq!(
            row(&format!("tenants = [\"{HOME}\"]"))
                .unwrap()
                .tenant_scope(),
            &TenantScope::Only(vec![HOME.into()])
        );
        assert_eq!(
            row("tenants = \"any\"").unwrap().tenant_scope(),
            &TenantScope::Any
        );
        let error = row("tenants = \"all-of-them\"").unwrap_err().to_string();
        assert!(error.contains("\"any\""), "{error}");
        assert!(row("tenants = 3").is_err());
        // Serialized back the same way, and the default left out.
        for (scope, text) in [
            (TenantScope::Unspecified, None),
            (TenantScope::Any, Some("tenants = \"any\"")),
            (
                TenantScope::Only(vec![HOME.into()]),
                Some("tenants = [\"3c1a0f6e"),
            ),
        ] {
            let r =
                RoleMapping::new("a", Source::AppRole, "Admin", ["x"]).with_scope(scope.clone());
            let written = toml::to_string(&r).unwrap();
            match text {
                Some(text) => assert!(written.contains(text), "{written}"),
                None => assert!(!written.contains("tenants"), "{written}"),
            }
            assert_eq!(toml::from_str::<RoleMapping>(&written).unwrap(), r);
        }

        let local = RoleMapping::new("l", Source::Local, "breakglass", ["Admin"]);
        assert!(local.clone().problem().is_none());
        assert!(local.clone().tenants([HOME]).problem().is_some());
        assert!(local.any_tenant().problem().is_some());
        let empty = RoleMapping::new("e", Source::AppRole, "Admin", ["Admin"])
            .tenants(Vec::<String>::new());
        assert!(empty.problem().unwrap().contains("never match"));
    }
}
