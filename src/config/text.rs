//! Reading config text (TOML or JSON) into a serde type, with parse errors
//! that never quote the text.
//!
//! Any value in a config may be a secret (a client secret on the wrong line,
//! a secret typed into the wrong field), so a parse error says where the
//! mistake is (the field's path, line and column) and what kind it is, but
//! shows no value from the text. The parsers' own messages are rebuilt from
//! their parts: `toml` quotes the offending source line in its `Display`,
//! and serde's "invalid type" and "unknown variant" messages quote the value.

use serde::de::DeserializeOwned;

use crate::error::ConfigError;

/// The text's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
}

/// Parses `text` as `format` into `T`. `what` names the text in errors
/// ("the PrivX identity provider client"), or is empty for a config.
pub(crate) fn parse_text<T: DeserializeOwned>(
    text: &str,
    format: Format,
    what: &str,
) -> Result<T, ConfigError> {
    let (path, message, place) = match format {
        Format::Toml => match serde_path_to_error::deserialize(toml::Deserializer::new(text)) {
            Ok(value) => return Ok(value),
            Err(error) => {
                let place = error
                    .inner()
                    .span()
                    .map(|span| line_column(text, span.start));
                let path = error.path().to_string();
                (path, error.into_inner().message().to_owned(), place)
            }
        },
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let (path, error) = match serde_path_to_error::deserialize(&mut deserializer) {
                Ok(value) => match deserializer.end() {
                    Ok(()) => return Ok(value),
                    Err(error) => (String::new(), error),
                },
                Err(error) => (error.path().to_string(), error.into_inner()),
            };
            let place = (error.line() > 0).then(|| (error.line(), error.column()));
            (path, json_message(&error), place)
        }
    };
    // The path of an unknown field ends with the unknown key itself.
    let path = match message.starts_with("unknown field") {
        true => path
            .rsplit_once('.')
            .map_or("", |(parent, _)| parent)
            .to_owned(),
        false => path,
    };
    let mut text = match what.is_empty() {
        true => String::new(),
        false => format!("{what}: "),
    };
    if let Some(path) = shown_path(&path) {
        text.push_str(&format!("at `{path}`: "));
    }
    text.push_str(&describe(&message));
    if let Some((line, column)) = place {
        text.push_str(&place_suffix(line, column));
    }
    Err(ConfigError::Parse { message: text })
}

/// The path of the field at fault (`role_mapping[0].roles`), with any
/// segment that is not one of the crate's own names left out.
fn shown_path(path: &str) -> Option<String> {
    if path.is_empty() || path == "." {
        return None;
    }
    let segments: Vec<&str> = path
        .split('.')
        .map(|segment| {
            let name = segment.split('[').next().unwrap_or_default();
            let index_ok = segment[name.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '[' || c == ']');
            if (name.is_empty() || is_key_like(name)) && index_ok {
                segment
            } else {
                "…"
            }
        })
        .collect();
    Some(segments.join("."))
}

/// The names of the fields `T` deserializes from, as serde's derive lists
/// them: asked of a deserializer that records them and stops.
pub(crate) fn field_names<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    struct Names(&'static [&'static str]);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Names {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(&[]);
    let _ = T::deserialize(&mut names);
    names.0
}

/// The error for an unknown top-level key found after parsing (`known`
/// are the form's keys): worded like a parser's, and like it naming the key
/// only next to the field it misspells; placed in `text` when given.
pub(crate) fn unknown_field(
    key: &str,
    known: &[&str],
    text: Option<(&str, Format)>,
) -> ConfigError {
    let list = known
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>();
    let mut message = describe(&format!(
        "unknown field `{key}`, expected one of {}",
        list.join(", ")
    ));
    if let Some((line, column)) = text.and_then(|(text, format)| key_position(text, format, key)) {
        message.push_str(&place_suffix(line, column));
    }
    ConfigError::Parse { message }
}

/// Where in the text a parse error is: the one spelling of it, which
/// [`in_provider_table`] takes off again.
fn place_suffix(line: usize, column: usize) -> String {
    format!(" (line {line}, column {column})")
}

