//! A .deb as publish-repo reads it (ar, control.tar.{gz,xz,zst,}, the control paragraph).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("deb_reader");
    let file = cdkit_fuzz::put(&dir, "fuzz_1.0_amd64.deb", data);
    if let Ok(info) = cdkit_deb::read_deb(&file) {
        let _ = info.field("Package");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cdkit_deb::reader::parse_paragraph(text);
    }
});
