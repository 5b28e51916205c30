//! Fault injection (docs/protocol.md, "Retries and the retry budget"): the mock misbehaving on purpose, so that a
//! run can rehearse an incident — a slow, flaky or unreachable ministry.
//!
//! A fault has a kind, a route (`all`, `token`, `reports` or one service), a
//! probability, a start offset and a duration counted from when its set was
//! installed, and a seed. Whether the n-th request a fault sees is hit, and the
//! delay it draws, are a hash of (seed, n): the same seed and the same order of
//! arrivals give the same faults, with no lock and no shared generator.
//!
//! Faults come from the configuration file (`[[faults]]`), from a scenario
//! (`faults = [..]`, installed by the harness when its run starts) or at run
//! time through `POST /__admin/faults` (which replaces the set) and
//! `DELETE /__admin/faults`.
//!
//! What the harness sees, one class of its error taxonomy per kind:
//!
//! | kind                | the mock                                             | class                  |
//! |---------------------|------------------------------------------------------|------------------------|
//! | `delay`             | answers after a fixed, uniform or lognormal delay     | `ok` (slower)          |
//! | `slow_body`         | sends the real answer in chunks, `interval_ms` apart  | `ok` (slower)          |
//! | `status`            | 429/500/502/503/504, `Retry-After` when given; nothing stored | `http_4xx:429` / `http_5xx:N` |
//! | `reset`             | resets the connection (RST) without an answer        | `reset`                |
//! | `empty`             | closes the connection without a byte                 | `reset`                |
//! | `hang`              | never answers (closes after `hold_s`)                 | `read_timeout`         |
//! | `truncated`         | a 200 whose body stops half-way, then closes          | `truncated`            |
//! | `malformed_json`    | a 200 whose body is not JSON                          | `invalid_body`         |
//! | `stall`             | holds every answer until the window ends              | `read_timeout`         |
//! | `token_outage`      | `/token` answers 503 with `Retry-After`               | `token_unavailable`    |
//! | `revoke_tokens`     | when the window opens, every token issued dies early | `ok` (one refresh)     |
//! | `clock_skew`        | the mock's clock moves `seconds` during the window   | `business:VAL04` (a day or more back) |
//! | `reset_after_commit`| stores the report, then resets the connection        | `unknown_outcome`      |
//! | `hang_after_commit` | stores the report, then never answers                 | `unknown_outcome`      |
//!
//! Only `slow_body`, `delay`, `*_after_commit` and `clock_skew` let the request
//! reach the service; every other kind answers in front of it (a gateway's
//! failure), so nothing is stored.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::latency::LatencyProfile;

mod set;

pub use set::{FaultSet, Plan};

/// Longest hold of `hang` and longest window or delay, in seconds.
const MAX_SECONDS: f64 = 3_600.0;

/// Which requests a fault looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Every request to `/token` and the two services.
    All,
    /// `POST /token`.
    Token,
    /// The two report services.
    Reports,
    /// `ReportarAfiliaciontraslado`.
    Afiliacion,
    /// `ReportarRetractoAfiliacion`.
    Retracto,
}

impl Route {
    fn parse(s: &str) -> Option<Route> {
        let l = s.trim().trim_start_matches('/').to_ascii_lowercase();
        Some(match l.as_str() {
            "all" | "*" => Route::All,
            "token" => Route::Token,
            "reports" => Route::Reports,
            "reportarafiliaciontraslado" | "afiliacion" => Route::Afiliacion,
            "reportarretractoafiliacion" | "retracto" => Route::Retracto,
            _ => return None,
        })
    }

    /// Whether a request to `target` is on this route.
    pub fn covers(self, target: Route) -> bool {
        match self {
            Route::All => true,
            Route::Reports => matches!(target, Route::Afiliacion | Route::Retracto),
            r => r == target,
        }
    }
}

