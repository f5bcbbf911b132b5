//! The discovery document ([`Metadata::from_json`]): whatever the bytes, no
//! panic; a document is accepted only when serde_json reads it as an object,
//! and then it holds what the checks promise: the configured issuer (or
//! Entra's template, with a tenant policy), every endpoint as published and
//! https or plain http on loopback, the response type the flow needs, and
//! asymmetric algorithms the provider advertises.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};
use url::Url;

use super::edits::{apply, edits};
use super::json_text::json;
use super::settings;
use crate::provider::Metadata;
use crate::{Algorithm, Config, TenantPolicy};

const ISSUER: &str = "https://idp.example/oidc/p1/";
const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// A config by metadata URL (which also accepts the issuer with its `/`),
/// and an Entra ID multi-tenant one.
static CONFIGS: LazyLock<[Config; 2]> = LazyLock::new(|| {
    let plain = Config::builder(format!("{ISSUER}.well-known/openid-configuration"), "app")
        .redirect_uri("https://app.example/cb")
        .build()
        .expect("config");
    let entra = Config::entra("organizations", "app")
        .entra_tenants(TenantPolicy::AnyTenant)
        .redirect_uri("https://app.example/cb")
        .build()
        .expect("config");
    [plain, entra]
});

fn document(issuer: &str) -> Map<String, Value> {
    let base = issuer.replace("{tenantid}", "organizations");
    let value = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "end_session_endpoint": format!("{base}/logout"),
        "response_types_supported": ["code", "id_token", "code id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "authorization_response_iss_parameter_supported": true,
    });
    value.as_object().expect("an object").clone()
}

const URL_MEMBERS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
];

