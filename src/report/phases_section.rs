//! The reports' "Where the time went" section, from `summary.json`'s
//! `phases`: per service (and the token service) a stacked bar of its mean
//! exchange split by phase (each phase weighted by the share of exchanges
//! that went through it, so the bar is the mean exchange), the percentiles of
//! each phase over the exchanges that went through it, and the connections
//! opened against those reused. `report.html` and `report.md` render the same
//! [`Section`]; the numbers are formatted once, here.

use std::fmt::Write;

use plotters::prelude::*;
use serde::Serialize;

use super::charts::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED, W};
use crate::results::{ExchangePhases, Summary};
use crate::transport::Phase;

/// The section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Per service that timed exchanges (the report services, then `token`).
    pub services: Vec<ServiceRow>,
    /// The stacked bars, an SVG.
    pub chart: String,
}

/// One service's exchanges.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    /// Its protocol name, or `token`.
    pub name: String,
    /// Exchanges timed.
    pub exchanges: u64,
    /// Of which opened a connection.
    pub opened: u64,
    /// Of which reused one.
    pub reused: u64,
    /// Connections opened per second: the most in one second.
    pub opened_max: u64,
    /// And the mean, to a tenth.
    pub opened_mean: String,
    /// The mean exchange, ms (the bar's length).
    pub mean_exchange: String,
    /// One row per phase some exchange went through.
    pub phases: Vec<PhaseRow>,
}

/// One phase of one service.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRow {
    /// `dns`, `connect`, `tls`, `send`, `wait`, `receive`.
    pub name: String,
    /// In a few words.
    pub describe: String,
    /// Exchanges that went through it.
    pub count: u64,
    /// Its share of the mean exchange, ms.
    pub share: String,
    /// Mean, p50, p90, p99, max over the exchanges that went through it, ms.
    pub cells: [String; 5],
}

/// Each phase's colour in the bars and their legend.
fn color(phase: Phase) -> RGBColor {
    match phase {
        Phase::Dns => PURPLE,
        Phase::Connect => ORANGE,
        Phase::Tls => RED,
        Phase::Send => GREEN,
        Phase::Wait => BLUE,
        Phase::Receive => GREY,
    }
}

/// What `phase` adds to the mean exchange of `p`, ms: its mean over the
/// exchanges that went through it, times their share of every exchange.
fn share(p: &ExchangePhases, phase: Phase) -> f64 {
    match p.get(phase) {
        Some(st) if p.exchanges > 0 => st.mean_ms * st.count as f64 / p.exchanges as f64,
        _ => 0.0,
    }
}

/// The report services first (by name), then the token service.
fn ordered(s: &Summary) -> Vec<(&str, &ExchangePhases)> {
    let Some(phases) = &s.phases else {
        return Vec::new();
    };
    let token = crate::results::phases::TOKEN;
    let mut v: Vec<(&str, &ExchangePhases)> = phases
        .iter()
        .filter(|(k, _)| k.as_str() != token)
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    v.extend(phases.get(token).map(|p| (token, p)));
    v
}

/// The rows of `s`'s section: one per service that timed exchanges (none
/// when it timed no exchange).
pub fn rows(s: &Summary) -> Vec<ServiceRow> {
    let f = |v: f64| format!("{v:.3}");
    ordered(s)
        .iter()
        .map(|(name, p)| ServiceRow {
            name: (*name).to_owned(),
            exchanges: p.exchanges,
            opened: p.opened,
            reused: p.reused,
            opened_max: p.opened_per_second.max,
            opened_mean: format!("{:.1}", p.opened_per_second.mean),
            mean_exchange: f(Phase::ALL.iter().map(|ph| share(p, *ph)).sum()),
            phases: Phase::ALL
                .iter()
                .filter_map(|ph| {
                    let st = p.get(*ph)?;
                    Some(PhaseRow {
                        name: ph.name().to_owned(),
                        describe: ph.describe().to_owned(),
                        count: st.count,
                        share: f(share(p, *ph)),
                        cells: [st.mean_ms, st.p50_ms, st.p90_ms, st.p99_ms, st.max_ms].map(f),
                    })
                })
                .collect(),
        })
        .collect()
}

/// The section of `s`, its chart drawn; `None` when it timed no exchange.
pub fn section(s: &Summary) -> anyhow::Result<Option<Section>> {
    let services = ordered(s);
    if services.is_empty() {
        return Ok(None);
    }
    Ok(Some(Section {
        services: rows(s),
        chart: chart(&services)?,
    }))
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("phases chart: {e}")
}

