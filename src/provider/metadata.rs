//! Provider metadata (OpenID Connect Discovery 1.0), read with
//! `openidconnect`'s document types and checked against the config.

use openidconnect::AdditionalProviderMetadata;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::algorithm::Algorithm;
use crate::config::{Config, Flow};
use crate::error::{DiscoveryError, Error, IssuerHint};
use crate::http::{HttpClient, is_secure_or_loopback};
use crate::issuer::{PLACEHOLDER, TenantTemplate, is_guid};

use super::recognise::{self, EntraDocument, EntraId, EntraVersion, Members};

/// Members `openidconnect`'s core type does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Extra {
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    /// RFC 7009 (token revocation), RFC 8414.
    #[serde(default)]
    revocation_endpoint: Option<String>,
    /// RFC 9207.
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
    /// Entra ID's own members, read for recognition only (any JSON type:
    /// an odd one fails recognition, not the document).
    #[serde(default)]
    cloud_instance_name: Option<serde_json::Value>,
    #[serde(default)]
    msgraph_host: Option<serde_json::Value>,
    #[serde(default)]
    tenant_region_scope: Option<serde_json::Value>,
}

impl AdditionalProviderMetadata for Extra {}

type Document = openidconnect::ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// What the crate uses of the provider's metadata, checked.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    /// Entra ID multi-tenant: `issuer` is this template, and the config has
    /// a tenant policy.
    pub(crate) tenant_template: Option<TenantTemplate>,
    pub(crate) authorization_endpoint: Url,
    pub(crate) token_endpoint: Url,
    pub(crate) userinfo_endpoint: Option<Url>,
    pub(crate) jwks_uri: Url,
    pub(crate) end_session_endpoint: Option<Url>,
    /// RFC 7009: where tokens are revoked at sign-out.
    pub(crate) revocation_endpoint: Option<Url>,
    /// The ID token algorithms accepted: the config's list, or the
    /// advertised asymmetric ones.
    pub(crate) signing_algorithms: Vec<Algorithm>,
    /// RFC 9207: the callback must carry `iss`.
    pub(crate) iss_parameter_supported: bool,
    /// Microsoft Entra ID, when the config's `entra` table or the document
    /// says so: the one decision every Entra rule reads.
    pub(crate) entra: Option<EntraId>,
}

impl Metadata {
    pub(crate) async fn fetch(config: &Config, http: &HttpClient) -> Result<Self, Error> {
        let body = http
            .get_json(
                "fetching the provider metadata from",
                config.metadata_url(),
                None,
            )
            .await?;
        Ok(Self::from_json(&body, config)?)
    }

