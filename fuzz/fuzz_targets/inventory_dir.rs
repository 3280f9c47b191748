//! An inventory directory as the native reader loads it: `hosts` (INI or YAML), then
//! `group_vars/all.yml` and `host_vars/web1.yml`, the parts split at `--8<--` lines.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rolling_install::inventory::{Inventory, Reader};

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("inventory_dir");
    let files = cdkit_fuzz::parts(data, 3);
    for (part, name) in files
        .iter()
        .zip(["hosts", "group_vars/all.yml", "host_vars/web1.yml"])
    {
        cdkit_fuzz::put(&dir, name, part);
    }
    if let Ok(inventory) = Inventory::load_with(&dir, Reader::Native) {
        for host in inventory.all() {
            let _ = host.connection();
        }
    }
});
