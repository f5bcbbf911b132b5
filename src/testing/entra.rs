//! The embedded provider's Microsoft Entra ID mode: tenant issuers, the
//! multi-tenant metadata, `tid`/`oid`/`ver` claims, the groups overage, and
//! the Microsoft Graph endpoints that list a user's groups.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::misbehavior::Misbehavior;
use super::model::TestUser;
use super::server::{AppState, Params, discovery_document, json_response};
use super::state::{Shared, lock};
use super::{TestProvider, TestProviderBuilder};

/// The tenant id of personal Microsoft accounts.
const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Scopes that let Graph list a user's groups.
const GROUP_SCOPES: [&str; 3] = [
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
];

/// Makes the [`TestProvider`] behave like Microsoft Entra ID's v2.0
/// endpoints. Turn it on with [`TestProviderBuilder::entra`].
///
/// With it, the provider serves, besides its usual endpoints:
///
/// | endpoint | |
/// | --- | --- |
/// | `GET /<tenant>/v2.0/.well-known/openid-configuration` | a tenant's metadata, issuer `<base>/<tenant id>/v2.0`; for `common` and `organizations` the issuer is the template `<base>/{tenantid}/v2.0`; a registered [domain](Self::domain) resolves to its tenant's issuer; anything else but a GUID gets `400` |
/// | `GET /<tenant>/.well-known/openid-configuration` | the version 1.0 metadata: the same, with issuer `https://sts.windows.net/<tenant id>/` (`https://sts.windows.net/{tenantid}/` for `common` and `organizations`) |
/// | `GET /v1.0/me/transitiveMemberOf` | Microsoft Graph: the signed-in user's groups as `{"@odata.type": "#microsoft.graph.group", "id": ...}`, [`graph_page_size`](Self::graph_page_size) per page, with `@odata.nextLink` |
/// | `POST /v1.0/me/getMemberObjects` | Microsoft Graph: body `{"securityEnabledOnly": bool}`, recorded for [`last_security_enabled_only`](TestProvider::last_security_enabled_only); every group id in one answer (all test groups are security groups) |
///
/// `<base>` is the provider's [`entra_authority`](TestProvider::entra_authority),
/// which is also its [`graph_url`](TestProvider::graph_url). The Graph
/// endpoints want `Authorization: Bearer <access token>` from this provider
/// (`401` otherwise) whose scope holds `GroupMember.Read.All`,
/// `Group.Read.All` or `Directory.Read.All` (`403 Authorization_RequestDenied`
/// otherwise, as when the admin consent is missing).
///
/// Both metadata documents carry Entra's own members, as real Entra ID's
/// do: `cloud_instance_name` (`microsoftonline.com`), `msgraph_host`
/// (`graph.microsoft.com`), `cloud_graph_host_name` and
/// `tenant_region_scope` (`EU` for one tenant, `null` for `common` and
/// `organizations`); [`Misbehavior::EntraGraphHost`] changes `msgraph_host`.
///
/// ID tokens then carry `iss` = `<base>/<tid>/v2.0`, `tid` (the user's
/// [`tenant`](TestUser::tenant), else the home tenant), `oid` (the user's
/// [`object_id`](TestUser::object_id), else a GUID made from its `sub`) and
/// `ver: "2.0"`. A user in more groups than the [overage
/// limit](Self::overage_limit) gets no `groups` but the [overage
/// marker](OverageForm) instead, in the ID token and in userinfo. With
/// [`version1_tokens`](Self::version1_tokens), ID tokens are version 1.0
/// (`iss` `https://sts.windows.net/<tid>/`, `ver` `1.0`), as Entra's v1.0
/// endpoints issue them. The
/// authorization response's `iss` (RFC 9207) is the user's tenant issuer;
/// real Entra ID sends none, so also test with
/// [`iss_parameter(false)`](TestProviderBuilder::iss_parameter).
///
/// ```no_run
/// use oidc_login::testing::{EntraMode, TestProvider, TestUser};
///
/// # async fn example() {
/// let home = "3c1a0f6e-0000-4000-8000-000000000001";
/// let provider = TestProvider::builder()
///     .entra(EntraMode::new(home).overage_limit(200).graph_page_size(100))
///     .user(TestUser::alice())
///     .user(TestUser::new("guest-sub", "guest").tenant("72f988bf-86f1-41af-91ab-2d7cd011db47"))
///     .start()
///     .await;
/// let metadata_url = provider.entra_metadata_url("organizations");
/// # let _ = metadata_url;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraMode {
    tenant: String,
    domains: Vec<(String, String)>,
    overage_limit: usize,
    overage_form: OverageForm,
    graph_page_size: usize,
    version1: bool,
}

