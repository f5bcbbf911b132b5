//! The TOML and JSON config ([`Config::from_toml`], [`Config::from_json`]):
//! a generated secret, wherever it is put (the secret field, a value of the
//! wrong type, a misspelled or unknown key, a key or table name, an
//! unterminated string, a comment, a repeated field) and however the text
//! is then broken, never appears in an error, its `Debug` or its causes,
//! nor in the `Debug` of an accepted config. Deep nesting is refused.

use proptest::prelude::*;
use proptest::sample::select;

use super::edits::{apply_str, local_edits};
use super::{depths, settings};
use crate::Config;

/// A secret: letters and digits with an upper-case letter at every other
/// place, so no 8 characters of it look like a field name or a number, or
/// turn up in an error by chance.
pub(super) fn secret() -> impl Strategy<Value = String> {
    "([A-Z][A-Z0-9~._-]){12,20}"
}

/// The error (or accepted value) as anyone could see it: `Display`,
/// `Debug` and the whole source chain.
pub(super) fn everything_shown(err: &dyn std::error::Error) -> String {
    let mut shown = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    shown
}

/// Whether any 8 consecutive characters of `secret` appear in `shown`.
pub(super) fn shows(shown: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(8)
        .any(|window| shown.contains(&window.iter().collect::<String>()))
}

/// A value in the config text.
#[derive(Debug, Clone)]
enum Val {
    Str(String),
    Int(i64),
    List(Vec<Val>),
    Table(Vec<(String, Val)>),
    /// Written as is (a bare word, an unterminated string...).
    Raw(String),
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

impl Val {
    fn toml(&self) -> String {
        match self {
            Val::Str(s) => quoted(s),
            Val::Int(i) => i.to_string(),
            Val::List(items) => {
                let items: Vec<String> = items.iter().map(Val::toml).collect();
                format!("[{}]", items.join(", "))
            }
            Val::Table(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{} = {}", toml_key(k), v.toml()))
                    .collect();
                format!("{{ {} }}", members.join(", "))
            }
            Val::Raw(raw) => raw.clone(),
        }
    }

    fn json(&self) -> String {
        match self {
            Val::Str(s) => quoted(s),
            Val::Int(i) => i.to_string(),
            Val::List(items) => {
                let items: Vec<String> = items.iter().map(Val::json).collect();
                format!("[{}]", items.join(", "))
            }
            Val::Table(members) => json_object(members),
            Val::Raw(raw) => raw.clone(),
        }
    }
}

fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { key.to_owned() } else { quoted(key) }
}

fn json_object(members: &[(String, Val)]) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}: {}", quoted(k), v.json()))
        .collect();
    format!("{{{}}}", members.join(", "))
}

fn s(text: &str) -> Val {
    Val::Str(text.to_owned())
}

/// A config that builds: a client secret, scopes, a required claim and a
/// role mapping row.
fn base(secret: &str) -> Vec<(String, Val)> {
    vec![
        (
            "metadata_url".to_owned(),
            s("https://idp.example/.well-known/openid-configuration"),
        ),
        ("client_id".to_owned(), s("app")),
        ("client_secret".to_owned(), s(secret)),
        ("redirect_uri".to_owned(), s("https://app.example/cb")),
        (
            "scopes".to_owned(),
            Val::List(vec![s("openid"), s("email")]),
        ),
        ("auth_method".to_owned(), s("client_secret_basic")),
        (
            "required_claim".to_owned(),
            Val::Table(vec![
                ("key".to_owned(), s("tid")),
                ("value".to_owned(), s("t1")),
            ]),
        ),
        (
            "role_mapping".to_owned(),
            Val::List(vec![Val::Table(vec![
                ("name".to_owned(), s("Admins")),
                ("source".to_owned(), s("openid_connect")),
                ("value".to_owned(), s("g1")),
                ("roles".to_owned(), Val::List(vec![s("admin")])),
            ])]),
        ),
    ]
}

/// Where the secret goes.
#[derive(Debug, Clone)]
enum Place {
    /// `client_secret = "S"`: the right place.
    SecretField,
    /// The secret field, with the secret as another kind of value.
    SecretAs(u8),
    /// As the value of a field that is not a secret's (typed in the wrong
    /// field), replacing the value there.
    Field(&'static str),
    /// Inside the role mapping row or the required claim.
    Nested(&'static str, &'static str),
    /// As the value of a misspelled or unknown key.
    UnknownKey(&'static str),
    /// As a key.
    Key,
    /// As a table header (TOML) or a key holding an object (JSON).
    Table,
    /// A comment line (TOML), or text after the document.
    Trailing,
    /// The secret field twice.
    Repeated,
}

/// Fields whose value is not a secret: text, names, choices and numbers.
/// (Not the URLs, paths, variable names and scopes, whose validation errors
/// name the value given, by design: "`…` is not an absolute URL", "`openid
/// email` is not a valid scope name".)
const FIELDS: &[&str] = &[
    "client_id",
    "auth_method",
    "flow",
    "userinfo",
    "no_role_policy",
    "email_verification",
    "username_claim",
    "groups_claim",
    "login_button_text",
    "prompt",
    "groups_source",
    "clock_skew_seconds",
    "http_timeout_seconds",
    "allowed_algorithms",
    "trusted_audiences",
    "private_key_algorithm",
    "private_key_kid",
];

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        2 => Just(Place::SecretField),
        3 => (0..6u8).prop_map(Place::SecretAs),
        3 => select(FIELDS).prop_map(Place::Field),
        // Not a row's `name`, which errors name the row by, by design.
        2 => select(&[
            ("role_mapping", "source"),
            ("role_mapping", "roles"),
            ("role_mapping", "extra"),
            ("required_claim", "key"),
            ("required_claim", "extra"),
        ][..])
        .prop_map(|(table, member)| Place::Nested(table, member)),
        2 => select(&["client_secert", "client_secrets", "secret", "x"][..]).prop_map(Place::UnknownKey),
        1 => Just(Place::Key),
        1 => Just(Place::Table),
        1 => Just(Place::Trailing),
        1 => Just(Place::Repeated),
    ]
}

