//! `TokenCache` against the mock over a socket (and against a failing token
//! endpoint): single flight, proactive refresh, invalidation after 401,
//! back-off honouring Retry-After, refused credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use mss_harness::secret::Secret;
use mss_harness::token::{Credentials, Token, TokenCache, TokenError, TokenPolicy};

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

/// A cache asking `url` with these credentials.
fn cache(
    url: String,
    username: &str,
    password: &str,
    client_id: &str,
    margin_ms: u64,
) -> Arc<TokenCache> {
    Arc::new(TokenCache::new(
        reqwest::Client::new(),
        url,
        Credentials {
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
            client_id: client_id.to_owned(),
        },
        policy(margin_ms),
    ))
}

async fn cache_for(t: &TestMock, base: &str, margin_ms: u64) -> Arc<TokenCache> {
    let cred = t.cred("230301");
    cache(
        format!("{base}/token"),
        &cred.username,
        &cred.password,
        &cred.client_id,
        margin_ms,
    )
}

/// `n` users asking `cache` for a token at once; what each got.
async fn at_once(cache: &Arc<TokenCache>, n: usize) -> Vec<Result<Token, TokenError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await })
        })
        .collect();
    let mut got = Vec::with_capacity(n);
    for task in tasks {
        got.push(task.await.expect("task"));
    }
    got
}

async fn issued(t: &TestMock) -> u64 {
    t.mock.stats()["token"]["issued"].as_u64().expect("issued")
}

#[tokio::test]
async fn two_hundred_waiting_users_cause_one_token_request() {
    let t = TestMock::new();
    let base = t.serve().await;
    let cache = cache_for(&t, &base, 1000).await;
    let mut generations = std::collections::HashSet::new();
    for got in at_once(&cache, 200).await {
        generations.insert(got.expect("token").generation);
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
    let client_id = &t.cred("230301").client_id;
    let cache = cache(
        format!("{base}/token"),
        "nobody",
        "canary-wrong-password",
        client_id,
        1000,
    );
    for got in at_once(&cache, 50).await {
        let err = got.expect_err("refused");
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
    let addr = crate::util::serve_router(app).await;
    let cache = cache(format!("http://{addr}/token"), "u", "p", "c", 1000);
    for got in at_once(&cache, 50).await {
        let err = got.expect_err("unavailable");
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
    let addr = crate::util::serve_router(app).await;
    let cache = cache(format!("http://{addr}/token"), "u", "p", "c", 0);
    let token = cache.get().await.expect("a token");
    let left = token.expires_at - tokio::time::Instant::now();
    assert!(left <= Duration::from_secs(86_400), "{left:?}");
    assert!(left > Duration::from_secs(86_000), "{left:?}");
}
