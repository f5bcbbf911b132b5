//! Microsoft Entra ID settings: the [`Config::entra`] preset, the tenant
//! policy of a multi-tenant app, where the groups come from, and the
//! Microsoft Graph endpoint. The Graph reader itself is `src/entra.rs`.

use serde::Deserialize;
use url::Url;

use super::{Config, ConfigBuilder};
use crate::error::ConfigError;
use crate::issuer::{TenantPolicy, is_guid};
use crate::roles::{RoleMapping, Source, TenantScope};

/// Entra ID's public-cloud authority.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Microsoft Graph in the public cloud.
const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// The tenant id of personal Microsoft accounts (`consumers`).
const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Where a login's groups come from, for an Entra ID config.
///
/// A user in more groups than fit in a token (about 200) gets an ID token
/// with no `groups` claim and an overage marker (`_claim_names` /
/// `_claim_sources`, or `hasgroups`). Those groups can be read from
/// Microsoft Graph with the user's access token, which needs the delegated
/// permission `GroupMember.Read.All` (admin consent) in the app registration
/// and in [`scopes`](ConfigBuilder::scopes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupsSource {
    /// The token only. A login with an overage marker is refused (never
    /// treated as having no groups).
    Token,
    /// The token, or Microsoft Graph when the token has an overage marker.
    #[default]
    GraphOnOverage,
    /// Microsoft Graph on every login; the token's `groups` are ignored.
    Graph,
}

/// How the groups are read from Microsoft Graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphQuery {
    /// `GET /v1.0/me/transitiveMemberOf?$select=id`, following
    /// `@odata.nextLink` pages: every group (security and Microsoft 365) and
    /// directory role the user is in, directly or through other groups.
    #[default]
    TransitiveMemberOf,
    /// `POST /v1.0/me/getMemberObjects`: the ids of the groups and directory
    /// roles the user is in, transitively; with `security_enabled_only`,
    /// security groups only (like the token's `groups` claim with the
    /// "Security groups" setting).
    MemberObjects {
        /// Only security-enabled groups.
        security_enabled_only: bool,
    },
}

/// Entra settings as given to the builder, checked by `build`.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntraDraft {
    tenant: Option<String>,
    authority: Option<String>,
    tenants: Option<TenantPolicy>,
    home_tenant: Option<String>,
    graph_url: Option<String>,
    groups_source: Option<GroupsSource>,
    graph_query: Option<GraphQuery>,
}

/// Checked Entra settings, kept in the [`Config`]: those of the `entra`
/// table ([`Config::entra`]), or the top-level ones of a plain metadata URL
/// (Pexip's form), which apply when discovery recognises Entra ID.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entra {
    /// The tenant and authority of the `entra` table; `None` for a plain
    /// metadata URL.
    pub(crate) preset: Option<EntraPreset>,
    pub(crate) tenants: Option<TenantPolicy>,
    /// The tenant whose app roles count when a row names no tenant: for a
    /// multi-tenant app, given, or the one allowed tenant (lower-cased).
    pub(crate) home_tenant: Option<String>,
    /// Ends with `/`, so that `join` appends. Always set for the `entra`
    /// table (Microsoft's by default); for a plain metadata URL, only when
    /// configured (discovery may then use Microsoft's, see `src/recognise.rs`).
    pub(crate) graph: Option<Url>,
    pub(crate) groups_source: GroupsSource,
    pub(crate) graph_query: GraphQuery,
    /// With a plain metadata URL, the first Entra setting given: discovery
    /// refuses it for a provider that is not Entra ID.
    pub(crate) generic_setting: Option<&'static str>,
}

/// The `entra` table's tenant and authority.
#[derive(Debug, Clone)]
pub(crate) struct EntraPreset {
    /// As configured, lower-cased: a GUID, a domain, `common` or `organizations`.
    pub(crate) tenant: String,
    /// Without a trailing `/`.
    pub(crate) authority: String,
}

impl Config {
    /// Starts a config for a Microsoft Entra ID app registration: the v2.0
    /// metadata URL
    /// `https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration`,
    /// username from `preferred_username`, groups (object ids) from
    /// `groups`, app roles from `roles`.
    ///
    /// `tenant` is the directory (tenant) id, a verified domain such as
    /// `contoso.onmicrosoft.com`, or, for a multi-tenant app, `common` or
    /// `organizations`, which then need
    /// [`entra_tenants`](ConfigBuilder::entra_tenants). `consumers` is
    /// refused: personal accounts all share one tenant id and carry no
    /// groups; use `common` with [`TenantPolicy::AnyTenant`] if personal
    /// accounts must sign in.
    ///
    /// ```
    /// use oidc_login::{ClientAuth, Config, TenantPolicy};
    ///
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let single = Config::entra("3c1a0f6e-0000-4000-8000-000000000001", "<client id>")
    ///     .client_auth(ClientAuth::secret_basic("<client secret>"))
    ///     .redirect_uri("https://app.example.com/auth/callback")
    ///     .build()?;
    /// assert_eq!(
    ///     single.issuer(),
    ///     "https://login.microsoftonline.com/3c1a0f6e-0000-4000-8000-000000000001/v2.0"
    /// );
    ///
    /// let multi = Config::entra("organizations", "<client id>")
    ///     .entra_tenants(TenantPolicy::Only(vec![
    ///         "3c1a0f6e-0000-4000-8000-000000000001".into(),
    ///         "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
    ///     ]))
    ///     .redirect_uri("https://app.example.com/auth/callback")
    ///     .build()?;
    /// assert!(multi.tenant_policy().is_some());
    /// # Ok(()) }
    /// ```
    pub fn entra(tenant: impl Into<String>, client_id: impl Into<String>) -> ConfigBuilder {
        let mut builder = Config::builder(String::new(), client_id);
        builder.draft.entra.tenant = Some(tenant.into());
        builder
    }

