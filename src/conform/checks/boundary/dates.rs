//! Where the boundaries fall in the calendar: birthdays (29 February
//! included), the start of a window that ends on or before "today", and
//! retraction windows that span a weekend, a holiday moved to Monday or
//! 8 December.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use mss_contract::{calendar, rules};

use super::Crossing;

/// A date `days` before or after `d`.
pub(super) fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(d)
}

/// Someone whose `years`th birthday ([`rules::birthday`]) is `on`, not born
/// on 29 February unless nobody else has that birthday.
pub(super) fn born_for(on: NaiveDate, years: u32) -> Option<NaiveDate> {
    let center = on.checked_sub_months(Months::new(12 * years))?;
    let mut found = None;
    for delta in -3..=3 {
        let b = add_days(center, delta);
        if rules::birthday(b, years) == Some(on) {
            if (b.month(), b.day()) != (2, 29) {
                return Some(b);
            }
            found = Some(b);
        }
    }
    found
}

/// The latest day `p` on or before `as_of` for which someone has their
/// `years`th birthday on `p + after` days; with their birth date.
pub(super) fn birthday_near(
    as_of: NaiveDate,
    years: u32,
    after: i64,
) -> Option<(NaiveDate, NaiveDate)> {
    (0..4).find_map(|back| {
        let p = add_days(as_of, -back);
        born_for(add_days(p, after), years).map(|b| (p, b))
    })
}

/// The latest `since` whose boundary `first(since)` is on or before `as_of`.
pub(super) fn latest_start(
    as_of: NaiveDate,
    months: u32,
    first: impl Fn(NaiveDate) -> NaiveDate,
) -> Option<NaiveDate> {
    let start = add_days(as_of.checked_sub_months(Months::new(months))?, 4);
    (0..40)
        .map(|back| add_days(start, -back))
        .find(|since| first(*since) <= as_of)
}

/// fechaSolicitud, the last day of its retraction window and the next
/// business day, all on or before `as_of`, arranged as `crossing` says; and
/// what the window spans, in words.
pub(super) fn retraction_dates(
    crossing: Crossing,
    as_of: NaiveDate,
) -> Option<(NaiveDate, NaiveDate, NaiveDate, String)> {
    let n = rules::RETRACTION_BUSINESS_DAYS;
    let dates = |s: NaiveDate| {
        (
            s,
            rules::retraction_deadline(s),
            calendar::add_business_days(s, n + 1),
        )
    };
    match crossing {
        Crossing::Weekend => (0..800).find_map(|back| {
            let s = add_days(as_of, -back);
            let (s, last, next) = dates(s);
            let no_holiday =
                (1..=(next - s).num_days()).all(|i| !calendar::is_festivo(add_days(s, i)));
            (calendar::is_business_day(s)
                && next <= as_of
                && last.weekday() == Weekday::Fri
                && no_holiday)
                .then(|| (s, last, next, "a weekend, no holiday".to_owned()))
        }),
        Crossing::Festivo => (as_of.year() - 3..=as_of.year()).rev().find_map(|year| {
            calendar::trasladados(year).into_iter().rev().find_map(|f| {
                let (s, last, next) = dates(calendar::sub_business_days(f.fecha, 2));
                (next <= as_of).then(|| {
                    (
                        s,
                        last,
                        next,
                        format!("{} observed Monday {}", f.nombre, f.fecha),
                    )
                })
            })
        }),
        Crossing::Diciembre8 => (as_of.year() - 8..=as_of.year()).rev().find_map(|year| {
            let f = NaiveDate::from_ymd_opt(year, 12, 8)?;
            if matches!(f.weekday(), Weekday::Sat | Weekday::Sun) {
                return None;
            }
            let (s, last, next) = dates(calendar::sub_business_days(f, 2));
            (next <= as_of).then(|| {
                (
                    s,
                    last,
                    next,
                    format!("8 December {year}, a {}", f.weekday()),
                )
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn retraction_windows_cross_what_they_say() {
        let n = rules::RETRACTION_BUSINESS_DAYS;
        for as_of in ["2026-12-02", "2025-01-15", "2024-03-01", "2027-07-04"] {
            let as_of = d(as_of);
            for c in [Crossing::Weekend, Crossing::Festivo, Crossing::Diciembre8] {
                let (s, last, next, _) = retraction_dates(c, as_of).expect("dates");
                assert!(next <= as_of && s < last && last < next);
                assert_eq!(calendar::business_days_between(s, last), n);
                assert_eq!(calendar::business_days_between(s, next), n + 1);
                let holidays: Vec<NaiveDate> = (1..=(last - s).num_days())
                    .map(|i| add_days(s, i))
                    .filter(|x| calendar::is_festivo(*x) && x.weekday().num_days_from_monday() < 5)
                    .collect();
                match c {
                    Crossing::Weekend => {
                        assert_eq!(last.weekday(), Weekday::Fri);
                        assert_eq!(next.weekday(), Weekday::Mon);
                        assert!(holidays.is_empty());
                    }
                    Crossing::Festivo => {
                        assert!(
                            holidays.iter().any(|h| h.weekday() == Weekday::Mon),
                            "{holidays:?}"
                        );
                    }
                    Crossing::Diciembre8 => {
                        assert!(holidays.iter().any(|h| (h.month(), h.day()) == (12, 8)));
                    }
                }
            }
        }
    }

    #[test]
    fn birthdays_land_where_asked() {
        // 1 March of a common year is the birthday of someone born on 1 March,
        // not of someone born on 29 February.
        assert_eq!(born_for(d("2027-03-01"), 47), Some(d("1980-03-01")));
        // A leap-day birthday exists only for people born on 29 February.
        assert_eq!(born_for(d("2028-02-29"), 48), Some(d("1980-02-29")));
        assert_eq!(born_for(d("2027-02-28"), 47), Some(d("1980-02-28")));
        let (p, b) = birthday_near(d("2028-02-29"), 47, 0).expect("near");
        assert_eq!(rules::birthday(b, 47), Some(p));
        assert!(p <= d("2028-02-29"));
    }
}
