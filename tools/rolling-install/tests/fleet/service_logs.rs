//! The service's own logs in a rollout: a failure's reason, read from the failing unit's
//! journal, reaches every place a developer looks without logging in; and every line the
//! service writes on a host during a run reaches the central log, none from before it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use cdkit_testkit::testbed::must;

/// `reason` (a line the failing service wrote to its journal) is in the run's one-line error
/// (`stderr`), in the JUnit failure body, in the record's failed step, on the deployment page
/// and in the central log as the service's own line.
pub fn assert_reason_everywhere(
    reason: &str,
    stderr: &str,
    junit: &Path,
    record: &Path,
    central: &Path,
    page: &Path,
) {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(
        html.contains(reason),
        "the deployment page shows the reason"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(reason), "closing line: {last}");
    let xml = std::fs::read_to_string(junit).unwrap();
    let failure = xml
        .split("<failure")
        .nth(1)
        .and_then(|f| f.split("</failure>").next())
        .unwrap_or_else(|| panic!("no failure in {xml}"));
    let body = failure.split_once('>').map(|(_, b)| b).unwrap_or_default();
    assert!(body.contains(reason), "failure body: {failure}");
    assert!(body.contains("hello-service.service: active"), "{body}");
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    let failed_step = journal["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["steps"].as_array().unwrap().iter())
        .find(|s| s["ok"] == false)
        .expect("a failed step");
    assert!(
        failed_step["detail"].as_str().unwrap().contains(reason),
        "{failed_step}"
    );
    let lines = central_lines(central);
    assert!(
        lines.iter().any(|l| l["source"] == "service"
            && l["unit"] == "hello-service.service"
            && l["host"] == "h1"
            && l["priority"] == 3
            && l["service_time"].is_string()
            && l["message"].as_str().unwrap().contains(reason)),
        "the service's line is not in the central log"
    );
}

/// Every line of a central log, each a JSON object.
pub fn central_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Five hosts write numbered lines (the service's `/log/TAG/N`) before a rollout and all
/// through it; the central log holds every line written during the run, none from before.
/// Leaves the hosts on `back_to`.
pub fn every_line_of_the_run(dir: &Path, back_to: &str) {
    let hosts = ["h1", "h2", "h3", "h4", "h5"];
    let say = |host: &str, tag: &str, n: u32| -> bool {
        let out = super::super::testbed(&[
            "exec",
            host,
            "curl",
            "-sf",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:8080/log/{tag}/{n}"),
        ]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("logged")
    };
    for host in hosts {
        assert!(say(host, "before", 5), "{host} logs before the run");
    }
    let record = dir.join("ri-1.0-1.json");
    let _ = std::fs::remove_file(&record);
    let central = dir.join("central-lines.jsonl");
    let written: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    // Lines are written until the last host's turn begins: its turn (install, health, ready)
    // outlasts a write by far, so every line is on its host before the run's last collection.
    let last_turn_began = || {
        std::fs::read(&record)
            .ok()
            .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
            .is_some_and(|j| j["hosts"][4]["recorded"] == true)
    };
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The run starts (its clock, from which each host's journal is read) before it
            // writes its record; lines written before that are from before the run.
            while !record.exists() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            for k in 1.. {
                for host in hosts {
                    if stop.load(Ordering::Relaxed) || last_turn_began() {
                        return;
                    }
                    if say(host, &format!("during-{k}"), 3) {
                        written.lock().unwrap().push((host.to_string(), k));
                    }
                }
            }
        });
        let out = super::super::rollout(
            "1.0-1",
            &[
                "--hosts",
                &hosts.join(","),
                "--batch",
                "1,2",
                "--log-file",
                central.to_str().unwrap(),
            ],
            dir,
        );
        stop.store(true, Ordering::Relaxed);
        out
    });
    assert_eq!(out.status.code(), Some(0), "{}", super::super::stderr(&out));
    let written = written.into_inner().unwrap();
    let service: Vec<(String, String)> = central_lines(&central)
        .iter()
        .filter(|l| l["source"] == "service")
        .map(|l| {
            (
                l["host"].as_str().unwrap().to_string(),
                l["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        !service.iter().any(|(_, m)| m.contains("before line")),
        "a line from before the run was collected"
    );
    // Hosts of every batch wrote during the run, before and after their turn.
    for host in hosts {
        assert!(
            written.iter().any(|(h, _)| h == host),
            "{host} never answered: {written:?}"
        );
    }
    let mut missing = Vec::new();
    for (host, k) in &written {
        for i in 1..=3 {
            let text = format!("during-{k} line {i} of 3");
            if !service.iter().any(|(h, m)| h == host && m.ends_with(&text)) {
                missing.push(format!("{host}: {text}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} lines missing from the central log: {missing:?}",
        missing.len(),
        written.len() * 3
    );
    let out = super::super::rollout(
        back_to,
        &["--hosts", &hosts.join(","), "--batch", "100%"],
        dir,
    );
    must(out, &format!("back to {back_to}"));
}
