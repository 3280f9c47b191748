"""The commands on a running testbed: status, exec, run, publish, the faults (kill-host,
cut-host, heal-host, reload-lb) and HTTP load.
"""

import concurrent.futures
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import gpg, haproxy
from .common import BACKEND, Fail, info, ip, write
from .lb import start_haproxy, wait_haproxy
from .lifecycle import boot_host, wait_for_ssh
from .procs import alive, all_pids, enter_netns, host_memory, list_netns, netns_inode, read_pid
from .state import Testbed


def link_up(tb, h):
    out = ip("-o", "link", "show", h["veth"], ns=tb.lab, check=False).stdout
    return bool(re.search(r"<[^>]*\bUP\b", out))


def cmd_status(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    mem = host_memory(tb, cfg)
    lb = {}
    if cfg["lb"] and tb.lab in list_netns():
        try:
            lb = haproxy.server_states(tb.haproxy_socket, BACKEND)
        except OSError as e:
            lb = {"error": str(e)}
    hosts = [{"name": h["name"], "ip": h["ip"], "group": h["group"],
              "power": "on" if read_pid(tb, h["name"]) else "off",
              "link": "up" if link_up(tb, h) else "down",
              "memory_kib": mem[h["name"]], "haproxy": lb.get(h["name"])} for h in cfg["hosts"]]
    total = sum(mem.values())
    status = {"name": tb.name, "dir": str(tb.dir), "phase": cfg["phase"], "rootfs": cfg["rootfs"],
              "hosts": hosts, "memory_kib_per_host": round(total / len(hosts)),
              "memory_kib_total": total, "env": tb.env(cfg)}
    if args.json:
        print(json.dumps(status, indent=2))
        return
    print(f"testbed {tb.name} ({cfg['phase']}), state in {tb.dir}")
    for h in hosts:
        lbs = f"  haproxy {h['haproxy']}" if cfg["lb"] else ""
        print(f"  {h['name']:<5} {h['ip']:<14} {h['group']:<10} power {h['power']:<3}  "
              f"link {h['link']:<4}  {h['memory_kib'] / 1024:5.1f} MiB{lbs}")
    print(f"  memory: {total / len(hosts) / 1024:.1f} MiB per host, {total / 1024:.0f} MiB in all")
    for k, v in status["env"].items():
        print(f"  {k}={v}")


# ---------------------------------------------------------------------------------------------
# exec, run, publish

def cmd_exec(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    h = tb.host(cfg, args.host)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise Fail("exec: no command given", 2)
    enter_netns(tb.lab)
    os.execvp("ssh", ["ssh", "-F", str(tb.ssh_config), h["name"], shlex.join(command)])


def cmd_run(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise Fail("run: no command given (scripts/testbed run -- CMD...)", 2)
    enter_netns(tb.lab)
    os.environ.update(tb.env(cfg))
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        raise Fail(f"run: {command[0]}: command not found", 127) from None


def cmd_publish(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    debs = [str(Path(d).resolve()) for d in args.debs]
    r = subprocess.run([cfg["publish_repo"], "add", "--repo", str(tb.repo), "--suite", args.suite,
                        "--sign-key", cfg["sign_key"]] + debs,
                       env=dict(os.environ, GNUPGHOME=str(tb.gnupg)))
    gpg.stop_agent(tb.gnupg)
    if r.returncode != 0:
        raise Fail(f"publish-repo add exited {r.returncode}", r.returncode)


# ---------------------------------------------------------------------------------------------
# faults

def stop_host(tb, h):
    """Power off: SIGKILL every process in the host (its init first, taking its pid namespace
    with it), then wait for systemd-nspawn to notice and exit."""
    inode = netns_inode(f"/run/netns/{h['netns']}")
    nspawn = read_pid(tb, h["name"])
    for pid in all_pids():
        if netns_inode(f"/proc/{pid}/ns/net") == inode:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    while nspawn and alive(nspawn) and time.monotonic() < deadline:
        time.sleep(0.05)
    if nspawn and alive(nspawn):
        os.kill(nspawn, signal.SIGKILL)


def cmd_kill_host(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    h = tb.host(cfg, args.host)
    ip("link", "set", h["veth"], "down", ns=tb.lab)  # a powered-off host answers nothing, not even RST
    stop_host(tb, h)
    info(f"{h['name']} is powered off (heal-host {h['name']} boots it again)")


def cmd_cut_host(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    h = tb.host(cfg, args.host)
    ip("link", "set", h["veth"], "down", ns=tb.lab)
    info(f"{h['name']}'s link is down (heal-host {h['name']} restores it)")


def cmd_heal_host(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    h = tb.host(cfg, args.host)
    started = time.monotonic()
    enter_netns(tb.lab)
    ip("link", "set", h["veth"], "up", ns=tb.lab)
    if read_pid(tb, h["name"]) is None:
        stop_host(tb, h)  # nothing of an earlier boot may remain
        boot_host(tb, cfg, h)
    wait_for_ssh(tb, cfg, [h], args.timeout, started)
    info(f"{h['name']} answers ssh ({time.monotonic() - started:.1f} s)")


def cmd_reload_lb(args):
    """Reload HAProxy keeping server states: a reload without the server-state file puts drained
    servers back."""
    tb = Testbed(args.name)
    cfg = tb.config()
    if not cfg["lb"]:
        raise Fail(f"testbed {tb.name} has no HAProxy (up --lb)", 2)
    old = read_pid(tb, "haproxy")
    write(tb.haproxy_dir / "server-state", haproxy.command(tb.haproxy_socket, "show servers state"))
    start_haproxy(tb, ["-sf", str(old)] if old else [])  # the new process tells the old to finish
    deadline = time.monotonic() + 10
    while old and alive(old) and time.monotonic() < deadline:
        time.sleep(0.05)
    wait_haproxy(tb)
    info("HAProxy reloaded (server states kept through the server-state file)")


# ---------------------------------------------------------------------------------------------
# load

def cmd_load(args):
    tb = Testbed(args.name)
    cfg = tb.config()
    url = args.url or cfg.get("lb_url")
    if not url:
        raise Fail("load: this testbed has no HAProxy (up --lb); give --url", 2)
    m = re.fullmatch(r"http://([^/:]+)(?::(\d+))?(/.*)?", url)
    if not m:
        raise Fail(f"load: --url {url!r} is not http://HOST[:PORT][/PATH]", 2)
    host, port, path = m.group(1), int(m.group(2) or 80), m.group(3) or "/"
    if args.rate <= 0 or args.duration <= 0:
        raise Fail("load: --rate and --duration must be positive", 2)
    enter_netns(tb.lab)
    counts = {"ok": 0, "status": 0, "connection": 0, "timeout": 0}
    statuses, servers, errors = {}, {}, {}
    lock = threading.Lock()

    def one():
        kind, server, code, error = "ok", None, None, None
        conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            r = conn.getresponse()
            r.read()
            code, server = r.status, r.getheader("X-Testbed-Server")
            if not 200 <= r.status < 300:
                kind = "status"
        except (TimeoutError, socket.timeout) as e:
            kind, error = "timeout", repr(e)
        except (OSError, http.client.HTTPException) as e:
            kind, error = "connection", repr(e)
        finally:
            conn.close()
        with lock:
            counts[kind] += 1
            if code is not None:
                statuses[str(code)] = statuses.get(str(code), 0) + 1
            if server:
                servers[server] = servers.get(server, 0) + 1
            if error and len(errors) < 5:
                errors[error] = errors.get(error, 0) + 1

    total = max(1, round(args.rate * args.duration))
    workers = min(200, int(args.rate * args.timeout) + 8)
    start = time.monotonic()
    late = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for k in range(total):
            if args.stop_file and os.path.exists(args.stop_file):
                total = k
                break
            delay = start + k / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                late += 1
            pool.submit(one)
    wall = time.monotonic() - start
    failed = counts["status"] + counts["connection"] + counts["timeout"]
    print(json.dumps({
        "url": url, "rate": args.rate, "duration_s": args.duration, "wall_s": round(wall, 3),
        "requests": total, "ok": counts["ok"], "failed": failed,
        "failures": {k: counts[k] for k in ("status", "connection", "timeout")},
        "statuses": statuses, "servers": dict(sorted(servers.items())),
        "sent_late": late, "errors": errors}, indent=2))
    if args.fail_on_error and failed:
        sys.exit(1)
