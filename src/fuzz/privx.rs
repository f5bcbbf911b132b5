//! PrivX's `identity_provider_client` JSON
//! ([`Config::from_privx_client_json`], then `build`): whatever the members
//! and however the text is broken, no panic; the client secret, wherever it
//! is put (its member, a value of the wrong type, a repeated member, a key,
//! broken JSON), never appears in an error, its causes or the config's
//! `Debug`. Deep nesting is refused where the crate reads, skipped without
//! recursion where it does not.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::config::{everything_shown, secret, shows};
use super::edits::{apply_str, local_edits};
use super::json_text::json;
use super::{depths, settings};
use crate::Config;

fn document(secret: &str) -> Map<String, Value> {
    let value = json!({
        "id": "e00a8f60-9051-48d7-a755-cef45801a7cc",
        "name": "Admin console",
        "idp_type": "oidc",
        "enabled": true,
        "oidc_issuer": "https://privx.example.com/oidc/e00a8f60/",
        "oidc_client_id": "f81c1189",
        "oidc_client_secret": secret,
        "oidc_auth_method_enabled": "client_secret_basic",
        "oidc_code_challenge_method_enabled": true,
        "oidc_scopes_enabled": ["profile", "email", "privx_roles"],
        "oidc_signature_algorithm": "ES256",
        "oidc_audience": ["f81c1189", "extra-audience"],
        "oidc_allowed_redirect_uris": ["https://admin.example.com/cb"],
    });
    value.as_object().expect("an object").clone()
}

const MEMBERS: &[&str] = &[
    "idp_type",
    "enabled",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_auth_method_enabled",
    "oidc_code_challenge_method_enabled",
    "oidc_scopes_enabled",
    "oidc_signature_algorithm",
    "oidc_audience",
    "oidc_allowed_redirect_uris",
    "name",
];

