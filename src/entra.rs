//! Microsoft Entra ID: the [`Config::entra`] preset, the multi-tenant issuer
//! policy ([`TenantPolicy`]), and the Microsoft Graph reader for the groups
//! overage.
//!
//! Entra's multi-tenant metadata (`common`, `organizations`) publishes the
//! issuer `https://login.microsoftonline.com/{tenantid}/v2.0`, a template
//! rather than an issuer. It is accepted only with a [`TenantPolicy`]: then a
//! token's `iss` must be that template with the token's own `tid` put in, and
//! the `tid` must be allowed. Everything else keeps the exact issuer rule.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::config::{Config, ConfigBuilder};
use crate::error::{ConfigError, DiscoveryError, GraphFailure, GraphTrigger, HttpErrorKind};
use crate::http::{HttpClient, is_secure_or_loopback, without_query};
use crate::secret::AccessToken;

/// Entra ID's public-cloud authority.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Microsoft Graph in the public cloud.
const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// The placeholder in multi-tenant metadata.
const PLACEHOLDER: &str = "{tenantid}";
/// The issuer prefix of Entra ID version 1.0 tokens.
const V1_ISSUER_PREFIX: &str = "https://sts.windows.net/";
/// The most pages of groups read from Graph for one login.
pub(crate) const MAX_GRAPH_PAGES: usize = 50;
/// The tenant id of personal Microsoft accounts (`consumers`).
const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Which Entra ID tenants may sign in to a multi-tenant app (one configured
/// with the tenant `common` or `organizations`).
///
/// Entra's multi-tenant metadata names no single issuer; with a policy, the
/// ID token's `iss` must equal
/// `https://login.microsoftonline.com/<the token's tid>/v2.0` and its `tid`
/// must be allowed. There is no policy that turns the issuer check off.
///
/// In TOML: `entra = { tenant = "organizations", allowed_tenants = ["..."] }`,
/// or `allow_any_tenant = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantPolicy {
    /// Only these tenant ids (GUIDs, as in the token's `tid`).
    Only(Vec<String>),
    /// Any Entra ID tenant, and with `common` any personal Microsoft account.
    ///
    /// # Security
    /// Anyone who can create an Entra tenant can then sign in. Use it only
    /// when the app decides access itself (by role mapping with
    /// [`NoRolePolicy::Refuse`](crate::NoRolePolicy::Refuse), or by account),
    /// and never trust a group id or app role alone without knowing the
    /// tenant it came from (`identity.claim("tid")`). Discovery logs a
    /// warning with this policy.
    AnyTenant,
}

impl TenantPolicy {
    /// Whether the tenant id `tid` may sign in.
    pub fn allows(&self, tid: &str) -> bool {
        match self {
            Self::Only(tenants) => tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)),
            Self::AnyTenant => true,
        }
    }
}

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
    graph_url: Option<String>,
    groups_source: Option<GroupsSource>,
    graph_query: Option<GraphQuery>,
}

/// Checked Entra settings, kept in the [`Config`].
#[derive(Debug, Clone)]
pub(crate) struct Entra {
    /// As configured, lower-cased: a GUID, a domain, `common` or `organizations`.
    pub(crate) tenant: String,
    /// Without a trailing `/`.
    pub(crate) authority: String,
    pub(crate) tenants: Option<TenantPolicy>,
    /// Ends with `/`, so that `join` appends.
    pub(crate) graph: Url,
    pub(crate) groups_source: GroupsSource,
    pub(crate) graph_query: GraphQuery,
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
        builder.entra.tenant = Some(tenant.into());
        builder
    }

    /// The Entra ID tenant, when the config was made with [`Config::entra`]
    /// (lower-cased).
    pub fn entra_tenant(&self) -> Option<&str> {
        self.entra.as_ref().map(|e| e.tenant.as_str())
    }

    /// Which tenants may sign in, for a multi-tenant Entra ID app.
    pub fn tenant_policy(&self) -> Option<&TenantPolicy> {
        self.entra.as_ref().and_then(|e| e.tenants.as_ref())
    }

    /// Where groups come from. Configs not made with [`Config::entra`] read
    /// them from the token only ([`GroupsSource::Token`]).
    pub fn groups_source(&self) -> GroupsSource {
        self.entra
            .as_ref()
            .map_or(GroupsSource::Token, |e| e.groups_source)
    }

    /// The Microsoft Graph base URL, for an Entra ID config.
    pub fn graph_url(&self) -> Option<&Url> {
        self.entra.as_ref().map(|e| &e.graph)
    }

    /// How groups are read from Microsoft Graph, for an Entra ID config.
    pub fn graph_query(&self) -> Option<GraphQuery> {
        self.entra.as_ref().map(|e| e.graph_query)
    }
}

