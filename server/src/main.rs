//! The `tierwatch` command. All logic lives in the library so tests drive it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tierwatch::cli::run(tierwatch::cli::Cli::parse())
}
