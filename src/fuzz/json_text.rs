//! JSON text for the parsers, written by hand so that it can hold what a
//! `serde_json::Value` cannot: repeated member names, names and strings
//! spelled with escapes, and numbers and strings serde_json refuses. The
//! reference reading is serde_json's.

use std::fmt::Write as _;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value as written.
#[derive(Debug, Clone)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    /// A token written as is: an odd number, an escape serde_json refuses...
    Raw(&'static str),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

/// A string, written plainly or with every character as a `\u` escape.
#[derive(Debug, Clone)]
pub(super) struct Text {
    pub(super) value: String,
    pub(super) escaped: bool,
}

impl Text {
    pub(super) fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            escaped: false,
        }
    }
}

impl From<&str> for Json {
    fn from(value: &str) -> Self {
        Json::Str(Text::plain(value))
    }
}

/// Tokens serde_json reads into a `Value`.
const ODD_VALID: &[&str] = &[
    "-0",
    "0.0",
    "1E2",
    "1.5e3",
    "-1e-7",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808.0",
    "1e-400",
    r#""\ud83d\ude00""#,
    r#""\u0000""#,
    r#""\/""#,
    r#""\"\\\b\f\n\r\t""#,
    "\"\u{202e}\u{7f}\"",
];

/// Tokens serde_json refuses: out-of-range numbers, lone surrogates, bad
/// escapes, raw control characters, not JSON at all.
const ODD_INVALID: &[&str] = &[
    "1e400",
    "-1e400",
    r#""\ud800""#,
    r#""\udc00\ud800""#,
    r#""\x""#,
    "\"\t\"",
    "01",
    "1.",
    ".5",
    "+1",
    "NaN",
    "Infinity",
    "nul",
    "[1,]",
    r#"{"a":1,}"#,
    "'a'",
];

impl Json {
    /// The JSON text; `spaced` puts whitespace between the tokens.
    pub(super) fn write(&self, out: &mut String, spaced: bool) {
        let space = if spaced { " \n\t" } else { "" };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Json::Str(text) => write_text(text, out),
            Json::Raw(raw) => out.push_str(raw),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space);
                    item.write(out, spaced);
                }
                out.push_str(space);
                out.push(']');
            }
            Json::Object(members) => write_members(members, out, spaced),
        }
    }

    pub(super) fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, false);
        out
    }
}

/// `{"name":value,...}`, members in the order given (repeats kept).
pub(super) fn write_members(members: &[(Text, Json)], out: &mut String, spaced: bool) {
    let space = if spaced { " \n\t" } else { "" };
    out.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(space);
        write_text(name, out);
        out.push_str(space);
        out.push(':');
        out.push_str(space);
        value.write(out, spaced);
    }
    out.push_str(space);
    out.push('}');
}

/// The text of an object with these members.
pub(super) fn object_text(members: &[(Text, Json)], spaced: bool) -> String {
    let mut out = String::new();
    write_members(members, &mut out, spaced);
    out
}

fn write_text(text: &Text, out: &mut String) {
    if !text.escaped {
        out.push_str(&serde_json::to_string(&text.value).expect("a string serializes"));
        return;
    }
    out.push('"');
    for unit in text.value.encode_utf16() {
        let _ = write!(out, "\\u{unit:04x}");
    }
    out.push('"');
}

/// Member names: the registered claims and header members, short names,
/// and any text.
pub(super) fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "iss",
                "sub",
                "aud",
                "azp",
                "exp",
                "iat",
                "nbf",
                "nonce",
                "at_hash",
                "c_hash",
                "auth_time",
                "tid",
                "ver",
                "alg",
                "kid",
                "crit",
                "b64",
                "jti",
                "sid",
                "events",
                "keys",
                "groups",
                "",
                "__proto__",
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
        "(?s).{0,8}",
    ]
}

/// A name, now and then spelled with escapes.
pub(super) fn text_of(value: impl Strategy<Value = String>) -> impl Strategy<Value = Text> {
    (value, prop::bool::weighted(0.15)).prop_map(|(value, escaped)| Text { value, escaped })
}

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,12}",
        "(?s).{0,12}",
        Just("https://idp.example".to_owned()),
    ]
}

