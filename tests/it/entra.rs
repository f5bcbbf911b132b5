//! Microsoft Entra ID against the embedded provider in Entra mode: tenant
//! issuers, the multi-tenant `{tenantid}` template and its tenant policy,
//! version 1.0 tokens, app roles, and the groups overage read from
//! Microsoft Graph (with paging), including every refusal.

use crate::common;

use common::*;
use oidc_login::testing::{EntraMode, Misbehavior, OverageForm, TestProvider, TestUser};
use oidc_login::{
    CallbackError, Client, ClientAuth, Config, ConfigBuilder, DiscoveryError, EntraVersion, Error,
    GraphFailure, GraphQuery, GraphTrigger, GroupsError, GroupsSource, Recognition, RoleMapping,
    Source, TenantPolicy, TenantScope, TokenError,
};

const HOME: &str = "3c1a0f6e-0000-4000-8000-000000000001";
const PARTNER: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const STRANGER: &str = "0b5e1c1d-2222-4a3b-9c55-00000000beef";
/// The group the overage user's role comes from: on Graph's third page.
const DEEP_GROUP: &str = "00000000-0000-4000-8000-000000000230";

fn many_groups() -> Vec<String> {
    (0..250)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect()
}

/// Alice and Bob (home tenant), Pat (partner tenant), Sam (a stranger's tenant),
/// Olga (home, in 250 groups: overage) and Ann (home, app role `Approver`).
fn users() -> Vec<TestUser> {
    vec![
        TestUser::alice(),
        TestUser::bob(),
        TestUser::new("pat-sub-0004", "pat")
            .email("pat@partner.example")
            .tenant(PARTNER)
            .object_id("11111111-2222-4333-8444-555555555555"),
        TestUser::new("sam-sub-0005", "sam").tenant(STRANGER),
        TestUser::new("olga-sub-0006", "olga").groups(many_groups()),
        TestUser::new("ann-sub-0007", "ann").app_roles(["Approver", "Reader"]),
    ]
}

async fn entra_provider(mode: EntraMode, iss_parameter: bool) -> TestProvider {
    let mut builder = TestProvider::builder()
        .entra(mode)
        .iss_parameter(iss_parameter);
    for user in users() {
        builder = builder.user(user);
    }
    builder.start().await
}

async fn home_provider() -> TestProvider {
    entra_provider(EntraMode::new(HOME), true).await
}

/// The config of `tenant` at the embedded provider, in `form`, for its
/// default client.
fn entra_config(form: EntraForm, provider: &TestProvider, tenant: &str) -> ConfigBuilder {
    form.builder(provider, tenant)
}

/// Runs a test once per config form ([`EntraForm`]): as
/// `<name>::entra_table` and `<name>::metadata_url`.
macro_rules! both_forms {
    ($(#[$meta:meta])* async fn $name:ident($form:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($form: EntraForm) $body

            #[tokio::test]
            async fn entra_table() {
                run(EntraForm::Table).await
            }

            #[tokio::test]
            async fn metadata_url() {
                run(EntraForm::MetadataUrl).await
            }
        }
    };
}

fn graph_scopes(builder: ConfigBuilder) -> ConfigBuilder {
    builder.scopes(["openid", "profile", "email", "GroupMember.Read.All"])
}

fn organizations(form: EntraForm, provider: &TestProvider, policy: TenantPolicy) -> ConfigBuilder {
    entra_config(form, provider, "organizations").entra_tenants(policy)
}

fn only(tenants: &[&str]) -> TenantPolicy {
    TenantPolicy::Only(tenants.iter().map(|t| t.to_string()).collect())
}

fn token_error(err: Error) -> TokenError {
    match err {
        Error::Token(e) => e,
        other => panic!("expected a token error, got {other:?}"),
    }
}

fn graph_error(err: Error) -> (GraphTrigger, GraphFailure, String) {
    let message = err.to_string();
    match err {
        Error::Groups(GroupsError::Graph { trigger, failure }) => (trigger, failure, message),
        other => panic!("expected a Graph failure, got {other:?}"),
    }
}

// --- single tenant ---