/// A parse error of one `[[provider]]` table, read on its own from a copy
/// of the table: it names the table, and loses the line and column, which
/// are the copy's, not the file's.
pub(crate) fn in_provider_table(error: ConfigError, name: &str) -> ConfigError {
    let ConfigError::Parse { message } = error else {
        return error;
    };
    let message = match message.rsplit_once(" (line ") {
        Some((before, place))
            if place
                .strip_suffix(')')
                .and_then(|p| p.split_once(", column "))
                .is_some_and(|(l, c)| {
                    [l, c]
                        .iter()
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                }) =>
        {
            before
        }
        _ => &message,
    };
    ConfigError::Parse {
        message: format!(
            "in the `[[provider]]` table `{}`: {message}",
            crate::error::clip(name, 32)
        ),
    }
}

/// Where `key` is first written as a key: `key =`, `"key" =`, `[key]` in
/// TOML, `"key":` in JSON.
fn key_position(text: &str, format: Format, key: &str) -> Option<(usize, usize)> {
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let start = line.len() - line.trim_start().len();
        let rest = line.trim_start().trim_start_matches(['[', ' ']);
        let after = match format {
            Format::Toml => rest
                .strip_prefix(key)
                .or_else(|| rest.strip_prefix(&format!("\"{key}\""))),
            Format::Json => line
                .find(&format!("\"{key}\""))
                .map(|at| &line[at + key.len() + 2..]),
        };
        if let Some(after) = after
            && after.trim_start().starts_with(['=', ':', ']', '.'])
        {
            let column = match format {
                Format::Toml => start + 1,
                Format::Json => line.find(&format!("\"{key}\"")).unwrap_or(0) + 1,
            };
            return Some((number + 1, column));
        }
    }
    None
}

/// 1-based line and column of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// serde_json's message without the " at line L column C" it appends.
fn json_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// The parser's message, rebuilt without any value from the text. serde's
/// standard messages are recognised by their form; anything else (a syntax
/// error) keeps only its words and the short grammar tokens it names.
pub(crate) fn describe(message: &str) -> String {
    // "unknown field `K`, expected one of `a`, `b`": K is what the writer
    // typed as a key. It is shown only as the misspelling of a name it is
    // near ("did you mean"): a key-shaped secret on a line of its own must
    // not come back, and the line and column say where the key is.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // The list after the last "`, expected " is the crate's own (serde
        // writes "there are no fields" for an empty one).
        let (key, expected) = match rest.rsplit_once("`, expected ") {
            Some((key, list)) => (key, format!("expected {list}")),
            None => rest
                .rsplit_once("`, ")
                .map_or(("", String::new()), |(key, tail)| (key, tail.to_owned())),
        };
        if is_key_like(key)
            && let Some(nearest) = nearest_name(key, &names_in(&expected))
        {
            return format!("unknown field `{key}` (did you mean `{nearest}`?)");
        }
        return match expected.is_empty() {
            true => "unknown field".to_owned(),
            false => format!("unknown field; {}", first_line(&expected)),
        };
    }
    // "unknown variant `V`, expected ...", "invalid type: X, expected Y",
    // "invalid value: X, expected Y": the value's text is dropped, its kind
    // kept; what follows the last ", expected " comes from the crate's types.
    for (prefix, label) in [
        ("unknown variant ", "unknown value"),
        ("invalid type: ", "invalid type: "),
        ("invalid value: ", "invalid value: "),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
            let mut text = label.to_owned();
            if prefix != "unknown variant " {
                text.push_str(&value_kind(found));
            }
            if !expected.is_empty() {
                text.push_str(&format!(", expected {}", first_line(expected)));
            }
            return text;
        }
    }
    // "missing field `k`": the name is the crate's own.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
        && is_key_like(name)
    {
        return message.to_owned();
    }
    // Anything else: "invalid length 3", a syntax error ("invalid basic
    // string", "expected `=`", "duplicate key `k`", whose key the line and
    // column point at).
    without_values(message)
}

