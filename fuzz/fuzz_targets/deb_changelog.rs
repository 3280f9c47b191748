//! debian/changelog as build-deb reads its top entry (in-process, before dpkg sees it).
//! The body is `cdkit_fuzz::targets::deb_changelog`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::deb_changelog(data));
