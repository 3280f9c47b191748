#!/bin/sh
# A dynamic inventory without _meta: Ansible asks --host for each host's variables.
case "$1" in
--list)
  echo '{"app": {"hosts": ["nm1", "nm2"]}, "all": {"vars": {"ansible_port": 2022}}}'
  ;;
--host)
  case "$2" in
  nm1) echo '{"ansible_host": "192.0.2.231", "ansible_user": "scripted"}' ;;
  *) echo '{}' ;;
  esac
  ;;
*)
  exit 1
  ;;
esac
