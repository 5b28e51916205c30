//! `mss-harness`: everything lives in the library; see `mss_harness::cli`.

fn main() -> std::process::ExitCode {
    mss_harness::cli::run(std::env::args_os())
}
