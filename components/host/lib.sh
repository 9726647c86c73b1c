# Shared helpers for the host scripts; sourced, never run. Bash, `set -euo pipefail` callers.

WOD_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WOD_ETC=${WOD_ETC:-/etc/wod}
WOD_VAR=${WOD_VAR:-/var/lib/wod}
WOD_HOMES=${WOD_HOMES:-/student}

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "error: $*"; exit 1; }

# need_int NAME VALUE: flags that become uids and paths must be plain non-negative integers.
need_int() { [[ $2 =~ ^[0-9]+$ ]] || die "--$1 must be a non-negative integer, got '$2'"; }

# need_id NAME VALUE: identifiers that become file names (no slashes, no leading dot).
need_id() { [[ $2 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]] || die "--$1 must match [A-Za-z0-9_][A-Za-z0-9._-]*, got '$2'"; }

# read_secret: the first line of stdin, without its newline; refuses an empty secret.
read_secret() {
  local s=''
  IFS= read -r s || true
  [[ -n $s ]] || die "expected the secret on stdin"
  printf '%s' "$s"
}

# ensure_slot_user N OFFSET: group students, group studentN and locked user studentN with
# uid = gid = N + OFFSET, home /student/studentN mode 0700. Refuses a uid/gid mismatch rather
# than silently giving a learner someone else's files.
ensure_slot_user() {
  local n=$1 id=$(($1 + $2)) user="student$1" home="$WOD_HOMES/student$1"
  getent group students >/dev/null || groupadd students
  if ! getent group "$user" >/dev/null; then groupadd -g "$id" "$user"; fi
  [[ $(getent group "$user" | cut -d: -f3) == "$id" ]] || die "group $user exists with gid != $id"
  if ! getent passwd "$user" >/dev/null; then
    # -M: the home is made below; locked ('!') and expired until a registration activates it.
    useradd -M -d "$home" -u "$id" -g "$id" -G students -s /bin/bash -e 1970-01-02 "$user"
  fi
  [[ $(id -u "$user") == "$id" && $(id -g "$user") == "$id" ]] || die "user $user exists with uid/gid != $id"
  id -nG "$user" | tr ' ' '\n' | grep -qx students || usermod -aG students "$user"
  mkdir -p "$WOD_HOMES" "$home"
  chown "$id:$id" "$home" && chmod 0700 "$home"
}

# write_atomic PATH: stdin to PATH via a temporary file and rename (readers never see half a file).
write_atomic() { cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }
