//! `rolling-install status` against real hosts that need no lab: this machine (an inventory
//! host with `ansible_connection=local`, its real dpkg database and systemd) and a host on a
//! closed port. Its `--json` is checked against the published schema by Python's
//! `jsonschema`; the fleet test (tests/fleet/status.rs) does the same on ten real hosts
//! behind HAProxy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cdkit_testkit::HeldDeploymentLock;

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

fn schema() -> PathBuf {
    cdkit_testkit::workspace_root().join("docs/schemas/rolling-install-status.schema.json")
}

fn status(inventory: &Path, group: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["status", "--inventory"])
        .arg(inventory)
        .args(["--group", group, "--connect-timeout", "2s"])
        .args(args)
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The `--json` document of `out`, valid against the published schema.
fn valid_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = cdkit_testkit::json_schema_errors(&schema(), &text);
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn this_machine_is_read_as_it_is_and_nothing_is_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (inventory, here) = cdkit_testkit::local_inventory(dir.path());
    let dpkg_version = cdkit_testkit::installed_version("coreutils");

    // coreutils: installed, ships no unit. A health command that passes. Exit 0.
    let out = status(
        &inventory,
        &here,
        &["--package", "coreutils", "--health-cmd", "true", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", cdkit_testkit::output_text(&out));
    let v = valid_json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], dpkg_version.as_str());
    assert_eq!(v["hosts"][0]["package"]["state"], "installed");
    assert_eq!(v["hosts"][0]["package"]["abbrev"], "ii");
    assert_eq!(v["hosts"][0]["health"]["healthy"], true);
    assert_eq!(v["lock"]["state"], "free");

    // A unit given by name is read with systemctl show: under systemd a unit that does not
    // exist is inactive; without systemd (a container) its state is unknown, and said so. A
    // failing health command is named. Exit 1, the reason on stderr's last line.
    let report = dir.path().join("status.xml");
    let out = status(
        &inventory,
        &here,
        &[
            "--package",
            "coreutils",
            "--service-unit",
            "cdkit-no-such-unit.service",
            "--health-cmd",
            "exit 3",
            "--junit",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 1, "{}", cdkit_testkit::output_text(&out));
    // --junit: one case per host, failed with what is wrong.
    cdkit_testkit::assert_valid_junit(&report);
    assert_eq!(
        cdkit_testkit::junit_testcases(&report),
        [(
            "rolling-install.coreutils.".to_string() + &here,
            "status local1".to_string()
        )]
    );
    let counts = cdkit_testkit::python_junit_counts(&report);
    assert_eq!((counts.tests, counts.failures), (1, 1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("HOST"), "{stdout}");
    let last = String::from_utf8_lossy(&out.stderr);
    let last = last.lines().last().unwrap_or_default();
    let unit = if Path::new("/run/systemd/system").is_dir() {
        "local1: cdkit-no-such-unit.service inactive (dead)"
    } else {
        "local1: unit states unknown: systemctl show says nothing of cdkit-no-such-unit.service"
    };
    assert!(
        last.starts_with("rolling-install: ")
            && last.contains(unit)
            && last.contains("local1: unhealthy: health check on local1 failed (exit status 3)"),
        "{last}"
    );

    // A package dpkg never heard of: not installed, exit 1.
    let out = status(
        &inventory,
        &here,
        &["--package", "cdkit-no-such-package", "--json"],
    );
    assert_eq!(code(&out), 1, "{}", cdkit_testkit::output_text(&out));
    let v = valid_json(&out);
    assert_eq!(v["hosts"][0]["package"]["state"], "not-installed");
    assert_eq!(v["version"], serde_json::Value::Null);
    assert_eq!(
        v["problems"][0],
        "local1: cdkit-no-such-package not installed"
    );

    // A lock another run holds is shown, and status neither waits for it nor takes it.
    let held = HeldDeploymentLock::hold(&here, "another rollout (run r1)");
    let started = std::time::Instant::now();
    let out = status(&inventory, &here, &["--package", "coreutils"]);
    assert_eq!(code(&out), 0, "{}", cdkit_testkit::output_text(&out));
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("lock on local1: held by another rollout (run r1)"),
        "{}",
        cdkit_testkit::output_text(&out)
    );
    let owner = format!("/var/lib/cdkit/locks/rolling-install.{here}/owner");
    assert_eq!(
        std::fs::read_to_string(&owner).unwrap().trim(),
        "another rollout (run r1)"
    );
    drop(held);
}

#[test]
fn an_unreachable_host_is_named_with_why_and_exits_75() {
    let dir = tempfile::tempdir().unwrap();
    let (inventory, _) = cdkit_testkit::local_inventory(dir.path());
    let out = status(&inventory, "gone", &["--package", "coreutils", "--json"]);
    assert_eq!(code(&out), 75, "{}", cdkit_testkit::output_text(&out));
    let v = valid_json(&out);
    assert_eq!(v["hosts"][0]["reachable"], false);
    let unchecked = v["unchecked"][0].as_str().unwrap();
    assert!(unchecked.starts_with("down1: unreachable: "), "{unchecked}");
    let last = String::from_utf8_lossy(&out.stderr);
    assert!(
        last.lines()
            .last()
            .unwrap_or_default()
            .contains("could not check: down1: unreachable"),
        "{last}"
    );
}

#[test]
fn bad_input_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (inventory, here) = cdkit_testkit::local_inventory(dir.path());
    for (args, named) in [
        (&[][..], "--package"),
        (&["--package", "Bad_Name"][..], "Bad_Name"),
        (
            &["--package", "coreutils", "--service-unit=a b"][..],
            "--service-unit",
        ),
        (&["--package", "coreutils", "--lb", "nginx:/x"][..], "--lb"),
    ] {
        let out = status(&inventory, &here, args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            cdkit_testkit::output_text(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().count() == 1 && err.contains(named),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_schema_refuses_what_the_tool_must_not_print() {
    // A valid document, then the same with each kind of mistake: the schema is not vacuous.
    let good = serde_json::json!({
        "format": 1, "group": "all", "package": "p", "version": "1.0", "ok": true, "exit": 0,
        "balancers": [], "health_check": null,
        "lock": {"host": "h1", "state": "free", "holder": null, "error": null},
        "hosts": [{"name": "h1", "address": "10.0.0.1", "reachable": true, "error": null,
                   "package": {"state": "installed", "abbrev": "ii", "version": "1.0"},
                   "units": [], "balancers": [], "health": null, "problems": []}],
        "problems": [], "unchecked": []
    });
    assert_eq!(
        cdkit_testkit::json_schema_errors(&schema(), &good.to_string()),
        Vec::<String>::new()
    );
    for (path, bad) in [
        ("/exit", serde_json::json!(5)),
        ("/lock/state", serde_json::json!("taken")),
        ("/hosts/0/package/state", serde_json::json!("gone")),
        ("/problems", serde_json::json!(["no host prefix"])),
        ("/format", serde_json::json!(2)),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        let errors = cdkit_testkit::json_schema_errors(&schema(), &doc.to_string());
        assert!(!errors.is_empty(), "{path} accepted");
    }
}
