//! [`Client::check_credentials`]: whether the token endpoint accepts this
//! app's client authentication, checked without a user by redeeming a
//! made-up code.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};

use oauth2::{AsyncHttpClient, RequestTokenError};

use super::{Client, exchange_error, provider_text};
use crate::config::{ClientAuth, Flow};
use crate::error::{Error, HttpError, HttpErrorKind};
use crate::http::{TokenEndpoint, without_query};
use crate::secret::random_token;

/// What the provider's token endpoint said of this app's client
/// credentials, from [`Client::check_credentials`].
///
/// `Display` says it in a sentence, naming the config fields to check. No
/// variant holds the secret or the client assertion; the provider's own
/// words (`error`, `description`) are escaped and clipped, with any echo of
/// the secret or the assertion cut out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialCheck {
    /// The client was authenticated: the token endpoint refused only the
    /// made-up code (`invalid_grant`).
    Accepted,
    /// The token endpoint refused the client: `invalid_client`,
    /// `unauthorized_client`, or HTTP 401 with no error code.
    Refused {
        /// The OAuth 2.0 error code, or `HTTP 401` when the answer had none.
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
        /// The config fields to check, the likeliest first: `client_secret`
        /// for the secret methods; for `private_key_jwt` the key's field
        /// (`private_key_pem_file` or `private_key_env`) and
        /// `private_key_kid`; then `client_id` and `auth_method`. A config
        /// built in code names `client_auth` for the key.
        fields: Vec<&'static str>,
    },
    /// A public client (`auth_method = "none"`) has no credentials to
    /// check; nothing was sent.
    NoCredentials,
    /// The answer does not tell: another OAuth 2.0 error code, such as
    /// `invalid_request` or `unsupported_grant_type`.
    Unknown {
        /// The provider's error code.
        error: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
}

impl CredentialCheck {
    /// The config field to check first when the credentials were refused.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Refused { fields, .. } => fields.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for CredentialCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = |description: &Option<String>| {
            description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        };
        match self {
            Self::Accepted => f.write_str(
                "the token endpoint accepted the client credentials: it refused only the made-up code (`invalid_grant`)",
            ),
            Self::NoCredentials => f.write_str(
                "a public client (`auth_method = \"none\"`) has no credentials to check",
            ),
            Self::Refused {
                error,
                description,
                fields,
            } => {
                write!(
                    f,
                    "the token endpoint refused the client credentials: `{error}`{}",
                    said(description)
                )?;
                if let Some((first, rest)) = fields.split_first() {
                    write!(f, "; check `{first}`")?;
                    let rest: Vec<String> = rest.iter().map(|f| format!("`{f}`")).collect();
                    match rest.as_slice() {
                        [] => {}
                        [one] => write!(f, ", then {one}")?,
                        [init @ .., last] => write!(f, ", then {} and {last}", init.join(", "))?,
                    }
                }
                Ok(())
            }
            Self::Unknown { error, description } => write!(
                f,
                "the token endpoint answered `{error}`{}, which does not tell whether the client credentials are right",
                said(description)
            ),
        }
    }
}

impl Client {
    /// Checks the client credentials without a user: sends the
    /// authorization-code grant with a made-up code (and, with PKCE, a
    /// made-up verifier) to the token endpoint, authenticated exactly as a
    /// login's code exchange is, and reads the answer.
    ///
    /// `invalid_grant` means the client was authenticated and only the code
    /// refused ([`CredentialCheck::Accepted`]); `invalid_client`,
    /// `unauthorized_client` or a bare HTTP 401 mean the credentials were
    /// refused ([`CredentialCheck::Refused`], naming the fields to check).
    /// A public client sends nothing ([`CredentialCheck::NoCredentials`]).
    ///
    /// This relies on the provider authenticating the client before it
    /// looks at the code, as RFC 6749 section 3.2.1 and the providers this
    /// crate is tested against do; one that judges the code first answers
    /// `invalid_grant` whatever the credentials. The provider sees one
    /// failed token request (it may show in its sign-in logs).
    ///
    /// Errors: [`Error::Http`] when the token endpoint cannot be reached or
    /// answers another HTTP error without an error code;
    /// [`Error::Token`] when it issues tokens for the made-up code (it does
    /// not check codes) or its answer cannot be read.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), oidc_login::Error> {
    /// use oidc_login::{Client, Config};
    ///
    /// let client = Client::discover(Config::from_file("oidc.toml")?).await?;
    /// let check = client.check_credentials().await?;
    /// // "the token endpoint refused the client credentials: `invalid_client`
    /// // (...); check `client_secret`, then `client_id` and `auth_method`"
    /// println!("{check}");
    /// if let Some(field) = check.field() {
    ///     eprintln!("fix `{field}` first");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check_credentials(&self) -> Result<CredentialCheck, Error> {
        let mut fields = match self.config.client_auth() {
            ClientAuth::None => return Ok(CredentialCheck::NoCredentials),
            ClientAuth::PrivateKeyJwt(key) => {
                let (key, kid) = key.key_fields();
                vec![key, kid, "client_id", "auth_method"]
            }
            _ => vec!["client_secret", "client_id", "auth_method"],
        };
        fields.dedup();