/// A fault as written in a file or posted to `/__admin/faults`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What goes wrong (see the module's table).
    pub kind: String,
    /// `all` (default), `token`, `reports`, `ReportarAfiliaciontraslado`, `ReportarRetractoAfiliacion`.
    pub route: Option<String>,
    /// Share of the route's requests hit, 0–1 (default 1).
    pub probability: Option<f64>,
    /// Start, from when the set is installed: `"30s"`, `"500ms"`, `"2m"` (default 0).
    pub at: Option<String>,
    /// How long it lasts (default: until cleared).
    pub duration: Option<String>,
    /// Seed of the draws (default 0).
    pub seed: Option<u64>,
    /// `status`: the HTTP status (429, 500, 502, 503, 504).
    pub status: Option<u16>,
    /// `status`, `token_outage`: the `Retry-After` header, in seconds.
    pub retry_after_s: Option<u64>,
    /// `delay`: `fixed`, `uniform` or `lognormal` (default `fixed`).
    pub distribution: Option<String>,
    /// `delay` fixed: milliseconds.
    pub ms: Option<f64>,
    /// `delay` uniform: lower bound.
    pub min_ms: Option<f64>,
    /// `delay` uniform: upper bound.
    pub max_ms: Option<f64>,
    /// `delay` lognormal: median.
    pub median_ms: Option<f64>,
    /// `delay` lognormal: shape.
    pub sigma: Option<f64>,
    /// `delay` lognormal: upper bound.
    pub cap_ms: Option<f64>,
    /// `slow_body`: bytes per chunk (default 16).
    pub chunk_bytes: Option<usize>,
    /// `slow_body`: pause between chunks (default 100).
    pub interval_ms: Option<u64>,
    /// `clock_skew`: seconds the clock moves (negative: back).
    pub seconds: Option<i64>,
    /// `hang`, `hang_after_commit`: how long the connection is held before it
    /// is closed (default 60).
    pub hold_s: Option<f64>,
}

