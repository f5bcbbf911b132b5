//! Discovery at start-up, tried again while the provider cannot be reached
//! yet (it starts with the app, or restarts), for at most the config's
//! `discovery_retry_seconds`.
//!
//! Only failures that time can mend are retried: no connection, a timeout,
//! an answer cut short, HTTP 5xx or 429. A mistake (an issuer mismatch, a
//! 404, metadata or keys of the wrong form) fails at once: waiting would only
//! hide it. The delays grow exponentially with jitter, so a fleet of
//! instances started together does not knock on the provider in step.

use std::time::{Duration, Instant};

use super::Provider;
use crate::config::Config;
use crate::error::{Error, HttpError};
use crate::http::HttpClient;

/// The first delay's ceiling.
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest delay between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(10);

impl Provider {
    /// [`Provider::discover`], tried again with backoff while it fails in a
    /// way time can mend, until `window` (the config's
    /// `discovery_retry_seconds`) has passed since the first attempt (the
    /// last attempt starts within it). Each retry is logged as a warning
    /// naming the endpoint and the cause.
    pub(crate) async fn discover_retrying(
        config: &Config,
        http: &HttpClient,
        window: Duration,
    ) -> Result<Self, Error> {
        let started = Instant::now();
        let mut backoff = Backoff::new();
        let mut attempt: u32 = 1;
        loop {
            let error = match Self::discover(config, http).await {
                Ok(provider) => {
                    if attempt > 1 {
                        tracing::info!(
                            target: "oidc_login::provider",
                            attempt,
                            elapsed_ms = millis(started.elapsed()),
                            "the provider answered; discovery succeeded"
                        );
                    }
                    return Ok(provider);
                }
                Err(error) => error,
            };
            let Some(cause) = transient(&error) else {
                return Err(error);
            };
            let left = window.saturating_sub(started.elapsed());
            if left.is_zero() {
                if attempt > 1 {
                    tracing::warn!(
                        target: "oidc_login::provider",
                        endpoint = %cause.url(),
                        attempt,
                        elapsed_ms = millis(started.elapsed()),
                        %error,
                        "the provider could not be reached within `discovery_retry_seconds`; giving up"
                    );
                }
                return Err(error);
            }
            let delay = backoff.next_delay().min(left);
            tracing::warn!(
                target: "oidc_login::provider",
                endpoint = %cause.url(),
                attempt,
                retry_in_ms = millis(delay),
                %error,
                "the provider cannot be reached yet; trying discovery again"
            );
            tokio::time::sleep(delay).await;
            attempt = attempt.saturating_add(1);
        }
    }
}

/// The HTTP failure of `error`, when waiting may mend it.
fn transient(error: &Error) -> Option<&HttpError> {
    match error {
        Error::Http(http) if http.kind().is_transient() => Some(http),
        _ => None,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Exponential backoff with "equal jitter": each delay is drawn between half
/// its ceiling and the whole of it; the ceiling doubles from
/// [`FIRST_DELAY`] up to [`MAX_DELAY`].
#[derive(Debug)]
struct Backoff {
    ceiling: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            ceiling: FIRST_DELAY,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = (ceiling * 2).min(MAX_DELAY);
        let half = ceiling / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// A number in `[0, 1]` from the OS random source (the middle if it fails:
/// jitter is a courtesy to the provider, not a security property).
fn random_fraction() -> f64 {
    getrandom::u32().map_or(0.5, |n| f64::from(n) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpErrorKind;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new();
        let mut ceiling = FIRST_DELAY;
        for _ in 0..12 {
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} outside {:?}..={ceiling:?}",
                ceiling / 2
            );
            ceiling = (ceiling * 2).min(MAX_DELAY);
        }
        assert_eq!(backoff.ceiling, MAX_DELAY);
    }

    #[test]
    fn delays_are_jittered() {
        // Ten instances started together do not all wait the same time.
        let firsts: std::collections::HashSet<Duration> =
            (0..10).map(|_| Backoff::new().next_delay()).collect();
        assert!(firsts.len() > 1, "{firsts:?}");
    }

    fn http(kind: HttpErrorKind) -> Error {
        HttpError {
            what: "fetching the provider metadata from",
            url: "https://login.example/.well-known/openid-configuration".into(),
            kind,
            source: None,
        }
        .into()
    }

    #[test]
    fn only_what_time_can_mend_is_retried() {
        for kind in [
            HttpErrorKind::Connect,
            HttpErrorKind::Timeout,
            HttpErrorKind::Interrupted,
            HttpErrorKind::Status(500),
            HttpErrorKind::Status(502),
            HttpErrorKind::Status(503),
            HttpErrorKind::Status(504),
            HttpErrorKind::Status(429),
        ] {
            assert!(transient(&http(kind.clone())).is_some(), "{kind:?}");
        }
        for kind in [
            HttpErrorKind::Status(404),
            HttpErrorKind::Status(401),
            HttpErrorKind::Status(400),
            HttpErrorKind::Redirect(302),
            HttpErrorKind::TooLarge { limit: 1 },
            HttpErrorKind::InvalidBody("it is not JSON".into()),
            HttpErrorKind::Other,
        ] {
            assert!(transient(&http(kind.clone())).is_none(), "{kind:?}");
        }
        let mistake = Error::Discovery(crate::error::DiscoveryError::MissingField {
            field: "token_endpoint",
        });
        assert!(transient(&mistake).is_none());
    }
}