        let assertion = self.assertion_params()?;
        let mut exchange = self
            .oauth
            .exchange_code(oauth2::AuthorizationCode::new(random_token::<32>()));
        if self.config.flow() == Flow::AuthorizationCodePkce {
            exchange =
                exchange.set_pkce_verifier(oauth2::PkceCodeVerifier::new(random_token::<32>()));
        }
        for (name, value) in &assertion {
            exchange = exchange.add_extra_param(*name, value.clone());
        }
        let http = StatusRecorder {
            http: self
                .http
                .token_endpoint(CHECK, &self.provider.metadata.token_endpoint),
            status: AtomicU16::new(0),
        };
        let result = exchange.request_async(&http).await;
        let status = http.status.load(Ordering::Relaxed);

        let hidden = self.sent_secrets(&assertion, &[]);
        match result {
            Ok(_) => Err(crate::error::TokenError::InvalidResponse(
                "the token endpoint issued tokens for a made-up authorization code: it does not check codes"
                    .into(),
            )
            .into()),
            Err(RequestTokenError::ServerResponse(response)) => {
                let error = provider_text(response.error().as_ref(), &hidden, 64);
                let description = response
                    .error_description()
                    .map(|d| provider_text(d, &hidden, 512));
                Ok(match error.as_str() {
                    "invalid_grant" => CredentialCheck::Accepted,
                    "invalid_client" | "unauthorized_client" => CredentialCheck::Refused {
                        error,
                        description,
                        fields,
                    },
                    _ => CredentialCheck::Unknown { error, description },
                })
            }
            // An answer with no OAuth error in it: the status speaks (a 401
            // without a JSON body is an HTTP error by then; one with a JSON
            // body that is no OAuth error reaches `oauth2`).
            Err(
                RequestTokenError::Request(_)
                | RequestTokenError::Parse(..)
                | RequestTokenError::Other(_),
            ) if status == 401 => {
                Ok(CredentialCheck::Refused {
                    error: "HTTP 401".into(),
                    description: None,
                    fields,
                })
            }
            Err(RequestTokenError::Parse(..) | RequestTokenError::Other(_))
                if !(200..300).contains(&status) && status != 0 =>
            {
                Err(HttpError {
                    what: CHECK,
                    url: without_query(self.provider.metadata.token_endpoint.as_str()),
                    kind: HttpErrorKind::Status(status),
                    source: None,
                }
                .into())
            }
            Err(other) => Err(exchange_error(other, &hidden)),
        }
    }
}

/// What the check's request is, in its errors.
const CHECK: &str = "checking the client credentials at the token endpoint";

/// The crate's HTTP client, noting the status of the answer: a token
/// endpoint that answers 401 with no OAuth error body still refused the
/// client.
struct StatusRecorder<'a> {
    http: TokenEndpoint<'a>,
    status: AtomicU16,
}

impl<'c> AsyncHttpClient<'c> for StatusRecorder<'_> {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await;
            let status = match &response {
                Ok(response) => Some(response.status().as_u16()),
                Err(error) => match error.kind() {
                    HttpErrorKind::Status(status) => Some(*status),
                    _ => None,
                },
            };
            if let Some(status) = status {
                self.status.store(status, Ordering::Relaxed);
            }
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::redact;

    #[test]
    fn every_form_of_the_secret_is_cut_out() {
        let hidden = vec![
            "s3cret/+".to_owned(),
            "s3cret%2F%2B".to_owned(),
            "YXBwOnMzY3JldCUyRiUyQg==".to_owned(),
        ];
        assert_eq!(
            redact(
                "bad secret s3cret/+ (s3cret%2F%2B) in Basic YXBwOnMzY3JldCUyRiUyQg==",
                &hidden
            ),
            "bad secret [redacted] ([redacted]) in Basic [redacted]"
        );
        assert_eq!(redact("nothing here", &[String::new()]), "nothing here");
    }

    #[test]
    fn refused_names_the_fields_in_order() {
        let check = CredentialCheck::Refused {
            error: "invalid_client".into(),
            description: Some("wrong secret".into()),
            fields: vec!["client_secret", "client_id", "auth_method"],
        };
        assert_eq!(check.field(), Some("client_secret"));
        assert_eq!(
            check.to_string(),
            "the token endpoint refused the client credentials: `invalid_client` (wrong secret); check `client_secret`, then `client_id` and `auth_method`"
        );
        assert_eq!(CredentialCheck::Accepted.field(), None);
    }
}
