//! oidc-login: "Sign in with Entra ID" (or any OpenID Connect provider) for Rust web apps.
//!
//! (Crate documentation is completed as the modules land.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod algorithm;
mod error;
mod secret;
#[allow(dead_code, unused_imports)] // used by provider/flow, landing next
mod token;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use error::{
    AccessError, CallbackError, ConfigError, DiscoveryError, Error, HttpError, HttpErrorKind,
    IssuerHint, TokenError,
};
pub use secret::{AccessToken, ClientSecret, IdToken, Nonce, PkceVerifier, RefreshToken, State};
pub use token::IdTokenClaims;
