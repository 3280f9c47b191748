//! The environment a build runs in, varied for `--check-reproducible` as reprotest varies it:
//! the second build sees a clock one day ahead (faketime) and umask 0002 instead of 0022. A
//! package that embeds the build day or the builder's umask then differs from the first
//! build, and the check fails, instead of the difference showing up only when a release is
//! rebuilt another day on another machine.
//!
//! The clock is moved with libfaketime (`LD_PRELOAD`): programs linked statically or reading
//! the time without the C library (Go binaries) still see the real clock. File times are not
//! shifted (`NO_FAKE_STAT=1`): the tree's mtimes are the input, not the clock.

use cdkit::process::Command;

use crate::error::Error;

/// How far the second build's clock is moved, in faketime's syntax.
pub const CLOCK_SHIFT: &str = "+1d";

/// Which of the two builds this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    /// The build that produces the package: the real clock, umask 0022.
    Reference,
    /// The reproducibility check's second build: the clock a day ahead, umask 0002.
    Varied,
}

impl Variation {
    /// The umask the build command runs with.
    pub fn umask(self) -> &'static str {
        match self {
            Variation::Reference => "0022",
            Variation::Varied => "0002",
        }
    }

    /// A command that runs `argv` in this variation's environment.
    pub fn command(self, argv: &[String]) -> Command {
        let full = self.argv(argv);
        Command::new(&full[0])
            .args(&full[1..])
            .env("NO_FAKE_STAT", "1")
    }

    /// `argv` wrapped: `[faketime -f +1d] /bin/sh -c 'umask "$0" && exec "$@"' UMASK argv…`.
    /// The program is the first element.
    pub fn argv(self, argv: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        if self == Variation::Varied {
            out.extend(["faketime", "-f", CLOCK_SHIFT].map(String::from));
        }
        out.extend(
            ["/bin/sh", "-c", "umask \"$0\" && exec \"$@\"", self.umask()].map(String::from),
        );
        out.extend(argv.iter().cloned());
        out
    }
}

/// The varied build needs faketime(1); say so before the first build rather than after it.
pub fn check_available() -> Result<(), Error> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("faketime").is_file()));
    if found {
        Ok(())
    } else {
        Err(Error::Usage(
            "--check-reproducible rebuilds with the clock moved a day ahead, which needs faketime (apt-get install faketime)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(variation: Variation, script: &str) -> String {
        let mut out = String::new();
        let done = variation
            .command(&["/bin/sh".into(), "-c".into(), script.into()])
            .quiet()
            .run(|_, line| out.push_str(line))
            .unwrap();
        assert!(done.success(), "{out}");
        out
    }

    #[test]
    fn the_varied_build_sees_another_day_and_another_umask() {
        check_available().unwrap();
        let reference = run(Variation::Reference, "umask; date -u +%F");
        let varied = run(Variation::Varied, "umask; date -u +%F");
        let (umask, day) = reference.split_at(4);
        assert_eq!(umask, "0022");
        let day: chrono::NaiveDate = day.parse().unwrap();
        assert_eq!(varied, format!("0002{}", day + chrono::Days::new(1)));
    }
}
