//! The outcome taxonomy (docs/protocol.md, "How the harness classes an
//! answer"): every request ends in exactly one class. Two are not errors —
//! `ok` (a valid report the target stored) and `rejected_as_expected` (a
//! deliberately invalid record refused with its expected codigo); every other
//! class is an error, listed in `README.md` ("Error classes").

use std::borrow::Cow;
use std::error::Error as _;
use std::fmt;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A valid report the target accepted and stored (answered `OK`, or,
    /// after a lost answer, a retry answered NEG01: stored by the earlier attempt).
    Ok,
    /// A deliberately invalid record (the scenario's `[invalid]`) refused with
    /// its expected HTTP status and codigo: not stored, and not an error.
    RejectedAsExpected,
    /// A 3xx: the target redirected the report, and a report's redirect is
    /// not followed (the protocol's services answer where they are asked).
    Http3xx(u16),
    /// A 4xx without a business codigo of the catalogue.
    Http4xx(u16),
    /// A 5xx.
    Http5xx(u16),
    /// Rejected with a codigo of `contract/errores.csv` (valid records only).
    Business(String),
    /// The host name did not resolve.
    Dns,
    /// The connection was refused.
    ConnectRefused,
    /// The connection was not established in time.
    ConnectTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The connection was reset or closed before an answer.
    Reset,
    /// No (complete) answer within the request timeout.
    ReadTimeout,
    /// The body ended early.
    Truncated,
    /// The body is not the protocol's envelope.
    InvalidBody,
    /// A well-formed envelope whose `codigo` the contract does not list
    /// (`contract/errores.csv`): an answer, not a lost one, so never retried.
    UnexpectedCodigo(String),
    /// Still 401 after a fresh token, or the token endpoint refused the credentials.
    AuthFailed,
    /// Answered 401, and its retry with a fresh token was not sent because
    /// the production cap it names (`max_requests`, `max_duration`) was
    /// reached: not a credentials failure.
    CapReached(String),
    /// No token could be had (token endpoint failing or backing off).
    TokenUnavailable,
    /// An invalid record was not rejected with its expected codigo.
    CheckFailed(String),
    /// Could not start on time because `max_in_flight` requests were in flight.
    Dropped,
    /// Still in flight when the run was stopped.
    Interrupted,
    /// The connection failed after the target had stored the report (its
    /// retry was answered NEG01, a duplicate): the harness saw no answer, the
    /// record exists. Listed by radicado in the reconciliation.
    UnknownOutcome,
}

