//! Where one exchange's time went, phase by phase.

use std::time::Duration;

/// The opening of a connection: what an exchange that could not reuse one
/// spent before its request could be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Opening {
    /// The name's resolution; `None` when nothing was looked up (an address
    /// written out, or a `--resolve` override).
    pub dns: Option<Duration>,
    /// The TCP connection, from the first `connect` to the established socket.
    pub connect: Duration,
    /// The TLS handshake; `None` on plain HTTP.
    pub tls: Option<Duration>,
}

/// Where one HTTP exchange's time went. The phases follow one another: an
/// exchange's time is their sum (plus the opening's, when it opened a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases {
    /// The connection's opening, when this exchange opened one; `None` when it
    /// reused a kept-alive connection (it had no DNS, connect nor TLS phase).
    pub opened: Option<Opening>,
    /// The request written: from its first byte handed to the socket to its last.
    pub send: Duration,
    /// Time to first byte: from the request written to the answer's first byte
    /// (the target's own time, plus the network's round trip).
    pub wait: Duration,
    /// The body read: from the answer's first byte to its last.
    pub receive: Duration,
}

/// A phase's name, as `summary.json`, the reports and `/metrics` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The name's resolution.
    Dns,
    /// The TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// The request written.
    Send,
    /// Time to first byte.
    Wait,
    /// The body read.
    Receive,
}

impl Phase {
    /// Every phase, in the order an exchange goes through them.
    pub const ALL: [Phase; 6] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Send,
        Phase::Wait,
        Phase::Receive,
    ];

    /// The phase's name: `dns`, `connect`, `tls`, `send`, `wait`, `receive`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Send => "send",
            Phase::Wait => "wait",
            Phase::Receive => "receive",
        }
    }

    /// What the phase is, in a few words (for the reports and `/metrics`' help).
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Dns => "DNS lookup",
            Phase::Connect => "TCP connect",
            Phase::Tls => "TLS handshake",
            Phase::Send => "request written",
            Phase::Wait => "time to first byte",
            Phase::Receive => "body read",
        }
    }
}

impl Phases {
    /// The time this exchange spent in `phase`, or `None` when it did not go
    /// through it (a reused connection has no DNS, connect nor TLS phase; an
    /// override no DNS; plain HTTP no TLS). Zeros are never made up for a
    /// phase that did not happen, so they are never averaged in.
    pub fn get(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::Dns => self.opened.and_then(|o| o.dns),
            Phase::Connect => self.opened.map(|o| o.connect),
            Phase::Tls => self.opened.and_then(|o| o.tls),
            Phase::Send => Some(self.send),
            Phase::Wait => Some(self.wait),
            Phase::Receive => Some(self.receive),
        }
    }

    /// The whole exchange: the sum of its phases.
    pub fn total(&self) -> Duration {
        Phase::ALL.iter().filter_map(|p| self.get(*p)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_connection_has_no_opening_phases() {
        let ms = Duration::from_millis;
        let reused = Phases {
            opened: None,
            send: ms(1),
            wait: ms(20),
            receive: ms(2),
        };
        assert_eq!(reused.get(Phase::Dns), None);
        assert_eq!(reused.get(Phase::Connect), None);
        assert_eq!(reused.get(Phase::Tls), None);
        assert_eq!(reused.total(), ms(23));
        let opened = Phases {
            opened: Some(Opening {
                dns: None,
                connect: ms(3),
                tls: Some(ms(200)),
            }),
            ..reused
        };
        assert_eq!(opened.get(Phase::Dns), None);
        assert_eq!(opened.get(Phase::Tls), Some(ms(200)));
        assert_eq!(opened.total(), ms(226));
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["dns", "connect", "tls", "send", "wait", "receive"]);
    }
}
