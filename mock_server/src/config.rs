//! The mock's configuration file (`mock.toml`): clients, token lifetime, limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use mss_contract::{Contract, Service};
use serde::Deserialize;

/// The demo configuration shipped as `mock_server/mock.toml`, used when no file
/// is given.
pub const DEMO_CONFIG: &str = include_str!("../mock.toml");

/// Default address: loopback, the ministry's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8062";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file (or "demo configuration").
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is well-formed but wrong.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong and where.
        message: String,
    },
}

/// One client_id the mock issues tokens to.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// "Usuario de conexión".
    pub username: String,
    /// "Password". Never printed: `Debug` redacts it.
    pub password: String,
    /// "Llave pública (ClientID)".
    pub client_id: String,
    /// Code of the administrator the client belongs to.
    pub administradora: String,
    /// Service names this client_id may call; both when absent.
    #[serde(default)]
    pub services: Option<Vec<String>>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("administradora", &self.administradora)
            .field("services", &self.services)
            .finish()
    }
}

/// The mock's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    /// Address to bind when none is given on the command line.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Token lifetime in seconds.
    #[serde(default = "default_ttl")]
    pub token_ttl_seconds: u64,
    /// Initial offset of the mock's clock from the system clock, in seconds.
    #[serde(default)]
    pub clock_offset_seconds: i64,
    /// Largest request body accepted.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Accepted records kept in full.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// Duplicate fingerprints kept.
    #[serde(default = "default_max_fingerprints")]
    pub max_fingerprints: usize,
    /// How long answers take (none by default).
    #[serde(default)]
    pub latency: crate::latency::LatencyProfile,
    /// Deviations from the protocol to start with (see [`crate::deviate`]).
    #[serde(default)]
    pub deviate: Vec<String>,
    /// Faults in force from the start (see [`crate::faults`]).
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultSpec>,
    /// A capacity limit: beyond it, requests are shed with a fast 503/429.
    #[serde(default)]
    pub capacity: Option<CapacityConfig>,
    /// The clients.
    pub clients: Vec<ClientConfig>,
}

/// `[capacity]`: how much the mock serves at once before it sheds load, as an
/// overloaded ministry would, rather than queueing without bound.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityConfig {
    /// Requests served at once (the token and report services).
    pub max_concurrent: usize,
    /// Requests waiting for a slot; beyond it a request is shed at once.
    #[serde(default)]
    pub queue: usize,
    /// Longest wait in the queue before a request is shed.
    #[serde(default = "default_queue_timeout")]
    pub queue_timeout_ms: u64,
    /// Status of a shed request: 503 (default) or 429.
    #[serde(default = "default_shed_status")]
    pub shed_status: u16,
    /// Its `Retry-After`, in seconds.
    #[serde(default = "default_retry_after")]
    pub retry_after_s: u64,
}

