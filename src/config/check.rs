//! The one validation of a config: every setting's check, one small
//! function per group, run by [`ConfigBuilder::build`](super::ConfigBuilder::build)
//! for the builder and the TOML / JSON form alike.

use std::time::Duration;

use url::Url;

use super::settings::{Claims, Draft, KeySet, Limits, ProviderRecord, Registration};
use super::{ClientAuth, Config, Flow, UserinfoPolicy};
use crate::algorithm::Algorithm;
use crate::error::ConfigError;
use crate::http::is_secure_or_loopback;
use crate::roles::RoleMapping;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
const MAX_DISCOVERY_RETRY: Duration = Duration::from_secs(600);

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Checks every setting of `draft` and builds the config.
pub(super) fn check(draft: Draft) -> Result<Config, ConfigError> {
    let Draft {
        mut registration,
        claims,
        limits,
        key_set,
        client_auth,
        required_auth_method,
        break_glass,
        entra,
        provider_record,
        accounts,
    } = draft;

    let (entra, metadata_url) = match entra.build()? {
        (entra, Some(metadata_url)) => (entra, metadata_url),
        (entra, None) => (entra, std::mem::take(&mut registration.metadata_url)),
    };
    let issuer_from_metadata_url = metadata_url.ends_with(WELL_KNOWN);
    let (metadata_url, issuer) = metadata_url_and_issuer(&metadata_url)?;
    check_client(&registration.client_id, &client_auth)?;
    if let Some((method, field)) = required_auth_method
        && client_auth.method() != method
    {
        return Err(invalid(
            field,
            format!(
                "the provider registers this client for `{}`, but the client authenticates with `{}`; set `client_auth` to match (for `private_key_jwt`: `ClientAuth::private_key_jwt(pem, kid)` with the client's private key)",
                method.as_str(),
                client_auth.method().as_str()
            ),
        ));
    }
    let redirect_uri = check_redirect_uri(
        registration.redirect_uri.as_deref(),
        provider_record.allowed_redirect_uris.as_ref(),
    )?;
    let post_logout_redirect_uris =
        check_post_logout_uris(&registration.post_logout_redirect_uris, &redirect_uri)?;
    registration.scopes = checked_scopes(std::mem::take(&mut registration.scopes))?;
    check_registration(&registration)?;
    check_flow_client(registration.flow, &client_auth)?;
    check_provider_record(&provider_record, &registration.scopes)?;
    registration.role_mapping = super::entra::scoped_rows(
        &entra,
        std::mem::take(&mut registration.role_mapping),
        &claims.groups,
    )?;
    check_claims(&claims)?;
    check_limits(&limits)?;
    check_key_set(&key_set, &client_auth)?;
    let break_glass = break_glass.map(|settings| settings.check()).transpose()?;

    Ok(Config {
        metadata_url,
        issuer,
        issuer_from_metadata_url,
        client_auth,
        redirect_uri,
        post_logout_redirect_uris,
        registration,
        claims,
        limits,
        key_set,
        break_glass,
        entra,
        mutable_subject: provider_record.mutable_subject,
        accounts,
    })
}

/// Authorization Code without PKCE is safe only for a confidential client:
/// a code stolen on its way back can then be redeemed only with the
/// client's credentials (Axidian's rule: that flow needs a client secret).
fn check_flow_client(flow: Flow, auth: &ClientAuth) -> Result<(), ConfigError> {
    if flow == Flow::AuthorizationCode && matches!(auth, ClientAuth::None) {
        return Err(invalid(
            "client_secret",
            "is required with `flow = \"authorization_code\"` (no PKCE): without PKCE only the client's credentials keep a stolen code from being redeemed; set `client_secret` (or a private key with `auth_method = \"private_key_jwt\"`), or use `flow = \"authorization_code_pkce\"`",
        ));
    }
    Ok(())
}

/// What the provider's record of the client rules out: refresh tokens
/// asked for when the provider refuses the grant. (Its redirect URIs are
/// checked with `redirect_uri`; a mutable `sub` is a warning.)
fn check_provider_record(record: &ProviderRecord, scopes: &[String]) -> Result<(), ConfigError> {
    if let Some(member) = record.refresh_grant_off
        && scopes.iter().any(|scope| scope == "offline_access")
    {
        return Err(invalid(
            member,
            format!(
                "is false (the provider refuses the refresh-token grant), but `scopes` holds `offline_access`, which asks for a refresh token: remove `offline_access` from the scopes (PrivX: `oidc_scopes_enabled`), or set `{member}` to true at the provider"
            ),
        ));
    }
    if let Some(attribute) = &record.mutable_subject {
        tracing::warn!(
            target: "oidc_login::config",
            attribute = %crate::error::clip(attribute, 64),
            "mutable `sub`: the provider fills `sub` from this attribute (its attribute mapping), which can change, so `sub` is not a stable key for this provider; account linking by `sub` is refused unless the app accepts it (`AccountLinker::accept_mutable_sub`)"
        );
    }
    Ok(())
}

