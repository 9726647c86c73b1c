#!/usr/bin/env bash
# Prepares (setup) or recreates (reset) one student's share of a workshop appliance: the
# account student<N> with the password from stdin, then the workshop's appliance script.
# usage: appliance-student.sh setup|reset --slot N --script PATH [--port NAME=PORT]...  <password
# The script runs as root as `bash PATH setup|reset` with STDID, USERNAME and PORT_<NAME>
# in its environment and the password on its stdin. reset first stops the student's
# processes and wipes their home, so the script starts from a clean account.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

action=${1:-}
[[ $action == setup || $action == reset ]] || die "first argument must be setup or reset"
shift
slot='' script='' ports=()
while (($#)); do
  case $1 in
    --slot) slot=$2 ;;
    --script) script=$2 ;;
    --port)
      [[ $2 =~ ^([A-Za-z0-9_]+)=([0-9]+)$ ]] || die "--port must be NAME=PORT, got '$2'"
      ports+=("PORT_${BASH_REMATCH[1]^^}=${BASH_REMATCH[2]}") ;;
    *) die "unknown flag $1" ;;
  esac
  shift 2
done
need_int slot "$slot"
[[ $script == /* && -f $script ]] || die "--script must be an existing absolute path, got '$script'"
password=$(read_secret)

user="student$slot" home="$WOD_HOMES/student$slot"
getent group students >/dev/null || groupadd students
getent passwd "$user" >/dev/null || useradd -M -d "$home" -G students -s /bin/bash "$user"
mkdir -p "$home"
if [[ $action == reset ]]; then
  usermod -L "$user"
  kill_user_processes "$user"
  wipe_home "$home"
fi
if [[ -z $(ls -A "$home") ]]; then cp -a /etc/skel/. "$home/"; fi
chown -R "$user:" "$home" && chmod 0700 "$home"
printf '%s:%s\n' "$user" "$password" | chpasswd

printf '%s\n' "$password" |
  env STDID="$slot" USERNAME="$user" "${ports[@]}" bash "$script" "$action"
log "$action done for $user"
