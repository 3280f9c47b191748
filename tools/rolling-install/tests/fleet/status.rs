//! `rolling-install status` on the lab: three hosts are put wrong for real (one drained on
//! HAProxy, one on an older version, one whose service unit failed) and a fourth cut off;
//! status names each, exits 1, its `--json` validates against the published schema, and
//! neither run changes anything. The lab is then put back and status says so with exit 0.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use cdkit_testkit::testbed::must;

/// The flags every status call of this scenario gives (after the lab's inventory, group,
/// ssh config and package): the lab's HAProxy and the health check the rollouts use.
const FLAGS: &str =
    "status --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" \
     --health-url 'http://{host}:8080/health' --health-body '{version}' --health-timeout 2s \
     --connect-timeout 3s";

/// A runtime drop-in that turns hello-service's `Restart=on-failure` off, so a killed
/// service stays failed instead of being restarted (gone at the next boot, removed below).
const NO_RESTART: &str = "/run/systemd/system/hello-service.service.d/cdkit-status-test.conf";

fn status(lab: &str, extra: &[&str]) -> Output {
    super::super::in_lab(lab, FLAGS)
        .args(extra)
        .output()
        .unwrap()
}

fn schema() -> std::path::PathBuf {
    cdkit_testkit::workspace_root().join("docs/schemas/rolling-install-status.schema.json")
}

/// The `--json` of `out`, validated by Python's jsonschema against the published schema.
fn valid_json(out: &Output, keep: &Path) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(keep, &text).unwrap();
    let errors = cdkit_testkit::json_schema_errors(&schema(), &text);
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    serde_json::from_str(&text).unwrap()
}

fn sh(lab: &str, host: &str, script: &str, what: &str) -> String {
    must(
        super::super::testbed_of(lab, &["exec", host, "sh", "-c", script]),
        what,
    )
}

fn haproxy(lab: &str, command: &str) {
    must(
        super::super::testbed_of(
            lab,
            &[
                "run",
                "--",
                "sh",
                "-c",
                &format!(
                    "echo \"{command}\" | socat stdio unix-connect:$CDKIT_TESTBED_HAPROXY_SOCKET"
                ),
            ],
        ),
        command,
    );
}

/// What the lab looks like to the test itself (not through rolling-install).
fn snapshot(lab: &str) -> (Vec<String>, Vec<String>) {
    (
        super::super::versions_of(lab, super::super::HOSTS),
        cdkit_testkit::testbed::haproxy_states(lab),
    )
}

