//! The fuzz targets' bodies, one function per format the tools read from outside. The
//! libFuzzer targets in fuzz/fuzz_targets/ are one-line wrappers over these, and the bounded
//! mutation run (see [`crate::run`]) calls the same functions, so both exercise exactly the
//! same code. A body returns normally for any input; a panic (including a failed property
//! assertion) or a hang is a finding.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use crate::scratch::{fresh_dir, parts, put};

/// A named target: the name is the libFuzzer target's (fuzz/fuzz_targets/NAME.rs) and the
/// directory name of its seeds and regression inputs.
#[derive(Clone, Copy)]
pub struct Target {
    /// The target's name.
    pub name: &'static str,
    /// Its body.
    pub run: fn(&[u8]),
}

/// Every target, in name order.
pub const TARGETS: &[Target] = &[
    Target {
        name: "build_manifest",
        run: build_manifest,
    },
    Target {
        name: "deb_changelog",
        run: deb_changelog,
    },
    Target {
        name: "deb_control",
        run: deb_control,
    },
    Target {
        name: "deb_reader",
        run: deb_reader,
    },
    Target {
        name: "host_pattern",
        run: host_pattern,
    },
    Target {
        name: "inventory_dir",
        run: inventory_dir,
    },
    Target {
        name: "inventory_ini",
        run: inventory_ini,
    },
    Target {
        name: "inventory_yaml",
        run: inventory_yaml,
    },
    Target {
        name: "journal",
        run: journal,
    },
    Target {
        name: "junit_in",
        run: junit_in,
    },
    Target {
        name: "migration_names",
        run: migration_names,
    },
    Target {
        name: "repo_index",
        run: repo_index,
    },
    Target {
        name: "repo_state",
        run: repo_state,
    },
    Target {
        name: "sql_split",
        run: sql_split,
    },
    Target {
        name: "tap",
        run: tap,
    },
    Target {
        name: "tests_toml",
        run: tests_toml,
    },
];

/// build-deb's cdkit-deb.toml manifest.
pub fn build_manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = build_deb::manifest::Manifest::parse(text, Path::new("cdkit-deb.toml"));
}

/// debian/changelog as build-deb reads its top entry (in-process, before dpkg sees it).
pub fn deb_changelog(data: &[u8]) {
    let dir = fresh_dir("deb_changelog");
    let file = put(&dir, "changelog", data);
    if let Ok(top) = build_deb::debian_dir::top_entry(&file) {
        let _ = build_deb::debian_dir::stanza(&top, "1.0-1", None);
    }
}

/// debian/control as build-deb checks it up front.
pub fn deb_control(data: &[u8]) {
    let dir = fresh_dir("deb_control");
    let file = put(&dir, "control", data);
    let _ = build_deb::debian_dir::check_control(&file);
}

/// A .deb as publish-repo reads it (ar, control.tar.{gz,xz,zst,}, the control paragraph).
pub fn deb_reader(data: &[u8]) {
    let dir = fresh_dir("deb_reader");
    let file = put(&dir, "fuzz_1.0_amd64.deb", data);
    if let Ok(info) = cdkit_deb::read_deb(&file) {
        let _ = info.field("Package");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cdkit_deb::reader::parse_paragraph(text);
    }
}

/// The fixed inventory host patterns are matched against.
const HOST_PATTERN_INVENTORY: &str = "\
[web]
web[01:12].example.com
db-a ansible_host=10.0.0.5

[db]
db-a
db-b ansible_port=2222

[eu:children]
web
db

[all:vars]
ansible_user=deploy
";

/// Host patterns (`--hosts`, Ansible's syntax) against a fixed inventory. Property: no more
/// hosts are selected than the inventory has.
pub fn host_pattern(data: &[u8]) {
    use rolling_install::inventory::{check_pattern, Inventory};
    static INV: OnceLock<Inventory> = OnceLock::new();
    let inventory = INV
        .get_or_init(|| Inventory::parse_ini(HOST_PATTERN_INVENTORY).expect("the fixed inventory"));
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let _ = check_pattern(pattern);
    if let Ok(hosts) = inventory.select(pattern) {
        assert!(
            hosts.len() <= inventory.all().len(),
            "more hosts selected than exist"
        );
    }
}

