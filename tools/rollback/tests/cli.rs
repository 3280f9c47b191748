//! Bad input to the real `rollback` binary: one clear line naming the input and the problem,
//! exit 2, nothing changed (no host is reached: these fail before any ssh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rollback");

fn rollback(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ROLLBACK_RECORD")
        .env_remove("ROLLBACK_INVENTORY")
        .env_remove("PUBLISH_REPO_SIGN_KEY")
        .env_remove("PUBLISH_REPO_SIGN_KEY_FILE")
        .env_remove("PUBLISH_REPO_UNSIGNED")
        .output()
        .expect("run rollback")
}

fn one_error_line(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.contains(needle)),
        "no line names {needle:?}: {stderr}"
    );
    assert!(
        lines.len() == 1 || lines[0].starts_with("error:"),
        "one error line expected: {stderr}"
    );
}

#[test]
fn missing_and_unreadable_inputs_are_named() {
    one_error_line(&rollback(&[]), "--record FILE");
    one_error_line(
        &rollback(&["--record", "/nonexistent/deploy.json"]),
        "/nonexistent/deploy.json",
    );
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("deploy.json");
    std::fs::write(&record, "{}").unwrap();
    one_error_line(
        &rollback(&["--record", record.to_str().unwrap()]),
        "is not a rolling-install journal",
    );
    // The explicit form needs a package and a version (clap's own usage error, also 2).
    let inventory = dir.path().join("hosts");
    std::fs::write(&inventory, "web1\nweb2\n").unwrap();
    one_error_line(
        &rollback(&["--inventory", inventory.to_str().unwrap()]),
        "--package",
    );
}

#[test]
fn names_and_versions_are_checked_against_debian_policy() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts");
    std::fs::write(&inventory, "web1\n").unwrap();
    let inv = inventory.to_str().unwrap();
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--package",
            "Hello_Service",
            "--to-version",
            "1.0-1",
        ]),
        "Hello_Service",
    );
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--package",
            "hello-service",
            "--to-version",
            "1.0 beta",
        ]),
        "1.0 beta",
    );
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--group",
            "production",
            "--package",
            "hello-service",
            "--to-version",
            "1.0-1",
        ]),
        "production",
    );
}

/// A rolling-install record of one host at 192.0.2.1 (TEST-NET: nothing answers there, so a
/// run that reached for the host would end in 75, never in 2).
fn record_of(dir: &Path, group: &str, previous: &str) -> (PathBuf, serde_json::Value) {
    let record = dir.join("deploy.json");
    let journal = serde_json::json!({
        "tool": "rolling-install", "run_id": "r", "package": "hello-service",
        "version": "2.0-1", "group": group, "started": "2026-11-26T10:00:00Z",
        "finished": null, "outcome": null,
        "hosts": [{"name": "web1", "address": "192.0.2.1", "previous_version": previous,
                   "recorded": true, "state": "installed", "drained": [], "steps": []}]
    });
    std::fs::write(&record, journal.to_string()).unwrap();
    (record, journal)
}

#[test]
fn a_record_with_a_bad_previous_version_is_refused_before_any_host_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let (record, journal) = record_of(dir.path(), "all", "1.0 beta");
    refused_untouched(&record, &journal, "web1");
}

/// `rollback --record RECORD` fails with one line naming `needle`, the record unchanged.
fn refused_untouched(record: &Path, journal: &serde_json::Value, needle: &str) {
    let out = rollback(&[
        "--record",
        record.to_str().unwrap(),
        "--connect-timeout",
        "1s",
    ]);
    one_error_line(&out, needle);
    assert_eq!(
        std::fs::read_to_string(record).unwrap(),
        journal.to_string(),
        "the record is untouched"
    );
}

