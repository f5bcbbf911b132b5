//! The browser's return from the provider: the query string of a `GET`, or
//! the body of a `form_post`.

use crate::error::{CallbackError, clip};

/// The most parameters a callback may have.
const MAX_PARAMETERS: usize = 64;

/// The parameters of the callback request, checked for duplicates.
///
/// The values are secrets (the code) or attacker-controlled (everything), so
/// `Debug` shows only the parameter names.
pub struct Callback {
    params: Vec<(String, String)>,
    /// Read from a URL's query string (not a form post body).
    in_url: bool,
}

impl Callback {
    /// From the query string of a `GET` callback (without the leading `?`).
    pub fn from_query(query: &str) -> Result<Self, CallbackError> {
        let mut callback = Self::from_form(query.as_bytes())?;
        callback.in_url = true;
        Ok(callback)
    }

    /// From the `application/x-www-form-urlencoded` body of a `form_post` callback.
    pub fn from_form(body: &[u8]) -> Result<Self, CallbackError> {
        if body.len() > 64 * 1024 {
            return Err(CallbackError::Malformed);
        }
        Self::from_pairs(url::form_urlencoded::parse(body).into_owned())
    }

    /// From already-decoded name/value pairs (for frameworks that parse the
    /// request themselves, keeping repeats).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, CallbackError> {
        let mut seen = std::collections::HashSet::new();
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            // A real callback has a handful of parameters; a flood of them is
            // an attempt to make parsing expensive.
            if params.len() == MAX_PARAMETERS {
                return Err(CallbackError::Malformed);
            }
            if !seen.insert(name.clone()) {
                return Err(CallbackError::DuplicateParameter(clip(&name, 64)));
            }
            params.push((name, value));
        }
        Ok(Self {
            params,
            in_url: false,
        })
    }

    /// Whether the parameters came in a URL's query string
    /// ([`from_query`](Self::from_query)).
    pub(crate) fn in_url(&self) -> bool {
        self.in_url
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field(
                "parameters",
                &self
                    .params
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_and_form() {
        let cb = Callback::from_query("code=abc&state=s%20t&iss=https%3A%2F%2Fp").unwrap();
        assert_eq!(cb.get("code"), Some("abc"));
        assert_eq!(cb.get("state"), Some("s t"));
        assert_eq!(cb.get("iss"), Some("https://p"));
        assert_eq!(cb.get("missing"), None);
        let cb = Callback::from_form(b"code=x&state=y").unwrap();
        assert_eq!(cb.get("code"), Some("x"));
    }

    #[test]
    fn duplicates_are_refused() {
        let err = Callback::from_query("code=a&state=s&code=b").unwrap_err();
        assert!(matches!(err, CallbackError::DuplicateParameter(ref n) if n == "code"));
        // Percent-encoding does not hide a repeat.
        assert!(Callback::from_query("state=a&%73tate=b").is_err());
    }

    #[test]
    fn parameter_floods_are_refused() {
        let flood: String = (0..10_000).map(|i| format!("p{i}=&")).collect();
        assert!(matches!(
            Callback::from_query(&flood),
            Err(CallbackError::Malformed)
        ));
        let normal: String = (0..64).map(|i| format!("p{i}=x&")).collect();
        assert!(Callback::from_query(&normal).is_ok());
    }

    #[test]
    fn debug_hides_values() {
        let cb = Callback::from_query("code=the-secret-code&state=s").unwrap();
        let debug = format!("{cb:?}");
        assert!(!debug.contains("the-secret-code"), "{debug}");
        assert!(debug.contains("code"));
    }
}
