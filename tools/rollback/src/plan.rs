//! What a rollback does to each host, decided before anything changes: from a rolling-install
//! record (every host the run touched goes back to the version it had before; hosts it never
//! reached are not part of the rollback) or from an explicit target version for a group.

use rolling_install::inventory::Host;
use rolling_install::journal::{HostRecord, Journal};

/// The decision for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Return the host to this version (`None`: remove the package, `--remove-new`).
    Return(Option<String>),
    /// The run installed the package where there was none; left as it is without `--remove-new`.
    KeepNew,
    /// The run never touched the host (it recorded no previous version).
    Untouched,
}

/// Decisions for every host of `journal`, in journal order.
pub fn from_record(journal: &Journal, remove_new: bool) -> Vec<Decision> {
    journal
        .hosts
        .iter()
        .map(|h| match (&h.previous_version, h.recorded) {
            (_, false) => Decision::Untouched,
            (Some(v), true) => Decision::Return(Some(v.clone())),
            (None, true) if remove_new => Decision::Return(None),
            (None, true) => Decision::KeepNew,
        })
        .collect()
}

/// The hosts to act on, in the order a rollback works: newest change first (the reverse of
/// the record's order, which is the order the rollout reached them).
pub fn targets(decisions: &[Decision], newest_first: bool) -> Vec<(usize, Option<String>)> {
    let mut list: Vec<(usize, Option<String>)> = decisions
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d {
            Decision::Return(v) => Some((i, v.clone())),
            _ => None,
        })
        .collect();
    if newest_first {
        list.reverse();
    }
    list
}

/// Hosts whose installed version is neither the record's new version nor the one it would
/// return to: someone deployed something else since, and a rollback from this record would
/// undo *their* release. `current[i]` is `None`
/// when the host could not be asked (it is not judged here: its turn will report it).
pub fn stale(
    journal: &Journal,
    decisions: &[Decision],
    current: &[Option<Option<String>>],
) -> Vec<String> {
    journal
        .hosts
        .iter()
        .zip(decisions)
        .zip(current)
        .filter_map(|((h, d), now)| {
            let (Decision::Return(target), Some(now)) = (d, now) else {
                return None;
            };
            let expected_new = Some(journal.version.as_str());
            let fine = now.as_deref() == target.as_deref() || now.as_deref() == expected_new;
            (!fine).then(|| {
                format!(
                    "{} is on {} (the record says {} -> {})",
                    h.name,
                    now.as_deref().unwrap_or("nothing"),
                    h.previous_version.as_deref().unwrap_or("nothing"),
                    journal.version
                )
            })
        })
        .collect()
}

/// A host as rolling-install's executor wants it, from its record: address, ssh port and user,
/// and its server name on the balancers.
pub fn host_of(record: &HostRecord) -> Host {
    let mut host = Host::at(
        &record.name,
        &record.address,
        record.port,
        record.user.as_deref(),
    );
    if let Some(server) = &record.server {
        host.vars
            .insert("haproxy_server".to_string(), server.clone());
    }
    host
}

/// The one version every returned host goes back to, if they agree (the release the database
/// and the repository return to); `None` when hosts had different previous versions.
pub fn common_target(targets: &[(usize, Option<String>)]) -> Option<String> {
    let mut versions = targets.iter().filter_map(|(_, v)| v.clone());
    let first = versions.next()?;
    versions.all(|v| v == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rolling_install::journal::HostState;

    fn record(name: &str, previous: Option<&str>, recorded: bool) -> HostRecord {
        HostRecord {
            name: name.into(),
            address: format!("10.0.0.{}", name.len()),
            previous_version: previous.map(str::to_string),
            recorded,
            state: HostState::Installed,
            drained: vec![],
            steps: vec![],
            port: Some(2222),
            user: Some("deploy".into()),
            server: Some(format!("web-{name}")),
            batch: None,
        }
    }

    fn journal() -> Journal {
        Journal {
            tool: "rolling-install".into(),
            run_id: "r".into(),
            package: "hello".into(),
            version: "2.0-1".into(),
            group: "prod".into(),
            started: String::new(),
            finished: None,
            outcome: None,
            hosts: vec![
                record("h1", Some("1.0-1"), true),
                record("h2", None, true),
                record("h3", Some("1.0-1"), true),
                record("h4", None, false),
            ],
            balancers: vec![],
            lock_host: None,
            rollbacks: vec![],
        }
    }

    #[test]
    fn record_decisions_and_order() {
        let j = journal();
        let d = from_record(&j, false);
        assert_eq!(
            d,
            [
                Decision::Return(Some("1.0-1".into())),
                Decision::KeepNew,
                Decision::Return(Some("1.0-1".into())),
                Decision::Untouched
            ]
        );
        assert_eq!(
            targets(&d, true),
            [(2, Some("1.0-1".into())), (0, Some("1.0-1".into()))],
            "newest first"
        );
        let with_remove = from_record(&j, true);
        assert_eq!(with_remove[1], Decision::Return(None));
        assert_eq!(common_target(&targets(&d, true)).as_deref(), Some("1.0-1"));
        assert_eq!(
            common_target(&[(0, Some("1".into())), (1, Some("2".into()))]),
            None
        );
    }

    #[test]
    fn a_host_on_a_third_version_makes_the_record_stale() {
        let j = journal();
        let d = from_record(&j, false);
        let current = vec![
            Some(Some("2.0-1".to_string())),
            Some(Some("2.0-1".to_string())),
            Some(Some("3.0-1".to_string())),
            None,
        ];
        let stale = stale(&j, &d, &current);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].starts_with("h3 is on 3.0-1"), "{stale:?}");
        let unknown = vec![None, None, None, None];
        assert!(super::stale(&j, &d, &unknown).is_empty());
    }

    #[test]
    fn hosts_come_back_from_their_records() {
        let h = host_of(&record("h1", None, true));
        assert_eq!(h.address(), "10.0.0.2");
        assert_eq!(h.port(), Some(2222));
        assert_eq!(h.user(), Some("deploy"));
        assert_eq!(rolling_install::lb::server_name(&h, None), "web-h1");
    }
}
