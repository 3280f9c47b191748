//! publish-repo's previous Packages.gz and Packages.xz, read back to reuse unchanged chunks.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(members) = publish_repo::gz::members(data) {
        let _ = members.len();
    }
    if let Some(blocks) = publish_repo::xz::blocks(data) {
        let _ = blocks.len();
    }
});
