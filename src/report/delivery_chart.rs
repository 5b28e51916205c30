//! The report's delivery chart, from `delivery.csv`: second by second, what
//! the plan asked for against what the harness sent and dropped (above), and
//! beside it the evidence of what held the run back (below): the most
//! requests in flight against the in-flight cap, and the harness's own CPU.
//! A reader sees in which second the plan began to fall short, and whether
//! the cap was full or the harness busy then. Drawn with plotters into an SVG
//! string, as the other charts (src/report/charts.rs).

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
        let x_max = rows
            .iter()
            .map(|r| r.second as f64 + 1.0)
            .fold(1.0, f64::max);
        plan_against_sent(&top, rows, marks, x_max)?;
        harness(&bottom, rows, marks, x_max)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The vertical line at `since_s`, labelled, from 0 to `y_max`.
fn since_line<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
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
        series
            .label(format!("held back from second {s}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ORANGE.stroke_width(2)));
    }
    Ok(())
}

/// Above: planned, sent and dropped per second (by the second each request
/// was due).
fn plan_against_sent<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    rows: &[DeliveryRow],
    marks: Marks,
    x_max: f64,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
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
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Delivery per second: planned against sent",
            ("sans-serif", 18),
        )
        .margin(10)
        // The width of the chart below's right axis: the seconds line up.
        .margin_right(10 + 60)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("second the requests were due")
        .y_desc("requests")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    if let Some(planned) = planned {
        chart
            .draw_series(LineSeries::new(planned, GREY.stroke_width(3)))
            .map_err(err)?
            .label("planned")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREY.stroke_width(3)));
    }
    chart
        .draw_series(LineSeries::new(sent, BLUE.stroke_width(2)))
        .map_err(err)?
        .label("sent on time")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(dropped, RED.stroke_width(2)))
        .map_err(err)?
        .label("dropped")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    since_line(&mut chart, marks.since_s, y_max, true)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Below: the in-flight peak against the cap (left axis), the harness's CPU
/// and its busiest worker thread (right axis, % of one core).
fn harness<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    rows: &[DeliveryRow],
    marks: Marks,
    x_max: f64,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
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
    let mut chart = ChartBuilder::on(area)
        .caption(
            "The harness per second: requests in flight and its CPU",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?
        .set_secondary_coord(0.0..x_max, 0.0..pct_max);
    chart
        .configure_mesh()
        .x_desc("second")
        .y_desc("most in flight")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("% of one core")
        .draw()
        .map_err(err)?;
    if marks.in_flight_cap > 0 {
        let cap = marks.in_flight_cap as f64;
        chart
            .draw_series(LineSeries::new(
                [(0.0, cap), (x_max, cap)],
                DARK.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("in-flight cap ({})", marks.in_flight_cap))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], DARK));
    }
    chart
        .draw_series(LineSeries::new(in_flight, PURPLE.stroke_width(2)))
        .map_err(err)?
        .label("most in flight")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], PURPLE.stroke_width(2)));
    if !cpu.is_empty() {
        chart
            .draw_secondary_series(LineSeries::new(cpu, ORANGE.mix(0.8).stroke_width(1)))
            .map_err(err)?
            .label("harness CPU (right axis)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ORANGE));
    }
    if !busiest.is_empty() {
        chart
            .draw_secondary_series(LineSeries::new(busiest, GREEN.stroke_width(1)))
            .map_err(err)?
            .label("busiest worker thread (right axis)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREEN));
    }
    since_line(&mut chart, marks.since_s, y_max, false)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
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
