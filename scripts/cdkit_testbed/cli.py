"""scripts/testbed: a fleet of real Debian 12 hosts on one machine, for cdkit's integration tests.

Each host is a network namespace on one bridge plus an overlayfs over a shared, cached Debian 12
root file system, booted with `systemd-nspawn --boot` (a container per host, lighter than a VM
and with a real init): its own address, files, dpkg database, sshd and a
real systemd. Everything the testbed makes lives in one outer network namespace, the "lab": the
bridge, the hosts' veth ends, HAProxy (on the lab's loopback), the APT repository's HTTP server,
and whatever `run` starts. Nothing in the machine's own network namespace talks to the lab.

  prepare                        build (once) what `up` needs: the cached root file system and
                                 publish-repo; CI can run it ahead so that `up` is timed alone
  up -n N [--lb] [--name NAME]   N hosts h1..hN; prints the state directory and memory per host
  down [--name NAME]             removes every process, mount, namespace, veth and bridge `up`
                                 made, also after a crashed or half-done `up`; idempotent
  status [--json]                hosts, addresses, power, link, memory, HAProxy states, env
  exec H CMD...                  CMD on host H over ssh (an argument vector, quoted for the
                                 remote shell; use `sh -c '...'` for shell code); ssh's exit status
  kill-host H                    power off: every process of H killed at once, its link down
  cut-host H                     link down (H keeps running, unreachable)
  heal-host H                    link up, boot H again if it is off, wait until it answers ssh
  load --rate R --duration D     HTTP GETs through HAProxy at R/s for D (or until --stop-file
                                 exists); JSON counts on stdout
  reload-lb                      reload HAProxy the way config management would (state saved to
                                 the server-state file first, so drained servers stay drained)
  publish --suite S DEB...       add .debs to the testbed's APT repository (signed)
  run -- CMD...                  CMD inside the lab, with the CDKIT_TESTBED_* variables below

H is `h3`, `3` or the host's address. Every command takes --name (default: default, or
$CDKIT_TESTBED_NAME). State lives in $CDKIT_TESTBED_ROOT/NAME (default /run/cdkit-testbed/NAME).

Hosts h1..hK form the Ansible group `testing` and the rest `production`, with K = ceil(0.6 N),
but at least one production host when N >= 2 (N=3: 2+1, N=5: 3+2, N=50: 30+20). A host's APT
source uses the suite of its group. Host i has address 10.213.(i div 200).(i mod 200 + 10)
(h1 = 10.213.0.11); the lab's bridge is 10.213.255.254; the repository is served at
http://10.213.255.254:8099/; HAProxy listens on 127.0.0.1:8000 of the lab and balances the
sample service's port 8080 on every host (backend be_hello, server names = host names).

`run` exports: CDKIT_TESTBED (name), CDKIT_TESTBED_DIR, CDKIT_TESTBED_INVENTORY,
CDKIT_TESTBED_SSH_CONFIG, CDKIT_TESTBED_KNOWN_HOSTS, CDKIT_TESTBED_SSH_KEY, CDKIT_TESTBED_HOSTS
(space-separated names), CDKIT_TESTBED_REPO, CDKIT_TESTBED_REPO_URL, CDKIT_TESTBED_KEYRING,
CDKIT_TESTBED_SIGN_KEY, GNUPGHOME (the testbed's signing key), PUBLISH_REPO_DIR,
PUBLISH_REPO_SIGN_KEY, CDKIT_TESTBED_PUBLISH_REPO (the binary), and with --lb
CDKIT_TESTBED_HAPROXY_SOCKET, CDKIT_TESTBED_HAPROXY_BACKEND, CDKIT_TESTBED_LB_URL.

For tests of cleanup, CDKIT_TESTBED_FAIL_AFTER_HOSTS=K makes `up` fail on purpose after
starting K hosts (it then removes what it made, unless --keep-on-failure).

Needs root and: mmdebstrap, systemd-container, iproute2, util-linux (nsenter), openssh-client,
gnupg, cargo (to build publish-repo), haproxy (for --lb). Exit status: 0 done, 1 failed
(one line on stderr says what), 2 bad invocation; exec and run pass on their command's status.
"""