impl ConfigBuilder {
    /// Which tenants may sign in to a multi-tenant app (tenant `common` or
    /// `organizations`): required there, refused for a single tenant.
    pub fn entra_tenants(mut self, policy: TenantPolicy) -> Self {
        self.entra.tenants = Some(policy);
        self
    }

    /// The Entra ID authority (default `https://login.microsoftonline.com`):
    /// another cloud (`https://login.microsoftonline.us`), or a test provider.
    pub fn entra_authority(mut self, authority: impl Into<String>) -> Self {
        self.entra.authority = Some(authority.into());
        self
    }

    /// The Microsoft Graph base URL (default `https://graph.microsoft.com`);
    /// https, or http on a loopback host.
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.entra.graph_url = Some(url.into());
        self
    }

    /// Where groups come from (default [`GroupsSource::GraphOnOverage`]).
    pub fn groups_source(mut self, source: GroupsSource) -> Self {
        self.entra.groups_source = Some(source);
        self
    }

    /// How groups are read from Graph (default
    /// [`GraphQuery::TransitiveMemberOf`]).
    pub fn graph_query(mut self, query: GraphQuery) -> Self {
        self.entra.graph_query = Some(query);
        self
    }
}

impl EntraDraft {
    /// The checked settings and the metadata URL they lead to, or `None`
    /// for a config not made with [`Config::entra`].
    pub(crate) fn build(self) -> Result<Option<(Entra, String)>, ConfigError> {
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
        let Some(tenant) = self.tenant else {
            let stray = [
                ("entra.allowed_tenants", self.tenants.is_some()),
                ("entra.authority", self.authority.is_some()),
                ("entra.graph_url", self.graph_url.is_some()),
                ("entra.groups_source", self.groups_source.is_some()),
                ("entra.graph_query", self.graph_query.is_some()),
            ]
            .into_iter()
            .find(|(_, set)| *set);
            return match stray {
                Some((field, _)) => Err(invalid(
                    field,
                    "is a Microsoft Entra ID setting: start from `Config::entra(tenant, client_id)`, or write `entra = { tenant = \"...\" }` instead of `metadata_url`".into(),
                )),
                None => Ok(None),
            };
        };

        let tenant = tenant.trim().to_ascii_lowercase();
        let kind = tenant_kind(&tenant).map_err(|reason| invalid("entra.tenant", reason))?;
        let tenants = match (kind, self.tenants) {
            (TenantKind::Multi, None) => {
                return Err(invalid(
                    "entra.allowed_tenants",
                    format!(
                        "tenant `{tenant}` lets users of other tenants sign in: list the tenant ids that may (`allowed_tenants = [...]`, `TenantPolicy::Only`), or choose `allow_any_tenant = true` (`TenantPolicy::AnyTenant`)"
                    ),
                ));
            }
            (TenantKind::Multi, Some(TenantPolicy::Only(list))) => {
                if list.is_empty() {
                    return Err(invalid(
                        "entra.allowed_tenants",
                        "is empty: list at least one tenant id".into(),
                    ));
                }
                let mut normal = Vec::with_capacity(list.len());
                for id in list {
                    let id = id.trim().to_ascii_lowercase();
                    if !is_guid(&id) {
                        return Err(invalid(
                            "entra.allowed_tenants",
                            format!(
                                "`{id}` is not a tenant id: tokens name their tenant by GUID (`tid`), so list GUIDs, not domains"
                            ),
                        ));
                    }
                    if !normal.contains(&id) {
                        normal.push(id);
                    }
                }
                Some(TenantPolicy::Only(normal))
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
        };

        let authority = self.authority.as_deref().unwrap_or(DEFAULT_AUTHORITY);
        let authority = base_url(authority).map_err(|reason| invalid("entra.authority", reason))?;
        let authority = authority.as_str().trim_end_matches('/').to_owned();
        let graph = self.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH);
        let graph = base_url(graph).map_err(|reason| invalid("entra.graph_url", reason))?;

        let metadata_url = format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration");
        Ok(Some((
            Entra {
                tenant,
                authority,
                tenants,
                graph,
                groups_source: self.groups_source.unwrap_or_default(),
                graph_query: self.graph_query.unwrap_or_default(),
            },
            metadata_url,
        )))
    }

