//! A test whose tool (Chromium, redis-server, Node.js) is missing: skipped
//! with a message `cargo test` shows, or failed when the run asks for every
//! test (`OIDC_LOGIN_REQUIRE_ALL=1`, which `.ci/run` sets), so CI cannot
//! pass while silently leaving a test out.

use std::io::Write as _;

/// Set to anything but empty or `0`: a missing tool fails the test.
pub const REQUIRE_ALL: &str = "OIDC_LOGIN_REQUIRE_ALL";

/// Whether every test must run.
pub fn all_required() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `test` cannot run because `why`: panics under [`REQUIRE_ALL`], else
/// writes `SKIP` to stderr past the test harness's output capture.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if all_required() {
        panic!("{test} must run ({REQUIRE_ALL} is set), but {why}");
    }
    let _ = std::io::stderr().write_all(format!("SKIP {test}: {why}\n").as_bytes());
}
