//! Several providers in one app: the set [`LoginRoutes`](super::LoginRoutes)
//! serves, each a [`Client`] (its config: name, redirect URI, button text;
//! its role table), and the rules that keep them apart.
//!
//! # Mix-up defence (RFC 9700 section 4.4)
//! Each provider has its own redirect URI, and so its own callback route:
//! the first at `{prefix}/callback`, every other at
//! `{prefix}/callback/{name}` (RFC 9700 4.4.2, "distinct redirect URIs").
//! A pending login records the provider it was started with; the callback
//! takes it by its `state` and finishes it only when it is the route's
//! provider, with that provider's client: a code is only ever sent to the
//! token endpoint of the provider the login was started with. RFC 9207's
//! `iss` (4.4.2's other defence) is still checked whenever a provider
//! sends it, but it is not what keeps providers apart, since the defence
//! must hold with every provider, and not every one sends `iss` (Entra ID
//! does not).

use ::axum::http::StatusCode;
use ::axum::response::Response;

use crate::client::Client;
use crate::error::ConfigError;

/// The providers of an app, the first the default: `GET /login` without
/// `?provider=` starts there, and a session from before names were kept
/// belongs to it.
#[derive(Debug, Clone)]
pub(crate) struct Providers {
    all: Vec<Client>,
}

impl Providers {
    pub(crate) fn one(client: Client) -> Self {
        Self { all: vec![client] }
    }

    /// Adds a provider: its name and redirect URI must be its own, and its
    /// redirect URI on the first one's origin (one session cookie serves
    /// them all).
    pub(crate) fn add(&mut self, client: Client) -> Result<(), ConfigError> {
        let config = client.config();
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
        if self.get(config.name()).is_some() {
            return Err(invalid(
                "name",
                format!(
                    "another provider of these login routes is named `{}`: give each its own `name`",
                    config.name()
                ),
            ));
        }
        if self
            .all
            .iter()
            .any(|other| other.config().redirect_uri() == config.redirect_uri())
        {
            return Err(invalid(
                "redirect_uri",
                format!(
                    "provider `{}` has the redirect URI of another provider: each needs its own (`{{prefix}}/callback/{}`), so that a callback tells which provider it comes from (RFC 9700 4.4 mix-up defence)",
                    config.name(),
                    config.name()
                ),
            ));
        }
        if config.redirect_uri().origin() != self.first().config().redirect_uri().origin() {
            return Err(invalid(
                "redirect_uri",
                format!(
                    "provider `{}` has a redirect URI on another origin than the first provider's: the session cookie is sent to one origin",
                    config.name()
                ),
            ));
        }
        self.all.push(client);
        Ok(())
    }

    /// The default provider.
    pub(crate) fn first(&self) -> &Client {
        &self.all[0]
    }

    /// Every provider, the default first.
    pub(crate) fn all(&self) -> &[Client] {
        &self.all
    }

    /// The provider named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Client> {
        self.all
            .iter()
            .find(|client| client.config().name() == name)
    }

    /// The provider of a signed-in session: the one it names, or the
    /// default for a session that names none (signed in before names were
    /// kept). `None`: the provider is no longer configured.
    pub(crate) fn of_session(&self, provider: Option<&str>) -> Option<&Client> {
        self.index_of_session(provider)
            .map(|index| &self.all[index])
    }

    /// The index of the provider of a signed-in session (see
    /// [`of_session`](Self::of_session)).
    pub(crate) fn index_of_session(&self, provider: Option<&str>) -> Option<usize> {
        match provider {
            Some(name) => self
                .all
                .iter()
                .position(|client| client.config().name() == name),
            None => Some(0),
        }
    }

    /// The provider `GET /login?provider=` asks for, the default without
    /// one; `None` for an unknown name (answer [`unknown`](Self::unknown)).
    pub(crate) fn pick(&self, asked: Option<&str>) -> Option<&Client> {
        match asked {
            Some(asked) => self.get(asked),
            None => Some(self.first()),
        }
    }

    /// The answer to an unknown `?provider=`: a 400 that lists the known
    /// names (never the name asked for).
    pub(crate) fn unknown(&self) -> Response {
        tracing::warn!(
            target: "oidc_login::axum",
            code = "unknown_provider",
            known = %self.names().join(","),
            "login refused: `provider` names none of the configured providers"
        );
        let known = self
            .names()
            .iter()
            .map(|name| format!("<code>{name}</code>"))
            .collect::<Vec<_>>()
            .join(", ");
        super::pages::html(
            StatusCode::BAD_REQUEST,
            super::pages::page(
                "Unknown provider",
                &format!(
                    "<p>No provider of this app has that name. Known providers: {known}.</p>\
                     <p style=\"color:#555;font-size:.9rem\">Error code: <code>unknown_provider</code></p>"
                ),
            ),
        )
    }

    /// The providers' names, the default first. Each is of the charset
    /// [`Config::name`](crate::Config::name) allows, safe in HTML as is.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.all
            .iter()
            .map(|client| client.config().name())
            .collect()
    }

    /// The path of the `index`th provider's own route `route` (`callback`,
    /// `backchannel-logout`): `{prefix}/{route}` for the default,
    /// `{prefix}/{route}/{name}` for the others.
    pub(crate) fn path(&self, prefix: &str, route: &str, index: usize) -> String {
        if index == 0 {
            format!("{prefix}/{route}")
        } else {
            format!("{prefix}/{route}/{}", self.all[index].config().name())
        }
    }
}
