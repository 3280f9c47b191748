#!/usr/bin/env python3
"""Unit tests of hello-service, printing TAP 13 (run them with run-tests)."""
import importlib.machinery
import importlib.util
import json
import os
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader("hello", os.path.join(HERE, "..", "hello-service"))
spec = importlib.util.spec_from_loader("hello", loader)
hello = importlib.util.module_from_spec(spec)
loader.exec_module(hello)

server = hello.serve("127.0.0.1", 0)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()


def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


tests = []


def test(fn):
    tests.append(fn)
    return fn


@test
def root_says_hello():
    status, body = get("/")
    assert status == 200 and body.startswith("hello from hello-service"), (status, body)


@test
def health_reports_the_version():
    status, body = get("/health")
    assert status == 200, status
    assert json.loads(body) == {"status": "ok", "version": hello.VERSION}, body


@test
def version_reports_the_version():
    assert get("/version") == (200, hello.VERSION + "\n")


@test
def unknown_paths_are_404():
    assert get("/nope")[0] == 404
    assert get("/slow/x")[0] == 404


@test
def slow_answers_after_the_wait():
    assert get("/slow/0") == (200, "slept\n")


def stderr_of(action):
    """What the service wrote on stderr (its journal, under systemd) during `action`."""
    import io
    import sys
    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        action()
        return sys.stderr.getvalue()
    finally:
        sys.stderr = saved


@test
def log_writes_numbered_lines():
    out = stderr_of(lambda: get("/log/during-7/3"))
    lines = [line for line in out.splitlines() if line.startswith("<6>during-7")]
    assert lines == ["<6>during-7 line %d of 3" % i for i in (1, 2, 3)], out


@test
def a_missing_setting_breaks_health_and_says_why():
    import tempfile
    with tempfile.TemporaryDirectory() as data:
        with open(os.path.join(data, "broken-health"), "w") as f:
            f.write("HELLO_GREETING\n")
        saved = hello.DATA
        hello.DATA = data
        try:
            assert hello.missing_config() == \
                "config: missing key HELLO_GREETING in /etc/default/hello-service"
            os.environ["HELLO_GREETING"] = "hi"
            assert hello.missing_config() is None
        finally:
            hello.DATA = saved
            os.environ.pop("HELLO_GREETING", None)
    hello.BROKEN = "config: missing key HELLO_GREETING in /etc/default/hello-service"
    try:
        out = stderr_of(lambda: get("/health"))
        assert get("/health")[0] == 503
    finally:
        hello.BROKEN = None
    assert "<3>health: failing: config: missing key HELLO_GREETING" in out, out


print("TAP version 13")
print("1..%d" % len(tests))
failed = 0
for n, fn in enumerate(tests, 1):
    try:
        fn()
        print("ok %d - %s" % (n, fn.__name__))
    except Exception as e:  # report every failure, keep going
        failed += 1
        print("not ok %d - %s" % (n, fn.__name__))
        print("  ---\n  message: %s\n  ..." % json.dumps(repr(e)))
server.shutdown()
raise SystemExit(1 if failed else 0)
