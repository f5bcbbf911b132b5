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
        let tenant_template = match check_published_issuer(config, published)? {
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
        let extra = document.additional_metadata();
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
}
