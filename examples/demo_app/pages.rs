//! The demo's HTML: one layout (a top bar, the notices, the main part) and
//! the pages drawn in it, styled by `style.css` in a `<style>` block. No
//! scripts, no inline event handlers, no external fonts or images.
//!
//! Everything a page shows from the identity comes from the provider, and
//! everything from the config from a file: all of it is HTML-escaped here.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Html;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use oidc_login::{Account, Identity, RoleMapping, Source};
use serde_json::Value;
use time::OffsetDateTime;

/// The stylesheet of every page.
pub const STYLE: &str = include_str!("style.css");

/// What the pages show besides the user: set once when the app is built.
#[derive(Clone)]
pub struct Page {
    /// The sign-in buttons, one per provider (`LoginRoutes::login_buttons`).
    pub button: String,
    /// The break-glass form, when the config switches it on.
    pub break_glass: Option<String>,
    /// Where the "Sign out" form posts.
    pub logout_path: String,
    /// Whether the embedded provider is in use: shows the banner.
    pub development: bool,
    /// The providers' issuers, named under the sign-in buttons.
    pub providers: Vec<String>,
    /// How long before the access token expires a session is refreshed,
    /// when it is.
    pub refresh: Option<Duration>,
    /// Whether "Sign out" also ends the session at the provider.
    pub provider_logout: bool,
    /// How long a sign-in lasts, however active (`LoginRoutes::max_session_age`).
    pub max_session_age: Duration,
    /// How long an idle session lasts (`session_layer`'s inactivity expiry).
    pub inactivity: Duration,
    /// The role table's rows, to name the groups the user is in.
    pub role_mapping: Vec<RoleMapping>,
    /// Whether logins are linked to local accounts (the config's
    /// `[accounts]` table): the page and `/me` show the account.
    pub accounts: bool,
}

