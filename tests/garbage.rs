//! No panic on garbage: random bytes, a 10 MB body, wrong content types, deeply
//! nested JSON and non-UTF-8 to every route. Every answer is a 4xx with the
//! envelope (the RFC 6749 error object on /token), but the two admin actions
//! that read no body (`POST /__admin/reset` and `/__admin/revoke-tokens`)
//! answer 200 whatever is sent; and the server keeps serving.

use axum::http::{Method, StatusCode};
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::util::TestMock;

/// Every route the mock serves, and one it does not. Revoking tokens comes
/// last: the calls after it would find the test's token revoked.
const ROUTES: [&str; 14] = [
    "/token",
    "/ReportarAfiliaciontraslado",
    "/ReportarRetractoAfiliacion",
    "/__admin/stats",
    "/__admin/metrics",
    "/__admin/records",
    "/__admin/reset",
    "/__admin/clock",
    "/__admin/latency",
    "/__admin/stall",
    "/__admin/deviations",
    "/__admin/faults",
    "/no/such/route",
    "/__admin/revoke-tokens",
];

/// The admin actions that read no body, so that garbage sent with them is
/// no error: `POST` to these answers 200.
const BODYLESS: [&str; 2] = ["/__admin/reset", "/__admin/revoke-tokens"];

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut out = Vec::new();
    for n in [1usize, 17, 512, 4096] {
        out.push(("random bytes", (0..n).map(|_| rng.random::<u8>()).collect()));
    }
    out.push((
        "deeply nested JSON",
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    ));
    out.push((
        "deeply nested objects",
        "{\"a\":".repeat(50_000).into_bytes(),
    ));
    out.push((
        "non-UTF-8 in a string",
        b"{\"numeroRadicado\":\"\xff\xfe\xfd\"}".to_vec(),
    ));
    out.push(("non-UTF-8 key", b"{\"\xc3\x28\":\"x\"}".to_vec()));
    out.push(("JSON array", b"[1,2,3]".to_vec()));
    out.push(("JSON string", b"\"hola\"".to_vec()));
    out.push(("empty", Vec::new()));
    out.push(("huge number", b"{\"numeroRadicado\": 1e999999}".to_vec()));
    out.push(("form data", b"grant_type=password&\xff=\xfe".to_vec()));
    out
}

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
    Some("APPLICATION/JSON;;; charset=\"x\""),
];

fn assert_answer(route: &str, what: &str, status: StatusCode, body: &[u8]) {
    assert!(status.is_client_error(), "{route} {what}: {status}");
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!(
            "{route} {what}: not JSON: {}",
            String::from_utf8_lossy(body)
        )
    });
    if route == "/token" && status != StatusCode::METHOD_NOT_ALLOWED {
        assert!(v["error"].is_string(), "{route} {what}: {v}");
    } else {
        assert_eq!(v["resultado"], status.as_str(), "{route} {what}: {v}");
        assert!(
            v["codigo"].is_string() && v["numeroTransaccion"].is_string(),
            "{route} {what}: {v}"
        );
    }
}

#[tokio::test]
async fn every_route_answers_garbage_with_a_4xx_envelope() {
    let t = TestMock::new();
    let token = t.token(t.cred("230301")).await;
    let auth = format!("Bearer {token}");
    for route in ROUTES {
        for (what, body) in bodies() {
            for ct in CONTENT_TYPES {
                for authorized in [false, true] {
                    let mut headers = Vec::new();
                    if let Some(ct) = ct {
                        headers.push(("content-type", ct));
                    }
                    if authorized {
                        headers.push(("authorization", auth.as_str()));
                    }
                    for method in [Method::POST, Method::PUT] {
                        let (status, _, answer) =
                            t.call(method.clone(), route, &headers, body.clone()).await;
                        let what = format!("{method} {what} {ct:?}");
                        if method == Method::POST && BODYLESS.contains(&route) {
                            assert_eq!(status, StatusCode::OK, "{route} {what}");
                            let _: Value = serde_json::from_slice(&answer)
                                .unwrap_or_else(|e| panic!("{route} {what}: {e}"));
                        } else {
                            assert_answer(route, &what, status, &answer);
                        }
                    }
                }
            }
        }
    }
}

async fn raw_request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    // The server may answer 413 and close before reading all of a huge body.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn over_a_socket_a_10_mb_body_and_garbage_leave_the_server_serving() {
    let t = TestMock::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(t.mock.clone().serve(listener));
    let token = t.token(t.cred("230301")).await;

    let ten_mb = vec![b'{'; 10 * 1024 * 1024];
    for route in ["/ReportarAfiliaciontraslado", "/ReportarRetractoAfiliacion"] {
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        );
        let (status, body) = raw_request(addr, &head, &ten_mb).await;
        assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
        assert_answer(route, "10 MB", StatusCode::PAYLOAD_TOO_LARGE, &body);
    }
    // Not HTTP at all, then a request line the parser refuses.
    for junk in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"POST /token HTTP/9.9\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let _ = s.write_all(junk).await;
        let mut sink = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    }
    // Still serving.
    let (status, body) = raw_request(addr, "GET /__admin/stats HTTP/1.1\r\nHost: x\r\n", b"").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!server.is_finished());
    server.abort();
}
