"""`prepare`, `up` and `down`: keys, hosts, network, repository server and HAProxy brought
up, and everything removed again, also after a crashed or half-done `up`.
"""

import concurrent.futures
import contextlib
import fcntl
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from . import gpg, paths
from .common import (
    BACKEND,
    BRIDGE_ADDR,
    INOTIFY,
    INOTIFY_SAVED,
    LB_PORT,
    REPO_PORT,
    Fail,
    Interrupted,
    info,
    ip,
    run,
    write,
)
from .lb import haproxy_config, start_haproxy, wait_haproxy
from .procs import (
    alive,
    all_pids,
    ancestors,
    cgroup_roots,
    cmdline,
    enter_netns,
    host_cgroups,
    host_memory,
    list_netns,
    mem_available_kib,
    netns_inode,
    read_pid,
    remove_cgroups,
    spawn,
)
from .rootfs import ensure_rootfs
from .state import Testbed, host_ip, testing_count

# ---------------------------------------------------------------------------------------------
# up

def find_publish_repo():
    """publish-repo from CDKIT_PUBLISH_REPO, else built (release) in the target directory that
    scripts/env.sh chooses (paths.target_dir)."""
    if os.environ.get("CDKIT_PUBLISH_REPO"):
        return os.environ["CDKIT_PUBLISH_REPO"]
    target = paths.target_dir()
    r = subprocess.run(["cargo", "build", "--release", "-q", "-p", "publish-repo"],
                       cwd=paths.REPO_ROOT, env=dict(os.environ, CARGO_TARGET_DIR=target),
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise Fail(f"cargo build --release -p publish-repo failed: {last}")
    return f"{target}/release/publish-repo"


def make_keys(tb, cfg):
    """Client key, host CA, known_hosts, ssh_config, inventory, and the APT signing key."""
    (tb.dir / "ssh").mkdir(mode=0o700)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"cdkit-testbed-{tb.name}",
         "-f", str(tb.client_key)])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"cdkit-testbed-{tb.name}-host-ca",
         "-f", str(tb.dir / "ssh" / "host_ca")])
    ca = (tb.dir / "ssh" / "host_ca.pub").read_text().strip()
    # One line: any host whose certificate this CA signed, by name or lab address.
    write(tb.known_hosts, f"@cert-authority h*,10.213.* {ca}\n")
    blocks = "".join(f"Host {h['name']}\n  HostName {h['ip']}\n" for h in cfg["hosts"])
    write(tb.ssh_config, (
        f"# cdkit testbed {tb.name}: `ssh -F {tb.ssh_config} h1` (inside the lab: scripts/testbed run)\n"
        f"{blocks}"
        "Host *\n"
        "  User root\n"
        f"  IdentityFile {tb.client_key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {tb.known_hosts}\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n"
        "  CheckHostIP no\n"
        "  BatchMode yes\n"
        "  ConnectTimeout 5\n"
        "  ServerAliveInterval 5\n"
        "  ServerAliveCountMax 3\n"
        "  LogLevel ERROR\n"))
    groups = {"testing": [], "production": []}
    for h in cfg["hosts"]:
        groups[h["group"]].append(f"{h['name']} ansible_host={h['ip']} haproxy_server={h['name']}")
    lb_vars = (f"haproxy_backend={BACKEND}\nhaproxy_socket={tb.haproxy_socket}\n"
               f"lb_url={cfg['lb_url']}\n") if cfg["lb"] else ""
    write(tb.inventory, (
        f"# cdkit testbed {tb.name}: {len(cfg['hosts'])} hosts; testing = h1..h{len(groups['testing'])}, "
        "production = the rest.\n"
        "[testing]\n" + "".join(line + "\n" for line in groups["testing"]) + "\n"
        "[production]\n" + "".join(line + "\n" for line in groups["production"]) + "\n"
        "[all:vars]\n"
        "ansible_user=root\n"
        f"ansible_ssh_common_args='-F {tb.ssh_config}'\n"
        "ansible_python_interpreter=/usr/bin/python3\n" + lb_vars))

    tb.gnupg.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(tb.gnupg), "--batch", "--quiet"]
    run(gpg + ["--generate-key"], input="%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\n"
        "Key-Usage: sign\nName-Real: cdkit testbed " + tb.name +
        "\nName-Email: testbed@example.invalid\nExpire-Date: 0\n%commit\n")
    listing = run(gpg + ["--with-colons", "--list-secret-keys"]).stdout
    cfg["sign_key"] = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    run(gpg + ["--output", str(tb.keyring), "--export", cfg["sign_key"]])


