//! Starting a login: `state`, `nonce`, PKCE, and the provider URL.

use serde::{Deserialize, Serialize};
use url::Url;

use super::step_up::StepUp;
use crate::config::{Config, Flow};
use crate::error::{StartError, clip};
use crate::secret::{Nonce, PkceVerifier, State, random_token};

/// Options of one login, given to [`Client::start`](crate::Client::start).
///
/// ```
/// use oidc_login::Start;
///
/// let options = Start::default()
///     .return_to("/admin")
///     .login_hint("alice@example.com")
///     .prompt("select_account");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Start {
    pub(crate) return_to: Option<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) login_hint: Option<String>,
    pub(crate) domain_hint: Option<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) form_post: bool,
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) step_up: Option<StepUp>,
}

impl Start {
    /// Where to send the user after the login: a path on this app's own
    /// origin, such as `/admin?tab=users`. Anything else (`//evil.example`,
    /// `/\evil.example`, `https:evil.example`, a full URL) is refused by
    /// [`Client::start`](crate::Client::start).
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }
    /// `prompt`: `none`, `login`, `consent` or `select_account` (OpenID
    /// Connect Core 3.1.2.1), or several separated by spaces (`none` alone);
    /// anything else is refused by [`Client::start`](crate::Client::start).
    /// It replaces the config's [`prompt`](crate::ConfigBuilder::prompt) and
    /// the automatic `prompt=consent` for `offline_access`.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }
    /// `login_hint`: the username or email to pre-fill.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }
    /// `domain_hint` (Entra ID): skip the account picker for this domain.
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }
    /// `max_age` in seconds: the user must have authenticated at most this
    /// long ago; the ID token's `auth_time` is then required and checked.
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }
    /// Asks the provider to return with a `form_post` (an HTML form POSTed
    /// to the redirect URI) instead of a query string, so the code never
    /// appears in a URL. Read that callback with [`Callback::from_form`](crate::Callback::from_form).
    pub fn form_post(mut self) -> Self {
        self.form_post = true;
        self
    }
    /// A step-up login: asks the provider for a recent or stronger
    /// authentication ([`StepUp`]: `max_age`, `acr_values`, Entra ID's
    /// authentication context) with `prompt=login`, and
    /// [`Client::finish`](crate::Client::finish) refuses an ID token that
    /// does not meet it. A smaller [`max_age`](Self::max_age) given here too
    /// wins.
    pub fn step_up(mut self, step_up: StepUp) -> Self {
        self.step_up = Some(step_up);
        self
    }
    /// Any other authorization request parameter. The parameters this crate
    /// sets itself (`state`, `nonce`, `code_challenge`, `redirect_uri`, ...)
    /// cannot be replaced: [`Client::start`](crate::Client::start) refuses them.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }
}

/// A login in progress: what [`Client::finish`](crate::Client::finish) needs
/// to check the callback. Keep it server-side (a session) or in an encrypted
/// cookie, from the redirect to the callback.
///
/// It is deliberately not `Clone`: `finish` takes it by value, so its `state`,
/// `nonce` and PKCE verifier are used once. `Debug` hides them.
///
/// ```compile_fail
/// fn clone_it(pending: &oidc_login::PendingLogin) -> oidc_login::PendingLogin {
///     pending.clone() // PendingLogin is not Clone
/// }
/// ```
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub(crate) issuer: String,
    /// The name of the provider ([`Config::name`]) the login was started
    /// with: its callback is accepted by that provider's client only. A
    /// pending login from before names were kept has none (the issuer is
    /// still checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<String>,
    pub(crate) state: State,
    pub(crate) nonce: Nonce,
    pub(crate) pkce_verifier: PkceVerifier,
    pub(crate) return_to: Option<String>,
    pub(crate) max_age: Option<u64>,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// What a step-up login asked for: the ID token is checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) step_up: Option<StepUp>,
}

impl PendingLogin {
    /// The checked `return_to` path, if one was given.
    pub fn return_to(&self) -> Option<&str> {
        self.return_to.as_deref()
    }

    /// The login's `state`: the key under which to keep this pending login
    /// when several are in flight (two browser tabs).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The name of the provider the login was started with
    /// ([`Config::name`]); `None` for a pending login kept by an older
    /// version.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// The issuer of the provider the login was started with.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// When the login was started (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// What this login asked for as a step-up, if it is one.
    pub fn step_up(&self) -> Option<&StepUp> {
        self.step_up.as_ref()
    }
}

/// Parameters `start` sets itself and an extra parameter may not replace.
const RESERVED: [&str; 11] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "request",
    "request_uri",
];

