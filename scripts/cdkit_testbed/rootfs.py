"""The hosts' shared Debian 12 root file system, built once per package list and recipe
with mmdebstrap and cached.
"""

import fcntl
import glob
import hashlib
import inspect
import json
import os
import shutil
import subprocess
from pathlib import Path

from .common import CACHE, MIRROR, PACKAGES, SUITE, Fail, info, write

# ---------------------------------------------------------------------------------------------
# The root file system, built once per package list and recipe.

def customize_rootfs(root):
    """Make the generic image testbed-ready; per-host files go into each host's upper dir."""
    for key in glob.glob(f"{root}/etc/ssh/ssh_host_*"):
        os.unlink(key)  # every host gets its own key and certificate
    write(f"{root}/etc/apt/sources.list",
          "# Hosts cannot reach Debian's mirror; see sources.list.d/cdkit-testbed.list.\n")
    # /etc/hostname comes per host. /etc/machine-id stays as mmdebstrap left it (empty: nspawn
    # provides one); a missing file would make systemd run its interactive first-boot wizard.
    Path(root, "etc/hostname").unlink(missing_ok=True)
    # Units a test host does not need: timers that would touch apt/dpkg during a test, gettys,
    # logind (nothing uses sessions). Masked = symlinked to /dev/null.
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
                 "fstrim.timer", "e2scrub_all.timer", "console-getty.service",
                 "getty@tty1.service", "systemd-logind.service", "systemd-pstore.service",
                 "systemd-firstboot.service"):
        link = Path(root, "etc/systemd/system", unit)
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    for wants in glob.glob(f"{root}/etc/systemd/system/*.wants/getty@tty1.service"):
        os.unlink(wants)
    write(f"{root}/etc/ssh/sshd_config.d/cdkit-testbed.conf", (
        "# cdkit testbed: a per-host key with a certificate from the testbed's host CA,\n"
        "# keys only, and room for many concurrent connection starts (MaxStartups).\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
        "MaxStartups 100:30:200\n"
        "MaxSessions 50\n"))
    write(f"{root}/etc/systemd/journald.conf.d/cdkit-testbed.conf",
          "[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n")


def rootfs_path():
    recipe = json.dumps({"suite": SUITE, "packages": sorted(PACKAGES),
                         "customize": inspect.getsource(customize_rootfs)}, sort_keys=True)
    return CACHE / hashlib.sha256(recipe.encode()).hexdigest()[:16]


def ensure_rootfs():
    """The cached root file system, built with mmdebstrap under a lock if missing (~1 min).
    It is complete iff its directory exists: it is renamed into place as the last step."""
    path = rootfs_path()
    if path.is_dir():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_dir():
            return path
        tmp = CACHE / f".{path.name}.tmp"
        log = CACHE / f"{path.name}.log"
        shutil.rmtree(tmp, ignore_errors=True)
        info(f"building the Debian 12 root file system in {path} (once; about a minute)")
        with open(log, "w") as out:
            r = subprocess.run(["mmdebstrap", "--variant=apt", "--mode=root",
                                "--include=" + ",".join(PACKAGES), SUITE, str(tmp), MIRROR],
                               stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            last = log.read_text().strip().splitlines()[-1:] or ["no output"]
            raise Fail(f"mmdebstrap failed (exit {r.returncode}): {last[0]} (log: {log})")
        customize_rootfs(tmp)
        os.rename(tmp, path)
        return path