    pub(crate) fn from_json(body: &[u8], config: &Config) -> Result<Self, DiscoveryError> {
        let document: Document =
            serde_json::from_slice(body).map_err(|e| DiscoveryError::InvalidDocument {
                document: "metadata",
                message: e.to_string(),
            })?;

        let published = document.issuer().as_str();
        let extra = document.additional_metadata();
        let recognised = recognise::recognise(
            config.metadata_url(),
            published,
            Members {
                cloud_instance_name: extra.cloud_instance_name.as_ref(),
                msgraph_host: extra.msgraph_host.as_ref(),
                tenant_region_scope: extra.tenant_region_scope.as_ref(),
            },
        );
        let tenant_template = match check_published_issuer(config, published, recognised.as_ref())?
        {
            PublishedIssuer::Exact => None,
            PublishedIssuer::Template(template) => Some(template),
            PublishedIssuer::Mismatch { expected } => {
                return Err(DiscoveryError::IssuerMismatch {
                    hint: issuer_hint(&expected, published),
                    configured: expected,
                    published: published.to_owned(),
                });
            }
        };

        let authorization_endpoint = checked_url(
            "authorization_endpoint",
            document.authorization_endpoint().as_str(),
        )?;
        let token_endpoint = document
            .token_endpoint()
            .ok_or(DiscoveryError::MissingField {
                field: "token_endpoint",
            })?;
        let token_endpoint = checked_url("token_endpoint", token_endpoint.as_str())?;
        let userinfo_endpoint = document
            .userinfo_endpoint()
            .map(|u| checked_url("userinfo_endpoint", u.as_str()))
            .transpose()?;
        let jwks_uri = checked_url("jwks_uri", document.jwks_uri().as_str())?;
        let end_session_endpoint = extra
            .end_session_endpoint
            .as_deref()
            .map(|u| checked_url("end_session_endpoint", u))
            .transpose()?;
        let revocation_endpoint = extra
            .revocation_endpoint
            .as_deref()
            .map(|u| checked_url("revocation_endpoint", u))
            .transpose()?;

        let (needed, name) = match config.flow() {
            Flow::Implicit => (CoreResponseType::IdToken, "id_token"),
            Flow::AuthorizationCodePkce | Flow::AuthorizationCode => {
                (CoreResponseType::Code, "code")
            }
        };
        let supported = document
            .response_types_supported()
            .iter()
            .any(|types| types.len() == 1 && types.first() == Some(&needed));
        if !supported {
            return Err(DiscoveryError::InvalidDocument {
                document: "metadata",
                message: format!(
                    "`response_types_supported` does not offer `{name}`, which `flow = \"{}\"` needs",
                    config.flow().as_str()
                ),
            });
        }
        if let Some(methods) = &extra.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            tracing::warn!(
                target: "oidc_login::provider",
                "the provider does not advertise PKCE `S256`; it is sent anyway, and a provider that ignores it is less protected against code injection"
            );
        }
        if let Some(methods) = document.token_endpoint_auth_methods_supported() {
            let ours = config.client_auth().method().as_str();
            if !methods.iter().any(|m| auth_method_name(m) == ours) {
                tracing::warn!(
                    target: "oidc_login::provider",
                    method = ours,
                    "the provider does not advertise this client's `auth_method`; the token exchange may be refused"
                );
            }
        }

        let advertised: Vec<Algorithm> = document
            .id_token_signing_alg_values_supported()
            .iter()
            .filter_map(algorithm_of)
            .collect();
        let signing_algorithms = match config.key_set().allowed_algorithms.as_deref() {
            Some(allowed) => {
                if !allowed.iter().any(|a| advertised.contains(a)) {
                    tracing::warn!(
                        target: "oidc_login::provider",
                        "none of `allowed_algorithms` is in the provider's `id_token_signing_alg_values_supported`; its ID tokens will be refused"
                    );
                }
                allowed.to_vec()
            }
            None => {
                let usable: Vec<Algorithm> =
                    advertised.into_iter().filter(|a| !a.is_hmac()).collect();
                if usable.is_empty() {
                    return Err(DiscoveryError::InvalidDocument {
                        document: "metadata",
                        message: "`id_token_signing_alg_values_supported` lists no supported asymmetric algorithm (RS*, PS*, ES*, EdDSA); set `allowed_algorithms` to accept HMAC".into(),
                    });
                }
                usable
            }
        };

        Ok(Self {
            issuer: published.to_owned(),
            tenant_template,
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
            jwks_uri,
            end_session_endpoint,
            revocation_endpoint,
            signing_algorithms,
            iss_parameter_supported: extra.authorization_response_iss_parameter_supported
                == Some(true),
            entra: recognise::decide(config, recognised.as_ref())?,
        })
    }
}

fn checked_url(field: &'static str, value: &str) -> Result<Url, DiscoveryError> {
    let url = Url::parse(value).map_err(|e| DiscoveryError::InvalidDocument {
        document: "metadata",
        message: format!("`{field}` is not a URL ({e})"),
    })?;
    if !is_secure_or_loopback(&url) {
        return Err(DiscoveryError::InsecureUrl {
            field,
            url: value.to_owned(),
        });
    }
    Ok(url)
}

fn issuer_hint(configured: &str, published: &str) -> IssuerHint {
    if configured.trim_end_matches('/') == published.trim_end_matches('/') {
        IssuerHint::TrailingSlash
    } else if configured.eq_ignore_ascii_case(published) {
        IssuerHint::Case
    } else {
        IssuerHint::None
    }
}

