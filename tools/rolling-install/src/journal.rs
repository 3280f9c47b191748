//! The run journal (`--record FILE`): what this run changed, rewritten atomically after every
//! step, so `rollback --record` can put every host back even after the runner was killed.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// Not started.
    Pending,
    /// Steps under way.
    InProgress,
    /// On the target version and back in rotation.
    Installed,
    /// Its rollout failed (then it is restored, or not).
    Failed,
    /// Back on its previous version.
    Restored,
    /// Restoring failed: a human must look.
    RestoreFailed,
    /// ssh could not reach it.
    Unreachable,
}

/// One step of one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The step's name (`drain`, `install`, `health`, ...).
    pub step: String,
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// How long it took.
    pub seconds: f64,
    /// Whether it succeeded.
    pub ok: bool,
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Whether the step belongs to a restore turn (a rollout putting the host back on its
    /// previous version, or a rollback), so the deployment page can tell it from the install
    /// (absent in records of older versions: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore: bool,
}

/// One host of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// The inventory name.
    pub name: String,
    /// The address ssh reached.
    pub address: String,
    /// The version installed before this run touched the host (`None`: not installed).
    pub previous_version: Option<String>,
    /// Whether the previous version was recorded (false until the host's turn came).
    pub recorded: bool,
    /// Where the host stands.
    pub state: HostState,
    /// Load balancers this run took the host out of and has not put it back into yet.
    pub drained: Vec<String>,
    /// Every step of its turn, in order.
    pub steps: Vec<Step>,
    /// ssh port and user, when the inventory set them, so `rollback --record` can reach the
    /// host without the inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The ssh user, when the inventory set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The host's server name on the load balancers (`--lb-server`, `haproxy_server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The batch the host's turn ran in, from 1 (1 is the canary), once it is planned (absent in
    /// records of older versions). A rollback over a record sets its own batch numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

/// The whole journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// The tool that wrote the journal.
    pub tool: String,
    /// Its run id.
    pub run_id: String,
    /// The package.
    pub package: String,
    /// The version installed (or returned to).
    pub version: String,
    /// The group or host pattern.
    pub group: String,
    /// When the run started.
    pub started: String,
    /// When it ended (absent while it runs or after a kill).
    pub finished: Option<String>,
    /// How it ended (the exit status).
    pub outcome: Option<String>,
    /// Every host of the run, in inventory order.
    pub hosts: Vec<HostRecord>,
    /// The HAProxy balancers of the run as `--lb` specs (hook balancers cannot be written
    /// down), so `rollback --record` drains and readies through the same sockets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub balancers: Vec<String>,
    /// The host the run held the group's deployment lock on, so that `rollback --record`
    /// locks on the same host: one locking elsewhere could run beside a rollout of the group
    /// (absent in records of older versions: the first host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_host: Option<LockHost>,
    /// Later runs that worked on this record (`rollback --record`), oldest first: the run's own
    /// `finished`/`outcome` stay those of the rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollbacks: Vec<RunNote>,
}

/// Where a run held its deployment lock: enough to reach that host again without the
/// inventory (it need not be one of the hosts the run installed on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHost {
    /// The inventory name.
    pub name: String,
    /// The address ssh reaches.
    pub address: String,
    /// The ssh port, when the inventory set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The ssh user, when the inventory set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl LockHost {
    /// Where `host` is reached.
    pub fn of(host: &crate::inventory::Host) -> LockHost {
        LockHost {
            name: host.name.clone(),
            address: host.address().to_string(),
            port: host.port(),
            user: host.user().map(str::to_string),
        }
    }

    /// The host to open a session to.
    pub fn host(&self) -> crate::inventory::Host {
        crate::inventory::Host::at(&self.name, &self.address, self.port, self.user.as_deref())
    }
}

/// One later run over a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNote {
    /// The tool.
    pub tool: String,
    /// Its run id.
    pub run_id: String,
    /// When it started.
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// How it ended.
    pub outcome: Option<String>,
}

/// Why a journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read.
    #[error("cannot read record {path}: {source}")]
    Read {
        /// The record's path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a journal.
    #[error("record {path} is not a rolling-install journal: {reason}")]
    Invalid {
        /// The record's path.
        path: String,
        /// Why it is not one.
        reason: String,
    },
    /// The journal could not be rewritten.
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
}

impl Journal {
    /// Write the journal atomically, every text in it redacted (a failed step's detail can
    /// quote a health URL or a command's output), created `0640` narrowed by the umask.
    pub fn save(&self, path: &Path) -> Result<(), JournalError> {
        let invalid = |e: serde_json::Error| JournalError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut value = serde_json::to_value(self).map_err(invalid)?;
        cdkit::redact::redact_json(&mut value);
        let text = serde_json::to_vec_pretty(&value).map_err(invalid)?;
        cdkit::atomic::write_honouring_umask(path, cdkit::atomic::RECORD_MODE, &text)?;
        Ok(())
    }

    /// Read a journal (for `rollback --record`).
    pub fn load(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| JournalError::Read {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| JournalError::Invalid {
            path: shown,
            reason: e.to_string(),
        })
    }

    /// The record of host `name`.
    pub fn host_mut(&mut self, name: &str) -> Option<&mut HostRecord> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }
}

/// Now, RFC 3339 UTC: the one form every record's time stamps take.
pub use cdkit::time::now_rfc3339 as now;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journals_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        let journal = Journal {
            tool: "rolling-install".into(),
            run_id: "r1".into(),
            package: "hello".into(),
            version: "2.0-1".into(),
            group: "testing".into(),
            started: now(),
            finished: None,
            outcome: None,
            hosts: vec![HostRecord {
                name: "h1".into(),
                address: "10.0.0.1".into(),
                previous_version: Some("1.0-1".into()),
                recorded: true,
                state: HostState::Installed,
                drained: vec![],
                steps: vec![Step {
                    step: "install".into(),
                    started: now(),
                    seconds: 1.5,
                    ok: true,
                    detail: String::new(),
                    restore: true,
                }],
                port: Some(2222),
                user: None,
                server: Some("web01".into()),
                batch: Some(1),
            }],
            balancers: vec!["haproxy:/run/haproxy/admin.sock:be_hello".into()],
            lock_host: Some(LockHost {
                name: "h1".into(),
                address: "10.0.0.1".into(),
                port: Some(2222),
                user: None,
            }),
            rollbacks: vec![],
        };
        journal.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), journal);
        // A record of an older version (no batch, no restore marks) still loads.
        let mut old: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        old["hosts"][0].as_object_mut().unwrap().remove("batch");
        old["hosts"][0]["steps"][0]
            .as_object_mut()
            .unwrap()
            .remove("restore");
        std::fs::write(&path, old.to_string()).unwrap();
        let loaded = Journal::load(&path).unwrap();
        assert_eq!(loaded.hosts[0].batch, None);
        assert!(!loaded.hosts[0].steps[0].restore);
        std::fs::write(&path, "{}").unwrap();
        assert!(Journal::load(&path)
            .unwrap_err()
            .to_string()
            .contains("record.json"));
    }
}
