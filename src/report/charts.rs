//! The report's charts, drawn with plotters into SVG strings.

use plotters::chart::SeriesAnno;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::IntoDynElement;
use plotters::prelude::*;

use super::{Curve, SecondCounts, SecondStats};
use crate::results::capacity::{Capacity, CapacityFit};

/// A point of the drawing, in pixels (plotters' backend coordinate).
type Pixel = (i32, i32);

/// The width of every chart of the report.
pub(super) const W: u32 = 900;
const H: u32 = 300;
/// The report's palette (every chart's).
pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(super) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(super) const RED: RGBColor = RGBColor(214, 39, 40);
pub(super) const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub(super) const GREY: RGBColor = RGBColor(150, 150, 150);

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("chart: {e}")
}

/// A chart being drawn into an SVG string, with axes `X` and `Y`.
type Plot<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// A chart with two linear axes.
type Linear<'a, 'b> = Plot<'a, 'b, RangedCoordf64, RangedCoordf64>;

/// What every chart has around its series: its height, title, the names of
/// its axes and where its legend sits.
struct Frame<'a> {
    height: u32,
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    legend: SeriesLabelPosition,
}

impl<'a> Frame<'a> {
    /// The frame of a chart over the seconds of the run.
    fn over_seconds(title: &'a str, y_desc: &'a str, legend: SeriesLabelPosition) -> Self {
        Frame {
            height: H,
            title,
            x_desc: "seconds",
            y_desc,
            legend,
        }
    }
}

/// Draws `frame` over the axes `x` and `y` (the x labels written by
/// `x_labels` when given, plotters' own otherwise), then the series `series`
/// adds, then the legend; the SVG.
fn svg<X, Y>(
    frame: Frame<'_>,
    x: X,
    y: Y,
    x_labels: Option<&dyn Fn(&f64) -> String>,
    series: impl FnOnce(&mut Plot<'_, '_, X::CoordDescType, Y::CoordDescType>) -> anyhow::Result<()>,
) -> anyhow::Result<String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, frame.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(frame.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(frame.x_desc).y_desc(frame.y_desc);
        if let Some(x_labels) = x_labels {
            mesh.x_label_formatter(x_labels);
        }
        mesh.light_line_style(WHITE.mix(0.0)).draw().map_err(err)?;
        series(&mut chart)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(frame.legend)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A legend key: a short line drawn in `style`.
fn line_key(style: impl Into<ShapeStyle>) -> impl Fn(Pixel) -> PathElement<Pixel> {
    let style = style.into();
    move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style)
}

/// A legend key: a dot of `radius` filled with `color`.
fn dot_key(radius: i32, color: RGBColor) -> impl Fn(Pixel) -> Circle<Pixel, i32> {
    move |(x, y)| Circle::new((x + 8, y), radius, color.filled())
}

/// Names a series just drawn in the legend: `label`, beside `key`.
fn keyed<'a, 'b, E>(
    drawn: Result<&mut SeriesAnno<'a, SVGBackend<'b>>, impl std::fmt::Display>,
    label: impl Into<String>,
    key: impl Fn(Pixel) -> E + 'a,
) -> anyhow::Result<()>
where
    E: IntoDynElement<'a, SVGBackend<'b>, Pixel>,
{
    drawn.map_err(err)?.label(label).legend(key);
    Ok(())
}

/// A dot of `radius` in `style` at each of `points`, named `label` in the
/// legend beside a dot filled with `key`.
fn dots(
    chart: &mut Linear<'_, '_>,
    points: &[(f64, f64)],
    radius: i32,
    style: ShapeStyle,
    label: &str,
    key: RGBColor,
) -> anyhow::Result<()> {
    let series = points.iter().map(|&p| Circle::new(p, radius, style));
    keyed(chart.draw_series(series), label, dot_key(radius, key))
}

/// A straight marker from one point to another, drawn in `style` and named
/// `label` in the legend beside a line in `key`.
fn marker(
    chart: &mut Linear<'_, '_>,
    ends: [(f64, f64); 2],
    style: ShapeStyle,
    label: impl Into<String>,
    key: impl Into<ShapeStyle>,
) -> anyhow::Result<()> {
    let key: ShapeStyle = key.into();
    keyed(
        chart.draw_series(LineSeries::new(ends, style)),
        label,
        line_key(key),
    )
}

/// Vertical markers for the token requests: (second, ok).
fn token_marks(
    chart: &mut Linear<'_, '_>,
    tokens: &[(f64, bool)],
    y_max: f64,
) -> anyhow::Result<()> {
    for (i, &(at, ok)) in tokens.iter().enumerate() {
        let color = if ok { GREEN } else { RED };
        let series = chart
            .draw_series(LineSeries::new(
                [(at.max(0.0), 0.0), (at.max(0.0), y_max)],
                color.stroke_width(1),
            ))
            .map_err(err)?;
        if i == 0 {
            series.label("token request").legend(line_key(color));
        }
    }
    Ok(())
}

