//! Sign-out at the provider: `end_session` (OpenID Connect RP-Initiated
//! Logout 1.0) and the back-channel logout requests it sends to clients
//! (Back-Channel Logout 1.0).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::html;
use super::server::{AppState, Params};
use super::state::{ProviderSession, Shared, lock, unix_now};

/// The `events` member of a logout token.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub(super) async fn end_session_get(state: AppState, RawQuery(query): RawQuery) -> Response {
    end_session(state, query.unwrap_or_default().as_bytes()).await
}

pub(super) async fn end_session_post(state: AppState, body: Bytes) -> Response {
    end_session(state, &body).await
}

/// Checks the request, ends the provider session named by the
/// `id_token_hint`'s `sid`, notifies the clients of that session over the
/// back channel, then redirects to `post_logout_redirect_uri` (with
/// `state`) or shows a "signed out" page.
async fn end_session(State(shared): AppState, raw: &[u8]) -> Response {
    shared.logout_requests.fetch_add(1, Ordering::SeqCst);
    let params = match Params::parse(raw) {
        Ok(params) if params.repeated.is_empty() => params,
        Ok(params) => return bad_request(&format!("`{}` is repeated", params.repeated[0])),
        Err(message) => return bad_request(&message),
    };
    let hint = match params.get("id_token_hint").map(|t| hint_claims(&shared, t)) {
        Some(Ok(claims)) => Some(claims),
        Some(Err(message)) => return bad_request(message),
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|claims| match &claims["aud"] {
        Value::String(aud) => Some(aud.clone()),
        Value::Array(auds) => auds.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    let client_id = match (params.get("client_id"), hinted_client.as_deref()) {
        (Some(given), Some(hinted)) if given != hinted => {
            return bad_request("`client_id` is not the audience of `id_token_hint`");
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, hinted) => hinted.map(str::to_owned),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client) = client_id.as_deref().and_then(|id| shared.client(id)) else {
                return bad_request(
                    "`post_logout_redirect_uri` needs a known client (`client_id` or `id_token_hint`)",
                );
            };
            if !client.allows_post_logout_redirect(uri) {
                return bad_request("`post_logout_redirect_uri` is not registered for this client");
            }
            Some(uri.to_owned())
        }
    };

    if let Some(sid) = hint.as_ref().and_then(|claims| claims["sid"].as_str()) {
        let ended: Vec<ProviderSession> = lock(&shared.sessions).remove(sid).into_iter().collect();
        send_backchannel_logouts(&shared, &ended).await;
    } else if let Some(sub) = hint.as_ref().and_then(|claims| claims["sub"].as_str()) {
        let ended = take_sessions(&shared, |session| session.sub == sub);
        send_backchannel_logouts(&shared, &ended).await;
    }

    match redirect {
        Some(uri) => {
            let mut url = match url::Url::parse(&uri) {
                Ok(url) => url,
                Err(_) => return bad_request("`post_logout_redirect_uri` is not a URL"),
            };
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Redirect::to(url.as_str()).into_response()
        }
        None => (
            [(header::CACHE_CONTROL, "no-store")],
            Html(html::signed_out_page()),
        )
            .into_response(),
    }
}

/// The claims of an `id_token_hint`: one this provider issued (its issuer),
/// expired or not, as the spec allows.
fn hint_claims(shared: &Shared, token: &str) -> Result<Value, &'static str> {
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or("`id_token_hint` is not a JWT")?;
    let issuer = payload["iss"].as_str().unwrap_or_default();
    if !issuer.starts_with(shared.base.as_str()) {
        return Err("`id_token_hint` was not issued by this provider");
    }
    Ok(payload)
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html::error_page(message)),
    )
        .into_response()
}

/// Removes and returns the provider sessions that match.
pub(super) fn take_sessions(
    shared: &Shared,
    matches: impl Fn(&ProviderSession) -> bool,
) -> Vec<ProviderSession> {
    lock(&shared.sessions).take_matching(matches)
}

/// POSTs a logout token for each ended session to its client's back-channel
/// logout URI, one after the other; the HTTP statuses the clients answered
/// (0 when a request failed).
pub(super) async fn send_backchannel_logouts(
    shared: &Arc<Shared>,
    ended: &[ProviderSession],
) -> Vec<u16> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds");
    let mut statuses = Vec::new();
    for session in ended {
        let Some(client) = shared.client(&session.client_id) else {
            continue;
        };
        let Some(uri) = client.registered_backchannel_logout_uri() else {
            continue;
        };
        let now = unix_now();
        let claims = json!({
            "iss": shared.issuer,
            "aud": client.id(),
            "iat": now,
            "exp": now + 120,
            "jti": crate::secret::random_token::<16>(),
            "sub": session.sub,
            "sid": session.sid,
            "events": { LOGOUT_EVENT: {} },
        });
        let token = shared.sign_plain(&claims, &shared.hmac_secret_for(Some(client.id())));
        let status = http
            .post(uri)
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_or(0, |response| response.status().as_u16());
        tracing::debug!(target: "oidc_login::testing", client = client.id(), status, "back-channel logout sent");
        statuses.push(status);
    }
    statuses
}
