//! End-to-end tests of cdkit on a real fleet of test hosts (`scripts/testbed`, issue 5).
//! The tests are in `tests/`; they need root, as CI runs them.
