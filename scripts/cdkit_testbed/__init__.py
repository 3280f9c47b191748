"""cdkit_testbed: a fleet of real Debian 12 hosts on one machine, for cdkit's integration tests
and benchmarks. `scripts/testbed` is the command (see `scripts/testbed --help`); this package is
its code, importable so that the benchmarks reuse its helpers instead of copying them.

Brief overview of the modules:

- `paths`: the repository root and the per-clone cargo target directory (the rule scripts/env.sh
  applies for bash), for every Python script.
- `haproxy`: a client for HAProxy's admin socket (one command, the servers' states).
- `gpg`: stopping the gpg-agent a throwaway GNUPGHOME started.
- `common`, `procs`, `state`, `rootfs`, `lb`: the testbed's constants, /proc and namespace
  readers, its names and files, the cached root file system and its HAProxy.
- `lifecycle`: `prepare`, `up`, `down`; `commands`: everything done on a running testbed;
  `cli`: the argument parser and the one-line error handling (`main`).

Importing the package imports none of its modules, so a benchmark that needs `paths` alone
pays for nothing else.
"""
