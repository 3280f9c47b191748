//! Inputs the fuzz suite (crates/cdkit-fuzz, fuzz/) found to crash the TAP reader, replayed
//! under plain `cargo test`. The inputs live in tests/fuzz_regressions/TARGET/, where the
//! bounded fuzz run and `scripts/fuzz` replay them too.

use run_tests::tap::TapParser;
use run_tests::Outcome;

/// A test point numbered with the highest number there is, then an unnumbered one: the
/// automatic number (previous + 1) overflowed, a panic in debug builds and number 0 in
/// release builds. Now the second point keeps the highest number, and the plan check reports
/// the numbers above the plan.
#[test]
fn an_unnumbered_point_after_the_highest_number_does_not_overflow() {
    let tap = include_str!("fuzz_regressions/tap/unnumbered-after-highest-number.tap");
    let mut parser = TapParser::new("t");
    let points: usize = tap.lines().map(|l| usize::from(parser.push_line(l))).sum();
    assert_eq!(points, 2);
    let report = parser.finish(true);
    let highest = format!("highest number {}", usize::MAX);
    let messages: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Errored)
        .filter_map(|c| c.message.as_deref())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains(&highest)),
        "no errored case says {highest:?}: {messages:?}"
    );
}

/// Three test points with the highest number there is: the second is named `test N (#N)`,
/// and the third looked for a free name by counting up from N, which saturated at N and
/// offered the taken name forever (a hang). Each point now gets a name of its own.
#[test]
fn three_points_with_the_highest_number_get_distinct_names() {
    let tap = include_str!("fuzz_regressions/tap/three-points-with-the-highest-number.tap");
    let mut parser = TapParser::new("t");
    let points: usize = tap.lines().map(|l| usize::from(parser.push_line(l))).sum();
    assert_eq!(points, 3);
    let report = parser.finish(true);
    let mut names: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 3, "names repeat: {names:?}");
}

/// A plan up to the highest number there is and one point with that number: looking for
/// missing numbers after it computed number + 1 and overflowed (a panic in debug builds).
/// The missing tests 1 to N-1 are reported in a summary, as for any absurd plan.
#[test]
fn a_point_at_the_highest_planned_number_ends_the_search_for_missing_ones() {
    let tap = include_str!("fuzz_regressions/tap/plan-and-point-at-the-highest-number.tap");
    let mut parser = TapParser::new("t");
    let points: usize = tap.lines().map(|l| usize::from(parser.push_line(l))).sum();
    assert_eq!(points, 1);
    let report = parser.finish(true);
    let errored = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Errored)
        .count();
    assert!(errored >= 1, "the missing tests are not reported");
    assert!(
        report.cases.len() < 10,
        "{} cases: missing tests not summarised",
        report.cases.len()
    );
}
