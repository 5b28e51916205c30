//! `informe.md` and `informe.html`, in Spanish, as the protocol asks.

use std::fmt::Write;

use minijinja::{Environment, context};
use mss_contract::Administradora;
use plotters::prelude::*;
use serde_json::{Value, json};

use super::{Incident, Informe, SERVICES};

const TEMPLATE: &str = include_str!("informe.html.j2");

fn nombre_servicio(s: &str) -> &str {
    match s {
        "token" => "token (autenticación)",
        other => other,
    }
}

/// Response-time row of a service: mín, promedio, p50, p90, p95, p99, máx (ms).
fn tiempos(informe: &Informe, service: &str) -> Option<[f64; 7]> {
    let h = &informe.services.get(service)?.latency;
    if h.is_empty() {
        return None;
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Some([
        ms(h.min()),
        h.mean() / 1000.0,
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    ])
}

/// The kinds every informe lists, Sí or No, plus the rejections seen.
fn tipos(informe: &Informe) -> Vec<Incident> {
    let mut kinds = vec![
        Incident::SinRespuesta,
        Incident::Autenticacion,
        Incident::Servidor,
        Incident::Http4xx,
    ];
    for s in informe.services.values() {
        for k in s.incidents.keys() {
            if !kinds.contains(k) {
                kinds.push(k.clone());
            }
        }
    }
    kinds
}

fn fmt_ms(v: f64) -> String {
    format!("{v:.1}")
}

/// Data both renderings share.
fn model(informe: &Informe, admin: &Administradora) -> Value {
    let total: u64 = informe.services.values().map(|s| s.requests).sum();
    let servicios: Vec<Value> = SERVICES
        .iter()
        .map(|s| {
            let st = &informe.services[*s];
            let peak = informe.peak_hour(s);
            json!({
                "nombre": nombre_servicio(s),
                "invocaciones": st.requests,
                "pico": peak.map(|(t, n)| format!("{} ({n})", t.format("%Y-%m-%d %H:00"))),
            })
        })
        .collect();
    let dias: Vec<Value> = informe
        .per_day(SERVICES[0])
        .iter()
        .enumerate()
        .map(|(i, (d, _))| {
            let counts: Vec<u64> = SERVICES.iter().map(|s| informe.per_day(s)[i].1).collect();
            json!({"dia": d.format("%Y-%m-%d").to_string(), "conteos": counts})
        })
        .collect();
    let horas: Vec<Value> = (0..24)
        .map(|h| {
            let counts: Vec<u64> = SERVICES
                .iter()
                .map(|s| informe.per_hour_of_day(s)[h])
                .collect();
            json!({"hora": format!("{h:02}:00–{h:02}:59"), "conteos": counts})
        })
        .collect();
    let tiempos: Vec<Value> = SERVICES
        .iter()
        .map(|s| {
            json!({
                "nombre": nombre_servicio(s),
                "valores": tiempos(informe, s).map(|v| v.iter().map(|x| fmt_ms(*x)).collect::<Vec<_>>()),
            })
        })
        .collect();
    let mut incidencias = Vec::new();
    for kind in tipos(informe) {
        for s in SERVICES {
            let st = informe.services[s].incidents.get(&kind);
            incidencias.push(json!({
                "tipo": kind.nombre(&informe.contract),
                "servicio": nombre_servicio(s),
                "si": st.is_some(),
                "cantidad": st.map_or(0, |x| x.count),
                "primera": st.map(|x| x.first.format("%Y-%m-%d %H:%M:%S").to_string()),
                "ultima": st.map(|x| x.last.format("%Y-%m-%d %H:%M:%S").to_string()),
            }));
        }
    }
    json!({
        "codigo": admin.codigo,
        "nombre": admin.nombre,
        "desde": informe.desde.format("%Y-%m-%d").to_string(),
        "hasta": informe.hasta.format("%Y-%m-%d").to_string(),
        "total": total,
        "servicios": servicios,
        "columnas": SERVICES.iter().map(|s| nombre_servicio(s)).collect::<Vec<_>>(),
        "dias": dias,
        "horas": horas,
        "tiempos": tiempos,
        "incidencias": incidencias,
        "fuera": informe.outside,
        "descartadas": informe.bad,
        "entradas": informe.inputs,
    })
}

/// The text of `v`, or `missing`.
fn text<'v>(v: &'v Value, missing: &'v str) -> &'v str {
    v.as_str().unwrap_or(missing)
}

/// One row of a Markdown table: `| a | b | c |`.
fn row(o: &mut String, cells: &[String]) {
    let _ = writeln!(o, "| {} |", cells.join(" | "));
}

/// Rows `| label | n | n | n |` of a per-day or per-hour table.
fn count_rows(o: &mut String, rows: &Value, label: &str) {
    for r in rows.as_array().into_iter().flatten() {
        let counts = r["conteos"].as_array().into_iter().flatten();
        let cells: Vec<String> = std::iter::once(text(&r[label], "").to_owned())
            .chain(counts.map(Value::to_string))
            .collect();
        row(o, &cells);
    }
}

/// `informe.md`.
pub fn markdown(informe: &Informe, admin: &Administradora) -> String {
    let m = model(informe, admin);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Informe inicial de aseguramiento en producción\n\n**Administradora:** {} — {}  \n**Periodo:** {} a {} (hora de Colombia, UTC−5)\n",
        text(&m["codigo"], ""),
        text(&m["nombre"], ""),
        text(&m["desde"], ""),
        text(&m["hasta"], "")
    );
    let _ = writeln!(o, "## 1. Cantidad de servicios invocados\n");
    let _ = writeln!(
        o,
        "| servicio | invocaciones | hora de mayor uso (invocaciones) |\n|---|---:|---|"
    );
    for s in m["servicios"].as_array().into_iter().flatten() {
        let cells = [
            text(&s["nombre"], "").to_owned(),
            s["invocaciones"].to_string(),
            text(&s["pico"], "—").to_owned(),
        ];
        row(&mut o, &cells);
    }
    let _ = writeln!(o, "| **total** | **{}** | |", m["total"]);
    let cols: Vec<&str> = m["columnas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let header = |first: &str| {
        format!(
            "| {first} | {} |\n|---|{}",
            cols.join(" | "),
            "---:|".repeat(cols.len())
        )
    };
    let _ = writeln!(
        o,
        "\n## 2. Registros remitidos por servicio por rata de tiempo\n\n### Por día\n\n{}",
        header("día")
    );
    count_rows(&mut o, &m["dias"], "dia");
    let _ = writeln!(
        o,
        "\n### Por hora del día (todo el periodo)\n\n{}",
        header("hora")
    );
    count_rows(&mut o, &m["horas"], "hora");
    let _ = writeln!(
        o,
        "\n## 3. Tiempos de respuesta evidenciados por servicio (ms)\n\n| servicio | mín | promedio | p50 | p90 | p95 | p99 | máx |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for t in m["tiempos"].as_array().into_iter().flatten() {
        let values: Vec<String> = match t["valores"].as_array() {
            Some(v) => v
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            None => vec!["—".to_owned(); 7],
        };
        row(
            &mut o,
            &[&[text(&t["nombre"], "").to_owned()], &values[..]].concat(),
        );
    }
    let _ = writeln!(
        o,
        "\n## 4. Incidencias por tipo y por servicio\n\n| tipo | servicio | ¿se presentó? | cantidad | primera | última |\n|---|---|---|---:|---|---|"
    );
    for i in m["incidencias"].as_array().into_iter().flatten() {
        let cells = [
            text(&i["tipo"], ""),
            text(&i["servicio"], ""),
            if i["si"] == true { "Sí" } else { "No" },
            &i["cantidad"].to_string(),
            text(&i["primera"], "—"),
            text(&i["ultima"], "—"),
        ]
        .map(str::to_owned);
        row(&mut o, &cells);
    }
    let _ = writeln!(
        o,
        "\n## Notas\n\n- Fuentes: {}.\n- Registros fuera del periodo, no contados: {}.\n- Líneas ilegibles, no contadas: {}.",
        m["entradas"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        m["fuera"],
        m["descartadas"]
    );
    o
}

/// The per-hour chart of the whole period, as SVG.
fn chart(informe: &Informe) -> anyhow::Result<String> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("gráfica: {e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let hours = informe.services[SERVICES[0]].per_hour.len().max(1);
        let y_max = informe
            .services
            .values()
            .flat_map(|s| s.per_hour.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.1;
        let desde = informe.desde.and_hms_opt(0, 0, 0).unwrap_or_default();
        let mut c = ChartBuilder::on(&root)
            .caption("Registros remitidos por hora", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..hours as f64, 0.0..y_max)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_labels((hours / 24).clamp(2, 15))
            .x_label_formatter(&|x| {
                let d = desde + chrono::Duration::hours(*x as i64);
                d.format("%m-%d %Hh").to_string()
            })
            .y_desc("registros por hora")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(&e))?;
        for (s, color) in SERVICES.iter().zip([
            RGBColor(31, 119, 180),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
        ]) {
            let points: Vec<(f64, f64)> = informe.services[*s]
                .per_hour
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64 + 0.5, *n as f64))
                .collect();
            c.draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(nombre_servicio(s))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(150, 150, 150))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// `informe.html`: self-contained, like the run report.
pub fn html(informe: &Informe, admin: &Administradora) -> anyhow::Result<String> {
    let m = model(informe, admin);
    let grafica = chart(informe)?;
    let mut env = Environment::new();
    // `.html`: auto-escaping on; the chart is marked safe in the template.
    env.add_template("informe.html", TEMPLATE)
        .map_err(|e| anyhow::anyhow!("informe template: {e}"))?;
    env.get_template("informe.html")
        .and_then(|t| t.render(context! { m => m, grafica => grafica }))
        .map_err(|e| anyhow::anyhow!("informe.html: {e}"))
}
