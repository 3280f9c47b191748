//! Inputs the fuzz suite (fuzz/, target named by each directory) found to crash or hang the
//! inventory reader, replayed under plain `cargo test`. The inputs live in
//! tests/fuzz_regressions/TARGET/, where `scripts/fuzz` replays them too.

use std::time::Instant;

use rolling_install::inventory::Inventory;

/// 150,000 host entries over two groups (a few lines of ranges). Adding each host checked the
/// group's whole host list, and moving hosts out of `ungrouped` rewrote its whole list once
/// per host: quadratic, 854 s for this file in a debug build, 7 s once linear on a loaded
/// machine. The test pins the result; the time it takes is printed, not asserted (timings
/// belong in benchmarks, where a peer runs in the same run).
#[test]
fn many_hosts_in_one_group_cost_linear_time() {
    let text = include_str!("fuzz_regressions/inventory_ini/quadratic-membership.ini");
    let started = Instant::now();
    let inventory = Inventory::parse_ini(text).expect("a valid inventory");
    let took = started.elapsed();
    assert_eq!(inventory.all().len(), 100_000);
    let g = inventory.select("g").expect("group g");
    assert_eq!(g.len(), 100_000);
    let ungrouped = inventory.select("ungrouped").err();
    assert!(
        ungrouped.is_some(),
        "every host is in g: ungrouped is empty"
    );
    eprintln!("reading {} hosts took {took:?}", inventory.all().len());
}

/// A subscript ending at the highest number an i64 holds: the exclusive end (end + 1)
/// overflowed, a panic in debug builds. Like any end past the last host, it now means "to the
/// last host".
#[test]
fn a_subscript_ending_at_the_highest_number_selects_to_the_last_host() {
    let pattern = include_str!("fuzz_regressions/host_pattern/subscript-end-highest");
    let inventory =
        Inventory::parse_ini("[web]\nweb[01:12].example.com\n").expect("a valid inventory");
    let all = inventory.select("web").expect("group web");
    let selected = inventory.select(pattern).expect("a valid pattern");
    assert_eq!(selected.len(), 12);
    assert_eq!(selected, all);
}

/// Seventeen ranges of four, then an empty one (`[5:3]`, begin after end, as Ansible allows):
/// the product is empty, but the expansion walked all 4^17 prefixes before finding that out
/// (a hang; the fuzz input was a --hosts pattern, which is expanded the same way). An empty
/// range anywhere now empties the entry as fast as the empty range alone.
#[test]
fn an_empty_range_after_many_ranges_expands_at_once() {
    let entry = include_str!("fuzz_regressions/host_pattern/empty-range-after-many.txt");
    let outcome = |text: &str| {
        Inventory::parse_ini(&format!("[g]\n{text}\nother\n"))
            .map(|i| i.all().len())
            .map_err(|e| e.to_string())
    };
    let alone = outcome("h[5:3]");
    let after_many = outcome(entry);
    assert_eq!(
        after_many.is_ok(),
        alone.is_ok(),
        "{after_many:?} / {alone:?}"
    );
    if let (Ok(many), Ok(one)) = (&after_many, &alone) {
        assert_eq!(many, one);
    }
}
