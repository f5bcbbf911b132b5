//! The one way this crate talks HTTP.
//!
//! Every request has a timeout, follows no redirect, and reads at most
//! [`MAX_BODY`] bytes of the answer. URLs are checked for https (or a loopback
//! host) before they get here, when the config is built and the metadata read.
//!
//! A failure is an [`HttpError`] that says what the request was for and
//! where it went: a status that is no protocol answer (5xx, 429, or an error
//! status whose body is not JSON), a body that is not JSON at all (a proxy's
//! HTML page), or an answer cut short. Only a JSON answer reaches the caller
//! (or `oauth2`, for the token endpoint), so that its errors are about the
//! protocol, never about a broken server.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::http;
use url::Url;

use crate::error::{HttpError, HttpErrorKind};
use crate::secret::AccessToken;

/// The largest response body read from a provider (1 MiB).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub(crate) fn new(timeout: Duration) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("oidc-login/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError {
                what: "building the HTTP client",
                url: String::new(),
                kind: HttpErrorKind::Other,
                source: Some(Box::new(e)),
            })?;
        Ok(Self { inner })
    }

    /// GETs a JSON document: metadata, JWKS or userinfo.
    pub(crate) async fn get_json(
        &self,
        what: &'static str,
        url: &Url,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, HttpError> {
        let mut request = self
            .inner
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose_secret());
        }
        self.json_response(what, url, request).await
    }

    /// POSTs a JSON body and reads a JSON answer (Microsoft Graph's
    /// `getMemberObjects`).
    pub(crate) async fn post_json(
        &self,
        what: &'static str,
        url: &Url,
        bearer: Option<&AccessToken>,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, HttpError> {
        let mut request = self
            .inner
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose_secret());
        }
        self.json_response(what, url, request).await
    }

    /// POSTs a form and reads nothing but the status (RFC 7009 token
    /// revocation answers 200 with no body): a 2xx is `Ok`, anything else an
    /// error naming the status. `basic` is the `Authorization: Basic` value's
    /// user and password, already form-urlencoded (RFC 6749 section 2.3.1).
    pub(crate) async fn post_form(
        &self,
        what: &'static str,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<(), HttpError> {
        let mut request = self.inner.post(url.clone()).form(form);
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        let response = self.send_success(what, url, request).await?;
        // Read (capped) and dropped, so the connection can be reused.
        read_capped(what, url.as_str(), response).await?;
        Ok(())
    }

    /// Sends the request: a success status gives the response, a redirect
    /// (never followed) or any other status an error.
    async fn send_success(
        &self,
        what: &'static str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, HttpError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(what, url.as_str(), e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(error(
                what,
                url.as_str(),
                HttpErrorKind::Redirect(status.as_u16()),
            ));
        }
        if !status.is_success() {
            return Err(error(
                what,
                url.as_str(),
                HttpErrorKind::Status(status.as_u16()),
            ));
        }
        Ok(response)
    }

    /// Sends the request; a success status gives the capped body, anything
    /// else an error (redirects are not followed).
    async fn json_response(
        &self,
        what: &'static str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, HttpError> {
        let response = self.send_success(what, url, request).await?;
        let content_type = content_type(response.headers());
        let body = read_capped(what, url.as_str(), response).await?;
        if !is_json(&body) {
            return Err(error(what, url.as_str(), not_json(&content_type, &body)));
        }
        Ok(body)
    }

    /// The token endpoint `url` as `oauth2` calls it, with `what` the
    /// request is for in its errors ("redeeming the code at the token
    /// endpoint").
    pub(crate) fn token_endpoint<'h>(
        &'h self,
        what: &'static str,
        url: &'h Url,
    ) -> TokenEndpoint<'h> {
        TokenEndpoint {
            http: self,
            what,
            url,
        }
    }

    /// Sends a request built by `oauth2` (a token request) to `url` and
    /// returns a JSON answer, a success or an OAuth error (4xx), for `oauth2`
    /// to read; anything else (5xx, 429, an error status or a success whose
    /// body is not JSON) is an [`HttpError`].
    async fn send(
        &self,
        what: &'static str,
        url: &Url,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let (parts, body) = request.into_parts();
        // `oauth2` addressed it to the URL it was given, this one: reused as
        // parsed, not printed from the request and parsed again.
        if parts.uri != url.as_str() {
            return Err(error(what, &parts.uri.to_string(), HttpErrorKind::Other));
        }
        let mut request = reqwest::Request::new(parts.method, url.clone());
        *request.headers_mut() = parts.headers;
        *request.version_mut() = parts.version;
        *request.body_mut() = Some(body.into());
        let url = url.as_str();
        let response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| transport_error(what, url, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(error(what, url, HttpErrorKind::Redirect(status.as_u16())));
        }
        let content_type = content_type(response.headers());
        let mut answer = http::Response::new(Vec::new());
        *answer.status_mut() = status;
        *answer.headers_mut() = response.headers().clone();
        let body = read_capped(what, url, response).await?;
        let json = is_json(&body);
        // A server failure, or an error status without an OAuth error body
        // (a proxy's page), is no answer to the request: `oauth2` would read
        // it as a refusal of the code or refresh token.
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || (!status.is_success() && !json)
        {
            return Err(error(what, url, HttpErrorKind::Status(status.as_u16())));
        }
        if !json {
            return Err(error(what, url, not_json(&content_type, &body)));
        }
        *answer.body_mut() = body;
        Ok(answer)
    }
}