impl FaultSpec {
    /// The numbers of a `delay` (its latency profile's), by key.
    fn delay_numbers(&self) -> impl Iterator<Item = (&'static str, Option<f64>)> {
        [
            ("ms", self.ms),
            ("min_ms", self.min_ms),
            ("max_ms", self.max_ms),
            ("median_ms", self.median_ms),
            ("sigma", self.sigma),
            ("cap_ms", self.cap_ms),
        ]
        .into_iter()
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Answer late.
    Delay(LatencyProfile),
    /// Send the answer's body in `chunk` bytes every `interval`.
    SlowBody {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause between chunks.
        interval: Duration,
    },
    /// Answer `status` in front of the service.
    Status {
        /// The status.
        status: u16,
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Reset the connection.
    Reset,
    /// Close the connection without a byte.
    Empty,
    /// Never answer; close after `hold`.
    Hang {
        /// How long.
        hold: Duration,
    },
    /// A 200 whose body stops half-way.
    Truncated,
    /// A 200 whose body is not JSON.
    MalformedJson,
    /// Hold every answer until the window ends.
    Stall,
    /// `/token` answers 503.
    TokenOutage {
        /// `Retry-After`, in seconds.
        retry_after: u64,
    },
    /// Revoke every token issued, once, when the window opens.
    RevokeTokens,
    /// Move the clock during the window.
    ClockSkew {
        /// Seconds.
        seconds: i64,
    },
    /// Store the report, then reset the connection.
    ResetAfterCommit,
    /// Store the report, then never answer; close after `hold`.
    HangAfterCommit {
        /// How long.
        hold: Duration,
    },
}

/// Every kind, in the order of the module's table.
pub const KINDS: [&str; 14] = [
    "delay",
    "slow_body",
    "status",
    "reset",
    "empty",
    "hang",
    "truncated",
    "malformed_json",
    "stall",
    "token_outage",
    "revoke_tokens",
    "clock_skew",
    "reset_after_commit",
    "hang_after_commit",
];

/// Parse `"30s"`, `"500ms"`, `"2m"`, `"1h"` or a plain number of seconds.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (like \"30s\", \"500ms\", \"2m\")"))?;
    let seconds = value * scale;
    if !seconds.is_finite() || !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(format!(
            "{text:?} must be between 0 and {MAX_SECONDS} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// One compiled fault with its counters.
#[derive(Debug)]
pub struct Fault {
    spec: FaultSpec,
    route: Route,
    action: Action,
    probability: f64,
    start: Duration,
    end: Option<Duration>,
    seed: u64,
    seen: AtomicU64,
    injected: AtomicU64,
    fired: AtomicBool,
}

impl Fault {
    /// Check `spec` and compile it; the message names the key that is wrong.
    pub fn compile(spec: &FaultSpec) -> Result<Fault, String> {
        let kind = spec.kind.trim();
        if !KINDS.contains(&kind) {
            return Err(format!(
                "kind {kind:?} is unknown; expected one of {}",
                KINDS.join(", ")
            ));
        }
        let route = match &spec.route {
            None => Route::All,
            Some(r) => Route::parse(r).ok_or_else(|| {
                format!(
                    "route {r:?} is unknown; expected all, token, reports, ReportarAfiliaciontraslado or ReportarRetractoAfiliacion"
                )
            })?,
        };
        let probability = spec.probability.unwrap_or(1.0);
        if !(probability.is_finite() && (0.0..=1.0).contains(&probability)) {
            return Err(format!(
                "probability must be between 0 and 1, not {probability}"
            ));
        }
        let span = |key: &str, v: &Option<String>| {
            v.as_deref()
                .map(parse_span)
                .transpose()
                .map_err(|e| format!("{key}: {e}"))
        };
        let start = span("at", &spec.at)?.unwrap_or_default();
        let duration = span("duration", &spec.duration)?;
        // Keys that only some kinds take.
        let allowed: &[&str] = match kind {
            "delay" => LatencyProfile::KEYS,
            "slow_body" => &["chunk_bytes", "interval_ms"],
            "status" => &["status", "retry_after_s"],
            "token_outage" => &["retry_after_s"],
            "clock_skew" => &["seconds"],
            "hang" | "hang_after_commit" => &["hold_s"],
            _ => &[],
        };
        let given = [
            ("status", spec.status.is_some()),
            ("retry_after_s", spec.retry_after_s.is_some()),
            ("distribution", spec.distribution.is_some()),
        ]
        .into_iter()
        .chain(spec.delay_numbers().map(|(k, v)| (k, v.is_some())))
        .chain([
            ("chunk_bytes", spec.chunk_bytes.is_some()),
            ("interval_ms", spec.interval_ms.is_some()),
            ("seconds", spec.seconds.is_some()),
            ("hold_s", spec.hold_s.is_some()),
        ]);
        if let Some((key, _)) = given
            .into_iter()
            .find(|(k, set)| *set && !allowed.contains(k))
        {
            return Err(format!("kind {kind:?} takes no {key}"));
        }
        let need =
            |key: &str, v: Option<f64>| v.ok_or_else(|| format!("kind {kind:?} needs {key}"));
        let hold = || -> Result<Duration, String> {
            let s = spec.hold_s.unwrap_or(60.0);
            if !(s.is_finite() && (0.0..=MAX_SECONDS).contains(&s)) {
                return Err(format!(
                    "hold_s must be between 0 and {MAX_SECONDS}, not {s}"
                ));
            }
            Ok(Duration::from_secs_f64(s))
        };
        let action = match kind {
            "delay" => {
                let profile = match spec.distribution.as_deref().unwrap_or("fixed") {
                    "fixed" => LatencyProfile::Fixed {
                        ms: need("ms", spec.ms)?,
                    },
                    "uniform" => LatencyProfile::Uniform {
                        min_ms: need("min_ms", spec.min_ms)?,
                        max_ms: need("max_ms", spec.max_ms)?,
                    },
                    "lognormal" => LatencyProfile::Lognormal {
                        median_ms: need("median_ms", spec.median_ms)?,
                        sigma: need("sigma", spec.sigma)?,
                        cap_ms: need("cap_ms", spec.cap_ms)?,
                    },
                    other => {
                        return Err(format!(
                            "distribution {other:?} is unknown; expected fixed, uniform or lognormal"
                        ));
                    }
                };
                // Keys of another distribution are a mistake, not a default.
                let stray = spec
                    .delay_numbers()
                    .find(|(k, v)| v.is_some() && !profile.numbers().contains(k));
                if let Some((key, _)) = stray {
                    return Err(format!("this delay's distribution takes no {key}"));
                }
                profile.check()?;
                Action::Delay(profile)
            }
            "slow_body" => {
                let chunk = spec.chunk_bytes.unwrap_or(16);
                let interval = spec.interval_ms.unwrap_or(100);
                if chunk == 0 || chunk > 1 << 20 {
                    return Err(format!(
                        "chunk_bytes must be between 1 and 1048576, not {chunk}"
                    ));
                }
                if interval as f64 > MAX_SECONDS * 1000.0 {
                    return Err(format!(
                        "interval_ms must be at most {}",
                        MAX_SECONDS * 1000.0
                    ));
                }
                Action::SlowBody {
                    chunk,
                    interval: Duration::from_millis(interval),
                }
            }
            "status" => {
                let status = spec.status.ok_or_else(|| {
                    "kind \"status\" needs status (429, 500, 502, 503 or 504)".to_owned()
                })?;
                if ![429, 500, 502, 503, 504].contains(&status) {
                    return Err(format!(
                        "status must be 429, 500, 502, 503 or 504, not {status}"
                    ));
                }
                Action::Status {
                    status,
                    retry_after: spec.retry_after_s,
                }
            }
            "reset" => Action::Reset,
            "empty" => Action::Empty,
            "hang" => Action::Hang { hold: hold()? },
            "truncated" => Action::Truncated,
            "malformed_json" => Action::MalformedJson,
            "stall" => {
                if duration.is_none() {
                    return Err("kind \"stall\" needs a duration".into());
                }
                Action::Stall
            }
            "token_outage" => {
                if !route.covers(Route::Token) {
                    return Err(
                        "kind \"token_outage\" is on the token route (route all or token)".into(),
                    );
                }
                Action::TokenOutage {
                    retry_after: spec.retry_after_s.unwrap_or(1),
                }
            }
            "revoke_tokens" => Action::RevokeTokens,
            "clock_skew" => {
                let seconds = spec
                    .seconds
                    .ok_or_else(|| "kind \"clock_skew\" needs seconds".to_owned())?;
                if seconds.abs() > crate::MockClock::MAX_OFFSET_SECONDS {
                    return Err(format!(
                        "seconds must be within ±{}",
                        crate::MockClock::MAX_OFFSET_SECONDS
                    ));
                }
                Action::ClockSkew { seconds }
            }
            "reset_after_commit" => Action::ResetAfterCommit,
            _ => Action::HangAfterCommit { hold: hold()? },
        };
        if matches!(
            action,
            Action::ResetAfterCommit | Action::HangAfterCommit { .. }
        ) && route == Route::Token
        {
            return Err(format!(
                "kind {kind:?} is for the report services, not the token route"
            ));
        }
        Ok(Fault {
            spec: spec.clone(),
            route,
            action,
            probability,
            start,
            end: duration.map(|d| start + d),
            seed: spec.seed.unwrap_or(0),
            seen: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            fired: AtomicBool::new(false),
        })
    }

    /// Whether the window is open `elapsed` after installation.
    fn open_at(&self, elapsed: Duration) -> bool {
        elapsed >= self.start && self.end.is_none_or(|end| elapsed < end)
    }

    /// The n-th draw of this fault, uniform in [0, 1).
    fn draw(&self, n: u64, salt: u64) -> f64 {
        let h = splitmix64(self.seed ^ splitmix64(n ^ salt.rotate_left(32)));
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Route::All => "all",
            Route::Token => "token",
            Route::Reports => "reports",
            Route::Afiliacion => "ReportarAfiliaciontraslado",
            Route::Retracto => "ReportarRetractoAfiliacion",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str) -> FaultSpec {
        FaultSpec {
            kind: kind.into(),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn bad_specs_name_the_fault_and_the_key() {
        let cases = [
            (r#"{"kind": "reset", "probability": 1.5}"#, "probability"),
            (r#"{"kind": "explode"}"#, "kind \"explode\" is unknown"),
            (r#"{"kind": "reset", "route": "/otra"}"#, "route \"/otra\""),
            (r#"{"kind": "status", "status": 418}"#, "status must be"),
            (r#"{"kind": "status"}"#, "needs status"),
            (r#"{"kind": "reset", "status": 503}"#, "takes no status"),
            (r#"{"kind": "stall"}"#, "needs a duration"),
            (r#"{"kind": "reset", "at": "soon"}"#, "at: \"soon\""),
            (
                r#"{"kind": "delay", "distribution": "uniform", "ms": 3}"#,
                "needs min_ms",
            ),
            (
                r#"{"kind": "delay", "distribution": "fixed", "ms": 3, "sigma": 1}"#,
                "takes no sigma",
            ),
            (
                r#"{"kind": "reset_after_commit", "route": "token"}"#,
                "report services",
            ),
            (
                r#"{"kind": "token_outage", "route": "reports"}"#,
                "token route",
            ),
        ];
        for (json, want) in cases {
            let s: FaultSpec = serde_json::from_str(json).expect(json);
            let e = FaultSet::compile(&[spec("reset"), s]).expect_err(want);
            assert!(
                e.starts_with("faults[1]") && e.contains(want),
                "{e} (want {want})"
            );
        }
    }

    #[test]
    fn the_same_seed_hits_the_same_requests() {
        let make = |seed| {
            FaultSet::compile(&[FaultSpec {
                probability: Some(0.3),
                seed: Some(seed),
                ..spec("reset")
            }])
            .expect("valid")
        };
        let hits = |set: &FaultSet| {
            (0..1000)
                .map(|_| set.plan(Route::Afiliacion).action.is_some())
                .collect::<Vec<_>>()
        };
        let (a, b, c) = (hits(&make(7)), hits(&make(7)), hits(&make(8)));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let share = a.iter().filter(|h| **h).count();
        assert!((240..360).contains(&share), "{share} of 1000 at p = 0.3");
    }

    #[test]
    fn windows_routes_and_delays() {
        let set = FaultSet::compile(&[
            FaultSpec {
                route: Some("token".into()),
                ..spec("reset")
            },
            FaultSpec {
                at: Some("1h".into()),
                ..spec("empty")
            },
            FaultSpec {
                distribution: Some("lognormal".into()),
                median_ms: Some(20.0),
                sigma: Some(0.5),
                cap_ms: Some(60.0),
                ..spec("delay")
            },
        ])
        .expect("valid");
        assert_eq!(set.plan(Route::Token).action, Some(Action::Reset));
        let mut delays: Vec<f64> = (0..2001)
            .map(|_| {
                let p = set.plan(Route::Retracto);
                assert_eq!(
                    p.action, None,
                    "the reset is on /token, the empty not yet open"
                );
                p.delay.as_secs_f64() * 1000.0
            })
            .collect();
        delays.sort_by(f64::total_cmp);
        assert!(
            (17.0..23.0).contains(&delays[1000]),
            "median {}",
            delays[1000]
        );
        assert!(delays[2000] <= 60.0 + 1e-9);
    }

    #[test]
    fn spans_parse() {
        assert_eq!(parse_span("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_span("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_span("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_span("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_span("-1s").is_err());
        assert!(parse_span("2h").is_err());
    }
}
