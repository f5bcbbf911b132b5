//! The provider's HTTP endpoints: routing, discovery, keys, userinfo, and
//! helpers shared by the authorization and token endpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::access::revoke;
use super::authorize::{authorize_get, authorize_post};
use super::entra;
use super::keys::b64;
use super::logout::{end_session_get, end_session_post};
use super::misbehavior::Misbehavior;
use super::state::{Shared, lock};
use super::token::token;

// ----- router -----------------------------------------------------------

pub(super) fn router(shared: Arc<Shared>) -> Router {
    // The issuer's path (PrivX: `/oidc/<provider id>/`), without its final `/`.
    let prefix = url::Url::parse(&shared.base)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let endpoints = endpoints(shared);
    if prefix.is_empty() {
        endpoints
    } else {
        Router::new().nest(&prefix, endpoints).fallback(not_found)
    }
}

fn endpoints(shared: Arc<Shared>) -> Router {
    let router = if shared.entra.is_some() {
        entra::routes()
    } else {
        Router::new()
    };
    router
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/jwks-redirected", get(jwks_redirected))
        .route("/attacker-jwks", get(attacker_jwks))
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/logout", get(end_session_get).post(end_session_post))
        .route("/revoke", post(revoke))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            http_misbehavior,
        ))
        .with_state(shared)
}

pub(super) type AppState = State<Arc<Shared>>;

/// Counts key-set, discovery and revocation requests as they arrive (so one a client
/// gives up on still counts), then applies the misbehaviours of the HTTP
/// layer: [`Misbehavior::SlowResponses`], [`Misbehavior::SlowEndpoint`],
/// [`Misbehavior::ErrorStatus`], [`Misbehavior::NonJsonResponse`],
/// [`Misbehavior::RedirectEndpoint`], [`Misbehavior::HugeResponse`] and
/// [`Misbehavior::TruncatedResponse`].
async fn http_misbehavior(State(shared): AppState, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if matches!(path.as_str(), "/jwks" | "/jwks-redirected") {
        shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    }
    if path.ends_with("/.well-known/openid-configuration") {
        shared.discovery_requests.fetch_add(1, Ordering::SeqCst);
    }
    if path == "/revoke" {
        shared.revocation_requests.fetch_add(1, Ordering::SeqCst);
    }
    // The endpoint name a misbehaviour gives, when it names this path.
    let names_this = |name: &str| path.strip_prefix('/') == Some(name);
    let delay = shared.find(|m| match m {
        Misbehavior::SlowResponses(delay) => Some(*delay),
        Misbehavior::SlowEndpoint(name, delay) if names_this(name) => Some(*delay),
        _ => None,
    });
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let status = shared.find(|m| match m {
        Misbehavior::ErrorStatus(name, status) if names_this(name) => Some(*status),
        _ => None,
    });
    if let Some(status) = status {
        return error_page(status);
    }
    if shared
        .find(|m| matches!(m, Misbehavior::NonJsonResponse(name) if names_this(name)).then_some(()))
        .is_some()
    {
        return maintenance_page();
    }
    let redirect = shared.find(|m| match m {
        Misbehavior::RedirectEndpoint(name) if names_this(name) => Some(*name),
        _ => None,
    });
    if let Some(name) = redirect
        && request.uri().query() != Some("redirected=true")
    {
        let location = format!("{}?redirected=true", shared.endpoint(name));
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    let huge = shared
        .find(|m| matches!(m, Misbehavior::HugeResponse(name) if names_this(name)).then_some(()))
        .is_some();
    let truncated = shared
        .find(|m| {
            matches!(m, Misbehavior::TruncatedResponse(name) if names_this(name)).then_some(())
        })
        .is_some();
    let response = next.run(request).await;
    if huge {
        padded(response).await
    } else if truncated {
        cut_short(response).await
    } else {
        response
    }
}

/// A proxy's error page with `status`, as nginx sends one.
fn error_page(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!(
            "<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\n"
        ),
    )
        .into_response()
}

/// A proxy's maintenance page, answered `200 OK`.
fn maintenance_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html><html><head><title>Down for maintenance</title></head>\
         <body><h1>We'll be back soon</h1><p>The sign-in service is being upgraded.</p></body></html>\n",
    )
        .into_response()
}

