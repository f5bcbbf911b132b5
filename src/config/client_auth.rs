//! [`ClientAuth`]: how the app proves itself to the token endpoint.

use serde::Deserialize;

use crate::assertion::{PrivateKeyJwt, secret_assertion};
use crate::secret::ClientSecret;

/// How the client authenticates to the provider's token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: no secret, the login is protected by PKCE alone.
    #[default]
    None,
    /// `client_secret_basic`: the secret in an HTTP Basic `Authorization` header.
    SecretBasic(ClientSecret),
    /// `client_secret_post`: the secret in the form body.
    SecretPost(ClientSecret),
    /// `client_secret_jwt`: a JWT signed with HS256 keyed with the secret,
    /// made afresh for each token request (RFC 7523, OpenID Connect Core 9).
    /// The secret must be at least 32 bytes (RFC 7518 3.2).
    SecretJwt(ClientSecret),
    /// `private_key_jwt`: a JWT signed with the client's private key, made
    /// afresh for each token request (RFC 7523, OpenID Connect Core 9). The
    /// provider holds only the public key.
    PrivateKeyJwt(PrivateKeyJwt),
}

impl ClientAuth {
    /// `client_secret_basic` with this secret.
    pub fn secret_basic(secret: impl Into<String>) -> Self {
        Self::SecretBasic(ClientSecret::new(secret))
    }

    /// `client_secret_post` with this secret.
    pub fn secret_post(secret: impl Into<String>) -> Self {
        Self::SecretPost(ClientSecret::new(secret))
    }

    /// `client_secret_jwt` with this secret (at least 32 bytes).
    pub fn secret_jwt(secret: impl Into<String>) -> Self {
        Self::SecretJwt(ClientSecret::new(secret))
    }

    /// `private_key_jwt` with this PEM private key (RSA, EC or Ed25519) and
    /// key id (the assertion's `kid`). For a certificate thumbprint, another
    /// RSA algorithm or no `kid`, build a [`PrivateKeyJwt`] and wrap it in
    /// [`ClientAuth::PrivateKeyJwt`].
    ///
    /// A key that cannot be used is reported by [`ConfigBuilder::build`](super::ConfigBuilder::build).
    pub fn private_key_jwt(pem: impl Into<String>, kid: impl Into<String>) -> Self {
        Self::PrivateKeyJwt(PrivateKeyJwt::from_pem(pem).with_kid(kid))
    }

    /// The method's name.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::None => AuthMethod::None,
            Self::SecretBasic(_) => AuthMethod::ClientSecretBasic,
            Self::SecretPost(_) => AuthMethod::ClientSecretPost,
            Self::SecretJwt(_) => AuthMethod::ClientSecretJwt,
            Self::PrivateKeyJwt(_) => AuthMethod::PrivateKeyJwt,
        }
    }

    /// The client secret, if the method has one.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            Self::None | Self::PrivateKeyJwt(_) => None,
            Self::SecretBasic(secret) | Self::SecretPost(secret) | Self::SecretJwt(secret) => {
                Some(secret)
            }
        }
    }
}

/// The name of a client authentication method, as in provider metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// `none`
    None,
    /// `client_secret_basic`
    ClientSecretBasic,
    /// `client_secret_post`
    ClientSecretPost,
    /// `client_secret_jwt`
    ClientSecretJwt,
    /// `private_key_jwt`
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The name used in provider metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl ClientAuth {
    /// The client assertion of a token request sent to `audience` (the
    /// token endpoint URL): `Some` for the JWT methods. `Err(())` when the
    /// key cannot sign (never for a built config).
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<Option<String>, ()> {
        match self {
            Self::PrivateKeyJwt(key) => key.assertion(client_id, audience, now).map(Some).ok_or(()),
            Self::SecretJwt(secret) => Ok(Some(secret_assertion(secret, client_id, audience, now))),
            _ => Ok(None),
        }
    }
}