impl Outcome {
    /// The class as written in outputs: `ok`, `http_4xx:404`, `business:NEG01`, ...
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            Self::Ok => "ok".into(),
            Self::RejectedAsExpected => "rejected_as_expected".into(),
            Self::Http3xx(s) => format!("http_3xx:{s}").into(),
            Self::Http4xx(s) => format!("http_4xx:{s}").into(),
            Self::Http5xx(s) => format!("http_5xx:{s}").into(),
            Self::Business(c) => format!("business:{c}").into(),
            Self::Dns => "dns".into(),
            Self::ConnectRefused => "connect_refused".into(),
            Self::ConnectTimeout => "connect_timeout".into(),
            Self::Tls => "tls".into(),
            Self::Reset => "reset".into(),
            Self::ReadTimeout => "read_timeout".into(),
            Self::Truncated => "truncated".into(),
            Self::InvalidBody => "invalid_body".into(),
            Self::UnexpectedCodigo(c) => format!("unexpected_codigo:{c}").into(),
            Self::AuthFailed => "auth_failed".into(),
            Self::CapReached(c) => format!("cap_reached:{c}").into(),
            Self::TokenUnavailable => "token_unavailable".into(),
            Self::CheckFailed(c) => format!("check_failed:{c}").into(),
            Self::Dropped => "dropped".into(),
            Self::Interrupted => "interrupted".into(),
            Self::UnknownOutcome => "unknown_outcome".into(),
        }
    }

    /// Every class that takes no argument (its label is its whole name).
    const PLAIN: [Outcome; 15] = [
        Self::Ok,
        Self::RejectedAsExpected,
        Self::Dns,
        Self::ConnectRefused,
        Self::ConnectTimeout,
        Self::Tls,
        Self::Reset,
        Self::ReadTimeout,
        Self::Truncated,
        Self::InvalidBody,
        Self::AuthFailed,
        Self::TokenUnavailable,
        Self::Dropped,
        Self::Interrupted,
        Self::UnknownOutcome,
    ];

    /// The class a [`label`](Self::label) names.
    pub fn from_label(label: &str) -> Option<Self> {
        let (kind, arg) = label.split_once(':').unwrap_or((label, ""));
        if arg.is_empty() {
            return Self::PLAIN.into_iter().find(|o| o.label() == kind);
        }
        let status = || arg.parse::<u16>().ok();
        Some(match kind {
            "http_3xx" => Self::Http3xx(status()?),
            "http_4xx" => Self::Http4xx(status()?),
            "http_5xx" => Self::Http5xx(status()?),
            "business" => Self::Business(arg.to_owned()),
            "check_failed" => Self::CheckFailed(arg.to_owned()),
            "unexpected_codigo" => Self::UnexpectedCodigo(arg.to_owned()),
            "cap_reached" => Self::CapReached(arg.to_owned()),
            _ => return None,
        })
    }

    /// Whether it counts as success (not an error): stored, or an invalid
    /// record rejected as expected.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok | Self::RejectedAsExpected)
    }

    /// The class of a transport error from reqwest (no HTTP status).
    pub fn of_transport(e: &reqwest::Error) -> Outcome {
        let chain = || {
            std::iter::successors(e.source(), |s: &&(dyn std::error::Error + 'static)| {
                (*s).source()
            })
        };
        let io_kind = chain()
            .filter_map(|s| s.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
            .next();
        let text = chain()
            .map(|s| s.to_string().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" | ");
        if e.is_timeout() {
            return if e.is_connect() {
                Outcome::ConnectTimeout
            } else {
                Outcome::ReadTimeout
            };
        }
        if e.is_connect() {
            if text.contains("dns") || text.contains("failed to lookup") || text.contains("resolve")
            {
                return Outcome::Dns;
            }
            if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
                return Outcome::Tls;
            }
            return match io_kind {
                Some(std::io::ErrorKind::ConnectionRefused) => Outcome::ConnectRefused,
                Some(std::io::ErrorKind::TimedOut) => Outcome::ConnectTimeout,
                _ => Outcome::ConnectRefused,
            };
        }
        if text.contains("certificate") || text.contains("tls") {
            return Outcome::Tls;
        }
        match io_kind {
            Some(
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted,
            ) => Outcome::Reset,
            Some(std::io::ErrorKind::UnexpectedEof) => Outcome::Truncated,
            Some(std::io::ErrorKind::TimedOut) => Outcome::ReadTimeout,
            _ if e.is_body() || e.is_decode() => Outcome::Truncated,
            _ if text.contains("incomplete")
                || text.contains("end of file")
                || text.contains("eof") =>
            {
                Outcome::Truncated
            }
            _ => Outcome::Reset,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_taxonomy() {
        assert_eq!(Outcome::Http4xx(404).label(), "http_4xx:404");
        assert_eq!(Outcome::Http3xx(302).label(), "http_3xx:302");
        assert_eq!(Outcome::Business("NEG01".into()).label(), "business:NEG01");
        assert_eq!(
            Outcome::CheckFailed("VAL01".into()).label(),
            "check_failed:VAL01"
        );
        assert_eq!(Outcome::TokenUnavailable.to_string(), "token_unavailable");
        let odd = Outcome::UnexpectedCodigo("200".into());
        assert_eq!(odd.label(), "unexpected_codigo:200");
        assert_eq!(Outcome::from_label(&odd.label()), Some(odd));
        let capped = Outcome::CapReached("max_requests".into());
        assert_eq!(capped.label(), "cap_reached:max_requests");
        assert_eq!(Outcome::from_label(&capped.label()), Some(capped));
        for plain in Outcome::PLAIN {
            assert_eq!(Outcome::from_label(&plain.label()), Some(plain.clone()));
            assert_eq!(Outcome::from_label(&format!("{}:x", plain.label())), None);
        }
        for bare in [
            "http_4xx",
            "http_5xx:",
            "business",
            "http_4xx:abc",
            "nothing",
        ] {
            assert_eq!(Outcome::from_label(bare), None, "{bare}");
        }
    }

    #[tokio::test]
    async fn transport_errors_are_classified() {
        // A port nothing listens on (bind, read the port, close).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let client = reqwest::Client::new();
        let e = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .expect_err("refused");
        assert_eq!(Outcome::of_transport(&e), Outcome::ConnectRefused);

        // A server that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let e = client
            .get(format!("http://{addr}/"))
            .timeout(std::time::Duration::from_millis(200))
            .send()
            .await
            .expect_err("timeout");
        assert_eq!(Outcome::of_transport(&e), Outcome::ReadTimeout);
        hold.abort();

        // A server that closes the connection without answering.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        let e = client
            .get(format!("http://{addr}/"))
            .send()
            .await
            .expect_err("closed");
        assert!(
            matches!(
                Outcome::of_transport(&e),
                Outcome::Reset | Outcome::Truncated
            ),
            "{e:?}"
        );
    }
}
