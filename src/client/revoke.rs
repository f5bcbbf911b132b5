//! Token revocation at the provider (RFC 7009), for sign-out.

use url::Url;
use url::form_urlencoded::byte_serialize;

use super::{Client, Tokens};
use crate::config::ClientAuth;
use crate::error::{Error, HttpError};

const REVOKE: &str = "revoking a token at the revocation endpoint";

impl Client {
    /// The provider's `revocation_endpoint` (RFC 7009), if its metadata has one.
    pub fn revocation_endpoint(&self) -> Option<&Url> {
        self.provider.metadata.revocation_endpoint.as_ref()
    }

    /// Revokes a login's tokens at the provider's `revocation_endpoint`
    /// (RFC 7009), with the configured client authentication: the refresh
    /// token first (which, at most providers, also ends the access tokens
    /// issued with it), then the access token. Both are tried; the first
    /// failure is returned. Does nothing when the provider has no
    /// revocation endpoint or the login holds neither token.
    ///
    /// The axum integration calls this at `POST /logout` for a session that
    /// holds tokens, logs a failure, and signs out anyway.
    pub async fn revoke(&self, tokens: &Tokens) -> Result<(), Error> {
        let Some(endpoint) = self.revocation_endpoint() else {
            return Ok(());
        };
        let mut first_error = None;
        let kinds = [
            (
                "refresh_token",
                tokens.refresh_token.as_ref().map(|t| t.expose_secret()),
            ),
            (
                "access_token",
                tokens.access_token.as_ref().map(|t| t.expose_secret()),
            ),
        ];
        for (hint, token) in kinds {
            let Some(token) = token else { continue };
            if let Err(error) = self.revoke_one(endpoint, token, hint).await {
                first_error.get_or_insert(error);
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    async fn revoke_one(&self, endpoint: &Url, token: &str, hint: &str) -> Result<(), Error> {
        let assertion = self.assertion_params()?;
        let client_id = self.config.client_id();
        let mut form: Vec<(&str, &str)> = vec![("token", token), ("token_type_hint", hint)];
        let mut basic = None;
        let (encoded_id, encoded_secret): (String, String);
        match self.config.client_auth() {
            ClientAuth::SecretBasic(secret) => {
                encoded_id = byte_serialize(client_id.as_bytes()).collect();
                encoded_secret = byte_serialize(secret.expose_secret().as_bytes()).collect();
                basic = Some((encoded_id.as_str(), encoded_secret.as_str()));
            }
            ClientAuth::SecretPost(secret) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.expose_secret()));
            }
            ClientAuth::None | ClientAuth::SecretJwt(_) | ClientAuth::PrivateKeyJwt(_) => {
                form.push(("client_id", client_id));
            }
        }
        for (name, value) in &assertion {
            form.push((name, value));
        }
        self.http
            .post_form(REVOKE, endpoint, &form, basic)
            .await
            .map_err(|error: HttpError| error.into())
    }
}
