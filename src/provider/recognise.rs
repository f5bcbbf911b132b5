//! The one place that decides "this provider is Microsoft Entra ID": from
//! the config's `entra` table, or from the discovery document itself (a
//! plain metadata URL, Pexip's form). Every Entra rule (the multi-tenant
//! template and its policy, version 1.0 tokens refused, the groups overage
//! read from Microsoft Graph, no automatic `prompt=consent`) reads the
//! [`EntraId`] decided here.
//!
//! A discovery document is Entra ID's when both hold:
//! - its `issuer` has one of Entra's forms: `<origin>/<tenant>/v2.0`, where
//!   `<origin>` is the metadata URL's own scheme, host and port, or
//!   `https://sts.windows.net/<tenant>/` (version 1.0); `<tenant>` is a
//!   tenant id (GUID) or the multi-tenant placeholder `{tenantid}`;
//! - it has Entra's own members `cloud_instance_name` and `msgraph_host`
//!   (strings; `tenant_region_scope` is reported when present).
//!
//! Recognition never takes a URL from the document: the Microsoft Graph URL,
//! to which the user's access token goes, is the config's `graph_url`, or
//! Microsoft's well-known Graph of the recognised cloud when the metadata
//! came from that cloud's own login host over https. A provider elsewhere
//! that merely copies Entra's members gets Entra's stricter rules, and no
//! Graph unless the config names one.

use std::fmt;

use serde_json::Value;
use url::Url;

use crate::config::{Config, GraphQuery, GroupsSource};
use crate::error::DiscoveryError;
use crate::issuer::{PLACEHOLDER, V1_HOSTS, is_guid};

/// Microsoft's clouds: `cloud_instance_name`, the login hosts its metadata
/// is served from, and its Microsoft Graph hosts (the first is the default;
/// another one is used when `msgraph_host` names it, as for US DoD tenants).
const CLOUDS: [(&str, &[&str], &[&str]); 3] = [
    (
        "microsoftonline.com",
        &["login.microsoftonline.com"],
        &["graph.microsoft.com"],
    ),
    (
        "microsoftonline.us",
        &["login.microsoftonline.us"],
        &["graph.microsoft.us", "dod-graph.microsoft.us"],
    ),
    (
        "partner.microsoftonline.cn",
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
        &["microsoftgraph.chinacloudapi.cn"],
    ),
];

/// Microsoft Entra ID, as a [`Client`](crate::Client) recognised it at
/// discovery ([`Client::entra`](crate::Client::entra)): how, which token
/// version its metadata leads to, its cloud, and where a login's groups
/// come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntraId {
    /// From the config's `entra` table, or from the discovery document.
    pub recognised_by: Recognition,
    /// The ID token version the metadata leads to. Version 1.0 tokens are
    /// always refused ([`TokenError::EntraV1Token`](crate::TokenError::EntraV1Token)).
    pub version: EntraVersion,
    /// The metadata's `cloud_instance_name` (`microsoftonline.com` for the
    /// public cloud), when it has one.
    pub cloud_instance_name: Option<String>,
    /// The metadata's `tenant_region_scope` (such as `EU`), when it has one.
    pub tenant_region_scope: Option<String>,
    /// The Microsoft Graph base URL the groups overage is read from; `None`
    /// when there is none (an overage is then refused, naming `graph_url`).
    pub graph_url: Option<Url>,
    /// Where a login's groups come from.
    pub groups_source: GroupsSource,
    /// How groups are read from Graph.
    pub graph_query: GraphQuery,
}

/// How Entra ID was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recognition {
    /// The config's `entra` table ([`Config::entra`]).
    EntraTable,
    /// The discovery document: its issuer's form and Entra's own members.
    Metadata,
}

/// The Entra ID token version a metadata document leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntraVersion {
    /// Version 2.0 (`.../v2.0/.well-known/openid-configuration`).
    V2,
    /// Version 1.0 (`.../<tenant>/.well-known/openid-configuration`, issuer
    /// `https://sts.windows.net/<tenant>/`): every ID token is refused.
    V1,
}

