//! The report's delivery chart, from `delivery.csv`: second by second, what
//! the plan asked for against what the harness sent and dropped (above), and
//! beside it the evidence of what held the run back (below): the most
//! requests in flight against the in-flight cap, and the harness's own CPU.
//! A reader sees in which second the plan began to fall short, and whether
//! the cap was full or the harness busy then. Drawn with plotters into an SVG
//! string, as the other charts (src/report/charts.rs).

use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::delivery::DeliveryRow;

use super::charts::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED, W};

const TOP: u32 = 290;
const BOTTOM: u32 = 250;
const DARK: RGBColor = RGBColor(91, 100, 117);

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("delivery chart: {e}")
}

/// What the chart marks besides the rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks {
    /// The most requests the run lets be in flight at once (0: unknown).
    pub in_flight_cap: u64,
    /// The first second what held the run back showed (`bound_by.since_s`).
    pub since_s: Option<u64>,
}

/// The delivery chart of `rows` (one per second of `delivery.csv`).
pub fn delivery(rows: &[DeliveryRow], marks: Marks) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, TOP + BOTTOM)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(TOP);
        let panels = Panels {
            rows,
            marks,
            x_max: rows
                .iter()
                .map(|r| r.second as f64 + 1.0)
                .fold(1.0, f64::max),
        };
        panels.plan_against_sent(&top)?;
        panels.harness(&bottom)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Both charts' coordinates: seconds across, their measure up.
type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart of the delivery chart, captioned, its left and bottom axes' room
/// made.
fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60);
    builder
}

/// A series' entry in the legend: `label` beside a short line in `style`.
fn legend<DB: DrawingBackend>(
    series: &mut SeriesAnno<'_, DB>,
    label: impl Into<String>,
    style: ShapeStyle,
) {
    series
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
}

/// A line through `points` in `style`, with its entry in the legend.
fn line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: Vec<(f64, f64)>,
    style: ShapeStyle,
    label: impl Into<String>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let series = chart
        .draw_series(LineSeries::new(points, style))
        .map_err(err)?;
    legend(series, label, style);
    Ok(())
}

/// The grid, with the axes described.
fn mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    x: &str,
    y: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)
}

/// The legend's box, at `position`.
fn legend_box<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .position(position)
        .draw()
        .map_err(err)
}

/// The vertical line at `since_s`, labelled, from 0 to `y_max`.
fn since_line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    since: Option<u64>,
    y_max: f64,
    labelled: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let Some(s) = since else {
        return Ok(());
    };
    let x = s as f64;
    let series = chart
        .draw_series(LineSeries::new(
            [(x, 0.0), (x, y_max)],
            ORANGE.stroke_width(2),
        ))
        .map_err(err)?;
    if labelled {
        legend(
            series,
            format!("held back from second {s}"),
            ORANGE.stroke_width(2),
        );
    }
    Ok(())
}

/// What both panels draw from: the rows, the marks, and the seconds across
/// (the same for both, so that the seconds line up).
#[derive(Debug, Clone, Copy)]
struct Panels<'r> {
    rows: &'r [DeliveryRow],
    marks: Marks,
    x_max: f64,
}

