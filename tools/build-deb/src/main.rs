//! The `build-deb` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use build_deb::cli::Cli;
use build_deb::{Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || build_deb::cli::run(cli))
}
