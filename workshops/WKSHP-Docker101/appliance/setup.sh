#!/usr/bin/env bash
# Runs once on the appliance, as root: a Docker engine per student, rootless (each engine runs as
# its student, so no student ever gets root here), reached through the student's own SSH port.
# The system-wide engine stays off: its socket (the docker group) would be root on this machine.
# (Like every *.sh of a workshop folder, this file is also a template in the students' copy:
# no Jinja delimiters in it.)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in docker.io rootlesskit slirp4netns uidmap dbus-user-session; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ -n ${missing[*]:-} ]]; then apt-get update -q && apt-get install -yq --no-install-recommends "${missing[@]}"; fi
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl disable --now docker.service docker.socket 2>/dev/null || true
fi
