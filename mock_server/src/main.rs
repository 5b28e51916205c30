//! `mss-mock`: the bundled mock Ministry. Everything lives in the library.

use clap::Parser;

/// The bundled mock of the MSPS token and report services.
#[derive(Debug, Parser)]
#[command(name = "mss-mock", version)]
struct Cli {
    #[command(flatten)]
    args: mss_mock::cli::MockArgs,
}

/// mimalloc rather than glibc's malloc: memory stays flat through bursts of
/// connections.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mss_mock::huge_pages_off();
    serve()
}

#[tokio::main]
async fn serve() -> std::process::ExitCode {
    let cli = Cli::parse();
    let run = async {
        let contract = mss_mock::cli::contract(&cli.args)?;
        mss_mock::cli::run(cli.args, contract).await
    };
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mss-mock: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
