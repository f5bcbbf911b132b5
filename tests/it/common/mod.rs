//! Helpers shared by the integration tests: a provider, a config for it, and
//! a browser stand-in that follows the provider's redirect back to a callback.

pub mod accounts;
pub mod app;
pub mod logs;
pub mod state;
pub mod store;

use oidc_login::testing::{TestClient, TestClientAuth, TestProvider};
use oidc_login::{
    Callback, Client, ClientAuth, Config, ConfigBuilder, Error, Login, PendingLogin, Start,
};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const ALICE_GROUP: &str = "d48429bd-9f2a-47a2-a410-993f2a37876b";

/// The row that gives alice's group (`devs`, from the ID token) `role`.
pub fn devs_are(role: &str) -> oidc_login::RoleMapping {
    oidc_login::RoleMapping::new(
        "devs",
        oidc_login::Source::OpenIdConnect,
        ALICE_GROUP,
        [role],
    )
}

/// A config for the provider's default client (`client_secret_basic`).
pub fn config_builder(provider: &TestProvider) -> ConfigBuilder {
    Config::builder(provider.issuer(), CLIENT_ID)
        .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
        .redirect_uri(REDIRECT_URI)
}

pub async fn client(provider: &TestProvider) -> Client {
    client_with(config_builder(provider)).await
}

pub async fn client_with(builder: ConfigBuilder) -> Client {
    let config = builder.build().expect("the test config is valid");
    Client::discover(config)
        .await
        .expect("discovery of the embedded provider works")
}

/// The two ways an admin configures Microsoft Entra ID: the `entra` table
/// (`Config::entra`), or Entra's metadata URL in a generic form (Pexip's),
/// which the crate recognises from the discovery document. Every Entra test
/// runs in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntraForm {
    /// `entra = { tenant = "..." }`.
    Table,
    /// `metadata_url = "<authority>/<tenant>/v2.0/.well-known/openid-configuration"`.
    MetadataUrl,
}

impl EntraForm {
    pub const BOTH: [EntraForm; 2] = [EntraForm::Table, EntraForm::MetadataUrl];

    /// A config for `tenant` of the embedded provider in Entra mode, its
    /// default client, and its Graph (on loopback, so given as `graph_url`
    /// in both forms).
    pub fn builder(self, provider: &TestProvider, tenant: &str) -> ConfigBuilder {
        let builder = match self {
            EntraForm::Table => {
                Config::entra(tenant, CLIENT_ID).entra_authority(provider.entra_authority())
            }
            EntraForm::MetadataUrl => {
                Config::builder(provider.entra_metadata_url(tenant), CLIENT_ID)
            }
        };
        builder
            .graph_url(provider.graph_url())
            .client_auth(ClientAuth::secret_basic(CLIENT_SECRET))
            .redirect_uri(REDIRECT_URI)
    }
}

/// A provider whose only client uses `auth`.
pub async fn provider_for(auth: Option<TestClientAuth>) -> TestProvider {
    let client = match auth {
        Some(auth) => TestClient::confidential(CLIENT_ID, CLIENT_SECRET, auth),
        None => TestClient::public(CLIENT_ID),
    }
    .redirect_uri(REDIRECT_URI);
    TestProvider::builder().client(client).start().await
}

/// A browser stand-in that keeps cookies; with `follow`, it follows up to
/// ten redirects, without, it stops at the first.
pub fn browser(follow: bool) -> reqwest::Client {
    use reqwest::redirect::Policy;
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(if follow {
            Policy::limited(10)
        } else {
            Policy::none()
        })
        .build()
        .unwrap()
}

/// `GET {login}?login_hint={user}&return_to={return_to}` with `browser`:
/// the embedded provider signs `user` in at once, and a browser that
/// follows redirects lands on `return_to`.
pub async fn sign_in_at(
    browser: &reqwest::Client,
    login: &str,
    user: &str,
    return_to: &str,
) -> reqwest::Response {
    browser
        .get(format!("{login}?login_hint={user}&return_to={return_to}"))
        .send()
        .await
        .unwrap()
}

/// A browser stand-in whose cookie jar the test can read: redirects
/// followed, cookies kept.
pub fn browser_with_jar() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (browser, jar)
}

/// The `Cookie` header `jar` sends to `url`, for replaying it by hand.
pub fn saved_cookies(jar: &reqwest::cookie::Jar, url: &str) -> reqwest::header::HeaderValue {
    use reqwest::cookie::CookieStore as _;
    jar.cookies(&url.parse().unwrap())
        .unwrap_or_else(|| panic!("the jar holds no cookie for {url}"))
}

/// The status of `GET url` sent with exactly `cookie`, from a client with no
/// jar of its own.
pub async fn status_with_cookie(
    url: &str,
    cookie: &reqwest::header::HeaderValue,
) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(url)
        .header(reqwest::header::COOKIE, cookie.clone())
        .send()
        .await
        .unwrap()
        .status()
}

/// What the browser brings back from the provider: the callback's query
/// string (or form body).
pub async fn authorize(url: &url::Url) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .get(url.clone())
        .send()
        .await
        .expect("the provider answers /authorize");
    let status = response.status();
    if status.is_redirection() {
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let location = url::Url::parse(&location).unwrap();
        assert!(
            location.as_str().starts_with(REDIRECT_URI),
            "redirected to {location}"
        );
        return location.query().unwrap_or_default().to_owned();
    }
    let body = response.text().await.unwrap();
    // form_post: an auto-submitting form with hidden inputs.
    assert!(status.is_success(), "authorize answered {status}: {body}");
    form_fields(&body)
}

/// The hidden inputs of a form_post page, as a form body.
pub fn form_fields(html: &str) -> String {
    let mut fields = url::form_urlencoded::Serializer::new(String::new());
    for input in html.split("<input").skip(1) {
        let attr = |name: &str| {
            let start = input.find(&format!("{name}=\""))? + name.len() + 2;
            let end = input[start..].find('"')? + start;
            Some(html_unescape(&input[start..end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.append_pair(&name, &value);
        }
    }
    fields.finish()
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Starts a login for `username` (signed in by `login_hint`, no form) and
/// returns the pending login and the callback the browser brings back.
pub async fn start_as(client: &Client, username: &str, options: Start) -> (PendingLogin, Callback) {
    let (url, pending) = client
        .start(options.login_hint(username))
        .expect("start works");
    let form_post = url
        .query_pairs()
        .any(|(k, v)| k == "response_mode" && v == "form_post");
    let returned = authorize(&url).await;
    let callback = if form_post {
        Callback::from_form(returned.as_bytes())
    } else {
        Callback::from_query(&returned)
    }
    .expect("the callback parses");
    (pending, callback)
}

/// A whole login as `username`.
pub async fn login_as(client: &Client, username: &str) -> Result<Login, Error> {
    let (pending, callback) = start_as(client, username, Start::default()).await;
    client.finish(pending, callback).await
}
