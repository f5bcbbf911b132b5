//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the URL of
//! the provider's `end_session_endpoint`.

use url::Url;

use crate::error::LogoutError;
use crate::secret::{IdToken, State, random_token};

/// A logout at the provider, ready to send the browser to. Made by
/// [`Client::logout_url`](crate::Client::logout_url). `Debug` shows the
/// endpoint without its query, which holds the ID token and the `state`.
#[non_exhaustive]
pub struct ProviderLogout {
    /// The provider's `end_session_endpoint` with the request's parameters.
    pub url: Url,
    /// The `state` sent along with a `post_logout_redirect_uri`: the provider
    /// returns it there. Keep it (in the session) and compare it when the
    /// browser comes back; act on nothing else it says.
    pub state: Option<State>,
}

impl std::fmt::Debug for ProviderLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLogout")
            .field("url", &&self.url[..url::Position::AfterPath])
            .field("state", &self.state)
            .finish()
    }
}

/// The `end_session_endpoint` URL: `client_id`, `id_token_hint` when given,
/// and `post_logout_redirect_uri` (one of `allowed`, compared exactly) with a
/// fresh `state`.
pub(crate) fn end_session_url(
    endpoint: &Url,
    client_id: &str,
    id_token_hint: Option<&IdToken>,
    post_logout_redirect_uri: Option<&str>,
    allowed: &[Url],
) -> Result<ProviderLogout, LogoutError> {
    let return_to = match post_logout_redirect_uri {
        None => None,
        Some(given) => Some(
            allowed
                .iter()
                .find(|uri| uri.as_str() == given || Url::parse(given).ok().as_ref() == Some(*uri))
                .ok_or_else(|| LogoutError::PostLogoutRedirectNotAllowed {
                    uri: crate::error::clip(given, 256),
                })?,
        ),
    };
    let mut url = endpoint.clone();
    let state = return_to.map(|_| State::new(random_token::<32>()));
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", client_id);
        if let Some(hint) = id_token_hint {
            query.append_pair("id_token_hint", hint.expose_secret());
        }
        if let (Some(uri), Some(state)) = (return_to, &state) {
            query.append_pair("post_logout_redirect_uri", uri.as_str());
            query.append_pair("state", state.expose_secret());
        }
    }
    Ok(ProviderLogout { url, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Url {
        Url::parse("https://idp.example/logout?tenant=x").unwrap()
    }

    fn allowed() -> Vec<Url> {
        vec![Url::parse("https://app.example/logged-out").unwrap()]
    }

    fn params(url: &Url) -> Vec<(String, String)> {
        url.query_pairs().into_owned().collect()
    }

    /// A logout of client `app` that returns to the allowed URI.
    fn returning(hint: Option<&IdToken>) -> ProviderLogout {
        end_session_url(
            &endpoint(),
            "app",
            hint,
            Some("https://app.example/logged-out"),
            &allowed(),
        )
        .unwrap()
    }

    #[test]
    fn sends_the_hint_the_allowed_uri_and_a_fresh_state() {
        let hint = IdToken::new("a.b.c");
        let out = returning(Some(&hint));
        let state = out.state.expect("a state goes with the return URI");
        assert!(state.expose_secret().len() >= 43, "256 bits");
        assert_eq!(
            params(&out.url),
            [
                ("tenant".into(), "x".into()),
                ("client_id".into(), "app".into()),
                ("id_token_hint".into(), "a.b.c".into()),
                (
                    "post_logout_redirect_uri".into(),
                    "https://app.example/logged-out".into()
                ),
                ("state".into(), state.expose_secret().to_owned()),
            ]
        );
        let again = returning(None);
        assert_ne!(again.state.unwrap(), state, "each logout has its own state");
    }

    #[test]
    fn debug_hides_the_hint_and_the_state() {
        let hint = IdToken::new("secret.id.token");
        let out = returning(Some(&hint));
        let debug = format!("{out:?}");
        assert!(!debug.contains("secret.id.token"), "{debug}");
        assert!(
            !debug.contains(out.state.as_ref().unwrap().expose_secret()),
            "{debug}"
        );
        assert!(debug.contains("https://idp.example/logout"), "{debug}");
    }

    #[test]
    fn without_a_return_uri_there_is_no_state() {
        let out = end_session_url(&endpoint(), "app", None, None, &allowed()).unwrap();
        assert!(out.state.is_none());
        assert!(!params(&out.url).iter().any(|(k, _)| k == "state"));
    }

    #[test]
    fn a_return_uri_not_configured_is_refused() {
        for uri in [
            "https://evil.example/logged-out",
            "https://app.example/logged-out/../admin",
            "https://app.example/logged-out?x=1",
            "https://app.example/other",
            "//evil.example",
        ] {
            let error =
                end_session_url(&endpoint(), "app", None, Some(uri), &allowed()).unwrap_err();
            assert!(
                matches!(error, LogoutError::PostLogoutRedirectNotAllowed { .. }),
                "{uri}: {error:?}"
            );
        }
    }
}
