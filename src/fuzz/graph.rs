//! Microsoft Graph responses (the groups overage reader, `read_groups`),
//! served over loopback HTTP by a server that answers each request with the
//! next generated page: the groups read, or the failure, are what a model
//! of the paging rules says (ids as strings or objects with a string `id`,
//! in order without repeats; `@odata.nextLink` followed only under the
//! configured Graph URL, at most 50 pages), and no request leaves it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

use super::edits::{Edit, apply, edits};
use super::json_text::json;
use super::settings;
use crate::entra::{MAX_GRAPH_PAGES, read_groups};
use crate::error::GraphFailure;
use crate::http::HttpClient;
use crate::{AccessToken, Config, GraphQuery, TenantPolicy};

/// What the server answers: one page per request, in order; a request past
/// the last page gets a 404. It records every request's path and query.
#[derive(Default)]
struct Pages {
    bodies: Vec<Vec<u8>>,
    seen: Vec<String>,
}

async fn serve(
    axum::extract::State(pages): axum::extract::State<Arc<Mutex<Pages>>>,
    uri: Uri,
) -> Response {
    let mut pages = pages.lock().expect("not poisoned");
    let at = pages.seen.len();
    pages.seen.push(uri.to_string());
    match pages.bodies.get(at) {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The Graph stand-in, a runtime to run the reader on, and a config of
/// each query whose Graph URL is the stand-in's `/graph/`.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    pages: Arc<Mutex<Pages>>,
    base: String,
    configs: [Config; 2],
    http: HttpClient,
}

impl Fixture {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let pages = Arc::new(Mutex::new(Pages::default()));
        let router = axum::Router::new()
            .fallback(serve)
            .with_state(pages.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("an address");
        runtime.spawn(async move { axum::serve(listener, router).await });
        let base = format!("http://{address}/graph/");
        let config = |query| {
            Config::entra("organizations", "app")
                .entra_tenants(TenantPolicy::AnyTenant)
                .redirect_uri("https://app.example/cb")
                .graph_url(base.as_str())
                .graph_query(query)
                .build()
                .expect("config")
        };
        let configs = [
            config(GraphQuery::TransitiveMemberOf),
            config(GraphQuery::MemberObjects {
                security_enabled_only: true,
            }),
        ];
        let http = HttpClient::new(Duration::from_secs(5)).expect("an HTTP client");
        Self {
            runtime,
            pages,
            base,
            configs,
            http,
        }
    }

    /// Serves `bodies` to one `read_groups`; returns its result and the
    /// requests the server saw.
    fn read(
        &self,
        bodies: Vec<Vec<u8>>,
        query: usize,
    ) -> (Result<Vec<String>, GraphFailure>, Vec<String>) {
        *self.pages.lock().expect("not poisoned") = Pages {
            bodies,
            seen: Vec::new(),
        };
        let entra = &self.configs[query].entra;
        let graph = entra.graph.as_ref().expect("an Entra config's Graph URL");
        let token = AccessToken::new("access-token");
        let result =
            self.runtime
                .block_on(read_groups(&self.http, graph, entra.graph_query, &token));
        let seen = std::mem::take(&mut self.pages.lock().expect("not poisoned").seen);
        (result, seen)
    }
}

/// A next link, written against the stand-in's base URL.
#[derive(Debug, Clone)]
enum Next {
    /// Under the Graph URL: followed.
    Under(u8),
    /// Anything else (another host, port, scheme, path, a user name, a
    /// relative link...), with the part after the base.
    Foreign(&'static str),
    /// Not a string.
    NotString(Value),
    /// `null`: the last page.
    Null,
}

fn next() -> impl Strategy<Value = Next> {
    prop_oneof![
        6 => any::<u8>().prop_map(Next::Under),
        3 => select(&[
            "https://evil.example/graph/v1.0/me",
            "http://evil.example/graph/v1.0/me",
            "http://127.0.0.2:{port}/graph/v1.0/me",
            "http://127.0.0.1:1/graph/v1.0/me",
            "https://127.0.0.1:{port}/graph/v1.0/me",
            "http://user:pw@127.0.0.1:{port}/graph/v1.0/me",
            "http://user@127.0.0.1:{port}/graph/v1.0/me",
            "http://127.0.0.1:{port}/other/v1.0/me",
            "http://127.0.0.1:{port}/graphx/v1.0/me",
            "http://127.0.0.1:{port}/graph",
            "http://127.0.0.1:{port}/graph/../other",
            "http://127.0.0.1:{port}/graph/%2e%2e/other",
            "http://127.0.0.1:{port}.evil.example/graph/",
            "/graph/v1.0/me",
            "graph/v1.0/me",
            "",
            "javascript:alert(1)",
        ][..]).prop_map(Next::Foreign),
        1 => json(false).prop_map(|j| Next::NotString(serde_json::from_str(&j.to_text()).unwrap_or(json!(1)))),
        1 => Just(Next::Null),
    ]
}

/// A member of `value`.
fn item() -> impl Strategy<Value = Value> {
    let id = || select(&["g1", "g2", "g3", "", "d48429bd-9f2a-47a2-a410-993f2a37876b"][..]);
    prop_oneof![
        5 => id().prop_map(|id| json!(id)),
        5 => id().prop_map(|id| json!({"@odata.type": "#microsoft.graph.group", "id": id})),
        1 => json(false).prop_map(|j| serde_json::from_str(&j.to_text()).unwrap_or(Value::Null)),
        1 => json(false).prop_map(|j| json!({"id": serde_json::from_str::<Value>(&j.to_text()).unwrap_or(Value::Null)})),
    ]
}

/// One page: its `value` (or none, or not an array), its next link, and
/// now and then an edit of its text or the array form serde accepts for
/// structs.
#[derive(Debug, Clone)]
struct Page {
    value: Option<Value>,
    next: Option<Next>,
    edits: Option<Vec<Edit>>,
    array_form: bool,
}

fn page() -> impl Strategy<Value = Page> {
    (
        prop_oneof![
            12 => vec(item(), 0..6).prop_map(|items| Some(Value::Array(items))),
            1 => Just(None),
            1 => Just(Some(Value::Null)),
            1 => json(false).prop_map(|j| serde_json::from_str(&j.to_text()).ok()),
        ],
        prop::option::weighted(0.7, next()),
        prop::option::weighted(0.1, edits()),
        prop::bool::weighted(0.02),
    )
        .prop_map(|(value, next, edits, array_form)| Page {
            value,
            next,
            edits,
            array_form,
        })
}

/// A chain of pages: mostly short, now and then past the page limit.
fn pages() -> impl Strategy<Value = Vec<Page>> {
    prop_oneof![
        20 => vec(page(), 1..4),
        1 => (MAX_GRAPH_PAGES - 1..MAX_GRAPH_PAGES + 2).prop_map(|n| {
            (0..n)
                .map(|i| Page {
                    value: Some(json!([format!("g{i}")])),
                    next: Some(Next::Under(i as u8)),
                    edits: None,
                    array_form: false,
                })
                .collect()
        }),
    ]
}

fn port(base: &str) -> &str {
    base.trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/graph/")
}

/// The page's text as served.
fn body(page: &Page, base: &str) -> Vec<u8> {
    let link = page.next.as_ref().map(|next| match next {
        Next::Under(n) => json!(format!("{base}v1.0/me/transitiveMemberOf?$skiptoken={n}")),
        Next::Foreign(link) => json!(link.replace("{port}", port(base))),
        Next::NotString(value) => value.clone(),
        Next::Null => Value::Null,
    });
    let text = if page.array_form {
        serde_json::to_vec(&json!([page.value, link]))
    } else {
        let mut object = Map::new();
        object.insert(
            "@odata.context".into(),
            json!("https://graph.microsoft.com/v1.0/$metadata"),
        );
        if let Some(value) = &page.value {
            object.insert("value".into(), value.clone());
        }
        if let Some(link) = link {
            object.insert("@odata.nextLink".into(), link);
        }
        serde_json::to_vec(&object)
    }
    .expect("JSON");
    match &page.edits {
        Some(edits) => apply(&text, edits),
        None => text,
    }
}

/// How a read ends, by the model.
#[derive(Debug, PartialEq)]
enum Outcome {
    Groups(Vec<String>),
    Invalid,
    Foreign,
    TooMany,
    /// The server had no page left (a 404).
    Missing,
}

fn outcome(result: &Result<Vec<String>, GraphFailure>) -> Outcome {
    match result {
        Ok(groups) => Outcome::Groups(groups.clone()),
        Err(GraphFailure::InvalidResponse(_)) => Outcome::Invalid,
        Err(GraphFailure::ForeignNextLink { .. }) => Outcome::Foreign,
        Err(GraphFailure::TooManyPages { .. }) => Outcome::TooMany,
        // The crate's HTTP layer refuses a body that is not JSON before the
        // Graph reader sees it: the same refusal as the model's.
        Err(GraphFailure::Request(error))
            if matches!(error.kind(), crate::error::HttpErrorKind::InvalidBody(_)) =>
        {
            Outcome::Invalid
        }
        Err(GraphFailure::Request(_)) => Outcome::Missing,
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
}

/// Whether `link` is under `base`, by the rule: same scheme, host and port,
/// no user name or password, and the path under the base's.
fn under(base: &str, link: &str) -> bool {
    let (Ok(base), Ok(link)) = (url::Url::parse(base), url::Url::parse(link)) else {
        return false;
    };
    link.scheme() == base.scheme()
        && link.host_str() == base.host_str()
        && link.port_or_known_default() == base.port_or_known_default()
        && link.username().is_empty()
        && link.password().is_none()
        && link.path().starts_with(base.path())
}

/// A page as serde_json reads a JSON object: `value` and
/// `@odata.nextLink` as values, every other member checked for syntax only
/// (as serde skips members a type does not name).
struct Read(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Read {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReadVisitor;
        impl<'de> serde::de::Visitor<'de> for ReadVisitor {
            type Value = Read;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
                let mut read = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "value" || name == "@odata.nextLink" {
                        read.push((name, map.next_value()?));
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Read(read))
            }
        }
        deserializer.deserialize_map(ReadVisitor)
    }
}

/// The model, reading each served text with serde_json: an object (whose
/// `value` and `@odata.nextLink` do not repeat) with a `value` array of
/// strings or of objects with a string `id`; a string next link is
/// followed when it is under the base, up to 50 pages.
fn model(bodies: &[Vec<u8>], base: &str) -> Outcome {
    let mut groups: Vec<String> = Vec::new();
    for (at, body) in bodies.iter().enumerate() {
        let Ok(Read(members)) = serde_json::from_slice(body) else {
            return Outcome::Invalid;
        };
        let count = |name: &str| members.iter().filter(|(n, _)| n == name).count();
        if count("value") > 1 || count("@odata.nextLink") > 1 {
            return Outcome::Invalid;
        }
        let get = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let Some(Value::Array(values)) = get("value") else {
            return Outcome::Invalid;
        };
        for value in values {
            let id = match value {
                Value::String(id) => id,
                Value::Object(object) => match object.get("id") {
                    Some(Value::String(id)) => id,
                    _ => return Outcome::Invalid,
                },
                _ => return Outcome::Invalid,
            };
            if !groups.contains(id) {
                groups.push(id.clone());
            }
        }
        let link = match get("@odata.nextLink") {
            None | Some(Value::Null) => return Outcome::Groups(groups),
            Some(Value::String(link)) => link,
            Some(_) => return Outcome::Invalid,
        };
        if at + 1 >= MAX_GRAPH_PAGES {
            return Outcome::TooMany;
        }
        if !under(base, link) {
            return Outcome::Foreign;
        }
    }
    Outcome::Missing
}

fn check(fixture: &Fixture, pages: &[Page], query: usize) -> Result<(), TestCaseError> {
    let bodies: Vec<Vec<u8>> = pages.iter().map(|p| body(p, &fixture.base)).collect();
    let (result, seen) = fixture.read(bodies.clone(), query);
    prop_assert_eq!(outcome(&result), model(&bodies, &fixture.base));
    prop_assert!(seen.len() <= MAX_GRAPH_PAGES);
    for path in &seen {
        prop_assert!(path.starts_with("/graph/"), "{}", path);
    }
    Ok(())
}

#[test]
fn graph_pages_are_read_as_the_model_says() {
    let fixture = Fixture::start();
    let mut runner = TestRunner::new(settings(128));
    runner
        .run(&(pages(), 0..2usize), |(pages, query)| {
            check(&fixture, &pages, query)
        })
        .unwrap();
}

#[test]
fn the_pages_reach_groups_and_each_failure() {
    let fixture = Fixture::start();
    let mut seen = std::collections::BTreeSet::new();
    super::share(pages(), 300, |pages| {
        let bodies: Vec<Vec<u8>> = pages.iter().map(|p| body(p, &fixture.base)).collect();
        let shown = format!("{:?}", model(&bodies, &fixture.base));
        seen.insert(shown.split('(').next().unwrap_or_default().to_owned());
        true
    });
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[test]
fn a_page_in_array_form_is_refused() {
    // Found by `graph_pages_are_read_as_the_model_says`: serde reads a
    // struct from a JSON array as well, so `[["g1"], null]` passed for a
    // page holding `g1`, and `[[]]` for a user in no groups.
    let fixture = Fixture::start();
    for body in [&br#"[["g1"], null]"#[..], b"[[]]", b" [ ]"] {
        let (result, _) = fixture.read(vec![body.to_vec()], 0);
        assert!(
            matches!(result, Err(GraphFailure::InvalidResponse(_))),
            "{result:?}"
        );
    }
    let (result, _) = fixture.read(vec![b" \n{\"value\":[\"g1\"]}".to_vec()], 0);
    assert_eq!(result.expect("a page"), ["g1"]);
}

#[test]
fn a_page_over_the_body_cap_is_refused_before_parsing() {
    // The body cap (1 MiB) bounds what any parser of a provider's answer
    // reads: a page one byte over is refused, one at the cap is read.
    let fixture = Fixture::start();
    let page = |len: usize| {
        let mut body = br#"{"value":["g1"],"x":""#.to_vec();
        body.resize(len - 2, b'a');
        body.extend_from_slice(br#""}"#);
        body
    };
    let (result, _) = fixture.read(vec![page(crate::http::MAX_BODY + 1)], 0);
    match result {
        Err(GraphFailure::Request(error)) => assert!(
            matches!(error.kind(), crate::HttpErrorKind::TooLarge { .. }),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    let (result, _) = fixture.read(vec![page(crate::http::MAX_BODY)], 0);
    assert_eq!(result.expect("a page at the cap"), ["g1"]);
}
