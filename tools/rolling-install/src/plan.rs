//! The plan of a rollout, resolved without connecting anywhere: which hosts, in which
//! batches, reached how (address, port, user, key, ssh options, local or ssh, sudo user),
//! under which load-balancer server name, with the deployment lock on which host. What
//! `rolling-install plan` prints as a table or JSON, so the hosts an inventory resolves to
//! can be checked before anything runs.

use serde::Serialize;

use crate::batch::BatchSpec;
use crate::deploy_lock;
use crate::inventory::{Connection, Host};
use crate::lb;

/// One host as the rollout will reach it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedHost {
    /// The inventory name.
    pub name: String,
    /// How ssh reaches it.
    #[serde(flatten)]
    pub connection: Connection,
    /// The load balancer's server name for it.
    pub server: String,
}

/// A whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The group or host pattern.
    pub group: String,
    /// Which inventory reader resolved it: `ansible` or `native`.
    pub reader: String,
    /// Batches in order; the first is the canary.
    pub batches: Vec<Vec<PlannedHost>>,
    /// Where the deployment lock lives, and its directory there.
    pub lock_host: PlannedHost,
    /// The lock's directory on the lock host.
    pub lock_dir: String,
}

impl Plan {
    /// Resolve `hosts` into batches; an unusable connection is an error naming the host.
    pub fn new(
        group: &str,
        reader: &str,
        hosts: &[Host],
        lock_host: &Host,
        batch: &BatchSpec,
        server_template: Option<&str>,
    ) -> Result<Plan, String> {
        let planned = |h: &Host| -> Result<PlannedHost, String> {
            Ok(PlannedHost {
                name: h.name.clone(),
                connection: h.connection()?,
                server: lb::server_name(h, server_template),
            })
        };
        let all: Vec<PlannedHost> = hosts.iter().map(planned).collect::<Result<_, _>>()?;
        let batches = batch
            .plan(all.len())
            .into_iter()
            .map(|b| b.into_iter().map(|i| all[i].clone()).collect())
            .collect();
        Ok(Plan {
            group: group.to_string(),
            reader: reader.to_string(),
            batches,
            lock_host: planned(lock_host)?,
            lock_dir: deploy_lock::lock_dir(group),
        })
    }

    /// The plan as pretty-printed JSON, with a final newline.
    pub fn json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self)
            .map(|t| t + "\n")
            .map_err(|e| format!("cannot write the plan as JSON: {e}"))
    }

    /// The plan as an aligned table, one host a line, batches marked.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "batch".to_string(),
            "host".into(),
            "address".into(),
            "port".into(),
            "user".into(),
            "via".into(),
            "server".into(),
        ]];
        for (n, batch) in self.batches.iter().enumerate() {
            for h in batch {
                let label = if n == 0 {
                    "1 canary".to_string()
                } else {
                    (n + 1).to_string()
                };
                rows.push([
                    label,
                    h.name.clone(),
                    h.connection.address.clone(),
                    port(h),
                    user(h),
                    via(h),
                    h.server.clone(),
                ]);
            }
        }
        let mut out = format!(
            "plan: {} host(s) of {} in {} batch(es), read by the {} inventory reader\n",
            self.batches.iter().map(Vec::len).sum::<usize>(),
            self.group,
            self.batches.len(),
            self.reader
        );
        out.push_str(&aligned(&rows));
        out.push_str(&format!(
            "lock: {} on {} ({}{})\n",
            self.lock_dir,
            self.lock_host.name,
            self.lock_host.connection.address,
            self.lock_host
                .connection
                .port
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
        ));
        out
    }
}

fn port(h: &PlannedHost) -> String {
    h.connection
        .port
        .map_or_else(|| "-".into(), |p| p.to_string())
}

fn user(h: &PlannedHost) -> String {
    let login = h.connection.user.clone().unwrap_or_else(|| "-".into());
    match &h.connection.become_user {
        Some(b) => format!("{login} (sudo {b})"),
        None => login,
    }
}

/// How the host is reached: `local`, `ssh`, or ssh with its key and options.
fn via(h: &PlannedHost) -> String {
    let c = &h.connection;
    if c.local {
        return "local".into();
    }
    let mut parts = vec!["ssh".to_string()];
    if let Some(key) = &c.private_key_file {
        parts.push(format!("-i {key}"));
    }
    if !c.ssh_args.is_empty() {
        parts.push(
            c.ssh_args
                .iter()
                .map(|a| cdkit::ssh::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    parts.join(" ")
}

/// `rows` as lines of columns padded to the widest cell of each, two blanks apart (trailing
/// blanks trimmed): the tool's tables (`plan`, `status`).
pub(crate) fn aligned<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .as_ref()
            .iter()
            .enumerate()
            .map(|(c, v)| format!("{v:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
