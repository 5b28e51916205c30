//! How a capacity [`Analysis`] is said: `summary.json`'s `capacity` section
//! (and `capacity.json`), the plain-language paragraph in English and in
//! Spanish for the ministry, and the text table `mss-harness capacity` prints.

use std::fmt::Write as _;

use super::usl::Estimate;
use super::*;
use crate::results::capacity::{
    Capacity, CapacityFit, CapacityPoint, CrossingMethod, Estimated, FitModel, SloCrossing,
};

fn estimated(e: &Estimate, digits: i32) -> Estimated {
    let r = |v: f64| v.is_finite().then(|| round(v, digits));
    Estimated {
        value: r(e.value),
        low: r(e.low),
        high: r(e.high),
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

impl Analysis {
    /// `summary.json`'s `capacity` section (and `capacity.json`).
    pub fn to_section(&self) -> Capacity {
        let points = self
            .points
            .iter()
            .map(|p| CapacityPoint {
                run: p.plateau.run.clone(),
                offered_rate: p.plateau.offered,
                users: p.plateau.users.map(|u| u as u64),
                from_s: p.plateau.from_s,
                to_s: p.plateau.to_s,
                throughput: round(p.throughput, 1),
                concurrency: round(p.concurrency, 2),
                p50_ms: round(p.p50_ms, 2),
                p99_ms: round(p.p99_ms, 2),
                slo_ms: round(p.slo_ms, 2),
                error_rate: round(p.error_rate, 5),
                samples: p.samples.iter().map(|s| (round(s.n, 3), s.x)).collect(),
            })
            .collect();
        let fit = self.fit.as_ref().map(|f| CapacityFit {
            lambda: estimated(&f.lambda, 3),
            sigma: estimated(&f.sigma, 6),
            kappa: estimated(&f.kappa, 9),
            peak_throughput: estimated(&f.peak, 1),
            peak_concurrency: f.peak_at.as_ref().map(|e| estimated(e, 2)),
            resamples: f.resamples as u64,
            model: match self.mode {
                Some(usl::Mode::Ceiling) => FitModel::Ceiling,
                _ => FitModel::Free,
            },
            samples: self.points.iter().map(|p| p.samples.len() as u64).sum(),
        });
        let slo_crossing = self.crossing.as_ref().map(|c| match *c {
            Crossing::Interpolated { rate, between } => SloCrossing {
                rate: Some(round(rate, 1)),
                method: CrossingMethod::Interpolated,
                between: Some((between.0, Some(between.1))),
            },
            Crossing::Predicted { rate } => SloCrossing {
                rate: Some(round(rate, 1)),
                method: CrossingMethod::Predicted,
                between: None,
            },
            Crossing::BelowLowest { rate } => SloCrossing {
                rate: None,
                method: CrossingMethod::BelowLowestPlateau,
                between: Some((0.0, Some(rate))),
            },
            Crossing::NotCrossed { rate } => SloCrossing {
                rate: None,
                method: CrossingMethod::NotCrossed,
                between: Some((rate, None)),
            },
        });
        Capacity {
            slo: self.slo.expr.clone(),
            points,
            fit,
            slo_crossing,
            refused: self.refused.clone(),
            warnings: self.warnings.clone(),
            summary_en: self.paragraph(Lang::En),
            summary_es: self.paragraph(Lang::Es),
        }
    }

    /// The plain-language paragraph for the ministry.
    pub fn paragraph(&self, lang: Lang) -> String {
        let es = lang == Lang::Es;
        let n = |v: f64| number(v, es);
        let mut t = String::new();
        // One sentence in the paragraph's language, its arguments written once.
        macro_rules! say {
            (en: $en:literal, es: $es:literal $(, $arg:expr)* $(,)?) => {
                let _ = if es {
                    write!(t, $es $(, $arg)*)
                } else {
                    write!(t, $en $(, $arg)*)
                };
            };
        }
        let rates: Vec<f64> = self
            .points
            .iter()
            .filter_map(|p| p.plateau.offered)
            .collect();
        let (lo, hi) = (
            rates.iter().copied().fold(f64::INFINITY, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
        );
        let k = self.points.len();
        if rates.is_empty() {
            say!(en: "From {k} load measurements, ", es: "Con {k} mediciones de carga, ");
        } else {
            say!(
                en: "From {k} load plateaus between {} and {} requests per second, ",
                es: "Con {k} escalones de carga entre {} y {} solicitudes por segundo, ",
                n(lo),
                n(hi)
            );
        }
        match (&self.fit, &self.refused) {
            (Some(f), _) => {
                let peak = &f.peak;
                let range = |e: &Estimate| match e.bounds() {
                    None if es => "ninguno, no se pudo ajustar ningún remuestreo".to_owned(),
                    None => "none, no resample could be fitted".to_owned(),
                    Some((low, high)) if high.is_finite() => format!("{}–{}", n(low), n(high)),
                    Some((low, _)) if es => format!("{} o más", n(low)),
                    Some((low, _)) => format!("{} or more", n(low)),
                };
                say!(
                    en: "the service handles at most about {} requests per second (95% confidence interval: {})",
                    es: "el servicio atiende como máximo unas {} solicitudes por segundo (intervalo de confianza del 95 %: {})",
                    n(peak.value),
                    range(peak)
                );
                match &f.peak_at {
                    Some(at) => {
                        say!(
                            en: ", with about {} requests in progress at once; more load lowers the throughput. ",
                            es: ", con unas {} solicitudes simultáneas; con más carga, el rendimiento baja. ",
                            n(at.value)
                        );
                    }
                    None => {
                        say!(
                            en: "; more load does not raise it further. ",
                            es: "; con más carga, el rendimiento se estanca en ese nivel. "
                        );
                    }
                }
            }
            (None, Some(_)) => {
                say!(
                    en: "the maximum capacity cannot be estimated: the measurements show no saturation or are too few. ",
                    es: "no es posible estimar la capacidad máxima: las mediciones no muestran saturación o son muy pocas. "
                );
            }
            (None, None) => {}
        }
        let slo = &self.slo.expr;
        match &self.crossing {
            Some(Crossing::Interpolated { rate, between }) => {
                say!(
                    en: "The response-time objective ({slo}) stops being met at about {} requests per second (interpolated between the measured plateaus at {} and {}). ",
                    es: "El objetivo de tiempo de respuesta ({slo}) se deja de cumplir hacia las {} solicitudes por segundo (interpolado entre los escalones medidos de {} y {}). ",
                    n(*rate),
                    n(between.0),
                    n(between.1)
                );
            }
            Some(Crossing::Predicted { rate }) => {
                say!(
                    en: "By the fitted model (Little's law on the curve), the response-time objective ({slo}) would stop being met at about {} requests per second; no measured plateau reached that point. ",
                    es: "Según el modelo ajustado (ley de Little sobre la curva), el objetivo de tiempo de respuesta ({slo}) se dejaría de cumplir hacia las {} solicitudes por segundo; ningún escalón medido llegó a ese punto. ",
                    n(*rate)
                );
            }
            Some(Crossing::BelowLowest { rate }) => {
                say!(
                    en: "The response-time objective ({slo}) is already missed at the lowest load measured ({} requests per second). ",
                    es: "El objetivo de tiempo de respuesta ({slo}) ya no se cumple con la carga más baja medida ({} solicitudes por segundo). ",
                    n(*rate)
                );
            }
            Some(Crossing::NotCrossed { rate }) => {
                say!(
                    en: "The response-time objective ({slo}) is met at every measured plateau, up to {} requests per second. ",
                    es: "El objetivo de tiempo de respuesta ({slo}) se cumple en todos los escalones medidos, hasta {} solicitudes por segundo. ",
                    n(*rate)
                );
            }
            None => {}
        }
        if self.fit.is_some() {
            say!(
                en: "Production load should be planned below these figures, with a margin.",
                es: "Conviene planear la carga de producción por debajo de esas cifras, con margen."
            );
        }
        t.trim_end().to_owned()
    }

    /// The analysis as text, for the terminal.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "capacity: SLO {}", self.slo.expr);
        let _ = writeln!(
            t,
            "{:>10} {:>7} {:>11} {:>11} {:>9} {:>9} {:>9} {:>7}",
            "offered", "users", "throughput", "in flight", "p50 ms", "p99 ms", "SLO ms", "errors"
        );
        for p in &self.points {
            let _ = writeln!(
                t,
                "{:>10} {:>7} {:>11.1} {:>11.2} {:>9.1} {:>9.1} {:>9.1} {:>6.2}%",
                p.plateau
                    .offered
                    .map_or("—".to_owned(), |r| format!("{r:.0}")),
                p.plateau.users.map_or("—".to_owned(), |u| u.to_string()),
                p.throughput,
                p.concurrency,
                p.p50_ms,
                p.p99_ms,
                p.slo_ms,
                p.error_rate * 100.0
            );
        }
        if let Some(f) = &self.fit {
            let e = |name: &str, v: &Estimate, d: usize| match v.bounds() {
                Some((low, high)) => {
                    format!("  {name:<18} {:.d$}  [{low:.d$}, {high:.d$}]\n", v.value)
                }
                None => format!("  {name:<18} {:.d$}  no interval\n", v.value),
            };
            let _ = writeln!(
                t,
                "Universal Scalability Law, 95% bootstrap intervals ({} resamples):",
                f.resamples
            );
            t.push_str(&e("lambda (req/s)", &f.lambda, 3));
            t.push_str(&e("sigma", &f.sigma, 6));
            t.push_str(&e("kappa", &f.kappa, 9));
            t.push_str(&e("peak (req/s)", &f.peak, 1));
            match &f.peak_at {
                Some(at) => t.push_str(&e("at concurrency", at, 1)),
                None => t.push_str("  at concurrency     none: the curve levels off (kappa = 0)\n"),
            }
        }
        if let Some(r) = &self.refused {
            let _ = writeln!(t, "no fit: {r}");
        }
        for w in &self.warnings {
            let _ = writeln!(t, "warning: {w}");
        }
        let _ = writeln!(
            t,
            "\n{}\n\n{}",
            self.paragraph(Lang::En),
            self.paragraph(Lang::Es)
        );
        t
    }
}

/// The language of a paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Spanish (Colombia: thousands with a dot, decimals with a comma).
    Es,
}

/// A figure rounded for people: three significant digits, grouped.
pub(super) fn number(v: f64, es: bool) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let v = if v.abs() >= 1000.0 {
        let magnitude = 10f64.powi(v.abs().log10().floor() as i32 - 2);
        (v / magnitude).round() * magnitude
    } else {
        v
    };
    let text = format!("{v:.digits$}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(if es { '.' } else { ',' });
        }
        grouped.push(c);
    }
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{}{frac}", if es { ',' } else { '.' })
    }
}