    /// The Entra ID tenant, when the config was made with [`Config::entra`]
    /// (lower-cased).
    pub fn entra_tenant(&self) -> Option<&str> {
        self.entra.preset.as_ref().map(|p| p.tenant.as_str())
    }

    /// Which tenants may sign in, for a multi-tenant Entra ID app: the
    /// `entra` table's, or the top-level `allowed_tenants` /
    /// `allow_any_tenant` of a plain metadata URL.
    pub fn tenant_policy(&self) -> Option<&TenantPolicy> {
        self.entra.tenants.as_ref()
    }

    /// The home tenant of a multi-tenant Entra ID app: the tenant whose app
    /// roles count for an app-role row that names no tenants. Set with
    /// [`entra_home_tenant`](ConfigBuilder::entra_home_tenant), or the one
    /// tenant of a one-entry `allowed_tenants`.
    pub fn entra_home_tenant(&self) -> Option<&str> {
        self.entra.home_tenant.as_deref()
    }

    /// Where groups come from when the provider is Microsoft Entra ID (the
    /// `entra` table, or recognised at discovery; see
    /// [`Client::entra`](crate::Client::entra)). Other providers' groups
    /// come from the token only.
    pub fn groups_source(&self) -> GroupsSource {
        self.entra.groups_source
    }

    /// The configured Microsoft Graph base URL: the `entra` table's
    /// (Microsoft's public cloud by default), or a plain metadata URL's
    /// top-level `graph_url`. Without one, a plain metadata URL that
    /// discovery recognises as Entra ID uses Microsoft's Graph for the
    /// recognised cloud, if its issuer is on Microsoft's own host.
    pub fn graph_url(&self) -> Option<&Url> {
        self.entra.graph.as_ref()
    }

    /// How groups are read from Microsoft Graph, for an Entra ID provider.
    pub fn graph_query(&self) -> Option<GraphQuery> {
        Some(self.entra.graph_query)
    }
}

impl ConfigBuilder {
    /// Which tenants may sign in to a multi-tenant app (tenant `common` or
    /// `organizations`): required there, refused for a single tenant.
    ///
    /// With a plain metadata URL (TOML top-level `allowed_tenants` or
    /// `allow_any_tenant = true`), it is for a multi-tenant metadata URL of
    /// Entra ID (`.../organizations/v2.0/...`, `.../common/v2.0/...`), whose
    /// issuer is the `{tenantid}` template: discovery refuses it for
    /// another provider, or for a single tenant's metadata.
    pub fn entra_tenants(mut self, policy: TenantPolicy) -> Self {
        self.draft.entra.tenants = Some(policy);
        self
    }

    /// The home tenant of a multi-tenant app (tenant `common` or
    /// `organizations`; TOML `entra = { ..., home_tenant = "..." }`): the
    /// tenant id (GUID) of the directory that holds the app registration.
    /// An app-role row ([`Source::AppRole`](crate::Source::AppRole)) that
    /// names no tenants applies to its users only.
    ///
    /// Needed when such rows exist and several tenants may sign in; with
    /// one allowed tenant, that one is the home tenant. It is a setting of
    /// its own, not the first of `allowed_tenants`, so that reordering the
    /// list never changes who gets the app's roles. Refused for a single
    /// tenant (it is the home tenant) and when not among `allowed_tenants`.
    ///
    /// # Security
    /// App roles are defined in the app registration but assigned in each
    /// tenant by its own admins: a partner tenant's admin can give any of
    /// their users this app's `Admin` role. Rows scoped to the home tenant
    /// ignore those assignments; name a partner's tenant in a row
    /// ([`RoleMapping::tenants`]) to trust its admins for that row.
    ///
    /// ```
    /// use oidc_login::{Config, RoleMapping, Source, TenantPolicy, TenantScope};
    ///
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let home = "3c1a0f6e-0000-4000-8000-000000000001";
    /// let partner = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    /// let config = Config::entra("organizations", "<client id>")
    ///     .entra_tenants(TenantPolicy::Only(vec![home.into(), partner.into()]))
    ///     .entra_home_tenant(home)
    ///     .redirect_uri("https://app.example.com/auth/callback")
    ///     .add_role_mapping(RoleMapping::new("Admins", Source::AppRole, "Admin", ["Admin"]))
    ///     .add_role_mapping(
    ///         RoleMapping::new("Readers", Source::AppRole, "Reader", ["Read-only"])
    ///             .tenants([home, partner]),
    ///     )
    ///     .build()?;
    /// // The `Admin` app role counts for the home tenant's users only.
    /// assert_eq!(
    ///     config.role_mapping()[0].tenant_scope(),
    ///     &TenantScope::Only(vec![home.into()])
    /// );
    /// # Ok(()) }
    /// ```
    pub fn entra_home_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.draft.entra.home_tenant = Some(tenant.into());
        self
    }

    /// The Entra ID authority (default `https://login.microsoftonline.com`):
    /// another cloud (`https://login.microsoftonline.us`), or a test provider.
    pub fn entra_authority(mut self, authority: impl Into<String>) -> Self {
        self.draft.entra.authority = Some(authority.into());
        self
    }

    /// The Microsoft Graph base URL (default `https://graph.microsoft.com`
    /// for the `entra` table); https, or http on a loopback host. With a
    /// plain metadata URL (TOML top-level `graph_url`), for a provider
    /// discovery recognises as Entra ID: a national cloud, or a test
    /// provider on loopback; discovery refuses it for another provider.
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.draft.entra.graph_url = Some(url.into());
        self
    }

    /// Where groups come from (default [`GroupsSource::GraphOnOverage`]).
    pub fn groups_source(mut self, source: GroupsSource) -> Self {
        self.draft.entra.groups_source = Some(source);
        self
    }

    /// How groups are read from Graph (default
    /// [`GraphQuery::TransitiveMemberOf`]).
    pub fn graph_query(mut self, query: GraphQuery) -> Self {
        self.draft.entra.graph_query = Some(query);
        self
    }
}

