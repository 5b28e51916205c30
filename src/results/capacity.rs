//! `summary.json`'s `capacity` section (and `mss-harness capacity --out`'s
//! `capacity.json`) as types: the measured plateaus, the fit of the Universal
//! Scalability Law with 95% bootstrap intervals, where the SLO is crossed, or
//! why there is no fit, and a paragraph in English and in Spanish. The
//! capacity analysis (src/capacity/) writes it; the reports read it. The law
//! the fit states is [`Usl`]: its formula lives here, with the numbers that
//! state it, so a reader (the report's chart) draws the curve from the
//! section alone.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::keys::{Nullable, nullable};

/// A run with two or more plateaus: the capacity analysis (as `mss-harness
/// capacity`): measured points, a Universal Scalability Law fit with 95%
/// bootstrap intervals, the peak, where the SLO is crossed, or why there is
/// no fit; a paragraph in English and in Spanish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// The latency objective, as written (`p99 < 800ms`).
    pub slo: String,
    /// The plateaus measured, by offered rate (closed model: by concurrency).
    pub points: Vec<CapacityPoint>,
    /// The fit; null when refused.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<CapacityFit>")]
    pub fit: Option<CapacityFit>,
    /// Where the SLO is crossed along the offered rate; null without an open
    /// plateau.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<SloCrossing>")]
    pub slo_crossing: Option<SloCrossing>,
    /// Why there is no fit, and what to run instead; null with a fit.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<String>")]
    pub refused: Option<String>,
    /// What may make the figures unreliable.
    pub warnings: Vec<String>,
    /// The analysis in plain English.
    pub summary_en: String,
    /// The analysis in plain Spanish, for the ministry.
    pub summary_es: String,
}

/// One measured plateau.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityPoint {
    /// The run it belongs to (its folder or scenario name).
    pub run: String,
    /// The offered rate, req/s; null in the closed model.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub offered_rate: Option<f64>,
    /// The closed model's users; null in the open model.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<u64>")]
    pub users: Option<u64>,
    /// First second analysed (after the settling time).
    pub from_s: u64,
    /// End of the seconds analysed (exclusive).
    pub to_s: u64,
    /// Accepted requests per second.
    pub throughput: f64,
    /// Mean requests in flight (Little's law).
    pub concurrency: f64,
    /// Latency p50 over the plateau, ms from the intended send time.
    pub p50_ms: f64,
    /// Latency p99, ms.
    pub p99_ms: f64,
    /// The SLO's percentile, ms.
    pub slo_ms: f64,
    /// Share of the completed requests not `ok`.
    pub error_rate: f64,
    /// Per second: [concurrency, accepted requests].
    pub samples: Vec<(f64, f64)>,
}

/// The fitted Universal Scalability Law with its intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityFit {
    /// λ: throughput at one request in flight, req/s.
    pub lambda: Estimated,
    /// σ: contention.
    pub sigma: Estimated,
    /// κ: coherency.
    pub kappa: Estimated,
    /// The peak throughput (or the level it tends to), req/s.
    pub peak_throughput: Estimated,
    /// The concurrency of the peak; null when the fit levels off (κ = 0).
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<Estimated>")]
    pub peak_concurrency: Option<Estimated>,
    /// Bootstrap resamples that could be fitted.
    pub resamples: u64,
    /// How the fit was made.
    pub model: FitModel,
    /// Per-second samples fitted.
    pub samples: u64,
}

impl CapacityFit {
    /// The law stated by the central estimates; `None` when one of them is
    /// not finite (written as null).
    pub fn usl(&self) -> Option<Usl> {
        Some(Usl {
            lambda: self.lambda.value?,
            sigma: self.sigma.value?,
            kappa: self.kappa.value?,
        })
    }
}

/// A central estimate and its 95% interval; null where not finite (an open
/// upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Estimated {
    /// The fit on every sample.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub value: Option<f64>,
    /// 2.5th percentile of the bootstrap fits.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub low: Option<f64>,
    /// 97.5th percentile of the bootstrap fits.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub high: Option<f64>,
}