/// One line of a time chart: its label, its colour, and its value in a
/// second's row.
type Line<T> = (&'static str, RGBColor, fn(&T) -> f64);

/// The latency chart's lines.
const LATENCY_LINES: [Line<SecondStats>; 3] = [
    ("p50", BLUE, |s| s.p50),
    ("p90", ORANGE, |s| s.p90),
    ("p99", PURPLE, |s| s.p99),
];

/// The throughput chart's lines.
const THROUGHPUT_LINES: [Line<SecondCounts>; 3] = [
    ("sent", BLUE, |c| c.sent as f64),
    ("stored", GREEN, |c| c.stored as f64),
    ("errors", RED, |c| c.errors as f64),
];

/// A chart over the seconds of the run: `lines` through `rows` (the second
/// from the start, its row), and the token requests.
fn time_chart<'r, T: 'r>(
    frame: Frame<'_>,
    rows: impl Iterator<Item = (f64, &'r T)> + Clone,
    lines: &[Line<T>],
    tokens: &[(f64, bool)],
) -> anyhow::Result<String> {
    let points = |pick: fn(&T) -> f64| rows.clone().map(move |(s, r)| (s + 0.5, pick(r)));
    let all = || lines.iter().flat_map(|&(_, _, pick)| points(pick));
    let x_max = all().map(|p| p.0 + 0.5).fold(1.0, f64::max);
    let y_max = all().map(|p| p.1).fold(1.0, f64::max) * 1.12;
    svg(frame, 0.0..x_max, 0.0..y_max, None, |chart| {
        for &(label, color, pick) in lines {
            let style = color.stroke_width(2);
            let series = LineSeries::new(points(pick), style);
            keyed(chart.draw_series(series), label, line_key(style))?;
        }
        token_marks(chart, tokens, y_max)
    })
}

/// p50, p90 and p99 per second of one service, with the token requests.
pub fn latency_over_time(
    service: &str,
    series: &[SecondStats],
    tokens: &[(f64, bool)],
) -> anyhow::Result<String> {
    let title = format!("{service}: latency per second");
    let frame = Frame::over_seconds(
        &title,
        "ms from intended send",
        SeriesLabelPosition::UpperRight,
    );
    let rows = series.iter().map(|s| (s.second, s));
    time_chart(frame, rows, &LATENCY_LINES, tokens)
}

/// Requests ended, stored and failed per second, over every service.
pub fn throughput(
    counts: &[(u64, SecondCounts)],
    tokens: &[(f64, bool)],
) -> anyhow::Result<String> {
    let title = "Throughput per second (all services)";
    let frame = Frame::over_seconds(title, "requests / s", SeriesLabelPosition::LowerRight);
    let rows = counts.iter().map(|(s, c)| (*s as f64, c));
    time_chart(frame, rows, &THROUGHPUT_LINES, tokens)
}

/// The percentile distribution, HdrHistogram style: x is 1 / (1 − q) on a log
/// axis (50%, 90%, 99%, 99.9% … evenly spaced), y the latency.
pub fn distribution(curves: &[Curve]) -> anyhow::Result<String> {
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
    let percentile = |x: &f64| {
        let p = 100.0 * (1.0 - 1.0 / x);
        if p < 99.0 {
            format!("{p:.0}%")
        } else {
            let digits = format!("{p:.4}");
            format!("{}%", digits.trim_end_matches('0').trim_end_matches('.'))
        }
    };
    let frame = Frame {
        height: H + 60,
        title: "Latency by percentile",
        x_desc: "percentile",
        y_desc: "ms",
        legend: SeriesLabelPosition::UpperLeft,
    };
    let x = (1.0..x_max).log_scale();
    svg(frame, x, 0.0..y_max, Some(&percentile), |chart| {
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
            keyed(
                chart.draw_series(LineSeries::new(points, style)),
                label,
                line_key(style),
            )?;
        }
        Ok(())
    })
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
    let frame = Frame {
        height: H + 60,
        title: "Capacity: throughput against requests in flight",
        x_desc: "requests in flight (Little's law)",
        y_desc: "accepted requests / s",
        legend: SeriesLabelPosition::LowerRight,
    };
    svg(frame, 0.0..x_max, 0.0..y_max, None, |chart| {
        dots(
            chart,
            &samples,
            2,
            GREY.mix(0.6).filled(),
            "one second",
            GREY,
        )?;
        dots(chart, &points, 5, BLUE.filled(), "plateau (mean)", BLUE)?;
        if let Some(u) = usl {
            let curve: Vec<(f64, f64)> = (0..=400)
                .map(|i| x_max * f64::from(i) / 400.0)
                .map(|n| (n, u.throughput(n).max(0.0)))
                .collect();
            keyed(
                chart.draw_series(LineSeries::new(curve, ORANGE.stroke_width(2))),
                "Universal Scalability Law (fit)",
                line_key(ORANGE.stroke_width(2)),
            )?;
        }
        if let Some(p) = peak {
            let label = format!("predicted peak {p:.0} req/s");
            let style = RED.mix(0.7).stroke_width(1);
            marker(chart, [(0.0, p), (x_max, p)], style, label, RED)?;
        }
        Ok(())
    })
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
    let title = format!("{} against the offered rate", section.slo);
    let frame = Frame {
        height: H,
        title: &title,
        x_desc: "offered requests / s",
        y_desc: "ms from intended send",
        legend: SeriesLabelPosition::UpperLeft,
    };
    svg(frame, 0.0..x_max, 0.0..y_max, None, |chart| {
        let mut sorted = points.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(sorted, PURPLE.stroke_width(1)))
            .map_err(err)?;
        dots(chart, &points, 5, PURPLE.filled(), "plateau", PURPLE)?;
        if let Some(s) = slo_ms {
            marker(
                chart,
                [(0.0, s), (x_max, s)],
                RED.stroke_width(1),
                "SLO",
                RED,
            )?;
        }
        if let Some(c) = crossing {
            let label = format!("SLO crossed at {c:.0} req/s");
            let style = GREEN.stroke_width(2);
            marker(chart, [(c, 0.0), (c, y_max)], style, label, style)?;
        }
        Ok(())
    })
}