/// A setting's name in errors: inside the `entra` table, or top-level.
fn field(table: bool, name: &'static str) -> &'static str {
    match (table, name) {
        (true, "allowed_tenants") => "entra.allowed_tenants",
        (true, "allow_any_tenant") => "entra.allow_any_tenant",
        (true, "home_tenant") => "entra.home_tenant",
        (true, "graph_url") => "entra.graph_url",
        (true, "security_enabled_only") => "entra.security_enabled_only",
        (_, name) => name,
    }
}

impl EntraDraft {
    /// The checked settings, and the metadata URL the `entra` table leads
    /// to (`None` for a plain metadata URL, whose Entra settings then wait
    /// for discovery to recognise Entra ID).
    pub(crate) fn build(self) -> Result<(Entra, Option<String>), ConfigError> {
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
        let Some(tenant) = self.tenant else {
            if self.authority.is_some() {
                return Err(invalid(
                    "entra.authority",
                    "is a setting of the `entra` table: start from `Config::entra(tenant, client_id)`, or write `entra = { tenant = \"...\" }` instead of `metadata_url`".into(),
                ));
            }
            let tenants = self.tenants.map(generic_policy).transpose()?;
            let home_tenant = checked_home(None, tenants.as_ref(), self.home_tenant, false)?;
            let graph = self
                .graph_url
                .as_deref()
                .map(|url| base_url("graph_url", url))
                .transpose()?;
            let generic_setting = [
                ("allowed_tenants", tenants.is_some()),
                ("graph_url", graph.is_some()),
                ("groups_source", self.groups_source.is_some()),
                ("graph_query", self.graph_query.is_some()),
            ]
            .into_iter()
            .find_map(|(name, set)| set.then_some(name));
            return Ok((
                Entra {
                    preset: None,
                    tenants,
                    home_tenant,
                    graph,
                    groups_source: self.groups_source.unwrap_or_default(),
                    graph_query: self.graph_query.unwrap_or_default(),
                    generic_setting,
                },
                None,
            ));
        };

        let tenant = tenant.trim().to_ascii_lowercase();
        let kind = tenant_kind(&tenant).map_err(|reason| invalid("entra.tenant", reason))?;
        let tenants = checked_policy(&tenant, kind, self.tenants)?;
        let home_tenant = checked_home(Some(&tenant), tenants.as_ref(), self.home_tenant, true)?;

        let authority = self.authority.as_deref().unwrap_or(DEFAULT_AUTHORITY);
        let authority = base_url("entra.authority", authority)?;
        let authority = authority.as_str().trim_end_matches('/').to_owned();
        let graph = self.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH);
        let graph = base_url("entra.graph_url", graph)?;

        let metadata_url = format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration");
        Ok((
            Entra {
                preset: Some(EntraPreset { tenant, authority }),
                tenants,
                home_tenant,
                graph: Some(graph),
                groups_source: self.groups_source.unwrap_or_default(),
                graph_query: self.graph_query.unwrap_or_default(),
                generic_setting: None,
            },
            Some(metadata_url),
        ))
    }

    /// Fills the draft from the TOML / JSON form's `entra` table.
    pub(crate) fn from_file(file: EntraFile) -> Result<Self, ConfigError> {
        let mut draft = Self::from_settings(
            true,
            EntraTopLevel {
                allowed_tenants: file.allowed_tenants,
                allow_any_tenant: file.allow_any_tenant,
                home_tenant: file.home_tenant,
                graph_url: file.graph_url,
                groups_source: file.groups_source,
                graph_query: file.graph_query,
                security_enabled_only: file.security_enabled_only,
            },
        )?;
        draft.tenant = Some(file.tenant);
        draft.authority = file.authority;
        Ok(draft)
    }

    /// Fills the draft from a plain metadata URL's top-level Entra keys.
    pub(crate) fn from_top_level(top: EntraTopLevel) -> Result<Self, ConfigError> {
        Self::from_settings(false, top)
    }

    fn from_settings(table: bool, file: EntraTopLevel) -> Result<Self, ConfigError> {
        let invalid = |field: &'static str, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.into(),
        };
        let tenants = match (file.allowed_tenants, file.allow_any_tenant) {
            (Some(_), Some(true)) => {
                return Err(invalid(
                    field(table, "allow_any_tenant"),
                    "set either `allowed_tenants` or `allow_any_tenant = true`, not both",
                ));
            }
            (Some(list), _) => Some(TenantPolicy::Only(list)),
            (None, Some(true)) => Some(TenantPolicy::AnyTenant),
            (None, Some(false) | None) => None,
        };
        let graph_query = match (file.graph_query, file.security_enabled_only) {
            (Some(GraphQueryName::TransitiveMemberOf), Some(_)) => {
                return Err(invalid(
                    field(table, "security_enabled_only"),
                    "applies to `graph_query = \"get_member_objects\"` only",
                ));
            }
            (None, Some(only)) | (Some(GraphQueryName::GetMemberObjects), Some(only)) => {
                Some(GraphQuery::MemberObjects {
                    security_enabled_only: only,
                })
            }
            (Some(GraphQueryName::GetMemberObjects), None) => Some(GraphQuery::MemberObjects {
                security_enabled_only: false,
            }),
            (Some(GraphQueryName::TransitiveMemberOf), None) => {
                Some(GraphQuery::TransitiveMemberOf)
            }
            (None, None) => None,
        };
        Ok(Self {
            tenant: None,
            authority: None,
            tenants,
            home_tenant: file.home_tenant,
            graph_url: file.graph_url,
            groups_source: file.groups_source,
            graph_query,
        })
    }
}