both_forms! {
async fn single_tenant_login_with_tid_and_oid(form) {
    let provider = home_provider().await;
    let client = client_with(
        entra_config(form, &provider, HOME).add_role_mapping(RoleMapping::new(
            "Devs",
            Source::OpenIdConnect,
            ALICE_GROUP,
            ["Read-write"],
        )),
    )
    .await;
    assert_eq!(client.issuer(), provider.entra_issuer(HOME));
    let entra = client.entra().expect("Entra ID");
    let by = match form {
        EntraForm::Table => Recognition::EntraTable,
        EntraForm::MetadataUrl => Recognition::Metadata,
    };
    assert_eq!(entra.recognised_by, by);
    assert_eq!(entra.version, EntraVersion::V2);
    assert_eq!(entra.cloud_instance_name.as_deref(), Some("microsoftonline.com"));
    assert_eq!(entra.graph_url.as_ref().map(|u| u.as_str().trim_end_matches('/')), Some(provider.graph_url()));
    let login = login_as(&client, "alice").await.unwrap();
    let id = &login.identity;
    assert_eq!(id.issuer, provider.entra_issuer(HOME));
    assert_eq!(id.subject, "alice-sub-0001");
    assert_eq!(id.username.as_deref(), Some("alice"));
    assert_eq!(id.claim("tid").and_then(|v| v.as_str()), Some(HOME));
    let oid = id.claim("oid").and_then(|v| v.as_str()).unwrap();
    assert_eq!(oid.len(), 36, "{oid}");
    assert_eq!(id.claim("ver").and_then(|v| v.as_str()), Some("2.0"));
    assert_eq!(id.groups, [ALICE_GROUP]);
    assert_eq!(id.roles, ["Read-write"]);
    assert_eq!(provider.graph_requests(), 0);
}
}

both_forms! {
async fn single_tenant_refuses_another_tenants_user(form) {
    // Without RFC 9207 `iss` (as real Entra), the token's issuer is refused.
    let provider = entra_provider(EntraMode::new(HOME), false).await;
    let client = client_with(entra_config(form, &provider, HOME)).await;
    let err = token_error(login_as(&client, "pat").await.unwrap_err());
    assert!(
        matches!(&err, TokenError::IssuerMismatch { expected, found }
            if *expected == provider.entra_issuer(HOME) && *found == provider.entra_issuer(PARTNER)),
        "{err}"
    );
    // With it, the callback is refused before the code is redeemed.
    let provider = home_provider().await;
    let client = client_with(entra_config(form, &provider, HOME)).await;
    let err = login_as(&client, "pat").await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::IssuerMismatch { .. })),
        "{err}"
    );
    assert_eq!(provider.token_requests(), 0);
}
}

both_forms! {
async fn a_tenant_domain_resolves_to_its_tenant_issuer(form) {
    let mode = EntraMode::new(HOME).domain("contoso.onmicrosoft.com", HOME);
    let provider = entra_provider(mode, true).await;
    let client = client_with(entra_config(form, &provider, "contoso.onmicrosoft.com")).await;
    assert_eq!(client.issuer(), provider.entra_issuer(HOME));
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.issuer, provider.entra_issuer(HOME));
}
}

// --- multi-tenant ---

both_forms! {
async fn multi_tenant_accepts_an_allowed_tenant(form) {
    let provider = home_provider().await;
    let client = client_with(organizations(form, &provider, only(&[HOME, PARTNER]))).await;
    // The pending login and the client keep the template.
    assert_eq!(
        client.issuer(),
        format!("{}/{{tenantid}}/v2.0", provider.entra_authority())
    );
    let login = login_as(&client, "pat").await.unwrap();
    assert_eq!(login.identity.issuer, provider.entra_issuer(PARTNER));
    assert_eq!(
        login.identity.claim("tid").and_then(|v| v.as_str()),
        Some(PARTNER)
    );
    assert_eq!(
        login.identity.claim("oid").and_then(|v| v.as_str()),
        Some("11111111-2222-4333-8444-555555555555")
    );
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.issuer, provider.entra_issuer(HOME));
}
}

both_forms! {
async fn multi_tenant_works_without_the_callback_iss(form) {
    // Real Entra ID sends no RFC 9207 `iss`: the token alone decides.
    let provider = entra_provider(EntraMode::new(HOME), false).await;
    let client = client_with(organizations(form, &provider, only(&[PARTNER]))).await;
    let login = login_as(&client, "pat").await.unwrap();
    assert_eq!(login.identity.issuer, provider.entra_issuer(PARTNER));
}
}

both_forms! {
async fn a_tenant_not_on_the_allow_list_is_refused(form) {
    // The token: `tid` not allowed.
    let provider = entra_provider(EntraMode::new(HOME), false).await;
    let client = client_with(organizations(form, &provider, only(&[HOME]))).await;
    let err = login_as(&client, "pat").await.unwrap_err();
    assert_eq!(err.code(), "tenant_not_allowed");
    let err = token_error(err);
    assert!(
        matches!(&err, TokenError::TenantNotAllowed { tenant } if tenant == PARTNER),
        "{err}"
    );
    assert!(err.to_string().contains("allowed_tenants"), "{err}");

    // The callback's `iss` names the tenant: refused before the exchange.
    let provider = home_provider().await;
    let client = client_with(organizations(form, &provider, only(&[HOME]))).await;
    let err = login_as(&client, "pat").await.unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::IssuerMismatch { .. })),
        "{err}"
    );
    assert_eq!(provider.token_requests(), 0);
}
}

