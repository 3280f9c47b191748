"""gpg helpers for throwaway keyrings (the testbed's signing key, the benchmarks' repositories)."""

import subprocess


def stop_agent(homedir):
    """Stop every daemon gpg started for `homedir`: gpg starts an agent that outlives it, and
    no stray process may stay behind a testbed or a benchmark. Best effort: its exit status
    is not checked (there may be no agent to stop)."""
    subprocess.run(["gpgconf", "--homedir", str(homedir), "--kill", "all"], capture_output=True)
