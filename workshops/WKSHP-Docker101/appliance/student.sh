#!/usr/bin/env bash
# One student's share of the Docker appliance. Run as root by sync-appliance.py:
#   bash student.sh setup|reset|release
# with STDID, USERNAME, PORT_HTTP and PORT_SSH in the environment, WOD_VALUES (a file for the
# KEY=VALUE lines of values a workshop declares in appliance.produces; this one declares none) and
# the password on stdin (the account and its password already exist). The student never joins the
# docker group, which is root on this machine: they get a rootless engine running as themselves,
# and the system's sshd on their own PORT_SSH, open to them only.
set -euo pipefail
action=${1:?usage: student.sh setup|reset|release}
read -r _password || true # on stdin by contract; the account already has it

uid=$(id -u "$USERNAME")
home=$(getent passwd "$USERNAME" | cut -d: -f6)
run=/run/user/$uid
sshd_pid=/run/wod-sshd-$USERNAME.pid
rootless=$(command -v dockerd-rootless.sh || echo /usr/share/docker.io/contrib/dockerd-rootless.sh)

stop() {
  if [[ -f $sshd_pid ]]; then kill "$(cat "$sshd_pid")" 2>/dev/null || true; rm -f "$sshd_pid"; fi
  pkill -KILL -u "$USERNAME" 2>/dev/null || true # the student's engine, containers and sessions
  rm -rf "$run"
}

start() {
  # Subordinate ids for the engine's user namespace: 65536 per slot, never shared between slots.
  local first=$((100000 + STDID * 65536))
  grep -q "^$USERNAME:" /etc/subuid || echo "$USERNAME:$first:65536" >>/etc/subuid
  grep -q "^$USERNAME:" /etc/subgid || echo "$USERNAME:$first:65536" >>/etc/subgid
  install -d -m 0700 -o "$USERNAME" -g "$USERNAME" "$run"
  # First line of .bashrc, before Debian's non-interactive return, so `ssh … docker ps` works too.
  local env_line="export XDG_RUNTIME_DIR=$run DOCKER_HOST=unix://$run/docker.sock"
  touch "$home/.bashrc" && chown "$USERNAME:" "$home/.bashrc"
  grep -qxF "$env_line" "$home/.bashrc" || sed -i "1i $env_line" "$home/.bashrc"
  if [[ ! -S $run/docker.sock ]]; then
    runuser -u "$USERNAME" -- env -i HOME="$home" XDG_RUNTIME_DIR="$run" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
      setsid "$rootless" >"$run/dockerd.log" 2>&1 </dev/null &
  fi
  if ! { [[ -f $sshd_pid ]] && kill -0 "$(cat "$sshd_pid")" 2>/dev/null; }; then
    /usr/sbin/sshd -p "$PORT_SSH" -o "AllowUsers=$USERNAME" -o "PidFile=$sshd_pid" -o PasswordAuthentication=yes
  fi
}

case $action in
  setup) start ;;
  reset) stop; start ;;
  release) stop ;;
  *) echo "student.sh: unknown action $action (setup, reset or release)" >&2; exit 2 ;;
esac
