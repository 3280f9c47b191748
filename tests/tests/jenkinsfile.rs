//! Every `sh` step of `Jenkinsfile.example`, in order, against the testbed (5 hosts
//! behind HAProxy: 3 testing, 2 production), as a Jenkins agent would run them: the pipeline's
//! `environment`, the credentials its `withCredentials` blocks bind, and the cdkit binaries on
//! PATH. Two builds go all the way to production (1.0, then 1.1 with a new migration); then the
//! pipeline's `post { unsuccessful }` steps run as if production had failed, and must bring the
//! production hosts and database back to 1.0 while testing stays on 1.1.
//!
//! Only the values that name a site (repository directory, inventory, load balancer, ssh, the
//! testing URL, the syslog collector) are replaced by the testbed's; the test fails if the
//! Jenkinsfile stops naming them, and if any of its shell steps was not run.

use cdkit_e2e::jenkinsfile::{self, Action, Run, Step};
use cdkit_e2e::{exclusive, text, tools_dir, Lab};
use cdkit_testkit::workspace_root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOSTS: usize = 5;
const TESTING: [&str; 3] = ["h1", "h2", "h3"];
const PRODUCTION: [&str; 2] = ["h4", "h5"];

/// Site values of the Jenkinsfile, as shell expressions evaluated inside the lab.
const SITE: [(&str, &str); 6] = [
    ("PUBLISH_REPO_DIR", "$CDKIT_TESTBED_REPO"),
    ("ROLLING_INSTALL_INVENTORY", "$CDKIT_TESTBED_INVENTORY"),
    (
        "ROLLING_INSTALL_LB",
        "haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND",
    ),
    // h1, a testing host (the lab's HAProxy balances every host).
    ("TESTING_URL", "http://10.213.0.11:8080"),
    ("CDKIT_SYSLOG", ""),
    ("CDKIT_PROGRESS", "plain"),
];

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What a Jenkins agent gives one build of the job.
struct Agent<'a> {
    lab: &'a Lab,
    workspace: PathBuf,
    env: BTreeMap<String, String>,
    credentials: BTreeMap<String, String>,
    tools: PathBuf,
    /// Lines of the Jenkinsfile whose shell step ran.
    ran: Vec<usize>,
}

impl<'a> Agent<'a> {
    fn new(
        lab: &'a Lab,
        workspace: &Path,
        env: BTreeMap<String, String>,
        credentials: &BTreeMap<String, String>,
        tools: &Path,
    ) -> Agent<'a> {
        Agent {
            lab,
            workspace: workspace.to_path_buf(),
            env,
            credentials: credentials.clone(),
            tools: tools.to_path_buf(),
            ran: Vec::new(),
        }
    }

    /// `${env.NAME}` in a credentials id.
    fn interpolate(&self, id: &str) -> String {
        let mut out = id.to_string();
        for (k, v) in &self.env {
            out = out.replace(&format!("${{env.{k}}}"), v);
        }
        out
    }

    fn run(&mut self, step: &Step) {
        let (script, run) = match &step.action {
            Action::SetEnv { name, value } => {
                self.env.insert(name.clone(), value.clone());
                return;
            }
            Action::Sh { script, run } => (script, run),
        };
        let mut prelude = String::new();
        for (k, v) in &self.env {
            if !SITE.iter().any(|(s, _)| s == k) {
                prelude += &format!("export {k}={}\n", sh_quote(v));
            }
        }
        for (k, v) in SITE {
            prelude += &if v.is_empty() {
                format!("unset {k}\n")
            } else {
                format!("export {k}=\"{v}\"\n")
            };
        }
        // What sshagent and the agent's ~/.ssh/config give Jenkins.
        prelude += "export ROLLING_INSTALL_SSH_CONFIG=\"$CDKIT_TESTBED_SSH_CONFIG\"\n";
        prelude += "export ROLLBACK_SSH_CONFIG=\"$CDKIT_TESTBED_SSH_CONFIG\"\n";
        // The agent signs with the key file the credential binds, not the testbed's keyring.
        prelude += "unset PUBLISH_REPO_SIGN_KEY\n";
        prelude += &format!(
            "export PATH={}:\"$PATH\"\n",
            sh_quote(&self.tools.display().to_string())
        );
        for (id, variable) in &step.credentials {
            let id = self.interpolate(id);
            let value = self
                .credentials
                .get(&id)
                .unwrap_or_else(|| panic!("line {}: no credential {id}", step.line));
            prelude += &format!("export {variable}={}\n", sh_quote(value));
        }
        eprintln!("== Jenkinsfile.example:{}: {script}", step.line);
        let out = self
            .lab
            .command(&[
                "run",
                "--",
                "bash",
                "-c",
                &format!("{prelude}set -e\n{script}"),
            ])
            .current_dir(&self.workspace)
            .output()
            .expect("run a step in the lab");
        // The step's last lines in the test's output, the whole of it if it failed.
        let stderr = text(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        for line in &lines[lines.len().saturating_sub(15)..] {
            eprintln!("   {line}");
        }
        assert!(
            out.status.success(),
            "Jenkinsfile.example:{}: `{script}` exited {:?}\n{stderr}",
            step.line,
            out.status.code(),
        );
        if let Run::Stdout(name) = run {
            self.env
                .insert(name.clone(), text(&out.stdout).trim().to_string());
        }
        self.ran.push(step.line);
    }
}

