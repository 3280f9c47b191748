"""Shared parts of the benchmarks that drive the testbed and Ansible (scripts/bench/rolling-install,
scripts/bench/lead-time): paths, running commands loudly, the timing and fan-out helpers that run
inside the testbed's lab, Ansible's venv and configuration, and Ansible `serial` batch plans.

Kept in one place so that both benchmarks measure Ansible the same way (same configuration, same
fresh-connection rule, same timing wrapper) and a fix to one reaches the other.
"""
import concurrent.futures
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cdkit_testbed import paths  # noqa: E402  (scripts/cdkit_testbed, the testbed's package)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = paths.target_dir()  # the same per-clone target directory as scripts/env.sh
VENV = paths.venv()
TESTBED = os.path.join(ROOT, "scripts", "testbed")
PYTHON_APT = ["python3-apt", "python-apt-common", "distro-info-data"]


def say(message):
    print("bench: %s" % message, file=sys.stderr, flush=True)


def run(argv, env=None, capture=False, timeout=None, input=None, cwd=None):
    """Run argv; fail loudly (with the end of its output) if it fails."""
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL, cwd=cwd)
    if r.returncode != 0:
        raise SystemExit("bench: `%s` failed (exit %d):\n%s" % (
            shlex.join(argv)[:300], r.returncode, (r.stdout + r.stderr)[-4000:]))
    return r.stdout if capture else None


def cpu_busy_seconds():
    """Busy (non-idle, non-iowait) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------
# helpers run inside the lab (`scripts/testbed run -- python3 BENCH _timed|_on-hosts ...`)


def inner_timed(argv):
    """`_timed OUT.json LOG -- CMD...`: run CMD (output to LOG), write wall/CPU/exit to OUT."""
    out, log, cmd = argv[0], argv[1], argv[3:]
    with open(log, "wb") as f:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started_epoch = time.time()
        start = time.perf_counter()
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out, "w") as f:
        json.dump({"rc": rc, "wall": wall, "cpu": cpu, "started_epoch": started_epoch}, f)
    return 0


def inner_on_hosts(argv):
    """`_on-hosts PARALLEL HOSTS|all STDIN-FILE|- CMD`: CMD (a remote shell command line) on
    each host over ssh, PARALLEL at a time; prints {host: [exit, stdout, stderr tail]}."""
    parallel, which, stdin_file, command = int(argv[0]), argv[1], argv[2], argv[3]
    hosts = os.environ["CDKIT_TESTBED_HOSTS"].split() if which == "all" else which.split(",")
    config = os.environ["CDKIT_TESTBED_SSH_CONFIG"]

    def one(host):
        stdin = open(stdin_file, "rb") if stdin_file != "-" else subprocess.DEVNULL
        try:
            r = subprocess.run(["ssh", "-F", config, host, command], stdin=stdin, capture_output=True,
                               timeout=600)
        finally:
            if stdin_file != "-":
                stdin.close()
        return host, [r.returncode, r.stdout.decode(errors="replace"),
                      r.stderr.decode(errors="replace")[-2000:]]

    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        print(json.dumps(dict(pool.map(one, hosts))))
    return 0


class Lab:
    """One named testbed, driven from outside its lab; `bench` is the benchmark script, which
    must dispatch `_timed` and `_on-hosts` to inner_timed / inner_on_hosts."""

    def __init__(self, name, bench):
        self.name = name
        self.bench = bench

    def testbed(self, *args, capture=False, timeout=900):
        return run([TESTBED, args[0], "--name", self.name] + list(args[1:]), capture=capture, timeout=timeout)

    def down(self):
        """`scripts/testbed down`; returns the CompletedProcess (the caller reports a failure)."""
        return subprocess.run([TESTBED, "down", "--name", self.name], capture_output=True, text=True)

    def on_hosts(self, command, hosts="all", parallel=10, stdin_file=None, must=True):
        out = self.testbed("run", "--", sys.executable, self.bench, "_on-hosts", str(parallel), hosts,
                           stdin_file or "-", command, capture=True)
        results = json.loads(out)
        bad = {h: r for h, r in results.items() if r[0] != 0}
        if must and bad:
            host, (rc, so, se) = sorted(bad.items())[0]
            raise SystemExit("bench: `%s` failed on %d host(s), e.g. %s (exit %d): %s" % (
                command[:200], len(bad), host, rc, (so + se).strip()[-2000:]))
        return results

    def timed(self, work, label, cmd, env_extra=None):
        """CMD inside the lab; returns the measurement (wall, controller CPU, machine busy CPU)."""
        out = os.path.join(work, "%s.time.json" % label)
        log = os.path.join(work, "%s.log" % label)
        argv = [TESTBED, "run", "--name", self.name, "--", sys.executable, self.bench, "_timed", out, log,
                "--"] + cmd
        env = dict(os.environ, **(env_extra or {}))
        busy = cpu_busy_seconds()
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
        busy = cpu_busy_seconds() - busy
        if r.returncode != 0 or not os.path.exists(out):
            raise SystemExit("bench: %s: the timing wrapper failed (exit %d): %s" % (
                label, r.returncode, r.stderr[-2000:]))
        with open(out) as f:
            m = json.load(f)
        m["machine_busy_cpu"] = busy
        m["log"] = log
        if m["rc"] != 0:
            with open(log, errors="replace") as f:
                tail = f.read()[-3000:]
            raise SystemExit("bench: %s exited %d (log %s):\n%s" % (label, m["rc"], log, tail))
        return m


# ---------------------------------------------------------------------------------------
# batches


def plan(batch, total):
    """Host indexes per batch, Ansible `serial` semantics (as rolling-install's --batch)."""
    sizes = batch.split(",")
    batches, start, k = [], 0, 0
    while start < total:
        part = sizes[min(k, len(sizes) - 1)]
        count = max(1, total * int(part[:-1]) // 100) if part.endswith("%") else int(part)
        batches.append(list(range(start, min(total, start + count))))
        start += count
        k += 1
    return batches


def serial_yaml(batch):
    """`1,5,20%` as an Ansible `serial` list: [1, 5, "20%"]."""
    items = []
    for part in batch.split(","):
        items.append('"%s"' % part if part.endswith("%") else part)
    return "[%s]" % ", ".join(items)


# ---------------------------------------------------------------------------------------
# Ansible


def ensure_ansible():
    """ansible-core from PyPI in $CDKIT_VENV (created if missing); returns its version line."""
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        say("creating the venv %s" % VENV)
        run([sys.executable, "-m", "venv", VENV])
    probe = subprocess.run([os.path.join(VENV, "bin", "python"), "-c", "import ansible"],
                           capture_output=True)
    if probe.returncode != 0 or not os.path.exists(os.path.join(VENV, "bin", "ansible-playbook")):
        say("installing ansible-core from PyPI into %s" % VENV)
        run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
             "ansible-core"], timeout=900)
    version = run([os.path.join(VENV, "bin", "ansible-playbook"), "--version"], capture=True)
    return version.splitlines()[0].strip()


