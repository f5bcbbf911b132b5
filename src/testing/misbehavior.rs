//! The ways the embedded provider can break the protocol on request.

use std::time::Duration;

use crate::Algorithm;

/// One rule of OpenID Connect / OAuth 2.0 that the
/// [`TestProvider`](super::TestProvider) breaks on request, so that a test
/// can check the client notices.
///
/// Each variant names the rule the client must enforce and, where one
/// exists, the OpenID Foundation RP conformance test it mirrors (e.g.
/// `rp-id_token-aud`). Turn one on with
/// [`TestProvider::misbehave`](super::TestProvider::misbehave); it applies
/// from the next response on, until
/// [`TestProvider::behave`](super::TestProvider::behave). Several can be
/// active at once; turning on a variant that is already active replaces it.
/// When several variants that change how the ID token is signed are active
/// (`BadSignature`, `AlgNone`, `AlgNoneSpelled`, `HmacWithPublicKey`,
/// `UnknownKid`, `NoKid`, `NoKidMultipleKeys`, `KidOfAnotherKeyType`,
/// `SignsWith`, `EmbeddedJwk`, `Jwe`), the one turned on first wins.
///
/// Misbehaviour applies to every ID token the token endpoint issues
/// (authorization code and refresh grants), never to
/// [`TestProvider::sign_id_token`](super::TestProvider::sign_id_token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misbehavior {
    /// The ID token's `iss` is `<issuer>/wrong-issuer` (a string that starts
    /// with the real issuer, to catch prefix comparison). Rule: `iss` must
    /// equal the discovered issuer exactly. `rp-id_token-issuer-mismatch`.
    WrongIssuerInToken,
    /// The discovery document's `issuer` is `<issuer>/wrong-issuer` while it
    /// is served under the real issuer URL. Rule: the metadata `issuer` must
    /// equal the URL it was discovered from (OpenID Connect Discovery 4.3).
    /// `rp-discovery-issuer-not-matching-config`.
    WrongIssuerInMetadata,
    /// The authorization response's `iss` parameter is
    /// `<issuer>/wrong-issuer`. Rule: RFC 9207 section 2.4, the `iss`
    /// parameter must equal the issuer.
    WrongIssInCallback,
    /// The authorization response carries no `iss` parameter although the
    /// metadata advertises `authorization_response_iss_parameter_supported`.
    /// Rule: RFC 9207 section 2.4, a client must then reject a response
    /// without it.
    NoIssInCallback,
    /// The ID token's `aud` is `some-other-client`. Rule: `aud` must contain
    /// the client id. `rp-id_token-aud`.
    WrongAudience,
    /// The ID token's `aud` is `[client id, <this value>]` and `azp` is the
    /// client id. Rule: OpenID Connect Core 3.1.3.7 step 3, reject a token
    /// whose `aud` holds audiences the client does not trust.
    ExtraUntrustedAudience(String),
    /// The ID token's `azp` is `some-other-client` (its `aud` is right). Rule:
    /// when `azp` is present it must be the client id (Core 3.1.3.7 step 5).
    WrongAzp,
    /// The ID token has no `azp` even when its `aud` holds several audiences
    /// (the provider's [extra audiences](super::TestProviderBuilder::extra_audience)
    /// or [`ExtraUntrustedAudience`](Self::ExtraUntrustedAudience)). Rule:
    /// with several audiences `azp` must name the client (Core 3.1.3.7 step
    /// 4, a SHOULD this crate makes a rule).
    NoAzp,
    /// The ID token's `exp` is 10 minutes in the past (`iat` 15 minutes ago).
    /// Rule: reject expired tokens (Core 3.1.3.7 step 9).
    Expired,
    /// The ID token's `iat` is 10 minutes in the future. Rule: reject tokens
    /// issued in the future beyond the allowed clock skew (Core 3.1.3.7
    /// step 10).
    IssuedInFuture,
    /// The ID token has an `nbf` 10 minutes in the future. Rule: reject
    /// tokens not valid yet (RFC 7519 section 4.1.5).
    NotYetValid,
    /// The ID token's `nonce` is `not-the-nonce-you-sent`. Rule: `nonce` must
    /// equal the one sent in the authentication request. `rp-nonce-invalid`.
    WrongNonce,
    /// The ID token has no `nonce` although the request sent one. Rule: Core
    /// 3.1.3.7 step 11.
    NoNonce,
    /// The ID token has no `sub`. Rule: `sub` is required. `rp-id_token-sub`.
    NoSub,
    /// The ID token has no `exp`. Rule: `exp` is required.
    NoExp,
    /// The ID token has no `iat`. Rule: `iat` is required. `rp-id_token-iat`.
    NoIat,
    /// The ID token's signature has one byte flipped. Rule: verify the
    /// signature. `rp-id_token-bad-sig-rs256` (`rp-id_token-bad-sig-es256`,
    /// `rp-id_token-bad-sig-hs256` with those algorithms).
    BadSignature,
    /// The ID token's header says `"alg": "none"` and the signature is empty.
    /// Rule: never accept unsigned tokens. `rp-id_token-sig-none` (which a
    /// code-flow RP may accept; this crate refuses).
    AlgNone,
    /// Like [`AlgNone`](Self::AlgNone), with `alg` spelled this way (such as
    /// `None` or `NONE`). Rule: `none` is refused in any letter case.
    AlgNoneSpelled(String),
    /// The ID token's header says `HS256` and it is an HMAC keyed with the
    /// PEM (SubjectPublicKeyInfo) text of the provider's public signing key:
    /// the algorithm-confusion attack. Rule: the algorithm comes from the
    /// key and the allow-list, never from the token header alone.
    HmacWithPublicKey,
    /// The ID token is signed with a fresh key that is not in the JWKS, under
    /// a `kid` the JWKS does not have (even after a refetch). Rule: reject
    /// tokens whose key cannot be found.
    UnknownKid,
    /// The ID token's header has no `kid`; the JWKS holds one key, the right
    /// one. Rule: a client may use the only key.
    /// `rp-id_token-kid-absent-single-jwks` (a positive test).
    NoKid,
    /// The ID token's header has no `kid` and the JWKS holds a second key of
    /// the same type besides the right one. The conformance test allows a
    /// client either to refuse or to try every key that fits the algorithm;
    /// this crate tries them, so the login succeeds.
    /// `rp-id_token-kid-absent-multiple-jwks`.
    NoKidMultipleKeys,
    /// The ID token's `kid` names a key of another type or curve than its
    /// `alg`: the JWKS also publishes that key (ES256 next to an RSA,
    /// EdDSA or HMAC provider's key, ES384 next to an ES256 one, ES256 next
    /// to an ES384 or ES512 one), and the token, whose header keeps the
    /// provider's `alg`, is signed by it with its own algorithm. Rule: the
    /// key's type, curve and `alg` must fit the token's algorithm
    /// (RFC 8725 section 3.1).
    KidOfAnotherKeyType,
    /// The ID token is signed with this algorithm, by a fresh key that the
    /// JWKS publishes next to the usual one; the metadata still advertises
    /// only the provider's algorithm. Rule: the algorithm must be on the
    /// client's allow-list (RFC 8725 section 3.1), e.g. `PS256` for a client
    /// that allows `RS256` only.
    SignsWith(Algorithm),
    /// The ID token is signed by an attacker's key, whose public JWK is in
    /// the header (`jwk`) and whose self-made X.509 certificate is in `x5c`,
    /// with `jku` and `x5u` pointing at `<issuer>/attacker-jwks`. Rule: only
    /// keys from the provider's `jwks_uri` are trusted (RFC 8725 section
    /// 3.10).
    EmbeddedJwk,
    /// The ID token's `at_hash` does not match the access token. Rule: Core
    /// 3.2.2.9 / 3.3.2.11, when present it must match.
    WrongAtHash,
    /// The ID token has no `auth_time`. Rule: required when the request
    /// asked for `max_age` (Core 3.1.3.7 step 13).
    AuthTimeMissing,
    /// The ID token's `auth_time` is one day ago. Rule: with `max_age`, the
    /// authentication must be recent enough.
    AuthTimeOld,
    /// The authorization endpoint ignores what a request asks of the
    /// user's authentication (`prompt=login`, `max_age`, `acr_values`, an
    /// Entra ID authentication context in `claims`): a user who signed in
    /// before is not asked again, and the ID token carries the old
    /// `auth_time` and `acr` (a first sign-in gets no `acr`). Rule: a
    /// step-up login's ID token must meet what it asked for (OpenID Connect
    /// Core 3.1.2.1, 3.1.3.7 step 13; RFC 9470).
    IgnoreStepUp,
    /// Userinfo answers with `sub` `someone-else-0000`. Rule: the userinfo
    /// `sub` must equal the ID token's (Core 5.3.2).
    /// `rp-userinfo-bad-sub-claim`.
    UserinfoWrongSub,
    /// The token response has no `id_token`. Rule: an OpenID Connect code
    /// flow token response must carry one.
    NoIdToken,
    /// The token endpoint answers `400` with `{"error": "invalid_grant"}`
    /// whatever the request. For the client's error path.
    TokenEndpointError,
    /// The `id_token` is a five-part, JWE-shaped string (random parts, header
    /// `{"alg":"RSA-OAEP","enc":"A256GCM"}`). Rule: a client that did not
    /// register for encrypted ID tokens must refuse them.
    Jwe,
    /// The authorization response (after sign-in) carries
    /// `error=<this value>&error_description=...` instead of a code, with the
    /// request's `state`. For the client's callback error path.
    AuthorizeError(String),
    /// The authorization response carries `error=<error>` and this
    /// `error_description` (which may hold markup such as `<b>x</b>`)
    /// instead of a code, with the request's `state`. Rule: the description
    /// is kept as text, never rendered as HTML.
    AuthorizeErrorDescribed {
        /// The `error` code, such as `access_denied`.
        error: String,
        /// The `error_description`, sent as is.
        description: String,
    },
    /// The discovery document leaves out this member (such as
    /// `token_endpoint`, `jwks_uri` or `authorization_endpoint`). Rule: the
    /// metadata's required members must be present (OpenID Connect
    /// Discovery 3), and the error names the missing one.
    MetadataWithout(&'static str),
    /// The discovery document gives this member (such as `token_endpoint`,
    /// `jwks_uri` or `userinfo_endpoint`) as plain http on a host that is not
    /// a loopback one: `http://0.0.0.0:<port>/<path>` (on Linux that address
    /// still reaches this provider, so a client that does not check never
    /// leaves the machine). Rule: provider URLs must be https, except on
    /// loopback hosts.
    InsecureEndpoint(&'static str),
    /// The JWKS publishes, before the real key, entries a client cannot use,
    /// all under the real key's `kid`: a copy of the real key with `use:
    /// enc`, an unknown `kty`, an EC key on an unknown curve, a 1024-bit RSA
    /// key, a malformed RSA key, and a JSON string. Rule: unusable entries
    /// are skipped, not fatal; the login still succeeds.
    JunkJwks,
    /// Every endpoint waits this long before answering. For timeout tests.
    SlowResponses(Duration),
    /// The endpoint at this path under the issuer (such as `token` or
    /// `userinfo`) waits this long before answering; the others answer at
    /// once. Rule: every request to the provider has a timeout.
    SlowEndpoint(&'static str, Duration),
    /// The endpoint at this path under the issuer (such as `token` or
    /// `userinfo`) sends its genuine answer followed by more than 1 MiB of
    /// JSON whitespace. Rule: cap response sizes.
    HugeResponse(&'static str),
    /// The endpoint at this path under the issuer (such as `token` or
    /// `userinfo`) answers `307 Temporary Redirect` to itself with
    /// `?redirected=true`, where it gives its genuine answer. Rule: the
    /// client follows no redirects.
    RedirectEndpoint(&'static str),
    /// The endpoint at this path under the issuer (such as
    /// `.well-known/openid-configuration`, `jwks`, `token`, `userinfo` or,
    /// in Entra mode, `v1.0/me/transitiveMemberOf`) answers this HTTP status
    /// (such as 500, 502, 503 or 429) with a proxy's HTML error page, and
    /// the request never reaches the endpoint (a code or refresh token sent
    /// there stays unused, and the endpoint's counter does not move). Rule:
    /// a server failure is reported as one, naming the endpoint, never read
    /// as the provider refusing the login or refresh; discovery retries it.
    ErrorStatus(&'static str, u16),
    /// The endpoint at this path under the issuer sends the status and
    /// headers of its genuine answer, `Content-Length` included, then half
    /// the body, then drops the connection (the endpoint did its work: a
    /// code or refresh token sent there is spent). Rule: an answer cut short
    /// is a failure that names the endpoint.
    TruncatedResponse(&'static str),
    /// The endpoint at this path under the issuer answers `200 OK` with an
    /// HTML maintenance page (`text/html`) instead of JSON, as a proxy or
    /// captive portal in front of a provider does; the request never reaches
    /// the endpoint. Rule: a body that is not JSON is a failure that names
    /// the endpoint, never parsed as a protocol answer.
    NonJsonResponse(&'static str),
    /// The discovery document gives this member (such as `token_endpoint`,
    /// `userinfo_endpoint` or `jwks_uri`) on a loopback port where nothing
    /// listens ([`TestProvider::closed_url`](super::TestProvider::closed_url)),
    /// so every request to it is refused: that endpoint is down while the
    /// rest of the provider is up. Rule: a provider that cannot be reached
    /// is reported naming the endpoint.
    UnreachableEndpoint(&'static str),
    /// The JWKS body is more than 1 MiB (the real key plus padding keys).
    /// Rule: cap response sizes.
    HugeJwks,
    /// The JWKS endpoint answers `302 Found` with `Location:
    /// <issuer>/jwks-redirected` (which serves the genuine keys and also
    /// counts in [`jwks_requests`](super::TestProvider::jwks_requests)).
    /// Rule: the client does not follow redirects when fetching keys.
    RedirectJwks,
    /// Entra mode: the ID token is a version 1.0 token, `ver` `1.0` and
    /// `iss` `https://sts.windows.net/<tid>/`. Rule: only v2.0 tokens are
    /// accepted, with an error that says to use the v2.0 endpoint.
    EntraV1Token,
    /// Entra mode: the ID token is for this tenant, `tid` and `iss` both
    /// naming it (consistent and well signed). Rule: a multi-tenant app
    /// accepts only the tenants its policy allows, a single-tenant app only
    /// its own issuer.
    EntraTokenForTenant(String),
    /// Entra mode: the ID token's `iss` names this tenant while its `tid`
    /// stays the user's. Rule: `iss` must be the issuer template with the
    /// token's own `tid` put in.
    EntraIssuerForTenant(String),
    /// Entra mode: the metadata's `msgraph_host` names this host (such as
    /// another server's `127.0.0.1:<port>`). Rule: the user's access token
    /// goes only to the configured Graph URL, or Microsoft's own Graph for
    /// metadata served by Microsoft's login host; never to a host the
    /// metadata names.
    EntraGraphHost(String),
    /// Entra mode: Microsoft Graph answers `403 Authorization_RequestDenied`
    /// (as when the admin consent for `GroupMember.Read.All` is missing).
    /// Rule: a groups overage is never read as "no groups".
    GraphForbidden,
    /// Entra mode: `transitiveMemberOf` pages' `@odata.nextLink` point to
    /// this origin (such as `https://evil.example`) instead of Graph. Rule:
    /// the user's access token goes only to the configured Graph host.
    GraphForeignNextLink(String),
    /// Entra mode: every `transitiveMemberOf` page has an
    /// `@odata.nextLink`, to the same page. Rule: paging is bounded.
    GraphEndlessPages,
    /// Access tokens last this long (`expires_in`) instead of 5 minutes.
    /// Not a fault: for tests of refresh on demand, which then falls due
    /// sooner than a refresh margin.
    AccessTokenLifetime(Duration),
    /// The refresh grant keeps the refresh token valid and sends no new one,
    /// as glewlwyd and LemonLDAP::NG do (they do not rotate refresh
    /// tokens). Not a fault: the client must still reach the provider at
    /// each refresh that falls due.
    NoRefreshTokenRotation,
    /// A refresh grant's ID token names another user (`sub` with `-other`
    /// appended). Rule: a refreshed ID token's `sub` is the original one
    /// (OpenID Connect Core 12.2).
    RefreshNewSubject,
    /// A refresh grant's ID token has an `auth_time` an hour later than the
    /// login's. Rule: `auth_time` is that of the original authentication
    /// (Core 12.2).
    RefreshNewAuthTime,
    /// A refresh grant's ID token has an `iat` 10 minutes old (as a token
    /// replayed from earlier would). Rule: a refreshed ID token is issued
    /// now (Core 12.2).
    RefreshStaleIssuedAt,
    /// A refresh grant's ID token carries a `nonce` other than the login's.
    /// Rule: a `nonce` in a refreshed ID token is the original one.
    RefreshWrongNonce,
}

impl Misbehavior {
    /// Whether this variant changes how the ID token is signed or shaped.
    pub(super) fn is_signing(&self) -> bool {
        matches!(
            self,
            Misbehavior::BadSignature
                | Misbehavior::AlgNone
                | Misbehavior::AlgNoneSpelled(_)
                | Misbehavior::HmacWithPublicKey
                | Misbehavior::UnknownKid
                | Misbehavior::NoKid
                | Misbehavior::NoKidMultipleKeys
                | Misbehavior::KidOfAnotherKeyType
                | Misbehavior::SignsWith(_)
                | Misbehavior::EmbeddedJwk
                | Misbehavior::Jwe
        )
    }
}
