//! Host patterns (`--hosts`, Ansible's syntax) against a fixed inventory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rolling_install::inventory::{check_pattern, Inventory};
use std::sync::OnceLock;

const INVENTORY: &str = "\
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

fuzz_target!(|data: &[u8]| {
    static INV: OnceLock<Inventory> = OnceLock::new();
    let inventory =
        INV.get_or_init(|| Inventory::parse_ini(INVENTORY).expect("the fixed inventory"));
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
});
