//! Every command line in `db-migrate --help`'s Examples (and so in the man page) parses with the
//! current flags: an example can never drift from the clap definition it documents.

use clap::{CommandFactory, Parser};

use db_migrate::cli::Cli;

#[test]
fn every_help_example_parses() {
    let examples = cdkit::docs::help_examples(&Cli::command()).expect("the --help examples");
    for argv in examples {
        if let Err(e) = Cli::try_parse_from(&argv) {
            panic!("{argv:?} does not parse:\n{e}");
        }
    }
}
