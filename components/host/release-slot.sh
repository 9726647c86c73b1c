#!/usr/bin/env bash
# Takes a slot back from a registration: locks the account, stops the learner's server,
# kills their processes, records the completion ratio, archives the home, wipes it.
# usage: release-slot.sh --registration ID --slot N --uid-offset O
# Prints the release record (one JSON line), also kept in /var/lib/wod/released/ID.json.
# Safe to re-run: a finished release prints its record again; an interrupted one resumes
# after the archive it already made, never archiving an already wiped home.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

registration='' slot='' offset=''
while (($#)); do
  case $1 in
    --registration) registration=$2 ;;
    --slot) slot=$2 ;;
    --uid-offset) offset=$2 ;;
    *) die "unknown flag $1" ;;
  esac
  shift 2
done
need_id registration "$registration"; need_int slot "$slot"; need_int uid-offset "$offset"

user="student$slot" home="$WOD_HOMES/student$slot"
state=$(slot_state_file "$user")
record="$WOD_VAR/released/$registration.json"
archive="$WOD_VAR/archive/$registration.tar.gz"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [[ -f $record ]]; then cat "$record"; exit 0; fi

if [[ $(json_field "$state" registration) != "$registration" ]]; then
  # Never touch an account another registration holds now (or that nobody activated).
  log "slot $slot is not held by registration $registration: nothing to release"
  printf '{"registration":"%s","slot":%d,"user":"%s","workshop":null,"codeCells":0,"executedCells":0,"completionRatio":0,"archive":null,"releasedAt":"%s"}\n' \
    "$registration" "$slot" "$user" "$now" | write_atomic "$record"
  cat "$record"
  exit 0
fi

ensure_slot_user "$slot" "$offset"
workshop=$(json_field "$state" workshop)
usermod -L -e 1970-01-02 "$user" # locked and expired: no password or key logins from now on
hub stop "$user"
kill_user_processes "$user"

if [[ ! -f $record.partial ]]; then
  completion=$(python3 "$WOD_BIN/completion-ratio.py" \
    --workshop-dir "$(json_field "$state" workshopDir)" --learner-dir "$home/$workshop")
  (umask 077 && tar -czf "$archive.tmp" -C "$WOD_HOMES" "$user") # the home holds its password
  mv -f "$archive.tmp" "$archive"
  printf '{"registration":"%s","slot":%d,"user":"%s","workshop":"%s",%s,"archive":"%s","releasedAt":"%s"}\n' \
    "$registration" "$slot" "$user" "$workshop" "${completion:1:${#completion}-2}" "$archive" "$now" \
    | write_atomic "$record.partial"
fi
wipe_home "$home"
rm -f "$state"
mv -f "$record.partial" "$record"
cat "$record"
