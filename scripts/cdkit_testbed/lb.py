"""The testbed's HAProxy: its configuration, start and readiness (the admin-socket client is
cdkit_testbed.haproxy, shared with the benchmarks).
"""

import time

from . import haproxy
from .common import BACKEND, LB_PORT, SERVICE_PORT, Fail, run
from .procs import spawn


def haproxy_config(tb, cfg):
    servers = "".join(f"    server {h['name']} {h['ip']}:{SERVICE_PORT}\n" for h in cfg["hosts"])
    return (
        f"# cdkit testbed {tb.name}: HAProxy on the lab's loopback.\n"
        "global\n"
        f"    stats socket {tb.haproxy_socket} mode 600 level admin expose-fd listeners\n"
        "    stats timeout 30s\n"
        f"    server-state-file {tb.haproxy_dir / 'server-state'}\n"
        "defaults\n"
        "    mode http\n"
        "    timeout connect 2s\n"
        "    timeout client 30s\n"
        "    timeout server 30s\n"
        "    load-server-state-from-file global\n"
        f"frontend fe_hello\n    bind 127.0.0.1:{LB_PORT}\n    default_backend {BACKEND}\n"
        f"backend {BACKEND}\n"
        "    balance roundrobin\n"
        "    option httpchk GET /health\n"
        "    http-check expect status 200\n"
        "    # which host answered, for `load`'s per-server counts\n"
        "    http-response set-header X-Testbed-Server %s\n"
        "    default-server check inter 1s fall 2 rise 2\n" + servers)


def start_haproxy(tb, extra=()):
    cfg_file = str(tb.haproxy_dir / "haproxy.cfg")
    run(["haproxy", "-c", "-q", "-f", cfg_file])
    spawn(tb, "haproxy", ["haproxy", "-db", "-f", cfg_file] + list(extra),
          tb.haproxy_dir / "haproxy.log")


def wait_haproxy(tb, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if haproxy.server_states(tb.haproxy_socket, BACKEND):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Fail(f"HAProxy's admin socket did not answer (see {tb.haproxy_dir}/haproxy.log)")
        time.sleep(0.1)