/// The `prompt` values of OpenID Connect Core 3.1.2.1.
const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

/// Checks a `prompt`: space-separated values of Core 3.1.2.1, each once,
/// `none` alone. The reason never quotes the value.
pub(crate) fn check_prompt(prompt: &str) -> Result<(), String> {
    let values: Vec<&str> = prompt.split(' ').collect();
    // The value is not quoted: a secret pasted into the wrong field, or
    // whatever a browser sent, stays out of errors and logs.
    if values.iter().any(|v| !PROMPT_VALUES.contains(v)) {
        return Err("holds a value that is not a `prompt` value: use `none`, `login`, `consent` or `select_account` (OpenID Connect Core 3.1.2.1), several separated by one space".into());
    }
    if values.len() > 1 && values.contains(&"none") {
        return Err("`none` cannot be combined with another `prompt` value".into());
    }
    if (1..values.len()).any(|i| values[..i].contains(&values[i])) {
        return Err("a `prompt` value is repeated".into());
    }
    Ok(())
}

/// The `prompt` a login sends: its own, else the config's, else `consent`
/// when `offline_access` is asked for and `offline_consent` (OpenID Connect
/// Core 11: a request for offline access uses `prompt=consent`; not for
/// Entra ID, which issues refresh tokens without it and would ask for
/// consent at every sign-in).
fn effective_prompt(config: &Config, own: Option<String>, offline_consent: bool) -> Option<String> {
    own.or_else(|| config.prompt().map(str::to_owned))
        .or_else(|| {
            let offline = config.scopes().iter().any(|s| s == "offline_access");
            (offline_consent && offline && config.flow() != Flow::Implicit)
                .then(|| "consent".to_owned())
        })
}