/// How the provider marks a groups overage in a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OverageForm {
    /// `_claim_names: {"groups": "src1"}` and `_claim_sources: {"src1":
    /// {"endpoint": ".../getMemberObjects"}}`, as in Entra's authorization
    /// code flow.
    #[default]
    ClaimSources,
    /// `hasgroups: true`, as in Entra's implicit flow.
    HasGroups,
}

impl EntraMode {
    /// Entra mode with this home tenant id (a GUID): the tenant of users
    /// who have no [`tenant`](TestUser::tenant) of their own. Overage above
    /// 200 groups (Entra's limit for JWTs), 100 groups per Graph page.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into().to_ascii_lowercase(),
            domains: Vec::new(),
            overage_limit: 200,
            overage_form: OverageForm::default(),
            graph_page_size: 100,
            version1: false,
        }
    }

    /// Registers a verified domain of `tenant`: its metadata names the
    /// tenant's issuer, as `contoso.onmicrosoft.com` does.
    pub fn domain(mut self, domain: impl Into<String>, tenant: impl Into<String>) -> Self {
        self.domains.push((
            domain.into().to_ascii_lowercase(),
            tenant.into().to_ascii_lowercase(),
        ));
        self
    }

    /// Users with more groups than this get the overage marker instead of
    /// `groups` (default 200).
    pub fn overage_limit(mut self, limit: usize) -> Self {
        self.overage_limit = limit;
        self
    }

    /// The overage marker (default [`OverageForm::ClaimSources`]).
    pub fn overage_form(mut self, form: OverageForm) -> Self {
        self.overage_form = form;
        self
    }

    /// Groups per `transitiveMemberOf` page (default 100, at least 1).
    pub fn graph_page_size(mut self, size: usize) -> Self {
        self.graph_page_size = size.max(1);
        self
    }

    /// ID tokens are version 1.0 (`iss` `https://sts.windows.net/<tid>/`,
    /// `ver` `1.0`), as Entra's v1.0 endpoints (the metadata URL without
    /// `/v2.0`) issue them; the callback's `iss` is that issuer too.
    pub fn version1_tokens(mut self) -> Self {
        self.version1 = true;
        self
    }

    /// The home tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The tenant a metadata path segment names: `None` for the
    /// multi-tenant `common` and `organizations`.
    fn resolve(&self, segment: &str) -> Result<Option<String>, String> {
        let segment = segment.to_ascii_lowercase();
        match segment.as_str() {
            "common" | "organizations" => Ok(None),
            "consumers" => Ok(Some(CONSUMER_TENANT.to_owned())),
            s if crate::issuer::is_guid(s) => Ok(Some(segment)),
            s => self
                .domains
                .iter()
                .find(|(domain, _)| domain == s)
                .map(|(_, tenant)| Some(tenant.clone()))
                .ok_or_else(|| {
                    format!(
                        "tenant `{segment}` is not a GUID, `common`, `organizations`, `consumers` or a registered domain"
                    )
                }),
        }
    }
}

impl TestProviderBuilder {
    /// Makes the provider behave like Microsoft Entra ID; see [`EntraMode`].
    pub fn entra(mut self, mode: EntraMode) -> Self {
        self.entra = Some(mode);
        self
    }
}

impl TestUser {
    /// Sets the user's Entra ID tenant (`tid`), for
    /// [Entra mode](EntraMode); without it the user is in the home tenant.
    pub fn tenant(self, tid: impl Into<String>) -> Self {
        self.claim("tid", json!(tid.into()))
    }