    /// Fills the draft from the TOML / JSON form.
    pub(crate) fn from_file(file: EntraFile) -> Result<Self, ConfigError> {
        let invalid = |field: &'static str, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.into(),
        };
        let tenants = match (file.allowed_tenants, file.allow_any_tenant) {
            (Some(_), Some(true)) => {
                return Err(invalid(
                    "entra.allow_any_tenant",
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
                    "entra.security_enabled_only",
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
            tenant: Some(file.tenant),
            authority: file.authority,
            tenants,
            graph_url: file.graph_url,
            groups_source: file.groups_source,
            graph_query,
        })
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

/// A GUID in its usual text form (`8-4-4-4-12` hex digits), any case.
pub(crate) fn is_guid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
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
fn base_url(given: &str) -> Result<Url, String> {
    let mut url =
        Url::parse(given).map_err(|e| format!("`{given}` is not an absolute URL ({e})"))?;
    if !is_secure_or_loopback(&url) {
        return Err(format!(
            "`{given}` must use https (plain http only on a loopback host such as 127.0.0.1)"
        ));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(format!(
            "`{given}` must not have a query, fragment or user name"
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

// ----- issuers ---------------------------------------------------------------

/// The multi-tenant issuer template, split around `{tenantid}` once.
#[derive(Debug, Clone)]
pub(crate) struct TenantTemplate {
    template: String,
    /// Where `{tenantid}` starts.
    at: usize,
}

impl TenantTemplate {
    pub(crate) fn new(template: &str) -> Option<Self> {
        let at = template.find(PLACEHOLDER)?;
        // One placeholder only.
        if template[at + PLACEHOLDER.len()..].contains(PLACEHOLDER) {
            return None;
        }
        Some(Self {
            template: template.to_owned(),
            at,
        })
    }

    fn prefix(&self) -> &str {
        &self.template[..self.at]
    }

    fn suffix(&self) -> &str {
        &self.template[self.at + PLACEHOLDER.len()..]
    }

    /// Whether `iss` is the template with `tid` put in. No allocation.
    pub(crate) fn issuer_matches(&self, iss: &str, tid: &str) -> bool {
        self.tenant_of(iss) == Some(tid)
    }

    /// The tenant part of an issuer made from this template.
    pub(crate) fn tenant_of<'i>(&self, iss: &'i str) -> Option<&'i str> {
        iss.strip_prefix(self.prefix())?
            .strip_suffix(self.suffix())
            .filter(|tid| !tid.is_empty())
    }

    /// The template with `tid` put in (for error messages).
    pub(crate) fn issuer_for(&self, tid: &str) -> String {
        format!("{}{tid}{}", self.prefix(), self.suffix())
    }

    /// Whether `iss` is an issuer of this template for a tenant `policy`
    /// allows: the callback's RFC 9207 `iss`, which names the tenant.
    pub(crate) fn allows_issuer(&self, iss: &str, policy: &TenantPolicy) -> bool {
        self.tenant_of(iss)
            .is_some_and(|tid| is_guid(tid) && policy.allows(tid))
    }
}

/// How the published issuer relates to the config.
#[derive(Debug)]
pub(crate) enum PublishedIssuer {
    /// Compared exactly with tokens' `iss`.
    Exact,
    /// The multi-tenant template, with the config's tenant policy.
    Template(TenantTemplate),
    /// Neither: an issuer mismatch.
    Mismatch {
        /// What the config expected.
        expected: String,
    },
}

/// Checks the metadata's `issuer` against the config.
pub(crate) fn check_published_issuer(
    config: &Config,
    published: &str,
) -> Result<PublishedIssuer, DiscoveryError> {
    let entra = config.entra.as_ref();
    if let Some(entra) = entra
        && entra.tenants.is_some()
    {
        let expected = format!("{}/{PLACEHOLDER}/v2.0", entra.authority);
        return Ok(match TenantTemplate::new(published) {
            Some(template) if published == expected => PublishedIssuer::Template(template),
            _ => PublishedIssuer::Mismatch { expected },
        });
    }
    if published.contains(PLACEHOLDER) {
        return Err(DiscoveryError::TenantTemplateWithoutPolicy {
            published: crate::error::clip(published, 256),
        });
    }
    if config.accepts_issuer(published) {
        return Ok(PublishedIssuer::Exact);
    }
    // A tenant configured by domain: the metadata names the tenant by id.
    if let Some(entra) = entra
        && !is_guid(&entra.tenant)
        && published
            .strip_prefix(&entra.authority)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_suffix("/v2.0"))
            .is_some_and(is_guid)
    {
        tracing::info!(
            target: "oidc_login::provider",
            tenant = %entra.tenant,
            issuer = %published,
            "the Entra ID tenant domain resolves to this issuer; ID tokens must carry it exactly"
        );
        return Ok(PublishedIssuer::Exact);
    }
    Ok(PublishedIssuer::Mismatch {
        expected: config.issuer().to_owned(),
    })
}

/// Whether a token whose `iss` did not match is an Entra ID version 1.0
/// token (`ver` 1.0, or the `sts.windows.net` issuer).
pub(crate) fn is_v1_token(iss: &str, ver: Option<&str>) -> bool {
    iss.starts_with(V1_ISSUER_PREFIX) || ver == Some("1.0")
}

// ----- groups overage and Microsoft Graph --------------------------------------

/// Where a login's groups come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GroupsPlan<'a> {
    /// The groups claim as it is.
    Token,
    /// Microsoft Graph, for this reason.
    Graph(&'a Entra, GraphTrigger),
    /// An overage marker this config cannot resolve.
    Refuse(&'static str),
}

/// Whether the claims say the user's groups did not fit in the token: no
/// groups claim, and `_claim_names` naming it or `hasgroups: true`.
pub(crate) fn has_overage(claims: &Map<String, Value>, groups_claim: &str) -> bool {
    if crate::identity::lookup(claims, groups_claim).is_some() {
        return false;
    }
    let distributed = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key(groups_claim));
    let has_groups =
        groups_claim == "groups" && matches!(claims.get("hasgroups"), Some(Value::Bool(true)));
    distributed || has_groups
}

/// Decides where this login's groups come from.
pub(crate) fn groups_plan<'c>(config: &'c Config, claims: &Map<String, Value>) -> GroupsPlan<'c> {
    let overage = has_overage(claims, config.groups_claim());
    let Some(entra) = config.entra.as_ref() else {
        return if overage {
            GroupsPlan::Refuse(
                "this config cannot read them from Microsoft Graph: configure the provider with `entra = { tenant = \"...\" }` (`Config::entra`) instead of `metadata_url`, and add the `GroupMember.Read.All` scope",
            )
        } else {
            GroupsPlan::Token
        };
    };
    match (entra.groups_source, overage) {
        (GroupsSource::Token, true) => GroupsPlan::Refuse(
            "`groups_source` is `token`, so they are not read from Microsoft Graph: set `groups_source = \"graph_on_overage\"` and add the `GroupMember.Read.All` scope",
        ),
        (GroupsSource::Graph, _) => GroupsPlan::Graph(entra, GraphTrigger::Configured),
        (GroupsSource::GraphOnOverage, true) => GroupsPlan::Graph(entra, GraphTrigger::Overage),
        (_, false) => GroupsPlan::Token,
    }
}

/// One page of a Graph collection.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Option<Vec<Value>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// Reads the signed-in user's group ids from Microsoft Graph with their
/// access token, following at most [`MAX_GRAPH_PAGES`] pages, each of which
/// must stay under the configured Graph URL.
pub(crate) async fn read_groups(
    http: &HttpClient,
    entra: &Entra,
    access_token: &AccessToken,
) -> Result<Vec<String>, GraphFailure> {
    const WHAT: &str = "reading the user's groups from Microsoft Graph at";
    let invalid_url = |e: url::ParseError| GraphFailure::InvalidResponse(e.to_string());
    let mut body = match entra.graph_query {
        GraphQuery::TransitiveMemberOf => {
            let url = entra
                .graph
                .join("v1.0/me/transitiveMemberOf?$select=id&$top=999")
                .map_err(invalid_url)?;
            http.get_json(WHAT, &url, Some(access_token)).await
        }
        GraphQuery::MemberObjects {
            security_enabled_only,
        } => {
            let url = entra
                .graph
                .join("v1.0/me/getMemberObjects")
                .map_err(invalid_url)?;
            let request = serde_json::json!({ "securityEnabledOnly": security_enabled_only });
            http.post_json(WHAT, &url, Some(access_token), &request)
                .await
        }
    }
    .map_err(graph_http_failure)?;

    let mut groups: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pages = 1;
    loop {
        // serde reads a struct from an array too (`[["id"], null]`).
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(GraphFailure::InvalidResponse("not a JSON object".into()));
        }
        let page: Page = serde_json::from_slice(&body)
            .map_err(|e| GraphFailure::InvalidResponse(format!("not a JSON collection ({e})")))?;
        let values = page.value.ok_or_else(|| {
            GraphFailure::InvalidResponse("the response has no `value` array".into())
        })?;
        for value in values {
            let id = match value {
                Value::String(id) => id,
                Value::Object(mut object) => match object.remove("id") {
                    Some(Value::String(id)) => id,
                    _ => {
                        return Err(GraphFailure::InvalidResponse(
                            "a member object has no string `id`".into(),
                        ));
                    }
                },
                _ => {
                    return Err(GraphFailure::InvalidResponse(
                        "`value` holds something other than ids or objects".into(),
                    ));
                }
            };
            if seen.insert(id.clone()) {
                groups.push(id);
            }
        }
        let Some(next) = page.next_link else {
            break;
        };
        if pages >= MAX_GRAPH_PAGES {
            return Err(GraphFailure::TooManyPages {
                limit: MAX_GRAPH_PAGES,
            });
        }
        let next = next_link(&entra.graph, &next)?;
        body = http
            .get_json(WHAT, &next, Some(access_token))
            .await
            .map_err(graph_http_failure)?;
        pages += 1;
    }
    Ok(groups)
}

/// An `@odata.nextLink`, accepted only under the configured Graph URL
/// (same scheme, host and port, and path prefix): the user's access token is
/// never sent anywhere else.
fn next_link(graph: &Url, link: &str) -> Result<Url, GraphFailure> {
    let foreign = || GraphFailure::ForeignNextLink {
        link: crate::error::clip(&without_query(link), 256),
        graph: graph.as_str().to_owned(),
    };
    let url = Url::parse(link).map_err(|_| foreign())?;
    let same_place = url.scheme() == graph.scheme()
        && url.host() == graph.host()
        && url.port_or_known_default() == graph.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(graph.path());
    if same_place { Ok(url) } else { Err(foreign()) }
}

fn graph_http_failure(error: crate::error::HttpError) -> GraphFailure {
    match error.kind() {
        HttpErrorKind::Status(403) => GraphFailure::Forbidden,
        HttpErrorKind::Status(401) => GraphFailure::Unauthorized,
        _ => GraphFailure::Request(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(c.username_claim(), "preferred_username");
        assert_eq!(c.groups_claim(), "groups");
        assert_eq!(c.app_roles_claim(), "roles");
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
    fn entra_settings_need_the_entra_preset() {
        let generic =
            || Config::builder("https://p.example", "app").redirect_uri("https://a.example/cb");
        let cases = [
            (
                generic().entra_tenants(TenantPolicy::AnyTenant),
                "entra.allowed_tenants",
            ),
            (
                generic().graph_url("https://graph.example"),
                "entra.graph_url",
            ),
            (
                generic().groups_source(GroupsSource::Graph),
                "entra.groups_source",
            ),
            (
                generic().entra_authority("https://l.example"),
                "entra.authority",
            ),
        ];
        for (builder, field) in cases {
            assert_eq!(field_of(builder.build().unwrap_err()), field);
        }
        let c = generic().build().unwrap();
        assert_eq!(c.groups_source(), GroupsSource::Token);
        assert!(c.graph_url().is_none());
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

    #[test]
    fn guids_and_templates() {
        assert!(is_guid(T1));
        assert!(is_guid(&T2.to_uppercase()));
        for bad in [
            "",
            "3c1a0f6e00004000800000000000000001",
            "3c1a0f6e-0000-4000-8000-00000000000g",
            "3c1a0f6e-0000-4000-8000-0000000000011",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
        let t = TenantTemplate::new("https://login.example/{tenantid}/v2.0").unwrap();
        assert!(t.issuer_matches(&format!("https://login.example/{T1}/v2.0"), T1));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}/v2.0"), T2));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}/v2.0/"), T1));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}x/v2.0"), T1));
        assert!(!t.issuer_matches("https://login.example//v2.0", ""));
        assert_eq!(
            t.tenant_of(&format!("https://login.example/{T1}/v2.0")),
            Some(T1)
        );
        assert_eq!(t.tenant_of("https://evil.example/x/v2.0"), None);
        assert_eq!(t.issuer_for(T2), format!("https://login.example/{T2}/v2.0"));
        let only = TenantPolicy::Only(vec![T1.into()]);
        assert!(t.allows_issuer(&format!("https://login.example/{T1}/v2.0"), &only));
        assert!(!t.allows_issuer(&format!("https://login.example/{T2}/v2.0"), &only));
        assert!(t.allows_issuer(
            &format!("https://login.example/{T2}/v2.0"),
            &TenantPolicy::AnyTenant
        ));
        assert!(!t.allows_issuer(
            "https://login.example/not-a-guid/v2.0",
            &TenantPolicy::AnyTenant
        ));
        assert!(TenantTemplate::new("https://l/{tenantid}/{tenantid}").is_none());
        assert!(TenantTemplate::new("https://l/common/v2.0").is_none());
    }