/// Builds the authorization URL and the pending login. `offline_consent`:
/// send `prompt=consent` with `offline_access` (every provider but Entra ID).
pub(crate) fn authorization_url(
    config: &Config,
    authorization_endpoint: &Url,
    issuer: &str,
    options: Start,
    now: i64,
    offline_consent: bool,
) -> Result<(Url, PendingLogin), StartError> {
    if let Some(prompt) = &options.prompt {
        check_prompt(prompt).map_err(|reason| StartError::InvalidPrompt { reason })?;
    }
    let prompt = effective_prompt(config, options.prompt.clone(), offline_consent);
    let return_to = options
        .return_to
        .as_deref()
        .map(|path| safe_return_to(path, config.redirect_uri()))
        .transpose()?;
    for (name, _) in &options.extra {
        let reserved = RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
            || ["prompt", "login_hint", "domain_hint", "max_age", "acr_values"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            // A step-up's authentication context is asked with `claims`.
            || (name.eq_ignore_ascii_case("claims")
                && options.step_up.as_ref().is_some_and(|s| s.auth_context().is_some()));
        if reserved {
            return Err(StartError::ReservedParameter(clip(name, 64)));
        }
    }

    // 256 bits each, from the OS random source.
    let state = State::new(random_token::<32>());
    let nonce = Nonce::new(random_token::<32>());
    let pkce_verifier = PkceVerifier::new(random_token::<32>());
    let challenge = oauth2::PkceCodeChallenge::from_code_verifier_sha256(
        &oauth2::PkceCodeVerifier::new(pkce_verifier.expose_secret().to_owned()),
    );

    // The smaller of the two: both are asked for.
    let max_age = match (
        options.max_age,
        options.step_up.as_ref().and_then(StepUp::max_age_seconds),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let flow = config.flow();
    if flow == Flow::Implicit {
        tracing::warn!(
            target: "oidc_login::login",
            "starting a login with the implicit flow, which is discouraged: the ID token comes back through the browser; use `authorization_code_pkce` if the provider allows it"
        );
    }
    let mut url = authorization_endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        let response_type = match flow {
            Flow::Implicit => "id_token",
            Flow::AuthorizationCodePkce | Flow::AuthorizationCode => "code",
        };
        query
            .append_pair("response_type", response_type)
            .append_pair("client_id", config.client_id())
            .append_pair("redirect_uri", config.redirect_uri().as_str())
            .append_pair("scope", &config.scopes().join(" "))
            .append_pair("state", state.expose_secret())
            .append_pair("nonce", nonce.expose_secret());
        if flow == Flow::AuthorizationCodePkce {
            query
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256");
        }
        let step_up = options.step_up.as_ref().filter(|s| !s.is_empty());
        // A step-up must authenticate anew: `prompt=login` joins any other
        // prompt (the caller's, the config's, or `consent` for `offline_access`).
        let prompt = match (step_up, prompt.as_deref()) {
            (Some(_), None) => Some("login".to_owned()),
            (Some(_), Some(p)) if !p.split(' ').any(|p| p == "login") => Some(format!("{p} login")),
            (_, p) => p.map(str::to_owned),
        };
        for (name, value) in [
            ("prompt", prompt.as_deref()),
            ("login_hint", options.login_hint.as_deref()),
            ("domain_hint", options.domain_hint.as_deref()),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        // The implicit flow always returns by form post: an ID token in a
        // URL fragment would reach the browser history and scripts.
        if options.form_post || flow == Flow::Implicit {
            query.append_pair("response_mode", "form_post");
        }
        if let Some(max_age) = max_age {
            query.append_pair("max_age", &max_age.to_string());
        }
        if let Some(step_up) = step_up {
            if !step_up.accepted_acr_values().is_empty() {
                query.append_pair("acr_values", &step_up.accepted_acr_values().join(" "));
            }
            if let Some(claims) = step_up.claims_parameter() {
                query.append_pair("claims", &claims);
            }
        }
        for (name, value) in &options.extra {
            query.append_pair(name, value);
        }
    }

    let pending = PendingLogin {
        issuer: issuer.to_owned(),
        provider: Some(config.name().to_owned()),
        state,
        nonce,
        pkce_verifier,
        return_to,
        max_age,
        created_at: now,
        step_up: options.step_up.filter(|s| !s.is_empty()),
    };
    Ok((url, pending))
}

/// Accepts `path` only as a path on the app's own origin, and returns it
/// normalized (as the browser would resolve it against the app's origin).
pub(crate) fn safe_return_to(path: &str, app: &Url) -> Result<String, StartError> {
    let refuse = |reason: &'static str| StartError::UnsafeReturnTo { reason };
    if path.len() > 2048 {
        return Err(refuse("it is longer than 2048 characters"));
    }
    if !path.starts_with('/') {
        return Err(refuse("it must be a path starting with `/`"));
    }
    // `//host` and `/\host` are scheme-relative URLs to another host in
    // browsers; a backslash anywhere is read as `/` by some of them.
    if path.starts_with("//") || path.contains('\\') {
        return Err(refuse("it would lead to another host"));
    }
    if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse("it holds control or white-space characters"));
    }
    let resolved = app
        .join(path)
        .map_err(|_| refuse("it is not a valid path"))?;
    if resolved.origin() != app.origin() {
        return Err(refuse("it would lead to another origin"));
    }
    let mut normalized = resolved.path().to_owned();
    // Dot segments (`/.//host`, `/%2e//host`, `/a/..//host`) normalize into
    // a scheme-relative URL: check again after normalizing.
    if normalized.starts_with("//") || normalized.contains('\\') {
        return Err(refuse("it would lead to another host"));
    }
    if let Some(query) = resolved.query() {
        normalized.push('?');
        normalized.push_str(query);
    }
    if let Some(fragment) = resolved.fragment() {
        normalized.push('#');
        normalized.push_str(fragment);
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Url {
        Url::parse("https://app.example/auth/callback").unwrap()
    }

    fn config() -> Config {
        Config::builder("https://p.example", "my app")
            .redirect_uri("https://app.example/auth/callback")
            .scopes(["openid", "email"])
            .build()
            .unwrap()
    }

    #[test]
    fn return_to_accepts_own_paths() {
        assert_eq!(safe_return_to("/admin", &app()).unwrap(), "/admin");
        assert_eq!(safe_return_to("/a/../b?x=1#f", &app()).unwrap(), "/b?x=1#f");
        assert_eq!(safe_return_to("/", &app()).unwrap(), "/");
    }

    #[test]
    fn return_to_refuses_other_origins() {
        for bad in [
            "//evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "/\\/evil.example",
            "https:evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/\tx",
            "/x\ny",
            "/ /evil.example",
            "/.//evil.example",
            "/%2e//evil.example/x",
            "/a/..//evil.example",
            "/./%2e//evil.example",
            "/%2E%2E//evil.example",
        ] {
            assert!(safe_return_to(bad, &app()).is_err(), "{bad:?} was accepted");
        }
    }

    fn query(url: &Url) -> std::collections::HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn authorization_url_has_every_protection() {
        let (url, pending) = authorization_url(
            &config(),
            &Url::parse("https://p.example/authorize?p=b2c").unwrap(),
            "https://p.example",
            Start::default().max_age(60).login_hint("alice"),
            1000,
            true,
        )
        .unwrap();
        let q = query(&url);
        assert_eq!(q["p"], "b2c", "the endpoint's own query is kept");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "my app");
        assert_eq!(q["redirect_uri"], "https://app.example/auth/callback");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], pending.state.expose_secret());
        assert_eq!(q["nonce"], pending.nonce.expose_secret());
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["max_age"], "60");
        assert_eq!(q["login_hint"], "alice");
        let expected = oauth2::PkceCodeChallenge::from_code_verifier_sha256(
            &oauth2::PkceCodeVerifier::new(pending.pkce_verifier.expose_secret().to_owned()),
        );
        assert_eq!(q["code_challenge"], expected.as_str());
        assert!(
            pending.state.expose_secret().len() >= 22,
            "at least 128 bits"
        );
        assert_eq!(pending.created_at, 1000);
        assert_eq!(pending.max_age, Some(60));
    }

    #[test]
    fn each_login_gets_fresh_values() {
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let (_, a) = authorization_url(
            &config(),
            &endpoint,
            "https://p.example",
            Start::default(),
            0,
            true,
        )
        .unwrap();
        let (_, b) = authorization_url(
            &config(),
            &endpoint,
            "https://p.example",
            Start::default(),
            0,
            true,
        )
        .unwrap();
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.pkce_verifier, b.pkce_verifier);
    }

    #[test]
    fn reserved_parameters_cannot_be_replaced() {
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        for name in [
            "state",
            "NONCE",
            "redirect_uri",
            "code_challenge_method",
            "prompt",
        ] {
            let err = authorization_url(
                &config(),
                &endpoint,
                "i",
                Start::default().param(name, "x"),
                0,
                true,
            )
            .unwrap_err();
            assert!(matches!(err, StartError::ReservedParameter(_)), "{name}");
        }
        assert!(
            authorization_url(
                &config(),
                &endpoint,
                "i",
                Start::default().param("ui_locales", "fi"),
                0,
                true,
            )
            .is_ok()
        );
    }

    /// OpenID Connect Core 11: `offline_access` goes with `prompt=consent`,
    /// unless the provider is Entra ID, or the config or the login says
    /// otherwise.
    #[test]
    fn offline_access_asks_for_consent_unless_told_otherwise() {
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let builder = || {
            Config::builder("https://p.example", "my app")
                .redirect_uri("https://app.example/auth/callback")
                .scopes(["openid", "offline_access"])
        };
        let prompt_of = |config: &Config, options: Start, offline_consent: bool| {
            let (url, _) =
                authorization_url(config, &endpoint, "i", options, 0, offline_consent).unwrap();
            query(&url).get("prompt").cloned()
        };
        let offline = builder().build().unwrap();
        assert_eq!(
            prompt_of(&offline, Start::default(), true).as_deref(),
            Some("consent")
        );
        // Entra ID: no automatic consent.
        assert_eq!(prompt_of(&offline, Start::default(), false), None);
        // No `offline_access`: nothing.
        assert_eq!(prompt_of(&config(), Start::default(), true), None);
        // The login's own, then the config's, win.
        assert_eq!(
            prompt_of(&offline, Start::default().prompt("login"), true).as_deref(),
            Some("login")
        );
        let configured = builder().prompt("select_account").build().unwrap();
        assert_eq!(
            prompt_of(&configured, Start::default(), true).as_deref(),
            Some("select_account")
        );
        assert_eq!(
            prompt_of(&configured, Start::default(), false).as_deref(),
            Some("select_account")
        );
        assert_eq!(
            prompt_of(&configured, Start::default().prompt("none"), true).as_deref(),
            Some("none")
        );
    }

    #[test]
    fn prompt_values_are_those_of_core_3_1_2_1() {
        for good in [
            "none",
            "login",
            "consent",
            "select_account",
            "login consent",
        ] {
            assert_eq!(check_prompt(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Login",
            "create",
            "login  consent",
            " login",
            "none login",
            "consent consent",
            "login,consent",
        ] {
            assert!(check_prompt(bad).is_err(), "{bad:?}");
        }
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let err = authorization_url(
            &config(),
            &endpoint,
            "i",
            Start::default().prompt("<script>"),
            0,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, StartError::InvalidPrompt { .. }), "{err}");
        assert!(err.to_string().contains("select_account"), "{err}");
        let err = Config::builder("https://p.example", "a")
            .redirect_uri("https://app.example/cb")
            .prompt("always")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`prompt`"), "{err}");
    }

    #[test]
    fn code_flow_without_pkce_sends_no_challenge() {
        let config = Config::builder("https://p.example", "my app")
            .redirect_uri("https://app.example/auth/callback")
            .client_auth(crate::ClientAuth::secret_basic("s"))
            .flow(Flow::AuthorizationCode)
            .build()
            .unwrap();
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let (url, _) = authorization_url(
            &config,
            &endpoint,
            "https://p.example",
            Start::default(),
            0,
            true,
        )
        .unwrap();
        let q = query(&url);
        assert_eq!(q["response_type"], "code");
        assert!(!q.contains_key("code_challenge"), "{url}");
        assert!(!q.contains_key("code_challenge_method"), "{url}");
        assert!(!q.contains_key("response_mode"));
        assert!(q.contains_key("nonce") && q.contains_key("state"));
    }

    #[test]
    fn implicit_flow_asks_for_an_id_token_by_form_post() {
        let config = Config::builder("https://p.example", "my app")
            .redirect_uri("https://app.example/auth/callback")
            .insecure_implicit_flow()
            .build()
            .unwrap();
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        // With and without the caller's own form_post: one response_mode.
        for options in [Start::default(), Start::default().form_post()] {
            let (url, pending) =
                authorization_url(&config, &endpoint, "https://p.example", options, 0, true)
                    .unwrap();
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let q = query(&url);
            assert_eq!(q["response_type"], "id_token");
            assert_eq!(q["nonce"], pending.nonce.expose_secret());
            assert!(!q.contains_key("code_challenge"), "{url}");
            assert_eq!(
                pairs.iter().filter(|(k, _)| k == "response_mode").count(),
                1,
                "{url}"
            );
            assert_eq!(q["response_mode"], "form_post");
        }
    }

    #[test]
    fn step_up_asks_for_a_new_authentication() {
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let step_up = StepUp::new()
            .max_age(std::time::Duration::from_secs(300))
            .acr_values(["mfa", "hwk"])
            .entra_auth_context("c1");
        let (url, pending) = authorization_url(
            &config(),
            &endpoint,
            "https://p.example",
            Start::default().max_age(600).step_up(step_up.clone()),
            0,
            true,
        )
        .unwrap();
        let q = query(&url);
        assert_eq!(q["max_age"], "300", "the smaller max_age wins");
        assert_eq!(q["prompt"], "login");
        assert_eq!(q["acr_values"], "mfa hwk");
        assert_eq!(
            q["claims"],
            r#"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#
        );
        assert_eq!(pending.max_age, Some(300));
        assert_eq!(pending.step_up(), Some(&step_up));
        let back: PendingLogin =
            serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
        assert_eq!(
            back.step_up(),
            Some(&step_up),
            "the pending login remembers it"
        );

        // Another prompt is kept, with `login` added.
        let (url, _) = authorization_url(
            &config(),
            &endpoint,
            "i",
            Start::default()
                .prompt("select_account")
                .step_up(StepUp::new().acr_values(["mfa"])),
            0,
            true,
        )
        .unwrap();
        assert_eq!(query(&url)["prompt"], "select_account login");
        assert!(!query(&url).contains_key("max_age"));
        // An empty step-up asks for nothing.
        let (url, pending) = authorization_url(
            &config(),
            &endpoint,
            "i",
            Start::default().step_up(StepUp::new()),
            0,
            true,
        )
        .unwrap();
        assert!(!query(&url).contains_key("prompt"));
        assert!(pending.step_up().is_none());
        // Its parameters cannot be replaced by extra ones.
        for name in ["acr_values", "CLAIMS"] {
            let err = authorization_url(
                &config(),
                &endpoint,
                "i",
                Start::default()
                    .step_up(StepUp::new().entra_auth_context("c1"))
                    .param(name, "x"),
                0,
                true,
            )
            .unwrap_err();
            assert!(matches!(err, StartError::ReservedParameter(_)), "{name}");
        }
    }

    #[test]
    fn pending_login_debug_and_serde() {
        let endpoint = Url::parse("https://p.example/authorize").unwrap();
        let (_, pending) = authorization_url(
            &config(),
            &endpoint,
            "https://p.example",
            Start::default().return_to("/x"),
            0,
            true,
        )
        .unwrap();
        let debug = format!("{pending:?}");
        for secret in [
            pending.state.expose_secret(),
            pending.nonce.expose_secret(),
            pending.pkce_verifier.expose_secret(),
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
        let json = serde_json::to_string(&pending).unwrap();
        let back: PendingLogin = serde_json::from_str(&json).unwrap();
        assert_eq!(back.state, pending.state);
        assert_eq!(back.return_to(), Some("/x"));
        assert!(
            json.len() < 512,
            "a pending login stays small: {} bytes",
            json.len()
        );
    }
}
