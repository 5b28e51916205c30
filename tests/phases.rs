//! The transport's phase timings against a scripted TLS peer (issue 33's
//! acceptance): a 200 ms delay added to the TLS handshake shows up in the
//! `tls` phase, one added before the answer's first byte in `wait`, and the
//! other phases do not grow by anything like it; a kept connection is
//! reused, one the peer closed is opened again; failures keep their classes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use mss_harness::connect::ConnectArgs;
use mss_harness::outcome::Outcome;
use mss_harness::transport::{Body, Endpoint, Phase, Phases, Slot};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const DELAY: Duration = Duration::from_millis(200);

/// How the scripted peer behaves.
#[derive(Debug, Clone, Copy, Default)]
struct Script {
    /// Slept after accepting the TCP connection, before the TLS handshake.
    before_tls: Duration,
    /// Slept after reading a request, before the answer's first byte.
    before_answer: Duration,
    /// Close the connection after each answer (without saying so).
    close_after: bool,
}

/// A throw-away CA's PEM file and the server configuration of
/// `ministerio.test`'s certificate it signed.
fn certificates() -> (PathBuf, Arc<rustls::ServerConfig>) {
    crate::util::ministry_certificates(&crate::util::temp_dir("phases"))
}

/// A TLS peer on 127.0.0.1 that answers every request `200 {}` as `script` says.
async fn peer(tls: Arc<rustls::ServerConfig>, script: Script) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                tokio::time::sleep(script.before_tls).await;
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match stream.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(script.before_answer).await;
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.write_all(answer).await.is_err() || script.close_after {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn endpoint(addr: SocketAddr, ca: &std::path::Path) -> Endpoint {
    let mut connect = ConnectArgs::default();
    connect.ca_cert = Some(ca.to_owned());
    connect.resolve = vec![format!("ministerio.test:{}:127.0.0.1", addr.port())];
    let base = format!("https://ministerio.test:{}", addr.port());
    Endpoint::new(&base, &connect, Duration::from_secs(5)).expect("endpoint")
}

fn request(endpoint: &Endpoint) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/report")
        .header(HOST, endpoint.authority().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(Body::new(Bytes::from_static(b"{\"a\":1}")))
        .expect("request")
}

/// The phases of `n` exchanges, each on a new connection.
async fn opened(endpoint: &Endpoint, n: usize) -> Vec<Phases> {
    let mut all = Vec::new();
    for _ in 0..n {
        let answer = endpoint
            .exchange(
                &mut Slot::default(),
                request(endpoint),
                Duration::from_secs(5),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.as_ref(), b"{}");
        assert!(answer.phases.opened.is_some(), "{:?}", answer.phases);
        all.push(answer.phases);
    }
    all
}

/// The smallest time of `phase` among `runs` (the least disturbed by a busy machine).
fn least(runs: &[Phases], phase: Phase) -> Duration {
    runs.iter()
        .filter_map(|p| p.get(phase))
        .min()
        .expect("phase present")
}

/// Three exchanges (new connections) with a plain peer and three with
/// one `slow` says: `delayed` grew by `DELAY` (±10%, on the least of each
/// three: the least disturbed by a busy machine), no other phase by half of
/// it. The plain peer's endpoint, for more.
async fn grows_only(slow: Script, delayed: Phase) -> Endpoint {
    let (ca, tls) = certificates();
    let plain = endpoint(peer(tls.clone(), Script::default()).await, &ca);
    let slow = endpoint(peer(tls, slow).await, &ca);
    let base = opened(&plain, 3).await;
    let later = opened(&slow, 3).await;
    // An address given (`--resolve`): nothing was looked up.
    assert!(
        base.iter()
            .all(|p| p.opened.is_some_and(|o| o.dns.is_none()))
    );
    let grew = |p: Phase| least(&later, p).saturating_sub(least(&base, p));
    let others = [
        Phase::Connect,
        Phase::Tls,
        Phase::Send,
        Phase::Wait,
        Phase::Receive,
    ]
    .into_iter()
    .filter(|p| *p != delayed)
    .map(|p| (p, grew(p)))
    .max_by_key(|(_, d)| *d)
    .expect("other phases");
    let grown = grew(delayed);
    let (lo, hi) = (DELAY.mul_f64(0.9), DELAY.mul_f64(1.1));
    assert!(
        (lo..=hi).contains(&grown),
        "{} grew {grown:?}",
        delayed.name()
    );
    assert!(
        others.1 < DELAY / 2,
        "{} grew {:?}",
        others.0.name(),
        others.1
    );
    plain
}

#[tokio::test]
async fn a_slow_tls_handshake_grows_the_tls_phase() {
    let slow = Script {
        before_tls: DELAY,
        ..Script::default()
    };
    grows_only(slow, Phase::Tls).await;
}

#[tokio::test]
async fn a_slow_first_byte_grows_the_wait_phase_and_a_kept_connection_is_reused() {
    let slow = Script {
        before_answer: DELAY,
        ..Script::default()
    };
    let plain = grows_only(slow, Phase::Wait).await;

    // The same slot: the second exchange reuses the first's connection.
    let mut slot = Slot::default();
    for reused in [false, true] {
        let answer = plain
            .exchange(&mut slot, request(&plain), Duration::from_secs(5))
            .await
            .expect("answer");
        assert_eq!(
            answer.phases.opened.is_none(),
            reused,
            "{:?}",
            answer.phases
        );
    }
}

#[tokio::test]
async fn a_connection_the_peer_closed_is_opened_again() {
    let (ca, tls) = certificates();
    let closing = Script {
        close_after: true,
        ..Script::default()
    };
    let target = endpoint(peer(tls, closing).await, &ca);
    let mut slot = Slot::default();
    for _ in 0..3 {
        let answer = target
            .exchange(&mut slot, request(&target), Duration::from_secs(5))
            .await
            .expect("answer");
        assert!(answer.phases.opened.is_some(), "{:?}", answer.phases);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The failure of one exchange on a new connection to `endpoint`.
async fn failure(endpoint: &Endpoint, timeout: Duration) -> mss_harness::transport::Failure {
    match endpoint
        .exchange(&mut Slot::default(), request(endpoint), timeout)
        .await
    {
        Ok(a) => panic!("expected a failure, got {}", a.status),
        Err(e) => e,
    }
}

#[tokio::test]
async fn failures_keep_their_classes_and_name_their_phase() {
    let (ca, tls) = certificates();
    // Nothing listens: refused, while connecting.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let refused = failure(&endpoint(port, &ca), Duration::from_secs(5)).await;
    assert_eq!(
        (refused.outcome, refused.phase),
        (Outcome::ConnectRefused, Phase::Connect)
    );

    // A certificate no root vouches for: the TLS handshake fails.
    let addr = peer(tls.clone(), Script::default()).await;
    let mut untrusted = ConnectArgs::default();
    untrusted.resolve = vec![format!("ministerio.test:{}:127.0.0.1", addr.port())];
    let base = format!("https://ministerio.test:{}", addr.port());
    let stranger = Endpoint::new(&base, &untrusted, Duration::from_secs(5)).expect("endpoint");
    let e = failure(&stranger, Duration::from_secs(5)).await;
    assert_eq!((&e.outcome, e.phase), (&Outcome::Tls, Phase::Tls), "{e}");

    // No answer within the timeout.
    let hanging = Script {
        before_answer: Duration::from_secs(30),
        ..Script::default()
    };
    let slow = endpoint(peer(tls, hanging).await, &ca);
    let e = failure(&slow, Duration::from_millis(300)).await;
    assert_eq!(e.outcome, Outcome::ReadTimeout);

    // --insecure is for loopback only.
    let mut insecure = ConnectArgs::default();
    insecure.insecure = true;
    let refused = Endpoint::new(
        "https://ministerio.test:8062",
        &insecure,
        Duration::from_secs(1),
    )
    .expect_err("insecure refused");
    assert!(refused.to_string().contains("ministerio.test"), "{refused}");
}

#[tokio::test]
async fn the_token_cache_times_its_exchanges_on_one_connection() {
    use mss_harness::token::{Credentials, TokenPolicy};
    let t = crate::util::TestMock::new();
    let base = t.serve().await;
    let c = t.cred("230301");
    let endpoint =
        Endpoint::new(&base, &ConnectArgs::default(), Duration::from_secs(5)).expect("endpoint");
    let cache = mss_harness::token::TokenCache::new(
        reqwest::Client::new(),
        format!("{base}/token"),
        Credentials {
            username: c.username.clone(),
            password: mss_harness::secret::Secret::new(c.password.clone()),
            client_id: c.client_id.clone(),
        },
        TokenPolicy::default(),
    )
    .over(endpoint)
    .expect("token URL");
    let first = cache.get().await.expect("token");
    cache.invalidate(first.generation);
    cache.get().await.expect("second token");
    let phases = cache.phases();
    // Two exchanges, one connection: the second reused it.
    assert_eq!((phases.exchanges(), phases.opened()), (2, 1));
    assert_eq!(phases.histogram(Phase::Wait).len(), 2);
    assert_eq!(phases.histogram(Phase::Connect).len(), 1);
    assert_eq!(
        phases.histogram(Phase::Dns).len(),
        0,
        "an address written out"
    );
}
