//! Threshold expressions (`p99 < 800ms`, `error_rate < 1%`, `throughput >= 100`):
//! the type a scenario's `[thresholds]` are parsed into, once, and how a
//! measured value is judged against one.

use std::fmt;

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency percentile (from the intended send time), 0–100.
    Percentile(f64),
    /// The largest latency.
    Max,
    /// The mean latency.
    Mean,
    /// Share of requests that did not end `ok`, 0–1.
    ErrorRate,
    /// Share of requests `dropped`, 0–1.
    DropRate,
    /// Accepted requests per second over the run.
    Throughput,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// `p99 < 800ms`, `error_rate < 1%`, `throughput >= 100`: a parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub expr: String,
    /// What it measures.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// The bound: microseconds for latencies, a fraction for rates, req/s for
    /// throughput.
    pub bound: f64,
}

impl Threshold {
    /// Parse one expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let text = expr.trim();
        let (at, op_len, op) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|o| {
                text.find(o).map(|i| {
                    (
                        i,
                        o.len(),
                        match *o {
                            "<=" => Op::Le,
                            ">=" => Op::Ge,
                            "<" => Op::Lt,
                            _ => Op::Gt,
                        },
                    )
                })
            })
            .ok_or_else(|| format!("{expr:?}: expected METRIC OP VALUE, e.g. \"p99 < 800ms\""))?;
        let name = text[..at].trim();
        let value = text[at + op_len..].trim();
        let metric = match name {
            "max" => Metric::Max,
            "mean" | "avg" => Metric::Mean,
            "error_rate" => Metric::ErrorRate,
            "drop_rate" => Metric::DropRate,
            "throughput" | "rps" => Metric::Throughput,
            p if p.starts_with('p') => {
                let digits = &p[1..];
                let q = match digits {
                    "999" => 99.9,
                    d => d
                        .parse::<f64>()
                        .map_err(|_| format!("{expr:?}: unknown metric {p:?}"))?,
                };
                if !(0.0..=100.0).contains(&q) || q == 0.0 {
                    return Err(format!("{expr:?}: percentile {p:?} out of range"));
                }
                Metric::Percentile(q)
            }
            other => {
                return Err(format!(
                    "{expr:?}: unknown metric {other:?}; use p50, p90, p95, p99, p999, max, mean, error_rate, drop_rate or throughput"
                ));
            }
        };
        let bound = match metric {
            Metric::Percentile(_) | Metric::Max | Metric::Mean => {
                let d = humantime::parse_duration(value).map_err(|_| {
                    format!("{expr:?}: {value:?} is not a duration like 800ms or 2s")
                })?;
                d.as_secs_f64() * 1e6
            }
            Metric::ErrorRate | Metric::DropRate => {
                let n = value.strip_suffix('%').unwrap_or(value).trim();
                let n: f64 = n
                    .parse()
                    .map_err(|_| format!("{expr:?}: {value:?} is not a percentage like 1%"))?;
                if !value.ends_with('%') || !(0.0..=100.0).contains(&n) {
                    return Err(format!(
                        "{expr:?}: {value:?} must be a percentage between 0% and 100%"
                    ));
                }
                n / 100.0
            }
            Metric::Throughput => {
                let n: f64 = value.trim_end_matches("/s").trim().parse().map_err(|_| {
                    format!("{expr:?}: {value:?} is not a number of requests per second")
                })?;
                if !(n.is_finite() && n >= 0.0) {
                    return Err(format!("{expr:?}: {value:?} must be a non-negative rate"));
                }
                n
            }
        };
        Ok(Threshold {
            expr: text.to_owned(),
            metric,
            op,
            bound,
        })
    }

    /// What a plateau threshold's metric measured over a window: `latency`
    /// of its `completed` requests, `errors` of them errors (0 where the
    /// metric has nothing to measure).
    pub fn plateau_value(
        &self,
        latency: &hdrhistogram::Histogram<u64>,
        completed: u64,
        errors: u64,
    ) -> f64 {
        match self.metric {
            Metric::Percentile(q) if !latency.is_empty() => {
                latency.value_at_quantile(q / 100.0) as f64
            }
            Metric::Max => latency.max() as f64,
            Metric::Mean => latency.mean(),
            Metric::ErrorRate if completed > 0 => errors as f64 / completed as f64,
            _ => 0.0,
        }
    }

    /// Whether `value` (same unit as the bound) meets it.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Lt => value < self.bound,
            Op::Le => value <= self.bound,
            Op::Gt => value > self.bound,
            Op::Ge => value >= self.bound,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_with_units() {
        let t = Threshold::parse("p99 < 800ms").expect("p99");
        assert_eq!(t.metric, Metric::Percentile(99.0));
        assert_eq!(t.bound, 800_000.0);
        assert!(t.holds(799_999.0) && !t.holds(800_000.0));
        let t = Threshold::parse("error_rate <= 1%").expect("error rate");
        assert_eq!((t.metric, t.op, t.bound), (Metric::ErrorRate, Op::Le, 0.01));
        let t = Threshold::parse("p999<2s").expect("p999");
        assert_eq!(t.metric, Metric::Percentile(99.9));
        assert_eq!(t.bound, 2e6);
        assert_eq!(
            Threshold::parse("throughput >= 95").expect("rps").bound,
            95.0
        );
        for bad in [
            "p99 800ms",
            "p99 < fast",
            "error_rate < 2",
            "latency < 1s",
            "p0 < 1s",
            "error_rate < 120%",
        ] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
    }
}
