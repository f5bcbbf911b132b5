//! The few HTML fragments the integration answers with. Every value that
//! reaches HTML is escaped.

use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use html_escape::encode_quoted_attribute as escape;

/// The sign-in button: a form that GETs the login route.
///
/// ```
/// let html = oidc_login::axum::login_button("Sign in with Entra ID", "/login");
/// assert!(html.contains("Sign in with Entra ID"));
/// ```
///
/// Use the configured text: `login_button(client.config().login_button_text(), "/login")`.
pub fn login_button(text: &str, login_path: &str) -> String {
    format!(
        "<form class=\"oidc-login\" method=\"get\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(login_path),
        escape(text)
    )
}

/// The break-glass local sign-in form: username and password, POSTed to
/// the `{prefix}/local-login` route ([`LoginRoutes::break_glass`](super::LoginRoutes::break_glass)).
/// Show it only while break-glass is switched on, beside the
/// [`login_button`], marked as the emergency way in that it is.
///
/// ```
/// let html = oidc_login::axum::break_glass_form("/local-login");
/// assert!(html.contains("type=\"password\""));
/// ```
pub fn break_glass_form(action: &str) -> String {
    format!(
        "<form class=\"oidc-login-break-glass\" method=\"post\" action=\"{}\">\
         <p><strong>Emergency local sign-in</strong> (use only when the identity provider is down)</p>\
         <label>Username <input name=\"username\" autocomplete=\"username\" required></label> \
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label> \
         <button type=\"submit\">Sign in locally</button></form>",
        escape(action)
    )
}

/// The page of `GET {prefix}/local-login`: the break-glass form alone.
pub(crate) fn break_glass_page(action: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Emergency sign-in</title></head>\
         <body><h1>Emergency sign-in</h1>{}</body></html>",
        break_glass_form(action)
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

/// A short refusal page: a title, one sentence, the error code. No detail
/// that could help an attacker or leak a secret; the detail goes to the log.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in refused</title></head>\
         <body><h1>Sign-in refused</h1><p>{}</p><p>Error code: <code>{}</code></p>\
         <p><a href=\"/\">Back to the start page</a></p></body></html>",
        escape(message),
        escape(code)
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

/// Re-submits a cross-site `form_post` callback from the app's own origin,
/// so that the browser sends the `SameSite=Lax` session cookie with it.
pub(crate) fn resubmit(action: &str, fields: &[(String, String)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\
         <body><form method=\"post\" action=\"{}\">{inputs}<input type=\"hidden\" name=\"{}\" value=\"1\">\
         <p>Finishing sign-in… <button type=\"submit\">Continue</button></p></form>\
         <script>document.forms[0].submit()</script></body></html>",
        escape(action),
        super::routes::RESUBMITTED
    );
    (
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_are_escaped() {
        let html = login_button("\"><script>alert(1)</script>", "/login\"><x");
        assert!(
            !html.contains("<script>") && !html.contains("\"><x"),
            "{html}"
        );
        let fields = [("code\"><script>".to_owned(), "v'\"<>&".to_owned())];
        let response = resubmit("/callback", &fields);
        let body = futures_body(response);
        assert!(
            !body.contains("<script>alert") && !body.contains("code\">"),
            "{body}"
        );
        assert!(body.contains("v&#x27;&quot;&lt;&gt;&amp;"), "{body}");
    }

    fn futures_body(response: Response) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(::axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
