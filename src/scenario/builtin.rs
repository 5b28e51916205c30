//! The scenarios shipped in `scenarios/`, compiled in: `mss-harness run smoke`
//! needs no file.

/// The scenarios shipped in `scenarios/`, by name.
pub const BUILT_IN: [(&str, &str); 8] = [
    ("smoke", include_str!("../../scenarios/smoke.toml")),
    ("baseline", include_str!("../../scenarios/baseline.toml")),
    ("go-live", include_str!("../../scenarios/go-live.toml")),
    ("soak", include_str!("../../scenarios/soak.toml")),
    ("spike", include_str!("../../scenarios/spike.toml")),
    (
        "token-expiry",
        include_str!("../../scenarios/token-expiry.toml"),
    ),
    ("incident", include_str!("../../scenarios/incident.toml")),
    ("capacity", include_str!("../../scenarios/capacity.toml")),
];

/// The text of the shipped scenario `name`.
pub fn text(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mss_contract::Contract;

    use super::*;
    use crate::scenario::RunPlan;

    #[test]
    fn every_built_in_scenario_parses() {
        for (name, _) in BUILT_IN {
            let s =
                RunPlan::load(name, Contract::embedded()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            assert!(!s.thresholds.is_empty(), "{name} has no thresholds");
        }
        let smoke = RunPlan::load("smoke", Contract::embedded()).expect("smoke");
        assert_eq!(smoke.target.url(), "mock");
        assert!(smoke.duration() <= Duration::from_secs(30));
    }
}
