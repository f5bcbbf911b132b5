//! The token endpoint: client authentication, the authorization code and
//! refresh grants.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::access;
use super::client_assertion;
use super::keys;
use super::misbehavior::Misbehavior;
use super::model::{AuthMethod, TestClient, TestUser};
use super::server::{AppState, Params, is_form, json_response};
use super::state::{
    AccessGrant, CODE_LIFETIME, IdTokenContext, RefreshGrant, Shared, TOKEN_LIFETIME_SECS, lock,
};

/// An RFC 6749 section 5.2 error: its status, code and a description of
/// exactly what was wrong.
#[derive(Debug)]
pub(super) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"test-provider\""),
            );
        }
        response
    }
}

pub(super) fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

pub(super) fn invalid_client(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// The parameters of a form-encoded request to the `endpoint` endpoint
/// (`token`, `revocation`): refused unless form-encoded, and when a
/// parameter is repeated (RFC 6749 section 3.2).
pub(super) fn form_params(
    headers: &HeaderMap,
    body: &[u8],
    endpoint: &str,
) -> Result<Params, OAuthError> {
    if !is_form(headers) {
        return Err(invalid_request(format!(
            "the {endpoint} request must be application/x-www-form-urlencoded"
        )));
    }
    let params = Params::parse(body).map_err(invalid_request)?;
    if let Some(name) = params.repeated.first() {
        return Err(invalid_request(format!(
            "parameter `{name}` appears more than once"
        )));
    }
    Ok(params)
}

pub(super) async fn token(
    State(shared): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    if shared.is(&Misbehavior::TokenEndpointError) {
        return Err(invalid_grant(
            "the test provider was told to refuse every token request",
        ));
    }
    let params = form_params(&headers, &body, "token")?;
    let client = authenticate(&shared, &headers, &params)?;
    let resource = access::resource(&shared, &params)?;
    let resource = resource.as_deref();
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code_grant(&shared, client, &params, resource),
        Some("refresh_token") => refresh_grant(&shared, client, &params, resource),
        Some("client_credentials") => {
            access::client_credentials_grant(&shared, client, &params, resource)
        }
        None => Err(invalid_request("grant_type is missing")),
        Some(other) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type `{other}` is not supported (authorization_code, refresh_token, client_credentials)"
            ),
        )),
    }
}

/// Percent-decodes one `application/x-www-form-urlencoded` component
/// (`+` is a space), strictly: a bad escape is an error.
fn form_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The client id and secret of an `Authorization: Basic` header, decoded per
/// RFC 6749 section 2.3.1.
fn basic_credentials(value: &HeaderValue) -> Result<Option<(String, String)>, OAuthError> {
    let value = value
        .to_str()
        .map_err(|_| invalid_client("the Authorization header is not ASCII"))?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(invalid_client("the Authorization header has no scheme"));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client(format!(
            "the token endpoint takes `Authorization: Basic`, not `{scheme}`"
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid_client("the Basic credentials are not valid base64 of UTF-8"))?;
    let Some((id, secret)) = decoded.split_once(':') else {
        return Err(invalid_client(
            "the Basic credentials have no `:` between client id and secret",
        ));
    };
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(invalid_client(
            "the Basic credentials are not form-urlencoded (RFC 6749 section 2.3.1)",
        )),
    }
}

pub(super) fn authenticate<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a TestClient, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => basic_credentials(value)?,
        None => None,
    };
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        if basic.is_some() || body_secret.is_some() {
            return Err(invalid_request(
                "the request uses two client authentication methods \
                 (a client assertion and a client secret)",
            ));
        }
        return client_assertion::authenticate(shared, params);
    }
    let (method, id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(invalid_request(
                "the request uses two client authentication methods \
                 (Authorization: Basic and client_secret in the body)",
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(invalid_request(
                    "client_id in the body differs from the one in the Basic credentials",
                ));
            }
            (AuthMethod::Basic, id, Some(secret))
        }
        (None, Some(secret)) => {
            let Some(id) = body_id else {
                return Err(invalid_client(
                    "client_secret is in the body but client_id is not",
                ));
            };
            (AuthMethod::Post, id.to_owned(), Some(secret.to_owned()))
        }
        (None, None) => {
            let Some(id) = body_id else {
                return Err(invalid_client(
                    "no client authentication: send Authorization: Basic, or client_id and \
                     client_secret in the body, or client_id alone for a public client",
                ));
            };
            (AuthMethod::None, id.to_owned(), None)
        }
    };
    let Some(client) = shared.client(&id) else {
        return Err(invalid_client(format!("unknown client `{id}`")));
    };
    if client.method() != method {
        return Err(invalid_client(format!(
            "client `{id}` is registered for `{}`, but the request used `{}`",
            client.method().as_str(),
            method.as_str()
        )));
    }
    if let (Some(sent), Some(registered)) = (secret, client.secret())
        && !crate::secret::constant_time_eq(sent.as_bytes(), registered.expose_secret().as_bytes())
    {
        return Err(invalid_client(format!(
            "wrong client secret for client `{id}`"
        )));
    }
    Ok(client)
}

fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

fn authorization_code_grant(
    shared: &Shared,
    client: &TestClient,
    params: &Params,
    resource: Option<&str>,
) -> Result<Response, OAuthError> {
    let Some(code) = params.get("code") else {
        return Err(invalid_request("code is missing"));
    };
    let mut grants = lock(&shared.grants);
    let Some(grant) = grants.codes.get_mut(code) else {
        return Err(invalid_grant("unknown authorization code"));
    };
    if grant.used {
        return Err(invalid_grant(
            "the authorization code was already used (codes are single-use)",
        ));
    }
    // Any redemption attempt by the right client uses the code up.
    grant.used = true;
    if grant.issued.elapsed() > CODE_LIFETIME {
        return Err(invalid_grant(
            "the authorization code expired (codes live 60 seconds)",
        ));
    }
    if grant.client_id != client.id() {
        return Err(invalid_grant(format!(
            "the authorization code was issued to client `{}`, not `{}`",
            grant.client_id,
            client.id()
        )));
    }
    match params.get("redirect_uri") {
        None => {
            return Err(invalid_grant(
                "redirect_uri is missing; it must repeat the authorization request's",
            ));
        }
        Some(uri) if uri != grant.redirect_uri => {
            return Err(invalid_grant(format!(
                "redirect_uri `{uri}` differs from the authorization request's `{}`",
                grant.redirect_uri
            )));
        }
        Some(_) => {}
    }
    match (&grant.code_challenge, params.get("code_verifier")) {
        (Some(_), None) => {
            return Err(invalid_grant(
                "code_verifier is missing (the authorization request had a code_challenge)",
            ));
        }
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_verifier(verifier) {
                return Err(invalid_grant(
                    "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
                ));
            }
            if keys::pkce_s256(verifier) != *challenge {
                return Err(invalid_grant(
                    "PKCE check failed: BASE64URL(SHA256(code_verifier)) is not the code_challenge",
                ));
            }
        }
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let user = grant.user.clone();
    let nonce = grant.nonce.clone();
    let scope = grant.scope.clone();
    let auth_time = grant.auth_time;
    let sid = grant.sid.clone();
    drop(grants);
    Ok(issue_tokens(
        shared,
        client,
        Issue {
            user: &user,
            scope: &scope,
            nonce_claim: Some(&nonce),
            original_nonce: &nonce,
            auth_time,
            refresh: false,
            new_refresh_token: true,
            sid: &sid,
            resource,
        },
    ))
}

fn refresh_grant(
    shared: &Shared,
    client: &TestClient,
    params: &Params,
    resource: Option<&str>,
) -> Result<Response, OAuthError> {
    let Some(token) = params.get("refresh_token") else {
        return Err(invalid_request("refresh_token is missing"));
    };
    let mut grants = lock(&shared.grants);
    let Some(grant) = grants.refresh.get(token) else {
        return Err(invalid_grant(
            "unknown refresh token (refresh tokens are rotated on each use)",
        ));
    };
    if grant.client_id != client.id() {
        return Err(invalid_grant(format!(
            "the refresh token was issued to client `{}`, not `{}`",
            grant.client_id,
            client.id()
        )));
    }
    let granted = grant.scope.clone();
    let scope = match params.get("scope") {
        None => granted,
        Some(asked) => {
            let extra: Vec<&str> = asked
                .split(' ')
                .filter(|s| !granted.split(' ').any(|g| g == *s))
                .collect();
            if !extra.is_empty() {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!("scope `{}` was not granted originally", extra.join(" ")),
                ));
            }
            asked.to_owned()
        }
    };
    // A provider that does not rotate refresh tokens keeps this one valid
    // and sends no new one.
    let rotate = !shared.is(&Misbehavior::NoRefreshTokenRotation);
    let grant = if rotate {
        grants.refresh.remove(token).expect("found above")
    } else {
        grants.refresh.get(token).expect("found above").clone()
    };
    drop(grants);
    // A provider session that was ended (logout) takes its refresh tokens along.
    if !lock(&shared.sessions).contains_key(&grant.sid) {
        return Err(invalid_grant(
            "the user's session at the provider has ended",
        ));
    }
    // The user as now (groups may have changed since the login); a user
    // removed since cannot refresh.
    let Some(mut user) = shared.user_by_hint(grant.user.username()) else {
        return Err(invalid_grant("the user no longer exists"));
    };
    let mut auth_time = grant.auth_time;
    let mut nonce_claim = shared.nonce_on_refresh.then_some(grant.nonce.as_str());
    for misbehavior in shared.misbehaviors() {
        match misbehavior {
            Misbehavior::RefreshNewSubject => {
                let sub = format!("{}-other", user.sub());
                user = Arc::new(TestUser::clone(&user).with_sub(sub));
            }
            Misbehavior::RefreshNewAuthTime => auth_time += 3600,
            Misbehavior::RefreshWrongNonce => nonce_claim = Some("not-the-original-nonce"),
            _ => {}
        }
    }
    Ok(issue_tokens(
        shared,
        client,
        Issue {
            user: &user,
            scope: &scope,
            nonce_claim,
            original_nonce: &grant.nonce,
            auth_time,
            refresh: true,
            new_refresh_token: rotate,
            sid: &grant.sid,
            resource,
        },
    ))
}