impl fmt::Display for EntraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.recognised_by {
            Recognition::EntraTable => "the `entra` table",
            Recognition::Metadata => "its metadata",
        };
        let version = match self.version {
            EntraVersion::V2 => "v2.0",
            EntraVersion::V1 => "v1.0, whose ID tokens are refused",
        };
        write!(f, "Microsoft Entra ID ({version}, recognised by {by}")?;
        if let Some(cloud) = &self.cloud_instance_name {
            write!(f, "; cloud `{}`", crate::error::clip(cloud, 64))?;
        }
        if let Some(region) = &self.tenant_region_scope {
            write!(f, "; region `{}`", crate::error::clip(region, 16))?;
        }
        match &self.graph_url {
            Some(graph) => write!(f, "; groups overage read from Microsoft Graph at {graph})"),
            None => write!(
                f,
                "; no Microsoft Graph URL: set `graph_url` to read a groups overage)"
            ),
        }
    }
}

/// What the document says of itself, when it has Entra's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntraDocument {
    pub(crate) version: EntraVersion,
    pub(crate) cloud_instance_name: String,
    pub(crate) msgraph_host: String,
    pub(crate) tenant_region_scope: Option<String>,
}

/// Entra's own members, as the metadata holds them (any JSON type, so that
/// an odd value fails recognition, not the whole document).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Members<'a> {
    pub(crate) cloud_instance_name: Option<&'a Value>,
    pub(crate) msgraph_host: Option<&'a Value>,
    pub(crate) tenant_region_scope: Option<&'a Value>,
}

/// The document's own say: Entra ID when its issuer has one of Entra's
/// forms and it has Entra's members (see the module docs).
pub(crate) fn recognise(
    metadata_url: &Url,
    issuer: &str,
    members: Members<'_>,
) -> Option<EntraDocument> {
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let cloud_instance_name = text(members.cloud_instance_name)?;
    let msgraph_host = text(members.msgraph_host)?;
    let version = issuer_version(metadata_url, issuer)?;
    Some(EntraDocument {
        version,
        cloud_instance_name,
        msgraph_host,
        tenant_region_scope: text(members.tenant_region_scope),
    })
}

/// The version of an issuer in one of Entra's forms.
fn issuer_version(metadata_url: &Url, issuer: &str) -> Option<EntraVersion> {
    let is_tenant = |segment: &str| is_guid(segment) || segment == PLACEHOLDER;
    for host in V1_HOSTS {
        if let Some(tenant) = issuer
            .strip_prefix("https://")
            .and_then(|rest| rest.strip_prefix(host))
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_suffix('/'))
        {
            return is_tenant(tenant).then_some(EntraVersion::V1);
        }
    }
    let origin = metadata_url.origin().ascii_serialization();
    let tenant = issuer
        .strip_prefix(origin.as_str())?
        .strip_prefix('/')?
        .strip_suffix("/v2.0")?;
    is_tenant(tenant).then_some(EntraVersion::V2)
}

/// The tenant segment of a metadata URL of Entra's form
/// (`<origin>/<tenant>[/v2.0]/.well-known/openid-configuration`), lower-cased.
pub(crate) fn url_tenant(metadata_url: &Url) -> Option<String> {
    let path = metadata_url
        .path()
        .strip_suffix("/.well-known/openid-configuration")?;
    let path = path.strip_suffix("/v2.0").unwrap_or(path);
    let tenant = path.strip_prefix('/')?;
    (!tenant.is_empty() && !tenant.contains('/')).then(|| tenant.to_ascii_lowercase())
}

/// Microsoft's Graph for the document's cloud, when the metadata was
/// fetched from that cloud's own login host over https; never a URL the
/// document names.
fn well_known_graph(metadata_url: &Url, document: &EntraDocument) -> Option<Url> {
    if !from_cloud_login_host(metadata_url, &document.cloud_instance_name) {
        return None;
    }
    let (_, _, graphs) = CLOUDS
        .iter()
        .find(|(cloud, _, _)| cloud.eq_ignore_ascii_case(&document.cloud_instance_name))?;
    let graph = graphs
        .iter()
        .find(|g| g.eq_ignore_ascii_case(&document.msgraph_host))
        .or(graphs.first())?;
    Url::parse(&format!("https://{graph}/")).ok()
}