import argparse
import os
import signal
import sys

from .commands import (
    cmd_cut_host,
    cmd_exec,
    cmd_heal_host,
    cmd_kill_host,
    cmd_load,
    cmd_publish,
    cmd_reload_lb,
    cmd_run,
    cmd_status,
)
from .common import Fail, error, parse_duration
from .lifecycle import cmd_down, cmd_prepare, cmd_up

# ---------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(prog="scripts/testbed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example: scripts/testbed up -n 5 --lb && "
                                       "scripts/testbed run -- ssh -F \"$CDKIT_TESTBED_SSH_CONFIG\" h1 "
                                       "systemctl is-system-running; scripts/testbed down")
    sub = p.add_subparsers(dest="command", required=True)
    default_name = os.environ.get("CDKIT_TESTBED_NAME", "default")

    def add(name, func, help_):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--name", default=default_name, help="testbed name (default %(default)s)")
        sp.set_defaults(func=func)
        return sp

    add("prepare", cmd_prepare, "build the root file system and publish-repo (once)")
    sp = add("up", cmd_up, "start N hosts")
    sp.add_argument("-n", type=int, required=True, metavar="N", help="number of hosts")
    sp.add_argument("--lb", action="store_true", help="HAProxy in front of port 8080 of every host")
    sp.add_argument("--timeout", type=parse_duration, default=120.0,
                    help="how long to wait for every host to answer ssh (default 120s)")
    sp.add_argument("--keep-on-failure", action="store_true",
                    help="leave a failed up's pieces for inspection (then run down)")
    add("down", cmd_down, "remove everything up made (idempotent)")
    sp = add("status", cmd_status, "hosts, memory, HAProxy states, environment")
    sp.add_argument("--json", action="store_true")
    sp = add("exec", cmd_exec, "run a command on a host over ssh")
    sp.add_argument("host")
    sp.add_argument("command", nargs=argparse.REMAINDER)
    for name, func, help_ in (("kill-host", cmd_kill_host, "power a host off"),
                              ("cut-host", cmd_cut_host, "take a host's link down")):
        add(name, func, help_).add_argument("host")
    sp = add("heal-host", cmd_heal_host, "link up, boot if off, wait for ssh")
    sp.add_argument("host")
    sp.add_argument("--timeout", type=parse_duration, default=60.0)
    sp = add("load", cmd_load, "HTTP load through HAProxy; JSON counts")
    sp.add_argument("--rate", type=float, required=True, help="requests per second")
    sp.add_argument("--duration", type=parse_duration, required=True, help="e.g. 10s")
    sp.add_argument("--url", help="default: the testbed's HAProxy")
    sp.add_argument("--timeout", type=parse_duration, default=2.0, help="per request (default 2s)")
    sp.add_argument("--fail-on-error", action="store_true", help="exit 1 if any request failed")
    sp.add_argument("--stop-file", help="stop early once this file exists (load for a whole job)")
    add("reload-lb", cmd_reload_lb, "reload HAProxy, keeping server states")
    sp = add("publish", cmd_publish, "add .debs to the testbed's APT repository")
    sp.add_argument("--suite", required=True, choices=["testing", "production"])
    sp.add_argument("debs", nargs="+")
    sp = add("run", cmd_run, "run a command inside the lab with CDKIT_TESTBED_* set")
    sp.add_argument("command", nargs=argparse.REMAINDER)

    args = p.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `status | head` ends quietly
    if os.geteuid() != 0:
        error("must run as root (network namespaces, overlay mounts, systemd-nspawn)")
        sys.exit(2)
    try:
        args.func(args)
    except Fail as e:
        error(str(e))
        sys.exit(e.code)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
    except Exception as e:  # a bug or an unexpected system error: still one line
        if os.environ.get("CDKIT_TESTBED_DEBUG"):
            raise
        error(f"{args.command} failed: {type(e).__name__}: {e} (CDKIT_TESTBED_DEBUG=1 shows where)")
        sys.exit(1)
