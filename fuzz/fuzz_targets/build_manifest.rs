//! build-deb's cdkit-deb.toml manifest.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = build_deb::manifest::Manifest::parse(text, Path::new("cdkit-deb.toml"));
});
