#!/usr/bin/env bash
# Student servers: records each login made with the learner's key in /var/lib/wod/last-ssh-login
# (one ISO-8601 UTC line, e.g. 2025-05-20T14:03:00Z), which the reconcile job reads to judge
# idleness. A PAM session hook does it (record-ssh-login.sh), so it works with or without
# syslog and systemd, and whichever account the key logs in to.
# usage: install-login-monitor.sh        (the learner's public key in /etc/wod/learner-key)
# Standalone (cloud-init writes it with record-ssh-login.sh and runs it at first boot).
set -euo pipefail
die() { echo "install-login-monitor.sh: error: $*" >&2; exit 1; }
(($# == 0)) || die "takes no arguments"
bin=$(cd "$(dirname "$0")" && pwd) etc=${WOD_ETC:-/etc/wod} var=${WOD_VAR:-/var/lib/wod}

read -r type blob _ <"$etc/learner-key" || die "$etc/learner-key is missing: it holds the learner's public key"
[[ $type == ssh-* || $type == ecdsa-* || $type == sk-* ]] && [[ $blob =~ ^[A-Za-z0-9+/]+=*$ ]] \
  || die "$etc/learner-key does not hold an OpenSSH public key"
install -d -m 0755 "$var"
chmod 0755 "$bin/record-ssh-login.sh" # pam_exec runs it directly, whatever copied it here
line="session optional pam_exec.so quiet $bin/record-ssh-login.sh"
grep -qxF "$line" /etc/pam.d/sshd || echo "$line" >>/etc/pam.d/sshd
if grep -qE '^\s*UsePAM\s+no' /etc/ssh/sshd_config; then die "sshd has UsePAM no: logins cannot be recorded"; fi
echo "install-login-monitor.sh: logins with the learner's key are recorded in $var/last-ssh-login" >&2
