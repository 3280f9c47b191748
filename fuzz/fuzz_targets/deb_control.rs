//! debian/control as build-deb checks it up front.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("deb_control");
    let file = cdkit_fuzz::put(&dir, "control", data);
    let _ = build_deb::debian_dir::check_control(&file);
});