/// A plain metadata URL's Entra keys, top-level in the TOML / JSON form
/// (Pexip's form): the `entra` table's, less `tenant` and `authority`,
/// which the metadata URL gives.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct EntraTopLevel {
    allowed_tenants: Option<Vec<String>>,
    allow_any_tenant: Option<bool>,
    home_tenant: Option<String>,
    graph_url: Option<String>,
    groups_source: Option<GroupsSource>,
    graph_query: Option<GraphQueryName>,
    security_enabled_only: Option<bool>,
}

impl EntraTopLevel {
    /// The first key given, for the error when an `entra` table is there too.
    pub(crate) fn first_given(&self) -> Option<&'static str> {
        [
            ("allowed_tenants", self.allowed_tenants.is_some()),
            ("allow_any_tenant", self.allow_any_tenant.is_some()),
            ("home_tenant", self.home_tenant.is_some()),
            ("graph_url", self.graph_url.is_some()),
            ("groups_source", self.groups_source.is_some()),
            ("graph_query", self.graph_query.is_some()),
            (
                "security_enabled_only",
                self.security_enabled_only.is_some(),
            ),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }
}

/// The TOML / JSON form: `entra = { tenant = "...", ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntraFile {
    tenant: String,
    authority: Option<String>,
    allowed_tenants: Option<Vec<String>>,
    allow_any_tenant: Option<bool>,
    home_tenant: Option<String>,
    graph_url: Option<String>,
    groups_source: Option<GroupsSource>,
    graph_query: Option<GraphQueryName>,
    security_enabled_only: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum GraphQueryName {
    TransitiveMemberOf,
    GetMemberObjects,
}

/// The tenant policy, checked against the kind of tenant: required for a
/// multi-tenant one (GUIDs only, each once), refused for a single tenant.
fn checked_policy(
    tenant: &str,
    kind: TenantKind,
    policy: Option<TenantPolicy>,
) -> Result<Option<TenantPolicy>, ConfigError> {
    let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
    Ok(match (kind, policy) {
        (TenantKind::Multi, None) => {
            return Err(invalid(
                "entra.allowed_tenants",
                format!(
                    "tenant `{tenant}` lets users of other tenants sign in: list the tenant ids that may (`allowed_tenants = [...]`, `TenantPolicy::Only`), or choose `allow_any_tenant = true` (`TenantPolicy::AnyTenant`)"
                ),
            ));
        }
        (TenantKind::Multi, Some(TenantPolicy::Only(list))) => {
            Some(TenantPolicy::Only(tenant_list(true, list)?))
        }
        (TenantKind::Multi, Some(TenantPolicy::AnyTenant)) => Some(TenantPolicy::AnyTenant),
        (TenantKind::Single, Some(_)) => {
            return Err(invalid(
                "entra.allowed_tenants",
                format!(
                    "a tenant policy is for the multi-tenant `common` and `organizations`; tenant `{tenant}` is one tenant, whose issuer is checked exactly"
                ),
            ));
        }
        (TenantKind::Single, None) => None,
    })
}

/// `allowed_tenants` as a list of tenant ids: not empty, GUIDs only
/// (lower-cased), each once.
fn tenant_list(table: bool, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        field: field(table, "allowed_tenants"),
        reason,
    };
    if list.is_empty() {
        return Err(invalid("is empty: list at least one tenant id".into()));
    }
    let mut normal = Vec::with_capacity(list.len());
    for id in list {
        let id = id.trim().to_ascii_lowercase();
        if !is_guid(&id) {
            return Err(invalid(format!(
                "`{}` is not a tenant id: tokens name their tenant by GUID (`tid`), so list GUIDs, not domains",
                crate::error::clip(&id, 64)
            )));
        }
        if !normal.contains(&id) {
            normal.push(id);
        }
    }
    Ok(normal)
}

/// A plain metadata URL's tenant policy: the list checked as in the
/// `entra` table; whether the provider is multi-tenant Entra ID is known
/// at discovery only.
fn generic_policy(policy: TenantPolicy) -> Result<TenantPolicy, ConfigError> {
    Ok(match policy {
        TenantPolicy::Only(list) => TenantPolicy::Only(tenant_list(false, list)?),
        TenantPolicy::AnyTenant => TenantPolicy::AnyTenant,
    })
}

/// The home tenant of a multi-tenant app: as given (a GUID among the
/// allowed tenants), or the one allowed tenant. `tenants` is the checked
/// policy, `None` for a single tenant.
fn checked_home(
    tenant: Option<&str>,
    tenants: Option<&TenantPolicy>,
    given: Option<String>,
    table: bool,
) -> Result<Option<String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        field: field(table, "home_tenant"),
        reason,
    };
    let Some(policy) = tenants else {
        return match (given, tenant) {
            (Some(_), Some(tenant)) => Err(invalid(format!(
                "is for the multi-tenant `common` and `organizations`; tenant `{tenant}` is the only tenant, and so the home tenant"
            ))),
            (Some(_), None) => Err(invalid(
                "is for a multi-tenant Entra ID app: set `allowed_tenants` or `allow_any_tenant` too".into(),
            )),
            (None, _) => Ok(None),
        };
    };
    match (given, policy) {
        (Some(home), policy) => {
            let home = home.trim().to_ascii_lowercase();
            if !is_guid(&home) {
                return Err(invalid(format!(
                    "`{}` is not a tenant id: give the GUID of the tenant that holds the app registration",
                    crate::error::clip(&home, 64)
                )));
            }
            if !policy.allows(&home) {
                return Err(invalid(format!(
                    "`{home}` is not in `allowed_tenants`, so its users could not sign in"
                )));
            }
            Ok(Some(home))
        }
        (None, TenantPolicy::Only(list)) if list.len() == 1 => Ok(list.first().cloned()),
        (None, _) => Ok(None),
    }
}

