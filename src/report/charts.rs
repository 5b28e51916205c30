//! The report's charts, drawn with plotters into SVG strings.

use plotters::prelude::*;

use super::{Curve, SecondCounts, SecondStats};
use crate::results::capacity::{Capacity, CapacityFit};

const W: u32 = 900;
const H: u32 = 300;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(150, 150, 150);

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("chart: {e}")
}

/// Vertical markers for the token requests: (second, ok).
fn token_marks<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    tokens: &[(f64, bool)],
    y_max: f64,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    for (i, &(at, ok)) in tokens.iter().enumerate() {
        let color = if ok { GREEN } else { RED };
        let series = chart
            .draw_series(LineSeries::new(
                [(at.max(0.0), 0.0), (at.max(0.0), y_max)],
                color.stroke_width(1),
            ))
            .map_err(err)?;
        if i == 0 {
            series
                .label("token request")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
    }
    Ok(())
}

/// One line of a time chart.
struct Line {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// A chart over the seconds of the run: `lines`, and the token requests.
fn time_chart(
    title: &str,
    y_desc: &str,
    lines: Vec<Line>,
    tokens: &[(f64, bool)],
    legend: SeriesLabelPosition,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let all = || lines.iter().flat_map(|l| l.points.iter());
        let x_max = all().map(|p| p.0 + 0.5).fold(1.0, f64::max);
        let y_max = all().map(|p| p.1).fold(1.0, f64::max) * 1.12;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for line in lines {
            let color = line.color;
            chart
                .draw_series(LineSeries::new(line.points, color.stroke_width(2)))
                .map_err(err)?
                .label(line.label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        token_marks(&mut chart, tokens, y_max)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(legend)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// p50, p90 and p99 per second of one service, with the token requests.
pub fn latency_over_time(
    service: &str,
    series: &[SecondStats],
    tokens: &[(f64, bool)],
) -> anyhow::Result<String> {
    let line = |label, color, pick: fn(&SecondStats) -> f64| Line {
        label,
        color,
        points: series.iter().map(|s| (s.second + 0.5, pick(s))).collect(),
    };
    time_chart(
        &format!("{service}: latency per second"),
        "ms from intended send",
        vec![
            line("p50", BLUE, |s| s.p50),
            line("p90", ORANGE, |s| s.p90),
            line("p99", PURPLE, |s| s.p99),
        ],
        tokens,
        SeriesLabelPosition::UpperRight,
    )
}

/// Requests ended, stored and failed per second, over every service.
pub fn throughput(
    counts: &[(u64, SecondCounts)],
    tokens: &[(f64, bool)],
) -> anyhow::Result<String> {
    let line = |label, color, pick: fn(&SecondCounts) -> u64| Line {
        label,
        color,
        points: counts
            .iter()
            .map(|(s, c)| (*s as f64 + 0.5, pick(c) as f64))
            .collect(),
    };
    time_chart(
        "Throughput per second (all services)",
        "requests / s",
        vec![
            line("sent", BLUE, |c| c.sent),
            line("stored", GREEN, |c| c.stored),
            line("errors", RED, |c| c.errors),
        ],
        tokens,
        SeriesLabelPosition::LowerRight,
    )
}

/// The percentile distribution, HdrHistogram style: x is 1 / (1 − q) on a log
/// axis (50%, 90%, 99%, 99.9% … evenly spaced), y the latency.
pub fn distribution(curves: &[Curve]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + 60)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let to_x = |p: f64| 1.0 / (1.0 - (p / 100.0).min(0.999_999));
        let x_max = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|(p, _)| to_x(*p)))
            .fold(10.0, f64::max)
            .max(10.0);
        let y_max = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|(_, v)| *v))
            .fold(1.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency by percentile", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("ms")
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 1.0 / x);
                if p < 99.0 {
                    format!("{p:.0}%")
                } else {
                    let digits = format!("{p:.4}");
                    format!("{}%", digits.trim_end_matches('0').trim_end_matches('.'))
                }
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let palette = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY];
        for (i, c) in curves.iter().enumerate() {
            let color = palette[i % palette.len()];
            let dashed = c.kind == "service_time";
            let label = format!(
                "{} — {}",
                c.service,
                if dashed {
                    "service time"
                } else {
                    "from intended time"
                }
            );
            let points: Vec<(f64, f64)> = c.points.iter().map(|(p, v)| (to_x(*p), *v)).collect();
            let style = color.stroke_width(if dashed { 1 } else { 2 });
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Capacity: throughput against concurrency — each second of each plateau
/// (grey), each plateau's mean (blue), the fitted Universal Scalability Law
/// (orange) and its peak (red) — from a `capacity` section of `summary.json`.
pub fn capacity(section: &Capacity) -> anyhow::Result<String> {
    let points: Vec<(f64, f64)> = section
        .points
        .iter()
        .map(|p| (p.concurrency, p.throughput))
        .collect();
    let samples: Vec<(f64, f64)> = section
        .points
        .iter()
        .flat_map(|p| p.samples.iter().copied())
        .collect();
    let usl = section.fit.as_ref().and_then(CapacityFit::usl);
    let peak = section.fit.as_ref().and_then(|f| f.peak_throughput.value);
    let x_max = samples
        .iter()
        .chain(points.iter())
        .map(|p| p.0)
        .fold(1.0, f64::max)
        * 1.1;
    let y_max = samples
        .iter()
        .chain(points.iter())
        .map(|p| p.1)
        .chain(peak)
        .fold(1.0, f64::max)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + 60)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Capacity: throughput against requests in flight",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("requests in flight (Little's law)")
            .y_desc("accepted requests / s")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                samples
                    .iter()
                    .map(|&p| Circle::new(p, 2, GREY.mix(0.6).filled())),
            )
            .map_err(err)?
            .label("one second")
            .legend(|(x, y)| Circle::new((x + 8, y), 2, GREY.filled()));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 5, BLUE.filled())))
            .map_err(err)?
            .label("plateau (mean)")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, BLUE.filled()));
        if let Some(u) = usl {
            let curve: Vec<(f64, f64)> = (0..=400)
                .map(|i| x_max * f64::from(i) / 400.0)
                .map(|n| (n, u.throughput(n).max(0.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(curve, ORANGE.stroke_width(2)))
                .map_err(err)?
                .label("Universal Scalability Law (fit)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ORANGE.stroke_width(2)));
        }
        if let Some(p) = peak {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, p), (x_max, p)],
                    RED.mix(0.7).stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("predicted peak {p:.0} req/s"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Capacity: the SLO's latency percentile of each plateau against its
/// offered rate, the SLO and where it is crossed.
pub fn capacity_latency(section: &Capacity) -> anyhow::Result<String> {
    let points: Vec<(f64, f64)> = section
        .points
        .iter()
        .filter_map(|p| Some((p.offered_rate?, p.slo_ms)))
        .collect();
    let slo_ms = section.slo_bound_ms();
    let crossing = section.slo_crossing.as_ref().and_then(|c| c.rate);
    let x_max = points
        .iter()
        .map(|p| p.0)
        .chain(crossing)
        .fold(1.0, f64::max)
        * 1.1;
    let y_max = points.iter().map(|p| p.1).chain(slo_ms).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{} against the offered rate", section.slo),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("offered requests / s")
            .y_desc("ms from intended send")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let mut sorted = points.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(sorted, PURPLE.stroke_width(1)))
            .map_err(err)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 5, PURPLE.filled())))
            .map_err(err)?
            .label("plateau")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, PURPLE.filled()));
        if let Some(s) = slo_ms {
            chart
                .draw_series(LineSeries::new([(0.0, s), (x_max, s)], RED.stroke_width(1)))
                .map_err(err)?
                .label("SLO")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
        }
        if let Some(c) = crossing {
            chart
                .draw_series(LineSeries::new(
                    [(c, 0.0), (c, y_max)],
                    GREEN.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("SLO crossed at {c:.0} req/s"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREEN.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
