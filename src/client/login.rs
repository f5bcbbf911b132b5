//! The login steps of [`Client`]: finishing a login (code exchange or
//! implicit), refreshing it, and completing the identity (userinfo, the
//! groups overage, the required claim, roles). The checks they apply are
//! in `src/flow/` (callback, refresh) and `src/identity.rs`.

use oauth2::TokenResponse as _;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use super::{Client, Login, Tokens, exchange_error, expires_at, granted_scopes, provider_text};
use crate::config::{Claims, Flow, UserinfoPolicy};
use crate::entra::{self, GroupsPlan};
use crate::error::{AccessError, CallbackError, Error, GroupsError, RefreshError, TokenError};
use oauth2::basic::BasicErrorResponse;

use crate::flow::{
    Callback, PendingLogin, check_callback, check_refreshed, check_tokens_issuer, original_claims,
};
use crate::identity::{self, ClaimNames, Identity, Userinfo, Who, merge_userinfo};
use crate::provider::Origin;
use crate::roles::NoRolePolicy;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::telemetry;
use crate::token::Binding;

/// What a token request is for, in its errors.
const REDEEM: &str = "redeeming the code at the token endpoint";
const REFRESH: &str = "the refresh grant at the token endpoint";

impl Client {
    /// Finishes a login: checks the callback against the pending login,
    /// redeems the code, validates the ID token in full, reads userinfo when
    /// the policy says so, checks the required claim and maps the roles.
    ///
    /// `pending` is taken by value: a pending login is finished once,
    /// whatever the outcome.
    ///
    /// With [`Flow::Implicit`] the ID token comes in the callback itself
    /// (`id_token`); it is validated the same way, with the nonce required,
    /// and a callback carrying a `code` or `access_token` is refused.
    ///
    /// Runs in a `tracing` span `oidc_login.callback` with the provider's
    /// `issuer` and `provider` name, and counts the login as finished or refused (by
    /// [`Error::code`]) in the metrics.
    pub async fn finish(&self, pending: PendingLogin, callback: Callback) -> Result<Login, Error> {
        let issuer = self.issuer();
        let provider = self.config.name();
        let span = tracing::info_span!(target: "oidc_login::login", "oidc_login.callback", issuer, provider);
        let result = self.finish_login(pending, callback).instrument(span).await;
        match &result {
            Ok(_) => telemetry::login_finished(issuer),
            Err(error) => telemetry::login_refused(issuer, error.code()),
        }
        result
    }

    async fn finish_login(
        &self,
        pending: PendingLogin,
        callback: Callback,
    ) -> Result<Login, Error> {
        check_callback(&self.callback_rules(), &pending, &callback)?;
        if self.config.flow() == Flow::Implicit {
            return self.finish_implicit(pending, &callback).await;
        }
        let code = callback
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::MissingParameter("code"))?;