/// Any JSON value, a few levels deep; with `invalid`, now and then a token
/// serde_json refuses.
pub(super) fn json(invalid: bool) -> BoxedStrategy<Json> {
    let raw = if invalid {
        // Mostly valid, so that the rest of the document gets read.
        prop_oneof![4 => select(ODD_VALID), 1 => select(ODD_INVALID)].boxed()
    } else {
        select(ODD_VALID).boxed()
    };
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::Int),
        (1_600_000_000i64..1_800_000_000).prop_map(Json::Int),
        prop_oneof![
            prop::num::f64::NORMAL,
            prop::num::f64::SUBNORMAL,
            prop::num::f64::ZERO
        ]
        .prop_map(Json::Float),
        text_of(string_value()).prop_map(Json::Str),
        raw.prop_map(Json::Raw),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Json::Array),
            vec((text_of(name()), inner), 0..5).prop_map(Json::Object),
        ]
    })
    .boxed()
}

// ----- claim sets ------------------------------------------------------------

/// A registered claim: usually a value the rules accept (for an optional
/// claim, absence too), sometimes one near a limit or of the wrong kind,
/// any JSON value, or absent.
pub(super) fn member(
    name: &'static str,
    good: BoxedStrategy<Option<Json>>,
    bad: BoxedStrategy<Json>,
) -> BoxedStrategy<Option<(Text, Json)>> {
    let value = prop_oneof![
        17 => good,
        1 => bad.prop_map(Some),
        1 => Just(None),
        1 => json(false).prop_map(Some),
    ];
    (text_of(Just(name.to_owned())), value)
        .prop_map(|(name, value)| value.map(|v| (name, v)))
        .boxed()
}

/// A required claim's good values.
pub(super) fn required(good: BoxedStrategy<Json>) -> BoxedStrategy<Option<Json>> {
    good.prop_map(Some).boxed()
}

/// An optional claim's good values, absence included.
pub(super) fn optional(good: BoxedStrategy<Json>) -> BoxedStrategy<Option<Json>> {
    prop::option::of(good).boxed()
}

/// Whole numbers in `range`.
pub(super) fn int(range: std::ops::Range<i64>) -> BoxedStrategy<Json> {
    range.prop_map(Json::Int).boxed()
}

/// One of these strings, short ones now and then spelled with escapes.
pub(super) fn string(values: &'static [&'static str]) -> BoxedStrategy<Json> {
    (proptest::sample::select(values), any::<bool>())
        .prop_map(|(value, escaped)| {
            Json::Str(Text {
                value: value.to_owned(),
                escaped: escaped && value.len() < 8,
            })
        })
        .boxed()
}

/// A claim set from its registered members (absent ones left out) and
/// extra ones, in any order, now and then with a member repeated under the
/// same name or the same name spelled with escapes.
pub(super) fn claim_set(
    registered: Vec<BoxedStrategy<Option<(Text, Json)>>>,
    extra: impl Strategy<Value = Vec<(Text, Json)>>,
) -> impl Strategy<Value = Vec<(Text, Json)>> {
    let members = (registered, extra)
        .prop_map(|(registered, extra)| {
            let mut all: Vec<(Text, Json)> = registered.into_iter().flatten().collect();
            all.extend(extra);
            all
        })
        .prop_shuffle();
    let repeat = prop::option::weighted(0.05, (any::<Index>(), any::<bool>()));
    (members, repeat).prop_map(|(mut members, repeat)| {
        if let Some((index, escaped)) = repeat
            && !members.is_empty()
        {
            let (name, value) = members[index.index(members.len())].clone();
            members.push((Text { escaped, ..name }, value));
        }
        members
    })
}

/// `depth` arrays or objects, one inside the other.
pub(super) fn nested(depth: usize, objects: bool) -> String {
    let (open, close) = if objects {
        (r#"{"a":"#, "}")
    } else {
        ("[", "]")
    };
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// A NumericDate as RFC 7519 reads it: seconds, fractions truncated.
pub(super) fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let number = value?.as_number()?;
    number.as_i64().or_else(|| {
        let f = number.as_f64()?;
        (f.is_finite() && f >= -(2f64.powi(63)) && f < 2f64.powi(63)).then(|| f.trunc() as i64)
    })
}

/// serde_json's reading of `text` as one object whose member names do not
/// repeat: the reference for the claims parsers. `None` when serde_json
/// refuses the text, it is not an object, or a name repeats.
pub(super) fn unique_object(text: &[u8]) -> Option<Map<String, Value>> {
    let members = members(text)?;
    let mut map = Map::new();
    for (name, value) in members {
        if map.insert(name, value).is_some() {
            return None;
        }
    }
    Some(map)
}

/// serde_json's reading of `text` as one object, every member kept in
/// order, repeats included.
pub(super) fn members(text: &[u8]) -> Option<Vec<(String, Value)>> {
    let text = std::str::from_utf8(text).ok()?;
    serde_json::from_str::<Members>(text).ok().map(|m| m.0)
}

struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = access.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}
