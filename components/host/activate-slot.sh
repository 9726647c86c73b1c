#!/usr/bin/env bash
# Gives a slot to a registration: password from stdin, fresh home with the workshop rendered
# for this learner, 0-ReadMeFirst.ipynb first, and the learner's server started by the hub.
# usage: activate-slot.sh --registration ID --slot N --uid-offset O --workshop-dir DIR
#                         [--var KEY=VALUE]...  <password
# Re-running for the same registration keeps the learner's work once activation completed;
# an interrupted activation starts over. A slot still held by another registration is
# released (archived, recorded) first, so the order of release and activation never matters.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

registration='' slot='' offset='' workshop_dir='' vars=()
while (($#)); do
  case $1 in
    --registration) registration=$2 ;;
    --slot) slot=$2 ;;
    --uid-offset) offset=$2 ;;
    --workshop-dir) workshop_dir=${2%/} ;;
    --var)
      [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--var must be KEY=VALUE, got '$2'"
      [[ ${2%%=*} != PASSSTU ]] || die "PASSSTU comes from stdin, never from a flag"
      vars+=(--var "$2") ;;
    *) die "unknown flag $1" ;;
  esac
  shift 2
done
need_id registration "$registration"; need_int slot "$slot"; need_int uid-offset "$offset"
[[ $workshop_dir =~ ^/[A-Za-z0-9._/-]+$ && -d $workshop_dir ]] || die "--workshop-dir must be an existing absolute path, got '$workshop_dir'"
# The folder is /opt/wod/workshops/<WKSHP-Name>/<contentHash>: the name is the WKSHP- part.
workshop=$(basename "$workshop_dir")
[[ $workshop == WKSHP-* ]] || workshop=$(basename "$(dirname "$workshop_dir")")
[[ $workshop == WKSHP-* ]] || die "--workshop-dir must be (inside) a WKSHP-<Name> folder"
password=$(read_secret)

user="student$slot" uid=$((slot + offset)) home="$WOD_HOMES/student$slot"
state=$(slot_state_file "$user")
ensure_slot_user "$slot" "$offset"

held_by=$(json_field "$state" registration)
if [[ -n $held_by && $held_by != "$registration" ]]; then
  log "slot $slot is still held by registration $held_by: releasing it first"
  "$WOD_BIN/release-slot.sh" --registration "$held_by" --slot "$slot" --uid-offset "$offset" >&2
fi

if [[ $held_by == "$registration" && $(json_field "$state" status) == active ]]; then
  # Even if the workshop's content changed since: new content is for new registrations.
  log "slot $slot already active for $registration: keeping the learner's files"
else
  # Recorded before touching the home, so an interrupted run is recognised and redone.
  printf '{"registration":"%s","slot":%d,"user":"%s","workshop":"%s","workshopDir":"%s","status":"activating"}\n' \
    "$registration" "$slot" "$user" "$workshop" "$workshop_dir" | write_atomic "$state"
  usermod -L "$user" # no logins while the home is rebuilt
  hub stop "$user"
  kill_user_processes "$user"
  wipe_home "$home"
  cp -a /etc/skel/. "$home/" # copies skel's own mode too: hence the chmod
  chown -R "$uid:$uid" "$home" && chmod 0700 "$home"
  printf '%s\n' "$password" | python3 "$WOD_BIN/render-workshop.py" --src "$workshop_dir" \
    --dest "$home/$workshop" --owner "$uid:$uid" --var "STDID=$slot" --var "USERNAME=$user" \
    --var "WORKSHOP=$workshop" "${vars[@]}"
fi

# chpasswd reads the secret from stdin; printf is a builtin, so no process shows it.
# The new hash replaces the locked one ('!…'); clearing the expiry date lets PAM accept it.
printf '%s:%s\n' "$user" "$password" | chpasswd
usermod -e '' "$user"
hub start "$user"
sed 's/"status":"activating"/"status":"active"/' "$state" | write_atomic "$state"
log "slot $slot active for registration $registration ($workshop)"
