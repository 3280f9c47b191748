//! An INI inventory as the native reader parses it (host ranges, vars, children).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rolling_install::inventory::Inventory;

fuzz_target!(|data: &[u8]| {
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
});