/// What a token response is issued for.
struct Issue<'a> {
    user: &'a Arc<TestUser>,
    scope: &'a str,
    /// The ID token's `nonce` claim.
    nonce_claim: Option<&'a str>,
    /// The login's nonce, kept with the refresh token.
    original_nonce: &'a str,
    auth_time: u64,
    /// Whether this answers a refresh grant.
    refresh: bool,
    /// Whether a (new) refresh token is issued, given `offline_access`.
    new_refresh_token: bool,
    sid: &'a str,
    /// The resource (RFC 8707) the access token is for: then a JWT.
    resource: Option<&'a str>,
}

/// The token response: a new access token, an ID token, and a refresh
/// token when the scope has `offline_access`.
fn issue_tokens(shared: &Shared, client: &TestClient, issue: Issue<'_>) -> Response {
    let Issue {
        user,
        scope,
        nonce_claim,
        original_nonce,
        auth_time,
        refresh,
        new_refresh_token,
        sid,
        resource,
    } = issue;
    let access_token = match resource {
        Some(resource) => access::jwt_access_token(
            shared,
            client,
            access::Holder::User { user, auth_time },
            scope,
            resource,
        ),
        None => crate::secret::random_token::<32>(),
    };
    let refresh_token = (new_refresh_token && scope.split(' ').any(|s| s == "offline_access"))
        .then(crate::secret::random_token::<32>);
    let lifetime = shared
        .find(|m| match m {
            Misbehavior::AccessTokenLifetime(lifetime) => Some(*lifetime),
            _ => None,
        })
        .unwrap_or(Duration::from_secs(TOKEN_LIFETIME_SECS));
    {
        let mut grants = lock(&shared.grants);
        let now = Instant::now();
        grants.access.insert(
            access_token.clone(),
            AccessGrant {
                client_id: client.id().to_owned(),
                user: user.clone(),
                expires: now + lifetime,
                scope: scope.to_owned(),
            },
        );
        if let Some(refresh) = &refresh_token {
            grants.refresh.insert(
                refresh.clone(),
                RefreshGrant {
                    client_id: client.id().to_owned(),
                    scope: scope.to_owned(),
                    user: user.clone(),
                    auth_time,
                    nonce: original_nonce.to_owned(),
                    sid: sid.to_owned(),
                },
            );
        }
    }
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(lifetime.as_secs()));
    body.insert("scope".into(), json!(scope));
    if let Some(refresh) = refresh_token {
        body.insert("refresh_token".into(), json!(refresh));
    }
    if !shared.is(&Misbehavior::NoIdToken) {
        let id_token = shared.id_token(
            client,
            user,
            IdTokenContext {
                nonce: nonce_claim,
                auth_time,
                access_token: Some(&access_token),
                refresh,
                sid,
            },
        );
        body.insert("id_token".into(), json!(id_token));
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_is_strict() {
        assert_eq!(form_decode("a%20b+c%2B%3A").as_deref(), Some("a b c+:"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("bad%zz"), None);
        assert_eq!(form_decode("short%2"), None);
        assert_eq!(form_decode("%FF"), None, "not UTF-8");
    }

    #[test]
    fn pkce_verifiers_are_checked_for_shape() {
        assert!(is_pkce_verifier(&"a".repeat(43)));
        assert!(is_pkce_verifier(&"-._~".repeat(32)));
        assert!(!is_pkce_verifier(&"a".repeat(42)));
        assert!(!is_pkce_verifier(&"a".repeat(129)));
        assert!(!is_pkce_verifier(&format!("{}+", "a".repeat(43))));
    }
}
