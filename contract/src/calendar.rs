//! The Colombian business-day calendar that the retraction window is counted in.
//!
//! Decreto 1161/1994 art. 3 gives the member 5 *business* days to retract an
//! affiliation request; Saturdays, Sundays and national holidays do not count.
//! The holidays are those of Ley 51/1983 ("Ley Emiliani"): six fixed dates, seven
//! dates moved to the following Monday when they fall on another weekday, and the
//! Easter-based ones (Holy Thursday and Good Friday in place; Ascension, Corpus
//! Christi and Sacred Heart moved to Monday). From 2026, Ley 2578 of 1 June 2026
//! adds Our Lady of the Rosary of Chiquinquirá (9 July, moved to Monday under the
//! same rule). They are computed for any year, not
//! listed, so the calendar is right for 1990–2100 and beyond; years are served from
//! a precomputed table for 1984 (the law's first year) to 2100.

use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// First year Ley 51/1983 applied.
pub const FIRST_YEAR: i32 = 1984;
/// First year of the Chiquinquirá holiday (Ley 2578/2026).
pub const CHIQUINQUIRA_FROM: i32 = 2026;
/// Last year of the precomputed table; later years are computed on demand.
pub const LAST_TABLE_YEAR: i32 = 2100;

/// One national holiday: its observed date and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Festivo {
    /// The day it is observed (after any move to Monday).
    pub fecha: NaiveDate,
    /// Its name in Spanish.
    pub nombre: &'static str,
}

/// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian algorithm,
/// Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // The algorithm always yields a day in March or April.
    ymd(year, month as u32, day as u32)
}

/// A date that is valid by construction (month 1–12, day within the month).
fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

/// The date itself if it is a Monday, else the following Monday.
fn next_monday(date: NaiveDate) -> NaiveDate {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    date + Days::new(u64::from(ahead))
}

fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(date)
}

/// The holidays of Ley 51/1983 on a date of the year: whether it moves to
/// the following Monday, month, day, name; the six fixed ones first.
const DATED: [(bool, u32, u32, &str); 13] = [
    (false, 1, 1, "Año Nuevo"),
    (false, 5, 1, "Día del Trabajo"),
    (false, 7, 20, "Día de la Independencia"),
    (false, 8, 7, "Batalla de Boyacá"),
    (false, 12, 8, "Inmaculada Concepción"),
    (false, 12, 25, "Navidad"),
    (true, 1, 6, "Día de los Reyes Magos"),
    (true, 3, 19, "Día de San José"),
    (true, 6, 29, "San Pedro y San Pablo"),
    (true, 8, 15, "Asunción de la Virgen"),
    (true, 10, 12, "Día de la Raza"),
    (true, 11, 1, "Día de Todos los Santos"),
    (true, 11, 11, "Independencia de Cartagena"),
];

/// Every holiday of `year` on its own date, with whether it moves to the
/// following Monday: the dated ones, Chiquinquirá (from 2026), then the
/// Easter-based ones.
fn nominal(year: i32) -> Vec<(bool, NaiveDate, &'static str)> {
    let mut out: Vec<(bool, NaiveDate, &'static str)> = DATED
        .iter()
        .map(|&(moves, m, d, nombre)| (moves, ymd(year, m, d), nombre))
        .collect();
    if year >= CHIQUINQUIRA_FROM {
        out.push((
            true,
            ymd(year, 7, 9),
            "Nuestra Señora del Rosario de Chiquinquirá",
        ));
    }
    let easter = easter_sunday(year);
    out.extend([
        (false, shift(easter, -3), "Jueves Santo"),
        (false, shift(easter, -2), "Viernes Santo"),
        // Ascension (Easter + 39, a Thursday), Corpus Christi (+60) and
        // Sacred Heart (+68) are observed on the following Monday: +43, +64
        // and +71.
        (true, shift(easter, 39), "Ascensión del Señor"),
        (true, shift(easter, 60), "Corpus Christi"),
        (true, shift(easter, 68), "Sagrado Corazón"),
    ]);
    out
}

/// The holidays of `year` that Ley 51/1983 actually moved to a Monday: their
/// own date was another weekday (the Easter-based Ascension, Corpus Christi and
/// Sacred Heart always are; so is Chiquinquirá from 2026 when not on a Monday).
pub fn trasladados(year: i32) -> Vec<Festivo> {
    let mut out: Vec<Festivo> = nominal(year)
        .into_iter()
        .filter(|&(moves, fecha, _)| moves && fecha.weekday() != Weekday::Mon)
        .map(|(_, fecha, nombre)| Festivo {
            fecha: next_monday(fecha),
            nombre,
        })
        .collect();
    out.sort_by_key(|f| f.fecha);
    out
}

/// Every national holiday of `year`, sorted by date.
pub fn festivos(year: i32) -> Vec<Festivo> {
    let mut out: Vec<Festivo> = nominal(year)
        .into_iter()
        .map(|(moves, fecha, nombre)| Festivo {
            fecha: if moves { next_monday(fecha) } else { fecha },
            nombre,
        })
        .collect();
    out.sort_by_key(|f| f.fecha);
    out
}

/// Holidays of the table years as one bit per day of the year (ordinal − 1).
fn table() -> &'static [[u64; 6]] {
    static TABLE: OnceLock<Vec<[u64; 6]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (FIRST_YEAR..=LAST_TABLE_YEAR)
            .map(|year| {
                let mut bits = [0u64; 6];
                for f in festivos(year) {
                    let day = f.fecha.ordinal0() as usize;
                    bits[day / 64] |= 1 << (day % 64);
                }
                bits
            })
            .collect()
    })
}

