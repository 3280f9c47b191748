//! The `rolling-install` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use rolling_install::cli::Cli;
use rolling_install::{Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || rolling_install::cli::run(cli))
}
