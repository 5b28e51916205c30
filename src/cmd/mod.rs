//! One module per subcommand, each exposing `run(..)`.

pub mod capacity;
pub mod cleanup;
pub mod compare;
pub mod history;
pub mod init;
pub mod merge;
pub mod payload;
pub mod preflight;
pub mod run;
