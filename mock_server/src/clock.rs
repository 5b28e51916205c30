//! The mock's clock: the system clock plus an adjustable offset, so that token
//! expiry and the retraction window can be tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Colombia's offset from UTC (no daylight saving time).
const BOGOTA_OFFSET_SECONDS: i32 = -5 * 3600;

/// System time plus an offset in seconds.
#[derive(Debug)]
pub struct MockClock {
    offset_seconds: AtomicI64,
    /// A `clock_skew` fault's shift, on top of the offset.
    skew_seconds: AtomicI64,
}

impl MockClock {
    /// A clock `offset_seconds` away from the system clock.
    pub fn new(offset_seconds: i64) -> Self {
        MockClock {
            offset_seconds: AtomicI64::new(offset_seconds),
            skew_seconds: AtomicI64::new(0),
        }
    }

    /// Current offset from the system clock.
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Largest offset accepted either way: a century.
    pub const MAX_OFFSET_SECONDS: i64 = 100 * 366 * 86_400;

    /// Move the clock by `seconds` (negative moves it back); returns the new
    /// offset, or `None` (and no change) when it would pass
    /// [`MAX_OFFSET_SECONDS`](Self::MAX_OFFSET_SECONDS).
    pub fn advance(&self, seconds: i64) -> Option<i64> {
        self.offset_seconds
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                old.checked_add(seconds)
                    .filter(|new| new.abs() <= Self::MAX_OFFSET_SECONDS)
            })
            .ok()
            .map(|old| old + seconds)
    }

    /// Set the offset.
    pub fn set_offset(&self, seconds: i64) {
        self.offset_seconds.store(seconds, Ordering::Relaxed);
    }

    /// Set the shift of a `clock_skew` fault (0 when none is in force).
    pub fn set_skew(&self, seconds: i64) {
        self.skew_seconds.store(seconds, Ordering::Relaxed);
    }

    /// The shift of a `clock_skew` fault in force.
    pub fn skew_seconds(&self) -> i64 {
        self.skew_seconds.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch on the mock's clock.
    pub fn now_unix(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        system
            .saturating_add(self.offset_seconds())
            .saturating_add(self.skew_seconds())
    }

    /// The mock's current time in Bogotá.
    pub fn now_bogota(&self) -> DateTime<FixedOffset> {
        let utc = DateTime::<Utc>::from_timestamp(self.now_unix(), 0).unwrap_or_default();
        match FixedOffset::east_opt(BOGOTA_OFFSET_SECONDS) {
            Some(tz) => utc.with_timezone(&tz),
            None => utc.fixed_offset(),
        }
    }

    /// Today's date in Bogotá on the mock's clock.
    pub fn today(&self) -> NaiveDate {
        self.now_bogota().date_naive()
    }
}