/// How the law was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FitModel {
    /// On every sample.
    #[serde(rename = "free")]
    Free,
    /// An open load beyond the knee: levelling at the throughput the
    /// plateaus not sustained reached.
    #[serde(rename = "levelling at the throughput of the plateaus not sustained")]
    Ceiling,
}

/// Where the SLO is crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloCrossing {
    /// The offered rate, req/s; null when no plateau and no fit says.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub rate: Option<f64>,
    /// How it was found.
    pub method: CrossingMethod,
    /// The offered rates it lies between (`interpolated`: the plateau within
    /// the SLO and the one beyond; `below_lowest_plateau`: 0 and the lowest;
    /// `not_crossed`: the highest and null); null when `predicted`.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<(f64, Option<f64>)>")]
    pub between: Option<(f64, Option<f64>)>,
}

/// How the SLO crossing was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrossingMethod {
    /// Between two measured plateaus, linearly.
    Interpolated,
    /// From the fitted law.
    Predicted,
    /// Already beyond the SLO at the lowest plateau.
    BelowLowestPlateau,
    /// Not crossed by the plateaus, and no fit to predict from.
    NotCrossed,
}

impl Capacity {
    /// The SLO's bound, ms (`None` if `slo` is not a threshold).
    pub fn slo_bound_ms(&self) -> Option<f64> {
        crate::scenario::Threshold::parse(&self.slo)
            .ok()
            .map(|t| t.bound / 1000.0)
    }
}

/// The three parameters of the Universal Scalability Law (N. J. Gunther):
/// throughput `X(N) = λ·N / (1 + σ·(N − 1) + κ·N·(N − 1))` against
/// concurrency `N` (the capacity analysis fits it: src/capacity/usl.rs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usl {
    /// λ: throughput at N = 1, req/s.
    pub lambda: f64,
    /// σ: contention, ≥ 0.
    pub sigma: f64,
    /// κ: coherency, ≥ 0.
    pub kappa: f64,
}

impl Usl {
    /// Throughput at concurrency `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// The highest throughput and the concurrency where it occurs (`None`
    /// when the curve levels off without a maximum: κ = 0, 0 < σ ≤ 1). `None`
    /// for both when nothing bounds the throughput (σ = κ = 0).
    ///
    /// X(N) rises while 1 − σ − κN² > 0: with σ ≥ 1 it never does (σ = 1
    /// and κ = 0 excepted: flat at λ), so the highest throughput is λ, at
    /// one request in flight.
    pub fn peak(&self) -> Option<(f64, Option<f64>)> {
        if self.sigma >= 1.0 && (self.kappa > 0.0 || self.sigma > 1.0) {
            Some((self.lambda, Some(1.0)))
        } else if self.kappa > 0.0 {
            let n = ((1.0 - self.sigma) / self.kappa).sqrt();
            // Below one request in flight the law has no meaning: the peak is
            // then at N = 1.
            let n = n.max(1.0);
            Some((self.throughput(n), Some(n)))
        } else if self.sigma > 0.0 {
            Some((self.lambda / self.sigma, None))
        } else {
            None
        }
    }

    /// The concurrency at which the throughput reaches `x` on the rising side
    /// of the curve, or `None` when it never does (`x` at or above the peak).
    pub fn concurrency_at(&self, x: f64) -> Option<f64> {
        if x.is_nan() || x <= 0.0 {
            return None;
        }
        // N/x = (1 + σ(N−1) + κN(N−1))/λ  ⇔  κN² + (σ − κ − λ/x)N + (1 − σ) = 0
        let (a, b, c) = (
            self.kappa,
            self.sigma - self.kappa - self.lambda / x,
            1.0 - self.sigma,
        );
        let root = if a.abs() < 1e-300 {
            if b >= 0.0 {
                return None;
            }
            -c / b
        } else {
            let disc = b * b - 4.0 * a * c;
            if disc < 0.0 {
                return None;
            }
            // The smaller root, computed without cancellation.
            let q = -0.5 * (b - disc.sqrt());
            c / q
        };
        (root.is_finite() && root > 0.0).then_some(root)
    }
}