    #[test]
    fn published_issuers() {
        let multi = entra("organizations")
            .entra_tenants(TenantPolicy::Only(vec![T1.into()]))
            .build()
            .unwrap();
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(matches!(
            check_published_issuer(&multi, template),
            Ok(PublishedIssuer::Template(_))
        ));
        // Another host's template, or an exact issuer, does not do for a policy.
        for published in [
            "https://evil.example/{tenantid}/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0",
        ] {
            assert!(matches!(
                check_published_issuer(&multi, published),
                Ok(PublishedIssuer::Mismatch { ref expected }) if expected == template
            ));
        }
        // A template without a policy says what to configure.
        let generic = Config::builder("https://login.microsoftonline.com/common/v2.0", "app")
            .redirect_uri("https://a.example/cb")
            .build()
            .unwrap();
        let err = check_published_issuer(&generic, template).unwrap_err();
        assert!(matches!(
            err,
            DiscoveryError::TenantTemplateWithoutPolicy { .. }
        ));
        assert!(err.to_string().contains("allowed_tenants"), "{err}");
        // A domain tenant resolves to its GUID issuer, on the same authority only.
        let domain = entra("contoso.onmicrosoft.com").build().unwrap();
        assert!(matches!(
            check_published_issuer(
                &domain,
                &format!("https://login.microsoftonline.com/{T1}/v2.0")
            ),
            Ok(PublishedIssuer::Exact)
        ));
        for published in [
            format!("https://evil.example/{T1}/v2.0"),
            format!("https://login.microsoftonline.com/{T1}/v2.0/x"),
            "https://login.microsoftonline.com/fabrikam.com/v2.0".to_owned(),
        ] {
            assert!(
                matches!(
                    check_published_issuer(&domain, &published),
                    Ok(PublishedIssuer::Mismatch { .. })
                ),
                "{published}"
            );
        }
        // A GUID tenant is exact.
        let single = entra(T1).build().unwrap();
        assert!(matches!(
            check_published_issuer(
                &single,
                &format!("https://login.microsoftonline.com/{T2}/v2.0")
            ),
            Ok(PublishedIssuer::Mismatch { .. })
        ));
    }

