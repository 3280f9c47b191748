//! The `run-tests` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use run_tests::cli::Cli;
use run_tests::{Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || run_tests::cli::run(cli))
}