fn auth_method_name(method: &CoreClientAuthMethod) -> String {
    serde_json::to_value(method)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn algorithm_of(alg: &CoreJwsSigningAlgorithm) -> Option<Algorithm> {
    use CoreJwsSigningAlgorithm as C;
    Some(match alg {
        C::RsaSsaPkcs1V15Sha256 => Algorithm::RS256,
        C::RsaSsaPkcs1V15Sha384 => Algorithm::RS384,
        C::RsaSsaPkcs1V15Sha512 => Algorithm::RS512,
        C::RsaSsaPssSha256 => Algorithm::PS256,
        C::RsaSsaPssSha384 => Algorithm::PS384,
        C::RsaSsaPssSha512 => Algorithm::PS512,
        C::EcdsaP256Sha256 => Algorithm::ES256,
        C::EcdsaP384Sha384 => Algorithm::ES384,
        C::EcdsaP521Sha512 => Algorithm::ES512,
        C::EdDsa => Algorithm::EdDSA,
        C::HmacSha256 => Algorithm::HS256,
        C::HmacSha384 => Algorithm::HS384,
        C::HmacSha512 => Algorithm::HS512,
        _ => return None,
    })
}

// ----- the published issuer -------------------------------------------------

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

/// Checks the metadata's `issuer` against the config. `recognised`: the
/// document is Entra ID's by its own say, which lets a plain metadata URL
/// follow the `entra` table's issuer rules (a tenant policy with the
/// `{tenantid}` template, a domain resolved to its tenant id, and version
/// 1.0 metadata, whose tokens are then refused by name).
pub(crate) fn check_published_issuer(
    config: &Config,
    published: &str,
    recognised: Option<&EntraDocument>,
) -> Result<PublishedIssuer, DiscoveryError> {
    let entra = &config.entra;
    if let Some(preset) = &entra.preset
        && entra.tenants.is_some()
    {
        let expected = format!("{}/{PLACEHOLDER}/v2.0", preset.authority);
        return Ok(match TenantTemplate::new(published) {
            Some(template) if published == expected => PublishedIssuer::Template(template),
            _ => PublishedIssuer::Mismatch { expected },
        });
    }
    if entra.preset.is_none() && entra.tenants.is_some() {
        return generic_template(config, published, recognised);
    }
    if published.contains(PLACEHOLDER) {
        return Err(DiscoveryError::TenantTemplateWithoutPolicy {
            published: crate::error::clip(published, 256),
        });
    }
    if config.accepts_issuer(published) {
        return Ok(PublishedIssuer::Exact);
    }
    // A tenant named by domain (or, for version 1.0 metadata, any way):
    // the metadata names the tenant by id.
    let resolved = match (&entra.preset, recognised) {
        (Some(preset), _) if !is_guid(&preset.tenant) => published
            .strip_prefix(&preset.authority)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_suffix("/v2.0"))
            .is_some_and(is_guid)
            .then(|| preset.tenant.clone()),
        (None, Some(document)) => resolved_by_document(config, published, document),
        _ => None,
    };
    if let Some(tenant) = resolved {
        tracing::info!(
            target: "oidc_login::provider",
            tenant = %tenant,
            issuer = %published,
            "the Entra ID tenant resolves to this issuer; ID tokens must carry it exactly"
        );
        return Ok(PublishedIssuer::Exact);
    }
    Ok(PublishedIssuer::Mismatch {
        expected: config.issuer().to_owned(),
    })
}

/// A plain metadata URL of Entra ID's (recognised) whose issuer names the
/// tenant otherwise than the URL: a domain in a v2.0 URL
/// (`<origin>/contoso.com/v2.0/...` publishes `<origin>/<tenant id>/v2.0`),
/// or any single tenant in a v1.0 URL (`<origin>/<tenant>/...` publishes
/// `https://sts.windows.net/<tenant id>/`). The URL's tenant, if so.
fn resolved_by_document(
    config: &Config,
    published: &str,
    document: &EntraDocument,
) -> Option<String> {
    let tenant = recognise::url_tenant(config.metadata_url())?;
    if matches!(tenant.as_str(), "common" | "organizations" | "consumers") {
        return None;
    }
    let v2_url = config
        .metadata_url()
        .path()
        .ends_with("/v2.0/.well-known/openid-configuration");
    match document.version {
        EntraVersion::V2 => {
            let origin = config.metadata_url().origin().ascii_serialization();
            let id = published
                .strip_prefix(origin.as_str())?
                .strip_prefix('/')?
                .strip_suffix("/v2.0")?;
            (v2_url && is_guid(id) && !is_guid(&tenant)).then_some(tenant)
        }
        // A tenant id in the URL must be the issuer's.
        EntraVersion::V1 => (!v2_url
            && !published.contains(PLACEHOLDER)
            && (!is_guid(&tenant) || published.to_ascii_lowercase().contains(&tenant)))
        .then_some(tenant),
    }
}

