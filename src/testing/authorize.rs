//! The authorization endpoint: request checks, the sign-in page, codes.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::html;
use super::misbehavior::Misbehavior;
use super::model::TestClient;
use super::server::{AppState, Params, is_form};
use super::state::{CodeGrant, IdTokenContext, Shared, lock};

fn bad_request_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html::error_page(message)),
    )
        .into_response()
}

pub(super) async fn authorize_get(State(shared): AppState, RawQuery(query): RawQuery) -> Response {
    match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&shared, &params),
        Err(message) => bad_request_page(&message),
    }
}

pub(super) async fn authorize_post(
    State(shared): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return bad_request_page("a POST to /authorize must be application/x-www-form-urlencoded");
    }
    match Params::parse(&body) {
        Ok(params) => authorize(&shared, &params),
        Err(message) => bad_request_page(&message),
    }
}

/// Where and how the authorization response goes back to the client.
struct Reply<'a> {
    shared: &'a Shared,
    redirect_uri: &'a str,
    form_post: bool,
    state: Option<&'a str>,
    /// The `iss` sent back, once the user is known (Entra mode: the user's
    /// tenant issuer); the provider's issuer before.
    issuer: Option<String>,
}

impl Reply<'_> {
    fn error(&self, error: &str, description: &str) -> Response {
        self.send(vec![
            ("error".to_owned(), error.to_owned()),
            ("error_description".to_owned(), description.to_owned()),
        ])
    }

    /// Adds `state` and `iss`, then redirects or form-posts.
    fn send(&self, mut params: Vec<(String, String)>) -> Response {
        if let Some(state) = self.state {
            params.push(("state".to_owned(), state.to_owned()));
        }
        let shared = self.shared;
        if shared.is(&Misbehavior::WrongIssInCallback) {
            params.push(("iss".to_owned(), shared.wrong_issuer()));
        } else if shared.iss_parameter && !shared.is(&Misbehavior::NoIssInCallback) {
            let issuer = self.issuer.clone().unwrap_or_else(|| shared.issuer.clone());
            params.push(("iss".to_owned(), issuer));
        }
        if self.form_post {
            return (
                [(header::CACHE_CONTROL, "no-store")],
                Html(html::form_post_page(self.redirect_uri, &params)),
            )
                .into_response();
        }
        let Ok(mut url) = url::Url::parse(self.redirect_uri) else {
            return bad_request_page(&format!(
                "the registered redirect_uri `{}` is not an absolute URL",
                self.redirect_uri
            ));
        };
        url.query_pairs_mut().extend_pairs(&params);
        match HeaderValue::from_str(url.as_str()) {
            Ok(location) => (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response(),
            Err(_) => bad_request_page("the redirect URI cannot be sent in a Location header"),
        }
    }
}

