//! The `db-migrate` command line: parses arguments and hands over to the library.

use std::process::ExitCode;

use db_migrate::cli::Cli;
use db_migrate::{Error, TOOL};

fn main() -> ExitCode {
    let cli = cdkit::cli::parse::<Cli>();
    let common = cli.common.clone();
    cdkit::cli::run_tool::<Error>(TOOL, &common, || db_migrate::cli::run(cli))
}
