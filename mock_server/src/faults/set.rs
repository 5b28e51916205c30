//! The faults in force as a set: installed at an instant, each request's
//! [`Plan`] (delay, hold, action, clock skew, revocation) decided from the
//! faults whose window is open and whose draw hits, and the set as
//! `/__admin/faults` and `/__admin/stats` show it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{Action, Fault, FaultSpec, MAX_SECONDS, Route};
use crate::latency::LatencyProfile;

/// A delay drawn from `profile` with the fault's own uniform draws `u1`, `u2`.
fn sample(profile: LatencyProfile, u1: f64, u2: f64) -> Duration {
    let ms = match profile {
        LatencyProfile::None => 0.0,
        LatencyProfile::Fixed { ms } => ms,
        LatencyProfile::Uniform { min_ms, max_ms } => min_ms + u1 * (max_ms - min_ms),
        LatencyProfile::Lognormal {
            median_ms,
            sigma,
            cap_ms,
        } => {
            // Box–Muller: a standard normal from two uniforms.
            let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (median_ms * (sigma * z).exp()).min(cap_ms)
        }
    };
    Duration::from_secs_f64(ms.clamp(0.0, MAX_SECONDS * 1000.0) / 1000.0)
}

/// The set of faults in force and when it was installed.
#[derive(Debug)]
pub struct FaultSet {
    installed: Instant,
    installed_wall: chrono::DateTime<chrono::Utc>,
    faults: Vec<Fault>,
}

impl Default for FaultSet {
    fn default() -> Self {
        FaultSet {
            installed: Instant::now(),
            installed_wall: chrono::Utc::now(),
            faults: Vec::new(),
        }
    }
}

/// What the faults decided for one request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Answer no earlier than this after arrival.
    pub delay: Duration,
    /// Hold the answer until this instant (a stall).
    pub hold_until: Option<Instant>,
    /// What replaces or follows the answer, if anything.
    pub action: Option<Action>,
    /// The clock skew in force (seconds), when a `clock_skew` window is open.
    pub skew: Option<i64>,
    /// Revoke every token now (a `revoke_tokens` window just opened).
    pub revoke: bool,
}

impl FaultSet {
    /// Compile `specs`; the error names the fault (`faults[i]`) and the key.
    pub fn compile(specs: &[FaultSpec]) -> Result<FaultSet, String> {
        let faults = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Fault::compile(s).map_err(|e| format!("faults[{i}] ({}): {e}", s.kind)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultSet {
            faults,
            ..FaultSet::default()
        })
    }

    /// Whether there is no fault.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Decide what happens to a request to `route` arriving now.
    pub fn plan(&self, route: Route) -> Plan {
        let mut plan = Plan::default();
        let elapsed = self.installed.elapsed();
        for f in &self.faults {
            if !f.route.covers(route) || !f.open_at(elapsed) {
                continue;
            }
            match f.action {
                Action::Stall => {
                    let until = self.installed + f.end.unwrap_or(f.start);
                    plan.hold_until = plan.hold_until.max(Some(until));
                    f.injected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Action::ClockSkew { seconds } => {
                    *plan.skew.get_or_insert(0) += seconds;
                    f.injected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Action::RevokeTokens => {
                    if !f.fired.swap(true, Ordering::Relaxed) {
                        plan.revoke = true;
                        f.injected.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                Action::TokenOutage { .. } if route != Route::Token => continue,
                _ => {}
            }
            let n = f.seen.fetch_add(1, Ordering::Relaxed);
            if f.probability < 1.0 && f.draw(n, 0) >= f.probability {
                continue;
            }
            f.injected.fetch_add(1, Ordering::Relaxed);
            match f.action {
                Action::Delay(profile) => {
                    plan.delay += sample(profile, f.draw(n, 1), f.draw(n, 2));
                }
                // The first fault that replaces the answer wins.
                action if plan.action.is_none() => plan.action = Some(action),
                _ => {}
            }
        }
        if plan.skew.is_none()
            && self
                .faults
                .iter()
                .any(|f| matches!(f.action, Action::ClockSkew { .. }))
        {
            // A skew window has closed (or not opened): the clock is back.
            plan.skew = Some(0);
        }
        plan
    }

    /// The set as `/__admin/faults` shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let elapsed = self.installed.elapsed();
        serde_json::json!({
            "installed_at": self.installed_wall.to_rfc3339(),
            "faults": self.faults.iter().map(|f| {
                let mut v = serde_json::to_value(&f.spec).unwrap_or_default();
                v["active"] = f.open_at(elapsed).into();
                v["seen"] = f.seen.load(Ordering::Relaxed).into();
                v["injected"] = f.injected.load(Ordering::Relaxed).into();
                v
            }).collect::<Vec<_>>(),
        })
    }

    /// Injections so far per kind.
    pub fn injected(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        for f in &self.faults {
            let n = f.injected.load(Ordering::Relaxed);
            let e = m.entry(f.spec.kind.clone()).or_insert(0.into());
            *e = (e.as_u64().unwrap_or(0) + n).into();
        }
        m
    }
}