    /// Sets the user's Entra ID object id (`oid`), for [Entra mode](EntraMode).
    pub fn object_id(self, oid: impl Into<String>) -> Self {
        self.claim("oid", json!(oid.into()))
    }

    /// Sets the user's app roles (the `roles` claim), as Entra ID sends the
    /// app roles assigned to the user.
    pub fn app_roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.claim("roles", json!(roles))
    }
}

impl TestProvider {
    /// The Entra ID authority: the provider's base URL
    /// (`http://127.0.0.1:<port>`), for
    /// [`ConfigBuilder::entra_authority`](crate::ConfigBuilder::entra_authority).
    pub fn entra_authority(&self) -> &str {
        &self.shared.issuer
    }

    /// The Microsoft Graph base URL: the provider's base URL, for
    /// [`ConfigBuilder::graph_url`](crate::ConfigBuilder::graph_url).
    pub fn graph_url(&self) -> &str {
        &self.shared.issuer
    }

    /// The issuer of `tenant`'s tokens: `<base>/<tenant>/v2.0`.
    pub fn entra_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.shared.issuer)
    }

    /// The metadata URL of `tenant` (a GUID, a registered domain, `common`
    /// or `organizations`): `<base>/<tenant>/v2.0/.well-known/openid-configuration`.
    pub fn entra_metadata_url(&self, tenant: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.entra_issuer(tenant)
        )
    }

    /// How many requests reached the Microsoft Graph endpoints.
    pub fn graph_requests(&self) -> usize {
        self.shared.graph_requests.load(Ordering::SeqCst)
    }

    /// The `securityEnabledOnly` of the last `getMemberObjects` request
    /// that got past authorization: `None` before the first, or when that
    /// request had no boolean `securityEnabledOnly` (it was answered `400`).
    pub fn last_security_enabled_only(&self) -> Option<bool> {
        *lock(&self.shared.security_enabled_only)
    }
}

impl Shared {
    /// The `iss` of `user`'s tokens (and of the authorization response).
    pub(super) fn token_issuer(&self, user: &TestUser) -> String {
        match &self.entra {
            Some(mode) if mode.version1 => v1_issuer(&tenant_of(mode, user)),
            Some(mode) => format!("{}/{}/v2.0", self.issuer, tenant_of(mode, user)),
            None => self.issuer.clone(),
        }
    }
}

/// The issuer of Entra ID's version 1.0 tokens for `tenant`.
fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// The tenant of the provider's own clients (a daemon's tokens).
pub(super) fn home_tenant(mode: &EntraMode) -> &str {
    &mode.tenant
}

pub(super) fn tenant_of(mode: &EntraMode, user: &TestUser) -> String {
    match user.extra_claims().get("tid") {
        Some(Value::String(tid)) => tid.clone(),
        _ => mode.tenant.clone(),
    }
}

/// A GUID made from the user's `sub`, as the default `oid`.
pub(super) fn object_id_of(user: &TestUser) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, user.sub().as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn is_overage(mode: &EntraMode, user: &TestUser) -> bool {
    user.group_ids().len() > mode.overage_limit
}

/// Adds the Entra claims to an ID token's claims, and applies the Entra
/// misbehaviours. `iss` was set already.
pub(super) fn decorate(
    shared: &Shared,
    mode: &EntraMode,
    user: &TestUser,
    active: &[Misbehavior],
    claims: &mut Map<String, Value>,
) {
    let mut tid = tenant_of(mode, user);
    claims.insert("tid".into(), json!(tid));
    if !claims.contains_key("oid") {
        claims.insert("oid".into(), json!(object_id_of(user)));
    }
    claims.insert("ver".into(), json!("2.0"));
    if is_overage(mode, user) {
        overage_marker(shared, mode, &tid, user, claims);
    }
    for misbehavior in active {
        match misbehavior {
            Misbehavior::EntraTokenForTenant(other) => {
                tid = other.clone();
                claims.insert("tid".into(), json!(tid));
                claims.insert("iss".into(), json!(format!("{}/{tid}/v2.0", shared.issuer)));
            }
            Misbehavior::EntraIssuerForTenant(other) => {
                claims.insert(
                    "iss".into(),
                    json!(format!("{}/{other}/v2.0", shared.issuer)),
                );
            }
            _ => {}
        }
    }
    if mode.version1 || active.contains(&Misbehavior::EntraV1Token) {
        claims.insert("ver".into(), json!("1.0"));
        claims.insert("iss".into(), json!(v1_issuer(&tid)));
    }
}

