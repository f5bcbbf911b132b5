//! The few HTML fragments and pages the integration answers with: plain
//! HTML with inline CSS, no external assets. Every value that reaches HTML
//! is escaped. This module uses no other module of the integration.

use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use html_escape::encode_quoted_attribute as escape;

/// The form field that marks a `form_post` callback re-submitted from the
/// app's own origin (so it is not re-submitted twice).
pub(crate) const RESUBMITTED: &str = "oidc_login_resubmitted";

/// The sign-in button: a form that GETs the login route.
///
/// ```
/// use oidc_login::axum::login_button;
///
/// let html = login_button("Sign in with Entra ID", "/login");
/// assert!(html.contains("Sign in with Entra ID"));
/// assert!(html.contains(r#"method="get" action="/login""#));
/// ```
///
/// Use the configured text and the routes' path:
/// `login_button(client.config().login_button_text(), &routes.login_path())`.
pub fn login_button(text: &str, login_path: &str) -> String {
    format!(
        "<form class=\"oidc-login\" method=\"get\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(login_path),
        escape(text)
    )
}

/// The sign-in button of one provider among several: a form that GETs the
/// login route with `provider={name}` (a hidden field: a GET form drops
/// its action's query). [`LoginRoutes::login_buttons`](super::LoginRoutes::login_buttons)
/// makes one per provider.
///
/// ```
/// use oidc_login::axum::provider_login_button;
///
/// let html = provider_login_button("Sign in with PrivX", "/login", "privx");
/// assert!(html.contains(r#"method="get" action="/login""#));
/// assert!(html.contains(r#"name="provider" value="privx""#));
/// ```
pub fn provider_login_button(text: &str, login_path: &str, provider: &str) -> String {
    format!(
        "<form class=\"oidc-login\" method=\"get\" action=\"{}\"><input type=\"hidden\" name=\"provider\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(login_path),
        escape(provider),
        escape(text)
    )
}

/// The sign-out button: a form that POSTs to the logout route
/// ([`LoginRoutes::logout_path`](super::LoginRoutes::logout_path)). A POST,
/// never a link: a GET could be fired by any page that embeds an image. The
/// route refuses a POST from a page of another origin, a sibling subdomain
/// included (whose POST would carry the `SameSite=Lax` session cookie), so
/// put the button on this app's own pages.
///
/// ```
/// use oidc_login::axum::logout_button;
///
/// let html = logout_button("Sign out", "/auth/logout");
/// assert!(html.contains(r#"method="post" action="/auth/logout""#));
/// assert!(html.contains("Sign out"));
/// ```
pub fn logout_button(text: &str, logout_path: &str) -> String {
    format!(
        "<form class=\"oidc-logout\" method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(logout_path),
        escape(text)
    )
}

#[cfg(feature = "break-glass")]
/// The break-glass local sign-in form: username and password, POSTed to
/// the `{prefix}/local-login` route ([`LoginRoutes::break_glass`](super::LoginRoutes::break_glass)).
/// Show it only while break-glass is switched on, beside the
/// [`login_button`], marked as the emergency way in that it is.
///
/// ```
/// use oidc_login::axum::break_glass_form;
///
/// let html = break_glass_form("/local-login");
/// assert!(html.contains(r#"type="password""#));
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

/// A whole page: `title` (escaped here) and `body` (HTML, escaped by the
/// caller), in the demo's plain style.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222\">\
         <h1 style=\"font-size:1.6rem\">{}</h1>{body}</body></html>",
        escape(title),
        escape(title),
    )
}

/// The script of the [`resubmit`] page; [`RESUBMIT_CSP`] allows it by its
/// SHA-256 hash (a test recomputes it).
const RESUBMIT_SCRIPT: &str = "document.forms[0].submit()";

/// The Content-Security-Policy of the pages with inline styles and no
/// script: nothing loads, forms post only to this origin, no page may frame
/// them (clickjacking of the break-glass form), no `<base>` moves links.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The same for the [`resubmit`] page: its one script, by hash, no style.
const RESUBMIT_CSP: &str = concat!(
    "default-src 'none'; script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='; ",
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
);

/// The headers every page of this crate sends besides its CSP: framing
/// refused for browsers without `frame-ancestors`, no `Referer` (a refused
/// callback's URL holds the code and state), no content sniffing.
pub(crate) const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