/// The rows with their tenant scopes checked, and the rows that name no
/// tenant scoped to the home tenant of a multi-tenant app when another
/// tenant could match them: app-role rows (each tenant's own admins assign
/// app roles, so a partner's could otherwise hand out this app's roles),
/// and group rows unless they match a group object id in `groups` (a GUID
/// no other tenant can have; a group name or another claim, such as
/// `groups_claim = "roles"`, any tenant's admin can make).
pub(crate) fn scoped_rows(
    entra: &Entra,
    rows: Vec<RoleMapping>,
    groups_claim: &str,
) -> Result<Vec<RoleMapping>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        field: "role_mapping",
        reason,
    };
    let policy = entra.tenants.as_ref();
    let home = entra.home_tenant.as_ref();
    let home_field = field(entra.preset.is_some(), "home_tenant");
    rows.into_iter()
        .map(|row| {
            let scope = match row.tenant_scope() {
                TenantScope::Only(given) => {
                    let mut tenants: Vec<String> = Vec::with_capacity(given.len());
                    for id in given {
                        let id = id.trim().to_ascii_lowercase();
                        if !is_guid(&id) {
                            return Err(invalid(format!(
                                "row `{}` names `{}` in `tenants`, which is not a tenant id (a GUID, as in the token's `tid`)",
                                row.name(),
                                crate::error::clip(&id, 64)
                            )));
                        }
                        if let Some(TenantPolicy::Only(allowed)) = policy
                            && !allowed.contains(&id)
                        {
                            return Err(invalid(format!(
                                "row `{}` names tenant `{id}`, which is not in `allowed_tenants`, so the row would never match it",
                                row.name()
                            )));
                        }
                        if !tenants.contains(&id) {
                            tenants.push(id);
                        }
                    }
                    TenantScope::Only(tenants)
                }
                TenantScope::Unspecified
                    if policy.is_some() && any_tenant_can_match(&row, groups_claim) =>
                {
                    match home {
                        Some(home) => TenantScope::Only(vec![home.clone()]),
                        None => {
                            return Err(invalid(format!(
                                "row `{}` maps {}, and users of several tenants sign in: another tenant's admins could give their own users that value, so say whose count: set `{home_field}` (the row then applies to it), or the row's `tenants` (`RoleMapping::tenants`, or `\"any\"`)",
                                row.name(),
                                match row.source() {
                                    Source::AppRole => "an app role",
                                    _ => "a group by name or another claim than `groups`",
                                }
                            )));
                        }
                    }
                }
                other => other.clone(),
            };
            Ok(row.with_scope(scope))
        })
        .collect()
}

