//! debian/changelog as build-deb reads its top entry (in-process, before dpkg sees it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("deb_changelog");
    let file = cdkit_fuzz::put(&dir, "changelog", data);
    if let Ok(top) = build_deb::debian_dir::top_entry(&file) {
        let _ = build_deb::debian_dir::stanza(&top, "1.0-1", None);
    }
});