/// A plain metadata URL with a tenant policy: for Entra ID's multi-tenant
/// metadata only (`<origin>/organizations/v2.0/...` or `.../common/v2.0/...`,
/// publishing `<origin>/{tenantid}/v2.0`).
fn generic_template(
    config: &Config,
    published: &str,
    recognised: Option<&EntraDocument>,
) -> Result<PublishedIssuer, DiscoveryError> {
    let setting = "allowed_tenants";
    let multi = recognise::url_tenant(config.metadata_url())
        .filter(|t| t == "common" || t == "organizations")
        .filter(|_| {
            config
                .metadata_url()
                .path()
                .ends_with("/v2.0/.well-known/openid-configuration")
        });
    if multi.is_none() {
        return Err(DiscoveryError::EntraSetting {
            setting,
            reason: "a tenant policy is for Entra ID's v2.0 multi-tenant metadata URL (`https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration`, or `common`), whose issuer is the `{tenantid}` template; this metadata URL is not one (one tenant's issuer is compared exactly): remove `allowed_tenants` / `allow_any_tenant`, or use that URL".into(),
        });
    }
    let origin = config.metadata_url().origin().ascii_serialization();
    let expected = format!("{origin}/{PLACEHOLDER}/v2.0");
    match TenantTemplate::new(published) {
        Some(template) if published == expected => match recognised {
            Some(_) => Ok(PublishedIssuer::Template(template)),
            None => Err(DiscoveryError::EntraSetting {
                setting,
                reason: "the metadata has the multi-tenant issuer template but not Entra ID's own members (`cloud_instance_name`, `msgraph_host`), so it is not recognised as Microsoft Entra ID; check `metadata_url`".into(),
            }),
        },
        _ => Ok(PublishedIssuer::Mismatch { expected }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantPolicy;
    use serde_json::json;

    const T1: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const T2: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn entra(tenant: &str) -> crate::ConfigBuilder {
        crate::Config::entra(tenant, "app").redirect_uri("https://app.example/cb")
    }

    fn config(metadata_url: &str) -> Config {
        Config::builder(metadata_url, "app")
            .redirect_uri("https://app.example/cb")
            .build()
            .unwrap()
    }

    fn document(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES512", "HS256", "none", "XX999"],
            "authorization_response_iss_parameter_supported": true
        })
    }

    fn parse(doc: &serde_json::Value, config: &Config) -> Result<Metadata, DiscoveryError> {
        Metadata::from_json(&serde_json::to_vec(doc).unwrap(), config)
    }

    #[test]
    fn good_metadata_is_read() {
        let m = parse(&document("https://p.example"), &config("https://p.example")).unwrap();
        assert_eq!(m.token_endpoint.as_str(), "https://p.example/token");
        // HMAC, `none` and unknown names are never taken from the provider's list.
        assert_eq!(m.signing_algorithms, [Algorithm::RS256, Algorithm::ES512]);
        assert!(m.iss_parameter_supported);
    }

    #[test]
    fn issuer_must_match_exactly_and_says_how_it_differs() {
        let err = parse(
            &document("https://p.example/"),
            &config("https://p.example"),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::IssuerMismatch {
                    hint: IssuerHint::TrailingSlash,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("trailing `/`"));
        let err = parse(
            &document("https://evil.example"),
            &config("https://p.example"),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            DiscoveryError::IssuerMismatch {
                hint: IssuerHint::None,
                ..
            }
        ));
        let err = parse(&document("https://P.example"), &config("https://p.example")).unwrap_err();
        assert!(matches!(err, DiscoveryError::IssuerMismatch { .. }));
    }

    #[test]
    fn a_metadata_url_also_accepts_the_issuer_with_a_trailing_slash() {
        // PrivX: issuer `https://h/oidc/p1/`, metadata at `https://h/oidc/p1/.well-known/...`.
        let by_metadata = config("https://h.example/oidc/p1/.well-known/openid-configuration");
        let m = parse(&document("https://h.example/oidc/p1/"), &by_metadata).unwrap();
        assert_eq!(m.issuer, "https://h.example/oidc/p1/");
        assert!(parse(&document("https://h.example/oidc/p1"), &by_metadata).is_ok());
        for other in [
            "https://h.example/oidc/p1//",
            "https://h.example/oidc/p1/x",
            "https://h.example/oidc/",
        ] {
            assert!(parse(&document(other), &by_metadata).is_err(), "{other}");
        }
        // A configured issuer is compared exactly.
        let by_issuer = config("https://h.example/oidc/p1");
        let err = parse(&document("https://h.example/oidc/p1/"), &by_issuer).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::IssuerMismatch {
                    hint: IssuerHint::TrailingSlash,
                    ..
                }
            ),
            "{err}"
        );
        let by_issuer = config("https://h.example/oidc/p1/");
        assert!(parse(&document("https://h.example/oidc/p1"), &by_issuer).is_err());
    }

    #[test]
    fn provider_urls_must_be_https_unless_loopback() {
        let mut doc = document("https://p.example");
        doc["token_endpoint"] = json!("http://p.example/token");
        let err = parse(&doc, &config("https://p.example")).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::InsecureUrl {
                    field: "token_endpoint",
                    ..
                }
            ),
            "{err}"
        );
        let mut doc = document("https://p.example");
        doc["jwks_uri"] = json!("http://10.1.1.1/jwks");
        assert!(matches!(
            parse(&doc, &config("https://p.example")),
            Err(DiscoveryError::InsecureUrl {
                field: "jwks_uri",
                ..
            })
        ));
        let doc = document("http://127.0.0.1:9");
        assert!(parse(&doc, &config("http://127.0.0.1:9")).is_ok());
    }

    #[test]
    fn required_members_must_be_there() {
        let mut doc = document("https://p.example");
        doc.as_object_mut().unwrap().remove("token_endpoint");
        assert!(matches!(
            parse(&doc, &config("https://p.example")),
            Err(DiscoveryError::MissingField {
                field: "token_endpoint"
            })
        ));
        let mut doc = document("https://p.example");
        doc.as_object_mut().unwrap().remove("jwks_uri");
        let err = parse(&doc, &config("https://p.example")).unwrap_err();
        assert!(err.to_string().contains("jwks_uri"), "{err}");
        let mut doc = document("https://p.example");
        doc["response_types_supported"] = json!(["id_token"]);
        let err = parse(&doc, &config("https://p.example")).unwrap_err();
        assert!(err.to_string().contains("`code`"), "{err}");
        let mut doc = document("https://p.example");
        doc["id_token_signing_alg_values_supported"] = json!(["none", "HS256"]);
        assert!(parse(&doc, &config("https://p.example")).is_err());
    }

    #[test]
    fn the_implicit_flow_needs_the_id_token_response_type() {
        let implicit = Config::builder("https://p.example", "app")
            .redirect_uri("https://app.example/cb")
            .insecure_implicit_flow()
            .build()
            .unwrap();
        assert!(parse(&document("https://p.example"), &implicit).is_ok());
        let mut doc = document("https://p.example");
        doc["response_types_supported"] = json!(["code"]);
        let err = parse(&doc, &implicit).unwrap_err();
        assert!(err.to_string().contains("`id_token`"), "{err}");
        assert!(parse(&doc, &config("https://p.example")).is_ok());
    }

    #[test]
    fn configured_algorithms_win() {
        let config = Config::builder("https://p.example", "app")
            .redirect_uri("https://app.example/cb")
            .allowed_algorithms([Algorithm::ES512])
            .build()
            .unwrap();
        let m = parse(&document("https://p.example"), &config).unwrap();
        assert_eq!(m.signing_algorithms, [Algorithm::ES512]);
    }

    #[test]
    fn published_issuers() {
        let multi = entra("organizations")
            .entra_tenants(TenantPolicy::Only(vec![T1.into()]))
            .build()
            .unwrap();
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(matches!(
            check_published_issuer(&multi, template, None),
            Ok(PublishedIssuer::Template(_))
        ));
        // Another host's template, or an exact issuer, does not do for a policy.
        for published in [
            "https://evil.example/{tenantid}/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0",
        ] {
            assert!(matches!(
                check_published_issuer(&multi, published, None),
                Ok(PublishedIssuer::Mismatch { ref expected }) if expected == template
            ));
        }
        // A template without a policy says what to configure.
        let generic = Config::builder("https://login.microsoftonline.com/common/v2.0", "app")
            .redirect_uri("https://a.example/cb")
            .build()
            .unwrap();
        let err = check_published_issuer(&generic, template, None).unwrap_err();
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
                &format!("https://login.microsoftonline.com/{T1}/v2.0"),
                None
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
                    check_published_issuer(&domain, &published, None),
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
                &format!("https://login.microsoftonline.com/{T2}/v2.0"),
                None
            ),
            Ok(PublishedIssuer::Mismatch { .. })
        ));
    }
}