/// Whether `metadata_url` is, over https on the default port, one of the
/// login hosts of the Microsoft cloud named `cloud_instance_name`.
fn from_cloud_login_host(metadata_url: &Url, cloud_instance_name: &str) -> bool {
    let Some((_, logins, _)) = CLOUDS
        .iter()
        .find(|(cloud, _, _)| cloud.eq_ignore_ascii_case(cloud_instance_name))
    else {
        return false;
    };
    metadata_url.scheme() == "https"
        && metadata_url.port().is_none()
        && metadata_url
            .host_str()
            .is_some_and(|host| logins.iter().any(|login| login.eq_ignore_ascii_case(host)))
}

impl EntraId {
    /// Whether the provider's access tokens are Entra's, to be checked by
    /// Entra's rules (which skip RFC 9068's `typ`): for the `entra` table,
    /// or for metadata served by a Microsoft cloud's own login host (the
    /// test the well-known Graph uses). A provider elsewhere that merely
    /// copies Entra's members keeps RFC 9068's stricter separation of ID
    /// and access tokens.
    pub(crate) fn issues_entra_access_tokens(&self, metadata_url: &Url) -> bool {
        match self.recognised_by {
            Recognition::EntraTable => true,
            Recognition::Metadata => self
                .cloud_instance_name
                .as_deref()
                .is_some_and(|cloud| from_cloud_login_host(metadata_url, cloud)),
        }
    }
}

