//! One module per subcommand, each exposing `run(..)`.

pub mod payload;
pub mod run;
