//! How long the mock takes to answer: a latency profile (none, fixed, uniform, or
//! lognormal with a cap) and a global stall that holds every response until a
//! moment, so that load runs see a ministry that is not a sub-millisecond service
//! and can rehearse a stall reproducibly.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::distr::Distribution;
use rand_distr::LogNormal;
use serde::{Deserialize, Serialize};

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "lowercase", deny_unknown_fields)]
pub enum LatencyProfile {
    /// Answer as fast as possible.
    #[default]
    None,
    /// Always `ms`.
    Fixed {
        /// Milliseconds.
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Lognormal with median `median_ms` and shape `sigma`, never above `cap_ms`.
    Lognormal {
        /// The median.
        median_ms: f64,
        /// Standard deviation of the underlying normal (0.3–1 is typical).
        sigma: f64,
        /// Upper bound.
        cap_ms: f64,
    },
}

/// Longest latency a profile may ask for.
const MAX_MS: f64 = 600_000.0;

impl LatencyProfile {
    /// Every key a profile is written with, in any of its forms (a fault's
    /// `delay` and a scenario's `latency` take these).
    pub const KEYS: &[&str] = &[
        "distribution",
        "ms",
        "min_ms",
        "max_ms",
        "median_ms",
        "sigma",
        "cap_ms",
    ];

    /// The keys of this form's numbers (`distribution` aside).
    pub fn numbers(&self) -> &'static [&'static str] {
        match self {
            Self::None => &[],
            Self::Fixed { .. } => &["ms"],
            Self::Uniform { .. } => &["min_ms", "max_ms"],
            Self::Lognormal { .. } => &["median_ms", "sigma", "cap_ms"],
        }
    }

    /// Check the parameters; the message names the one that is wrong.
    pub fn check(&self) -> Result<(), String> {
        let ms = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=MAX_MS).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be between 0 and {MAX_MS} ms, not {v}"))
            }
        };
        match *self {
            Self::None => Ok(()),
            Self::Fixed { ms: v } => ms("ms", v),
            Self::Uniform { min_ms, max_ms } => {
                ms("min_ms", min_ms)?;
                ms("max_ms", max_ms)?;
                if min_ms > max_ms {
                    return Err(format!("min_ms ({min_ms}) is above max_ms ({max_ms})"));
                }
                Ok(())
            }
            Self::Lognormal {
                median_ms,
                sigma,
                cap_ms,
            } => {
                ms("median_ms", median_ms)?;
                ms("cap_ms", cap_ms)?;
                if median_ms <= 0.0 {
                    return Err("median_ms must be above 0".into());
                }
                if !(sigma.is_finite() && (0.0..=5.0).contains(&sigma)) {
                    return Err(format!("sigma must be between 0 and 5, not {sigma}"));
                }
                Ok(())
            }
        }
    }

    /// One delay drawn from the profile.
    pub fn sample(&self) -> Duration {
        let ms = match *self {
            Self::None => 0.0,
            Self::Fixed { ms } => ms,
            Self::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rand::random_range(min_ms..max_ms)
                } else {
                    min_ms
                }
            }
            Self::Lognormal {
                median_ms,
                sigma,
                cap_ms,
            } => LogNormal::new(median_ms.ln(), sigma)
                .map(|d| d.sample(&mut rand::rng()))
                .unwrap_or(median_ms)
                .min(cap_ms),
        };
        Duration::from_secs_f64(ms.clamp(0.0, MAX_MS) / 1000.0)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The profile in force and the stall deadline, shared by every request.
#[derive(Debug, Default)]
pub struct Pacing {
    profile: RwLock<LatencyProfile>,
    /// Unix milliseconds (system clock) until which responses are held.
    stalled_until: AtomicU64,
}

/// Longest stall accepted, in seconds.
pub const MAX_STALL_SECONDS: f64 = 3_600.0;

impl Pacing {
    /// Pacing with `profile` and no stall.
    pub fn new(profile: LatencyProfile) -> Self {
        Pacing {
            profile: RwLock::new(profile),
            stalled_until: AtomicU64::new(0),
        }
    }

    /// The profile in force.
    pub fn profile(&self) -> LatencyProfile {
        *self
            .profile
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replace the profile.
    pub fn set_profile(&self, profile: LatencyProfile) {
        *self
            .profile
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = profile;
    }

    /// Hold every response until `seconds` from now (0 ends a stall).
    pub fn stall(&self, seconds: f64) {
        let until = now_ms() + (seconds.clamp(0.0, MAX_STALL_SECONDS) * 1000.0) as u64;
        self.stalled_until.store(until, Ordering::Relaxed);
    }

    /// Seconds left of the current stall.
    pub fn stall_left(&self) -> f64 {
        let until = self.stalled_until.load(Ordering::Relaxed);
        until.saturating_sub(now_ms()) as f64 / 1000.0
    }

    /// Wait while a stall is in force (it may be extended meanwhile).
    pub async fn hold(&self) {
        loop {
            let until = self.stalled_until.load(Ordering::Relaxed);
            let now = now_ms();
            if now >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(until - now)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_has_its_median_and_cap() {
        let p = LatencyProfile::Lognormal {
            median_ms: 20.0,
            sigma: 0.5,
            cap_ms: 60.0,
        };
        let mut v: Vec<f64> = (0..20_001)
            .map(|_| p.sample().as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[10_000];
        assert!((18.0..22.0).contains(&median), "median {median}");
        assert!(v[20_000] <= 60.0 + 1e-9);
    }

    #[test]
    fn keys_are_the_keys_of_every_form() {
        let forms = [
            LatencyProfile::None,
            LatencyProfile::Fixed { ms: 1.0 },
            LatencyProfile::Uniform {
                min_ms: 1.0,
                max_ms: 2.0,
            },
            LatencyProfile::Lognormal {
                median_ms: 1.0,
                sigma: 0.5,
                cap_ms: 3.0,
            },
        ];
        let mut written: Vec<String> = forms
            .iter()
            .flat_map(|f| match serde_json::to_value(f) {
                Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect::<Vec<_>>(),
                other => panic!("{f:?} written as {other:?}"),
            })
            .collect();
        written.sort();
        written.dedup();
        let mut keys: Vec<&str> = LatencyProfile::KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(written, keys);
        for form in forms {
            let Ok(serde_json::Value::Object(map)) = serde_json::to_value(form) else {
                panic!("{form:?} is not written as an object");
            };
            let numbers: Vec<&String> = map.keys().filter(|k| *k != "distribution").collect();
            assert_eq!(numbers, form.numbers(), "{form:?}");
        }
    }

    #[test]
    fn bad_profiles_name_the_parameter() {
        let bad = LatencyProfile::Uniform {
            min_ms: 10.0,
            max_ms: 5.0,
        };
        assert!(bad.check().is_err_and(|e| e.contains("min_ms")));
        let bad = LatencyProfile::Lognormal {
            median_ms: 20.0,
            sigma: f64::NAN,
            cap_ms: 100.0,
        };
        assert!(bad.check().is_err_and(|e| e.contains("sigma")));
        let parsed: Result<LatencyProfile, _> =
            serde_json::from_str(r#"{"distribution":"fixed","ms":5,"extra":1}"#);
        assert!(parsed.is_err());
    }
}