/// An inventory directory as the native reader loads it: `hosts` (INI or YAML), then
/// `group_vars/all.yml` and `host_vars/web1.yml`, the parts split at `--8<--` lines.
pub fn inventory_dir(data: &[u8]) {
    use rolling_install::inventory::{Inventory, Reader};
    let dir = fresh_dir("inventory_dir");
    let files = parts(data, 3);
    for (part, name) in files
        .iter()
        .zip(["hosts", "group_vars/all.yml", "host_vars/web1.yml"])
    {
        put(&dir, name, part);
    }
    if let Ok(inventory) = Inventory::load_with(&dir, Reader::Native) {
        for host in inventory.all() {
            let _ = host.connection();
        }
    }
}

/// An INI inventory as the native reader parses it (host ranges, vars, children).
pub fn inventory_ini(data: &[u8]) {
    use rolling_install::inventory::Inventory;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(inventory) = Inventory::parse_ini(text) {
        for host in inventory.all() {
            let _ = host.connection();
            let _ = host.target();
        }
        let _ = inventory.group_names();
        let _ = inventory.select("all");
    }
}

/// A YAML inventory as the native reader parses it.
pub fn inventory_yaml(data: &[u8]) {
    use rolling_install::inventory::Inventory;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(inventory) = Inventory::parse_yaml(text) {
        for host in inventory.all() {
            let _ = host.connection();
            let _ = host.target();
        }
        let _ = inventory.group_names();
    }
}

/// A rolling-install deployment record (journal), as rolling-install resumes it and rollback
/// plans from it.
pub fn journal(data: &[u8]) {
    use rolling_install::journal::Journal;
    let dir = fresh_dir("journal");
    let file = put(&dir, "record.json", data);
    if let Ok(journal) = Journal::load(&file) {
        let decisions = rollback::plan::from_record(&journal, true);
        let _ = rollback::plan::targets(&decisions, true);
        let _ = rollback::plan::from_record(&journal, false);
        // The hosts rollback opens sessions to, from the record alone.
        for record in &journal.hosts {
            let _ = rollback::plan::host_of(record).target();
        }
        if let Some(lock) = &journal.lock_host {
            let _ = lock.host().target();
        }
        // The deployment page renders any record that loads.
        let _ = rolling_install::page::render(&journal, None, false);
    }
}

/// Foreign JUnit XML that run-tests passes through (`--junit-in`).
pub fn junit_in(data: &[u8]) {
    let dir = fresh_dir("junit_in");
    let file = put(&dir, "report.xml", data);
    let input = run_tests::junit_in::read_files(&[file], &dir);
    let _ = input.cases.len();
}

/// db-migrate's migrations directory: file names (any bytes but '/' and NUL) and contents.
/// The input is `NAME\nCONTENT`; a second file comes after a `--8<--` line.
pub fn migration_names(data: &[u8]) {
    let dir = fresh_dir("migration_names");
    for file in parts(data, 3) {
        let (name, content) = match file.iter().position(|&b| b == b'\n') {
            Some(i) => (&file[..i], &file[i + 1..]),
            None => (file, &b""[..]),
        };
        if name.is_empty()
            || name.len() > 255
            || name.contains(&b'/')
            || name.contains(&0)
            || name == b"."
            || name == b".."
        {
            return;
        }
        let _ = std::fs::write(dir.join(OsStr::from_bytes(name)), content);
    }
    if let Ok(migrations) = db_migrate::files::load(&dir) {
        for m in &migrations {
            let _ = m.label();
        }
    }
    let _ = db_migrate::files::next_version(&dir);
}

/// publish-repo's previous Packages.gz and Packages.xz, read back to reuse unchanged chunks.
pub fn repo_index(data: &[u8]) {
    if let Some(members) = publish_repo::gz::members(data) {
        let _ = members.len();
    }
    if let Some(blocks) = publish_repo::xz::blocks(data) {
        let _ = blocks.len();
    }
}

/// The suite whose state [`repo_state`] writes.
const SUITE: &str = "testing";
/// The live generation a real run left (the seeds are its files).
const LIVE: &str = "20261207T170608.340948357Z";
/// The generation the live one's delta is based on.
const BASE: &str = "20261207T170608.129246281Z";