#[cfg(test)]
mod recognition_tests {
    //! A plain metadata URL (Pexip's form) gets the `entra` table's rules
    //! when the document is Entra ID's, and only then.

    use super::*;
    use crate::{EntraVersion, Recognition, TenantPolicy};
    use serde_json::json;

    const T1: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const MS: &str = "https://login.microsoftonline.com";

    fn plain(metadata_url: &str) -> crate::ConfigBuilder {
        Config::builder(metadata_url, "app").redirect_uri("https://a.example/cb")
    }

    fn metadata_url(tenant: &str) -> String {
        format!("{MS}/{tenant}/v2.0/.well-known/openid-configuration")
    }

    /// Entra's document: its issuer, endpoints and own members.
    fn entra_document(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{MS}/x/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{MS}/x/oauth2/v2.0/token"),
            "jwks_uri": format!("{MS}/x/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
            "tenant_region_scope": "EU",
        })
    }

    fn parse(doc: &serde_json::Value, config: &Config) -> Result<Metadata, DiscoveryError> {
        Metadata::from_json(doc.to_string().as_bytes(), config)
    }

    fn without_members(mut doc: serde_json::Value) -> serde_json::Value {
        let members = doc.as_object_mut().unwrap();
        members.remove("cloud_instance_name");
        members.remove("msgraph_host");
        doc
    }

    #[test]
    fn entra_is_recognised_from_the_document() {
        let config = plain(&metadata_url(T1)).build().unwrap();
        let m = parse(&entra_document(&format!("{MS}/{T1}/v2.0")), &config).unwrap();
        let entra = m.entra.unwrap();
        assert_eq!(entra.recognised_by, Recognition::Metadata);
        assert_eq!(entra.version, EntraVersion::V2);
        assert_eq!(entra.tenant_region_scope.as_deref(), Some("EU"));
        assert_eq!(
            entra.graph_url.unwrap().as_str(),
            "https://graph.microsoft.com/"
        );
        // The same issuer without Entra's members: a generic provider.
        let doc = without_members(entra_document(&format!("{MS}/{T1}/v2.0")));
        assert!(parse(&doc, &config).unwrap().entra.is_none());
        // The `entra` table is Entra ID whatever the document says.
        let table = Config::entra(T1, "app")
            .redirect_uri("https://a.example/cb")
            .build()
            .unwrap();
        let m = parse(&doc, &table).unwrap();
        assert_eq!(m.entra.unwrap().recognised_by, Recognition::EntraTable);
    }

    /// A generic provider whose metadata merely has Entra's members (a
    /// hostile `msgraph_host` among them) is not Entra ID; one that copies
    /// Entra's issuer form too gets Entra's rules but never a Graph URL the
    /// document names.
    #[test]
    fn entra_members_alone_do_not_make_entra_or_a_graph_url() {
        let mut doc = entra_document("https://idp.example");
        doc["msgraph_host"] = json!("evil.example");
        let config = plain("https://idp.example").build().unwrap();
        assert!(parse(&doc, &config).unwrap().entra.is_none());

        let config = plain(&format!(
            "https://idp.example/{T1}/v2.0/.well-known/openid-configuration"
        ))
        .build()
        .unwrap();
        let mut doc = entra_document(&format!("https://idp.example/{T1}/v2.0"));
        doc["msgraph_host"] = json!("evil.example");
        let entra = parse(&doc, &config).unwrap().entra.unwrap();
        assert_eq!(entra.graph_url, None);
        // Configured, the Graph URL is the config's.
        let config = plain(&format!(
            "https://idp.example/{T1}/v2.0/.well-known/openid-configuration"
        ))
        .graph_url("https://graph.example")
        .build()
        .unwrap();
        let entra = parse(&doc, &config).unwrap().entra.unwrap();
        assert_eq!(entra.graph_url.unwrap().as_str(), "https://graph.example/");
    }

    #[test]
    fn entra_settings_for_another_provider_are_refused() {
        let config = plain("https://idp.example")
            .graph_url("https://graph.example")
            .build()
            .unwrap();
        let err = parse(&entra_document("https://idp.example"), &config).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::EntraSetting {
                    setting: "graph_url",
                    ..
                }
            ),
            "{err}"
        );
        // Where the groups come from, likewise.
        let config = plain("https://idp.example")
            .groups_source(crate::GroupsSource::Graph)
            .build()
            .unwrap();
        let err = parse(&entra_document("https://idp.example"), &config).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::EntraSetting {
                    setting: "groups_source",
                    ..
                }
            ),
            "{err}"
        );
        // A tenant policy for one tenant's metadata.
        let config = plain(&metadata_url(T1))
            .entra_tenants(TenantPolicy::AnyTenant)
            .build()
            .unwrap();
        let err = parse(&entra_document(&format!("{MS}/{T1}/v2.0")), &config).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::EntraSetting {
                    setting: "allowed_tenants",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn the_tenant_template_needs_a_policy_and_entra_s_document() {
        let template = format!("{MS}/{{tenantid}}/v2.0");
        let multi = plain(&metadata_url("organizations"))
            .entra_tenants(TenantPolicy::Only(vec![T1.into()]))
            .build()
            .unwrap();
        let m = parse(&entra_document(&template), &multi).unwrap();
        assert!(m.tenant_template.is_some());
        assert_eq!(m.entra.unwrap().recognised_by, Recognition::Metadata);
        // Without Entra's members: refused, naming the setting.
        let err = parse(&without_members(entra_document(&template)), &multi).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::EntraSetting {
                    setting: "allowed_tenants",
                    ..
                }
            ),
            "{err}"
        );
        // Another template: a mismatch naming the expected one.
        let err = parse(
            &entra_document("https://evil.example/{tenantid}/v2.0"),
            &multi,
        )
        .unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::IssuerMismatch { configured, .. } if *configured == template),
            "{err}"
        );
        // Without a policy: refused as before.
        let no_policy = plain(&metadata_url("organizations")).build().unwrap();
        let err = parse(&entra_document(&template), &no_policy).unwrap_err();
        assert!(
            matches!(err, DiscoveryError::TenantTemplateWithoutPolicy { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_domain_and_version_1_metadata_resolve_to_their_tenant() {
        let domain = plain(&metadata_url("contoso.onmicrosoft.com"))
            .build()
            .unwrap();
        let m = parse(&entra_document(&format!("{MS}/{T1}/v2.0")), &domain).unwrap();
        assert_eq!(m.issuer, format!("{MS}/{T1}/v2.0"));
        // Not without Entra's members.
        let doc = without_members(entra_document(&format!("{MS}/{T1}/v2.0")));
        assert!(matches!(
            parse(&doc, &domain),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        // Version 1.0: recognised, so that its tokens are refused by name.
        let v1 = plain(&format!("{MS}/{T1}/.well-known/openid-configuration"))
            .build()
            .unwrap();
        let m = parse(
            &entra_document(&format!("https://sts.windows.net/{T1}/")),
            &v1,
        )
        .unwrap();
        assert_eq!(m.entra.unwrap().version, EntraVersion::V1);
        // Another tenant's v1 issuer is not this one's.
        let other = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let err = parse(
            &entra_document(&format!("https://sts.windows.net/{other}/")),
            &v1,
        )
        .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::IssuerMismatch { .. }),
            "{err}"
        );
    }
}
