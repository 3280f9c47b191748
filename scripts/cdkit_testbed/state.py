"""A testbed's names and files (state directory, namespaces, keys, inventory) and the host
numbering and grouping rules.
"""

import json
import math
import re

from .common import BACKEND, STATE_ROOT, Fail, write

# ---------------------------------------------------------------------------------------------
# The testbed's names and files.

class Testbed:
    def __init__(self, name):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,19}", name):
            raise Fail(f"bad testbed name {name!r}: 1-20 of a-z, 0-9 and '-'", 2)
        self.name = name
        self.dir = STATE_ROOT / name
        # '_' cannot occur in a name, so this prefix never matches another testbed's namespaces.
        self.prefix = f"cdtb_{name}_"
        self.lab = f"{self.prefix}lab"
        self.config_path = self.dir / "config.json"
        self.ssh_config = self.dir / "ssh_config"
        self.inventory = self.dir / "inventory.ini"
        self.known_hosts = self.dir / "known_hosts"
        self.client_key = self.dir / "ssh" / "client_key"
        self.gnupg = self.dir / "gnupg"
        self.keyring = self.dir / "cdkit-testbed.gpg"
        self.repo = self.dir / "repo"
        self.haproxy_dir = self.dir / "haproxy"
        self.haproxy_socket = self.haproxy_dir / "admin.sock"

    def config(self):
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise Fail(f"testbed {self.name} is not up (no {self.config_path}); "
                       f"start it with `scripts/testbed up -n N --name {self.name}`") from None

    def save(self, cfg):
        write(self.config_path, json.dumps(cfg, indent=2) + "\n")

    def host(self, cfg, ref):
        """A host by name (h3), number (3) or address."""
        for h in cfg["hosts"]:
            if ref in (h["name"], str(h["index"]), h["ip"]):
                return h
        raise Fail(f"no host {ref!r} in testbed {self.name} (h1..h{len(cfg['hosts'])})", 2)

    def host_dir(self, h):
        return self.dir / "hosts" / h["name"]

    def env(self, cfg):
        """The variables `run` exports (also written to DIR/env for shells)."""
        env = {
            "CDKIT_TESTBED": self.name,
            "CDKIT_TESTBED_DIR": str(self.dir),
            "CDKIT_TESTBED_INVENTORY": str(self.inventory),
            "CDKIT_TESTBED_SSH_CONFIG": str(self.ssh_config),
            "CDKIT_TESTBED_KNOWN_HOSTS": str(self.known_hosts),
            "CDKIT_TESTBED_SSH_KEY": str(self.client_key),
            "CDKIT_TESTBED_HOSTS": " ".join(h["name"] for h in cfg["hosts"]),
            "CDKIT_TESTBED_REPO": str(self.repo),
            "CDKIT_TESTBED_REPO_URL": cfg["repo_url"],
            "CDKIT_TESTBED_KEYRING": str(self.keyring),
            "CDKIT_TESTBED_SIGN_KEY": cfg["sign_key"],
            "CDKIT_TESTBED_PUBLISH_REPO": cfg["publish_repo"],
            "GNUPGHOME": str(self.gnupg),
            "PUBLISH_REPO_DIR": str(self.repo),
            "PUBLISH_REPO_SIGN_KEY": cfg["sign_key"],
        }
        if cfg["lb"]:
            env.update({
                "CDKIT_TESTBED_HAPROXY_SOCKET": str(self.haproxy_socket),
                "CDKIT_TESTBED_HAPROXY_BACKEND": BACKEND,
                "CDKIT_TESTBED_LB_URL": cfg["lb_url"],
            })
        return env


def host_ip(i):
    return f"10.213.{i // 200}.{i % 200 + 10}"


def testing_count(n):
    return n if n < 2 else min(n - 1, math.ceil(n * 0.6))