/// The decision: Entra ID by the `entra` table, or by the document, or
/// not at all. Entra settings given with a plain metadata URL whose
/// document is not Entra ID's are refused, naming the setting.
pub(crate) fn decide(
    config: &Config,
    document: Option<&EntraDocument>,
) -> Result<Option<EntraId>, DiscoveryError> {
    let settings = &config.entra;
    let (recognised_by, graph_url) = match (&settings.preset, document) {
        (Some(_), _) => (Recognition::EntraTable, settings.graph.clone()),
        (None, Some(document)) => (
            Recognition::Metadata,
            settings
                .graph
                .clone()
                .or_else(|| well_known_graph(config.metadata_url(), document)),
        ),
        (None, None) => {
            return match settings.generic_setting {
                Some(setting) => Err(DiscoveryError::EntraSetting {
                    setting,
                    reason: "the provider is not Microsoft Entra ID: its metadata has neither an Entra issuer (`<authority>/<tenant>/v2.0`) nor Entra's members `cloud_instance_name` and `msgraph_host`; remove the setting, or check `metadata_url`".into(),
                }),
                None => Ok(None),
            };
        }
    };
    let entra = EntraId {
        recognised_by,
        version: document.map_or(EntraVersion::V2, |d| d.version),
        cloud_instance_name: document.map(|d| d.cloud_instance_name.clone()),
        tenant_region_scope: document.and_then(|d| d.tenant_region_scope.clone()),
        graph_url,
        groups_source: settings.groups_source,
        graph_query: settings.graph_query,
    };
    tracing::info!(target: "oidc_login::provider", "the provider is {entra}");
    if entra.version == EntraVersion::V1 {
        tracing::warn!(
            target: "oidc_login::provider",
            "this is Entra ID's version 1.0 metadata: every ID token it leads to will be refused; use the v2.0 metadata URL, which ends in `/v2.0/.well-known/openid-configuration`"
        );
    }
    Ok(Some(entra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "3c1a0f6e-0000-4000-8000-000000000001";

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn members<'a>(cloud: &'a Value, graph: &'a Value) -> Members<'a> {
        Members {
            cloud_instance_name: Some(cloud),
            msgraph_host: Some(graph),
            tenant_region_scope: None,
        }
    }

    #[test]
    fn recognition_needs_the_issuer_form_and_the_members() {
        let ms = url(&format!(
            "https://login.microsoftonline.com/{T1}/v2.0/.well-known/openid-configuration"
        ));
        let (cloud, graph) = (json!("microsoftonline.com"), json!("graph.microsoft.com"));
        let ok = members(&cloud, &graph);
        let v2 = format!("https://login.microsoftonline.com/{T1}/v2.0");
        assert_eq!(recognise(&ms, &v2, ok).unwrap().version, EntraVersion::V2);
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(recognise(&ms, template, ok).is_some());
        let v1 = format!("https://sts.windows.net/{T1}/");
        assert_eq!(recognise(&ms, &v1, ok).unwrap().version, EntraVersion::V1);
        // Members alone, or the issuer form alone, do not make Entra ID.
        for issuer in [
            "https://login.microsoftonline.com/common/v2.0".to_owned(),
            format!("https://other.example/{T1}/v2.0"),
            format!("https://login.microsoftonline.com/{T1}/v2.0/"),
            format!("https://login.microsoftonline.com/{T1}"),
            "https://sts.windows.net/contoso.com/".to_owned(),
            format!("http://sts.windows.net/{T1}/"),
            "https://idp.example".to_owned(),
        ] {
            assert!(recognise(&ms, &issuer, ok).is_none(), "{issuer}");
        }
        for (cloud, graph) in [
            (json!(null), json!("graph.microsoft.com")),
            (json!("microsoftonline.com"), json!(5)),
            (json!(""), json!("graph.microsoft.com")),
        ] {
            assert!(recognise(&ms, &v2, members(&cloud, &graph)).is_none());
        }
        assert!(recognise(&ms, &v2, Members::default()).is_none());
    }

    #[test]
    fn the_graph_url_is_never_the_documents() {
        let document = |cloud: &str, graph: &str| EntraDocument {
            version: EntraVersion::V2,
            cloud_instance_name: cloud.into(),
            msgraph_host: graph.into(),
            tenant_region_scope: None,
        };
        let ms = url("https://login.microsoftonline.com/x/v2.0/.well-known/openid-configuration");
        let public = document("microsoftonline.com", "graph.microsoft.com");
        assert_eq!(
            well_known_graph(&ms, &public).unwrap().as_str(),
            "https://graph.microsoft.com/"
        );
        // A hostile `msgraph_host` is ignored: the cloud's own Graph.
        let hostile = document("microsoftonline.com", "evil.example");
        assert_eq!(
            well_known_graph(&ms, &hostile).unwrap().as_str(),
            "https://graph.microsoft.com/"
        );
        let us = url("https://login.microsoftonline.us/x/v2.0/.well-known/openid-configuration");
        let dod = document("microsoftonline.us", "dod-graph.microsoft.us");
        assert_eq!(
            well_known_graph(&us, &dod).unwrap().as_str(),
            "https://dod-graph.microsoft.us/"
        );
        // Metadata from anywhere but the cloud's login host: no Graph.
        for metadata in [
            "https://login.example/x/v2.0/.well-known/openid-configuration",
            "http://127.0.0.1:8080/x/v2.0/.well-known/openid-configuration",
            "https://login.microsoftonline.com:8443/x/v2.0/.well-known/openid-configuration",
            "https://login.microsoftonline.us/x/v2.0/.well-known/openid-configuration",
        ] {
            assert!(
                well_known_graph(&url(metadata), &public).is_none(),
                "{metadata}"
            );
        }
        assert!(well_known_graph(&ms, &document("example.com", "graph.microsoft.com")).is_none());
    }

    #[test]
    fn url_tenants() {
        for (metadata, tenant) in [
            (
                "https://l.example/Organizations/v2.0/.well-known/openid-configuration",
                Some("organizations"),
            ),
            (
                "https://l.example/contoso.com/.well-known/openid-configuration",
                Some("contoso.com"),
            ),
            ("https://l.example/.well-known/openid-configuration", None),
            (
                "https://l.example/a/b/v2.0/.well-known/openid-configuration",
                None,
            ),
        ] {
            assert_eq!(url_tenant(&url(metadata)).as_deref(), tenant, "{metadata}");
        }
    }
}
