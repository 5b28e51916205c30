//! `history.html`, the page of `mss-harness history report`: a run history's
//! trends, per scenario and target and per service the p50, p99, throughput
//! and error rate over the runs (inline SVG drawn with plotters), each change
//! point marked where the new level starts and listed with what changed.
//! Self-contained like `report.html` (inline CSS and SVG, no script, no
//! network), rendered with minijinja from `history.html.j2`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use minijinja::{Environment, context};
use plotters::prelude::*;
use serde_json::{Value, json};

use crate::history::trend::{Group, Series, Trend};

const TEMPLATE: &str = include_str!("history.html.j2");

/// The page's file name.
pub const FILE: &str = "history.html";

const W: u32 = 470;
const H: u32 = 230;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const RED: RGBColor = RGBColor(214, 39, 40);

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("chart: {e}")
}

/// The series' chart: its values over the runs (x: the run's place, labelled
/// with its id), the segments' means in orange, a red line where each change
/// point's run starts.
fn chart(g: &Group, s: &Series) -> anyhow::Result<String> {
    let m = s.metric;
    let points: Vec<(f64, f64)> = s
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| ((i + 1) as f64, v)))
        .collect();
    let n = g.runs.len().max(1) as f64;
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.15;
    let ids: Vec<i64> = g.runs.iter().map(|r| r.id).collect();
    let label = |x: &f64| {
        let i = x.round() as usize;
        if (x - x.round()).abs() < 1e-6 && i >= 1 && i <= ids.len() {
            format!("#{}", ids[i - 1])
        } else {
            String::new()
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = match m.unit() {
            "ms" => format!("{}, ms", m.name()),
            "/s" => "throughput, stored/s".to_owned(),
            _ => "error rate, %".to_owned(),
        };
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5..n + 0.5, 0.0..y_max)
            .map_err(err)?;
        c.configure_mesh()
            .x_labels(ids.len().min(10))
            .x_label_formatter(&label)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        // The segments' means, as the change points cut the series.
        let mut cuts: Vec<usize> = vec![0];
        cuts.extend(s.shifts.iter().map(|x| x.at));
        cuts.push(g.runs.len());
        for w in cuts.windows(2) {
            let seg: Vec<f64> = points
                .iter()
                .filter(|p| p.0 > w[0] as f64 && p.0 <= w[1] as f64)
                .map(|p| p.1)
                .collect();
            if seg.is_empty() {
                continue;
            }
            let mean = seg.iter().sum::<f64>() / seg.len() as f64;
            c.draw_series(LineSeries::new(
                [(w[0] as f64 + 0.5, mean), (w[1] as f64 + 0.5, mean)],
                ORANGE.mix(0.8).stroke_width(2),
            ))
            .map_err(err)?;
        }
        c.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))
            .map_err(err)?;
        c.draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
            .map_err(err)?;
        // Each change point between the last run of the old level and the
        // first of the new.
        for x in &s.shifts {
            let at = x.at as f64 + 0.5;
            c.draw_series(LineSeries::new(
                [(at, 0.0), (at, y_max)],
                RED.stroke_width(2),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A run's start as it is shown here: `2026-12-07 19:07 UTC`.
const WHEN: &str = "%Y-%m-%d %H:%M UTC";

/// The value of a metric as shown.
fn shown(unit: &str, v: f64) -> String {
    match unit {
        "ms" => format!("{v:.1} ms"),
        "/s" => format!("{v:.1}/s"),
        _ => format!("{v:.2}%"),
    }
}

/// The page of `t`.
pub fn render(t: &Trend) -> anyhow::Result<String> {
    let mut groups = Vec::new();
    for g in &t.groups {
        let mut services = Vec::new();
        let mut shifts = Vec::new();
        for s in &g.services {
            let mut charts = Vec::new();
            for series in &s.series {
                let m = series.metric;
                charts.push(json!({
                    "metric": m.name(),
                    "shifts": series.shifts.iter().map(|x| x.run_id).collect::<Vec<_>>(),
                    "svg": chart(g, series)?,
                }));
                for x in &series.shifts {
                    let run = &g.runs[x.at];
                    let started = run.started(WHEN);
                    let unit = if m.relative() { "%" } else { "pp" };
                    shifts.push(json!({
                        "service": s.service, "metric": m.name(), "run": x.run_id,
                        "started_at": started, "commit": run.short_commit(),
                        "before": shown(m.unit(), x.before), "after": shown(m.unit(), x.after),
                        "change": format!("{:+.1}{unit}", x.change),
                        "worse": if m.worse_up() { x.change > 0.0 } else { x.change < 0.0 },
                        "p_value": format!("{:.3}", x.p_value),
                    }));
                }
            }
            services.push(json!({ "name": s.service, "charts": charts }));
        }
        let runs: Vec<Value> = g
            .runs
            .iter()
            .rev()
            .map(|r| {
                json!({
                    "id": r.id, "started_at": r.started(WHEN), "commit": r.short_commit(),
                    "passed": r.run.passed,
                    "services": g.services.iter().map(|s| {
                        r.service(&s.service).filter(|x| x.requests > 0).map_or_else(
                            || json!({"p50": "—", "p99": "—", "throughput": "—", "errors": "—"}),
                            |x| json!({
                                "p50": format!("{:.1}", x.p50_ms), "p99": format!("{:.1}", x.p99_ms),
                                "throughput": format!("{:.1}", x.throughput), "errors": x.errors,
                            }),
                        )
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        groups.push(json!({
            "scenario": g.scenario, "target": g.target,
            "first": g.runs.first().map(|r| r.started(WHEN)),
            "last": g.runs.last().map(|r| r.started(WHEN)),
            "count": g.runs.len(), "left_out": g.left_out,
            "service_names": g.services.iter().map(|s| s.service.clone()).collect::<Vec<_>>(),
            "services": services, "shifts": shifts, "runs": runs,
        }));
    }
    let p = &t.params;
    let mut env = Environment::new();
    // The `.html` name turns on auto-escaping (scenario names and targets
    // come from users); the charts are marked safe.
    env.add_template("history.html", TEMPLATE)
        .map_err(|e| anyhow::anyhow!("history template: {e}"))?;
    env.get_template("history.html")
        .and_then(|tpl| {
            tpl.render(context! {
                file => t.file,
                runs => t.runs,
                groups,
                significance => p.significance,
                permutations => p.permutations,
                min_size => p.min_size,
            })
        })
        .map_err(|e| anyhow::anyhow!("history.html: {e}"))
}

/// Write `t`'s page into the folder `out` (made if need be); its path.
pub fn write(out: &Path, t: &Trend) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join(FILE);
    std::fs::write(&path, render(t)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
