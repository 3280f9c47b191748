//! rolling-install's command line as users see it: every `--help` example parses with the
//! current flags, and the flag groups rollback shares keep rolling-install's variables.

use clap::CommandFactory;
use rolling_install::cli::Cli;

#[test]
fn every_help_example_parses() {
    cdkit_testkit::assert_help_examples_parse::<Cli>(6);
}

#[test]
fn every_variable_is_rolling_installs_own() {
    let cmd = Cli::command();
    let mut seen = 0;
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        seen += 1;
        assert!(
            env.starts_with(rolling_install::args::ENV_PREFIX)
                || env.starts_with("CDKIT_")
                || env == "JUNIT_OUTPUT",
            "--{}: {env}",
            arg.get_id()
        );
    }
    assert!(seen > 30, "{seen} variables");
}
