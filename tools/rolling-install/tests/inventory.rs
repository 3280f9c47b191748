//! Inventory connection settings reach ssh for real: a private key named only by the
//! inventory, a ProxyJump from `ansible_ssh_common_args`, a local connection, and a dry run
//! that asks every host and exits 75 when one cannot be reached. A real sshd on loopback
//! stands in for the hosts; `plan` shows what was resolved without connecting.

use std::path::Path;
use std::process::{Command, Output};

use cdkit_testkit::sshd::{free_port, start_sshd, Sshd};

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

/// The test sshd's client configuration without its IdentityFile: a host is reached only
/// with the key its inventory names.
fn config_without_key(sshd: &Sshd) -> std::path::PathBuf {
    let text = std::fs::read_to_string(sshd.ssh_config()).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("IdentityFile"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = sshd.dir.path().join("ssh_config_nokey");
    std::fs::write(&path, kept).unwrap();
    path
}

fn dpkg_version() -> String {
    let out = Command::new("dpkg-query")
        .args(["--show", "--showformat=${Version}", "dpkg"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn dry_run(inventory: &Path, group: &str, config: &Path) -> Output {
    Command::new(BIN)
        .args(["--inventory", inventory.to_str().unwrap(), "--group", group])
        .args(["--inventory-reader", "native"])
        .args([
            "--ssh-config",
            config.to_str().unwrap(),
            "--connect-timeout",
            "3s",
        ])
        .args([
            "--package",
            "dpkg",
            "--version",
            &dpkg_version(),
            "--dry-run",
        ])
        .args(["--progress", "plain"])
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    cdkit_testkit::output_text(out)
}

#[test]
fn keys_proxyjump_and_local_connections_from_the_inventory_reach_the_host() {
    let sshd = start_sshd();
    let key = sshd.dir.path().join("client_key");
    let p = sshd.port;
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[keyed]\nk1 ansible_host=127.0.0.1 ansible_port={p} ansible_ssh_private_key_file={key}\n\
             [keyless]\nk2 ansible_host=127.0.0.1 ansible_port={p}\n\
             [jumped]\nj1 ansible_host=127.0.0.1 ansible_port={p} ansible_ssh_private_key_file={key} \
             ansible_ssh_common_args='-o ProxyJump=root@localhost:{p}'\n\
             [badjump]\nj2 ansible_host=127.0.0.1 ansible_port={p} ansible_ssh_private_key_file={key} \
             ansible_ssh_common_args='-o ProxyJump=root@127.0.0.1:{closed}'\n\
             [here]\nlocal1 ansible_connection=local\n",
            key = key.display(),
            closed = free_port(),
        ),
    )
    .unwrap();
    let config = config_without_key(&sshd);
    let version = dpkg_version();
    // ssh passes its -F configuration to the jump, not its -i: the bastion's key comes from
    // the configuration, as it would from a user's ~/.ssh/config or agent.
    let mut config_text = format!("Host localhost\n  IdentityFile {}\n", key.display());
    config_text.push_str(&std::fs::read_to_string(&config).unwrap());
    std::fs::write(&config, config_text).unwrap();
    // The jump goes to "localhost" and on to 127.0.0.1 (ssh refuses a jump to the very
    // destination it names): the sshd's host key is known under that name too.
    let host_key = std::fs::read_to_string(sshd.dir.path().join("host_key.pub")).unwrap();
    let known = sshd.dir.path().join("known_hosts");
    let mut known_text = std::fs::read_to_string(&known).unwrap();
    known_text.push_str(&format!("\n[localhost]:{p} {host_key}"));
    std::fs::write(&known, known_text).unwrap();

    let out = dry_run(&inventory, "keyed", &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&version), "{}", text(&out));
    // The same host without the inventory's key is refused by sshd: the key made the difference.
    let out = dry_run(&inventory, "keyless", &config);
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));

    // The jump host needs the key too, which ssh takes from the same -F configuration and -i.
    let out = dry_run(&inventory, "jumped", &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = dry_run(&inventory, "badjump", &config);
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));
    assert!(text(&out).contains("UNREACHABLE"), "{}", text(&out));

    let out = dry_run(&inventory, "here", &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&version), "{}", text(&out));
}

