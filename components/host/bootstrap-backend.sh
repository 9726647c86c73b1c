#!/usr/bin/env bash
# Prepares a JupyterHub backend: JupyterHub (PAM, local processes, a `wod` API service),
# the host baseline (sysctl, nofile, fail2ban on hub login failures) and the locked slot users.
# usage: bootstrap-backend.sh --slot-min N --slot-max M --uid-offset O --hub-port P  <token
set -euo pipefail
source "$(dirname "$0")/lib.sh"

slot_min='' slot_max='' offset='' port=''
while (($#)); do
  case $1 in
    --slot-min) slot_min=$2 ;;
    --slot-max) slot_max=$2 ;;
    --uid-offset) offset=$2 ;;
    --hub-port) port=$2 ;;
    *) die "unknown flag $1" ;;
  esac
  shift 2
done
need_int slot-min "$slot_min"; need_int slot-max "$slot_max"
need_int uid-offset "$offset"; need_int hub-port "$port"
((slot_min <= slot_max)) || die "--slot-min must not exceed --slot-max"
token=$(read_secret)
((${#token} >= 8)) || die "the hub token must be at least 8 characters (JupyterHub refuses shorter ones)"

# --- packages (a ready image skips this) ---
# jupyterhub brings Node.js (its proxy), which renders workshops (render.js); fail2ban reads
# the journal through python3-systemd on systemd hosts.
packages=(jupyterhub fail2ban acl curl iptables)
[[ -d /run/systemd/system ]] && packages+=(python3-systemd)
if ! command -v jupyterhub-singleuser >/dev/null || ! command -v node >/dev/null || ! command -v fail2ban-client >/dev/null \
  || ! command -v iptables >/dev/null \
  || { [[ -d /run/systemd/system ]] && ! python3 -c 'import systemd.journal' 2>/dev/null; }; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
fi

# --- state, token, hub configuration ---
install -d -m 0755 "$WOD_ETC" "$WOD_VAR"
install -d -m 0700 "$WOD_VAR/slots" "$WOD_VAR/released" "$WOD_VAR/archive" "$WOD_VAR/jupyterhub"
changed=0 token_changed=0
# The token is written by a builtin (printf), so it never shows in a process list.
if [[ ! -f $WOD_ETC/hub-token || $(<"$WOD_ETC/hub-token") != "$token" ]]; then
  (umask 077 && printf '%s\n' "$token" | write_atomic "$WOD_ETC/hub-token")
  changed=1 token_changed=1
fi
echo "http://127.0.0.1:8081/hub/api" | write_atomic "$WOD_ETC/hub-api-url"

config=$(cat <<EOF
# Managed by wod bootstrap-backend.sh: edits are overwritten.
import json, time, urllib.parse
from tornado import web
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://:$port"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = 8081
c.JupyterHub.db_url = "sqlite:///$WOD_VAR/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "$WOD_VAR/jupyterhub/cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "$WOD_VAR/jupyterhub/proxy.pid"
c.JupyterHub.cookie_max_age_days = 4 / 24  # a session lasts about a workshop
c.JupyterHub.cleanup_servers = False  # a hub restart (re-bootstrap) keeps learners' servers
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.PAMAuthenticator.allowed_groups = {"students"}  # slot users only, never root or admins
c.PAMAuthenticator.open_sessions = False  # no logind session per hub login
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# The platform's API service; its token lives only in $WOD_ETC/hub-token.
with open("$WOD_ETC/hub-token") as f:
    c.JupyterHub.services = [{"name": "wod", "api_token": f.read().strip()}]
c.JupyterHub.load_roles = [{
    "name": "wod-platform",
    "scopes": ["admin:users", "admin:servers", "access:servers"],
    "services": ["wod"],
}]

def live_slot(name):
    """The slot's state when its activation is live: state "active" and an account that is neither
    locked nor expired (a released or half-activated slot never is)."""
    try:
        with open(f"$WOD_VAR/slots/{name}.json") as f:
            state = json.load(f)
        with open("/etc/shadow") as f:
            shadow = next(line.split(":") for line in f if line.split(":")[0] == name)
    except (OSError, ValueError, StopIteration):
        return None
    locked = shadow[1].startswith(("!", "*"))
    expired = shadow[7].strip() != "" and int(shadow[7]) * 86400 <= time.time()
    return state if state.get("status") == "active" and not locked and not expired else None

def check_slot(spawner):
    """No server for a slot that is not live, whoever asks (a released learner's old cookie
    included); the live workshop's 0-ReadMeFirst.ipynb is what opens first."""
    state = live_slot(spawner.user.name)
    if state is None:
        raise web.HTTPError(403, "this workshop account is not active")
    spawner.default_url = "/notebooks/" + urllib.parse.quote(state["workshop"]) + "/0-ReadMeFirst.ipynb"

c.Spawner.pre_spawn_hook = check_slot
EOF
)
if [[ ! -f $WOD_ETC/jupyterhub_config.py || $(<"$WOD_ETC/jupyterhub_config.py") != "$config" ]]; then
  printf '%s\n' "$config" | write_atomic "$WOD_ETC/jupyterhub_config.py"
  changed=1
fi

# --- baseline ---
cat <<'EOF' | write_atomic /etc/sysctl.d/60-wod.conf
net.ipv4.tcp_keepalive_time = 1800
kernel.threads-max = 4096000
kernel.pid_max = 200000
vm.max_map_count = 600000
EOF
while IFS=' =' read -r key value; do
  # Containers may forbid some keys: the file still applies them at the next boot.
  sysctl -q -w "$key=$value" 2>/dev/null || log "warning: cannot apply $key here (kept in /etc/sysctl.d/60-wod.conf)"
done </etc/sysctl.d/60-wod.conf

cat <<'EOF' | write_atomic /etc/security/limits.d/60-wod.conf
*    soft nofile 65535
*    hard nofile 65535
root soft nofile 65535
root hard nofile 65535
EOF

cat <<'EOF' | write_atomic /etc/fail2ban/filter.d/wod-jupyterhub.conf
# JupyterHub's PAMAuthenticator logs: PAM Authentication failed (user@ip): reason
[Definition]
failregex = PAM Authentication failed \(.*@<HOST>\)
EOF
cat <<EOF | write_atomic /etc/fail2ban/jail.d/wod-jupyterhub.conf
[wod-jupyterhub]
enabled  = true
filter   = wod-jupyterhub
port     = $port
logpath  = /var/log/jupyterhub.log
backend  = polling
maxretry = 5
findtime = 10m
bantime  = 1h
EOF
touch /var/log/jupyterhub.log && chmod 0640 /var/log/jupyterhub.log
# Debian's default sshd jail reads /var/log/auth.log, which systemd hosts lack (and fail2ban
# then refuses to start at all): read the journal there; without either, leave it off.
if [[ -d /run/systemd/system ]]; then
  printf '[sshd]\nbackend = systemd\n'
elif [[ ! -f /var/log/auth.log ]]; then
  printf '[sshd]\nenabled = false\n'
fi | write_atomic /etc/fail2ban/jail.d/wod-sshd.conf

# --- slot users ---
for ((n = slot_min; n <= slot_max; n++)); do ensure_slot_user "$n" "$offset"; done

# --- learners never reach the cloud's metadata service ---
# It answers every process on the machine, and the user data it serves holds the machine's SSH
# host key (components/hostKeys.ts): slot users' packets to it are rejected, from every boot on.
cat <<EOF | write_atomic "$WOD_ETC/metadata-guard.sh"
#!/bin/sh
iptables -w -N WOD-METADATA 2>/dev/null
set -e
iptables -w -F WOD-METADATA
iptables -w -A WOD-METADATA -m owner --uid-owner $((offset + 1))-$((offset + slot_max)) -j REJECT
iptables -w -C OUTPUT -d 169.254.169.254 -j WOD-METADATA 2>/dev/null || iptables -w -I OUTPUT -d 169.254.169.254 -j WOD-METADATA
EOF
sh "$WOD_ETC/metadata-guard.sh" || die "cannot keep learners from the metadata service (iptables)"

# --- services: systemd on real backends, a pid file where there is no systemd ---
# JupyterHub keeps every token a service was ever given in its database: after a rotation
# the old one must be deleted there (hub stopped), or it would keep working.
forget_old_tokens() {
  local db="$WOD_VAR/jupyterhub/jupyterhub.sqlite"
  [[ -f $db ]] || return 0
  python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM api_tokens WHERE service_id IN (SELECT id FROM services WHERE name = ?)", ("wod",))
db.commit()' "$db"
}
hub_cmd=(jupyterhub -f "$WOD_ETC/jupyterhub_config.py")
if [[ -d /run/systemd/system ]]; then
  # Debian's jupyterhub package enables and starts its own hub (jupyterhub.service) on the same
  # ports (8000, 8081, proxy API 8001): ours could never start beside it, and `wait-hub` would
  # be answered by the wrong hub. It never runs on a backend.
  systemctl mask -q --now jupyterhub.service
  # KillMode=process: stopping the hub (config or token change) stops only the hub (it stops
  # its proxy itself); learners' servers live in this unit's cgroup too and, as
  # cleanup_servers = False promises, keep running (jupyterhub/jupyterhub#1156).
  cat <<EOF | write_atomic /etc/systemd/system/wod-jupyterhub.service
[Unit]
Description=JupyterHub for Workshops-on-Demand
After=network-online.target

[Service]
WorkingDirectory=$WOD_VAR/jupyterhub
ExecStart=/usr/bin/${hub_cmd[*]}
StandardOutput=append:/var/log/jupyterhub.log
StandardError=inherit
LimitNOFILE=65535
KillMode=process
Restart=always

[Install]
WantedBy=multi-user.target
EOF
  cat <<EOF | write_atomic /etc/systemd/system/wod-metadata-guard.service
[Unit]
Description=Keep Workshops-on-Demand learners from the metadata service
Before=wod-jupyterhub.service

[Service]
Type=oneshot
ExecStart=/bin/sh $WOD_ETC/metadata-guard.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable -q wod-metadata-guard wod-jupyterhub fail2ban
  if ((changed)); then systemctl stop wod-jupyterhub; fi
  if ((token_changed)); then forget_old_tokens; fi
  systemctl start wod-jupyterhub
  systemctl reload-or-restart fail2ban
  # A (re)start returns before fail2ban has read its jails, and one jail it cannot start stops
  # it altogether: wait for the hub's jail rather than report a backend without fail2ban.
  for _ in $(seq 1 150); do
    fail2ban-client status wod-jupyterhub >/dev/null 2>&1 && break
    case $(systemctl is-active fail2ban || true) in failed | inactive) break ;; esac
    sleep 0.2
  done
  fail2ban-client status wod-jupyterhub >/dev/null 2>&1 \
    || { journalctl -u fail2ban -n 20 --no-pager >&2 || true; die "fail2ban did not start"; }
else
  pidfile=/run/wod-jupyterhub.pid
  running() { [[ -f $pidfile ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; }
  if running && ((changed)); then
    kill "$(<"$pidfile")"
    for _ in $(seq 1 100); do running || break; sleep 0.1; done
  fi
  if ! running; then
    if ((token_changed)); then forget_old_tokens; fi
    # setsid: the hub outlives this SSH session; its children inherit the nofile limit.
    (cd "$WOD_VAR/jupyterhub" && { ulimit -n 65535 2>/dev/null || log "warning: cannot raise nofile here"; } &&
      exec setsid "${hub_cmd[@]}" >>/var/log/jupyterhub.log 2>&1 </dev/null) &
    echo $! >"$pidfile"
  fi
  if fail2ban-client ping >/dev/null 2>&1; then fail2ban-client -q reload >/dev/null; else fail2ban-client -q start >/dev/null; fi
fi
python3 "$WOD_BIN/wodhost.py" wait-hub 60 || { tail -n 20 /var/log/jupyterhub.log >&2; die "the hub did not start"; }
log "backend ready: slots $slot_min..$slot_max, hub on port $port"