/// `rollback --record RECORD --plan --json`, which must succeed.
fn record_plan(record: &Path) -> serde_json::Value {
    let out = rollback(&["--record", record.to_str().unwrap(), "--plan", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_hostile_group_in_a_record_never_names_a_path() {
    let dir = tempfile::tempdir().unwrap();
    for group in ["", "a\nb"] {
        let (record, journal) = record_of(dir.path(), group, "1.0-1");
        refused_untouched(&record, &journal, "is not a host pattern");
    }
    // Any other group is a host pattern; one that is not a plain name is hashed into the
    // lock's name, so `../x` cannot climb out of the lock directory.
    let (record, _) = record_of(dir.path(), "../x", "1.0-1");
    let plan = record_plan(&record);
    let lock_dir = plan["lock_dir"].as_str().unwrap();
    assert!(
        lock_dir.starts_with("/var/lib/cdkit/locks/rolling-install.pattern-")
            && !lock_dir.contains(".."),
        "{lock_dir}"
    );
}

#[test]
fn plan_shows_the_way_back_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        "[web]\nw1 ansible_host=192.0.2.1\nw2 ansible_host=192.0.2.2 ansible_port=2222\n[web:vars]\nansible_user=deploy\n",
    )
    .unwrap();
    let out = rollback(&[
        "--inventory",
        inventory.to_str().unwrap(),
        "--group",
        "web",
        "--package",
        "hello-service",
        "--to-version",
        "1.0-1",
        "--plan",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("1 canary  w1    192.0.2.1  -     deploy"),
        "{table}"
    );
    assert!(table.contains("w2    192.0.2.2  2222  deploy"), "{table}");
    assert!(
        table.contains("lock: /var/lib/cdkit/locks/rolling-install.web on w1"),
        "{table}"
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["--inventory", inventory.to_str().unwrap(), "--group", "web"])
        .args([
            "--package",
            "hello-service",
            "--to-version",
            "1.0-1",
            "--plan",
        ]);
    cdkit_testkit::assert_closed_stdout_is_a_normal_end(cmd, "rollback --plan");

    // From a record: the hosts in the order they go back (newest first).
    let (record, _) = record_of(dir.path(), "all", "1.0-1");
    let plan = record_plan(&record);
    assert_eq!(plan["batches"][0][0]["address"], "192.0.2.1");
    assert_eq!(plan["reader"], "record");
}

#[test]
fn the_signing_key_for_repo_is_checked_before_any_host_or_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (record, _) = record_of(dir.path(), "all", "1.0-1");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let base = [
        "--record",
        record.to_str().unwrap(),
        "--repo",
        repo.to_str().unwrap(),
        "--connect-timeout",
        "1s",
    ];
    // No key at all: the plain run and the dry run both say what is missing.
    for dry in [false, true] {
        let mut args = base.to_vec();
        if dry {
            args.push("--dry-run");
        }
        one_error_line(&rollback(&args), "--repo needs a signing key");
    }
    // A key that is not in the keyring (an empty GNUPGHOME): gpg's answer, before any host.
    let gnupg = dir.path().join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut args = base.to_vec();
    args.extend([
        "--sign-key",
        "0123456789ABCDEF0123456789ABCDEF01234567",
        "--dry-run",
    ]);
    let out = Command::new(BIN)
        .args(&args)
        .env("GNUPGHOME", &gnupg)
        .env_remove("PUBLISH_REPO_SIGN_KEY")
        .env_remove("PUBLISH_REPO_SIGN_KEY_FILE")
        .env_remove("PUBLISH_REPO_UNSIGNED")
        .output()
        .expect("run rollback");
    one_error_line(&out, "no such secret key");
    // A key file that does not exist.
    let mut args = base.to_vec();
    args.extend(["--sign-key-file", "/nonexistent/key.asc"]);
    one_error_line(&rollback(&args), "/nonexistent/key.asc");
}

#[test]
fn help_names_the_exit_codes_the_code_returns() {
    let out = rollback(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    // The repository goes first: its failure is 1 with nothing changed. A database failure
    // comes after the hosts are back: 3 (database::apply), never 1.
    assert!(
        help.contains("1 the repository step failed, and nothing was changed"),
        "{help}"
    );
    assert!(
        help.contains("a database step that fails after the hosts are back is always 3"),
        "{help}"
    );
    assert!(
        !help.contains("repository or database step failed"),
        "{help}"
    );
}

/// Every command line of `--help`'s examples parses with the current flags.
#[test]
fn every_help_example_parses() {
    cdkit_testkit::assert_help_examples_parse::<rollback::cli::Cli>(3);
}

/// The flag groups shared with rolling-install keep rollback's own environment variables
/// (`ROLLBACK_*`), and the parser reads them.
#[test]
fn shared_flags_read_rollbacks_environment_variables() {
    use clap::CommandFactory;
    let cmd = rollback::cli::Cli::command();
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        assert!(
            env.starts_with("ROLLBACK_")
                || env.starts_with("PUBLISH_REPO_SIGN")
                || env.starts_with("PUBLISH_REPO_UNSIGNED")
                || env.starts_with("CDKIT_")
                || env == "JUNIT_OUTPUT",
            "--{}: {env}",
            arg.get_id()
        );
    }
    // Read at parse time: a bad value in the variable is bad input, named.
    let out = Command::new(BIN)
        .args(["--record", "/nonexistent/deploy.json"])
        .env("ROLLBACK_BATCH", "zero")
        .env("ROLLING_INSTALL_BATCH", "1")
        .output()
        .expect("run rollback");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("zero"), "{stderr}");
}