/// publish-repo's suite state files read back: a generation's full state and delta, and the
/// older layouts (SUITE.state + SUITE.delta, SUITE.json). The input's first byte picks the
/// layout; the rest is split into files at `--8<--` lines. The names are those a real run
/// wrote (the seeds are its files), so that a delta finds its base.
pub fn repo_state(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let repo = fresh_dir("repo_state");
    let files = parts(rest, 2);
    let first = files[0];
    let second = files.get(1).copied();
    let rel = |name: String| format!(".publish-repo/suites/{name}");
    match pick % 3 {
        0 => {
            std::fs::create_dir_all(repo.join("dists")).expect("dists");
            std::os::unix::fs::symlink(format!(".{SUITE}.{LIVE}"), repo.join("dists").join(SUITE))
                .expect("link");
            match second {
                Some(delta) => {
                    put(&repo, &rel(format!("{SUITE}@{BASE}.state")), first);
                    put(&repo, &rel(format!("{SUITE}@{LIVE}.delta")), delta);
                }
                None => {
                    put(&repo, &rel(format!("{SUITE}@{LIVE}.state")), first);
                }
            }
        }
        1 => {
            put(&repo, &rel(format!("{SUITE}.state")), first);
            if let Some(delta) = second {
                put(&repo, &rel(format!("{SUITE}.delta")), delta);
            }
        }
        _ => {
            put(&repo, &rel(format!("{SUITE}.json")), first);
        }
    }
    if let Ok(state) = publish_repo::state::load(&repo, SUITE) {
        let _ = state.find("fz-pkg", "2.0-1", "all");
    }
}

/// db-migrate's SQL statement splitter, both dialects. Properties: statements come in
/// order, inside the input, on character boundaries, each non-empty; and the statement at
/// any offset is one of them.
pub fn sql_split(data: &[u8]) {
    use db_migrate::split::{split, statement_at, Dialect};
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let statements = split(sql, dialect);
        let mut last_end = 0;
        for s in &statements {
            assert!(
                s.start <= s.end && s.end <= sql.len(),
                "{s:?} outside the input"
            );
            assert!(s.start >= last_end, "{s:?} overlaps the previous statement");
            assert!(!s.text.is_empty(), "an empty statement at {}", s.start);
            last_end = s.end;
        }
        let _ = db_migrate::split::is_blank(sql);
        if !sql.is_empty() {
            let offset = sql.len() / 2;
            let found = statement_at(sql, offset, dialect);
            assert_eq!(found.is_some(), !statements.is_empty());
        }
    }
}

/// TAP as run-tests reads it: a command's stdout line by line, and prove's saved files.
pub fn tap(data: &[u8]) {
    use run_tests::tap::TapParser;
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    let mut parser = TapParser::new("fuzz");
    let mut points = 0;
    for line in text.split('\n') {
        points += usize::from(parser.push_line(line));
    }
    assert!(points <= lines, "more test points than lines");
    assert_eq!(parser.count(), points);
    let report = parser.finish(true);
    // Each line is at most one test point; the rest are errored cases about the stream
    // (plan, bail-out, exit), a handful per stream, and each plan line may add one case per
    // planned test that never ran, at most 1,000 (more are summed up in one case).
    let plans = text
        .split('\n')
        .filter(|l| l.trim_start().starts_with("1.."))
        .count();
    assert!(
        report.cases.len() <= 2 * lines + 8 + 1001 * plans,
        "{} cases from {lines} lines",
        report.cases.len()
    );

    let mut prove = TapParser::new("fuzz");
    prove
        .read_file("t/fuzz.t", data)
        .expect("reading from memory cannot fail");
    let _ = prove.finish(false);
}

/// run-tests' suite file, tests.toml.
pub fn tests_toml(data: &[u8]) {
    use run_tests::SuiteSpec;
    let dir = fresh_dir("tests_toml");
    let file = put(&dir, "tests.toml", data);
    let defaults = SuiteSpec::new("default", vec!["true".into()]);
    if let Ok(suites) = run_tests::config::load(&file, None, &defaults) {
        for suite in &suites {
            let _ = suite.validate();
            let _ = suite.display_command();
        }
    }
}
