//! The browser's return from the provider: the query string of a `GET`, or
//! the body of a `form_post`, and the checks it passes before anything is
//! sent to the provider.

use crate::error::{CallbackError, clip};
use crate::issuer::{TenantPolicy, TenantTemplate};
use crate::secret::constant_time_eq;

use super::PendingLogin;

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

/// What a callback is checked against: the client's provider and clock.
pub(crate) struct CallbackRules<'a> {
    /// The client's provider name ([`Config::name`](crate::Config::name)).
    pub(crate) provider: &'a str,
    /// The provider's issuer (or multi-tenant template), as discovered.
    pub(crate) issuer: &'a str,
    /// For an Entra ID multi-tenant app: the issuer template and the policy.
    pub(crate) tenant: Option<(&'a TenantTemplate, &'a TenantPolicy)>,
    /// The provider sends RFC 9207 `iss` in every callback.
    pub(crate) iss_parameter_supported: bool,
    /// Unix seconds.
    pub(crate) now: i64,
    pub(crate) lifetime_seconds: u64,
}

/// Checks the callback before anything is sent to the provider: the
/// pending login is this provider's and fresh, `state` equal (in constant
/// time), no `error`, and the RFC 9207 `iss`.
pub(crate) fn check_callback(
    rules: &CallbackRules<'_>,
    pending: &PendingLogin,
    callback: &Callback,
) -> Result<(), CallbackError> {
    if pending.issuer != rules.issuer {
        return Err(CallbackError::WrongProvider {
            pending: pending.issuer.clone(),
            client: rules.issuer.to_owned(),
        });
    }
    // RFC 9700 4.4: a login started at another provider is never finished
    // here (its code never reaches this provider's token endpoint), even
    // when both share an issuer.
    if let Some(pending_provider) = &pending.provider
        && pending_provider != rules.provider
    {
        return Err(CallbackError::WrongProviderName {
            pending: pending_provider.clone(),
            client: rules.provider.to_owned(),
        });
    }
    let age = rules.now.saturating_sub(pending.created_at);
    if age < 0 || age.unsigned_abs() > rules.lifetime_seconds {
        return Err(CallbackError::Expired {
            lifetime_seconds: rules.lifetime_seconds,
        });
    }
    let state = callback.get("state");
    if let Some(state) = state
        && !constant_time_eq(state.as_bytes(), pending.state.expose_secret().as_bytes())
    {
        return Err(CallbackError::StateMismatch);
    }
    if let Some(error) = callback.get("error") {
        return Err(CallbackError::Provider {
            error: clip(error, 64),
            description: callback.get("error_description").map(|d| clip(d, 512)),
        });
    }
    if state.is_none() {
        return Err(CallbackError::MissingParameter("state"));
    }
    // RFC 9207, checked before the code is redeemed.
    match callback.get("iss") {
        Some(iss) if !issuer_ok(rules, iss) => Err(CallbackError::IssuerMismatch {
            expected: rules.issuer.to_owned(),
            found: clip(iss, 256),
        }),
        None if rules.iss_parameter_supported => Err(CallbackError::MissingIssuer),
        _ => Ok(()),
    }
}

/// Whether the callback's `iss` names this provider: the issuer exactly,
/// or for an Entra ID multi-tenant app the template with a tenant the
/// policy allows (the token's own tenant is checked after the exchange).
fn issuer_ok(rules: &CallbackRules<'_>, iss: &str) -> bool {
    match rules.tenant {
        Some((template, policy)) => template.allows_issuer(iss, policy),
        None => iss == rules.issuer,
    }
}

/// Entra ID multi-tenant: the callback's `iss` (checked against the
/// template before the exchange) must be the token's own issuer.
pub(crate) fn check_tokens_issuer(
    rules: &CallbackRules<'_>,
    callback: &Callback,
    token_issuer: &str,
) -> Result<(), CallbackError> {
    match callback.get("iss") {
        Some(iss) if rules.tenant.is_some() && iss != token_issuer => {
            Err(CallbackError::IssuerMismatch {
                expected: token_issuer.to_owned(),
                found: clip(iss, 256),
            })
        }
        _ => Ok(()),
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
