//! `mss-harness`: everything lives in the library; see `mss_harness::cli`.

/// mimalloc rather than glibc's malloc: a long run's memory stays flat through
/// bursts of connections (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mss_harness::cli::run(std::env::args_os())
}