fn authorize(shared: &Shared, params: &Params) -> Response {
    // Errors before the client and redirect URI are known go to the browser.
    for name in ["client_id", "redirect_uri"] {
        if params.repeated.iter().any(|r| r == name) {
            return bad_request_page(&format!("`{name}` appears more than once"));
        }
    }
    let Some(client_id) = params.get("client_id") else {
        return bad_request_page("the authorization request has no `client_id`");
    };
    let Some(client) = shared.client(client_id) else {
        let known: Vec<&str> = shared.clients.iter().map(TestClient::id).collect();
        return bad_request_page(&format!(
            "unknown client_id `{client_id}`; registered clients: {}",
            known.join(", ")
        ));
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return bad_request_page("the authorization request has no `redirect_uri`");
    };
    if !client.allows_redirect(redirect_uri) {
        let registered = client.registered_redirect_uris();
        return bad_request_page(&if registered.is_empty() {
            format!(
                "redirect_uri `{redirect_uri}` is not an http loopback URI, the only kind \
                 client `{client_id}` accepts"
            )
        } else {
            format!(
                "redirect_uri `{redirect_uri}` is not registered for client `{client_id}` \
                 (registered: {})",
                registered.join(", ")
            )
        });
    }

    // From here on, errors go back to the client.
    let mut reply = Reply {
        shared,
        redirect_uri,
        form_post: params.get("response_mode") == Some("form_post"),
        state: params.get("state"),
        issuer: None,
    };
    if let Some(name) = params.repeated.first() {
        return reply.error(
            "invalid_request",
            &format!("parameter `{name}` appears more than once"),
        );
    }
    match params.get("response_mode") {
        None | Some("query" | "form_post") => {}
        Some(other) => {
            return reply.error(
                "invalid_request",
                &format!("response_mode `{other}` is not supported (query, form_post)"),
            );
        }
    }
    let implicit = match params.get("response_type") {
        Some("code") => false,
        Some("id_token") if client.allows_implicit() => true,
        Some("id_token") => {
            return reply.error(
                "unauthorized_client",
                &format!(
                    "client `{client_id}` may not use the implicit flow (response_type=id_token); \
                     register it with TestClient::allow_implicit"
                ),
            );
        }
        None => return reply.error("invalid_request", "response_type is missing"),
        Some(other) => {
            return reply.error(
                "unsupported_response_type",
                &format!("response_type must be `code` (or `id_token` for an implicit client), got `{other}`"),
            );
        }
    };
    if implicit && !reply.form_post {
        return reply.error(
            "invalid_request",
            "this provider answers the implicit flow only with response_mode=form_post",
        );
    }
    let scope = params.get("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return reply.error(
            "invalid_scope",
            &format!("scope must contain `openid`, got `{scope}`"),
        );
    }
    // PKCE protects codes; the implicit flow issues none.
    let code_challenge = match params.get("code_challenge") {
        Some(challenge) if !implicit => Some(challenge),
        None if !implicit && client.requires_pkce() => {
            return reply.error(
                "invalid_request",
                "code_challenge is required: this provider enforces PKCE (S256)",
            );
        }
        _ => None,
    };
    if let Some(code_challenge) = code_challenge {
        match params.get("code_challenge_method") {
            Some("S256") => {}
            None => {
                return reply.error(
                    "invalid_request",
                    "code_challenge_method is missing (it would mean `plain`); only S256 is accepted",
                );
            }
            Some(other) => {
                return reply.error(
                    "invalid_request",
                    &format!("code_challenge_method must be `S256`, got `{other}`"),
                );
            }
        }
        if code_challenge.len() != 43
            || !code_challenge
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return reply.error(
                "invalid_request",
                "code_challenge must be BASE64URL(SHA256(code_verifier)): 43 characters of [A-Za-z0-9_-]",
            );
        }
    }
    if reply.state.is_none() {
        return reply.error("invalid_request", "state is required by this provider");
    }
    let Some(nonce) = params.get("nonce") else {
        return reply.error("invalid_request", "nonce is required by this provider");
    };

    // Who signs in: the user picked on the sign-in page, or the login_hint.
    let user = if let Some(username) = params.get("username") {
        match shared.user_by_username(username) {
            Some(user) => user,
            None => return bad_request_page(&format!("there is no user `{username}`")),
        }
    } else if let Some(user) = params
        .get("login_hint")
        .and_then(|h| shared.user_by_hint(h))
    {
        user
    } else if params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|p| p == "none"))
    {
        return reply.error(
            "login_required",
            "prompt=none, and login_hint names no configured user",
        );
    } else {
        let users = lock(&shared.users).clone();
        return (
            [(header::CACHE_CONTROL, "no-store")],
            Html(html::sign_in_page(
                &shared.issuer,
                client_id,
                &params.without("username"),
                &users,
            )),
        )
            .into_response();
    };

    reply.issuer = Some(shared.token_issuer(&user));
    if let Some((error, description)) = shared.find(|m| match m {
        Misbehavior::AuthorizeError(error) => Some((
            error.clone(),
            format!("the test provider was told to answer `{error}`"),
        )),
        Misbehavior::AuthorizeErrorDescribed { error, description } => {
            Some((error.clone(), description.clone()))
        }
        _ => None,
    }) {
        return reply.error(&error, &description);
    }

    let authentication = super::step_up::authenticate(shared, &user, params);
    if implicit {
        // The ID token itself is the response; there is no access token.
        let sid = shared.new_session(&user, client);
        super::step_up::bind_session(shared, &sid, &authentication);
        let id_token = shared.id_token(
            client,
            &user,
            IdTokenContext {
                nonce: Some(nonce),
                auth_time: authentication.at,
                access_token: None,
                refresh: false,
                sid: &sid,
            },
        );
        return reply.send(vec![("id_token".to_owned(), id_token)]);
    }

    let code = crate::secret::random_token::<32>();
    let sid = shared.new_session(&user, client);
    super::step_up::bind_session(shared, &sid, &authentication);
    let mut grants = lock(&shared.grants);
    grants.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: code_challenge.map(str::to_owned),
            nonce: nonce.to_owned(),
            scope: scope.to_owned(),
            user,
            auth_time: authentication.at,
            issued: Instant::now(),
            used: false,
            sid,
        },
    );
    drop(grants);
    reply.send(vec![("code".to_owned(), code)])
}
