//! The "Change against the baseline" section of `report.html`: each line of
//! the folder's `compare.json` (written by `compare --out`) with its interval
//! drawn against the ± minimum-effect band, inline SVG. Read from the results
//! file only: the reports do not import the statistics.

use serde_json::{Value, json};

use crate::results::comparison::{Comparison, Line};

/// Width and height of an interval's drawing, px.
const W: f64 = 180.0;
const H: f64 = 18.0;

/// The section's data for the template.
pub fn section(c: &Comparison) -> Value {
    let rows: Vec<Value> = c.lines.iter().map(row).collect();
    let limits: Vec<Value> = c
        .limits
        .iter()
        .map(|l| {
            json!({
                "service": l.service, "metric": l.metric,
                "baseline": format!("{:.2}", l.baseline), "current": format!("{:.2}", l.current),
                "change": format!("{:+.2}", l.change), "limit": format!("{:.2}", l.limit), "ok": l.ok,
            })
        })
        .collect();
    let noise = if c.between_runs {
        format!(
            "{} baselines: the intervals include the spread between runs as well as each run's own noise.",
            c.baselines.len()
        )
    } else {
        format!(
            "{} baseline{}: the intervals hold each run's own noise, not the noise between runs (machine load); 3 or more baselines include it.",
            c.baselines.len(),
            if c.baselines.len() == 1 { "" } else { "s" }
        )
    };
    json!({
        "regressed": c.regressed,
        "baselines": c.baselines,
        "confidence": format!("{:.1}%", c.line_confidence_pct),
        "lines_judged": c.lines_judged,
        "family": format!("{:.0}%", 100.0 * c.family_alpha),
        "noise": noise,
        "rows": rows,
        "limits": limits,
    })
}

fn row(l: &Line) -> Value {
    let u = &l.change_unit;
    let fmt =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.2} {unit}"));
    let interval = match (l.low, l.high) {
        (Some(a), Some(b)) => format!("[{a:+.1}{u}, {b:+.1}{u}]"),
        _ => "—".to_owned(),
    };
    json!({
        "service": l.service, "metric": l.metric,
        "baseline": fmt(l.baseline, &l.unit), "current": fmt(l.current, &l.unit),
        "change": l.change.map_or_else(|| "—".to_owned(), |v| format!("{v:+.1}{u}")),
        "interval": interval,
        "min_effect": format!("±{}{u}", l.min_effect),
        "verdict": l.verdict,
        "class": match l.verdict.as_str() { "regressed" => "fail", "improved" | "unchanged" => "pass", _ => "unsure" },
        "note": l.note,
        "svg": drawing(l),
    })
}

/// The interval as a bar over the ± minimum-effect band (grey), zero marked,
/// the change a dot; empty when the line has no interval.
fn drawing(l: &Line) -> String {
    let (Some(low), Some(high), Some(mid)) = (l.low, l.high, l.change) else {
        return String::new();
    };
    let m = l.min_effect;
    let reach = [low.abs(), high.abs(), 2.0 * m, 1e-9]
        .into_iter()
        .fold(0.0, f64::max)
        * 1.1;
    let x = |v: f64| W / 2.0 + v / reach * (W / 2.0 - 4.0);
    let colour = match l.verdict.as_str() {
        "regressed" => "#c62828",
        "improved" | "unchanged" => "#2e7d32",
        _ => "#8a6d00",
    };
    format!(
        r##"<svg class="ci" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="change {mid:+.1}, interval {low:+.1} to {high:+.1}, minimum effect {m}"><rect x="{bx:.1}" y="2" width="{bw:.1}" height="{bh}" fill="#e6e9ef"/><line x1="{zx:.1}" y1="1" x2="{zx:.1}" y2="{zy}" stroke="#9aa3b2"/><line x1="{lx:.1}" y1="{cy}" x2="{hx:.1}" y2="{cy}" stroke="{colour}" stroke-width="3"/><circle cx="{mx:.1}" cy="{cy}" r="3.5" fill="{colour}"/></svg>"##,
        bx = x(-m),
        bw = x(m) - x(-m),
        bh = H - 4.0,
        zx = x(0.0),
        zy = H - 1.0,
        lx = x(low),
        hx = x(high),
        mx = x(mid),
        cy = H / 2.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::tests::line;

    /// The number after `key="` in `svg`, from the `nth` match.
    fn attr(svg: &str, key: &str, nth: usize) -> f64 {
        let pat = format!(" {key}=\"");
        let rest = svg.split(pat.as_str()).nth(nth + 1).expect(key);
        rest.split('"')
            .next()
            .expect("value")
            .parse()
            .expect("number")
    }

    #[test]
    fn the_bar_sits_beyond_the_band_when_regressed() {
        let svg = drawing(&line("regressed", Some(6.0)));
        assert!(svg.starts_with("<svg") && svg.contains("#c62828"), "{svg}");
        let band_right = attr(&svg, "x", 0) + attr(&svg, "width", 1);
        // The second line is the interval; the first, zero.
        let (zero, bar_start) = (attr(&svg, "x1", 0), attr(&svg, "x1", 1));
        assert!(zero < band_right && bar_start > band_right, "{svg}");
        let straddling = drawing(&line("inconclusive", Some(-1.0)));
        assert!(
            attr(&straddling, "x1", 1) < attr(&straddling, "x", 0) + attr(&straddling, "width", 1)
        );
        assert_eq!(drawing(&line("inconclusive", None)), "");
    }
}
