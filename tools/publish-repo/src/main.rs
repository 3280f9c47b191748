//! The `publish-repo` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use publish_repo::{Cli, Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || cli.run())
}