/// One horizontal bar per service, its phases' shares of the mean exchange
/// stacked in the order an exchange goes through them.
fn chart(services: &[(&str, &ExchangePhases)]) -> anyhow::Result<String> {
    let n = services.len();
    let longest = services
        .iter()
        .map(|(_, p)| Phase::ALL.iter().map(|ph| share(p, *ph)).sum::<f64>())
        .fold(0.0, f64::max);
    // Room on the right for the legend.
    let x_max = if longest > 0.0 { longest * 1.6 } else { 1.0 };
    let height = 170 + 45 * n as u32;
    let names: Vec<String> = services.iter().map(|(k, _)| (*k).to_owned()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Where the time went: the mean exchange by phase",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..x_max, -0.5..(n as f64 - 0.5))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("ms")
            .y_labels(n)
            .y_label_formatter(&|y: &f64| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let mut start = vec![0.0; n];
        for phase in Phase::ALL {
            let style = color(phase).filled();
            let bars: Vec<Rectangle<(f64, f64)>> = services
                .iter()
                .enumerate()
                .map(|(i, (_, p))| {
                    let (x0, y) = (start[i], i as f64);
                    start[i] += share(p, phase);
                    Rectangle::new([(x0, y - 0.3), (start[i], y + 0.3)], style)
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(format!("{} ({})", phase.name(), phase.describe()))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], style));
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

/// The section's `rows` in Markdown, appended to `m` (nothing when there
/// are none).
pub fn markdown(m: &mut String, rows: &[ServiceRow]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        m,
        "\n## Where the time went (ms per exchange, by phase)\n\n\
         A phase's statistics cover only the exchanges that went through it: a \
         reused connection has no DNS, connect nor TLS phase. *Share* is the \
         phase's part of the mean exchange.\n"
    );
    let _ = writeln!(
        m,
        "| service | exchanges | opened | reused | opened/s max | opened/s mean | mean exchange |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for s in rows {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.name, s.exchanges, s.opened, s.reused, s.opened_max, s.opened_mean, s.mean_exchange
        );
    }
    let _ = writeln!(
        m,
        "\n| service | phase | count | share | mean | p50 | p90 | p99 | max |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in rows {
        for p in &s.phases {
            let _ = writeln!(
                m,
                "| {} | {} ({}) | {} | {} | {} |",
                s.name,
                p.name,
                p.describe,
                p.count,
                p.share,
                p.cells.join(" | ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::phases::{ServicePhases, TOKEN, fixture};

    /// A committed folder's run, as if its exchanges had been timed: the
    /// afiliación service's 100 exchanges (wait 40 ms; one in four opened a
    /// connection with a 200 ms TLS handshake), the token's 2 (both opened).
    fn timed_run() -> super::super::RunData {
        let (dir, mut summary) = crate::report::tests::committed_worker();
        let service = fixture::timed(100, 4, (200, 40), |n| n / 10);
        let token = fixture::timed(2, 1, (200, 40), |n| n * 5);
        summary.phases = Some(
            [("ReportarAfiliaciontraslado", &service), (TOKEN, &token)]
                .into_iter()
                .map(|(k, h)| {
                    let section = ExchangePhases::of(&ServicePhases::of(h), 10.0);
                    (k.to_owned(), section)
                })
                .collect(),
        );
        crate::report::tests::run_data(dir, summary)
    }

    #[test]
    fn the_bar_is_the_mean_exchange_and_the_table_each_phase_over_its_own_exchanges() {
        let data = timed_run();
        let rows = rows(&data.summary);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ReportarAfiliaciontraslado", "token"], "token last");
        let s = &rows[0];
        assert_eq!((s.exchanges, s.opened, s.reused), (100, 25, 75));
        let tls = s.phases.iter().find(|p| p.name == "tls").expect("tls");
        // Over the 25 openings: 200 ms; its share of the mean exchange: a quarter.
        assert_eq!(tls.count, 25);
        let mean: f64 = tls.cells[0].parse().expect("mean");
        let share: f64 = tls.share.parse().expect("share");
        assert!((199.0..=201.0).contains(&mean), "{tls:?}");
        assert!((49.5..=50.5).contains(&share), "{tls:?}");
        assert!(
            !s.phases.iter().any(|p| p.name == "dns"),
            "nothing looked up"
        );
        // 1 + 40 + 2 ms, and a quarter of (3 + 200) ms.
        let exchange: f64 = s.mean_exchange.parse().expect("mean exchange");
        assert!((93.0..=95.0).contains(&exchange), "{s:?}");

        let html = super::super::html::render(&data).expect("html");
        assert!(html.contains("<h2>Where the time went</h2>"), "section");
        assert!(
            html.contains(r#"<tr data-service="token" data-phase="tls">"#),
            "{html}"
        );
        assert!(html.contains("tls (TLS handshake)"), "the chart's legend");
        let md = super::super::markdown::render(&data);
        assert!(md.contains("## Where the time went"), "{md}");
        assert!(
            md.contains("| ReportarAfiliaciontraslado | 100 | 25 | 75 | 3 | 2.5 |"),
            "{md}"
        );
        assert!(
            md.contains("| token | tls (TLS handshake) | 2 | 200."),
            "{md}"
        );
    }

    #[test]
    fn a_run_without_timed_exchanges_has_no_section() {
        let mut data = timed_run();
        data.summary.phases = None;
        let html = super::super::html::render(&data).expect("html");
        assert!(!html.contains("Where the time went"));
        assert!(!super::super::markdown::render(&data).contains("Where the time went"));
        assert!(section(&data.summary).expect("section").is_none());
    }
}