/// Whether `date` is a Colombian national holiday.
pub fn is_festivo(date: NaiveDate) -> bool {
    let year = date.year();
    if (FIRST_YEAR..=LAST_TABLE_YEAR).contains(&year) {
        let bits = &table()[(year - FIRST_YEAR) as usize];
        let day = date.ordinal0() as usize;
        bits[day / 64] & (1 << (day % 64)) != 0
    } else {
        festivos(year).iter().any(|f| f.fecha == date)
    }
}

/// Whether `date` is a business day: not Saturday, Sunday or a holiday.
pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_festivo(date)
}

/// The `n`-th business day after `date` (`n = 0` is `date` itself).
///
/// The 1st business day after a Friday before a holiday Monday is the Tuesday.
pub fn add_business_days(date: NaiveDate, n: u32) -> NaiveDate {
    walk_business_days(date, n, NaiveDate::succ_opt)
}

/// The `n`-th business day before `date` (`n = 0` is `date` itself).
pub fn sub_business_days(date: NaiveDate, n: u32) -> NaiveDate {
    walk_business_days(date, n, NaiveDate::pred_opt)
}

/// The `n`-th business day from `date` walking day by day with `step`
/// (stopping at the calendar's end).
fn walk_business_days(
    date: NaiveDate,
    n: u32,
    step: fn(&NaiveDate) -> Option<NaiveDate>,
) -> NaiveDate {
    let mut day = date;
    let mut left = n;
    while left > 0 {
        match step(&day) {
            Some(next) => day = next,
            None => return day,
        }
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// How many business days lie in `(from, to]`; zero when `to <= from`.
pub fn business_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut count = 0;
    let mut day = from;
    while day < to {
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
        if is_business_day(day) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The date written `YYYY-MM-DD` (the contract's tests share it).
    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn easter_dates_are_known_ones() {
        assert_eq!(easter_sunday(2024), d("2024-03-31"));
        assert_eq!(easter_sunday(2025), d("2025-04-20"));
        assert_eq!(easter_sunday(2000), d("2000-04-23"));
        assert_eq!(easter_sunday(2038), d("2038-04-25"));
        assert_eq!(easter_sunday(2100), d("2100-03-28"));
    }

    #[test]
    fn eighteen_holidays_a_year_nineteen_from_2026() {
        for year in 1990..=2100 {
            let list = festivos(year);
            let expected = if year >= CHIQUINQUIRA_FROM { 19 } else { 18 };
            assert_eq!(list.len(), expected, "{year}");
            for f in &list {
                assert_eq!(f.fecha.year(), year);
                assert!(is_festivo(f.fecha));
            }
        }
    }

    #[test]
    fn moved_holidays_are_mondays_that_were_not() {
        // 2025: San José (Wed 19 March) observed Monday 24 March; Corpus
        // Christi (Thu 19 June) Monday 23 June. 2024: Día de la Raza was on a
        // Saturday, observed Monday 14 October.
        let y2025: Vec<NaiveDate> = trasladados(2025).iter().map(|f| f.fecha).collect();
        assert!(y2025.contains(&d("2025-03-24")));
        assert!(y2025.contains(&d("2025-06-23")));
        assert!(trasladados(2024).iter().any(|f| f.fecha == d("2024-10-14")));
        for year in 1990..=2100 {
            for f in trasladados(year) {
                assert_eq!(f.fecha.weekday(), Weekday::Mon, "{f:?}");
                assert!(is_festivo(f.fecha), "{f:?}");
            }
        }
        // 2023: San Pedro y San Pablo was a Thursday (moved); Reyes (Friday 6
        // January) moved to Monday 9 January.
        assert!(trasladados(2023).iter().any(|f| f.fecha == d("2023-01-09")));
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Friday 2024-03-22; Monday 2024-03-25 is San José (moved).
        let friday = d("2024-03-22");
        assert_eq!(add_business_days(friday, 1), d("2024-03-26"));
        // Holy Thursday and Good Friday 2024-03-28/29.
        assert_eq!(add_business_days(friday, 3), d("2024-04-01"));
        assert_eq!(business_days_between(friday, d("2024-04-01")), 3);
        assert_eq!(business_days_between(d("2024-04-01"), friday), 0);
        assert_eq!(add_business_days(friday, 0), friday);
        assert_eq!(sub_business_days(d("2024-03-26"), 1), friday);
        assert_eq!(sub_business_days(d("2024-04-01"), 3), friday);
    }
}
