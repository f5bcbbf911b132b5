//! PrivX as the provider: a config from PrivX's `identity_provider_client`
//! JSON (Administration → Deployment → Identity Provider Clients, or the
//! auth API's `/idp-clients` endpoints).

use serde::Deserialize;
use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::config::{AuthMethod, ClientAuth, Config, ConfigBuilder};
use crate::error::ConfigError;
use crate::secret::ClientSecret;

/// The members of PrivX's `identity_provider_client` this crate reads. Every
/// other member is ignored: the document is PrivX's, not ours.
#[derive(Deserialize)]
struct PrivxClient {
    idp_type: Option<String>,
    enabled: Option<bool>,
    oidc_issuer: Option<String>,
    oidc_audience: Option<Vec<String>>,
    oidc_client_id: Option<String>,
    /// Read by hand, so that no parse error can repeat the secret.
    oidc_client_secret: Option<Value>,
    oidc_scopes_enabled: Option<Vec<String>>,
    oidc_code_challenge_method_enabled: Option<bool>,
    oidc_auth_method_enabled: Option<String>,
    oidc_signature_algorithm: Option<String>,
    oidc_allowed_redirect_uris: Option<Vec<String>>,
    oidc_default_logout_redirect_uri: Option<String>,
    oidc_grant_type_refresh_token: Option<bool>,
    /// Read by hand: PrivX's form varies (an object, or `attr=claim` text).
    oidc_attribute_mapping: Option<Value>,
}

