//! The integration tests, in one binary (one link of axum, reqwest and
//! aws-lc-rs instead of one per file). Each module is one subject; `common`
//! holds the helpers they share. The tests that need a service of their own
//! (`browser.rs`: Chromium; `redis_sessions.rs`: Redis;
//! `interop_oidc_provider.rs`: Node) are binaries of their own beside this
//! folder.

#[path = "../../examples/demo_app/mod.rs"]
mod demo_app;
#[path = "../../examples/discover_check/mod.rs"]
mod discover_check;

mod common;

mod account_routes;
mod accounts;
#[cfg(feature = "sqlite")]
mod accounts_sqlite;
mod axum;
mod bearer;
mod break_glass;
mod demo;
mod discover;
mod downstream;
mod entra;
mod flows;
mod hostile_provider;
mod logout;
mod metrics;
mod pending_cookie;
mod privx;
mod provider_faults;
mod providers;
mod refresh;
mod security;
mod session_life;
mod sign_in;
mod sql_store;
mod step_up;
mod test_provider;