/// The client id, and a client secret or key that can work.
fn check_client(client_id: &str, auth: &ClientAuth) -> Result<(), ConfigError> {
    if client_id.trim().is_empty() {
        return Err(ConfigError::Missing { field: "client_id" });
    }
    if client_id.chars().any(char::is_control) {
        return Err(invalid("client_id", "holds control characters"));
    }
    if let Some(secret) = auth.secret()
        && secret.expose_secret().is_empty()
    {
        return Err(invalid("client_secret", "is empty"));
    }
    match auth {
        ClientAuth::PrivateKeyJwt(key) => match key.problem() {
            Some((field, reason)) => Err(invalid(field, reason)),
            None => Ok(()),
        },
        // RFC 7518 3.2: an HS256 key has at least 256 bits.
        ClientAuth::SecretJwt(secret) if secret.expose_secret().len() < 32 => Err(invalid(
            "client_secret",
            "`client_secret_jwt` signs with HS256, which needs a secret of at least 32 bytes (RFC 7518 3.2)",
        )),
        _ => Ok(()),
    }
}

/// Splits the configured URL into the metadata URL and the issuer it implies
/// (OpenID Connect Discovery 1.0 section 4: issuer + the well-known path).
fn metadata_url_and_issuer(given: &str) -> Result<(Url, String), ConfigError> {
    let field = "metadata_url";
    if given.trim().is_empty() {
        return Err(invalid(
            field,
            "is missing: set `metadata_url`, or `entra = { tenant = \"...\" }` for Microsoft Entra ID (`Config::entra`)",
        ));
    }
    let url = plain_url(field, given)?;
    // Keep the issuer as written: issuers are compared exactly, trailing `/` included.
    Ok(match given.strip_suffix(WELL_KNOWN) {
        Some(issuer) => (url, issuer.to_owned()),
        None => {
            let metadata = format!("{}{WELL_KNOWN}", given.trim_end_matches('/'));
            let metadata = Url::parse(&metadata).map_err(|e| invalid(field, e.to_string()))?;
            (metadata, given.to_owned())
        }
    })
}

/// How a URL from the config is quoted in an error: without its user name,
/// password, query and fragment, which may hold secrets; not at all when it
/// is not an http(s) URL with a host (it may be a secret typed into the
/// wrong field: `svc:Pa55w0rd` parses as a URL of the scheme `svc`).
pub(super) fn quoted(given: &str) -> String {
    match Url::parse(given) {
        Ok(mut url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            format!("`{url}`")
        }
        _ => "the value".to_owned(),
    }
}

/// An absolute https URL (plain http only on loopback).
fn absolute_url(field: &'static str, given: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(given).map_err(|e| {
        invalid(
            field,
            format!("{} is not an absolute URL ({e})", quoted(given)),
        )
    })?;
    if !is_secure_or_loopback(&url) {
        return Err(invalid(
            field,
            format!(
                "{} must use https (plain http only on a loopback host such as 127.0.0.1)",
                quoted(given)
            ),
        ));
    }
    Ok(url)
}

/// An absolute https URL with no query, fragment or user name: the form of
/// a provider's address.
pub(super) fn plain_url(field: &'static str, given: &str) -> Result<Url, ConfigError> {
    let url = absolute_url(field, given)?;
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid(
            field,
            format!(
                "{} must not have a query, fragment or user name",
                quoted(given)
            ),
        ));
    }
    Ok(url)
}

