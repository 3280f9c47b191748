//! The command line's definition: every `--help` example parses, and the signing flag group
//! works flattened into another tool's command line as it does in publish-repo's.

use clap::{CommandFactory, Parser};
use publish_repo::{Cli, Signer, SigningArgs};

/// Every command line in `publish-repo --help`'s Examples (and so in its man page) parses
/// with the current flags: an example can never drift from the command line it documents.
#[test]
fn every_help_example_parses() {
    // One per subcommand in the help text; fewer means the block was cut short.
    cdkit_testkit::assert_help_examples_parse::<Cli>(5);
}

/// Another tool's command line that re-publishes a suite, as rollback does.
#[derive(Debug, Parser)]
#[command(name = "other-tool")]
struct Flattened {
    #[arg(long)]
    repo: Option<std::path::PathBuf>,
    #[command(flatten)]
    signing: SigningArgs,
}

#[test]
fn signing_args_flatten_with_their_choices_and_conflicts() {
    let none = Flattened::try_parse_from(["other-tool", "--repo", "/srv/apt"]).unwrap();
    assert!(none.signing.signer().unwrap().is_none());

    let unsigned = Flattened::try_parse_from(["other-tool", "--unsigned"]).unwrap();
    assert!(matches!(
        unsigned.signing.signer().unwrap(),
        Some(Signer::Unsigned)
    ));

    for conflicting in [
        ["other-tool", "--sign-key", "ABCD", "--unsigned"],
        ["other-tool", "--sign-key-file", "key.asc", "--unsigned"],
        [
            "other-tool",
            "--sign-key",
            "ABCD",
            "--sign-key-file=key.asc",
        ],
    ] {
        let error = Flattened::try_parse_from(conflicting).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{conflicting:?}: {error}"
        );
    }

    let help = Flattened::command().render_long_help().to_string();
    for env in [
        "PUBLISH_REPO_SIGN_KEY",
        "PUBLISH_REPO_SIGN_KEY_FILE",
        "PUBLISH_REPO_UNSIGNED",
    ] {
        assert!(help.contains(&format!("[env: {env}=")), "{env} in:\n{help}");
    }
}