#[test]
fn a_dry_run_asks_every_host_and_exits_75_when_one_is_unreachable() {
    let sshd = start_sshd();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    let closed = free_port();
    std::fs::write(
        &inventory,
        format!(
            "[web]\nup1 ansible_host=127.0.0.1 ansible_port={p}\ndown1 ansible_host=127.0.0.1 ansible_port={closed}\n\
             up2 ansible_host=127.0.0.1 ansible_port={p} ansible_user=root\n",
            p = sshd.port
        ),
    )
    .unwrap();
    let out = dry_run(&inventory, "web", &sshd.ssh_config());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(75), "{all}");
    assert!(
        all.contains(&format!("up1 (127.0.0.1:{})", sshd.port)),
        "{all}"
    );
    assert!(
        all.contains(&format!("up2 (root@127.0.0.1:{})", sshd.port)),
        "{all}"
    );
    assert!(
        all.contains(&format!("down1 (127.0.0.1:{closed}): UNREACHABLE")),
        "{all}"
    );
    for up in ["up1", "up2"] {
        let line = all
            .lines()
            .find(|l| l.trim_start().starts_with(up))
            .unwrap();
        assert!(line.contains(&dpkg_version()), "{line}");
    }
    assert!(all.contains("1 host(s) could not be checked"), "{all}");
}

#[test]
fn plan_resolves_patterns_and_connections_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        "[all:vars]\nansible_user=deploy\n\
         [web]\nweb[01:04].example.com haproxy_server=w\nbastioned ansible_host=10.9.0.5 ansible_ssh_common_args='-o ProxyJump=ops@bastion:2222'\n\
         [prod]\nweb02.example.com\nweb03.example.com\nbastioned\n",
    )
    .unwrap();
    let plan = |group: &str, extra: &[&str]| {
        Command::new(BIN)
            .args([
                "plan",
                "--inventory",
                inventory.to_str().unwrap(),
                "--group",
                group,
            ])
            .args(["--inventory-reader", "native"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(
        "web:&prod:!web03.example.com",
        &["--json", "--batch", "1,50%"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let batches = json["batches"].as_array().unwrap();
    let names: Vec<Vec<&str>> = batches
        .iter()
        .map(|b| {
            b.as_array()
                .unwrap()
                .iter()
                .map(|h| h["name"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(names, [vec!["web02.example.com"], vec!["bastioned"]]);
    let b = &batches[1][0];
    assert_eq!(b["address"], "10.9.0.5");
    assert_eq!(b["user"], "deploy");
    assert_eq!(
        b["ssh_args"],
        serde_json::json!(["-o", "ProxyJump=ops@bastion:2222"])
    );
    assert_eq!(json["lock_host"]["name"], "web02.example.com");
    assert!(json["lock_dir"]
        .as_str()
        .unwrap()
        .contains("rolling-install.pattern-"));

    let out = plan("web", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for json in [false, true] {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "plan",
            "--inventory",
            inventory.to_str().unwrap(),
            "--group",
            "web",
        ])
        .args(["--inventory-reader", "native"]);
        if json {
            cmd.arg("--json");
        }
        cdkit_testkit::assert_closed_stdout_is_a_normal_end(cmd, "rolling-install plan");
    }
    assert!(table.contains("1 canary  web01.example.com"), "{table}");
    assert!(table.contains("ProxyJump=ops@bastion:2222"), "{table}");

    // A selection with a password in it is refused before anything, naming host and variable.
    std::fs::write(&inventory, "[web]\nh1 ansible_ssh_pass=hunter2\n").unwrap();
    let out = plan("web", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains("h1") && err.contains("ansible_ssh_pass") && !err.contains("hunter2"),
        "{err}"
    );

    // An inventory only Ansible can read, with the native reader: one line, exit 2.
    std::fs::write(&inventory, "plugin: amazon.aws.aws_ec2\n").unwrap();
    let yml = dir.path().join("aws_ec2.yml");
    std::fs::rename(&inventory, &yml).unwrap();
    let out = Command::new(BIN)
        .args([
            "plan",
            "--inventory",
            yml.to_str().unwrap(),
            "--inventory-reader",
            "native",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("ansible-core"), "{err}");
}