both_forms! {
async fn a_token_for_a_tenant_not_allowed_is_refused(form) {
    // The provider issues a consistent, well-signed token for a stranger's
    // tenant to a user of an allowed one.
    let provider = entra_provider(EntraMode::new(HOME), false).await;
    let client = client_with(organizations(form, &provider, only(&[HOME, PARTNER]))).await;
    provider.misbehave(Misbehavior::EntraTokenForTenant(STRANGER.into()));
    let err = token_error(login_as(&client, "alice").await.unwrap_err());
    assert!(
        matches!(&err, TokenError::TenantNotAllowed { tenant } if tenant == STRANGER),
        "{err}"
    );
}
}

both_forms! {
async fn the_callback_iss_must_be_the_tokens_issuer(form) {
    // The callback names an allowed tenant (alice's), the token another
    // allowed one: a mix-up, refused after the exchange.
    let provider = home_provider().await;
    let client = client_with(organizations(form, &provider, only(&[HOME, PARTNER]))).await;
    provider.misbehave(Misbehavior::EntraTokenForTenant(PARTNER.into()));
    let err = login_as(&client, "alice").await.unwrap_err();
    assert!(
        matches!(&err, Error::Callback(CallbackError::IssuerMismatch { expected, found })
            if *expected == provider.entra_issuer(PARTNER) && *found == provider.entra_issuer(HOME)),
        "{err}"
    );
}
}

both_forms! {
async fn the_any_tenant_policy_accepts_every_tenant(form) {
    let provider = home_provider().await;
    let client =
        client_with(entra_config(form, &provider, "common").entra_tenants(TenantPolicy::AnyTenant)).await;
    for (user, tenant) in [("sam", STRANGER), ("pat", PARTNER), ("alice", HOME)] {
        let login = login_as(&client, user).await.unwrap();
        assert_eq!(login.identity.issuer, provider.entra_issuer(tenant));
    }
}
}

both_forms! {
async fn any_tenant_still_checks_the_issuer_against_the_tid(form) {
    let provider = home_provider().await;
    let client =
        client_with(entra_config(form, &provider, "common").entra_tenants(TenantPolicy::AnyTenant)).await;
    // `iss` names the partner's tenant, `tid` stays alice's.
    provider.misbehave(Misbehavior::EntraIssuerForTenant(PARTNER.into()));
    let err = token_error(login_as(&client, "alice").await.unwrap_err());
    assert!(
        matches!(&err, TokenError::IssuerMismatch { expected, found }
            if *expected == provider.entra_issuer(HOME) && *found == provider.entra_issuer(PARTNER)),
        "{err}"
    );
}
}

#[tokio::test]
async fn tenant_template_metadata_without_a_policy_is_refused_at_discovery() {
    let provider = home_provider().await;
    for tenant in ["organizations", "common"] {
        let config = Config::builder(provider.entra_metadata_url(tenant), CLIENT_ID)
            .redirect_uri(REDIRECT_URI)
            .build()
            .unwrap();
        let err = Client::discover(config).await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Discovery(DiscoveryError::TenantTemplateWithoutPolicy { published })
                    if published.ends_with("/{tenantid}/v2.0")
            ),
            "{err}"
        );
        assert!(err.to_string().contains("allowed_tenants"), "{err}");
    }
    // The preset refuses it even earlier, naming the setting.
    let err = entra_config(EntraForm::Table, &provider, "organizations")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("allowed_tenants"), "{err}");
}

both_forms! {
async fn a_policy_needs_the_template_in_the_metadata(form) {
    let provider = home_provider().await;
    provider.misbehave(Misbehavior::WrongIssuerInMetadata);
    let err = Client::discover(organizations(form, &provider, only(&[HOME])).build().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Discovery(DiscoveryError::IssuerMismatch { .. })),
        "{err}"
    );
}
}

// --- version 1.0 tokens ---

both_forms! {
async fn v1_tokens_are_refused_with_the_v2_advice(form) {
    let provider = home_provider().await;
    provider.misbehave(Misbehavior::EntraV1Token);
    let single = client_with(entra_config(form, &provider, HOME)).await;
    let multi = client_with(organizations(form, &provider, TenantPolicy::AnyTenant)).await;
    for client in [single, multi] {
        let err = token_error(login_as(&client, "alice").await.unwrap_err());
        assert!(
            matches!(&err, TokenError::EntraV1Token { issuer }
                if *issuer == format!("https://sts.windows.net/{HOME}/")),
            "{err}"
        );
        assert!(err.to_string().contains("v2.0"), "{err}");
    }
}
}

// --- app roles ---

