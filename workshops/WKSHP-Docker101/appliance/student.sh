#!/usr/bin/env bash
# Per student: called as `student.sh setup|reset <username> <slot>` with the password on stdin.
set -euo pipefail
action=$1 user=$2
case "$action" in
  setup) id "$user" >/dev/null 2>&1 || useradd -m -G docker "$user"; chpasswd <<<"$user:$(head -n1)" ;;
  reset) pkill -u "$user" || true; docker ps -q --filter "label=wod.user=$user" | xargs -r docker rm -f; userdel -r "$user" 2>/dev/null || true ;;
esac