fn overage_marker(
    shared: &Shared,
    mode: &EntraMode,
    tid: &str,
    user: &TestUser,
    claims: &mut Map<String, Value>,
) {
    claims.remove("groups");
    match mode.overage_form {
        OverageForm::ClaimSources => {
            claims.insert("_claim_names".into(), json!({"groups": "src1"}));
            let oid = match claims.get("oid") {
                Some(Value::String(oid)) => oid.clone(),
                _ => object_id_of(user),
            };
            claims.insert(
                "_claim_sources".into(),
                json!({"src1": {"endpoint": format!(
                    "{}/{tid}/users/{oid}/getMemberObjects", shared.issuer
                )}}),
            );
        }
        OverageForm::HasGroups => {
            claims.insert("hasgroups".into(), json!(true));
        }
    }
}

/// Userinfo in Entra mode: a user in overage has no `groups` there either.
pub(super) fn userinfo_claims(shared: &Shared, user: &TestUser, claims: &mut Map<String, Value>) {
    if let Some(mode) = &shared.entra
        && is_overage(mode, user)
    {
        claims.remove("groups");
    }
}

/// The Entra routes: tenant metadata and Microsoft Graph.
pub(super) fn routes() -> Router<std::sync::Arc<Shared>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(tenant_metadata),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(tenant_metadata_v1),
        )
        .route("/v1.0/me/transitiveMemberOf", get(transitive_member_of))
        .route("/v1.0/me/getMemberObjects", post(get_member_objects))
}

async fn tenant_metadata(state: AppState, segment: Path<String>) -> Response {
    metadata_of(state, segment, false)
}

async fn tenant_metadata_v1(state: AppState, segment: Path<String>) -> Response {
    metadata_of(state, segment, true)
}

/// A tenant's metadata, version 2.0 or 1.0.
fn metadata_of(State(shared): AppState, Path(segment): Path<String>, version1: bool) -> Response {
    let Some(mode) = &shared.entra else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let resolved = mode.resolve(&segment);
    let single = matches!(resolved, Ok(Some(_)));
    let issuer = match resolved {
        Ok(Some(tenant)) if version1 => v1_issuer(&tenant),
        Ok(None) if version1 => v1_issuer("{tenantid}"),
        Ok(Some(tenant)) => format!("{}/{tenant}/v2.0", shared.issuer),
        Ok(None) => format!("{}/{{tenantid}}/v2.0", shared.issuer),
        Err(reason) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_tenant", "error_description": reason}),
            );
        }
    };
    let issuer = if shared.is(&Misbehavior::WrongIssuerInMetadata) {
        format!("{issuer}/wrong-issuer")
    } else {
        issuer
    };
    let mut document = discovery_document(&shared, &issuer);
    if let Some(claims) = document["claims_supported"].as_array_mut() {
        claims.extend([json!("tid"), json!("oid"), json!("ver"), json!("roles")]);
    }
    // Entra ID's own members, which recognise it.
    let msgraph_host = shared
        .find(|m| match m {
            Misbehavior::EntraGraphHost(host) => Some(host.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "graph.microsoft.com".to_owned());
    document["cloud_instance_name"] = json!("microsoftonline.com");
    document["cloud_graph_host_name"] = json!("graph.windows.net");
    document["msgraph_host"] = json!(msgraph_host);
    document["tenant_region_scope"] = if single { json!("EU") } else { Value::Null };
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}

/// A Graph error body: `{"error": {"code", "message"}}`.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Why Graph refuses a request.
enum GraphRefusal {
    Unauthorized(&'static str),
    Forbidden,
}

impl IntoResponse for GraphRefusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized(message) => graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            ),
            Self::Forbidden => graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        }
    }
}