/// An HTML answer that no cache keeps, with [`PAGE_CSP`].
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    html_with_policy(status, body, PAGE_CSP)
}

fn html_with_policy(status: StatusCode, body: String, csp: &'static str) -> Response {
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        body,
    )
        .into_response();
    for (name, value) in PAGE_HEADERS {
        response
            .headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// A refusal page: the title, one sentence, the error code. No detail that
/// could help an attacker or leak a secret; the detail goes to the log.
pub(crate) fn refusal(title: &str, message: &str, code: &str) -> String {
    page(
        title,
        &format!(
            "<p style=\"background:#f8d7da;padding:.75rem 1rem;border-radius:.25rem\">{}</p>\
             <p style=\"color:#555;font-size:.9rem\">Error code: <code>{}</code></p>\
             <p><a href=\"/\">Back to the start page</a></p>",
            escape(message),
            escape(code)
        ),
    )
}

#[cfg(feature = "break-glass")]
/// The page of `GET {prefix}/local-login`: the break-glass form alone.
pub(crate) fn break_glass_page(action: &str) -> Response {
    let body = format!(
        "<div style=\"background:#f8d7da;padding:.75rem 1rem;border-radius:.25rem\">{}</div>",
        break_glass_form(action)
    );
    html(StatusCode::OK, page("Emergency sign-in", &body))
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
         <body><form method=\"post\" action=\"{}\">{inputs}<input type=\"hidden\" name=\"{RESUBMITTED}\" value=\"1\">\
         <p>Finishing sign-in… <button type=\"submit\">Continue</button></p></form>\
         <script>{RESUBMIT_SCRIPT}</script></body></html>",
        escape(action),
    );
    html_with_policy(StatusCode::OK, body, RESUBMIT_CSP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_are_escaped() {
        for html in [
            login_button("\"><script>alert(1)</script>", "/login\"><x"),
            provider_login_button("\"><script>alert(1)</script>", "/login\"><x", "a\"><x"),
            logout_button("\"><script>alert(1)</script>", "/logout\"><x"),
            break_glass_form("/local-login\"><script>alert(1)</script>"),
            refusal("<script>alert(1)</script>", "\"><script>", "<x>"),
        ] {
            assert!(
                !html.contains("<script>") && !html.contains("\"><x"),
                "{html}"
            );
        }
        let fields = [("code\"><script>".to_owned(), "v'\"<>&".to_owned())];
        let response = resubmit("/callback", &fields);
        let body = futures_body(response);
        assert!(
            !body.contains("<script>alert") && !body.contains("code\">"),
            "{body}"
        );
        assert!(body.contains("v&#x27;&quot;&lt;&gt;&amp;"), "{body}");
    }

    #[test]
    fn the_resubmit_script_is_the_one_its_policy_allows() {
        use base64::Engine as _;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, RESUBMIT_SCRIPT.as_bytes());
        let hash = format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        );
        assert!(
            RESUBMIT_CSP.contains(&format!("script-src {hash};")),
            "{RESUBMIT_CSP} must allow {hash}"
        );
        let response = resubmit("/callback", &[("code".into(), "c".into())]);
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            RESUBMIT_CSP
        );
        let body = futures_body(response);
        assert!(
            body.contains(&format!("<script>{RESUBMIT_SCRIPT}</script>")),
            "{body}"
        );
        // No other script, and no inline style that the policy would block.
        assert_eq!(body.matches("<script").count(), 1, "{body}");
        assert!(!body.contains("style="), "{body}");
    }

    #[test]
    fn every_page_refuses_framing_referrers_and_loading() {
        for (response, csp) in [
            (
                html(StatusCode::FORBIDDEN, refusal("t", "m", "c")),
                PAGE_CSP,
            ),
            (break_glass_page("/local-login"), PAGE_CSP),
            (resubmit("/callback", &[]), RESUBMIT_CSP),
        ] {
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], csp);
            for directive in [
                "default-src 'none'",
                "frame-ancestors 'none'",
                "form-action 'self'",
                "base-uri 'none'",
            ] {
                assert!(csp.contains(directive), "{csp}");
            }
            assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        }
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