/// The token endpoint, for one kind of request: see
/// [`HttpClient::token_endpoint`]. (`HttpClient` itself is no
/// `oauth2::AsyncHttpClient`, so that every token request says in its errors
/// what it was for.)
#[derive(Debug)]
pub(crate) struct TokenEndpoint<'h> {
    http: &'h HttpClient,
    what: &'static str,
    url: &'h Url,
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenEndpoint<'_> {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.http.send(self.what, self.url, request))
    }
}

/// The response's content type, clipped, for an error message.
fn content_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .map(|value| crate::error::clip(&String::from_utf8_lossy(value.as_bytes()), 64))
}

/// Whether `body` is one JSON value (of any form; the caller checks that).
fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// What is wrong with a body that is not JSON; never its text, which may
/// hold a token.
fn not_json(content_type: &Option<String>, body: &[u8]) -> HttpErrorKind {
    let reason = match content_type.as_deref() {
        _ if body.is_empty() => {
            "it is empty where JSON was expected: check the URL, and any proxy in front of the server".to_owned()
        }
        Some(jwt) if jwt.to_ascii_lowercase().starts_with("application/jwt") => {
            "it is a JWT (`application/jwt`): signed or encrypted responses are not supported; have the provider answer plain JSON".to_owned()
        }
        Some(content_type) => format!(
            "it is not JSON (content type `{content_type}`, {} bytes): check the URL, and any proxy in front of the server",
            body.len()
        ),
        None => format!(
            "it is not JSON (no content type, {} bytes): check the URL, and any proxy in front of the server",
            body.len()
        ),
    };
    HttpErrorKind::InvalidBody(reason)
}

async fn read_capped(
    what: &'static str,
    url: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, HttpError> {
    let too_large = || error(what, url, HttpErrorKind::TooLarge { limit: MAX_BODY });
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(what, url, e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error(what: &'static str, url: &str, kind: HttpErrorKind) -> HttpError {
    HttpError {
        what,
        url: without_query(url),
        kind,
        source: None,
    }
}

fn transport_error(what: &'static str, url: &str, e: reqwest::Error) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_body() || e.is_decode() || e.is_request() {
        // Connected, then the connection ended before the whole answer: the
        // server closed it without answering (a request error), or cut the
        // body short (reqwest reports that as a body or decode error).
        HttpErrorKind::Interrupted
    } else {
        HttpErrorKind::Other
    };
    // reqwest's own message can carry the URL with its query: strip it.
    HttpError {
        what,
        url: without_query(url),
        kind,
        source: Some(Box::new(e.without_url())),
    }
}

/// The URL without query or fragment, safe to log.
pub(crate) fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// Whether the URL's host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// https, or plain http on a loopback host.
pub(crate) fn is_secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_rules() {
        for ok in [
            "https://login.example",
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://localhost:1",
        ] {
            assert!(is_secure_or_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://login.example",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "http://localhost.evil.example/",
        ] {
            assert!(!is_secure_or_loopback(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_token_request_goes_only_to_the_token_endpoint_it_was_made_for() {
        let http = HttpClient::new(Duration::from_secs(1)).unwrap();
        let token_endpoint = Url::parse("http://127.0.0.1:9/token").unwrap();
        let elsewhere = http::Request::post("http://127.0.0.1:9/other?code=secret")
            .body(b"code=secret".to_vec())
            .unwrap();
        let refused = http
            .send("redeeming the code", &token_endpoint, elsewhere)
            .await
            .unwrap_err();
        assert_eq!(refused.what, "redeeming the code");
        assert_eq!(refused.url, "http://127.0.0.1:9/other");
        assert!(matches!(refused.kind, HttpErrorKind::Other), "{refused:?}");
    }

    #[test]
    fn only_json_bodies_pass() {
        for json in [&b"{}"[..], b" [1, 2] ", b"\"text\"", b"null"] {
            assert!(is_json(json), "{json:?}");
        }
        for not in [
            &b""[..],
            b"<html></html>",
            b"{\"truncated\": ",
            b"eyJhbGciOi.x.y",
        ] {
            assert!(!is_json(not), "{not:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_described_never_quoted() {
        let body = b"<html>access_token=secret-value</html>";
        let reason = |content_type: Option<&str>, body: &[u8]| match not_json(
            &content_type.map(str::to_owned),
            body,
        ) {
            HttpErrorKind::InvalidBody(reason) => reason,
            other => panic!("{other:?}"),
        };
        let html = reason(Some("text/html"), body);
        assert!(
            html.contains("not JSON (content type `text/html`, 38 bytes)"),
            "{html}"
        );
        assert!(html.contains("check the URL"), "{html}");
        assert!(!html.contains("secret-value"), "{html}");
        let jwt = reason(Some("application/jwt"), b"eyJ.x.y");
        assert!(jwt.contains("signed or encrypted"), "{jwt}");
        assert!(reason(None, body).contains("no content type"));
        assert!(reason(Some("application/json"), b"").contains("empty"));
    }

    #[test]
    fn logged_urls_drop_the_query() {
        assert_eq!(without_query("https://p/x?code=secret#f"), "https://p/x");
    }
}