fn check_redirect_uri(
    given: Option<&str>,
    allowed: Option<&(&'static str, Vec<String>)>,
) -> Result<Url, ConfigError> {
    let field = "redirect_uri";
    let Some(given) = given else {
        return Err(match allowed {
            Some((member, list)) if !list.is_empty() => invalid(
                field,
                format!(
                    "is required: the provider's `{member}` lists {} URIs, so the app must choose its own among them with `redirect_uri`",
                    list.len()
                ),
            ),
            _ => ConfigError::Missing { field },
        });
    };
    let uri = absolute_url(field, given)?;
    if uri.fragment().is_some() {
        return Err(invalid(field, "must not have a `#fragment`"));
    }
    if let Some((member, list)) = allowed
        && !list.is_empty()
        // Compared parsed, as the provider compares them: exactly, after
        // the URL's own normalization (scheme and host case, default port).
        && !list
            .iter()
            .any(|allowed| Url::parse(allowed).is_ok_and(|allowed| allowed == uri))
    {
        return Err(invalid(
            field,
            format!(
                "{} is not one of the provider's `{member}` ({}): the provider would refuse the login; choose one of them, or add this one at the provider",
                quoted(given),
                list.iter()
                    .map(|uri| quoted(uri))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(uri)
}

/// Each post-logout URI: an absolute URL on the redirect URI's origin, so a
/// logout never leads off-site.
fn check_post_logout_uris(given: &[String], redirect_uri: &Url) -> Result<Vec<Url>, ConfigError> {
    let field = "post_logout_redirect_uris";
    given
        .iter()
        .map(|given| {
            let uri = Url::parse(given).map_err(|e| {
                invalid(
                    field,
                    format!("{} is not an absolute URL ({e})", quoted(given)),
                )
            })?;
            if uri.origin() != redirect_uri.origin() {
                return Err(invalid(
                    field,
                    format!(
                        "{} is not on the origin of `redirect_uri` ({}): after a logout the browser comes back to this app only",
                        quoted(given),
                        redirect_uri.origin().ascii_serialization()
                    ),
                ));
            }
            if uri.fragment().is_some() {
                return Err(invalid(field, format!("{} has a fragment", quoted(given))));
            }
            Ok(uri)
        })
        .collect()
}

/// `openid` first, then the others once each, in their order.
fn checked_scopes(given: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut scopes = Vec::with_capacity(given.len() + 1);
    scopes.push("openid".to_owned());
    for scope in given {
        if scope.is_empty() || scope.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\')
        {
            return Err(invalid(
                "scopes",
                format!("`{scope}` is not a valid scope name"),
            ));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// The audiences, the role rows, and a flow that can work.
fn check_registration(registration: &Registration) -> Result<(), ConfigError> {
    if !super::valid_provider_name(&registration.name) {
        return Err(invalid(
            "name",
            "must be 1 to 32 ASCII letters, digits, `-` or `_`",
        ));
    }
    if let Some(prompt) = &registration.prompt {
        crate::flow::check_prompt(prompt).map_err(|reason| invalid("prompt", reason))?;
    }
    if registration
        .trusted_audiences
        .iter()
        .any(|audience| audience.trim().is_empty())
    {
        return Err(invalid("trusted_audiences", "holds an empty audience"));
    }
    if let Some(problem) = registration
        .role_mapping
        .iter()
        .find_map(RoleMapping::problem)
    {
        return Err(invalid("role_mapping", problem));
    }
    if let Some(row) = registration
        .role_mapping
        .iter()
        .find(|row| row.provider_scope().is_some_and(|p| p != registration.name))
    {
        return Err(invalid(
            "role_mapping",
            format!(
                "row `{}` names another provider than this config's `name` `{}`, so it would never match",
                row.name(),
                registration.name
            ),
        ));
    }
    let flow = registration.flow;
    match (flow, registration.allow_implicit_flow) {
        (Flow::Implicit, false) => Err(invalid(
            "allow_implicit_flow",
            "must be `true` for `flow = \"implicit\"`: the implicit flow is discouraged and is switched on only by name",
        )),
        (Flow::AuthorizationCodePkce | Flow::AuthorizationCode, true) => Err(invalid(
            "allow_implicit_flow",
            format!(
                "is `true`, but `flow` is `{}`: remove it, or set `flow = \"implicit\"`",
                flow.as_str()
            ),
        )),
        (Flow::Implicit, true) if registration.userinfo == UserinfoPolicy::Always => Err(invalid(
            "userinfo",
            "is `always`, but the implicit flow gets no access token to call userinfo with: use `never`, or a code flow",
        )),
        _ => Ok(()),
    }
}

fn check_claims(claims: &Claims) -> Result<(), ConfigError> {
    for (field, value) in [
        ("username_claim", &claims.username),
        ("email_claim", &claims.email),
        ("groups_claim", &claims.groups),
        ("app_roles_claim", &claims.app_roles),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(field, "is empty"));
        }
    }
    match &claims.required {
        Some(required) if required.key.trim().is_empty() => {
            Err(invalid("required_claim", "`key` is empty"))
        }
        _ => Ok(()),
    }
}

fn check_limits(limits: &Limits) -> Result<(), ConfigError> {
    if limits.clock_skew > MAX_CLOCK_SKEW {
        return Err(invalid(
            "clock_skew_seconds",
            format!(
                "{} s is more than the {} s allowed",
                limits.clock_skew.as_secs(),
                MAX_CLOCK_SKEW.as_secs()
            ),
        ));
    }
    let lifetime = limits.pending_login_lifetime;
    if lifetime < Duration::from_secs(30) || lifetime > Duration::from_secs(3600) {
        return Err(invalid(
            "pending_login_lifetime_seconds",
            format!("{} s is outside 30 s to 3600 s", lifetime.as_secs()),
        ));
    }
    if limits.http_timeout.is_zero() || limits.http_timeout > Duration::from_secs(120) {
        return Err(invalid(
            "http_timeout_seconds",
            "must be between 1 s and 120 s",
        ));
    }
    if limits.discovery_retry > MAX_DISCOVERY_RETRY {
        return Err(invalid(
            "discovery_retry_seconds",
            format!(
                "{} s is more than the {} s allowed (a provider down that long is an outage to report, not a slow start)",
                limits.discovery_retry.as_secs(),
                MAX_DISCOVERY_RETRY.as_secs()
            ),
        ));
    }
    Ok(())
}

fn check_key_set(key_set: &KeySet, auth: &ClientAuth) -> Result<(), ConfigError> {
    if let Some(algorithms) = &key_set.allowed_algorithms {
        check_algorithms(algorithms, auth)?;
    }
    if key_set.refetch_cooldown < Duration::from_secs(1)
        || key_set.refetch_cooldown > Duration::from_secs(3600)
    {
        return Err(invalid(
            "jwks_refetch_cooldown_seconds",
            "must be between 1 s and 3600 s",
        ));
    }
    if key_set.max_age < Duration::from_secs(1)
        || key_set.max_age > Duration::from_secs(7 * 24 * 3600)
    {
        return Err(invalid(
            "jwks_max_age_seconds",
            "must be between 1 s and 7 days",
        ));
    }
    Ok(())
}

/// A non-empty list; HMAC only with a client secret long enough for it.
fn check_algorithms(algorithms: &[Algorithm], auth: &ClientAuth) -> Result<(), ConfigError> {
    let field = "allowed_algorithms";
    if algorithms.is_empty() {
        return Err(invalid(
            field,
            "is empty: list at least one, or leave it out",
        ));
    }
    if algorithms.iter().any(|a| a.is_hmac()) && auth.secret().is_none() {
        return Err(invalid(
            field,
            "HMAC algorithms (HS256/384/512) need a client secret to be keyed with",
        ));
    }
    // RFC 7518 3.2: the key must be at least as long as the hash output.
    let secret_len = auth.secret().map_or(0, |s| s.expose_secret().len());
    for (alg, needed) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        if algorithms.contains(&alg) && secret_len < needed {
            return Err(invalid(
                field,
                format!("{alg} needs a client secret of at least {needed} bytes (RFC 7518 3.2)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;
    use crate::error::ConfigError;

    const BASE: &str = "metadata_url = \"https://login.example\"\nclient_id = \"app\"\nredirect_uri = \"https://app.example/callback\"\n";

    #[test]
    fn discovery_retry_defaults_to_a_minute() {
        let config = Config::from_toml(BASE).unwrap();
        assert_eq!(config.limits().discovery_retry, Duration::from_secs(60));
    }

    #[test]
    fn discovery_retry_is_read_and_bounded() {
        for (seconds, accepted) in [(0, true), (5, true), (600, true), (601, false)] {
            let text = format!("{BASE}discovery_retry_seconds = {seconds}\n");
            match Config::from_toml(&text) {
                Ok(config) => {
                    assert!(accepted, "{seconds} s");
                    assert_eq!(
                        config.limits().discovery_retry,
                        Duration::from_secs(seconds)
                    );
                }
                Err(ConfigError::Invalid { field, reason }) => {
                    assert!(!accepted, "{seconds} s: {reason}");
                    assert_eq!(field, "discovery_retry_seconds");
                    assert!(reason.contains("600 s"), "{reason}");
                }
                Err(other) => panic!("{seconds} s: {other}"),
            }
        }
        let err = Config::builder("https://login.example", "app")
            .redirect_uri("https://app.example/callback")
            .discovery_retry(Duration::from_secs(3600))
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config field `discovery_retry_seconds`"),
            "{err}"
        );
    }
}
