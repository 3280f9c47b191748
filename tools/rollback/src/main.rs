//! The `rollback` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use rollback::cli::Cli;
use rollback::{Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || rollback::run(&cli))
}
