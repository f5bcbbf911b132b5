//! Microsoft Entra ID at sign-in: where a login's groups come from, and the
//! Microsoft Graph reader for the groups overage (a user in more groups than
//! fit in a token). The Entra settings are in `src/config/entra.rs`; the
//! multi-tenant issuer rules in `src/issuer.rs`.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::config::{GraphQuery, GroupsSource};
use crate::error::{GraphFailure, GraphTrigger, HttpErrorKind};
use crate::http::{HttpClient, without_query};
use crate::provider::EntraId;
use crate::secret::AccessToken;

/// The most pages of groups read from Graph for one login.
pub(crate) const MAX_GRAPH_PAGES: usize = 50;

/// Where a login's groups come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GroupsPlan<'a> {
    /// The groups claim as it is.
    Token,
    /// Microsoft Graph at this URL, read this way, for this reason.
    Graph(&'a Url, GraphQuery, GraphTrigger),
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

/// Decides where this login's groups come from: `entra` is the provider
/// as recognised at discovery (`None`: not Entra ID).
pub(crate) fn groups_plan<'e>(
    entra: Option<&'e EntraId>,
    groups_claim: &str,
    claims: &Map<String, Value>,
) -> GroupsPlan<'e> {
    let overage = has_overage(claims, groups_claim);
    let Some(entra) = entra else {
        return if overage {
            GroupsPlan::Refuse(
                "this provider is not recognised as Microsoft Entra ID, so they cannot be read from Microsoft Graph: use Entra's v2.0 metadata URL (`https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration`) or `entra = { tenant = \"...\" }` (`Config::entra`), and add the `GroupMember.Read.All` scope",
            )
        } else {
            GroupsPlan::Token
        };
    };
    let trigger = match (entra.groups_source, overage) {
        (GroupsSource::Token, true) => {
            return GroupsPlan::Refuse(
                "`groups_source` is `token`, so they are not read from Microsoft Graph: set `groups_source = \"graph_on_overage\"` and add the `GroupMember.Read.All` scope",
            );
        }
        (GroupsSource::Graph, _) => GraphTrigger::Configured,
        (GroupsSource::GraphOnOverage, true) => GraphTrigger::Overage,
        (_, false) => return GroupsPlan::Token,
    };
    match &entra.graph_url {
        Some(graph) => GroupsPlan::Graph(graph, entra.graph_query, trigger),
        None => GroupsPlan::Refuse(
            "the provider is Microsoft Entra ID, but its metadata did not come from Microsoft's own login host, so there is no Microsoft Graph URL to send the user's access token to: set `graph_url`",
        ),
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
    graph: &Url,
    query: GraphQuery,
    access_token: &AccessToken,
) -> Result<Vec<String>, GraphFailure> {
    const WHAT: &str = "reading the user's groups from Microsoft Graph at";
    let invalid_url = |e: url::ParseError| GraphFailure::InvalidResponse(e.to_string());
    let mut body = match query {
        GraphQuery::TransitiveMemberOf => {
            let url = graph
                .join("v1.0/me/transitiveMemberOf?$select=id&$top=999")
                .map_err(invalid_url)?;
            http.get_json(WHAT, &url, Some(access_token)).await
        }
        GraphQuery::MemberObjects {
            security_enabled_only,
        } => {
            let url = graph
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
        let next = next_link(graph, &next)?;
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

        let entra = |source: GroupsSource, graph: Option<&str>| EntraId {
            recognised_by: crate::Recognition::Metadata,
            version: crate::EntraVersion::V2,
            cloud_instance_name: None,
            tenant_region_scope: None,
            graph_url: graph.map(|g| Url::parse(g).unwrap()),
            groups_source: source,
            graph_query: GraphQuery::TransitiveMemberOf,
        };
        let graph = Some("https://graph.microsoft.com/");
        let plan = |e: Option<&EntraId>, c: &Map<String, Value>| match groups_plan(e, "groups", c) {
            GroupsPlan::Token => "token",
            GroupsPlan::Graph(_, _, GraphTrigger::Overage) => "graph on overage",
            GroupsPlan::Graph(_, _, GraphTrigger::Configured) => "graph always",
            GroupsPlan::Refuse(_) => "refuse",
        };
        let with_groups = claims(json!({"groups": ["g"]}));
        let single = entra(GroupsSource::GraphOnOverage, graph);
        assert_eq!(plan(Some(&single), &distributed), "graph on overage");
        assert_eq!(plan(Some(&single), &with_groups), "token");
        let token_only = entra(GroupsSource::Token, graph);
        assert_eq!(plan(Some(&token_only), &distributed), "refuse");
        let always = entra(GroupsSource::Graph, graph);
        assert_eq!(plan(Some(&always), &with_groups), "graph always");
        // Entra ID with no Graph URL: an overage is refused, never read elsewhere.
        let no_graph = entra(GroupsSource::GraphOnOverage, None);
        assert_eq!(plan(Some(&no_graph), &distributed), "refuse");
        assert_eq!(plan(Some(&no_graph), &with_groups), "token");
        // Not Entra ID.
        assert_eq!(plan(None, &distributed), "refuse");
        assert_eq!(plan(None, &claims(json!({}))), "token");
    }

    #[test]
    fn next_links_stay_under_the_graph_url() {
        let graph = Url::parse("https://graph.microsoft.com/").unwrap();
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
        let prefixed = Url::parse("http://127.0.0.1:9/graph/").unwrap();
        assert!(next_link(&prefixed, "http://127.0.0.1:9/graph/v1.0/me").is_ok());
        assert!(next_link(&prefixed, "http://127.0.0.1:9/other/v1.0/me").is_err());
    }
}