fn default_queue_timeout() -> u64 {
    50
}
fn default_shed_status() -> u16 {
    503
}
fn default_retry_after() -> u64 {
    1
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8062))
}
fn default_ttl() -> u64 {
    mss_contract::rules::TOKEN_TTL_SECONDS
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_max_records() -> usize {
    1_000_000
}
fn default_max_fingerprints() -> usize {
    10_000_000
}

/// The parser's message with its position, without the source snippet `toml`
/// prints (it may show a password); a message about a line that sets a password
/// does not repeat the value.
fn redacted_toml_error(e: &toml::de::Error, text: &str) -> String {
    let Some(span) = e.span() else {
        return e.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let message = if line_text
        .trim_start()
        .to_ascii_lowercase()
        .contains("password")
    {
        "invalid line setting a password (value not shown)".to_owned()
    } else {
        e.message().to_owned()
    };
    format!("line {line}, column {column}: {message}")
}

impl MockConfig {
    /// The demo configuration (`mock_server/mock.toml`), checked against
    /// `contract`.
    pub fn demo(contract: &Contract) -> Result<Self, ConfigError> {
        Self::parse(
            DEMO_CONFIG,
            "demo configuration (mock_server/mock.toml)",
            contract,
        )
    }

    /// Read a configuration file and check it against `contract`.
    pub fn from_file(path: &Path, contract: &Contract) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), contract)
    }

    /// Parse configuration text and check it against `contract`; `origin`
    /// names it in errors.
    pub fn parse(text: &str, origin: &str, contract: &Contract) -> Result<Self, ConfigError> {
        let config: MockConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: redacted_toml_error(&e, text),
        })?;
        config.check(origin, contract)?;
        Ok(config)
    }

    /// A configuration with the given clients and every default.
    pub fn with_clients(clients: Vec<ClientConfig>) -> Self {
        MockConfig {
            listen: default_listen(),
            token_ttl_seconds: default_ttl(),
            clock_offset_seconds: 0,
            max_body_bytes: default_max_body(),
            max_records: default_max_records(),
            max_fingerprints: default_max_fingerprints(),
            latency: crate::latency::LatencyProfile::None,
            deviate: Vec::new(),
            faults: Vec::new(),
            capacity: None,
            clients,
        }
    }

    /// Check the values that TOML types cannot, the administrators against
    /// `contract`.
    pub fn check(&self, origin: &str, contract: &Contract) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        if self.token_ttl_seconds == 0 {
            return Err(invalid("token_ttl_seconds must be at least 1".into()));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes must be at least 1024".into()));
        }
        if self.max_records == 0 || self.max_fingerprints < 2 {
            return Err(invalid(
                "max_records must be at least 1 and max_fingerprints at least 2".into(),
            ));
        }
        self.latency
            .check()
            .map_err(|e| invalid(format!("latency: {e}")))?;
        crate::faults::FaultSet::compile(&self.faults).map_err(invalid)?;
        if let Some(c) = &self.capacity {
            if c.max_concurrent == 0 || c.max_concurrent > 1_000_000 {
                return Err(invalid(format!(
                    "capacity.max_concurrent must be between 1 and 1000000, not {}",
                    c.max_concurrent
                )));
            }
            if c.queue > 1_000_000 {
                return Err(invalid(format!(
                    "capacity.queue must be at most 1000000, not {}",
                    c.queue
                )));
            }
            if ![429, 503].contains(&c.shed_status) {
                return Err(invalid(format!(
                    "capacity.shed_status must be 429 or 503, not {}",
                    c.shed_status
                )));
            }
            if c.queue_timeout_ms > 60_000 || c.retry_after_s > 3_600 {
                return Err(invalid(
                    "capacity.queue_timeout_ms must be at most 60000 and retry_after_s at most 3600".into(),
                ));
            }
        }
        if self.clients.is_empty() {
            return Err(invalid("at least one [[clients]] entry is needed".into()));
        }
        for (i, c) in self.clients.iter().enumerate() {
            let at = |what: String| {
                invalid(format!(
                    "clients[{i}] (client_id {:?}): {what}",
                    c.client_id
                ))
            };
            if c.client_id.is_empty() || c.username.is_empty() || c.password.is_empty() {
                return Err(at(
                    "username, password and client_id must not be empty".into()
                ));
            }
            if contract.administradora(&c.administradora).is_none() {
                return Err(at(format!(
                    "administradora {:?} is not in contract/administradoras.csv",
                    c.administradora
                )));
            }
            for s in c.services.iter().flatten() {
                if Service::from_name(s).is_none() {
                    return Err(at(format!(
                        "unknown service {s:?}; expected ReportarAfiliaciontraslado or ReportarRetractoAfiliacion"
                    )));
                }
            }
            if self.clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(at("client_id is used twice".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid() {
        let c = MockConfig::demo(Contract::embedded()).expect("demo config");
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.token_ttl_seconds, 300);
        assert!(c.clients.len() >= 5);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = MockConfig::parse("bogus = 1\nclients = []", "x.toml", Contract::embedded())
            .expect_err("unknown key");
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = MockConfig::parse(
            "[[clients]]\nusername='u'\npassword='p'\nclient_id='c'\nadministradora='999'",
            "x.toml",
            Contract::embedded(),
        )
        .expect_err("bad administradora");
        assert!(e.to_string().contains("\"999\""), "{e}");
    }

    #[test]
    fn syntax_errors_never_show_a_password() {
        for text in [
            "[[clients]]\nusername='u'\npassword=\"canary-s3cret\nclient_id='c'\nadministradora='230301'",
            "[[clients]]\nusername='u'\npasword='canary-s3cret'\nclient_id='c'\nadministradora='230301'",
            "[[clients]]\nusername='u'\npassword=12345\nclient_id='c'\nadministradora='230301'",
        ] {
            let e = MockConfig::parse(text, "x.toml", Contract::embedded()).expect_err("invalid");
            let shown = e.to_string();
            assert!(
                !shown.contains("canary-s3cret") && !shown.contains("12345"),
                "{shown}"
            );
            assert!(shown.contains("x.toml: line 3"), "{shown}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = MockConfig::parse(
            "[[clients]]\nusername='u'\npassword='canary-s3cret'\nclient_id='c'\nadministradora='230301'",
            "x.toml",
            Contract::embedded(),
        )
        .expect("valid");
        assert!(!format!("{c:?}").contains("canary-s3cret"));
    }
}
