//! debian/control as build-deb checks it up front.
//! The body is `cdkit_fuzz::targets::deb_control`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::deb_control(data));