impl Config {
    /// Starts a config from a PrivX identity provider client, as PrivX
    /// shows it in JSON (the `identity_provider_client` object of PrivX's
    /// auth API). Set the app's redirect URI (unless PrivX allows exactly
    /// one) and anything else, then [`build`](ConfigBuilder::build).
    ///
    /// | PrivX member | becomes |
    /// | --- | --- |
    /// | `idp_type` (required) | must be `oidc`; `saml` is refused |
    /// | `enabled` | `false` is refused: PrivX answers no login of a disabled client |
    /// | `oidc_issuer` (required) | the issuer, kept exactly (`https://<host>/oidc/<id>/`, trailing `/` included); discovery at `<issuer>.well-known/openid-configuration` |
    /// | `oidc_client_id` (required) | the client id |
    /// | `oidc_auth_method_enabled` | the client authentication: `client_secret_basic` (also PrivX's default and older `client_secret`), `client_secret_post`, `none`, `private_key_jwt` |
    /// | `oidc_client_secret` | the secret of `client_secret_basic` / `client_secret_post` (required for them, ignored otherwise) |
    /// | `oidc_code_challenge_method_enabled` | PKCE S256 is always sent; `false` with `none` is refused (a public client needs PKCE) |
    /// | `oidc_scopes_enabled` | the scopes, after `openid` (PrivX's `openid` is implicit); absent: `openid` alone |
    /// | `oidc_signature_algorithm` | `allowed_algorithms`: that algorithm alone |
    /// | `oidc_audience` | `trusted_audiences` (the client id itself left out); with several audiences the token's `azp` must be the client id |
    /// | `oidc_allowed_redirect_uris` | the redirect URI when it lists exactly one; with several, the app chooses with [`redirect_uri`](ConfigBuilder::redirect_uri), and `build` refuses one not in the list (naming both) |
    /// | `oidc_default_logout_redirect_uri` | a post-logout redirect URI ([`Config::post_logout_redirect_uris`]) |
    /// | `oidc_grant_type_refresh_token` | `false` refuses `offline_access` in the scopes at `build` (naming both): the provider would issue no refresh token |
    /// | `oidc_attribute_mapping` | `email=sub` or `principal=sub` (any attribute mapped to `sub`): `sub` is mutable ([`Config::mutable_subject`]); `build` logs a warning, and account linking by `sub` must be accepted by name ([`AccountLinker::accept_mutable_sub`](crate::AccountLinker::accept_mutable_sub)) |
    ///
    /// Every other member is ignored. With `private_key_jwt` the private key
    /// is not in PrivX's JSON: give it with
    /// [`client_auth`](ConfigBuilder::client_auth), or `build` fails naming
    /// `oidc_auth_method_enabled`.
    ///
    /// ```
    /// use oidc_login::{ClientAuth, Config};
    ///
    /// # fn main() -> Result<(), oidc_login::ConfigError> {
    /// let json = r#"{
    ///     "id": "e00a8f60-9051-48d7-a755-cef45801a7cc",
    ///     "name": "Admin console",
    ///     "idp_type": "oidc",
    ///     "enabled": true,
    ///     "oidc_issuer": "https://privx.example.com/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/",
    ///     "oidc_client_id": "f81c1189-76b6-46e8-ba1e-54b2d3221534",
    ///     "oidc_auth_method_enabled": "private_key_jwt",
    ///     "oidc_code_challenge_method_enabled": true,
    ///     "oidc_scopes_enabled": ["profile", "email", "privx_roles"],
    ///     "oidc_signature_algorithm": "ES256"
    /// }"#;
    /// # let pem = include_str!("../../tests/fixtures/keys/rsa-2048.pem");
    /// let config = Config::from_privx_client_json(json)?
    ///     .client_auth(ClientAuth::private_key_jwt(pem, "admin-console-key"))
    ///     .redirect_uri("https://admin.example.com/auth/callback")
    ///     .build()?;
    /// assert_eq!(config.scopes(), ["openid", "profile", "email", "privx_roles"]);
    /// # Ok(()) }
    /// ```
    pub fn from_privx_client_json(json: &str) -> Result<ConfigBuilder, ConfigError> {
        let client: PrivxClient = crate::config::parse_text(
            json,
            crate::config::Format::Json,
            "the PrivX identity provider client",
        )?;
        client.into_builder()
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn required(value: Option<String>, field: &'static str) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { field })
}

/// An OpenID Connect client (not SAML) that is switched on.
fn check_kind(idp_type: Option<String>, enabled: Option<bool>) -> Result<(), ConfigError> {
    let idp_type = required(idp_type, "idp_type")?;
    if idp_type.eq_ignore_ascii_case("saml") {
        return Err(invalid(
            "idp_type",
            "is `saml`: this is a SAML client, and this crate speaks OpenID Connect only; create an OIDC identity provider client in PrivX",
        ));
    }
    // The value is not shown, here and below: it may be a secret pasted
    // into the wrong member.
    if !idp_type.eq_ignore_ascii_case("oidc") {
        return Err(invalid("idp_type", "is not `oidc`"));
    }
    if enabled == Some(false) {
        return Err(invalid(
            "enabled",
            "is false: PrivX refuses every login of a disabled client; enable it under Administration → Deployment → Identity Provider Clients",
        ));
    }
    Ok(())
}

impl PrivxClient {
    fn into_builder(self) -> Result<ConfigBuilder, ConfigError> {
        check_kind(self.idp_type, self.enabled)?;
        let issuer = required(self.oidc_issuer, "oidc_issuer")?;
        let client_id = required(self.oidc_client_id, "oidc_client_id")?;
        let pkce = self.oidc_code_challenge_method_enabled;

        let method = self
            .oidc_auth_method_enabled
            .as_deref()
            .unwrap_or("client_secret_basic");
        let secret = || -> Result<ClientSecret, ConfigError> {
            match self.oidc_client_secret {
                Some(Value::String(ref secret)) if !secret.is_empty() => {
                    Ok(ClientSecret::new(secret.as_str()))
                }
                None | Some(Value::Null) | Some(Value::String(_)) => Err(ConfigError::Missing {
                    field: "oidc_client_secret",
                }),
                Some(_) => Err(invalid("oidc_client_secret", "is not a string")),
            }
        };
        let mut builder = Config::builder(issuer, client_id.as_str());
        builder = match method {
            "client_secret_basic" | "client_secret" => {
                builder.client_auth(ClientAuth::SecretBasic(secret()?))
            }
            "client_secret_post" => builder.client_auth(ClientAuth::SecretPost(secret()?)),
            "none" => {
                if pkce == Some(false) {
                    return Err(invalid(
                        "oidc_code_challenge_method_enabled",
                        "is false while `oidc_auth_method_enabled` is `none`: a public client is protected by PKCE alone; enable PKCE in PrivX",
                    ));
                }
                builder.client_auth(ClientAuth::None)
            }
            "private_key_jwt" => {
                builder.require_auth_method(AuthMethod::PrivateKeyJwt, "oidc_auth_method_enabled")
            }
            _ => {
                return Err(invalid(
                    "oidc_auth_method_enabled",
                    "is none of those PrivX offers: `none`, `client_secret_basic`, `client_secret_post` and `private_key_jwt`",
                ));
            }
        };

        builder = builder.scopes(self.oidc_scopes_enabled.unwrap_or_default());
        if let Some(name) = self.oidc_signature_algorithm.filter(|a| !a.is_empty()) {
            let alg: Algorithm = name.parse().map_err(|_| {
                invalid(
                    "oidc_signature_algorithm",
                    "is not a supported signing algorithm (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)",
                )
            })?;
            builder = builder.allowed_algorithms([alg]);
        }
        for audience in self.oidc_audience.unwrap_or_default() {
            if !audience.trim().is_empty() && audience != client_id {
                builder = builder.add_trusted_audience(audience);
            }
        }
        match self.oidc_allowed_redirect_uris {
            Some(uris) if uris.len() == 1 => builder = builder.redirect_uri(uris[0].as_str()),
            Some(uris) if uris.len() > 1 => {
                builder.draft.provider_record.allowed_redirect_uris =
                    Some(("oidc_allowed_redirect_uris", uris));
            }
            _ => {}
        }
        if let Some(uri) = self
            .oidc_default_logout_redirect_uri
            .filter(|u| !u.trim().is_empty())
        {
            builder = builder.add_post_logout_redirect_uri(uri);
        }
        if self.oidc_grant_type_refresh_token == Some(false) {
            builder.draft.provider_record.refresh_grant_off = Some("oidc_grant_type_refresh_token");
        }
        if let Some(mapping) = self.oidc_attribute_mapping {
            builder.draft.provider_record.mutable_subject = subject_source(&mapping)?;
        }
        Ok(builder)
    }
}

/// The attribute PrivX's `oidc_attribute_mapping` fills `sub` from, if any.
///
/// Read as pairs of an attribute and a claim: an object (`{"email": "sub"}`),
/// or text `email=sub` (alone, in a list, or comma-separated). Either side
/// being `sub` counts (the other side names the attribute), so that a
/// mapping written either way round is never missed: a false warning costs
/// less than a `sub` silently taken for stable.
fn subject_source(mapping: &Value) -> Result<Option<String>, ConfigError> {
    let bad = || {
        invalid(
            "oidc_attribute_mapping",
            "is neither an object of attribute to claim names nor `attribute=claim` text",
        )
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut text_pairs = |text: &str| -> Result<(), ConfigError> {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = pair.split_once('=').ok_or_else(bad)?;
            pairs.push((a.trim().to_owned(), b.trim().to_owned()));
        }
        Ok(())
    };
    match mapping {
        Value::Null => {}
        Value::String(text) => text_pairs(text)?,
        Value::Array(items) => {
            for item in items {
                text_pairs(item.as_str().ok_or_else(bad)?)?;
            }
        }
        Value::Object(members) => {
            for (attribute, claim) in members {
                // Trimmed like the text form: `{"email": " sub"}` counts.
                pairs.push((
                    attribute.trim().to_owned(),
                    claim.as_str().ok_or_else(bad)?.trim().to_owned(),
                ));
            }
        }
        _ => return Err(bad()),
    }
    Ok(pairs
        .into_iter()
        .find_map(|(a, b)| match (a == "sub", b == "sub") {
            (false, true) if !a.is_empty() => Some(a),
            (true, false) if !b.is_empty() => Some(b),
            _ => None,
        }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::PrivateKeyJwt;

    const RSA: &str = include_str!("../../tests/fixtures/keys/rsa-2048.pem");
    const REDIRECT: &str = "https://admin.example.com/auth/callback";
    const SECRET: &str = "83bcd1d3-cded-4BeB-903e-938359a87053";

    /// The example of PrivX's API documentation (`identity_provider_client`,
    /// v41), with the members PrivX fills in.
    fn privx_client() -> Value {
        json!({
            "id": "e00a8f60-9051-48d7-a755-cef45801a7cc",
            "name": "Admin console",
            "created": "2025-01-01T00:00:00Z",
            "idp_type": "oidc",
            "enabled": true,
            "oidc_issuer": "https://privx.example.com/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/",
            "oidc_audience": ["testdomain.local"],
            "oidc_client_id": "f81c1189-76b6-46e8-ba1e-54b2d3221534",
            "oidc_client_secret": SECRET,
            "oidc_scopes_enabled": ["profile", "email", "phone", "address", "offline_access", "privx_roles"],
            "oidc_response_types_supported": ["code", "id_token token", "id_token"],
            "oidc_grant_types_supported": ["authorization_code", "refresh_token", "implicit"],
            "oidc_code_challenge_method_enabled": true,
            "oidc_auth_method_enabled": "client_secret_basic",
            "oidc_auth_method_post": true,
            "oidc_grant_type_refresh_token": true,
            "oidc_allowed_redirect_uris": ["https://thirdpartysite/authorize/callback"],
            "oidc_attribute_mapping": {"email": "sub"},
            "oidc_signature_algorithm": "PS384",
            "oidc_access_token_valid_in_minutes": 5,
            "user_filter": "",
            "some_member_of_a_later_privx": {"nested": [1, 2, 3]}
        })
    }

    fn builder_of(doc: &Value) -> Result<ConfigBuilder, ConfigError> {
        Config::from_privx_client_json(&doc.to_string())
    }

    fn with(mut doc: Value, name: &str, value: Value) -> Value {
        doc[name] = value;
        doc
    }

    fn without(mut doc: Value, name: &str) -> Value {
        doc.as_object_mut().unwrap().remove(name);
        doc
    }

    fn field_of(err: ConfigError) -> &'static str {
        match err {
            ConfigError::Invalid { field, .. } | ConfigError::Missing { field } => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn an_oidc_client_maps_to_a_config() {
        let config = builder_of(&privx_client())
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        assert_eq!(
            config.issuer(),
            "https://privx.example.com/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/"
        );
        assert_eq!(
            config.metadata_url().as_str(),
            "https://privx.example.com/oidc/e00a8f60-9051-48d7-a755-cef45801a7cc/.well-known/openid-configuration"
        );
        assert_eq!(config.client_id(), "f81c1189-76b6-46e8-ba1e-54b2d3221534");
        assert_eq!(config.client_auth(), &ClientAuth::secret_basic(SECRET));
        assert_eq!(
            config.scopes(),
            [
                "openid",
                "profile",
                "email",
                "phone",
                "address",
                "offline_access",
                "privx_roles"
            ]
        );
        assert_eq!(
            config.key_set().allowed_algorithms.as_deref(),
            Some(&[Algorithm::PS384][..])
        );
        assert_eq!(config.trusted_audiences(), ["testdomain.local"]);
        assert_eq!(config.redirect_uri().as_str(), REDIRECT);
        assert!(!format!("{config:?}").contains(SECRET));
    }

    #[test]
    fn each_auth_method_maps() {
        let post = builder_of(&with(
            privx_client(),
            "oidc_auth_method_enabled",
            json!("client_secret_post"),
        ))
        .unwrap()
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
        assert_eq!(post.client_auth(), &ClientAuth::secret_post(SECRET));
        let old = builder_of(&with(
            privx_client(),
            "oidc_auth_method_enabled",
            json!("client_secret"),
        ))
        .unwrap()
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
        assert_eq!(old.client_auth().method(), AuthMethod::ClientSecretBasic);
        let default = builder_of(&without(privx_client(), "oidc_auth_method_enabled"))
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        assert_eq!(
            default.client_auth().method(),
            AuthMethod::ClientSecretBasic
        );
        // A public client: the secret PrivX still shows is not used.
        let none = builder_of(&with(
            privx_client(),
            "oidc_auth_method_enabled",
            json!("none"),
        ))
        .unwrap()
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
        assert_eq!(none.client_auth(), &ClientAuth::None);
    }

    #[test]
    fn private_key_jwt_needs_the_key_from_the_app() {
        let doc = with(
            privx_client(),
            "oidc_auth_method_enabled",
            json!("private_key_jwt"),
        );
        let err = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`private_key_jwt`"), "{err}");
        assert_eq!(field_of(err), "oidc_auth_method_enabled");
        // Another method than the registered one is refused too.
        let err = builder_of(&doc)
            .unwrap()
            .client_auth(ClientAuth::secret_basic(SECRET))
            .redirect_uri(REDIRECT)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "oidc_auth_method_enabled");
        let config = builder_of(&doc)
            .unwrap()
            .client_auth(ClientAuth::PrivateKeyJwt(PrivateKeyJwt::from_pem(RSA)))
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        assert_eq!(config.client_auth().method(), AuthMethod::PrivateKeyJwt);
    }

    #[test]
    fn a_saml_client_is_refused() {
        for kind in ["saml", "SAML"] {
            let err = builder_of(&with(privx_client(), "idp_type", json!(kind))).unwrap_err();
            assert!(err.to_string().contains("OpenID Connect only"), "{err}");
            assert_eq!(field_of(err), "idp_type");
        }
        let err = builder_of(&with(privx_client(), "idp_type", json!("ldap"))).unwrap_err();
        assert_eq!(field_of(err), "idp_type");
        // `OIDC` in capitals is fine.
        assert!(builder_of(&with(privx_client(), "idp_type", json!("OIDC"))).is_ok());
    }

    #[test]
    fn a_missing_essential_member_is_named() {
        for name in ["idp_type", "oidc_issuer", "oidc_client_id"] {
            let err = builder_of(&without(privx_client(), name)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            assert_eq!(field_of(err), name);
            let err = builder_of(&with(privx_client(), name, json!(""))).unwrap_err();
            assert_eq!(field_of(err), name);
        }
        for secret in [None, Some(json!(null)), Some(json!(""))] {
            let doc = match secret {
                None => without(privx_client(), "oidc_client_secret"),
                Some(value) => with(privx_client(), "oidc_client_secret", value),
            };
            assert_eq!(
                field_of(builder_of(&doc).unwrap_err()),
                "oidc_client_secret"
            );
        }
    }

    #[test]
    fn values_that_cannot_work_are_named() {
        let cases = [
            ("enabled", json!(false), "enabled"),
            (
                "oidc_auth_method_enabled",
                json!("tls_client_auth"),
                "oidc_auth_method_enabled",
            ),
            (
                "oidc_signature_algorithm",
                json!("none"),
                "oidc_signature_algorithm",
            ),
            (
                "oidc_signature_algorithm",
                json!("rs256"),
                "oidc_signature_algorithm",
            ),
            ("oidc_client_secret", json!(12), "oidc_client_secret"),
        ];
        for (name, value, field) in cases {
            let err = builder_of(&with(privx_client(), name, value.clone())).unwrap_err();
            assert_eq!(field_of(err), field, "{name} = {value}");
        }
        let public_without_pkce = with(
            with(privx_client(), "oidc_auth_method_enabled", json!("none")),
            "oidc_code_challenge_method_enabled",
            json!(false),
        );
        assert_eq!(
            field_of(builder_of(&public_without_pkce).unwrap_err()),
            "oidc_code_challenge_method_enabled"
        );
        // A confidential client without PKCE at PrivX is fine: PKCE is sent anyway.
        let no_pkce = with(
            privx_client(),
            "oidc_code_challenge_method_enabled",
            json!(false),
        );
        assert!(builder_of(&no_pkce).is_ok());
    }

    #[test]
    fn unknown_members_and_nulls_are_ignored() {
        let doc = with(
            with(privx_client(), "oidc_audience", json!(null)),
            "oidc_scopes_enabled",
            json!(null),
        );
        let config = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        assert!(config.trusted_audiences().is_empty());
        assert_eq!(config.scopes(), ["openid"]);
        // The client id among the audiences is not an extra audience.
        let doc = with(
            privx_client(),
            "oidc_audience",
            json!(["f81c1189-76b6-46e8-ba1e-54b2d3221534", "", "api"]),
        );
        let config = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        assert_eq!(config.trusted_audiences(), ["api"]);
    }

    #[test]
    fn one_allowed_redirect_uri_is_taken_several_are_not() {
        let doc = with(
            privx_client(),
            "oidc_allowed_redirect_uris",
            json!([REDIRECT]),
        );
        let config = builder_of(&doc).unwrap().build().unwrap();
        assert_eq!(config.redirect_uri().as_str(), REDIRECT);
        let doc = with(
            privx_client(),
            "oidc_allowed_redirect_uris",
            json!([REDIRECT, "https://other.example/cb"]),
        );
        let err = builder_of(&doc).unwrap().build().unwrap_err();
        assert_eq!(field_of(err), "redirect_uri");
    }

    #[test]
    fn with_several_allowed_redirect_uris_the_app_chooses_one_of_them() {
        let other = "https://other.example/cb";
        let doc = with(
            privx_client(),
            "oidc_allowed_redirect_uris",
            json!([other, REDIRECT]),
        );
        for chosen in [REDIRECT, other] {
            let config = builder_of(&doc)
                .unwrap()
                .redirect_uri(chosen)
                .build()
                .unwrap();
            assert_eq!(config.redirect_uri().as_str(), chosen);
        }
        // Compared as URLs: the host's case and the default port do not matter.
        let config = builder_of(&doc)
            .unwrap()
            .redirect_uri("https://ADMIN.example.com:443/auth/callback")
            .build()
            .unwrap();
        assert_eq!(config.redirect_uri().as_str(), REDIRECT);
        for refused in [
            "https://admin.example.com/auth/callback/",
            "https://admin.example.com/auth/callback?x=1",
            "http://127.0.0.1:8080/auth/callback",
        ] {
            let err = builder_of(&doc)
                .unwrap()
                .redirect_uri(refused)
                .build()
                .unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("config field `redirect_uri`"),
                "{message}"
            );
            assert!(
                message.contains("`oidc_allowed_redirect_uris`"),
                "{message}"
            );
            assert!(message.contains(other), "{message}");
        }
        // None chosen: the message says to choose.
        let err = builder_of(&doc).unwrap().build().unwrap_err();
        assert!(
            err.to_string()
                .contains("`oidc_allowed_redirect_uris` lists 2 URIs"),
            "{err}"
        );
    }

    #[test]
    fn the_default_logout_redirect_uri_becomes_a_post_logout_redirect_uri() {
        let logged_out = "https://admin.example.com/auth/logged-out";
        let doc = with(
            privx_client(),
            "oidc_default_logout_redirect_uri",
            json!(logged_out),
        );
        let config = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        let uris: Vec<&str> = config
            .post_logout_redirect_uris()
            .iter()
            .map(url::Url::as_str)
            .collect();
        assert_eq!(uris, [logged_out]);
        for absent in [json!(null), json!("")] {
            let doc = with(privx_client(), "oidc_default_logout_redirect_uri", absent);
            let config = builder_of(&doc)
                .unwrap()
                .redirect_uri(REDIRECT)
                .build()
                .unwrap();
            assert!(config.post_logout_redirect_uris().is_empty());
        }
        // Off-site, it is refused like any post-logout URI.
        let doc = with(
            privx_client(),
            "oidc_default_logout_redirect_uri",
            json!("https://elsewhere.example/bye"),
        );
        let err = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "post_logout_redirect_uris");
    }

    #[test]
    fn refresh_grant_off_with_offline_access_names_both_fields() {
        let doc = with(
            privx_client(),
            "oidc_grant_type_refresh_token",
            json!(false),
        );
        let err = builder_of(&doc)
            .unwrap()
            .redirect_uri(REDIRECT)
            .build()
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("config field `oidc_grant_type_refresh_token`"),
            "{message}"
        );
        assert!(message.contains("`scopes`"), "{message}");
        assert!(message.contains("`offline_access`"), "{message}");
        // Without `offline_access` it builds ...
        let config = builder_of(&with(
            doc.clone(),
            "oidc_scopes_enabled",
            json!(["profile", "email"]),
        ))
        .unwrap()
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
        assert_eq!(config.scopes(), ["openid", "profile", "email"]);
        // ... unless the app asks for it itself.
        let err = builder_of(&with(doc, "oidc_scopes_enabled", json!(["email"])))
            .unwrap()
            .redirect_uri(REDIRECT)
            .scopes(["openid", "offline_access"])
            .build()
            .unwrap_err();
        assert_eq!(field_of(err), "oidc_grant_type_refresh_token");
        // `true`, or absent: nothing to refuse.
        for on in [json!(true), json!(null)] {
            let doc = with(privx_client(), "oidc_grant_type_refresh_token", on);
            assert!(
                builder_of(&doc)
                    .unwrap()
                    .redirect_uri(REDIRECT)
                    .build()
                    .is_ok()
            );
        }
    }

    #[test]
    fn an_attribute_mapped_to_sub_makes_sub_mutable() {
        let subject = |mapping: Value| {
            builder_of(&with(privx_client(), "oidc_attribute_mapping", mapping))
                .and_then(|b| b.redirect_uri(REDIRECT).build())
                .map(|config| config.mutable_subject().map(str::to_owned))
        };
        for (mapping, expected) in [
            (json!({"email": "sub"}), Some("email")),
            (
                json!({"principal": "sub", "email": "email"}),
                Some("principal"),
            ),
            (json!("email=sub"), Some("email")),
            (json!(" principal = sub "), Some("principal")),
            (json!("name=name, email=sub"), Some("email")),
            (json!(["name=name", "principal=sub"]), Some("principal")),
            // Written the other way round, it is still a remapped `sub`.
            (json!({"sub": "email"}), Some("email")),
            // The object form is trimmed like the text form.
            (json!({"email": " sub"}), Some("email")),
            (json!({" sub ": "principal "}), Some("principal")),
            (json!({"email": "email"}), None),
            (json!({"sub": "sub"}), None),
            (json!({}), None),
            (json!(""), None),
            (json!([]), None),
            (json!(null), None),
        ] {
            assert_eq!(
                subject(mapping.clone()).unwrap().as_deref(),
                expected,
                "{mapping}"
            );
        }
        assert_eq!(
            builder_of(&without(privx_client(), "oidc_attribute_mapping"))
                .unwrap()
                .redirect_uri(REDIRECT)
                .build()
                .unwrap()
                .mutable_subject(),
            None
        );
        for bad in [
            json!(42),
            json!({"email": 1}),
            json!("email"),
            json!([["email", "sub"]]),
        ] {
            assert_eq!(
                field_of(subject(bad.clone()).unwrap_err()),
                "oidc_attribute_mapping",
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_json_is_a_parse_error_that_never_shows_the_secret() {
        for text in ["", "[]", "{\"idp_type\": 5}", "{not json"] {
            let err = Config::from_privx_client_json(text).unwrap_err();
            assert!(matches!(err, ConfigError::Parse { .. }), "{text}: {err:?}");
        }
        // A wrongly typed member next to the secret: the message names the
        // member, never the secret.
        let doc = with(privx_client(), "oidc_scopes_enabled", json!("profile"));
        let err = builder_of(&doc).unwrap_err();
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
        let err = builder_of(&with(privx_client(), "idp_type", json!("saml"))).unwrap_err();
        assert!(!format!("{err:?}").contains(SECRET));
        let builder = builder_of(&privx_client()).unwrap();
        assert!(!format!("{builder:?}").contains(SECRET));
    }

    #[test]
    fn a_secret_in_the_wrong_shape_or_place_is_never_shown() {
        let shown = |text: &str| {
            let err = Config::from_privx_client_json(text).unwrap_err();
            format!("{err} {err:?}")
        };
        let docs = [
            with(privx_client(), "oidc_client_secret", json!(839274619283u64)),
            with(privx_client(), "oidc_client_secret", json!([SECRET])),
            with(privx_client(), "oidc_auth_method_enabled", json!(SECRET)),
            with(privx_client(), "oidc_signature_algorithm", json!(SECRET)),
            with(privx_client(), "oidc_client_id", json!({ SECRET: 1 })),
        ];
        for doc in docs {
            let out = shown(&doc.to_string());
            assert!(
                !out.contains(&SECRET[..10]) && !out.contains("839274619283"),
                "{out}"
            );
        }
        // Cut off inside the secret, and text after the document.
        let text = privx_client().to_string();
        let cut = &text[..text.find(SECRET).unwrap() + 10];
        assert!(!shown(cut).contains(&SECRET[..10]), "{}", shown(cut));
        let trailing = format!("{text} {SECRET}");
        assert!(!shown(&trailing).contains(&SECRET[..10]));
    }
}
