//! run-tests' suite file, tests.toml.
#![no_main]
use libfuzzer_sys::fuzz_target;
use run_tests::SuiteSpec;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("tests_toml");
    let file = cdkit_fuzz::put(&dir, "tests.toml", data);
    let defaults = SuiteSpec::new("default", vec!["true".into()]);
    if let Ok(suites) = run_tests::config::load(&file, None, &defaults) {
        for suite in &suites {
            let _ = suite.validate();
            let _ = suite.display_command();
        }
    }
});