impl Panels<'_> {
    /// Above: planned, sent and dropped per second (by the second each request
    /// was due).
    fn plan_against_sent<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let Panels { rows, marks, x_max } = self;
        // Each second's counts drawn across the second, as steps.
        let steps = |pick: &dyn Fn(&DeliveryRow) -> f64| -> Vec<(f64, f64)> {
            rows.iter()
                .flat_map(|r| {
                    let (x, y) = (r.second as f64, pick(r));
                    [(x, y), (x + 1.0, y)]
                })
                .collect()
        };
        let planned: Option<Vec<(f64, f64)>> = rows
            .iter()
            .all(|r| r.planned.is_some())
            .then(|| steps(&|r| r.planned.unwrap_or(0) as f64))
            .filter(|p| !p.is_empty());
        let sent = steps(&|r| r.sent as f64);
        let dropped = steps(&|r| r.dropped as f64);
        let y_max = planned
            .iter()
            .flatten()
            .chain(&sent)
            .chain(&dropped)
            .map(|p| p.1)
            .fold(1.0, f64::max)
            * 1.15;
        let mut chart = builder(area, "Delivery per second: planned against sent")
            // The width of the chart below's right axis: the seconds line up.
            .margin_right(10 + 60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        mesh(&mut chart, "second the requests were due", "requests")?;
        if let Some(planned) = planned {
            line(&mut chart, planned, GREY.stroke_width(3), "planned")?;
        }
        line(&mut chart, sent, BLUE.stroke_width(2), "sent on time")?;
        line(&mut chart, dropped, RED.stroke_width(2), "dropped")?;
        since_line(&mut chart, marks.since_s, y_max, true)?;
        legend_box(&mut chart, SeriesLabelPosition::LowerRight)
    }

    /// Below: the in-flight peak against the cap (left axis), the harness's CPU
    /// and its busiest worker thread (right axis, % of one core).
    fn harness<DB: DrawingBackend>(self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let Panels { rows, marks, x_max } = self;
        let mid = |r: &DeliveryRow| r.second as f64 + 0.5;
        let in_flight: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (mid(r), r.in_flight_peak as f64))
            .collect();
        let percent = |pick: fn(&DeliveryRow) -> Option<f64>| -> Vec<(f64, f64)> {
            rows.iter()
                .filter_map(|r| Some((mid(r), pick(r)?)))
                .collect()
        };
        let cpu = percent(|r| r.harness_cpu_pct);
        let busiest = percent(|r| r.busiest_worker_pct);
        let y_max = in_flight
            .iter()
            .map(|p| p.1)
            .chain(std::iter::once(marks.in_flight_cap as f64))
            .fold(1.0, f64::max)
            * 1.15;
        let pct_max = cpu
            .iter()
            .chain(&busiest)
            .map(|p| p.1)
            .fold(100.0, f64::max)
            * 1.1;
        let mut chart = builder(
            area,
            "The harness per second: requests in flight and its CPU",
        )
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?
        .set_secondary_coord(0.0..x_max, 0.0..pct_max);
        mesh(&mut chart, "second", "most in flight")?;
        chart
            .configure_secondary_axes()
            .y_desc("% of one core")
            .draw()
            .map_err(err)?;
        if marks.in_flight_cap > 0 {
            let cap = marks.in_flight_cap as f64;
            line(
                &mut chart,
                vec![(0.0, cap), (x_max, cap)],
                DARK.stroke_width(1),
                format!("in-flight cap ({})", marks.in_flight_cap),
            )?;
        }
        line(
            &mut chart,
            in_flight,
            PURPLE.stroke_width(2),
            "most in flight",
        )?;
        // The right axis: the line of the CPU lighter than its legend's.
        for (points, style, key, label) in [
            (cpu, ORANGE.mix(0.8), ORANGE, "harness CPU (right axis)"),
            (
                busiest,
                GREEN.into(),
                GREEN,
                "busiest worker thread (right axis)",
            ),
        ] {
            if !points.is_empty() {
                let series = chart
                    .draw_secondary_series(LineSeries::new(points, style.stroke_width(1)))
                    .map_err(err)?;
                legend(series, label, key.into());
            }
        }
        since_line(&mut chart, marks.since_s, y_max, false)?;
        legend_box(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(second: u64, planned: Option<u64>, sent: u64, peak: u64) -> DeliveryRow {
        DeliveryRow {
            second,
            planned,
            sent,
            dropped: planned.map_or(0, |p| p - sent),
            in_flight_peak: peak,
            send_lag_p99_ms: 0.2,
            harness_cpu_pct: Some(12.0),
            busiest_worker_pct: Some(9.0),
            idlest_worker_pct: Some(1.0),
        }
    }

    #[test]
    fn the_chart_draws_the_plan_the_cap_and_when_the_run_fell_short() {
        let rows: Vec<DeliveryRow> = (0..10).map(|s| row(s, Some(200), 20, 20)).collect();
        let svg = delivery(
            &rows,
            Marks {
                in_flight_cap: 20,
                since_s: Some(0),
            },
        )
        .expect("chart");
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        for label in [
            "planned",
            "sent on time",
            "dropped",
            "held back from second 0",
            "in-flight cap (20)",
            "most in flight",
            "harness CPU (right axis)",
            "busiest worker thread (right axis)",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
    }

    #[test]
    fn a_closed_model_has_no_planned_line_and_an_empty_file_still_draws() {
        let rows: Vec<DeliveryRow> = (0..3).map(|s| row(s, None, 30, 5)).collect();
        let svg = delivery(&rows, Marks::default()).expect("chart");
        assert!(!svg.contains(">planned<"), "{svg}");
        assert!(svg.contains("sent on time"));
        assert!(!svg.contains("held back from"));
        let svg = delivery(&[], Marks::default()).expect("an empty chart");
        assert!(svg.contains("</svg>"));
    }
}