/// Runs on a lab of `HOSTS` hosts all on `version`, all UP, where `old` is in the APT
/// repository; leaves it so.
pub fn calls_out_what_is_wrong(lab: &str, dir: &Path, version: &str, old: &str) {
    let hosts = super::super::HOSTS;
    let code = super::super::code;

    // All well: exit 0, and the JSON says so host by host.
    let out = status(lab, &["--json"]);
    assert_eq!(code(&out), 0, "{}", cdkit_testkit::output_text(&out));
    let v = valid_json(&out, &dir.join("status-ok.json"));
    assert_eq!(v["version"], version);
    assert_eq!(v["hosts"].as_array().unwrap().len(), hosts);
    for h in v["hosts"].as_array().unwrap() {
        assert_eq!(h["problems"], serde_json::json!([]), "{h}");
        assert_eq!(h["units"][0]["unit"], "hello-service.service", "{h}");
        assert_eq!(h["units"][0]["sub"], "running", "{h}");
        assert_eq!(h["balancers"][0]["state"], "UP", "{h}");
        assert_eq!(h["health"]["healthy"], true, "{h}");
    }
    assert_eq!(v["lock"]["state"], "free");

    // h3 on the old version (a real install from the lab's repository).
    let out = super::super::in_lab(lab, &format!("--version {old} --hosts h3 -q"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", super::super::stderr(&out));
    // h5 drained on HAProxy, as a rollout or an operator leaves it.
    haproxy(
        lab,
        "set server $CDKIT_TESTBED_HAPROXY_BACKEND/h5 state drain",
    );
    // h7's service killed for good: SIGKILL is a failure, which Restart=on-failure would
    // answer with a restart; the drop-in turns that off, so the unit stays failed (result
    // signal) as a service that gave up after its restarts would.
    sh(
        lab,
        "h7",
        &format!(
            "mkdir -p $(dirname {NO_RESTART}) && printf '[Service]\\nRestart=no\\n' > {NO_RESTART} \
             && systemctl daemon-reload && systemctl kill --signal=KILL hello-service.service \
             && for i in $(seq 100); do systemctl is-failed --quiet hello-service.service && exit 0; sleep 0.1; done; \
             systemctl status hello-service.service; exit 1"
        ),
        "fail hello-service on h7",
    );
    // h9 cut off (running, unreachable).
    must(
        super::super::testbed_of(lab, &["cut-host", "h9"]),
        "cut-host h9",
    );

    let before = snapshot(lab);
    let started = Instant::now();
    let out = status(lab, &[]);
    let took = started.elapsed();
    let text = cdkit_testkit::output_text(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(took < Duration::from_secs(40), "status took {took:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("summary: "))
        .unwrap_or_else(|| panic!("no summary line: {stdout}"));
    let last = super::super::stderr(&out);
    let last = last.lines().last().unwrap_or_default().to_string();
    for expected in [
        format!("h3: version {old} (group: {version})"),
        "h5: drained on haproxy:".to_string(),
        "h7: hello-service.service failed (failed, result signal)".to_string(),
        "h9: unreachable: ".to_string(),
    ] {
        assert!(summary.contains(&expected), "{expected:?} not in {summary}");
        assert!(last.contains(&expected), "{expected:?} not in {last}");
    }
    let row = |host: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("no row for {host}: {stdout}"))
            .to_string()
    };
    assert!(row("h3").contains(old), "{}", row("h3"));
    assert!(row("h5").contains("DRAIN"), "{}", row("h5"));
    assert!(row("h7").contains("failed/failed"), "{}", row("h7"));
    assert!(row("h9").contains("UNREACHABLE"), "{}", row("h9"));

    let out = status(lab, &["--json"]);
    assert_eq!(code(&out), 1, "{}", cdkit_testkit::output_text(&out));
    let v = valid_json(&out, &dir.join("status-broken.json"));
    assert_eq!(
        (v["ok"].clone(), v["exit"].clone()),
        (false.into(), 1.into())
    );
    let host = |name: &str| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(host("h3")["package"]["version"], old);
    assert_eq!(host("h3")["package"]["state"], "installed");
    assert_eq!(host("h5")["balancers"][0]["state"], "DRAIN");
    let unit = &host("h7")["units"][0];
    assert_eq!(
        (&unit["active"], &unit["sub"], &unit["result"]),
        (&"failed".into(), &"failed".into(), &"signal".into()),
        "{unit}"
    );
    assert_eq!(host("h9")["reachable"], false);
    assert!(
        v["unchecked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u.as_str().unwrap().starts_with("h9: unreachable: ")),
        "{}",
        v["unchecked"]
    );
    // Nobody else is called out.
    for name in ["h1", "h2", "h4", "h6", "h8", "h10"] {
        assert_eq!(host(name)["problems"], serde_json::json!([]), "{name}");
    }
    // Read-only: nothing changed, no lock taken.
    assert_eq!(snapshot(lab), before, "status changed the lab");
    assert_eq!(v["lock"]["state"], "free");
    sh(
        lab,
        "h1",
        "test ! -e /var/lib/cdkit/locks/rolling-install.all",
        "no lock left",
    );

    // Put the lab back: h9 reconnected, h7's unit as it was and started, h5 ready, h3 on
    // `version` (through a rollout, drained and back UP).
    must(
        super::super::testbed_of(lab, &["heal-host", "h9"]),
        "heal h9",
    );
    sh(
        lab,
        "h7",
        &format!(
            "rm -f {NO_RESTART} && rmdir $(dirname {NO_RESTART}) 2>/dev/null; systemctl daemon-reload \
             && systemctl reset-failed hello-service.service && systemctl start hello-service.service"
        ),
        "restore hello-service on h7",
    );
    haproxy(
        lab,
        "set server $CDKIT_TESTBED_HAPROXY_BACKEND/h5 state ready",
    );
    let out = super::super::in_lab(
        lab,
        &format!(
            "--version {version} --hosts h3 -q --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" \
             --health-url 'http://{{host}}:8080/health' --health-body '{{version}}'"
        ),
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 0, "{}", super::super::stderr(&out));
    // HAProxy's checks bring h7 and h9 back UP within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = status(lab, &[]);
        if code(&out) == 0 || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(code(&out), 0, "{}", cdkit_testkit::output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "summary: all {hosts} host(s) on hello-service {version}, installed, units running, \
             UP on every balancer, healthy"
        )),
        "{}",
        cdkit_testkit::output_text(&out)
    );
    let (versions, states) = snapshot(lab);
    assert!(versions.iter().all(|v| v == version), "{versions:?}");
    assert!(states.iter().all(|s| s == "UP"), "{states:?}");
}