fn git(workspace: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
        .args(args)
        .current_dir(workspace)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

fn versions(lab: &Lab, hosts: &[&str]) -> Vec<String> {
    hosts
        .iter()
        .map(|h| {
            lab.exec_ok(
                h,
                &["dpkg-query", "-W", "-f", "${Version}", "hello-service"],
            )
        })
        .collect()
}

fn schema_version(db: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'greeting_counts'")
        .output()
        .expect("run sqlite3");
    text(&out.stdout).trim().to_string()
}

#[test]
fn every_sh_step_of_the_jenkinsfile_runs_against_the_testbed() {
    let _lock = exclusive();
    let pipeline = jenkinsfile::parse(
        &std::fs::read_to_string(workspace_root().join("Jenkinsfile.example"))
            .expect("read Jenkinsfile.example"),
    )
    .expect("Jenkinsfile.example parses");
    for (key, _) in SITE {
        assert!(
            pipeline.environment.contains_key(key),
            "Jenkinsfile.example no longer sets {key}; update this test's SITE list"
        );
    }
    let tools = tools_dir();
    let mut lab = Lab::new("jf");
    lab.ok(&["prepare"]);
    lab.up(&["-n", &HOSTS.to_string(), "--lb"]);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let key_file = secrets.join("signing-key.asc");
    lab.sh_ok(&format!(
        "gpg --batch --armor --export-secret-keys \"$CDKIT_TESTBED_SIGN_KEY\" > {}",
        sh_quote(&key_file.display().to_string())
    ));
    let testing_db = dir.path().join("testing.db");
    let production_db = dir.path().join("production.db");

    // The service's repository, as Jenkins checks it out.
    let workspace = dir.path().join("workspace");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(workspace_root().join("examples/hello-service"))
        .arg(&workspace)
        .status()
        .expect("run cp");
    assert!(cp.success());
    git(&workspace, &["init", "-q", "-b", "main"]);
    git(&workspace, &["add", "-A"]);
    git(&workspace, &["commit", "-q", "-m", "hello-service 1.0"]);

    let credentials: BTreeMap<String, String> = [
        ("apt-signing-key", key_file.display().to_string()),
        ("db-testing", format!("sqlite:{}", testing_db.display())),
        (
            "db-production",
            format!("sqlite:{}", production_db.display()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut ran: Vec<usize> = Vec::new();
    let build = |number: u32, ran: &mut Vec<usize>| -> BTreeMap<String, String> {
        let mut env = pipeline.environment.clone();
        env.insert("BUILD_NUMBER".into(), number.to_string());
        env.insert(
            "BUILD_TAG".into(),
            format!("jenkins-hello-service-{number}"),
        );
        env.insert("WORKSPACE".into(), workspace.display().to_string());
        let mut agent = Agent::new(&lab, &workspace, env, &credentials, &tools);
        for step in pipeline.steps.iter().filter(|s| !s.on_failure) {
            agent.run(step);
        }
        ran.extend(&agent.ran);
        agent.env
    };

    // Build 1: 1.0 all the way to production.
    let env1 = build(1, &mut ran);
    let v1 = env1["PKG_VERSION"].clone();
    assert!(v1.starts_with("1.0+"), "{v1}");
    assert_eq!(versions(&lab, &TESTING), [v1.as_str(); 3]);
    assert_eq!(versions(&lab, &PRODUCTION), [v1.as_str(); 2]);

    // Build 2: 1.1 with a new migration, all the way to production.
    let changelog = workspace.join("debian/changelog");
    let old = std::fs::read_to_string(&changelog).unwrap();
    std::fs::write(
        &changelog,
        format!("hello-service (1.1-1) bookworm; urgency=medium\n\n  * Count greetings.\n\n -- cdkit developers <cdkit@example.com>  Thu, 26 Nov 2026 10:00:00 +0000\n\n{old}"),
    )
    .unwrap();
    std::fs::write(
        workspace.join("migrations/0004_greeting_counts.up.sql"),
        "CREATE TABLE greeting_counts (greeting_id INTEGER PRIMARY KEY, served INTEGER NOT NULL DEFAULT 0);\n",
    )
    .unwrap();
    std::fs::write(
        workspace.join("migrations/0004_greeting_counts.down.sql"),
        "DROP TABLE greeting_counts;\n",
    )
    .unwrap();
    git(&workspace, &["add", "-A"]);
    git(&workspace, &["commit", "-q", "-m", "hello-service 1.1"]);
    let mut env2 = build(2, &mut ran);
    let v2 = env2["PKG_VERSION"].clone();
    assert!(v2.starts_with("1.1+"), "{v2}");
    assert_eq!(versions(&lab, &TESTING), [v2.as_str(); 3]);
    assert_eq!(versions(&lab, &PRODUCTION), [v2.as_str(); 2]);
    assert_eq!(schema_version(&production_db), "greeting_counts");

    // Production "failed" after its deploy: the post { unsuccessful } steps run.
    env2.insert("DEPLOY_TARGET".into(), "production".into());
    let mut agent = Agent::new(&lab, &workspace, env2, &credentials, &tools);
    for step in pipeline.steps.iter().filter(|s| s.on_failure) {
        agent.run(step);
    }
    ran.extend(&agent.ran);
    assert_eq!(
        versions(&lab, &PRODUCTION),
        [v1.as_str(); 2],
        "production back on 1.0"
    );
    assert_eq!(
        versions(&lab, &TESTING),
        [v2.as_str(); 3],
        "testing untouched"
    );
    assert_eq!(
        schema_version(&production_db),
        "",
        "1.1's migration reverted in production"
    );
    assert_eq!(
        schema_version(&testing_db),
        "greeting_counts",
        "testing database untouched"
    );
    let production = lab.sh_ok(&format!(
        "{} list --suite production",
        tools.join("publish-repo").display()
    ));
    assert!(
        production.contains(&v1) && !production.contains(&v2),
        "the production suite offers 1.0 again, not 1.1:\n{production}"
    );
    let states = lab.lb_states();
    assert!(
        states.iter().all(|(_, s)| s == "UP"),
        "every host back in rotation: {states:?}"
    );

    // Every shell step of the file ran.
    let all: Vec<usize> = pipeline
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Sh { .. }))
        .map(|s| s.line)
        .collect();
    let missing: Vec<&usize> = all.iter().filter(|l| !ran.contains(l)).collect();
    assert!(missing.is_empty(), "steps at lines {missing:?} never ran");

    // The reports the pipeline wrote are valid JUnit.
    cdkit_testkit::assert_valid_junit_in(&workspace.join("reports"));
    lab.down();
}