both_forms! {
/// Review finding: with `allowed_tenants = [home, partner]`, the partner
/// tenant's admin assigns our app's `Admin` app role to one of their users
/// (mallory). An app-role row that names no tenant applies to the home
/// tenant only, so mallory does not get `Admin`; a row that names the
/// partner still counts there.
async fn a_partner_tenant_s_admin_cannot_grant_our_app_roles(form) {
    let mut builder = TestProvider::builder().entra(EntraMode::new(HOME));
    for user in [
        TestUser::new("mallory-sub-0008", "mallory")
            .tenant(PARTNER)
            .app_roles(["Admin", "Reader"]),
        TestUser::new("hana-sub-0009", "hana").app_roles(["Admin"]),
    ] {
        builder = builder.user(user);
    }
    let provider = builder.start().await;
    let rows = |builder: ConfigBuilder| {
        builder
            .add_role_mapping(RoleMapping::new(
                "Admins",
                Source::AppRole,
                "Admin",
                ["Admin"],
            ))
            .add_role_mapping(
                RoleMapping::new("Readers", Source::AppRole, "Reader", ["Read-only"])
                    .tenants([HOME, PARTNER]),
            )
    };
    let client = client_with(rows(
        organizations(form, &provider, only(&[HOME, PARTNER])).entra_home_tenant(HOME),
    ))
    .await;
    let hana = login_as(&client, "hana").await.unwrap();
    assert_eq!(hana.identity.roles, ["Admin"]);
    let mallory = login_as(&client, "mallory").await.unwrap();
    assert_eq!(
        mallory.identity.claim("tid").and_then(|v| v.as_str()),
        Some(PARTNER)
    );
    assert_eq!(mallory.identity.app_roles, ["Admin", "Reader"]);
    assert_eq!(
        mallory.identity.roles,
        ["Read-only"],
        "no Admin from the partner's admin"
    );

    // No home tenant among several: the app-role row is refused at build.
    let err = rows(organizations(form, &provider, only(&[HOME, PARTNER])))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("home_tenant"), "{err}");
    // Any tenant let in: the same.
    let err = rows(organizations(form, &provider, TenantPolicy::AnyTenant))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("home_tenant"), "{err}");
    // Trusting the partner's admins is possible, by name.
    let client = client_with(
        organizations(form, &provider, only(&[HOME, PARTNER])).add_role_mapping(
            RoleMapping::new("Admins anywhere", Source::AppRole, "Admin", ["Admin"]).any_tenant(),
        ),
    )
    .await;
    let mallory = login_as(&client, "mallory").await.unwrap();
    assert_eq!(mallory.identity.roles, ["Admin"]);
}
}

both_forms! {
async fn an_app_role_row_maps(form) {
    let provider = home_provider().await;
    let client = client_with(
        entra_config(form, &provider, HOME)
            .add_role_mapping(RoleMapping::new(
                "Approvers",
                Source::AppRole,
                "Approver",
                ["Approve"],
            ))
            .add_role_mapping(RoleMapping::new(
                "Devs",
                Source::OpenIdConnect,
                ALICE_GROUP,
                ["Read-write"],
            ))
            .no_role_policy(oidc_login::NoRolePolicy::Refuse),
    )
    .await;
    let login = login_as(&client, "ann").await.unwrap();
    assert_eq!(login.identity.app_roles, ["Approver", "Reader"]);
    assert_eq!(login.identity.roles, ["Approve"]);
    // A group row and an app role row are separate: alice has no app role.
    let login = login_as(&client, "alice").await.unwrap();
    assert!(login.identity.app_roles.is_empty());
    assert_eq!(login.identity.roles, ["Read-write"]);
    // Neither (bob's group has no row): refused by the no-role policy.
    let err = login_as(&client, "bob").await.unwrap_err();
    assert!(matches!(err, Error::Access(_)), "{err}");
}
}

// --- groups overage ---

both_forms! {
async fn overage_reads_the_groups_from_graph_across_pages(form) {
    let provider = home_provider().await;
    let client = client_with(
        graph_scopes(entra_config(form, &provider, HOME)).add_role_mapping(RoleMapping::new(
            "Deep",
            Source::OpenIdConnect,
            DEEP_GROUP,
            ["Operator"],
        )),
    )
    .await;
    let login = login_as(&client, "olga").await.unwrap();
    // The token had the overage marker, not the groups.
    assert!(login.identity.claim("groups").is_none());
    assert!(login.identity.claim("_claim_names").is_some());
    assert_eq!(login.identity.groups, many_groups());
    assert_eq!(login.identity.roles, ["Operator"]);
    // 250 groups, 100 per page.
    assert_eq!(provider.graph_requests(), 3);
}
}

