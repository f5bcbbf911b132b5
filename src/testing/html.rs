//! The provider's HTML: sign-in page, form_post response, error page.
//!
//! Every value that reaches HTML goes through [`escape`].

use std::fmt::Write as _;
use std::sync::Arc;

use super::model::TestUser;

/// Escapes text for HTML element content and quoted attribute values
/// (`&`, `<`, `>`, `"` and `'`).
pub(super) fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #222; }}\n\
         form {{ margin: 0.5rem 0; }}\n\
         button {{ width: 100%; padding: 0.75rem; font-size: 1rem; text-align: left; cursor: pointer; }}\n\
         small {{ color: #666; }}\n\
         .note {{ color: #666; font-size: 0.85rem; }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn hidden_inputs(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in params {
        let _ = writeln!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    out
}

/// The sign-in page: one POST form per user, each carrying the original
/// authorization request parameters and the chosen `username`.
pub(super) fn sign_in_page(
    issuer: &str,
    client_id: &str,
    params: &[(String, String)],
    users: &[Arc<TestUser>],
) -> String {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>Sign in</h1>");
    let _ = writeln!(
        body,
        "<p>The test provider at <code>{}</code> signs you in to <code>{}</code> as:</p>",
        escape(issuer),
        escape(client_id)
    );
    if users.is_empty() {
        let _ = writeln!(body, "<p>No users are configured.</p>");
    }
    let hidden = hidden_inputs(params);
    // The authorization endpoint's path, under the issuer's path if any.
    let base_path = url::Url::parse(issuer)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let action = format!("{base_path}/authorize");
    for user in users {
        let label = match (user.display_name(), user.email_address()) {
            (Some(name), Some(email)) => format!(
                "{} <small>({}, {})</small>",
                escape(name),
                escape(user.username()),
                escape(email)
            ),
            (Some(name), None) => {
                format!(
                    "{} <small>({})</small>",
                    escape(name),
                    escape(user.username())
                )
            }
            (None, Some(email)) => {
                format!(
                    "{} <small>({})</small>",
                    escape(user.username()),
                    escape(email)
                )
            }
            (None, None) => escape(user.username()),
        };
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{}\">\n{hidden}\
             <button type=\"submit\" name=\"username\" value=\"{}\">{label}</button>\n</form>",
            escape(&action),
            escape(user.username())
        );
    }
    let _ = writeln!(
        body,
        "<p class=\"note\">No password: this is the embedded test provider of oidc-login. \
         Add <code>login_hint=&lt;username&gt;</code> to the authorization request to skip this page.</p>"
    );
    page("Sign in - test provider", &body)
}

/// The `response_mode=form_post` answer: a form that posts the response
/// parameters to the redirect URI as soon as it loads.
pub(super) fn form_post_page(redirect_uri: &str, params: &[(String, String)]) -> String {
    let body = format!(
        "<form method=\"post\" action=\"{}\">\n{}\
         <noscript><button type=\"submit\">Continue</button></noscript>\n</form>\n\
         <script>document.forms[0].submit();</script>\n",
        escape(redirect_uri),
        hidden_inputs(params)
    );
    page("Signing in...", &body)
}

/// The answer to `end_session` without a `post_logout_redirect_uri`.
pub(super) fn signed_out_page() -> String {
    page(
        "Signed out - test provider",
        "<h1>Signed out</h1>\n<p>You are signed out of the test provider.</p>\n",
    )
}

/// A page for errors that cannot be sent back to the client.
pub(super) fn error_page(message: &str) -> String {
    let body = format!(
        "<h1>Bad authorization request</h1>\n<p>{}</p>\n\
         <p class=\"note\">The test provider does not redirect to a client it cannot verify.</p>\n",
        escape(message)
    );
    page("Error - test provider", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn sign_in_page_escapes_parameters_and_users() {
        let users = [Arc::new(TestUser::new("s", "<eve>").name("\"Eve\" & co"))];
        let params = [("state".to_owned(), "\"><script>x</script>".to_owned())];
        let html = sign_in_page("http://127.0.0.1:1", "c", &params, &users);
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("<eve>"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
        assert!(html.contains("value=\"&lt;eve&gt;\""), "{html}");
    }
}
