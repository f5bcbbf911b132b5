//! Access tokens for an API: JWTs (RFC 9068, or Entra ID's v2.0 shape in
//! Entra mode) for the resource a token request names (RFC 8707), the
//! `client_credentials` grant of a daemon, and token revocation (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::entra;
use super::model::{AuthMethod, TestClient, TestUser};
use super::server::{AppState, Params, json_response};
use super::state::{Shared, TOKEN_LIFETIME_SECS, lock, unix_now};
use super::token::{OAuthError, authenticate, form_params, invalid_request};

/// The most revocations [`Shared::revocations`] keeps, newest last.
pub(super) const REVOCATIONS_KEPT: usize = 100;

/// Scopes of OpenID Connect itself, which are no API permission (Entra's
/// `scp` leaves them out).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The resource (RFC 8707) a token request asks an access token for: its
/// `resource` parameter, else the provider's default resource. `None`: an
/// opaque access token, as before.
pub(super) fn resource(shared: &Shared, params: &Params) -> Result<Option<String>, OAuthError> {
    let Some(resource) = params.get("resource") else {
        return Ok(shared.default_resource.clone());
    };
    // RFC 8707 section 2: an absolute URI without a fragment.
    match url::Url::parse(resource) {
        Ok(url) if url.fragment().is_none() => Ok(Some(resource.to_owned())),
        _ => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            format!("resource `{resource}` is not an absolute URI without a fragment (RFC 8707)"),
        )),
    }
}

/// Who an access token is for: a signed-in user, or the client itself.
pub(super) enum Holder<'a> {
    User { user: &'a TestUser, auth_time: u64 },
    Client,
}

/// A signed JWT access token for `resource`: RFC 9068 (`typ` `at+jwt`,
/// `client_id`, `jti`, `scope`), or in Entra mode Entra's v2.0 shape
/// (`typ` `JWT`, `azp`, `scp` for a user, `roles`, `tid`, `ver` `2.0`).
/// The user's `groups` and `roles` (an extra claim) go along; a daemon's
/// `roles` are its client's [app roles](TestClient::app_roles).
pub(super) fn jwt_access_token(
    shared: &Shared,
    client: &TestClient,
    holder: Holder<'_>,
    scope: &str,
    resource: &str,
) -> String {
    let now = unix_now();
    let mut claims = Map::new();
    let mut set = |name: &str, value: Value| {
        claims.insert(name.to_owned(), value);
    };
    let (sub, roles) = match &holder {
        Holder::User { user, auth_time } => {
            set("auth_time", json!(auth_time));
            if !user.group_ids().is_empty() {
                set("groups", json!(user.group_ids()));
            }
            for name in ["preferred_username", "email", "name"] {
                if let Some(value) = user.profile_claims().get(name) {
                    set(name, value.clone());
                }
            }
            (
                user.sub().to_owned(),
                user.extra_claims().get("roles").cloned(),
            )
        }
        Holder::Client => (
            client.id().to_owned(),
            (!client.registered_app_roles().is_empty())
                .then(|| json!(client.registered_app_roles())),
        ),
    };
    set("sub", json!(sub));
    set("aud", json!(resource));
    set("iat", json!(now));
    set("exp", json!(now + TOKEN_LIFETIME_SECS));
    if let Some(roles) = roles {
        set("roles", roles);
    }
    let typ = match &shared.entra {
        Some(mode) => {
            let tid = match &holder {
                Holder::User { user, .. } => entra::tenant_of(mode, user),
                Holder::Client => entra::home_tenant(mode).to_owned(),
            };
            set("iss", json!(format!("{}/{tid}/v2.0", shared.issuer)));
            set("tid", json!(tid));
            set("ver", json!("2.0"));
            set("nbf", json!(now));
            set("azp", json!(client.id()));
            set("azpacr", json!("1"));
            set("uti", json!(crate::secret::random_token::<16>()));
            if let Holder::User { user, .. } = &holder {
                set("oid", json!(entra::object_id_of(user)));
                let scp: Vec<&str> = scope
                    .split(' ')
                    .filter(|s| !s.is_empty() && !OIDC_SCOPES.contains(s))
                    .collect();
                if !scp.is_empty() {
                    set("scp", json!(scp.join(" ")));
                }
            }
            "JWT"
        }
        None => {
            let issuer = match &holder {
                Holder::User { user, .. } => shared.token_issuer(user),
                Holder::Client => shared.issuer.clone(),
            };
            set("iss", json!(issuer));
            set("client_id", json!(client.id()));
            set("jti", json!(crate::secret::random_token::<16>()));
            if !scope.is_empty() {
                set("scope", json!(scope));
            }
            "at+jwt"
        }
    };
    let secret = client
        .secret()
        .map(|secret| secret.expose_secret().as_bytes().to_vec())
        .unwrap_or_default();
    shared.sign_access_token(&Value::Object(claims), &secret, typ)
}

/// The `client_credentials` grant (RFC 6749 section 4.4): a confidential
/// client gets an access token for itself, for the `scope` it asks (any),
/// a JWT when a resource is named (or the default one); no refresh token,
/// no ID token.
pub(super) fn client_credentials_grant(
    shared: &Shared,
    client: &TestClient,
    params: &Params,
    resource: Option<&str>,
) -> Result<Response, OAuthError> {
    if client.method() == AuthMethod::None {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client_credentials is for confidential clients; this one is public",
        ));
    }
    let scope = params.get("scope").unwrap_or_default();
    if scope.split(' ').any(|s| s == "openid") {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "`openid` has no meaning without a user: client_credentials issues no ID token",
        ));
    }
    let access_token = match resource {
        Some(resource) => jwt_access_token(shared, client, Holder::Client, scope, resource),
        None => crate::secret::random_token::<32>(),
    };
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(TOKEN_LIFETIME_SECS));
    if !scope.is_empty() {
        body.insert("scope".into(), json!(scope));
    }
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

/// `POST /revoke` (RFC 7009): the client authenticates as at the token
/// endpoint; a refresh or access token it was issued is forgotten (a
/// revoked refresh token is then refused, a revoked access token refused
/// at userinfo). An unknown token, or another client's, is answered 200
/// too, as section 2.2 asks, and left alone.
pub(super) async fn revoke(
    State(shared): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = form_params(&headers, &body, "revocation")?;
    let client = authenticate(&shared, &headers, &params)?;
    let Some(token) = params.get("token") else {
        return Err(invalid_request("token is missing"));
    };
    let hint = params.get("token_type_hint").unwrap_or("none");
    let revoked = {
        let mut grants = lock(&shared.grants);
        if grants
            .refresh
            .get(token)
            .is_some_and(|grant| grant.client_id == client.id())
        {
            grants.refresh.remove(token);
            Some("refresh_token")
        } else if grants
            .access
            .get(token)
            .is_some_and(|grant| grant.client_id == client.id())
        {
            grants.access.remove(token);
            Some("access_token")
        } else {
            None
        }
    };
    let mut log = lock(&shared.revocations);
    if log.len() >= REVOCATIONS_KEPT {
        log.pop_front();
    }
    log.push_back(format!("{hint}:{}", revoked.unwrap_or("unknown")));
    Ok(StatusCode::OK.into_response())
}