    #[test]
    fn overage_is_detected_only_without_groups() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let distributed = claims(json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}}
        }));
        assert!(has_overage(&distributed, "groups"));
        assert!(has_overage(&claims(json!({"hasgroups": true})), "groups"));
        assert!(!has_overage(&claims(json!({"hasgroups": false})), "groups"));
        assert!(!has_overage(
            &claims(json!({"groups": [], "hasgroups": true})),
            "groups"
        ));
        assert!(!has_overage(
            &claims(json!({"_claim_names": {"other": "src1"}})),
            "groups"
        ));
        assert!(!has_overage(&claims(json!({})), "groups"));

        let single = entra(T1).build().unwrap();
        assert!(matches!(
            groups_plan(&single, &distributed),
            GroupsPlan::Graph(_, GraphTrigger::Overage)
        ));
        assert!(matches!(
            groups_plan(&single, &claims(json!({"groups": ["g"]}))),
            GroupsPlan::Token
        ));
        let token_only = entra(T1)
            .groups_source(GroupsSource::Token)
            .build()
            .unwrap();
        assert!(matches!(
            groups_plan(&token_only, &distributed),
            GroupsPlan::Refuse(_)
        ));
        let always = entra(T1)
            .groups_source(GroupsSource::Graph)
            .build()
            .unwrap();
        assert!(matches!(
            groups_plan(&always, &claims(json!({"groups": ["g"]}))),
            GroupsPlan::Graph(_, GraphTrigger::Configured)
        ));
        let generic = Config::builder("https://p.example", "app")
            .redirect_uri("https://a.example/cb")
            .build()
            .unwrap();
        assert!(matches!(
            groups_plan(&generic, &distributed),
            GroupsPlan::Refuse(_)
        ));
        assert!(matches!(
            groups_plan(&generic, &claims(json!({}))),
            GroupsPlan::Token
        ));
    }

    #[test]
    fn next_links_stay_under_the_graph_url() {
        let graph = base_url("https://graph.microsoft.com").unwrap();
        assert!(
            next_link(
                &graph,
                "https://graph.microsoft.com/v1.0/me/transitiveMemberOf?$skiptoken=x"
            )
            .is_ok()
        );
        for bad in [
            "https://evil.example/v1.0/me/transitiveMemberOf",
            "http://graph.microsoft.com/v1.0/me",
            "https://graph.microsoft.com:8443/v1.0/me",
            "https://graph.microsoft.com.evil.example/v1.0/me",
            "https://user@graph.microsoft.com/v1.0/me",
            "/v1.0/me/transitiveMemberOf",
        ] {
            let err = next_link(&graph, bad).unwrap_err();
            assert!(matches!(err, GraphFailure::ForeignNextLink { .. }), "{bad}");
        }
        let err = next_link(&graph, "https://evil.example/next?token=secret").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let prefixed = base_url("http://127.0.0.1:9/graph").unwrap();
        assert!(next_link(&prefixed, "http://127.0.0.1:9/graph/v1.0/me").is_ok());
        assert!(next_link(&prefixed, "http://127.0.0.1:9/other/v1.0/me").is_err());
    }

    #[test]
    fn v1_tokens_are_recognised() {
        assert!(is_v1_token(&format!("https://sts.windows.net/{T1}/"), None));
        assert!(is_v1_token("https://x.example", Some("1.0")));
        assert!(!is_v1_token("https://x.example", Some("2.0")));
        assert!(!is_v1_token("https://x.example", None));
    }
}