/// The config text with the secret put in its place.
fn text(secret: &str, place: &Place, toml: bool) -> String {
    let mut fields = base(match place {
        Place::SecretField | Place::Repeated => secret,
        _ => "a-plain-client-secret",
    });
    let mut trailing = String::new();
    let as_kind = |kind: u8| match kind {
        0 => Val::Raw(secret.to_owned()),
        1 => Val::Raw(format!("\"{secret}")),
        2 => Val::List(vec![s(secret)]),
        3 => Val::Table(vec![("value".to_owned(), s(secret))]),
        4 => Val::Raw(format!("\"x\" {secret}")),
        _ => Val::Raw(format!("{}{secret}", quoted("x"))),
    };
    match place {
        Place::SecretField => {}
        Place::SecretAs(kind) => {
            fields.retain(|(n, _)| n != "client_secret");
            fields.push(("client_secret".to_owned(), as_kind(*kind)));
        }
        Place::Field(name) => {
            fields.retain(|(n, _)| n != name);
            let value = match *name {
                "allowed_algorithms" | "trusted_audiences" => {
                    Val::List(vec![s("openid"), s(secret)])
                }
                _ => s(secret),
            };
            fields.push(((*name).to_owned(), value));
        }
        Place::Nested(table, member) => {
            for (name, value) in &mut fields {
                let row = match value {
                    Val::Table(row) if name == table => row,
                    Val::List(rows) if name == table => match rows.first_mut() {
                        Some(Val::Table(row)) => row,
                        _ => continue,
                    },
                    _ => continue,
                };
                row.retain(|(n, _)| n != member);
                let value = match *member {
                    "roles" => Val::List(vec![s(secret)]),
                    _ => s(secret),
                };
                row.push(((*member).to_owned(), value));
            }
        }
        Place::UnknownKey(key) => fields.push(((*key).to_owned(), s(secret))),
        Place::Key => fields.push((secret.to_owned(), s("x"))),
        Place::Table => {
            if toml {
                trailing = format!("[{}]\nx = 1\n", toml_key(secret));
            } else {
                fields.push((
                    secret.to_owned(),
                    Val::Table(vec![("x".to_owned(), Val::Int(1))]),
                ));
            }
        }
        Place::Trailing => {
            trailing = if toml {
                format!("# {secret}\n")
            } else {
                format!(" {secret}")
            };
        }
        Place::Repeated => fields.push(("client_secret".to_owned(), s(secret))),
    }
    if toml {
        let mut out: String = fields
            .iter()
            .map(|(k, v)| format!("{} = {}\n", toml_key(k), v.toml()))
            .collect();
        out.push_str(&trailing);
        out
    } else {
        format!("{}{trailing}", json_object(&fields))
    }
}

/// `in_plain_field`: the secret was typed into a field whose value is no
/// secret (a name, a label), which an accepted config's `Debug` shows, or
/// the text was edited; an error must still not show it.
fn check(text: &str, toml: bool, secret: &str, in_plain_field: bool) -> Result<(), TestCaseError> {
    let result = if toml {
        Config::from_toml(text)
    } else {
        Config::from_json(text)
    };
    let shown = match &result {
        Ok(_) if in_plain_field => return Ok(()),
        Ok(config) => format!("{config:?}"),
        Err(err) => everything_shown(err),
    };
    prop_assert!(!shows(&shown, secret), "{}\ngave: {}", text, shown);
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn a_secret_anywhere_never_shows(
        secret in secret(),
        place in place(),
        toml: bool,
        edits in prop::option::weighted(0.3, local_edits()),
    ) {
        let text = text(&secret, &place, toml);
        let text = match &edits {
            Some(edits) => apply_str(&text, edits),
            None => text,
        };
        // An edited text may hold the secret's characters in another field.
        let in_plain_field = edits.is_some() || matches!(place, Place::Field(_) | Place::Nested(..));
        check(&text, toml, &secret, in_plain_field)?;
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow(depth in depths(), toml: bool, arrays: bool) {
        let (open, close) = match (toml, arrays) {
            (_, true) => ("[", "]"),
            (true, false) => ("{ a = ", " }"),
            (false, false) => (r#"{"a": "#, "}"),
        };
        let value = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let text = if toml {
            format!("scopes = {value}\n")
        } else {
            format!(r#"{{"scopes": {value}}}"#)
        };
        let result = if toml { Config::from_toml(&text) } else { Config::from_json(&text) };
        prop_assert!(result.is_err());
    }
}

#[test]
fn the_base_config_builds_in_both_forms() {
    for toml in [true, false] {
        let text = text("S3CR3T~V4LU3", &Place::SecretField, toml);
        let config = if toml {
            Config::from_toml(&text)
        } else {
            Config::from_json(&text)
        };
        let config = config.unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert!(!format!("{config:?}").contains("S3CR3T"));
    }
}