/// The page for nobody signed in: the provider's button (and the
/// break-glass form when it is on).
pub fn signed_out(page: &Page) -> String {
    let break_glass = page.break_glass.as_deref().map_or(String::new(), |form| {
        format!("<div id=\"break-glass\" class=\"emergency\">{form}</div>")
    });
    let main = format!(
        "<div class=\"narrow\"><section class=\"card\" aria-labelledby=\"title\">\
         <h1 id=\"title\">Sign in</h1>\
         <p class=\"muted\">You are signed out. Sign in with your organization account to open the \
         admin console.</p>{button}\
         <p class=\"provider small muted\">Identity provider{plural}: {providers}</p>\
         {break_glass}</section></div>",
        button = page.button,
        plural = if page.providers.len() > 1 { "s" } else { "" },
        providers = page
            .providers
            .iter()
            .map(|issuer| format!("<code>{}</code>", text(issuer)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    layout("Sign in", "", banner(page), &main)
}

/// The page of the signed-in user `id` at the Unix time `now`: who they
/// are, their groups and roles, and how long the session lasts.
pub fn signed_in(page: &Page, id: &Identity, account: Option<&Account>, now: i64) -> String {
    let name = id.username.as_deref().unwrap_or(&id.subject);
    let user_bar = format!(
        "<span class=\"who\">Signed in as <strong>{}</strong></span>\
         <form method=\"post\" action=\"{}\"><button type=\"submit\" id=\"logout\">Sign out</button></form>",
        text(name),
        attr(&page.logout_path),
    );
    let alert = if id.break_glass {
        "<p id=\"break-glass-used\" class=\"alert\" role=\"alert\"><strong>Break-glass sign-in:</strong> \
         this session bypassed the identity provider.</p>"
    } else {
        ""
    };
    let through = if id.break_glass {
        "Signed in locally, without the identity provider.".to_owned()
    } else {
        format!("Signed in through <code>{}</code>.", text(&id.issuer))
    };
    let main = format!(
        "{alert}<h1>Your account</h1><p class=\"lead\">{through}</p>\
         <div class=\"grid\">{identity}{access}{session}</div>",
        identity = identity_card(page, id, account, name),
        session = session_card(page, id, now),
        access = access_card(page, id),
    );
    layout("Your account", &user_bar, banner(page), &main)
}

fn identity_card(page: &Page, id: &Identity, account: Option<&Account>, name: &str) -> String {
    let email = match &id.email {
        Some(email) => format!(
            "<span id=\"email\">{}</span>{}",
            text(email),
            if id.email_verified {
                "<span class=\"tag\">verified</span>"
            } else {
                "<span class=\"tag warn\">not verified</span>"
            }
        ),
        None => "<span id=\"email\" class=\"muted\">no email</span>".to_owned(),
    };
    let full_name = id.name.as_deref().map_or(String::new(), |full| {
        format!("<dt>Name</dt><dd>{}</dd>", text(full))
    });
    // The local account the login is linked to (`[accounts]`).
    let account = match (page.accounts, account) {
        (false, _) => String::new(),
        (true, Some(account)) => format!(
            "<dt>Account</dt><dd><code id=\"account\">{}</code> {}</dd>",
            text(&account.id),
            text(&account.display_name)
        ),
        (true, None) => {
            "<dt>Account</dt><dd id=\"account\" class=\"muted\">none (break-glass)</dd>".to_owned()
        }
    };
    format!(
        "<section class=\"card\" aria-labelledby=\"identity\"><h2 id=\"identity\">Identity</h2><dl>\
         <dt>Username</dt><dd><strong id=\"username\">{}</strong></dd>{full_name}{account}\
         <dt>Email</dt><dd>{email}</dd>\
         <dt>Subject</dt><dd><code>{}</code></dd>\
         <dt>Issuer</dt><dd><code>{}</code></dd></dl></section>",
        text(name),
        text(&id.subject),
        text(&id.issuer),
    )
}

/// When the user signed in and when that ends. The exact sign-in time of
/// the session is kept by the crate where the app cannot read it; the ID
/// token's `auth_time` (when the provider checked the user) and `exp` are
/// what the identity holds.
fn session_card(page: &Page, id: &Identity, now: i64) -> String {
    let claim = |name: &str| id.claims.get(name).and_then(Value::as_i64);
    let fact = |term: &str, value: &str| format!("<div><dt>{term}</dt><dd>{value}</dd></div>");
    let mut facts = String::new();
    match (claim("auth_time"), claim("iat")) {
        (Some(at), _) => facts += &fact("Provider sign-in", &moment(at, now)),
        (None, Some(at)) => facts += &fact("ID token issued", &moment(at, now)),
        (None, None) => {}
    }
    if let Some(exp) = claim("exp") {
        facts += &fact("ID token expires", &moment(exp, now));
    }
    facts += &fact(
        "Session ends",
        &format!(
            "{} after sign-in at the latest<br><span class=\"muted\">or after {} idle</span>",
            span(page.max_session_age),
            span(page.inactivity),
        ),
    );
    if let Some(margin) = page.refresh.filter(|_| !id.break_glass) {
        facts += &fact(
            "Refresh",
            &format!(
                "{} before the access token expires<br><span class=\"muted\">roles decided afresh</span>",
                span(margin)
            ),
        );
    }
    let sign_out = if page.provider_logout && !id.break_glass {
        "here and at the provider"
    } else {
        "in this app only"
    };
    facts += &fact("Sign out", sign_out);
    format!(
        "<section class=\"card wide\" aria-labelledby=\"session\"><h2 id=\"session\">Session</h2>\
         <dl class=\"facts\">{facts}</dl></section>"
    )
}

/// The app's roles, and each group with the role-table row that maps it.
fn access_card(page: &Page, id: &Identity) -> String {
    let roles = if id.roles.is_empty() {
        "<p class=\"pills\" id=\"roles\"><em>none</em></p>\
         <p class=\"small muted\">This account may sign in, but no row of the role table gives it a role.</p>"
            .to_owned()
    } else {
        let pills: String = id
            .roles
            .iter()
            .map(|role| format!("<span class=\"pill\">{}</span>", text(role)))
            .collect();
        format!("<p class=\"pills\" id=\"roles\">{pills}</p>")
    };
    let groups = if id.groups.is_empty() {
        "<p id=\"groups\"><em>none</em></p>".to_owned()
    } else {
        let rows: String = id
            .groups
            .iter()
            .map(|group| group_row(page, group))
            .collect();
        format!(
            "<table id=\"groups\"><thead><tr><th scope=\"col\">Group (role table row)</th>\
             <th scope=\"col\">Grants</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    let app_roles = if id.app_roles.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = id
            .app_roles
            .iter()
            .map(|role| format!("<code>{}</code>", text(role)))
            .collect();
        format!(
            "<h3>App roles from the provider</h3><p>{}</p>",
            list.join(", ")
        )
    };
    format!(
        "<section class=\"card\" aria-labelledby=\"access\"><h2 id=\"access\">Access</h2>\
         <h3>Roles in this app</h3>{roles}<h3>Groups</h3>{groups}{app_roles}</section>"
    )
}

/// A row of the groups table: the group, the role table rows that name it,
/// and the roles they grant.
fn group_row(page: &Page, group: &str) -> String {
    let rows: Vec<&RoleMapping> = page
        .role_mapping
        .iter()
        .filter(|row| row.source() == Source::OpenIdConnect && row.value() == group)
        .collect();
    let (names, grants) = if rows.is_empty() {
        (
            "not in the role table".to_owned(),
            "<span class=\"muted\">no role</span>".to_owned(),
        )
    } else {
        let names: Vec<_> = rows.iter().map(|row| text(row.name())).collect();
        let grants: Vec<_> = rows
            .iter()
            .flat_map(|row| row.roles())
            .map(|role| text(role))
            .collect();
        (names.join(", "), grants.join(", "))
    };
    format!(
        "<tr><td><code>{}</code><br><span class=\"small muted\">{names}</span></td><td>{grants}</td></tr>",
        text(group)
    )
}

/// The demo's refusal page, served through the crate's hook
/// (`LoginRoutes::refusal_page`): `status`, the crate's `title` ("Access
/// denied", "Sign-in cancelled"...), its one-sentence `message` and the
/// error `code`, in the demo's layout with a way back.
pub fn refusal_page(title: &str, code: &str, status: StatusCode, message: &str) -> Html<String> {
    let main = format!(
        "<div class=\"narrow\"><section class=\"card\" aria-labelledby=\"title\">\
         <p class=\"status\">Error {} · {}</p><h1 id=\"title\">{title}</h1><p>{}</p>\
         <p class=\"small muted\">Error code: <code>{}</code>. The app's log holds the details; if \
         this keeps happening, give the code to your administrator.</p>\
         <p class=\"actions\"><a class=\"button\" href=\"/\">Back to the start page</a></p>\
         </section></div>",
        status.as_u16(),
        text(status.canonical_reason().unwrap_or("")),
        text(message),
        text(code),
    );
    Html(layout(title, "", "", &main))
}

/// The development-mode banner, or nothing.
fn banner(page: &Page) -> &'static str {
    if page.development {
        "<p class=\"banner\" role=\"note\"><strong>Development mode:</strong> the embedded test provider \
         is in use; anyone can sign in as <code>alice</code> or <code>bob</code>.</p>"
    } else {
        ""
    }
}

/// Every page: the top bar (with `user_bar` on its right), the `banner`,
/// then `main`.
fn layout(title: &str, user_bar: &str, banner: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · oidc-login demo</title><style>{STYLE}</style></head><body>\
         <header class=\"topbar\"><span class=\"brand\">{LOGO}oidc-login \
         <span class=\"product\">Admin console</span></span>{user_bar}</header>\
         {banner}<main>{main}</main></body></html>",
        title = text(title),
    )
}

/// A shield with a tick, drawn inline (no image file to fetch).
const LOGO: &str = "<svg width=\"22\" height=\"22\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" focusable=\"false\">\
     <path fill=\"#86a6ff\" d=\"M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5z\"/>\
     <path fill=\"none\" stroke=\"#1f2a44\" stroke-width=\"2.2\" stroke-linecap=\"round\" \
     stroke-linejoin=\"round\" d=\"m8.5 12 2.5 2.5 4.5-5\"/></svg>";

/// The Unix time `at` in UTC, and how far it is from `now`: the clock
/// time, then the date and the distance on a line below.
fn moment(at: i64, now: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(at) else {
        return "<em>not a time</em>".to_owned();
    };
    let date = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    let clock = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    format!(
        "<time datetime=\"{date}T{clock}Z\">{clock} UTC<br><span class=\"muted\">{date}</span></time> \
         <span class=\"muted\">· {}</span>",
        relative(at - now)
    )
}

/// "in 5 min", "3 h ago", "just now".
fn relative(seconds: i64) -> String {
    let secs = seconds.unsigned_abs();
    if secs < 60 {
        return if seconds > 0 {
            "in under a minute"
        } else {
            "just now"
        }
        .to_owned();
    }
    let amount = span(Duration::from_secs(secs));
    if seconds > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A duration rounded for people: "12 hours", "5 min", "2 days".
fn span(duration: Duration) -> String {
    let secs = duration.as_secs();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match secs {
        0..60 => plural(secs, "second", "seconds"),
        60..5_400 => format!("{} min", (secs + 30) / 60),
        5_400..172_800 => plural((secs + 1_800) / 3_600, "hour", "hours"),
        _ => plural((secs + 43_200) / 86_400, "day", "days"),
    }
}
