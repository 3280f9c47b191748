//! The exit codes of the cross-tool contract (the exit-code table of docs/contract.md), in one enum mapped to process exit
//! codes in one place, so that Jenkins, shell scripts and the other tools can rely on them.

use std::fmt;

/// Every outcome a cdkit tool can report to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0: everything asked for was done.
    Success,
    /// 1: the subject failed (tests, health check, migration) and everything is in a known-good state.
    Failed,
    /// 2: bad invocation or bad input; nothing was changed.
    Usage,
    /// 3: failed, and a known-good state could NOT be restored: a human must act.
    NotRestored,
    /// 4: nothing was done where something was expected (e.g. no tests ran).
    NothingDone,
    /// 75: temporary (lock held, host unreachable before any change); safe to retry.
    TempFail,
    /// 124: the run hit its `--timeout` (after cleanup).
    Timeout,
    /// 130: interrupted by SIGINT after the tool reached a known-good state.
    Interrupted,
    /// 143: terminated by SIGTERM after the tool reached a known-good state.
    Terminated,
}

impl Exit {
    /// The process exit status; the only place where the numbers live.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::NotRestored => 3,
            Exit::NothingDone => 4,
            Exit::TempFail => 75,
            Exit::Timeout => 124,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// The exit for a signal that interrupted the run (SIGINT → 130, anything else → 143).
    pub fn for_signal(signal: i32) -> Exit {
        if signal == nix::sys::signal::Signal::SIGINT as i32 {
            Exit::Interrupted
        } else {
            Exit::Terminated
        }
    }

    /// How bad an outcome is, for combining several (suites, hosts) into one exit status: a state
    /// a human must repair beats an interruption, which beats a timeout, a failure, etc.
    fn severity(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::NothingDone => 1,
            Exit::TempFail => 2,
            Exit::Failed => 3,
            Exit::Usage => 4,
            Exit::Timeout => 5,
            Exit::Terminated | Exit::Interrupted => 6,
            Exit::NotRestored => 7,
        }
    }

    /// The worse of two outcomes, so several units of work combine into one exit status.
    pub fn worst(self, other: Exit) -> Exit {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Combine outcomes of several units where "nothing done" only counts if *all* did nothing.
    pub fn combine(exits: impl IntoIterator<Item = Exit>) -> Exit {
        let mut any = false;
        let mut all_nothing = true;
        let mut worst = Exit::Success;
        for exit in exits {
            any = true;
            if exit != Exit::NothingDone {
                all_nothing = false;
                worst = worst.worst(exit);
            }
        }
        if any && all_nothing {
            Exit::NothingDone
        } else {
            worst
        }
    }

    /// Whether the exit status means success.
    pub fn is_success(self) -> bool {
        self == Exit::Success
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Exit::Success => "success",
            Exit::Failed => "failed",
            Exit::Usage => "bad input",
            Exit::NotRestored => "failed and not restored",
            Exit::NothingDone => "nothing done",
            Exit::TempFail => "temporary failure",
            Exit::Timeout => "timed out",
            Exit::Interrupted => "interrupted",
            Exit::Terminated => "terminated",
        };
        write!(f, "{what} (exit {})", self.code())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// Library errors say which exit code they stand for, so the binary's top level maps an error
/// to the contract without knowing every error type.
pub trait ExitCoded {
    /// The exit status this error should end the process with.
    fn exit(&self) -> Exit;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract_table() {
        let table = [
            (Exit::Success, 0),
            (Exit::Failed, 1),
            (Exit::Usage, 2),
            (Exit::NotRestored, 3),
            (Exit::NothingDone, 4),
            (Exit::TempFail, 75),
            (Exit::Timeout, 124),
            (Exit::Interrupted, 130),
            (Exit::Terminated, 143),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }

    #[test]
    fn worst_prefers_states_a_human_must_repair() {
        assert_eq!(Exit::Failed.worst(Exit::NotRestored), Exit::NotRestored);
        assert_eq!(Exit::Timeout.worst(Exit::Failed), Exit::Timeout);
        assert_eq!(Exit::Success.worst(Exit::NothingDone), Exit::NothingDone);
        assert_eq!(Exit::Failed.worst(Exit::Success), Exit::Failed);
    }

    #[test]
    fn combine_reports_nothing_done_only_when_every_unit_did_nothing() {
        assert_eq!(
            Exit::combine([Exit::NothingDone, Exit::NothingDone]),
            Exit::NothingDone
        );
        assert_eq!(
            Exit::combine([Exit::NothingDone, Exit::Success]),
            Exit::Success
        );
        assert_eq!(
            Exit::combine([Exit::NothingDone, Exit::Failed]),
            Exit::Failed
        );
        assert_eq!(Exit::combine([]), Exit::Success);
    }

    #[test]
    fn signals_map_to_130_and_143() {
        assert_eq!(Exit::for_signal(2).code(), 130);
        assert_eq!(Exit::for_signal(15).code(), 143);
    }
}
