//! `run --dry-run`: the plan of a run in words — target (and whether it is
//! production), model and stages, duration, requests, mix, data, caps and
//! whether the production run is confirmed — with nothing sent.

use super::RunOptions;
use crate::scenario::{LoadModel, RunPlan};

/// What a run of `scenario` would do, for `--dry-run`.
pub fn text(scenario: &RunPlan, options: &RunOptions) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (peak, duration, total) = scenario.outline();
    let _ = writeln!(
        out,
        "plan of scenario {} (dry run: nothing is sent)",
        scenario.name
    );
    let host = scenario.target.host().map(str::to_owned);
    let production = scenario.target.is_production();
    let _ = writeln!(
        out,
        "  target      {}{}",
        scenario.target.url(),
        match (&host, production) {
            (None, _) => " (the embedded mock)".to_owned(),
            (Some(h), true) => format!(" — PRODUCTION host {h}"),
            (Some(h), false) => format!(" — {h}, this machine"),
        }
    );
    match &scenario.load {
        LoadModel::Open {
            start_rate,
            stages,
            max_in_flight,
        } => {
            let _ = writeln!(
                out,
                "  model       open, from {start_rate} req/s, at most {max_in_flight} in flight"
            );
            for (i, st) in stages.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  stage {:<5} to {} req/s over {}",
                    i + 1,
                    st.rate,
                    humantime::format_duration(st.duration.0)
                );
            }
        }
        LoadModel::Search(p) => {
            let _ = writeln!(
                out,
                "  model       capacity search: {} plateaus of {} from {} req/s, ×{} up to {} req/s, then bisecting; at most {} in flight",
                p.plateaus,
                humantime::format_duration(p.plateau),
                p.start_rate,
                p.step,
                p.max_rate,
                p.max_in_flight
            );
        }
        LoadModel::Closed {
            users,
            ramp,
            think_time,
            run_time,
        } => {
            let _ = writeln!(
                out,
                "  model       closed, {users} users started over {}, think {}, then {}",
                humantime::format_duration(*ramp),
                humantime::format_duration(*think_time),
                humantime::format_duration(*run_time)
            );
        }
    }
    if options.worker.1 > 1 {
        let _ = writeln!(
            out,
            "  worker      {} of {} (sends 1/{} of the load)",
            options.worker.0, options.worker.1, options.worker.1
        );
    }
    let _ = writeln!(
        out,
        "  duration    {}",
        humantime::format_duration(duration)
    );
    let _ = writeln!(
        out,
        "  requests    {}",
        match (total, peak) {
            (Some(t), Some(p)) => format!("about {t} (peak {p} req/s)"),
            _ => "as many as the users' answers allow".to_owned(),
        }
    );
    let mix: Vec<String> = scenario
        .mix
        .iter()
        .map(|(k, v)| format!("{} {v}", k.name()))
        .collect();
    let _ = writeln!(out, "  mix         {}", mix.join(", "));
    if !scenario.invalid.is_empty() {
        let inv: Vec<String> = scenario
            .invalid
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "  invalid     {}", inv.join(", "));
    }
    let _ = writeln!(
        out,
        "  data        administradora {}, seed {}, numeroRadicado prefix {}",
        scenario.data.administradora, scenario.data.seed, scenario.data.radicado_prefix
    );
    if production {
        let caps = scenario.caps;
        let _ = writeln!(
            out,
            "  caps        {} req/s, {}, {} requests (raise them only in [production])",
            caps.max_rate,
            humantime::format_duration(caps.max_duration),
            caps.max_requests
        );
        let h = host.unwrap_or_default();
        let confirmed = crate::target::guard::confirms(options.confirm_production.as_deref(), &h);
        let _ = writeln!(
            out,
            "  confirmed   {}",
            if confirmed {
                format!("yes (--confirm-production {h})")
            } else {
                format!("NO: the run needs --confirm-production {h}")
            }
        );
    }
    out
}
