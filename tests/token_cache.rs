//! `TokenCache` against the mock over a socket (and against a failing token
//! endpoint): single flight, proactive refresh, invalidation after 401,
//! back-off honouring Retry-After, refused credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use mss_harness::secret::Secret;
use mss_harness::token::{Credentials, TokenCache, TokenError, TokenPolicy};

use crate::util::TestMock;

fn policy(margin_ms: u64) -> TokenPolicy {
    TokenPolicy {
        margin: Duration::from_millis(margin_ms),
        jitter: Duration::ZERO,
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

async fn cache_for(t: &TestMock, base: &str, margin_ms: u64) -> Arc<TokenCache> {
    let cred = t.cred("230301");
    Arc::new(TokenCache::new(
        reqwest::Client::new(),
        format!("{base}/token"),
        Credentials {
            username: cred.username.clone(),
            password: Secret::new(cred.password.clone()),
            client_id: cred.client_id.clone(),
        },
        policy(margin_ms),
    ))
}

async fn issued(t: &TestMock) -> u64 {
    t.mock.stats()["token"]["issued"].as_u64().expect("issued")
}

#[tokio::test]
async fn two_hundred_waiting_users_cause_one_token_request() {
    let t = TestMock::new();
    let base = t.serve().await;
    let cache = cache_for(&t, &base, 1000).await;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await })
        })
        .collect();
    let mut generations = std::collections::HashSet::new();
    for task in tasks {
        generations.insert(task.await.expect("task").expect("token").generation);
    }
    assert_eq!(generations.len(), 1);
    assert_eq!(issued(&t).await, 1);
    assert_eq!(cache.stats().requests, 1);
    assert_eq!(cache.stats().latency_us.len(), 1);
}

#[tokio::test]
async fn refreshes_before_expiry_and_once_after_invalidation() {
    // TTL 2 s, margin 1 s: refresh due after 1 s, while the token is still valid.
    let t = TestMock::with(|c| c.token_ttl_seconds = 2);
    let base = t.serve().await;
    let cache = cache_for(&t, &base, 1000).await;
    let first = cache.get().await.expect("token");
    // The first token is not a refresh.
    assert_eq!((cache.stats().tokens, cache.stats().refreshes), (1, 0));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = cache.get().await.expect("token");
    assert_ne!(second.generation, first.generation);
    assert!(second.expires_at > first.expires_at);
    assert_eq!(issued(&t).await, 2);
    assert_eq!((cache.stats().tokens, cache.stats().refreshes), (2, 1));

    // 100 users saw a 401 with the same token: one new token request.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = cache.clone();
            let g = second.generation;
            tokio::spawn(async move {
                c.invalidate(g);
                c.get().await
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task").expect("token").generation > second.generation);
    }
    assert_eq!(issued(&t).await, 3);
    // An invalidation of an old generation does not throw away the new token.
    cache.invalidate(first.generation);
    cache.get().await.expect("token");
    assert_eq!(issued(&t).await, 3);
}

#[tokio::test]
async fn wrong_credentials_are_auth_failed_without_a_storm() {
    let t = TestMock::new();
    let base = t.serve().await;
    let cache = Arc::new(TokenCache::new(
        reqwest::Client::new(),
        format!("{base}/token"),
        Credentials {
            username: "nobody".into(),
            password: Secret::new("canary-wrong-password"),
            client_id: t.cred("230301").client_id.clone(),
        },
        policy(1000),
    ));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await })
        })
        .collect();
    for task in tasks {
        let err = task.await.expect("task").expect_err("refused");
        assert!(
            matches!(err, TokenError::Refused { ref error, .. } if error == "invalid_grant"),
            "{err}"
        );
        assert!(!err.to_string().contains("canary"), "{err}");
    }
    assert_eq!(t.mock.stats()["token"]["rejected"], 1);
}

#[tokio::test]
async fn a_failing_endpoint_is_asked_once_per_retry_after() {
    // A token endpoint that answers 503 with Retry-After: 1.
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", "1".parse().expect("header"));
                (StatusCode::SERVICE_UNAVAILABLE, headers, "down")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cache = Arc::new(TokenCache::new(
        reqwest::Client::new(),
        format!("http://{addr}/token"),
        Credentials {
            username: "u".into(),
            password: Secret::new("p"),
            client_id: "c".into(),
        },
        policy(1000),
    ));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await })
        })
        .collect();
    for task in tasks {
        let err = task.await.expect("task").expect_err("unavailable");
        assert!(matches!(err, TokenError::Unavailable(_)), "{err}");
    }
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // Still inside Retry-After: fail fast, no request.
    assert!(cache.get().await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(cache.get().await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(cache.stats().failures, 2);
}

/// A token endpoint's `expires_in` is input: the largest number JSON can
/// carry as u64 neither panics nor keeps a token forever (a day at most).
#[tokio::test]
async fn a_huge_expires_in_is_capped_not_a_panic() {
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"access_token":"huge","token_type":"bearer","expires_in":18446744073709551615}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cache = TokenCache::new(
        reqwest::Client::new(),
        format!("http://{addr}/token"),
        Credentials {
            username: "u".into(),
            password: Secret::new("p".to_owned()),
            client_id: "c".into(),
        },
        policy(0),
    );
    let token = cache.get().await.expect("a token");
    let left = token.expires_at - tokio::time::Instant::now();
    assert!(left <= Duration::from_secs(86_400), "{left:?}");
    assert!(left > Duration::from_secs(86_000), "{left:?}");
}
