"""Processes, namespaces and cgroups, read from /proc and /sys rather than remembered, so
`down` finds what a crashed `up` left behind; the pid files of the lab's long-running processes.
"""

import ctypes
import os
import subprocess
from pathlib import Path

from .common import CLONE_NEWNET, Fail, write

# ---------------------------------------------------------------------------------------------
# Processes and namespaces, read from /proc (so `down` finds what a crashed `up` left behind).

def proc_stat(pid):
    """(state, ppid, starttime) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def alive(pid):
    """True for a live process; a zombie (state Z) is dead: `kill -0` would say otherwise."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def netns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def list_netns():
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def ancestors():
    """This process and its ancestors: never signalled by `down`, even when run from the lab."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        st = proc_stat(pid)
        pid = st[1] if st else 0
    return pids


_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    """Move this process (and everything it starts later) into a named network namespace.
    Done before any thread is started: setns(2) applies to the calling thread only."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise Fail(f"cannot enter network namespace {name}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def pid_file(tb, what):
    return tb.dir / "pids" / f"{what}.pid"


def spawn(tb, what, cmd, log):
    """Start a long-running process inside the lab, in its own session (it outlives this
    command); its pid and start time go to DIR/pids/WHAT.pid."""
    out = open(log, "ab")
    p = subprocess.Popen(["nsenter", f"--net=/run/netns/{tb.lab}"] + cmd, stdin=subprocess.DEVNULL,
                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    st = proc_stat(p.pid)
    write(pid_file(tb, what), f"{p.pid} {st[2] if st else 0}\n")
    return p.pid


def read_pid(tb, what):
    """The recorded process if it is still the same live process (not a reused pid)."""
    try:
        pid, start = map(int, pid_file(tb, what).read_text().split())
    except (OSError, ValueError):
        return None
    st = proc_stat(pid)
    return pid if st and st[2] == start and st[0] not in ("Z", "X") else None


def cgroup_roots():
    """The cgroup hierarchies systemd in a container manages: the named `systemd` v1 hierarchy
    and any cgroup2 mount (on a hybrid machine both, on a unified one just the root)."""
    roots = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, opts = line.split()[:4]
        if kind == "cgroup2" or (kind == "cgroup" and "name=systemd" in opts.split(",")):
            roots.append(Path(where.replace("\\040", " ")))
    return roots


def host_cgroups(tb, h):
    return [root / "cdkit-testbed" / tb.name / h["name"] for root in cgroup_roots()]


def remove_cgroups(tops):
    """rmdir a cgroup subtree deepest first (cgroup directories hold no files to delete); a
    cgroup that still has processes stays, and so do its parents."""
    for top in tops:
        if not top.is_dir():
            continue
        for where, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(where)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# status, memory

def mem_available_kib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def host_memory(tb, cfg):
    """{host: KiB}: proportional set size of the processes in the host's network namespace
    (its whole container) plus its systemd-nspawn."""
    by_inode = {netns_inode(f"/run/netns/{h['netns']}"): h["name"] for h in cfg["hosts"]}
    mem = {h["name"]: 0 for h in cfg["hosts"]}
    for pid in all_pids():
        name = by_inode.get(netns_inode(f"/proc/{pid}/ns/net"))
        if name:
            mem[name] += pss_kib(pid)
    for h in cfg["hosts"]:
        pid = read_pid(tb, h["name"])
        if pid:
            mem[h["name"]] += pss_kib(pid)
    return mem