def seed_host(tb, cfg, rootfs, h):
    """The host's own files, placed in its overlay upper dir before it boots."""
    upper = tb.host_dir(h) / "upper"
    ip_ = h["ip"]

    def mkdirs(rel):
        # Each directory gets the mode of the image's: the upper dir's attributes win.
        parts = Path(rel).parts
        for k in range(1, len(parts) + 1):
            sub = Path(*parts[:k])
            d = upper / sub
            if not d.exists():
                d.mkdir()
                os.chmod(d, os.stat(rootfs / sub).st_mode & 0o7777)

    for rel in ("etc/ssh", "etc/apt/keyrings", "etc/apt/sources.list.d", "root"):
        mkdirs(rel)
    (upper / "root/.ssh").mkdir(mode=0o700)
    write(upper / "etc/hostname", f"{h['name']}\n")
    write(upper / "etc/hosts", f"127.0.0.1 localhost\n::1 localhost ip6-localhost\n{ip_} {h['name']}\n")
    key = upper / "etc/ssh/ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", h["name"], "-f", str(key)])
    run(["ssh-keygen", "-q", "-s", str(tb.dir / "ssh" / "host_ca"), "-I", f"{tb.name}-{h['name']}",
         "-h", "-n", f"{h['name']},{ip_}", str(key) + ".pub"])
    shutil.copy(tb.client_key.with_suffix(".pub"), upper / "root/.ssh/authorized_keys")
    os.chmod(upper / "root/.ssh/authorized_keys", 0o600)
    shutil.copy(tb.keyring, upper / "etc/apt/keyrings/cdkit-testbed.gpg")
    write(upper / "etc/apt/sources.list.d/cdkit-testbed.list",
          f"deb [signed-by=/etc/apt/keyrings/cdkit-testbed.gpg] {cfg['repo_url']} {h['group']} main\n")
    write(upper / "etc/cdkit-testbed", f"name={h['name']}\ngroup={h['group']}\naddress={ip_}\n")


def boot_host(tb, cfg, h):
    """Each host's systemd-nspawn starts in a cgroup of its own. With --keep-unit nspawn nests
    the container under the caller's cgroup; started side by side from one cgroup, every host's
    systemd would manage the same /payload/system.slice, and one host cleaning up its unit's
    cgroup removes it under another host starting the same unit ("Failed to attach to cgroup
    ...: No such file or directory", a degraded boot)."""
    hd = tb.host_dir(h)
    cgroups = host_cgroups(tb, h)
    remove_cgroups(cgroups)  # what an earlier boot of this host left
    for cg in cgroups:
        try:
            cg.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Fail(f"cannot create the cgroup {cg} for {h['name']}: {e.strerror}") from e
    enter = ["sh", "-c", 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 1; shift; '
             'done; shift; exec "$@"', "sh"] + [str(cg) for cg in cgroups] + ["--"]
    return spawn(tb, h["name"], enter + [
        "systemd-nspawn", "--quiet", "--boot", "--directory", cfg["rootfs"],
        f"--overlay={cfg['rootfs']}:{hd / 'upper'}:/",
        f"--network-namespace-path=/run/netns/{h['netns']}",
        f"--machine=cdtb-{tb.name}-{h['name']}", f"--hostname={h['name']}",
        "--register=no", "--keep-unit", "--link-journal=no", "--resolv-conf=off",
        "--timezone=off", "--console=read-only"], hd / "console.log")


def create_host_network(tb, h):
    ip("netns", "add", h["netns"])
    ip("link", "add", h["veth"], "type", "veth", "peer", "name", "eth0", "netns", h["netns"], ns=tb.lab)
    ip("link", "set", h["veth"], "master", "br0", "up", ns=tb.lab)
    run(["ip", "-n", h["netns"], "-batch", "-"], input=(
        f"addr add {h['ip']}/16 dev eth0\nlink set eth0 up\nlink set lo up\n"
        f"route add default via {BRIDGE_ADDR}\n"))