/// The kind of an unexpected value as serde words it (`string "x"`,
/// `integer `1``, `map`): the words before any quoted text.
fn value_kind(found: &str) -> String {
    let end = found.find(['"', '`', '\'']).unwrap_or(found.len());
    let kind = found[..end].trim();
    if kind.is_empty() {
        "a value".to_owned()
    } else {
        kind.to_owned()
    }
}

/// `text` with every quoted part replaced by `…`, except short grammar
/// tokens (`=`, `"`, `]`), which carry nothing from the text. Its lines are
/// joined with `; `.
fn without_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['"', '`', '\'']) {
        out.push_str(&rest[..start]);
        let quote = rest[start..].chars().next().unwrap_or('`');
        let after = &rest[start + 1..];
        // A quote with no end: drop the rest, it may be a value.
        let Some(len) = after.find(quote) else {
            out.push('…');
            return clean(out);
        };
        let inner = &after[..len];
        let keep = quote == '`' && is_grammar_token(inner);
        out.push(quote);
        out.push_str(if keep { inner } else { "…" });
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    clean(out)
}

/// The first line of the crate's own text, which serde lists after "expected".
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

fn clean(text: String) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A token of TOML or JSON grammar, as the parsers name them.
fn is_grammar_token(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| c.is_ascii_punctuation())
}

/// A bare key as the crate's own fields are named: lowercase letters,
/// digits and `_`, at most 40 characters. A secret can look like this too,
/// so a typed key is shown only next to the name it misspells.
fn is_key_like(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The backquoted names in serde's "expected one of `a`, `b`" list.
fn names_in(expected: &str) -> Vec<&str> {
    expected.split('`').skip(1).step_by(2).collect()
}

/// The listed name nearest to `key`, when it is near enough to be the one
/// meant.
fn nearest_name<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|name| (strsim::jaro_winkler(key, name), *name))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_their_values() {
        for (message, wanted) in [
            (
                "invalid type: string \"hunter2\", expected a sequence",
                "invalid type: string, expected a sequence",
            ),
            (
                "invalid type: integer `839274619283`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "unknown variant `hunter2`, expected `none` or `client_secret_basic`",
                "unknown value, expected `none` or `client_secret_basic`",
            ),
            (
                "unknown variant `a`, expected `b`, expected one of `none`, `x`",
                "unknown value, expected one of `none`, `x`",
            ),
            (
                "unknown variant `RS257`, expected one of `RS256`, `ES256`",
                "unknown value, expected one of `RS256`, `ES256`",
            ),
            (
                "invalid value: string \"not a url hunter2\", expected relative URL without a base",
                "invalid value: string, expected relative URL without a base",
            ),
            ("missing field `client_id`", "missing field `client_id`"),
            (
                "duplicate key `hunter2secret` in document root",
                "duplicate key `…` in document root",
            ),
            (
                "invalid basic string\nexpected `\"`, `'`",
                "invalid basic string; expected `\"`, `'`",
            ),
            ("unterminated \"hunter2", "unterminated …"),
        ] {
            assert_eq!(describe(message), wanted, "{message}");
        }
    }

    #[test]
    fn unknown_fields_keep_the_key_and_suggest_the_nearest() {
        assert_eq!(
            describe(
                "unknown field `client_secert`, expected one of `client_id`, `client_secret`, `scopes`"
            ),
            "unknown field `client_secert` (did you mean `client_secret`?)"
        );
        assert_eq!(
            describe("unknown field `scope`, expected one of `client_id`, `scopes`"),
            "unknown field `scope` (did you mean `scopes`?)"
        );
        // A key near none of ours is not shown: it may be a secret.
        assert_eq!(
            describe("unknown field `Hunter2-S3cret!`, expected `a`"),
            "unknown field; expected `a`"
        );
        assert_eq!(
            describe("unknown field `hunter2secret`, expected one of `scopes`, `flow`"),
            "unknown field; expected one of `scopes`, `flow`"
        );
    }
}