/// The user whose access token is in the `Authorization` header, if it may
/// read groups.
fn graph_user(shared: &Shared, headers: &HeaderMap) -> Result<Arc<TestUser>, GraphRefusal> {
    shared.graph_requests.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let unauthorized = GraphRefusal::Unauthorized;
    let Some(token) = token else {
        return Err(unauthorized("Access token is empty."));
    };
    let (user, scope) = {
        let grants = lock(&shared.grants);
        match grants.access.get(&token) {
            None => return Err(unauthorized("Access token validation failure.")),
            Some(grant) if grant.expires <= Instant::now() => {
                return Err(unauthorized(
                    "Lifetime validation failed, the token is expired.",
                ));
            }
            Some(grant) => (grant.user.clone(), grant.scope.clone()),
        }
    };
    let consented = scope
        .split(' ')
        .any(|s| GROUP_SCOPES.iter().any(|g| g.eq_ignore_ascii_case(s)));
    if shared.is(&Misbehavior::GraphForbidden) || !consented {
        return Err(GraphRefusal::Forbidden);
    }
    Ok(user)
}

async fn transitive_member_of(
    State(shared): AppState,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let user = match graph_user(&shared, &headers) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(message) => return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let Some(mode) = &shared.entra else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let start: usize = match params.get("$skiptoken").map(str::parse).transpose() {
        Ok(start) => start.unwrap_or(0),
        Err(_) => {
            return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid $skiptoken.");
        }
    };
    let size = params
        .get("$top")
        .and_then(|top| top.parse::<usize>().ok())
        .map_or(mode.graph_page_size, |top| {
            top.clamp(1, mode.graph_page_size)
        });
    let groups = user.group_ids();
    let end = groups.len().min(start.saturating_add(size));
    let page: Vec<Value> = groups
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|id| json!({"@odata.type": "#microsoft.graph.group", "id": id}))
        .collect();
    let origin = shared
        .find(|m| match m {
            Misbehavior::GraphForeignNextLink(origin) => Some(origin.clone()),
            _ => None,
        })
        .unwrap_or_else(|| shared.issuer.clone());
    let next = if shared.is(&Misbehavior::GraphEndlessPages) {
        Some(start)
    } else {
        (end < groups.len()).then_some(end)
    };
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#directoryObjects(id)", shared.issuer),
        "value": page,
    });
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(format!(
            "{origin}/v1.0/me/transitiveMemberOf?$select=id&$top={size}&$skiptoken={next}"
        ));
    }
    json_response(StatusCode::OK, &body)
}

async fn get_member_objects(State(shared): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let user = match graph_user(&shared, &headers) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let security_enabled_only = request
        .as_ref()
        .and_then(|r| r.get("securityEnabledOnly"))
        .and_then(Value::as_bool);
    *lock(&shared.security_enabled_only) = security_enabled_only;
    if security_enabled_only.is_none() {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The body must be a JSON object with a boolean `securityEnabledOnly`.",
        );
    }
    json_response(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}/v1.0/$metadata#Collection(Edm.String)", shared.issuer),
            "value": user.group_ids(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_resolve_like_entra() {
        let mode = EntraMode::new("3C1A0F6E-0000-4000-8000-000000000001").domain(
            "Contoso.onmicrosoft.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        );
        assert_eq!(mode.tenant(), "3c1a0f6e-0000-4000-8000-000000000001");
        assert_eq!(mode.resolve("organizations"), Ok(None));
        assert_eq!(mode.resolve("Common"), Ok(None));
        assert_eq!(
            mode.resolve("consumers"),
            Ok(Some(CONSUMER_TENANT.to_owned()))
        );
        assert_eq!(
            mode.resolve("contoso.onmicrosoft.com"),
            Ok(Some("72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned()))
        );
        assert!(mode.resolve("fabrikam.com").is_err());
    }

    #[test]
    fn object_ids_are_stable_guids() {
        let oid = object_id_of(&TestUser::alice());
        assert!(crate::issuer::is_guid(&oid), "{oid}");
        assert_eq!(oid, object_id_of(&TestUser::alice()));
        assert_ne!(oid, object_id_of(&TestUser::bob()));
    }
}
