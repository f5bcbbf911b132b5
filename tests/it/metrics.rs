//! The metrics the crate records through the `metrics` facade, read with
//! `metrics-util`'s debugging recorder installed for this test's thread
//! only (other tests in this binary run on other threads): a good login, a
//! refused one, a refresh, the key set fetch and both durations.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use oidc_login::testing::{Misbehavior, TestProvider};

use crate::common;

/// `name{label=value,...}` of each metric, with its value.
fn snapshot(recorder: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, DebugValue> {
    recorder
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

/// Runs `scenario` with a recorder of its own, on a runtime on this thread
/// (so that every poll sees the thread's recorder); its answer, and what it
/// recorded.
fn recorded<T, F: std::future::Future<Output = T>>(
    scenario: impl FnOnce() -> F,
) -> (T, BTreeMap<String, DebugValue>) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = metrics::with_local_recorder(&recorder, || runtime.block_on(scenario()));
    (answer, snapshot(&snapshotter))
}

#[test]
fn a_good_and_a_refused_login_are_counted_with_the_error_code() {
    let (issuer, metrics) = recorded(|| async {
        let provider = TestProvider::start().await;
        let client = common::client_with(common::config_builder(&provider).scopes([
            "openid",
            "email",
            "profile",
            "offline_access",
        ]))
        .await;
        let login = common::login_as(&client, "alice").await.unwrap();
        client.refresh(&login.tokens).await.unwrap();
        provider.misbehave(Misbehavior::WrongAudience);
        assert!(common::login_as(&client, "alice").await.is_err());
        provider.issuer().to_owned()
    });
    let counter = |name: &str| match metrics.get(name) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name}: {other:?} in {metrics:#?}"),
    };
    let at = |name: &str| format!("{name}{{issuer={issuer}}}");
    assert_eq!(counter(&at("oidc_login_logins_started_total")), 2);
    assert_eq!(counter(&at("oidc_login_logins_finished_total")), 1);
    assert_eq!(
        counter(&format!(
            "oidc_login_logins_refused_total{{code=token_refused,issuer={issuer}}}"
        )),
        1
    );
    assert_eq!(
        counter(&format!(
            "oidc_login_refreshes_total{{issuer={issuer},outcome=ok}}"
        )),
        1
    );
    assert_eq!(counter("oidc_login_jwks_fetches_total{outcome=ok}"), 1);
    for histogram in [
        "oidc_login_code_exchange_seconds",
        "oidc_login_id_token_validation_seconds",
    ] {
        match metrics.get(&at(histogram)) {
            // Two code exchanges; three ID tokens (two logins, a refresh).
            Some(DebugValue::Histogram(values)) => {
                assert!(values.len() >= 2, "{histogram}: {values:?}");
                assert!(values.iter().all(|v| v.0 >= 0.0 && v.0 < 10.0));
            }
            other => panic!("{histogram}: {other:?}"),
        }
    }
    // Only bounded labels: no user, token or path anywhere.
    for name in metrics.keys() {
        assert!(!name.contains("alice"), "{name}");
    }
}

/// Discovery, the callback, a refresh and the sign-out each run in a span
/// named for it, carrying the provider's issuer and name, so their log lines say
/// which provider they are about.
#[tokio::test]
async fn spans_name_the_provider_around_discovery_callback_refresh_and_sign_out() {
    let logs = crate::common::logs::Logs::capture();
    let app = crate::common::app::App::start_with(
        std::sync::Arc::new(TestProvider::start().await),
        tower_sessions::MemoryStore::default(),
        |b| b.scopes(["openid", "email", "profile", "offline_access"]),
    )
    .await;
    let issuer = app.provider.issuer().to_owned();
    let client = common::client_with(common::config_builder(&app.provider).scopes([
        "openid",
        "email",
        "offline_access",
    ]))
    .await;
    let login = common::login_as(&client, "alice").await.unwrap();
    client.refresh(&login.tokens).await.unwrap();
    let (browser, _jar) = common::browser_with_jar();
    browser
        .get(app.url("/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    let out = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(out.url().path(), "/");
    for (span, event) in [
        ("oidc_login.discovery", "provider discovered"),
        ("oidc_login.callback", "login finished"),
        ("oidc_login.refresh", "login refreshed"),
        ("oidc_login.sign_out", "signed out here"),
    ] {
        let lines = logs.lines_with(event);
        assert!(
            lines.iter().any(|line| line.contains(span)
                && line.contains(&issuer)
                && line.contains("provider=\"default\"")),
            "no `{event}` line in the span `{span}` with the issuer and the provider's name: {lines:#?}"
        );
    }
}

/// With axum, a callback refused before `Client::finish` is counted too,
/// with its code: here one that matches no login in flight.
#[test]
fn a_callback_with_no_login_in_flight_is_counted_as_refused() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use oidc_login::axum::{LoginRoutes, session_layer};
    use tower::ServiceExt;

    let (issuer, metrics) = recorded(|| async {
        let provider = TestProvider::start().await;
        let client = common::client_with(common::config_builder(&provider)).await;
        let routes = LoginRoutes::new(client.clone());
        let app = routes
            .mount(axum::Router::new())
            .layer(routes.layer())
            .layer(session_layer(
                tower_sessions::MemoryStore::default(),
                &client,
            ));
        let answer = app
            .oneshot(
                Request::get("/callback?code=c&state=nobody-started-this")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        provider.issuer().to_owned()
    });
    let name = format!("oidc_login_logins_refused_total{{code=no_pending_login,issuer={issuer}}}");
    assert!(
        matches!(metrics.get(&name), Some(DebugValue::Counter(1))),
        "{name} in {metrics:#?}"
    );
}
