//! oidc-login: "Sign in with Entra ID" (or any OpenID Connect provider) for Rust web apps.
//!
//! (Crate documentation is completed as the modules land.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod algorithm;
mod client;
mod config;
mod error;
mod flow;
mod http;
mod identity;
mod provider;
mod roles;
mod secret;
mod token;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use client::{Client, Login, Tokens};
pub use config::{AuthMethod, ClientAuth, Config, ConfigBuilder, RequiredClaim, UserinfoPolicy};
pub use error::{
    AccessError, CallbackError, ConfigError, DiscoveryError, Error, HttpError, HttpErrorKind,
    IssuerHint, StartError, TokenError,
};
pub use flow::{Callback, PendingLogin, Start};
pub use identity::Identity;
pub use roles::{NoRolePolicy, RoleMapper, RoleMapping, RoleMappingTable, Source};
pub use secret::{AccessToken, ClientSecret, IdToken, Nonce, PkceVerifier, RefreshToken, State};
pub use token::IdTokenClaims;
