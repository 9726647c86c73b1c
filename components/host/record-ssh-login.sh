#!/usr/bin/env bash
# Called by pam_exec for sshd sessions (see install-login-monitor.sh): a learner's login
# time becomes the single line of /var/lib/wod/last-ssh-login. Never fails a login.
set -uo pipefail
[[ ${PAM_TYPE:-} == open_session && ${PAM_USER:-root} != root ]] || exit 0
dir=${WOD_VAR:-/var/lib/wod}
date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/last-ssh-login.tmp.$$" && mv -f "$dir/last-ssh-login.tmp.$$" "$dir/last-ssh-login"
exit 0
