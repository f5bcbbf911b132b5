//! Metrics through the `metrics` facade (the app installs the recorder it
//! wants; without one, each call costs next to nothing). The names are
//! documented in one table in the crate docs ("Observability").
//!
//! Every label value is bounded: the provider's issuer (one per configured
//! client), an outcome (`ok`, `failed`), or an error's stable code
//! ([`Error::code`](crate::Error::code)), never anything a user or a token
//! chose.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

/// Logins started ([`Client::start`](crate::Client::start)); label `issuer`.
pub(crate) const LOGINS_STARTED: &str = "oidc_login_logins_started_total";
/// Logins finished ([`Client::finish`](crate::Client::finish) succeeded); label `issuer`.
pub(crate) const LOGINS_FINISHED: &str = "oidc_login_logins_finished_total";
/// Logins refused by `Client::finish`, and by the axum callback before or
/// after it; labels `issuer`, `code`.
pub(crate) const LOGINS_REFUSED: &str = "oidc_login_logins_refused_total";
/// Refresh grants; labels `issuer`, `outcome` (`ok`, `failed`).
pub(crate) const REFRESHES: &str = "oidc_login_refreshes_total";
/// Key set (JWKS) fetches; label `outcome` (`ok`, `failed`).
pub(crate) const JWKS_FETCHES: &str = "oidc_login_jwks_fetches_total";
/// The code exchange at the token endpoint, in seconds; label `issuer`.
pub(crate) const CODE_EXCHANGE_SECONDS: &str = "oidc_login_code_exchange_seconds";
/// ID token validation (signature and claims), in seconds; label `issuer`.
pub(crate) const VALIDATION_SECONDS: &str = "oidc_login_id_token_validation_seconds";

/// Describes every metric to the installed recorder (once per client made:
/// a recorder installed later still learns them at the next discovery).
pub(crate) fn describe() {
    describe_counter!(
        LOGINS_STARTED,
        Unit::Count,
        "logins started (redirects to the provider)"
    );
    describe_counter!(
        LOGINS_FINISHED,
        Unit::Count,
        "logins finished: the ID token was valid and the identity built"
    );
    describe_counter!(
        LOGINS_REFUSED,
        Unit::Count,
        "logins refused at the callback, by the error's stable code"
    );
    describe_counter!(REFRESHES, Unit::Count, "refresh grants, by outcome");
    describe_counter!(
        JWKS_FETCHES,
        Unit::Count,
        "fetches of the provider's key set (JWKS), by outcome"
    );
    describe_histogram!(
        CODE_EXCHANGE_SECONDS,
        Unit::Seconds,
        "the authorization code exchange at the token endpoint"
    );
    describe_histogram!(
        VALIDATION_SECONDS,
        Unit::Seconds,
        "ID token validation: signature and claims"
    );
}

pub(crate) fn login_started(issuer: &str) {
    counter!(LOGINS_STARTED, "issuer" => issuer.to_owned()).increment(1);
}

pub(crate) fn login_finished(issuer: &str) {
    counter!(LOGINS_FINISHED, "issuer" => issuer.to_owned()).increment(1);
}

/// `code` is [`Error::code`](crate::Error::code): a fixed set.
pub(crate) fn login_refused(issuer: &str, code: &'static str) {
    counter!(LOGINS_REFUSED, "issuer" => issuer.to_owned(), "code" => code).increment(1);
}

pub(crate) fn refreshed(issuer: &str, ok: bool) {
    counter!(REFRESHES, "issuer" => issuer.to_owned(), "outcome" => outcome(ok)).increment(1);
}

pub(crate) fn jwks_fetched(ok: bool) {
    counter!(JWKS_FETCHES, "outcome" => outcome(ok)).increment(1);
}

pub(crate) fn code_exchange(issuer: &str, took: Duration) {
    histogram!(CODE_EXCHANGE_SECONDS, "issuer" => issuer.to_owned()).record(took.as_secs_f64());
}

pub(crate) fn validation(issuer: &str, took: Duration) {
    histogram!(VALIDATION_SECONDS, "issuer" => issuer.to_owned()).record(took.as_secs_f64());
}

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}
