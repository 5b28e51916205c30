//! The process's logger during a run: Goose's errors only, on stderr. Goose
//! warns about every failed request, which a run against a failing target (or
//! a fault rehearsal) would flood; the harness classifies them in its outputs
//! instead.

/// The process's logger during a run: Goose's errors only, on stderr.
#[derive(Debug)]
pub struct GooseErrorsOnly;

impl log::Log for GooseErrorsOnly {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Error
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("goose: {}", record.args());
        }
    }

    fn flush(&self) {}
}

impl GooseErrorsOnly {
    /// Install it as the process's logger (once; later calls do nothing).
    pub fn install() {
        static LOGGER: GooseErrorsOnly = GooseErrorsOnly;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Error);
        }
    }
}
