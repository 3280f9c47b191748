//! Foreign JUnit XML that run-tests passes through (`--junit-in`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("junit_in");
    let file = cdkit_fuzz::put(&dir, "report.xml", data);
    let input = run_tests::junit_in::read_files(&[file], &dir);
    let _ = input.cases.len();
});
