//! A .deb as publish-repo reads it (ar, control.tar.{gz,xz,zst,}, the control paragraph).
//! The body is `cdkit_fuzz::targets::deb_reader`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::deb_reader(data));
