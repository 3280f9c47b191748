//! Every command line in `db-migrate --help`'s Examples (and so in the man page) parses with the
//! current flags: an example can never drift from the clap definition it documents.

#[test]
fn every_help_example_parses() {
    cdkit_testkit::assert_help_examples_parse::<db_migrate::cli::Cli>(10);
}
