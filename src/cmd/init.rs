//! `mss-harness init [DIR] [--target mock|URL]`: the first files of a team's
//! harness set-up ([`crate::setup`]) and the next three commands.
//!
//! Nothing is overwritten: when any of the files exists, `init` writes none
//! and names them (exit 2).

use std::path::PathBuf;

/// Flags of `init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where the files go (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// `mock` (the embedded mock Ministry) or the base URL of the target,
    /// e.g. https://miseguridadsocial.gov.co:8062.
    #[arg(long, default_value = "mock", value_name = "mock|URL")]
    pub target: String,
}

/// `mss-harness init`: write the files and print what to do next.
pub fn run(args: &InitArgs) -> anyhow::Result<()> {
    // `init` takes no --contract: the scenario names the bundled contract's codigos.
    let written =
        crate::setup::write(&args.dir, &args.target, crate::domain::Contract::embedded())?;
    print!("{}", written.message);
    Ok(())
}
