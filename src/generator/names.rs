//! Common Colombian given names and surnames, from the data files beside this
//! module (upper case, as the civil registry writes them; most common first).

use std::sync::OnceLock;

/// The three name lists.
pub(crate) struct Names {
    pub female: Vec<&'static str>,
    pub male: Vec<&'static str>,
    pub surnames: Vec<&'static str>,
}

fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

impl Names {
    pub(crate) fn get() -> &'static Names {
        static NAMES: OnceLock<Names> = OnceLock::new();
        NAMES.get_or_init(|| Names {
            female: lines(include_str!("data/nombres_femeninos.txt")),
            male: lines(include_str!("data/nombres_masculinos.txt")),
            surnames: lines(include_str!("data/apellidos.txt")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_long_unique_and_fit_the_contract() {
        let n = Names::get();
        for (what, list, min) in [
            ("female", &n.female, 100),
            ("male", &n.male, 100),
            ("surnames", &n.surnames, 200),
        ] {
            assert!(list.len() >= min, "{what}: {}", list.len());
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{what} has duplicates");
            for name in list.iter() {
                assert!(name.chars().count() <= 20, "{name}");
                assert!(!name.contains(' '), "{name}");
            }
        }
    }
}
