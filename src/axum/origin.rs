//! Cross-origin POSTs refused. `POST {prefix}/logout` and `POST
//! {prefix}/local-login` change who is signed in, and `SameSite=Lax` alone
//! does not stop a page on a sibling subdomain (the same site, another
//! origin) from posting a form to them with the session cookie.
//!
//! The browser says where a request comes from: `Sec-Fetch-Site` (every
//! current browser), else `Origin` (sent with every POST by browsers from
//! before `Sec-Fetch-Site`). A request with neither does not come from a
//! browser page, so it carries no cookie a page could borrow, and passes.
//! The `form_post` callback is not checked: the provider posts it across
//! sites by design, and its one-time `state` bound to the session is what
//! protects it.

use ::axum::http::{HeaderMap, HeaderValue};
use url::Url;

/// Why a request was taken for a cross-origin one: the header that said so
/// and its value, escaped and clipped, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CrossOrigin {
    pub(crate) header: &'static str,
    pub(crate) value: String,
}

/// Whether the request comes from a page of `app`'s origin (the redirect
/// URI's), or from no page at all.
pub(crate) fn check(headers: &HeaderMap, app: &Url) -> Result<(), CrossOrigin> {
    let refused = |header: &'static str, value: &HeaderValue| CrossOrigin {
        header,
        value: crate::error::clip(&String::from_utf8_lossy(value.as_bytes()), 128),
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: typed by the user, a bookmark; `same-site` is a sibling
        // subdomain, which is what this check is for.
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(refused("Sec-Fetch-Site", site)),
        };
    }
    if let Some(origin) = headers.get("origin") {
        let ours = app.origin().ascii_serialization();
        return if origin.as_bytes() == ours.as_bytes() {
            Ok(())
        } else {
            Err(refused("Origin", origin))
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    ::axum::http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn app() -> Url {
        Url::parse("https://app.example.com/auth/callback").unwrap()
    }

    #[test]
    fn the_app_s_own_pages_and_non_browsers_pass() {
        for pairs in [
            &[("sec-fetch-site", "same-origin")][..],
            &[("sec-fetch-site", "none")],
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://app.example.com"),
            ],
            &[("origin", "https://app.example.com")],
            &[],
        ] {
            assert_eq!(check(&headers(pairs), &app()), Ok(()), "{pairs:?}");
        }
    }

    #[test]
    fn siblings_other_sites_and_look_alikes_are_refused() {
        for pairs in [
            // A sibling subdomain: the same site, so `Lax` cookies go along.
            &[("sec-fetch-site", "same-site")][..],
            &[("sec-fetch-site", "cross-site")],
            &[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://app.example.com"),
            ],
            &[("sec-fetch-site", "SAME-ORIGIN")],
            &[("origin", "https://evil.app.example.com")],
            &[("origin", "https://app.example.com.evil.example")],
            &[("origin", "http://app.example.com")],
            &[("origin", "https://app.example.com:8443")],
            &[("origin", "null")],
        ] {
            assert!(check(&headers(pairs), &app()).is_err(), "{pairs:?}");
        }
        // The value goes to the log escaped.
        let mut hostile = HeaderMap::new();
        hostile.insert(
            "origin",
            HeaderValue::from_bytes(b"https://x.example\tINFO forged").unwrap(),
        );
        let refused = check(&hostile, &app()).unwrap_err();
        assert_eq!(refused.header, "Origin");
        assert_eq!(refused.value, "https://x.example\\tINFO forged");
    }

    #[test]
    fn the_origin_compares_with_the_port_when_there_is_one() {
        let local = Url::parse("http://127.0.0.1:8080/callback").unwrap();
        let ok = headers(&[("origin", "http://127.0.0.1:8080")]);
        assert_eq!(check(&ok, &local), Ok(()));
        let other_port = headers(&[("origin", "http://127.0.0.1:8081")]);
        assert!(check(&other_port, &local).is_err());
    }
}
