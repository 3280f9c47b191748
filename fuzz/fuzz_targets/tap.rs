//! TAP as run-tests reads it: a command's stdout line by line, and prove's saved files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use run_tests::tap::TapParser;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    let mut parser = TapParser::new("fuzz");
    let mut points = 0;
    for line in text.split('\n') {
        points += usize::from(parser.push_line(line));
    }
    assert!(points <= lines, "more test points than lines");
    assert_eq!(parser.count(), points);
    let report = parser.finish(true);
    // Each line is at most one test point; the rest are errored cases about the stream
    // (plan, bail-out, exit), a handful per stream, and each plan line may add one case per
    // planned test that never ran, at most 1,000 (more are summed up in one case).
    let plans = text.split('\n').filter(|l| l.trim_start().starts_with("1..")).count();
    assert!(
        report.cases.len() <= 2 * lines + 8 + 1001 * plans,
        "{} cases from {lines} lines",
        report.cases.len()
    );

    let mut prove = TapParser::new("fuzz");
    prove
        .read_file("t/fuzz.t", data)
        .expect("reading from memory cannot fail");
    let _ = prove.finish(false);
});