/// Whether a user of another tenant could carry the value this row
/// matches: an app role, or a group value that is not an object id in
/// Entra's `groups` claim. (A `local` row matches break-glass sign-ins only.)
fn any_tenant_can_match(row: &RoleMapping, groups_claim: &str) -> bool {
    match row.source() {
        Source::AppRole => true,
        Source::OpenIdConnect => groups_claim != "groups" || !is_guid(row.value()),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantKind {
    Single,
    Multi,
}

fn tenant_kind(tenant: &str) -> Result<TenantKind, String> {
    match tenant {
        "common" | "organizations" => Ok(TenantKind::Multi),
        "consumers" => Err(format!(
            "`consumers` (personal Microsoft accounts only) is not supported: every personal account has the same tenant id `{CONSUMER_TENANT}` and no groups, so neither a tenant check nor a role mapping says anything about the user; if personal accounts must sign in, use `common` with `allow_any_tenant = true` and decide access in the app"
        )),
        "" => Err("is empty: give the directory (tenant) id, a verified domain, `common` or `organizations`".into()),
        t if is_guid(t) => Ok(TenantKind::Single),
        t if is_domain(t) => Ok(TenantKind::Single),
        t => Err(format!(
            "`{t}` is not a tenant id (GUID), a domain such as `contoso.onmicrosoft.com`, `common` or `organizations`"
        )),
    }
}

fn is_domain(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A base URL: https (http on loopback), no query, fragment or user; its
/// path ends with `/`.
fn base_url(field: &'static str, given: &str) -> Result<Url, ConfigError> {
    let mut url = super::check::plain_url(field, given)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const T2: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn field_of(err: ConfigError) -> &'static str {
        match err {
            ConfigError::Invalid { field, .. } | ConfigError::Missing { field } => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    fn entra(tenant: &str) -> ConfigBuilder {
        Config::entra(tenant, "app").redirect_uri("https://app.example/cb")
    }

    #[test]
    fn the_preset_fills_the_v2_metadata_url_and_entra_defaults() {
        let c = entra(T1).build().unwrap();
        assert_eq!(
            c.metadata_url().as_str(),
            format!("https://login.microsoftonline.com/{T1}/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(
            c.issuer(),
            format!("https://login.microsoftonline.com/{T1}/v2.0")
        );
        assert_eq!(c.claims().username.as_str(), "preferred_username");
        assert_eq!(c.claims().groups.as_str(), "groups");
        assert_eq!(c.claims().app_roles.as_str(), "roles");
        assert_eq!(c.entra_tenant(), Some(T1));
        assert_eq!(c.tenant_policy(), None);
        assert_eq!(c.groups_source(), GroupsSource::GraphOnOverage);
        assert_eq!(
            c.graph_url().unwrap().as_str(),
            "https://graph.microsoft.com/"
        );
        assert_eq!(c.graph_query(), Some(GraphQuery::TransitiveMemberOf));
        // Tenant names are case-insensitive; a domain is a tenant too.
        let c = entra("Contoso.onmicrosoft.com").build().unwrap();
        assert_eq!(c.entra_tenant(), Some("contoso.onmicrosoft.com"));
    }

    #[test]
    fn the_authority_and_graph_can_be_moved() {
        let c = entra(T1)
            .entra_authority("http://127.0.0.1:8080/")
            .graph_url("http://127.0.0.1:8081")
            .build()
            .unwrap();
        assert_eq!(
            c.metadata_url().as_str(),
            format!("http://127.0.0.1:8080/{T1}/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(c.graph_url().unwrap().as_str(), "http://127.0.0.1:8081/");
        for (builder, field) in [
            (
                entra(T1).entra_authority("http://login.example"),
                "entra.authority",
            ),
            (
                entra(T1).entra_authority("https://l.example/?x"),
                "entra.authority",
            ),
            (
                entra(T1).graph_url("http://graph.example"),
                "entra.graph_url",
            ),
            (entra(T1).graph_url("graph.example"), "entra.graph_url"),
        ] {
            assert_eq!(field_of(builder.build().unwrap_err()), field);
        }
    }

    #[test]
    fn multi_tenant_needs_a_policy_and_single_tenant_refuses_one() {
        for tenant in ["common", "organizations", "ORGANIZATIONS"] {
            let err = entra(tenant).build().unwrap_err();
            assert_eq!(field_of(err), "entra.allowed_tenants", "{tenant}");
        }
        let c = entra("organizations")
            .entra_tenants(TenantPolicy::Only(vec![
                T1.to_uppercase(),
                T1.into(),
                T2.into(),
            ]))
            .build()
            .unwrap();
        assert_eq!(
            c.tenant_policy(),
            Some(&TenantPolicy::Only(vec![T1.into(), T2.into()]))
        );
        let c = entra("common")
            .entra_tenants(TenantPolicy::AnyTenant)
            .build()
            .unwrap();
        assert_eq!(c.tenant_policy(), Some(&TenantPolicy::AnyTenant));
        let cases = [
            entra("organizations").entra_tenants(TenantPolicy::Only(vec![])),
            entra("organizations")
                .entra_tenants(TenantPolicy::Only(vec!["contoso.onmicrosoft.com".into()])),
            entra(T1).entra_tenants(TenantPolicy::AnyTenant),
            entra(T1).entra_tenants(TenantPolicy::Only(vec![T1.into()])),
        ];
        for builder in cases {
            assert_eq!(
                field_of(builder.build().unwrap_err()),
                "entra.allowed_tenants"
            );
        }
    }

    #[test]
    fn bad_tenants_are_refused_with_a_reason() {
        for tenant in ["consumers", "", "not a tenant", "tenant/../x", "-a.example"] {
            let err = entra(tenant).build().unwrap_err();
            assert_eq!(field_of(err), "entra.tenant", "{tenant:?}");
        }
        let err = entra("consumers").build().unwrap_err().to_string();
        assert!(err.contains("personal Microsoft accounts"), "{err}");
    }

    #[test]
    fn a_plain_metadata_url_takes_entra_settings_for_discovery() {
        let generic =
            || Config::builder("https://p.example", "app").redirect_uri("https://a.example/cb");
        // The authority belongs to the `entra` table: the URL gives it here.
        assert_eq!(
            field_of(
                generic()
                    .entra_authority("https://l.example")
                    .build()
                    .unwrap_err()
            ),
            "entra.authority"
        );
        let c = generic().build().unwrap();
        assert_eq!(c.groups_source(), GroupsSource::GraphOnOverage);
        assert!(c.graph_url().is_none());
        assert_eq!(c.tenant_policy(), None);
        assert_eq!(c.entra_tenant(), None);
        // Kept for discovery, which applies them if the provider is Entra ID.
        let c = generic()
            .entra_tenants(TenantPolicy::Only(vec![T1.to_uppercase(), T1.into()]))
            .graph_url("http://127.0.0.1:9/graph")
            .groups_source(GroupsSource::Graph)
            .build()
            .unwrap();
        assert_eq!(
            c.tenant_policy(),
            Some(&TenantPolicy::Only(vec![T1.into()]))
        );
        assert_eq!(c.graph_url().unwrap().as_str(), "http://127.0.0.1:9/graph/");
        assert_eq!(c.groups_source(), GroupsSource::Graph);
        assert_eq!(c.entra_tenant(), None);
        // Checked as in the table, under their top-level names.
        for (builder, field) in [
            (
                generic().entra_tenants(TenantPolicy::Only(vec![])),
                "allowed_tenants",
            ),
            (
                generic().entra_tenants(TenantPolicy::Only(vec!["contoso.com".into()])),
                "allowed_tenants",
            ),
            (generic().graph_url("http://graph.example"), "graph_url"),
            (generic().entra_home_tenant(T1), "home_tenant"),
        ] {
            assert_eq!(field_of(builder.build().unwrap_err()), field);
        }
    }

    #[test]
    fn toml_top_level_entra_keys() {
        let base = "client_id = \"app\"\nredirect_uri = \"https://a.example/cb\"\nmetadata_url = \"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration\"\n";
        let c = Config::from_toml(&format!(
            "{base}allowed_tenants = [\"{T1}\", \"{T2}\"]\nhome_tenant = \"{T1}\"\ngraph_url = \"https://graph.microsoft.us\"\ngroups_source = \"graph\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.tenant_policy(),
            Some(&TenantPolicy::Only(vec![T1.into(), T2.into()]))
        );
        assert_eq!(c.entra_home_tenant(), Some(T1));
        assert_eq!(
            c.graph_url().unwrap().as_str(),
            "https://graph.microsoft.us/"
        );
        assert_eq!(c.groups_source(), GroupsSource::Graph);
        let c = Config::from_toml(&format!("{base}allow_any_tenant = true\n")).unwrap();
        assert_eq!(c.tenant_policy(), Some(&TenantPolicy::AnyTenant));
        let fails = |text: String| field_of(Config::from_toml(&text).unwrap_err());
        assert_eq!(
            fails(format!(
                "{base}allow_any_tenant = true\nallowed_tenants = [\"{T1}\"]\n"
            )),
            "allow_any_tenant"
        );
        // With an `entra` table, Entra keys go inside it.
        let table = format!(
            "client_id = \"app\"\nredirect_uri = \"https://a.example/cb\"\nentra = {{ tenant = \"{T1}\" }}\n"
        );
        assert_eq!(
            fails(format!("{table}graph_url = \"https://graph.example\"\n")),
            "graph_url"
        );
        // A typo is still refused, with a suggestion.
        let err = Config::from_toml(&format!("{base}allowed_tenant = [\"{T1}\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowed_tenants"), "{err}");
    }

    #[test]
    fn toml_entra_form() {
        let base = "client_id = \"app\"\nredirect_uri = \"https://a.example/cb\"\n";
        let c = Config::from_toml(&format!(
            "{base}entra = {{ tenant = \"organizations\", allowed_tenants = [\"{T1}\"], groups_source = \"graph\", graph_query = \"get_member_objects\", security_enabled_only = true }}\n"
        ))
        .unwrap();
        assert_eq!(
            c.tenant_policy(),
            Some(&TenantPolicy::Only(vec![T1.into()]))
        );
        assert_eq!(c.groups_source(), GroupsSource::Graph);
        assert_eq!(
            c.graph_query(),
            Some(GraphQuery::MemberObjects {
                security_enabled_only: true
            })
        );
        let c = Config::from_toml(&format!(
            "{base}entra = {{ tenant = \"common\", allow_any_tenant = true }}\n"
        ))
        .unwrap();
        assert_eq!(c.tenant_policy(), Some(&TenantPolicy::AnyTenant));

        let fails = |text: String| field_of(Config::from_toml(&text).unwrap_err());
        assert_eq!(
            fails(format!(
                "{base}entra = {{ tenant = \"common\", allow_any_tenant = true, allowed_tenants = [\"{T1}\"] }}\n"
            )),
            "entra.allow_any_tenant"
        );
        assert_eq!(
            fails(format!(
                "{base}entra = {{ tenant = \"common\", allow_any_tenant = false }}\n"
            )),
            "entra.allowed_tenants"
        );
        assert_eq!(
            fails(format!(
                "{base}entra = {{ tenant = \"{T1}\", graph_query = \"transitive_member_of\", security_enabled_only = true }}\n"
            )),
            "entra.security_enabled_only"
        );
        // Exactly one of `metadata_url` and `entra`.
        let err = Config::from_toml(base).unwrap_err().to_string();
        assert!(
            err.contains("metadata_url") && err.contains("entra"),
            "{err}"
        );
        let err = Config::from_toml(&format!(
            "{base}metadata_url = \"https://p.example\"\nentra = {{ tenant = \"{T1}\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("metadata_url") && err.contains("entra"),
            "{err}"
        );
        // A typo inside `entra` is refused too.
        let err = Config::from_toml(&format!(
            "{base}entra = {{ tenant = \"{T1}\", alowed_tenants = [] }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("alowed_tenants"), "{err}");
    }

    fn admin_row() -> RoleMapping {
        RoleMapping::new("Admins", Source::AppRole, "Admin", ["Admin"])
    }

    fn two_tenants() -> ConfigBuilder {
        entra("organizations").entra_tenants(TenantPolicy::Only(vec![T1.into(), T2.into()]))
    }

    /// A group object id, as Entra's `groups` claim holds them.
    const GROUP_ID: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

    /// The review's case: with `allowed_tenants = [home, partner]`, an
    /// app-role row that names no tenant must not let the partner's admins
    /// grant it, so it is scoped to the home tenant, or refused when the
    /// config does not say which tenant that is.
    #[test]
    fn app_role_rows_default_to_the_home_tenant() {
        let c = two_tenants()
            .entra_home_tenant(T1.to_uppercase())
            .add_role_mapping(admin_row())
            .add_role_mapping(RoleMapping::new(
                "Devs",
                Source::OpenIdConnect,
                GROUP_ID,
                ["Dev"],
            ))
            .add_role_mapping(
                RoleMapping::new("Readers", Source::AppRole, "Reader", ["Read"]).tenants([
                    T2.to_uppercase(),
                    T1.into(),
                    T2.into(),
                ]),
            )
            .add_role_mapping(
                RoleMapping::new("Approvers", Source::AppRole, "Approver", ["Approve"])
                    .any_tenant(),
            )
            .build()
            .unwrap();
        assert_eq!(c.entra_home_tenant(), Some(T1));
        let scopes: Vec<&TenantScope> = c
            .role_mapping()
            .iter()
            .map(RoleMapping::tenant_scope)
            .collect();
        assert_eq!(
            scopes,
            [
                &TenantScope::Only(vec![T1.into()]),
                // Group rows match object ids, which no tenant can mint for another.
                &TenantScope::Unspecified,
                &TenantScope::Only(vec![T2.into(), T1.into()]),
                &TenantScope::Any,
            ]
        );

        // Several tenants and no home tenant: the app-role row is refused.
        let err = two_tenants()
            .add_role_mapping(admin_row())
            .build()
            .unwrap_err();
        let message = err.to_string();
        assert_eq!(field_of(err), "role_mapping");
        assert!(
            message.contains("home_tenant") && message.contains("Admins"),
            "{message}"
        );
        // The same with any tenant let in.
        let any = entra("common").entra_tenants(TenantPolicy::AnyTenant);
        let err = any
            .clone()
            .add_role_mapping(admin_row())
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "role_mapping");
        let c = any
            .entra_home_tenant(T1)
            .add_role_mapping(admin_row())
            .build()
            .unwrap();
        assert_eq!(
            c.role_mapping()[0].tenant_scope(),
            &TenantScope::Only(vec![T1.into()])
        );
        // Without app-role rows, and with group rows matching object ids,
        // no home tenant is needed.
        two_tenants()
            .add_role_mapping(RoleMapping::new(
                "Devs",
                Source::OpenIdConnect,
                GROUP_ID,
                ["Dev"],
            ))
            .build()
            .unwrap();
        // A group named rather than identified, or a groups claim that is
        // not Entra's `groups` (`roles`, say): any tenant's admin can make
        // that value, so such a row needs the home tenant like an app role.
        for (claim, value) in [("groups", "Admins"), ("roles", GROUP_ID)] {
            let err = two_tenants()
                .groups_claim(claim)
                .add_role_mapping(RoleMapping::new(
                    "Devs",
                    Source::OpenIdConnect,
                    value,
                    ["Dev"],
                ))
                .build()
                .unwrap_err();
            assert_eq!(field_of(err), "role_mapping", "{claim} {value}");
            let c = two_tenants()
                .entra_home_tenant(T1)
                .groups_claim(claim)
                .add_role_mapping(RoleMapping::new(
                    "Devs",
                    Source::OpenIdConnect,
                    value,
                    ["Dev"],
                ))
                .build()
                .unwrap();
            assert_eq!(
                c.role_mapping()[0].tenant_scope(),
                &TenantScope::Only(vec![T1.into()]),
                "{claim} {value}"
            );
        }
        // One allowed tenant is the home tenant.
        let c = entra("organizations")
            .entra_tenants(TenantPolicy::Only(vec![T2.into()]))
            .add_role_mapping(admin_row())
            .build()
            .unwrap();
        assert_eq!(c.entra_home_tenant(), Some(T2));
        assert_eq!(
            c.role_mapping()[0].tenant_scope(),
            &TenantScope::Only(vec![T2.into()])
        );
        // A single-tenant config: one tenant signs in, rows stay as written.
        let c = entra(T1).add_role_mapping(admin_row()).build().unwrap();
        assert_eq!(
            c.role_mapping()[0].tenant_scope(),
            &TenantScope::Unspecified
        );
        assert_eq!(c.entra_home_tenant(), None);
    }

    #[test]
    fn home_tenants_and_row_tenants_that_cannot_work_are_refused() {
        for builder in [
            two_tenants().entra_home_tenant("contoso.onmicrosoft.com"),
            two_tenants().entra_home_tenant("0b5e1c1d-2222-4a3b-9c55-00000000beef"),
            entra(T1).entra_home_tenant(T1),
        ] {
            assert_eq!(field_of(builder.build().unwrap_err()), "entra.home_tenant");
        }
        // A plain metadata URL: a home tenant needs a tenant policy.
        let err = Config::builder("https://p.example", "app")
            .redirect_uri("https://a.example/cb")
            .entra_home_tenant(T1)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "home_tenant");
        for row in [
            admin_row().tenants(["not-a-guid"]),
            // Not allowed to sign in: the row would never match.
            admin_row().tenants(["0b5e1c1d-2222-4a3b-9c55-00000000beef"]),
            admin_row().tenants(Vec::<String>::new()),
            RoleMapping::new("Local", Source::Local, "breakglass", ["Admin"]).tenants([T1]),
        ] {
            let err = two_tenants()
                .entra_home_tenant(T1)
                .add_role_mapping(row.clone())
                .build()
                .unwrap_err();
            assert_eq!(field_of(err), "role_mapping", "{row:?}");
        }
    }

    #[test]
    fn toml_home_tenant_and_row_tenants() {
        let text = format!(
            "client_id = \"app\"\nredirect_uri = \"https://a.example/cb\"\n\
             entra = {{ tenant = \"organizations\", allowed_tenants = [\"{T1}\", \"{T2}\"], home_tenant = \"{T1}\" }}\n\
             [[role_mapping]]\nname = \"Admins\"\nsource = \"app_role\"\nvalue = \"Admin\"\nroles = [\"Admin\"]\n\
             [[role_mapping]]\nname = \"Partner\"\nsource = \"app_role\"\nvalue = \"Reader\"\nroles = [\"Read\"]\ntenants = [\"{T2}\"]\n\
             [[role_mapping]]\nname = \"All\"\nsource = \"app_role\"\nvalue = \"Approver\"\nroles = [\"Approve\"]\ntenants = \"any\"\n"
        );
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.entra_home_tenant(), Some(T1));
        let scopes: Vec<&TenantScope> = c
            .role_mapping()
            .iter()
            .map(RoleMapping::tenant_scope)
            .collect();
        assert_eq!(
            scopes,
            [
                &TenantScope::Only(vec![T1.into()]),
                &TenantScope::Only(vec![T2.into()]),
                &TenantScope::Any,
            ]
        );
        let without_home = text.replace(&format!(", home_tenant = \"{T1}\""), "");
        let err = Config::from_toml(&without_home).unwrap_err().to_string();
        assert!(err.contains("home_tenant"), "{err}");
    }
}