@contextlib.contextmanager
def inotify_lock():
    """Serialises the raise (with the new lab's namespace) against the restore (which looks for
    other labs), so a testbed coming up is never left at the machine's old limit."""
    with open("/run/cdkit-testbed.inotify.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def raise_inotify(n_hosts):
    """systemd containers share fs.inotify.max_user_instances (128 by default); from about 20
    hosts boots stall without more. A host uses about 6; allow 16 for every
    host of every testbed on the machine. The first testbed saves the old value."""
    current = int(INOTIFY.read_text())
    if not INOTIFY_SAVED.exists():
        write(INOTIFY_SAVED, f"{current}\n")
    hosts_up = sum(1 for n in list_netns() if re.fullmatch(r"cdtb_.+_h[0-9]+", n))
    wanted = 1024 + 16 * (hosts_up + n_hosts)
    if current < wanted:
        INOTIFY.write_text(f"{wanted}\n")


def restore_inotify(leaving):
    """Back to the saved value once no other testbed's lab exists."""
    others = [n for n in list_netns() if n.startswith("cdtb_") and n.endswith("_lab") and n != leaving]
    if others or not INOTIFY_SAVED.exists():
        return
    INOTIFY.write_text(INOTIFY_SAVED.read_text())
    INOTIFY_SAVED.unlink()


def wait_tcp(addr, port, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((addr, port), timeout=0.5).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def wait_for_ssh(tb, cfg, hosts, timeout, started):
    """Wait (inside the lab) until every host answers `ssh HOST true`. A cheap TCP probe of port
    22 comes first, so full handshakes (~0.35 s of CPU each) are only spent on hosts that listen."""
    deadline = time.monotonic() + timeout
    done, lock = [], threading.Lock()
    stop = threading.Event()  # set when one probe failed or we were interrupted

    def probe(h):
        while time.monotonic() < deadline and not stop.is_set():
            if read_pid(tb, h["name"]) is None:
                tail = (tb.host_dir(h) / "console.log").read_text(errors="replace").strip().splitlines()
                raise Fail(f"{h['name']}: systemd-nspawn exited while booting: "
                           f"{tail[-1] if tail else 'no output'} (see {tb.host_dir(h) / 'console.log'})")
            if wait_tcp(h["ip"], 22, 0.3):
                r = subprocess.run(["ssh", "-F", str(tb.ssh_config), h["name"], "true"],
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    with lock:
                        done.append(h["name"])
                        if len(hosts) >= 10 and len(done) % 10 == 0 or len(done) == len(hosts):
                            info(f"{len(done)}/{len(hosts)} hosts answer ssh "
                                 f"({time.monotonic() - started:.1f} s)")
                    return
            time.sleep(0.3)
        if not stop.is_set():
            raise Fail(f"{h['name']} ({h['ip']}) did not answer ssh within {timeout:.0f} s "
                       f"(see {tb.host_dir(h) / 'console.log'})")

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(hosts)))
    try:
        for f in [pool.submit(probe, h) for h in hosts]:
            f.result()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def install_signal_handlers():
    def handler(signum, _frame):
        raise Interrupted(signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cmd_prepare(_args):
    rootfs = ensure_rootfs()
    publish_repo = find_publish_repo()
    print(f"root file system: {rootfs}\npublish-repo: {publish_repo}")


def cmd_up(args):
    tb = Testbed(args.name)
    n = args.n
    if not 1 <= n <= 1000:
        raise Fail(f"-n {n}: between 1 and 1000 hosts", 2)
    if len(str(tb.haproxy_socket)) > 100:
        raise Fail(f"state directory {tb.dir} is too long for a unix socket path; "
                   "use a shorter CDKIT_TESTBED_ROOT", 2)
    for tool in ["mmdebstrap", "systemd-nspawn", "ip", "nsenter", "ssh", "ssh-keygen", "gpg",
                 "gpgconf", "cargo"] + (["haproxy"] if args.lb else []):
        if not shutil.which(tool):
            raise Fail(f"{tool} is not installed (apt-get install mmdebstrap systemd-container "
                       "iproute2 openssh-client gnupg haproxy; cargo from rustup)", 2)
    if tb.dir.exists() or any(n.startswith(tb.prefix) for n in list_netns()):
        raise Fail(f"testbed {tb.name} exists already ({tb.dir}); "
                   f"remove it with `scripts/testbed down --name {tb.name}`", 2)
    rootfs = ensure_rootfs()
    publish_repo = find_publish_repo()
    install_signal_handlers()
    started = time.monotonic()
    available_before = mem_available_kib()
    fail_after = int(os.environ.get("CDKIT_TESTBED_FAIL_AFTER_HOSTS", "0") or 0)
    try:
        t0 = time.monotonic()
        testing = testing_count(n)
        cfg = {
            "name": tb.name, "dir": str(tb.dir), "phase": "starting", "rootfs": str(rootfs),
            "lb": args.lb, "lab_netns": tb.lab, "bridge_address": BRIDGE_ADDR,
            "repo_url": f"http://{BRIDGE_ADDR}:{REPO_PORT}/", "publish_repo": publish_repo,
            "lb_url": f"http://127.0.0.1:{LB_PORT}" if args.lb else None,
            "hosts": [{"name": f"h{i}", "index": i, "ip": host_ip(i),
                       "group": "testing" if i <= testing else "production",
                       "netns": f"{tb.prefix}h{i}", "veth": f"v{i}"} for i in range(1, n + 1)],
        }
        tb.dir.mkdir(parents=True, mode=0o700)
        (tb.dir / "pids").mkdir()
        tb.save(cfg)  # first, so that `down` after a crash knows what to look for
        make_keys(tb, cfg)
        tb.save(cfg)

        # The lab: its own network namespace with loopback and the bridge; this process moves
        # into it, so its probes (and ssh, curl) reach the hosts and the machine's never does.
        with inotify_lock():  # a `down` elsewhere must see this lab before it restores the limit
            ip("netns", "add", tb.lab)
            raise_inotify(n)
        ip("link", "set", "lo", "up", ns=tb.lab)
        ip("link", "add", "br0", "type", "bridge", "forward_delay", "0", ns=tb.lab)
        ip("addr", "add", f"{BRIDGE_ADDR}/16", "dev", "br0", ns=tb.lab)
        ip("link", "set", "br0", "up", ns=tb.lab)
        enter_netns(tb.lab)

        # The APT repository, created with our own publish-repo, served on the bridge address.
        env = dict(os.environ, GNUPGHOME=str(tb.gnupg))
        run([publish_repo, "init", "--repo", str(tb.repo), "--origin", "cdkit-testbed",
             "--label", "cdkit-testbed", "--suites", "testing,production",
             "--sign-key", cfg["sign_key"]], env=env)
        gpg.stop_agent(tb.gnupg)
        spawn(tb, "repo-http", ["/usr/bin/python3", "-m", "http.server", "--bind", BRIDGE_ADDR,
                                "--directory", str(tb.repo), str(REPO_PORT)], tb.dir / "repo-http.log")

        for k, h in enumerate(cfg["hosts"], 1):
            if fail_after and k > fail_after:
                raise Fail(f"failing on purpose after {fail_after} hosts "
                           "(CDKIT_TESTBED_FAIL_AFTER_HOSTS is set)")
            tb.host_dir(h).mkdir(parents=True)
            (tb.host_dir(h) / "upper").mkdir()
            seed_host(tb, cfg, rootfs, h)
            create_host_network(tb, h)
            boot_host(tb, cfg, h)
        created = time.monotonic() - t0

        if not wait_tcp(BRIDGE_ADDR, REPO_PORT, 10):
            raise Fail(f"the repository's HTTP server did not start (see {tb.dir / 'repo-http.log'})")
        if args.lb:
            tb.haproxy_dir.mkdir()
            write(tb.haproxy_dir / "haproxy.cfg", haproxy_config(tb, cfg))
            write(tb.haproxy_dir / "server-state", "")
            start_haproxy(tb)

        info(f"{n} hosts created in {created:.1f} s; waiting until they answer ssh")
        wait_for_ssh(tb, cfg, cfg["hosts"], args.timeout, started)
        ready = time.monotonic() - started
        if args.lb:
            wait_haproxy(tb)
        cfg["phase"] = "up"
        tb.save(cfg)
        env_text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in tb.env(cfg).items())
        write(tb.dir / "env", env_text)
        mem = host_memory(tb, cfg)
        total = sum(mem.values())
        fell = available_before - mem_available_kib()
        print(f"testbed {tb.name} is up: {n} hosts ({testing} testing, {n - testing} production)"
              + (f", HAProxy at {cfg['lb_url']} in the lab" if args.lb else ""))
        print(f"  state:   {tb.dir}")
        print(f"  env:     {tb.dir / 'env'} (exported by `scripts/testbed run -- CMD`)")
        print(f"  ready:   all {n} hosts answered ssh {ready:.1f} s after `up` began making the "
              f"testbed ({created:.1f} s to create them; image and publish-repo were ready)")
        # MemAvailable also counts kernel memory (namespaces, page cache of the upper dirs), but
        # is noise for a handful of hosts on a machine doing other work.
        machine = (f"; the machine's MemAvailable fell by {fell / 1024:.0f} MiB "
                   f"({fell / n / 1024:.1f} MiB per host)") if n >= 10 else ""
        print(f"  memory:  {total / n / 1024:.1f} MiB per host (PSS of a host's processes and its "
              f"systemd-nspawn; {total / 1024:.0f} MiB for {n} hosts){machine}")
    except (Fail, Interrupted, Exception) as e:
        code = getattr(e, "code", 1)
        message = str(e) if isinstance(e, (Fail, Interrupted)) else f"{type(e).__name__}: {e}"
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.keep_on_failure:
            info(f"keeping the half-made testbed ({tb.dir}); remove it with "
                 f"`scripts/testbed down --name {tb.name}`")
        else:
            try:
                teardown(tb, quiet=True)
            except Fail as cleanup:
                info(f"cleaning up after the failure failed too: {cleanup}")
        raise Fail(f"up failed: {message}", code) from e


# ---------------------------------------------------------------------------------------------
# down

def teardown(tb, quiet=False):
    """Stop every process of the testbed, delete its namespaces (veths and the bridge go with
    them), check no overlay is mounted, then delete the state. Works from whatever a crash left:
    processes are found by network namespace and by the state directory in their command line,
    not only from pid files."""
    mine = ancestors()
    ours = [n for n in list_netns() if n.startswith(tb.prefix)]
    inodes = {i for i in (netns_inode(f"/run/netns/{n}") for n in ours) if i}
    marker = str(tb.dir) + "/"

    def victims():
        found = []
        for pid in all_pids():
            if pid in mine or not alive(pid):
                continue
            if netns_inode(f"/proc/{pid}/ns/net") in inodes or marker in cmdline(pid) + " ":
                found.append(pid)
        return found

    def signal_all(pids, sig):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def wait_gone(pids, seconds):
        deadline = time.monotonic() + seconds
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)

    found = victims()
    # A clean poweroff first: nspawn turns SIGTERM into a container shutdown (~0.5 s). Then
    # everything else; then SIGKILL for whatever is left (killing a container's init takes its
    # whole pid namespace with it).
    nspawns = [p for p in found if cmdline(p).startswith("systemd-nspawn ")]
    signal_all(nspawns, signal.SIGTERM)
    wait_gone(nspawns, 15)
    rest = victims()
    signal_all(rest, signal.SIGTERM)
    wait_gone(rest, 3)
    for _ in range(50):
        rest = victims()
        if not rest:
            break
        signal_all(rest, signal.SIGKILL)
        wait_gone(rest, 0.2)
    else:
        raise Fail(f"processes of testbed {tb.name} survive SIGKILL: {rest}; nothing was deleted")

    for n in sorted(ours, key=lambda n: n == tb.lab):  # the lab last
        ip("netns", "del", n, check=False)
    roots = cgroup_roots()
    remove_cgroups([root / "cdkit-testbed" / tb.name for root in roots])
    for root in roots:
        try:
            (root / "cdkit-testbed").rmdir()  # the last testbed on the machine
        except OSError:
            pass
    left = [n for n in list_netns() if n.startswith(tb.prefix)]
    if left:
        raise Fail(f"could not delete network namespaces {left}")

    # Never delete an upper dir under a live overlay (the kernel's overlayfs forbids it): look in every mount
    # namespace on the machine for a mount that mentions the state directory.
    if tb.dir.exists():
        for pid in all_pids():
            try:
                text = Path(f"/proc/{pid}/mountinfo").read_text()
            except OSError:
                continue
            if marker in text:
                raise Fail(f"something is still mounted under {tb.dir} (process {pid}: "
                           f"{cmdline(pid)[:80]}); not deleting it")
        shutil.rmtree(tb.dir)
    with inotify_lock():
        restore_inotify(tb.lab)
    if not quiet:
        what = f"{len(found)} processes, {len(ours)} network namespaces"
        info(f"testbed {tb.name} removed ({what})" if found or ours
             else f"testbed {tb.name}: nothing to remove")


def cmd_down(args):
    tb = Testbed(args.name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish the cleanup once started
    teardown(tb)
