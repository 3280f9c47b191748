//! Signal handling, in its own test binary (its own process): the flag it sets is global and
//! would stop the child processes of unrelated tests running in the same process.

use std::time::{Duration, Instant};

use cdkit::process::{Command, Ending};

#[test]
fn sigterm_is_noted_and_stops_a_running_command_instead_of_killing_the_tool() {
    cdkit::signals::install().unwrap();
    cdkit::signals::install().unwrap(); // idempotent
    assert_eq!(cdkit::signals::received(), None);
    let sender = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM)
            .unwrap();
    });
    let started = Instant::now();
    let done = Command::new("sleep")
        .args(["60"])
        .grace(Duration::from_millis(500))
        .quiet()
        .run(|_, _| {})
        .unwrap();
    sender.join().unwrap();
    assert_eq!(done.ending, Ending::Interrupted(15));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(cdkit::signals::received(), Some(15));
    assert_eq!(cdkit::Exit::for_signal(15).code(), 143);

    // A step that must finish for the tool to reach a known-good state keeps running.
    let done = Command::new("sh")
        .args(["-c", "sleep 0.3; exit 4"])
        .keep_running_on_interrupt()
        .quiet()
        .run(|_, _| {})
        .unwrap();
    assert_eq!(done.ending, Ending::Exited(4));
}