/// The response's status and headers, with `Content-Length` saying the
/// whole body, then half the body and a dropped connection.
async fn cut_short(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half: Result<axum::body::Bytes, std::io::Error> = Ok(bytes.slice(..bytes.len() / 2));
    let cut = async {
        // Pending for a moment: hyper sends what it has (the head and half
        // the body) before the failure drops the connection.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the test provider cuts this answer short (Misbehavior::TruncatedResponse)",
        ))
    };
    // A body of unknown length: hyper then trusts the header, and closes
    // the connection when the stream fails.
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([half]),
        futures_util::stream::once(cut),
    );
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// The response with more than 1 MiB of JSON whitespace after its body.
async fn padded(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let mut bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default();
    bytes.resize(bytes.len() + 1_200_000, b' ');
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "the test provider has no endpoint `{method} {}`; it serves \
             /.well-known/openid-configuration, /jwks, /authorize, /token, /userinfo, /logout and /revoke \
             (under the issuer's path, when it has one)\n",
            uri.path()
        ),
    )
        .into_response()
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

// ----- discovery and keys -------------------------------------------------

async fn discovery(State(shared): AppState) -> Response {
    let issuer = if shared.is(&Misbehavior::WrongIssuerInMetadata) {
        shared.wrong_issuer()
    } else {
        shared.issuer.clone()
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        discovery_document(&shared, &issuer).to_string(),
    )
        .into_response()
}

/// The discovery document naming `issuer`; the endpoints are the provider's.
pub(super) fn discovery_document(shared: &Shared, issuer: &str) -> Value {
    let base = &shared.base;
    let mut claims: Vec<String> = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "azp",
        "name",
        "preferred_username",
        "email",
        "email_verified",
        "groups",
    ]
    .map(String::from)
    .into();
    for user in lock(&shared.users).iter() {
        for name in user.extra_claims().keys() {
            if !claims.contains(name) {
                claims.push(name.clone());
            }
        }
    }
    // `id_token` (the implicit flow) only when a client may use it.
    let implicit = shared.clients.iter().any(|c| c.allows_implicit());
    let (response_types, grant_types) = if implicit {
        (
            json!(["code", "id_token"]),
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "implicit"
            ]),
        )
    } else {
        (
            json!(["code"]),
            json!(["authorization_code", "refresh_token", "client_credentials"]),
        )
    };
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": response_types,
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [shared.alg.as_str()],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
            "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
        ],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": claims,
        "authorization_response_iss_parameter_supported": shared.iss_parameter,
        "end_session_endpoint": format!("{base}/logout"),
        "revocation_endpoint": format!("{base}/revoke"),
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none",
        ],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    if let Some(member) = shared.find(|m| match m {
        Misbehavior::UnreachableEndpoint(member) => Some(*member),
        _ => None,
    }) {
        let unreachable = document[member]
            .as_str()
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| format!("{}{}", shared.closed_base, url.path()));
        if let Some(unreachable) = unreachable {
            document[member] = json!(unreachable);
        }
    }
    if let Some(member) = shared.find(|m| match m {
        Misbehavior::InsecureEndpoint(member) => Some(*member),
        _ => None,
    }) {
        let insecure = document[member]
            .as_str()
            .and_then(|url| url::Url::parse(url).ok())
            .and_then(|mut url| {
                url.set_host(Some("0.0.0.0")).ok()?;
                Some(url.to_string())
            });
        if let Some(insecure) = insecure {
            document[member] = json!(insecure);
        }
    }
    if let (Some(member), Some(members)) = (
        shared.find(|m| match m {
            Misbehavior::MetadataWithout(member) => Some(*member),
            _ => None,
        }),
        document.as_object_mut(),
    ) {
        members.remove(member);
    }
    document
}

fn jwks_body(shared: &Shared) -> String {
    let (current, decoy, mismatched, foreign) = {
        let keys = lock(&shared.keys);
        (
            keys.current.clone(),
            keys.decoy.clone(),
            keys.mismatched.clone(),
            keys.foreign.clone(),
        )
    };
    let mut published: Vec<Value> = Vec::new();
    if shared.is(&Misbehavior::JunkJwks) {
        published.extend(junk_keys(current.public_jwk(), current.kid()));
    }
    published.extend(current.public_jwk());
    if shared.is(&Misbehavior::NoKidMultipleKeys) {
        published.extend(decoy.and_then(|decoy| decoy.public_jwk()));
    }
    if shared.is(&Misbehavior::KidOfAnotherKeyType) {
        published.extend(mismatched.and_then(|key| key.public_jwk()));
    }
    if shared
        .find(|m| matches!(m, Misbehavior::SignsWith(_)).then_some(()))
        .is_some()
    {
        published.extend(foreign.and_then(|key| key.public_jwk()));
    }
    if shared.is(&Misbehavior::HugeJwks) {
        // Copies of a real key under padding kids, until well past 1 MiB.
        let template = current
            .public_jwk()
            .unwrap_or_else(|| json!({"kty": "oct", "k": "A".repeat(512)}));
        let mut size = 0;
        let mut n = 0;
        while size < 1_200_000 {
            let mut pad = template.clone();
            pad["kid"] = json!(format!("padding-{n}"));
            size += pad.to_string().len() + 1;
            published.push(pad);
            n += 1;
        }
    }
    json!({ "keys": published }).to_string()
}