def python_apt_debs(directory):
    """python3-apt and the two packages it needs that the hosts' root file system lacks (Ansible's
    apt module imports it), downloaded once with apt-get on this (Debian 12) machine."""
    os.makedirs(directory, exist_ok=True)

    def have():
        return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".deb"))

    def names():
        return {os.path.basename(p).split("_")[0] for p in have()}

    if set(PYTHON_APT) - names():
        say("downloading %s (once, into %s)" % (" ".join(PYTHON_APT), directory))
        r = subprocess.run(["apt-get", "download"] + PYTHON_APT, cwd=directory, capture_output=True, text=True)
        if r.returncode != 0:
            run(["apt-get", "update", "-q"])
            r = subprocess.run(["apt-get", "download"] + PYTHON_APT, cwd=directory, capture_output=True, text=True)
        if r.returncode != 0 or set(PYTHON_APT) - names():
            raise SystemExit("bench: apt-get download %s failed:\n%s" % (" ".join(PYTHON_APT), r.stderr[-2000:]))
    return have()


ANSIBLE_CFG = """\
# {bench}: a fast, best-practice configuration for ansible-playbook.
[defaults]
forks = {forks}
gathering = explicit
host_key_checking = True
retry_files_enabled = False
nocolor = True
deprecation_warnings = False

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
"""


def close_ansible_masters(cp_dir):
    """Close the ControlPersist masters Ansible left (so the next run starts fresh), each by its
    socket; then remove the directory."""
    for sock in sorted(os.listdir(cp_dir)) if os.path.isdir(cp_dir) else []:
        subprocess.run(["ssh", "-o", "ControlPath=%s" % os.path.join(cp_dir, sock), "-O", "exit", "bench-master"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    deadline = time.monotonic() + 10
    while os.path.isdir(cp_dir) and os.listdir(cp_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    shutil.rmtree(cp_dir, ignore_errors=True)
