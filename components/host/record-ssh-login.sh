#!/usr/bin/env bash
# pam_exec session hook of student servers (see install-login-monitor.sh): a login with the
# learner's key — on whatever account, DigitalOcean puts it on root — becomes the single line of
# /var/lib/wod/last-ssh-login. Logins with any other key (the admins', the platform's) do not
# count. sshd hands PAM the key it accepted in SSH_AUTH_INFO_0 ("publickey TYPE BASE64").
# Never fails a login.
set -uo pipefail
[[ ${PAM_TYPE:-} == open_session ]] || exit 0
etc=${WOD_ETC:-/etc/wod} dir=${WOD_VAR:-/var/lib/wod}
read -r type blob _ <"$etc/learner-key" 2>/dev/null || exit 0
while read -r method ktype kblob _; do
  if [[ $method == publickey && $ktype == "$type" && $kblob == "$blob" ]]; then
    date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/last-ssh-login.tmp.$$" && mv -f "$dir/last-ssh-login.tmp.$$" "$dir/last-ssh-login"
    break
  fi
done <<<"${SSH_AUTH_INFO_0:-}"
exit 0
