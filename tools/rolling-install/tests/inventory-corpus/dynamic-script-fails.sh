#!/bin/sh
# A dynamic inventory that fails: Ansible must not run with an empty inventory.
echo "cloud API unreachable" >&2
exit 3
