//! Property-based fuzzing (`proptest`, stable Rust) of every parser that
//! takes outside input: no panic, bounded work (huge or deeply nested input
//! is refused, not measured), and agreement with a reference where one
//! exists.
//!
//! | file | target | reference |
//! | --- | --- | --- |
//! | `jws.rs` | compact JWS and its header ([`crate::token::Jws`]) | a model of the header rules over `serde_json`'s reading; no edit of a signed token verifies |
//! | `jwk.rs` | JWKS documents ([`crate::token::KeySet`]) | `serde_json` for the document; the key rules (`use`, `key_ops`, private members) from the hostile side |
//! | `claims.rs` | ID-token claims ([`crate::token::check_claims`]) | `serde_json` with unique member names, and the same check on its canonical re-serialization |
//! | `access.rs` | bearer access-token claims ([`crate::token::check_access_claims`], RFC 9068) | `serde_json` with unique member names, and a model of RFC 9068's rules |
//! | `logout.rs` | logout tokens ([`crate::token::check_logout_claims`]) | `serde_json` and a model of Back-Channel Logout 1.0 section 2.6 |
//! | `callback.rs` | callback query and form ([`crate::Callback`]) | a plain `application/x-www-form-urlencoded` decoder |
//! | `metadata.rs` | the discovery document ([`crate::provider::Metadata`]) | `serde_json`, and what an accepted document must hold |
//! | `graph.rs` | Microsoft Graph responses (`read_groups`, over loopback HTTP) | a model of the paging and id rules |
//! | `privx.rs` | PrivX JSON ([`crate::Config::from_privx_client_json`]) | a generated secret never appears in an error |
//! | `config.rs` | TOML/JSON config ([`crate::Config::from_toml`], `from_json`) | the same, and deep nesting refused |
//!
//! `edits.rs` mutates valid inputs byte by byte; `json_text.rs` writes JSON
//! text with repeated names, escapes and odd numbers, and reads it the
//! reference way.
//!
//! Each property runs `PROPTEST_CASES` cases, or its target's short default
//! (a fraction of a second in a debug build) when the variable is unset.
//! The long pass and its figures are in `benches/README.md` ("Fuzzing").
//! Failing cases are not persisted to files: each one a property found is a
//! named regression test beside the code it fixed.

use proptest::test_runner::Config as ProptestConfig;

mod access;
mod callback;
mod claims;
mod config;
mod edits;
#[cfg(feature = "axum")]
mod graph;
mod json_text;
mod jwk;
mod jws;
mod logout;
mod metadata;
mod privx;

/// The runner's settings: `PROPTEST_CASES` cases when set, else `short`.
pub(super) fn settings(short: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(short);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The share of `n` values drawn from `strategy` (with a fixed seed) for
/// which `accepted` holds: a check that a property's generator reaches past
/// the parser into the rules, and does not only ever refuse.
pub(super) fn share<S: proptest::strategy::Strategy>(
    strategy: S,
    n: usize,
    mut accepted: impl FnMut(S::Value) -> bool,
) -> f64 {
    use proptest::strategy::ValueTree as _;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let hits = (0..n)
        .filter(|_| {
            let value = strategy.new_tree(&mut runner).expect("a value").current();
            accepted(value)
        })
        .count();
    hits as f64 / n as f64
}

/// Nesting depths: around serde_json's limit (127 levels) half the time,
/// else up to 20,000 levels.
pub(super) fn depths() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    prop_oneof![110..140usize, 0..20_000usize]
}
