#!/usr/bin/env python3
"""A dynamic inventory: --list prints groups and _meta.hostvars, --host prints {}."""
import json
import sys

INVENTORY = {
    "_meta": {
        "hostvars": {
            "dyn-web-1": {"ansible_host": "192.0.2.221", "ansible_port": 2221},
            "dyn-web-2": {"ansible_host": "192.0.2.222", "ansible_user": "cloud"},
            "dyn-db-1": {"ansible_host": "192.0.2.223"},
        }
    },
    "all": {"vars": {"ansible_user": "dyn"}},
    "web": {"hosts": ["dyn-web-2", "dyn-web-1"], "vars": {"tier": "front"}},
    "db": {"hosts": ["dyn-db-1"]},
    "prod": {"children": ["web", "db"], "vars": {"ansible_ssh_common_args": "-o ProxyJump=bh"}},
    "legacy": ["dyn-old-1"],
}

if len(sys.argv) > 1 and sys.argv[1] == "--host":
    print("{}")
else:
    print(json.dumps(INVENTORY))
