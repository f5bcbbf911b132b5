//! Microsoft Entra ID at sign-in: where a login's groups come from, and the
//! Microsoft Graph reader for the groups overage (a user in more groups than
//! fit in a token). The Entra settings are in `src/config/entra.rs`; the
//! multi-tenant issuer rules in `src/issuer.rs`.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::config::{Config, Entra, GraphQuery, GroupsSource};
use crate::error::{GraphFailure, GraphTrigger, HttpErrorKind};
use crate::http::{HttpClient, without_query};
use crate::secret::AccessToken;

/// The most pages of groups read from Graph for one login.
pub(crate) const MAX_GRAPH_PAGES: usize = 50;

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
    let overage = has_overage(claims, config.claims().groups.as_str());
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

    fn entra(tenant: &str) -> crate::ConfigBuilder {
        crate::Config::entra(tenant, "app").redirect_uri("https://app.example/cb")
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