both_forms! {
async fn overage_by_hasgroups_with_get_member_objects(form) {
    let mode = EntraMode::new(HOME).overage_form(OverageForm::HasGroups);
    let provider = entra_provider(mode, true).await;
    let client = client_with(
        graph_scopes(entra_config(form, &provider, HOME))
            .graph_query(GraphQuery::MemberObjects {
                security_enabled_only: true,
            })
            .add_role_mapping(RoleMapping::new(
                "Deep",
                Source::OpenIdConnect,
                DEEP_GROUP,
                ["Operator"],
            )),
    )
    .await;
    let login = login_as(&client, "olga").await.unwrap();
    assert_eq!(
        login.identity.claim("hasgroups"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(login.identity.groups.len(), 250);
    assert_eq!(login.identity.roles, ["Operator"]);
    assert_eq!(provider.graph_requests(), 1);
    assert_eq!(
        provider.last_security_enabled_only(),
        Some(true),
        "the configured `securityEnabledOnly` reached Graph"
    );
}
}

both_forms! {
async fn graph_403_refuses_the_login_with_the_overage_and_consent_message(form) {
    let provider = home_provider().await;
    let client = client_with(graph_scopes(entra_config(form, &provider, HOME))).await;
    provider.misbehave(Misbehavior::GraphForbidden);
    let err = login_as(&client, "olga").await.unwrap_err();
    assert_eq!(err.code(), "groups_unavailable");
    let (trigger, failure, message) = graph_error(err);
    assert_eq!(trigger, GraphTrigger::Overage);
    assert!(matches!(failure, GraphFailure::Forbidden), "{failure:?}");
    assert!(message.contains("overage"), "{message}");
    assert!(message.contains("403"), "{message}");
    assert!(message.contains("GroupMember.Read.All"), "{message}");
}
}

both_forms! {
async fn without_the_graph_scope_the_overage_login_is_refused_too(form) {
    // No misbehaviour: the access token lacks GroupMember.Read.All.
    let provider = home_provider().await;
    let client = client_with(entra_config(form, &provider, HOME)).await;
    let (_, failure, _) = graph_error(login_as(&client, "olga").await.unwrap_err());
    assert!(matches!(failure, GraphFailure::Forbidden), "{failure:?}");
}
}

both_forms! {
async fn a_graph_next_link_to_another_host_is_not_followed(form) {
    let provider = home_provider().await;
    // The other host: a second provider with Graph endpoints, which must
    // never see the access token.
    let elsewhere = entra_provider(EntraMode::new(HOME), true).await;
    let client = client_with(graph_scopes(entra_config(form, &provider, HOME))).await;
    provider.misbehave(Misbehavior::GraphForeignNextLink(
        elsewhere.graph_url().to_owned(),
    ));
    let (_, failure, message) = graph_error(login_as(&client, "olga").await.unwrap_err());
    assert!(
        matches!(&failure, GraphFailure::ForeignNextLink { link, .. } if link.starts_with(elsewhere.graph_url())),
        "{failure:?}"
    );
    assert!(message.contains("not followed"), "{message}");
    assert_eq!(provider.graph_requests(), 1);
    assert_eq!(elsewhere.graph_requests(), 0);
}
}

both_forms! {
async fn graph_paging_is_bounded(form) {
    let provider = home_provider().await;
    let client = client_with(graph_scopes(entra_config(form, &provider, HOME))).await;
    provider.misbehave(Misbehavior::GraphEndlessPages);
    let (_, failure, _) = graph_error(login_as(&client, "olga").await.unwrap_err());
    assert!(
        matches!(failure, GraphFailure::TooManyPages { limit: 50 }),
        "{failure:?}"
    );
    assert_eq!(provider.graph_requests(), 50);
}
}

both_forms! {
async fn groups_source_token_refuses_an_overage_instead_of_no_groups(form) {
    let provider = home_provider().await;
    let client =
        client_with(graph_scopes(entra_config(form, &provider, HOME)).groups_source(GroupsSource::Token))
            .await;
    let err = login_as(&client, "olga").await.unwrap_err();
    assert!(
        matches!(err, Error::Groups(GroupsError::OverageUnresolved { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("groups_source"), "{err}");
    assert_eq!(provider.graph_requests(), 0);
    // Users without overage sign in from the token.
    assert!(login_as(&client, "alice").await.is_ok());
}
}

both_forms! {
/// Entra ID issues refresh tokens for `offline_access` without
/// `prompt=consent`, and would show its consent screen at every sign-in
/// with it: no automatic prompt, for either form (a generic provider gets
/// one, `offline_access_is_sent_with_prompt_consent` in `refresh.rs`).
async fn no_automatic_consent_prompt_to_entra(form) {
    let provider = home_provider().await;
    let client = client_with(
        entra_config(form, &provider, HOME)
            .scopes(["openid", "email", "profile", "GroupMember.Read.All", "offline_access"]),
    )
    .await;
    let (url, _) = client.start(oidc_login::Start::default()).unwrap();
    assert!(!url.query_pairs().any(|(k, _)| k == "prompt"), "{url}");
    let (url, _) = client
        .start(oidc_login::Start::default().prompt("select_account"))
        .unwrap();
    assert!(
        url.query_pairs().any(|(k, v)| k == "prompt" && v == "select_account"),
        "{url}"
    );
    let login = login_as(&client, "alice").await.unwrap();
    assert!(login.tokens.refresh_token.is_some());
}
}

/// Pexip's form: Entra's metadata URL in a generic config, recognised from
/// the document, reads an overage from Graph like the `entra` table
/// (`overage_reads_the_groups_from_graph_across_pages` runs both forms).
/// Here what it must never do: send the user's access token to a Graph the
/// metadata names (`msgraph_host`), or anywhere at all when the config has
/// no `graph_url` and the metadata did not come from Microsoft.
#[tokio::test]
async fn a_recognised_provider_s_graph_is_never_taken_from_its_metadata() {
    let provider = home_provider().await;
    // Another server with Graph endpoints, which must never see a token.
    let elsewhere = entra_provider(EntraMode::new(HOME), true).await;
    provider.misbehave(Misbehavior::EntraGraphHost(
        elsewhere
            .graph_url()
            .trim_start_matches("http://")
            .to_owned(),
    ));
    let client = client_with(graph_scopes(
        Config::builder(provider.entra_metadata_url(HOME), CLIENT_ID)
            .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
            .redirect_uri(REDIRECT_URI),
    ))
    .await;
    let entra = client.entra().expect("recognised as Entra ID");
    assert_eq!(entra.recognised_by, Recognition::Metadata);
    assert_eq!(entra.graph_url, None);
    assert!(entra.to_string().contains("graph_url"), "{entra}");
    let err = login_as(&client, "olga").await.unwrap_err();
    assert!(
        matches!(err, Error::Groups(GroupsError::OverageUnresolved { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("`graph_url`"), "{err}");
    assert_eq!(provider.graph_requests(), 0);
    assert_eq!(elsewhere.graph_requests(), 0);
    // Users without an overage sign in.
    assert!(login_as(&client, "alice").await.is_ok());
}

/// A provider that is not Entra ID (no Entra metadata), whose token carries
/// an overage marker anyway: refused, never signed in with no groups.
#[tokio::test]
async fn a_generic_provider_s_overage_is_refused() {
    let provider = TestProvider::builder()
        .user(
            TestUser::new("gus-sub-0010", "gus")
                .claim("_claim_names", serde_json::json!({"groups": "src1"})),
        )
        .start()
        .await;
    let builder = config_builder(&provider).scopes(["openid", "email", "GroupMember.Read.All"]);
    let client = client_with(builder).await;
    assert!(client.entra().is_none());
    let err = login_as(&client, "gus").await.unwrap_err();
    assert!(
        matches!(err, Error::Groups(GroupsError::OverageUnresolved { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("not recognised as Microsoft Entra ID"),
        "{err}"
    );
    // Entra settings for a provider that is not Entra ID: refused at discovery.
    let err = Client::discover(
        config_builder(&provider)
            .graph_url(provider.url("/graph"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Discovery(DiscoveryError::EntraSetting {
                setting: "graph_url",
                ..
            })
        ),
        "{err}"
    );
}

/// Version 1.0 metadata (`<authority>/<tenant>/.well-known/openid-configuration`,
/// issuer `https://sts.windows.net/<tenant>/`) leads to version 1.0 tokens:
/// recognised at discovery, every login refused by name with the advice.
#[tokio::test]
async fn version_1_metadata_is_recognised_and_its_tokens_refused() {
    let provider = entra_provider(EntraMode::new(HOME).version1_tokens(), false).await;
    let metadata_url = format!(
        "{}/{HOME}/.well-known/openid-configuration",
        provider.entra_authority()
    );
    let client = client_with(
        Config::builder(metadata_url, CLIENT_ID)
            .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
            .redirect_uri(REDIRECT_URI),
    )
    .await;
    let v1_issuer = format!("https://sts.windows.net/{HOME}/");
    assert_eq!(client.issuer(), v1_issuer);
    let entra = client.entra().expect("recognised as Entra ID");
    assert_eq!(entra.version, EntraVersion::V1);
    assert_eq!(entra.tenant_region_scope.as_deref(), Some("EU"));
    let err = token_error(login_as(&client, "alice").await.unwrap_err());
    assert!(
        matches!(&err, TokenError::EntraV1Token { issuer } if *issuer == v1_issuer),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("/v2.0/.well-known/openid-configuration"),
        "{err}"
    );
    // Its multi-tenant form, with a tenant policy: refused the same way.
    let multi = format!(
        "{}/organizations/.well-known/openid-configuration",
        provider.entra_authority()
    );
    let err = Client::discover(
        Config::builder(multi, CLIENT_ID)
            .redirect_uri(REDIRECT_URI)
            .build()
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Discovery(DiscoveryError::TenantTemplateWithoutPolicy { .. })
        ),
        "{err}"
    );
}

both_forms! {
async fn groups_source_graph_reads_graph_on_every_login(form) {
    let provider = home_provider().await;
    let client =
        client_with(graph_scopes(entra_config(form, &provider, HOME)).groups_source(GroupsSource::Graph))
            .await;
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.groups, [ALICE_GROUP]);
    assert_eq!(provider.graph_requests(), 1);
    provider.misbehave(Misbehavior::GraphForbidden);
    let (trigger, _, message) = graph_error(login_as(&client, "alice").await.unwrap_err());
    assert_eq!(trigger, GraphTrigger::Configured);
    assert!(message.contains("groups_source"), "{message}");
}
}

both_forms! {
async fn the_implicit_flow_cannot_resolve_an_overage_and_says_so(form) {
    // Entra's implicit flow marks the overage with `hasgroups`, and returns
    // no access token to read Graph with.
    let mut builder = TestProvider::builder()
        .entra(EntraMode::new(HOME).overage_form(OverageForm::HasGroups))
        .client(
            oidc_login::testing::TestClient::confidential(
                CLIENT_ID,
                CLIENT_SECRET,
                oidc_login::testing::TestClientAuth::Basic,
            )
            .allow_implicit(),
        );
    for user in users() {
        builder = builder.user(user);
    }
    let provider = builder.start().await;
    let client =
        client_with(graph_scopes(entra_config(form, &provider, HOME)).insecure_implicit_flow()).await;
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.issuer, provider.entra_issuer(HOME));
    let err = login_as(&client, "olga").await.unwrap_err();
    assert!(
        matches!(err, Error::Groups(GroupsError::OverageUnresolved { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("implicit"), "{err}");
    assert_eq!(provider.graph_requests(), 0);
}
}

// --- the example configs ---

/// The embedded provider in Entra mode for `HOME` with the example
/// configs' client (its id, `example-secret`) and the tests' users.
async fn example_provider() -> TestProvider {
    let registration = oidc_login::testing::TestClient::confidential(
        "6731de76-14a6-49ae-97bc-6eba6914391e",
        "example-secret",
        oidc_login::testing::TestClientAuth::Basic,
    );
    let mut builder = TestProvider::builder()
        .entra(EntraMode::new(HOME))
        .client(registration);
    for user in users() {
        builder = builder.user(user);
    }
    builder.start().await
}

/// An example config pointed at the embedded provider: the authority and
/// Graph moved to it, the secret inline, a loopback redirect URI.
fn example_at(path: &str, provider: &TestProvider) -> Config {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text
        .replacen(
            "entra = {",
            &format!(
                "entra = {{ authority = \"{}\", graph_url = \"{}\",",
                provider.entra_authority(),
                provider.graph_url()
            ),
            1,
        )
        .replace(
            "client_secret_env = \"OIDC_LOGIN_ENTRA_SECRET\"",
            "client_secret = \"example-secret\"",
        );
    let redirect = text
        .lines()
        .find_map(|l| l.strip_prefix("redirect_uri = "))
        .unwrap()
        .to_owned();
    let text = text.replace(
        &format!("redirect_uri = {redirect}"),
        &format!("redirect_uri = \"{REDIRECT_URI}\""),
    );
    // Post-logout URIs must share the redirect URI's origin.
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("post_logout_redirect_uris = ") {
                "post_logout_redirect_uris = [\"http://127.0.0.1:9/logged-out\"]".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_example_configs_load() {
    let pexip = Config::from_file("examples/entra-pexip.toml").unwrap_err();
    assert!(
        pexip.to_string().contains("OIDC_LOGIN_ENTRA_SECRET"),
        "{pexip}"
    );
    let single = Config::from_file("examples/entra-single-tenant.toml");
    // The secret comes from an environment variable that tests do not set.
    let err = single.unwrap_err().to_string();
    assert!(err.contains("OIDC_LOGIN_ENTRA_SECRET"), "{err}");
    let multi = Config::from_file("examples/entra-multi-tenant.toml").unwrap_err();
    assert!(
        multi.to_string().contains("OIDC_LOGIN_ENTRA_SECRET"),
        "{multi}"
    );
}

#[tokio::test]
async fn the_example_configs_sign_in_against_the_embedded_provider() {
    let provider = example_provider().await;

    // Single tenant: a group row and an app role row.
    let config = example_at("examples/entra-single-tenant.toml", &provider);
    assert_eq!(config.entra_tenant(), Some(HOME));
    let client = Client::discover(config).await.unwrap();
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-write"]);
    let login = login_as(&client, "ann").await.unwrap();
    assert_eq!(login.identity.roles, ["Approve", "Read-only"]);
    // Overage: read from Graph (the example asks for GroupMember.Read.All);
    // no row matches olga's groups, and the example refuses a login with no role.
    let err = login_as(&client, "olga").await.unwrap_err();
    assert!(matches!(err, Error::Access(_)), "{err}");
    assert_eq!(provider.graph_requests(), 3);

    // Multi-tenant with an allow-list.
    let config = example_at("examples/entra-multi-tenant.toml", &provider);
    assert_eq!(
        config.tenant_policy(),
        Some(&TenantPolicy::Only(vec![HOME.into(), PARTNER.into()]))
    );
    // The `Admin` row counts for the home tenant only; `Reader` for both.
    assert_eq!(config.entra_home_tenant(), Some(HOME));
    let scopes: Vec<_> = config
        .role_mapping()
        .iter()
        .map(|row| row.tenant_scope().clone())
        .collect();
    assert_eq!(
        scopes,
        [
            TenantScope::Only(vec![HOME.into()]),
            TenantScope::Only(vec![HOME.into(), PARTNER.into()]),
        ]
    );
    let client = Client::discover(config).await.unwrap();
    assert!(login_as(&client, "pat").await.is_ok());
    let login = login_as(&client, "ann").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-only"]);
    let err = login_as(&client, "sam").await.unwrap_err();
    assert!(matches!(err, Error::Callback(_)), "{err}");
}

/// Pexip's form (`examples/entra-pexip.toml`): a plain metadata URL, no
/// `entra` table; Graph given on loopback, as the embedded provider is not
/// Microsoft's host.
#[tokio::test]
async fn the_pexip_example_signs_in_with_the_overage_read_from_graph() {
    let provider = example_provider().await;
    let text = std::fs::read_to_string("examples/entra-pexip.toml")
        .unwrap()
        .replace(
            "https://login.microsoftonline.com",
            provider.entra_authority(),
        )
        .replace(
            "client_secret_env = \"OIDC_LOGIN_ENTRA_SECRET\"",
            &format!(
                "client_secret = \"example-secret\"\ngraph_url = \"{}\"",
                provider.graph_url()
            ),
        )
        .replace(
            "\"https://pexip.example.com/auth/callback\"",
            &format!("\"{REDIRECT_URI}\""),
        );
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.entra_tenant(), None);
    let client = Client::discover(config).await.unwrap();
    assert_eq!(
        client.entra().map(|e| e.recognised_by),
        Some(Recognition::Metadata)
    );
    let login = login_as(&client, "alice").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-write"]);
    // The overage: 250 groups read from Graph, the row on the third page.
    let login = login_as(&client, "olga").await.unwrap();
    assert_eq!(login.identity.roles, ["Read-only"]);
    assert_eq!(provider.graph_requests(), 3);
    // No role: refused, as the example says.
    let err = login_as(&client, "bob").await.unwrap_err();
    assert!(matches!(err, Error::Access(_)), "{err}");
}

// --- the embedded provider's Entra mode itself ---

#[tokio::test]
async fn the_embedded_provider_serves_tenant_metadata_and_guards_graph() {
    let provider = home_provider().await;
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).send();
    let doc: serde_json::Value = get(provider.entra_metadata_url("organizations"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["issuer"],
        format!("{}/{{tenantid}}/v2.0", provider.entra_authority())
    );
    let doc: serde_json::Value = get(provider.entra_metadata_url(PARTNER))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], provider.entra_issuer(PARTNER));
    let unknown = get(provider.entra_metadata_url("fabrikam.example"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);

    let graph = format!("{}/v1.0/me/transitiveMemberOf", provider.graph_url());
    assert_eq!(get(graph.clone()).await.unwrap().status(), 401);
    let bad_token = http.get(&graph).bearer_auth("not-a-token").send().await;
    assert_eq!(bad_token.unwrap().status(), 401);
    let member_objects = format!("{}/v1.0/me/getMemberObjects", provider.graph_url());
    let no_token = http
        .post(member_objects)
        .json(&serde_json::json!({"securityEnabledOnly": true}))
        .send()
        .await;
    assert_eq!(no_token.unwrap().status(), 401);
    assert_eq!(provider.graph_requests(), 3);

    // Outside Entra mode there is no Graph.
    let plain = TestProvider::start().await;
    let status = get(format!("{}/v1.0/me/transitiveMemberOf", plain.issuer()))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}