        let mut exchange = self
            .oauth
            .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()));
        if self.config.flow() == Flow::AuthorizationCodePkce {
            exchange = exchange.set_pkce_verifier(oauth2::PkceCodeVerifier::new(
                pending.pkce_verifier.expose_secret().to_owned(),
            ));
        }
        let assertion = self.assertion_params()?;
        let hidden = self.sent_secrets(&assertion, &[code, pending.pkce_verifier.expose_secret()]);
        for (name, value) in assertion {
            exchange = exchange.add_extra_param(name, value);
        }
        let exchange_started = std::time::Instant::now();
        let response = exchange
            .request_async(
                &self
                    .http
                    .token_endpoint(REDEEM, &self.provider.metadata.token_endpoint),
            )
            .await;
        telemetry::code_exchange(self.issuer(), exchange_started.elapsed());
        let response = response.map_err(|error| exchange_error(error, &hidden))?;

        let raw_id_token = response
            .extra_fields()
            .id_token
            .clone()
            .ok_or(TokenError::MissingIdToken)?;
        let access_token = AccessToken::new(response.access_token().secret().clone());
        let claims = self
            .validate(
                &raw_id_token,
                Binding {
                    nonce: Some(pending.nonce.expose_secret()),
                    max_age: pending.max_age,
                    access_token: Some(access_token.expose_secret()),
                    code: Some(code),
                },
                Origin::TokenEndpoint,
            )
            .await?;

        check_tokens_issuer(&self.callback_rules(), &callback, claims.issuer())?;
        self.check_step_up(&pending, &claims)?;

        let userinfo = self
            .wants_userinfo(claims.claims())
            .then_some(Userinfo::Fill);
        let identity = self
            .complete_identity(
                Who::of(&claims),
                claims.into_claims(),
                Some(&access_token),
                userinfo,
            )
            .await?;
        let now = self.now();
        let tokens = Tokens {
            access_token: Some(access_token),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone())),
            id_token: IdToken::new(raw_id_token),
            expires_at: expires_at(&response, now),
            scopes: granted_scopes(&response).unwrap_or_default(),
        };
        Ok(finished(identity, tokens, pending.return_to))
    }

    /// The implicit flow's end: the ID token is in the callback, and is
    /// validated like one from the token endpoint (nonce required; no access
    /// token, so no `at_hash` and no userinfo).
    async fn finish_implicit(
        &self,
        pending: PendingLogin,
        callback: &Callback,
    ) -> Result<Login, Error> {
        // `response_type=id_token` returns neither: one here means a mix-up
        // or an injected response.
        for unexpected in ["code", "access_token"] {
            if callback.get(unexpected).is_some() {
                return Err(CallbackError::UnexpectedParameter(unexpected).into());
            }
        }
        let raw_id_token = callback
            .get("id_token")
            .filter(|t| !t.is_empty())
            .ok_or(CallbackError::MissingParameter("id_token"))?;
        if callback.in_url() {
            return Err(CallbackError::IdTokenInUrl.into());
        }
        let claims = self
            .validate(
                raw_id_token,
                Binding {
                    nonce: Some(pending.nonce.expose_secret()),
                    max_age: pending.max_age,
                    ..Binding::default()
                },
                // Through the browser: anyone could have sent it.
                Origin::Outside,
            )
            .await?;
        check_tokens_issuer(&self.callback_rules(), callback, claims.issuer())?;
        self.check_step_up(&pending, &claims)?;
        let identity = self
            .complete_identity(Who::of(&claims), claims.into_claims(), None, None)
            .await?;
        let tokens = Tokens {
            access_token: None,
            refresh_token: None,
            id_token: IdToken::new(raw_id_token.to_owned()),
            expires_at: None,
            scopes: Vec::new(),
        };
        Ok(finished(identity, tokens, pending.return_to))
    }

    /// A step-up login's ID token must meet what the login asked for: a
    /// provider that ignored `max_age` or `acr_values` is refused here.
    fn check_step_up(
        &self,
        pending: &PendingLogin,
        claims: &crate::token::IdTokenClaims,
    ) -> Result<(), TokenError> {
        let Some(step_up) = &pending.step_up else {
            return Ok(());
        };
        step_up.check(
            claims.claims(),
            self.now(),
            self.config.limits().clock_skew.as_secs(),
        )
    }

    /// Refreshes a login with its refresh token (the `refresh_token` grant,
    /// with the configured client authentication), and decides the identity
    /// afresh: the required claim, the groups and the roles are those of
    /// now, so a user removed from a group loses its role here.
    ///
    /// The returned [`Login`] holds the new tokens: the rotated refresh
    /// token when the provider sent one, else the same one. Its
    /// `return_to` is `None`.
    ///
    /// A returned ID token is validated in full, and then as OpenID Connect
    /// Core 12.2 asks: `iss`, `sub` and `aud` equal the original login's;
    /// `azp` the client id (as in any ID token); `auth_time`, when both
    /// tokens have it, unchanged; `iat`
    /// fresh (within a minute plus the clock skew); a `nonce`, if present,
    /// the original one. When the provider returns no ID token, the
    /// original token's protocol claims are kept and every claim about the
    /// user (profile, groups, roles) is read afresh from userinfo; with no
    /// userinfo (policy `never`, or no endpoint) such a refresh is refused
    /// ([`RefreshError::NoFreshClaims`]) rather than keep old groups.
    ///
    /// Any error means the tokens no longer stand for the user: end the
    /// session. `tokens` must be the ones [`finish`](Self::finish) or an
    /// earlier refresh returned, kept on the server side.
    ///
    /// Runs in a `tracing` span `oidc_login.refresh` with the provider's
    /// `issuer` and `provider` name, and is counted in the metrics (`ok` or `failed`).
    pub async fn refresh(&self, tokens: &Tokens) -> Result<Login, Error> {
        let issuer = self.issuer();
        let provider = self.config.name();
        let span = tracing::info_span!(target: "oidc_login::login", "oidc_login.refresh", issuer, provider);
        let result = self.refresh_login(tokens).instrument(span).await;
        telemetry::refreshed(issuer, result.is_ok());
        result
    }

    async fn refresh_login(&self, tokens: &Tokens) -> Result<Login, Error> {
        let refresh_token = tokens
            .refresh_token
            .as_ref()
            .ok_or(RefreshError::NoRefreshToken)?;
        let original = original_claims(&tokens.id_token)?;
        let grant = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let mut request = self.oauth.exchange_refresh_token(&grant);
        let assertion = self.assertion_params()?;
        let hidden = self.sent_secrets(&assertion, &[refresh_token.expose_secret()]);
        for (name, value) in assertion {
            request = request.add_extra_param(name, value);
        }
        let response = request
            .request_async(
                &self
                    .http
                    .token_endpoint(REFRESH, &self.provider.metadata.token_endpoint),
            )
            .await
            .map_err(|error| refresh_error(error, &hidden))?;
        let access_token = AccessToken::new(response.access_token().secret().clone());

        let (who, claims, id_token, userinfo) = match &response.extra_fields().id_token {
            Some(raw) => {
                let claims = self
                    .validate(
                        raw,
                        Binding {
                            access_token: Some(access_token.expose_secret()),
                            ..Binding::default()
                        },
                        Origin::TokenEndpoint,
                    )
                    .await?;
                check_refreshed(
                    &original,
                    &claims,
                    self.now(),
                    self.config.limits().clock_skew.as_secs(),
                )?;
                let userinfo = self
                    .wants_userinfo(claims.claims())
                    .then_some(Userinfo::Fill);
                (
                    Who::of(&claims),
                    claims.into_claims(),
                    IdToken::new(raw.clone()),
                    userinfo,
                )
            }
            // No new ID token: the original protocol claims, and the user's
            // claims read afresh from userinfo (never the old ones, which
            // may hold groups the user has lost).
            None => {
                if self.config.userinfo() == UserinfoPolicy::Never
                    || self.provider.metadata.userinfo_endpoint.is_none()
                {
                    return Err(RefreshError::NoFreshClaims.into());
                }
                let who = Who::from_original(&original)?;
                (
                    who,
                    original,
                    tokens.id_token.clone(),
                    Some(Userinfo::Replace),
                )
            }
        };
        // The grant succeeded and rotated the refresh token: a failure from
        // here on cannot keep the session, whose refresh token is now spent.
        let identity = self
            .complete_identity(who, claims, Some(&access_token), userinfo)
            .await
            .map_err(|error| match error {
                Error::Http(_) | Error::Discovery(_) | Error::Groups(_) => {
                    RefreshError::AfterGrant(Box::new(error)).into()
                }
                other => other,
            })?;
        let now = self.now();
        let refreshed = Tokens {
            access_token: Some(access_token),
            refresh_token: Some(
                response
                    .refresh_token()
                    .map(|t| RefreshToken::new(t.secret().clone()))
                    .unwrap_or_else(|| refresh_token.clone()),
            ),
            id_token,
            expires_at: expires_at(&response, now),
            scopes: granted_scopes(&response).unwrap_or_else(|| tokens.scopes.clone()),
        };
        tracing::info!(
            target: "oidc_login::login",
            issuer = %identity.issuer,
            subject = %crate::error::clip(&identity.subject, 256),
            roles = ?identity.roles,
            "login refreshed"
        );
        Ok(Login {
            identity,
            tokens: refreshed,
            return_to: None,
        })
    }

    /// The identity of validated claims: userinfo merged in when asked, the
    /// groups read from Microsoft Graph on an overage, then the required
    /// claim, the roles and the no-role policy.
    async fn complete_identity(
        &self,
        who: Who,
        mut claims: Map<String, Value>,
        access_token: Option<&AccessToken>,
        userinfo: Option<Userinfo>,
    ) -> Result<Identity, Error> {
        let Who { issuer, subject } = who;
        if let (Some(mode), Some(access_token)) = (userinfo, access_token) {
            let fresh = self.userinfo(access_token, &subject).await?;
            merge_userinfo(&mut claims, fresh, mode);
        }
        // Single-use and already checked: not part of the identity.
        claims.remove("nonce");
        let groups = self.overage_groups(&claims, access_token, &subject).await?;
        self.identity(issuer, subject, claims, groups)
    }

    /// The groups read from Microsoft Graph when the token has an Entra
    /// overage marker (or `groups_source` is `graph`); `None` to use the
    /// groups claim. An overage that cannot be read refuses the login.
    async fn overage_groups(
        &self,
        claims: &Map<String, Value>,
        access_token: Option<&AccessToken>,
        subject: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        let plan = entra::groups_plan(
            self.provider.metadata.entra.as_ref(),
            self.config.claims().groups.as_str(),
            claims,
        );
        match plan {
            GroupsPlan::Token => Ok(None),
            GroupsPlan::Refuse(reason) => Err(GroupsError::OverageUnresolved { reason }.into()),
            GroupsPlan::Graph(graph, query, trigger) => {
                let Some(access_token) = access_token else {
                    return Err(GroupsError::OverageUnresolved {
                        reason: "the implicit flow returns no access token to read them from Microsoft Graph with: use `flow = \"authorization_code_pkce\"`",
                    }
                    .into());
                };
                let groups = entra::read_groups(&self.http, graph, query, access_token)
                    .await
                    .map_err(|failure| GroupsError::Graph { trigger, failure })?;
                tracing::info!(
                    target: "oidc_login::login",
                    subject = %crate::error::clip(subject, 256),
                    groups = groups.len(),
                    trigger = ?trigger,
                    "groups read from Microsoft Graph"
                );
                Ok(Some(groups))
            }
        }
    }

    fn wants_userinfo(&self, claims: &Map<String, Value>) -> bool {
        if self.provider.metadata.userinfo_endpoint.is_none() {
            return false;
        }
        match self.config.userinfo() {
            UserinfoPolicy::Never => false,
            UserinfoPolicy::Always => true,
            UserinfoPolicy::WhenClaimsMissing => {
                !identity::has_all(claims, claim_names(self.config.claims()))
            }
        }
    }

    async fn userinfo(
        &self,
        access_token: &AccessToken,
        subject: &str,
    ) -> Result<Map<String, Value>, Error> {
        let Some(endpoint) = &self.provider.metadata.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let body = self
            .http
            .get_json("fetching userinfo from", endpoint, Some(access_token))
            .await?;
        let claims: Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
            TokenError::InvalidResponse(
                "the userinfo response is not a JSON object (signed or encrypted userinfo is not supported)".into(),
            )
        })?;
        // OpenID Connect Core 5.3.2: the userinfo `sub` must be the ID token's.
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if sub == subject => Ok(claims),
            _ => Err(TokenError::UserinfoSubjectMismatch.into()),
        }
    }

    /// Builds the identity, applies the required claim, maps the roles and
    /// applies the no-role policy. `groups`, when given, replace the groups
    /// claim (read from Microsoft Graph).
    fn identity(
        &self,
        issuer: String,
        subject: String,
        claims: Map<String, Value>,
        groups: Option<Vec<String>>,
    ) -> Result<Identity, Error> {
        if let Some(required) = self.config.claims().required.as_ref() {
            identity::check_required_claim(&claims, &required.key, &required.value)?;
        }
        let mut identity =
            identity::build(issuer, subject, claims, claim_names(self.config.claims()));
        identity.provider = self.config.name().to_owned();
        // Carried with the login, so that a linker used directly refuses it too.
        identity.mutable_subject = self.config.mutable_subject().map(str::to_owned);
        // The username is how the app names the user (Pexip's "username
        // field"): a login without it is refused, never signed in nameless.
        if identity.username.is_none() {
            return Err(AccessError::MissingUsername {
                claim: crate::error::clip(self.config.claims().username.as_str(), 128),
            }
            .into());
        }
        if let Some(groups) = groups {
            identity.groups = groups;
        }
        identity.roles = self.mapped_roles(&identity);
        if identity.roles.is_empty() && self.config.no_role_policy() == NoRolePolicy::Refuse {
            // Group names come from the provider (on some, from its users):
            // escaped and clipped, like every value that reaches a log line.
            return Err(AccessError::NoRole {
                claim: self.config.claims().groups.as_str().to_owned(),
                values: identity
                    .groups
                    .iter()
                    .map(|group| crate::error::clip(group, 128))
                    .collect(),
            }
            .into());
        }
        Ok(identity)
    }

    /// The app's roles for `identity`, from the role mapper: sorted, each once.
    pub(super) fn mapped_roles(&self, identity: &Identity) -> Vec<String> {
        let mut roles = self.roles.roles(identity);
        roles.sort_unstable();
        roles.dedup();
        roles
    }
}

/// Logs the finished login and builds the [`Login`].
fn finished(identity: Identity, tokens: Tokens, return_to: Option<String>) -> Login {
    tracing::info!(
        target: "oidc_login::login",
        issuer = %identity.issuer,
        subject = %crate::error::clip(&identity.subject, 256),
        roles = ?identity.roles,
        "login finished"
    );
    Login {
        identity,
        tokens,
        return_to,
    }
}

/// The configured claim names, as the identity is read with them.
pub(super) fn claim_names(claims: &Claims) -> ClaimNames<'_> {
    ClaimNames {
        username: &claims.username,
        email: &claims.email,
        groups: &claims.groups,
        app_roles: &claims.app_roles,
    }
}

pub(super) fn refresh_error(
    error: oauth2::RequestTokenError<crate::error::HttpError, BasicErrorResponse>,
    hidden: &[String],
) -> Error {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => RefreshError::Refused {
            error: provider_text(response.error().as_ref(), hidden, 64),
            description: response
                .error_description()
                .map(|d| provider_text(d, hidden, 512)),
        }
        .into(),
        other => exchange_error(other, hidden),
    }
}
