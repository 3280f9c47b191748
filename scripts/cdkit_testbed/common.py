"""Constants, errors and small helpers every part of the testbed uses: the one-line failure
(`Fail`), running a command with its last error line, atomic file writes, durations.
"""

import argparse
import datetime
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

# The root file system: Debian 12 with a real init, sshd, apt and what the sample service needs
# (python3). Hosts cannot reach deb.debian.org, so every dependency must already be here.
SUITE = "bookworm"
MIRROR = os.environ.get("CDKIT_TESTBED_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ["apt", "curl", "dbus", "iproute2", "openssh-server", "procps", "python3",
            "python3-minimal", "systemd", "systemd-sysv"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cdkit" / "rootfs"
STATE_ROOT = Path(os.environ.get("CDKIT_TESTBED_ROOT", "/run/cdkit-testbed"))
# Saved fs.inotify.max_user_instances, shared by every testbed on the machine.
INOTIFY_SAVED = Path("/run/cdkit-testbed.inotify-max-user-instances")
INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")

BRIDGE_ADDR = "10.213.255.254"
REPO_PORT = 8099
LB_PORT = 8000
SERVICE_PORT = 8080
BACKEND = "be_hello"
CLONE_NEWNET = 0x40000000


class Fail(Exception):
    """A failure the user sees as one line: `testbed: <message>`, then exit `code`."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.code = 128 + signum


def info(message, level="INFO"):
    """One line on stderr: `testbed: message`, or with CDKIT_LOG_FORMAT=json a JSON object with
    the fields every cdkit tool writes. With CDKIT_LOG_FILE (a pipeline's central log) the JSON
    object is also appended there, as the tools do, so that log stays pure JSON lines."""
    now = datetime.datetime.now(datetime.timezone.utc)
    record = json.dumps({
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "level": level,
        "tool": "testbed",
        "run_id": os.environ.get("CDKIT_RUN_ID", ""),
        "message": message,
    }, separators=(",", ":"))
    if os.environ.get("CDKIT_LOG_FORMAT") == "json":
        print(record, file=sys.stderr, flush=True)
    else:
        print(f"testbed: {message}", file=sys.stderr, flush=True)
    path = os.environ.get("CDKIT_LOG_FILE")
    if path:
        try:  # one write with O_APPEND: whole lines, also beside the tools writing there
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, (record + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            print(f"testbed: cannot append to the log file {path}: {e}", file=sys.stderr, flush=True)


def error(message):
    """A failure's one line (see `info`)."""
    info(message, level="ERROR")


def run(cmd, *, check=True, input=None, env=None, timeout=None):
    """Run a command, capturing its output; a failure names the command and its last error line."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, input=input, env=env,
                           timeout=timeout)
    except FileNotFoundError:
        raise Fail(f"{cmd[0]} is not installed (see scripts/testbed --help for the packages)") from None
    except subprocess.TimeoutExpired:
        raise Fail(f"`{shlex.join(cmd)[:120]}` did not finish within {timeout} s") from None
    if check and r.returncode != 0:
        lines = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()
        raise Fail(f"`{shlex.join(cmd)[:120]}` failed (exit {r.returncode}): {lines[-1]}")
    return r


def ip(*args, ns=None, check=True):
    return run(["ip"] + (["-n", ns] if ns else []) + list(args), check=check)


def write(path, text, mode=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def parse_duration(text):
    """`500ms`, `10s`, `2m`, `1h` or plain seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 500ms, 10s, 2m)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