/// A change to a member that is not about the secret.
#[derive(Debug, Clone)]
enum Change {
    Remove(&'static str),
    Set(&'static str, Value),
}

fn change() -> impl Strategy<Value = Change> {
    let choices = select(
        &[
            "oidc",
            "OIDC",
            "saml",
            "client_secret_basic",
            "client_secret_post",
            "client_secret",
            "none",
            "private_key_jwt",
            "tls_client_auth",
            "RS256",
            "ES512",
            "HS256",
            "none",
            "",
            " ",
            "https://privx.example.com/oidc/e00a8f60",
            "f81c1189",
        ][..],
    )
    .prop_map(|s| json!(s));
    prop_oneof![
        select(MEMBERS).prop_map(Change::Remove),
        (select(MEMBERS), choices).prop_map(|(m, v)| Change::Set(m, v)),
        (select(MEMBERS), any::<Option<bool>>()).prop_map(|(m, b)| Change::Set(m, json!(b))),
        (select(MEMBERS), json(false)).prop_map(|(m, j)| {
            Change::Set(m, serde_json::from_str(&j.to_text()).unwrap_or(Value::Null))
        }),
    ]
}

/// Where the secret goes, beside its own member.
#[derive(Debug, Clone)]
enum Place {
    Member,
    /// Its member, as a list, an object, a bare word or an unterminated string.
    MemberAs(u8),
    /// Its member twice.
    Repeated,
    /// As a key.
    Key,
    /// After the document.
    Trailing,
    /// Pasted into another member, replacing its value (in a list for the
    /// list members). Not the URLs and scopes, whose errors name them by
    /// design (as those of the TOML form do).
    InMember(&'static str),
}

/// Members whose values are no secret; a config shows some of them.
const PLAIN: &[&str] = &[
    "idp_type",
    "oidc_auth_method_enabled",
    "oidc_signature_algorithm",
    "oidc_client_id",
    "oidc_audience",
    "name",
];

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        3 => Just(Place::Member),
        3 => (0..4u8).prop_map(Place::MemberAs),
        1 => Just(Place::Repeated),
        1 => Just(Place::Key),
        1 => Just(Place::Trailing),
        3 => select(PLAIN).prop_map(Place::InMember),
    ]
}

fn text(secret: &str, place: &Place, changes: &[Change]) -> String {
    let mut document = document(match place {
        Place::Member | Place::Repeated => secret,
        _ => "a-plain-client-secret",
    });
    if let Place::InMember(name) = place {
        let value = match *name {
            "oidc_audience" => json!(["profile", secret]),
            _ => json!(secret),
        };
        document.insert((*name).to_owned(), value);
    }
    for change in changes {
        match change {
            Change::Remove(name) => {
                document.remove(*name);
            }
            // The secret's own member keeps the secret.
            Change::Set("oidc_client_secret", _) => {}
            Change::Set(name, value) => {
                document.insert((*name).to_owned(), value.clone());
            }
        }
    }
    let mut text = serde_json::to_string(&document).expect("JSON");
    text.pop();
    let quoted = serde_json::to_string(secret).expect("JSON");
    let extra = match place {
        Place::Member | Place::InMember(_) => String::new(),
        Place::MemberAs(0) => format!(r#","oidc_client_secret":[{quoted}]"#),
        Place::MemberAs(1) => format!(r#","oidc_client_secret":{{"v":{quoted}}}"#),
        Place::MemberAs(2) => format!(r#","oidc_client_secret":{secret}"#),
        Place::MemberAs(_) => format!(r#","oidc_client_secret":"{secret}"#),
        Place::Repeated => format!(r#","oidc_client_secret":{quoted}"#),
        Place::Key => format!(r#",{quoted}:1"#),
        Place::Trailing => format!("}} {secret}"),
    };
    text.push_str(&extra);
    if !matches!(place, Place::Trailing) {
        text.push('}');
    }
    text
}

/// `accepted_too`: also the `Debug` of an accepted builder and config.
fn check(text: &str, secret: &str, accepted_too: bool) -> Result<(), TestCaseError> {
    let shown = match Config::from_privx_client_json(text) {
        Err(err) => everything_shown(&err),
        Ok(builder) => {
            let builder_shown = format!("{builder:?}");
            match builder.redirect_uri("https://admin.example.com/cb").build() {
                Ok(_) if !accepted_too => return Ok(()),
                Ok(config) => format!("{builder_shown} {config:?}"),
                Err(err) if !accepted_too => everything_shown(&err),
                Err(err) => format!("{builder_shown} {}", everything_shown(&err)),
            }
        }
    };
    prop_assert!(!shows(&shown, secret), "{}\ngave: {}", text, shown);
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn the_secret_never_shows(
        secret in secret(),
        place in place(),
        changes in vec(change(), 0..4),
        edits in prop::option::weighted(0.3, local_edits()),
    ) {
        let text = text(&secret, &place, &changes);
        let text = match &edits {
            Some(edits) => apply_str(&text, edits),
            None => text,
        };
        // A secret in a plain member, or an edited text, may leave the
        // secret's characters where a config shows them (the client id, a
        // scope): errors only.
        let plain = edits.is_some() || matches!(place, Place::InMember(_));
        check(&text, &secret, !plain)?;
    }

    #[test]
    fn deep_nesting_is_refused_or_skipped_without_overflow(depth in depths(), read: bool) {
        // In a member this crate reads, or in one PrivX sends and this crate
        // ignores: serde_json skips an ignored value without recursion (its
        // work and memory grow with the text, not the stack).
        let member = if read { "oidc_scopes_enabled" } else { "x" };
        let mut text = text("S3CR3T~V4LU3", &Place::Member, &[]);
        text.pop();
        text.push_str(&format!(r#","{member}":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth)));
        let result = Config::from_privx_client_json(&text);
        prop_assert_eq!(result.is_ok(), !read, "{}", depth);
    }
}

#[test]
fn the_unchanged_document_builds() {
    let text = text("S3CR3T~V4LU3", &Place::Member, &[]);
    let config = Config::from_privx_client_json(&text)
        .expect("a builder")
        .build()
        .expect("a config");
    assert!(!format!("{config:?}").contains("S3CR3T"));
}

#[test]
fn the_changes_reach_acceptance_and_refusal() {
    let ok = super::share(vec(change(), 0..4), 500, |changes| {
        let text = text("S3CR3T~V4LU3", &Place::Member, &changes);
        Config::from_privx_client_json(&text)
            .and_then(|b| b.build())
            .is_ok()
    });
    assert!(ok > 0.1 && ok < 0.9, "{ok}");
}

#[test]
fn a_secret_pasted_into_a_member_privx_names_is_not_shown() {
    // Found by `the_secret_never_shows`: the errors for `idp_type`,
    // `oidc_auth_method_enabled` and `oidc_signature_algorithm` quoted the
    // value, clipped to 32 characters, so most of a secret pasted there.
    let secret = "Q8~XbR7_kT2.vW9-mN4~pL6_hJ3.gF5-dS1";
    for member in [
        "idp_type",
        "oidc_auth_method_enabled",
        "oidc_signature_algorithm",
    ] {
        let text = text(secret, &Place::InMember(member), &[]);
        let err = Config::from_privx_client_json(&text).expect_err("refused");
        let shown = everything_shown(&err);
        assert!(!shows(&shown, secret), "{member}: {shown}");
        assert!(shown.contains(member), "{shown}");
    }
}