/// One change to the document.
#[derive(Debug, Clone)]
enum Change {
    Remove(&'static str),
    Set(&'static str, Value),
}

fn url_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(
            &[
                "https://idp.example/x",
                "http://idp.example/x",
                "http://127.0.0.1:9/x",
                "http://127.1.2.3/x",
                "http://0x7f000001/x",
                "http://[::1]/x",
                "http://[::ffff:127.0.0.1]/x",
                "http://localhost/x",
                "http://LOCALHOST./x",
                "http://localhost.evil.example/x",
                "http://10.0.0.1/x",
                "HTTPS://idp.example/x",
                "https://user:pw@idp.example/x",
                "javascript:alert(1)",
                "file:///etc/passwd",
                "ftp://127.0.0.1/x",
                "//idp.example/x",
                "/x",
                "",
                "https://",
                "https://idp.example/oidc/p1",
                "https://idp.example/oidc/p1//",
                "https://IDP.example/oidc/p1/",
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                "https://login.microsoftonline.com/{tenantid}/v2.0/",
                "https://login.microsoftonline.com/{tenantid}{tenantid}/v2.0",
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
        "(https?://)?[a-z0-9.:/\\[\\]{}@%-]{0,24}".prop_map(Value::String),
    ]
}

fn list_like() -> impl Strategy<Value = Value> {
    vec(
        select(
            &[
                "code",
                "id_token",
                "code id_token",
                "token",
                " code",
                "code ",
                "RS256",
                "ES512",
                "HS256",
                "none",
                "PS384",
                "EdDSA",
                "XX999",
                "S256",
                "plain",
                "",
            ][..],
        )
        .prop_map(|s| json!(s)),
        0..4,
    )
    .prop_map(Value::Array)
}

fn change() -> impl Strategy<Value = Change> {
    let any_member = || {
        select(
            &[
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
                "jwks_uri",
                "end_session_endpoint",
                "response_types_supported",
                "subject_types_supported",
                "id_token_signing_alg_values_supported",
                "code_challenge_methods_supported",
                "token_endpoint_auth_methods_supported",
                "authorization_response_iss_parameter_supported",
                "registration_endpoint",
                "x",
            ][..],
        )
    };
    let lists = select(
        &[
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "code_challenge_methods_supported",
        ][..],
    );
    let urls = select(
        &[
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ][..],
    );
    prop_oneof![
        1 => any_member().prop_map(Change::Remove),
        1 => (any_member(), json(false)).prop_map(|(m, j)| {
            Change::Set(m, serde_json::from_str(&j.to_text()).unwrap_or(Value::Null))
        }),
        3 => (urls, url_like()).prop_map(|(m, v)| Change::Set(m, v)),
        2 => (lists, list_like()).prop_map(|(m, v)| Change::Set(m, v)),
        1 => any::<Option<bool>>().prop_map(|b| {
            Change::Set("authorization_response_iss_parameter_supported", json!(b))
        }),
    ]
}

/// https, or http on a loopback host, judged from the URL's text form.
fn secure_or_loopback(url: &Url) -> bool {
    let loopback = match url.host_str() {
        Some("[::1]") => true,
        Some(host) => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<Ipv4Addr>()
                    .is_ok_and(|ip| ip.octets()[0] == 127)
        }
        None => false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// What an accepted document must hold.
fn holds(metadata: &Metadata, text: &[u8], config: &Config) -> Result<(), TestCaseError> {
    let reference: Map<String, Value> = serde_json::from_slice(text)
        .map_err(|e| TestCaseError::fail(format!("accepted, but serde_json: {e}")))?;
    let issuer = reference["issuer"].as_str().expect("a string issuer");
    prop_assert_eq!(&metadata.issuer, issuer);
    match &metadata.tenant_template {
        Some(_) => prop_assert!(config.entra.preset.is_some() && issuer == TEMPLATE),
        None => {
            let template = issuer.contains("{tenantid}");
            prop_assert!(config.accepts_issuer(issuer) && !template);
        }
    }
    let urls = [
        Some(&metadata.authorization_endpoint),
        Some(&metadata.token_endpoint),
        metadata.userinfo_endpoint.as_ref(),
        Some(&metadata.jwks_uri),
        metadata.end_session_endpoint.as_ref(),
    ];
    for (name, url) in URL_MEMBERS.iter().zip(urls) {
        let published = reference.get(*name).and_then(Value::as_str);
        let published = published.map(|p| Url::parse(p).expect("a URL"));
        prop_assert_eq!(url, published.as_ref(), "{}", name);
        if let Some(url) = url {
            prop_assert!(secure_or_loopback(url), "{}: {}", name, url);
        }
    }
    let offered = reference["response_types_supported"]
        .as_array()
        .expect("a list")
        .iter()
        .any(|t| t == "code");
    prop_assert!(offered, "accepted without `code`");
    let advertised: Vec<Algorithm> = reference["id_token_signing_alg_values_supported"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a.as_str()?.parse().ok())
        .collect();
    prop_assert!(!metadata.signing_algorithms.is_empty());
    for alg in &metadata.signing_algorithms {
        prop_assert!(!alg.is_hmac() && advertised.contains(alg), "{}", alg);
    }
    prop_assert_eq!(
        metadata.iss_parameter_supported,
        reference.get("authorization_response_iss_parameter_supported") == Some(&json!(true))
    );
    Ok(())
}

fn check(text: &[u8], which: usize) -> Result<(), TestCaseError> {
    let config = &CONFIGS[which];
    if let Ok(metadata) = Metadata::from_json(text, config) {
        holds(&metadata, text, config)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(settings(256))]

    #[test]
    fn a_changed_document_is_accepted_only_as_promised(
        which in 0..2usize,
        changes in vec(change(), 0..4),
    ) {
        let mut document = document([ISSUER, TEMPLATE][which]);
        for change in changes {
            match change {
                Change::Remove(name) => {
                    document.remove(name);
                }
                Change::Set(name, value) => {
                    document.insert(name.to_owned(), value);
                }
            }
        }
        check(&serde_json::to_vec(&document).expect("JSON"), which)?;
    }

    #[test]
    fn an_edited_document_is_accepted_only_as_promised(which in 0..2usize, edits in edits()) {
        let text = serde_json::to_vec(&document([ISSUER, TEMPLATE][which])).expect("JSON");
        check(&apply(&text, &edits), which)?;
    }

    #[test]
    fn a_repeated_member_is_refused(
        which in 0..2usize,
        member in select(URL_MEMBERS),
        value in prop_oneof![url_like(), list_like()],
    ) {
        // Parsers differ on which of two members they keep; this one keeps
        // neither.
        let document = document([ISSUER, TEMPLATE][which]);
        let mut text = serde_json::to_string(&document).expect("JSON");
        text.pop();
        text.push_str(&format!(",{}:{value}}}", json!(member)));
        prop_assert!(Metadata::from_json(text.as_bytes(), &CONFIGS[which]).is_err());
    }

    #[test]
    fn any_bytes_are_refused_or_accepted_as_promised(which in 0..2usize, bytes in vec(any::<u8>(), 0..64)) {
        check(&bytes, which)?;
    }
}

#[test]
fn the_unchanged_documents_are_accepted() {
    for (which, issuer) in [ISSUER, TEMPLATE].into_iter().enumerate() {
        let text = serde_json::to_vec(&document(issuer)).expect("JSON");
        let metadata = Metadata::from_json(&text, &CONFIGS[which]).expect("accepted");
        assert_eq!(metadata.issuer, issuer);
    }
}

#[test]
fn the_changes_reach_acceptance_and_refusal() {
    let ok = super::share((0..2usize, vec(change(), 0..4)), 500, |(which, changes)| {
        let mut document = document([ISSUER, TEMPLATE][which]);
        for change in changes {
            match change {
                Change::Remove(name) => document.remove(name),
                Change::Set(name, value) => document.insert(name.to_owned(), value),
            };
        }
        let text = serde_json::to_vec(&document).expect("JSON");
        Metadata::from_json(&text, &CONFIGS[which]).is_ok()
    });
    assert!(ok > 0.1 && ok < 0.9, "{ok}");
}