/// The unusable entries of [`Misbehavior::JunkJwks`], all under `kid`.
fn junk_keys(real: Option<Value>, kid: &str) -> Vec<Value> {
    // An odd 1024-bit number: the modulus of a key too weak to use.
    let mut weak_modulus = [0x5au8; 128];
    weak_modulus[0] = 0xc1;
    let mut junk = Vec::new();
    if let Some(mut encryption) = real {
        encryption["use"] = json!("enc");
        junk.push(encryption);
    }
    junk.extend([
        json!({"kid": kid, "kty": "AKP", "alg": "ML-DSA-44", "pub": b64([7u8; 32])}),
        json!({"kid": kid, "kty": "EC", "crv": "P-192", "x": b64([1u8; 24]), "y": b64([2u8; 24])}),
        json!({"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": b64(weak_modulus), "e": "AQAB"}),
        json!({"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": "not base64url!", "e": "AQAB"}),
        json!("not a key"),
    ]);
    junk
}

async fn jwks(State(shared): AppState) -> Response {
    if shared.is(&Misbehavior::RedirectJwks) {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, shared.endpoint("jwks-redirected"))],
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        jwks_body(&shared),
    )
        .into_response()
}

async fn jwks_redirected(State(shared): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        jwks_body(&shared),
    )
        .into_response()
}

async fn attacker_jwks(State(shared): AppState) -> Response {
    let attacker = lock(&shared.keys).attacker.clone();
    let keys: Vec<Value> = attacker
        .and_then(|key| key.public_jwk())
        .into_iter()
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "keys": keys }).to_string(),
    )
        .into_response()
}

/// Parsed form or query parameters, in order, with repeated names noted.
pub(super) struct Params {
    pub(super) pairs: Vec<(String, String)>,
    pub(super) repeated: Vec<String>,
}

impl Params {
    pub(super) fn parse(raw: &[u8]) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
            .map_err(|err| format!("the parameters are not valid form-urlencoding: {err}"))?;
        let mut repeated = Vec::new();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == name) && !repeated.contains(name) {
                repeated.push(name.clone());
            }
        }
        Ok(Self { pairs, repeated })
    }

    /// The value of `name`; empty values count as absent (RFC 6749 3.1).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    pub(super) fn without(&self, name: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(n, _)| n != name)
            .cloned()
            .collect()
    }
}

pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

// ----- userinfo --------------------------------------------------------------

fn bearer_error(error: Option<&str>, description: &str) -> Response {
    let challenge = match error {
        Some(error) => format!(
            "Bearer realm=\"test-provider\", error=\"{error}\", error_description=\"{description}\""
        ),
        None => "Bearer realm=\"test-provider\"".to_owned(),
    };
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({
            "error": error.unwrap_or("invalid_request"),
            "error_description": description,
        }),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("the challenge is ASCII"),
    );
    response
}

async fn userinfo(State(shared): AppState, headers: HeaderMap) -> Response {
    shared.userinfo_requests.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return bearer_error(
            None,
            "send the access token as Authorization: Bearer <token>",
        );
    };
    let user = {
        let grants = lock(&shared.grants);
        match grants.access.get(&token) {
            None => return bearer_error(Some("invalid_token"), "unknown access token"),
            Some(grant) if grant.expires <= Instant::now() => {
                return bearer_error(Some("invalid_token"), "the access token expired");
            }
            Some(grant) => grant.user.clone(),
        }
    };
    let mut claims = user.profile_claims();
    let sub = if shared.is(&Misbehavior::UserinfoWrongSub) {
        "someone-else-0000"
    } else {
        user.sub()
    };
    claims.insert("sub".into(), json!(sub));
    entra::userinfo_claims(&shared, &user, &mut claims);
    json_response(StatusCode::OK, &Value::Object(claims))
}
