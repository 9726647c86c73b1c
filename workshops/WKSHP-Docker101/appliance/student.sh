#!/usr/bin/env bash
# Per student, run by appliance-student.sh as `student.sh setup|reset` with STDID, USERNAME and
# PORT_WEB / PORT_SSH in the environment and the password on stdin; the account already exists.
set -euo pipefail
case "$1" in
  setup) usermod -aG docker "$USERNAME" ;;
  reset) docker ps -aq --filter "label=wod.user=$USERNAME" | xargs -r docker rm -f ;;
esac
