#!/usr/bin/env bash
# Starts and stops a throwaway Debian test host: the cached rootfs (build.sh) unpacked in DIR,
# run in its own network, mount, pid, uts and ipc namespaces, reachable only from this
# machine over a private veth /30 (10.231.K.1 here, 10.231.K.2 there), root over SSH with a
# key made for this run, and the repository's components/host/ installed as /opt/wod/bin.
# By default the host's init is tini running sshd (no systemd); with --systemd it boots with
# systemd as init under systemd-nspawn, like a droplet (installed here with apt-get if missing).
#   testhost.sh up DIR [--systemd]   prints ADDR=… KEY=… NETNS=… (also written to DIR/env)
#   testhost.sh down DIR             stops every process of the host and deletes DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cmd=${1:?up|down} dir=${2:?DIR} init=tini
case ${3:-} in --systemd) init=systemd ;; '') ;; *) echo "testhost.sh: unknown flag $3" >&2; exit 2 ;; esac
[[ $(id -u) == 0 ]] || { echo "testhost.sh: must run as root" >&2; exit 1; }

# The cgroup hierarchies systemd-nspawn and the host's systemd use: cgroup2 (/sys/fs/cgroup,
# or /sys/fs/cgroup/unified beside v1) and v1's name=systemd. Each systemd host gets its own
# cgroup in each, named after its netns, so that hosts never share one and down() finds
# every process of the host there.
cgroup_mounts() {
  awk '$3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/) { print $2 }' /proc/self/mounts
}
cgroup_pids() { # every process in the host's cgroups
  local m
  for m in $(cgroup_mounts); do
    [[ -d $m/$1 ]] && find "$m/$1" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

down() {
  [[ -f $dir/env ]] && source "$dir/env"
  if [[ ${INIT:-} == systemd ]]; then
    down_systemd
  elif [[ -f $dir/pid ]]; then
    local pid; pid=$(<"$dir/pid")
    # Killing unshare kills the namespace's init (--kill-child), hence every process in it.
    kill -KILL "$pid" 2>/dev/null || true # unshare --fork ignores SIGTERM
    for _ in $(seq 1 100); do [[ $(ps -o stat= -p "$pid") == [^Z]* ]] || break; sleep 0.1; done
  fi
  [[ -n ${NETNS:-} ]] && ip netns del "$NETNS" 2>/dev/null || true
  # The mounts lived in the host's private mount namespace; refuse to delete through any left.
  if grep -q " $dir/" /proc/self/mounts; then echo "testhost.sh: mounts left under $dir" >&2; exit 1; fi
  rm -rf "$dir"
}
# A systemd host powers off (nspawn turns SIGTERM into a clean shutdown, about a second); what
# is still running after the deadline is killed through its cgroups, which are then removed.
down_systemd() {
  local cg=${NETNS:?} pids m _
  touch "$dir/stopping" # boot.sh boots no more
  pids=$(cgroup_pids "$cg/supervisor")
  [[ -n $pids ]] && kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 150); do [[ -z $(cgroup_pids "$cg") ]] && break; sleep 0.2; done
  for _ in $(seq 1 50); do
    pids=$(cgroup_pids "$cg")
    [[ -z $pids ]] && break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  for m in $(cgroup_mounts); do
    [[ -d $m/$cg ]] && find "$m/$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    if [[ -d $m/$cg ]]; then echo "testhost.sh: cgroup $m/$cg still has processes" >&2; exit 1; fi
  done
  rmdir "/run/systemd/nspawn/propagate/$cg" 2>/dev/null || true # nspawn's, when it left it
}
if [[ $cmd == down ]]; then down; exit 0; fi
[[ $cmd == up ]] || { echo "usage: testhost.sh up|down DIR" >&2; exit 2; }

# Hosts left behind by a test process that died without tearing down are stopped first.
for old in "$(dirname "$dir")"/wodth.*; do
  if [[ $old != "$dir" && -f $old/owner ]] && ! kill -0 "$(<"$old/owner")" 2>/dev/null; then
    bash "$0" down "$old" || true
  fi
done
echo "${WOD_TESTHOST_OWNER:-$PPID}" >"$dir/owner"

tarball=$(bash "$here/build.sh")
root="$dir/root"
mkdir -p "$root"
tar --zstd -xf "$tarball" -C "$root"

ssh-keygen -q -t ed25519 -N '' -C wod-testhost -f "$dir/key"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$dir/key.pub" "$root/root/.ssh/authorized_keys"
printf 'MaxSessions 100\nMaxStartups 100\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/wod-testhost.conf"
# The very files of the repository, as the components install them.
install -d "$root/opt/wod/bin"
cp -a "$repo/components/host/." "$root/opt/wod/bin/"
echo wod-testhost >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 wod-testhost\n' >"$root/etc/hosts"

cat >"$dir/init.sh" <<'EOF'
# Runs as pid 1 of the new namespaces: private mounts, then chroot into the test host.
set -e
R=$1
mount --make-rprivate /
mount -t proc proc "$R/proc"
# /proc/sys read-only (kernel-wide values stay this machine's), net.* writable: own netns.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw "$R/proc/sys/net"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
hostname wod-testhost
exec chroot "$R" /usr/bin/tini -- /bin/sh -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e'
EOF

if [[ $init == systemd ]]; then
  if ! command -v systemd-nspawn >/dev/null; then
    echo "testhost.sh: installing systemd-container (systemd-nspawn)…" >&2
    flock /run/wod-testhost-apt.lock sh -c 'command -v systemd-nspawn >/dev/null || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends systemd-container; }' >&2
  fi
  cat >"$dir/boot.sh" <<'EOF'
# Boots the test host with systemd as its init under systemd-nspawn (own mount, pid, uts, ipc
# namespaces, in the network namespace testhost.sh made), from the host's own cgroups. This
# machine's init need not be systemd: no registration with machined, no scope unit. A reboot
# inside the host (nspawn exits 133) boots it again, as systemd-nspawn@.service does, until
# down() leaves DIR/stopping.
set -u
dir=$1 root=$2 netns=$3
shift 3
for cg in "$@"; do echo $$ >"$cg/cgroup.procs"; done
while [[ ! -e $dir/stopping ]]; do
  # /proc/sys stays read-only (kernel-wide values are this machine's) but net.*: own netns.
  # CAP_NET_ADMIN, as a droplet's root has, acts on that netns only (the host's firewall rules).
  TERM=dumb SYSTEMD_NSPAWN_API_VFS_WRITABLE=network systemd-nspawn --quiet --boot \
    --directory="$root" --machine="$netns" --hostname=wod-testhost --register=no --keep-unit \
    --network-namespace-path="/run/netns/$netns" --capability=CAP_NET_ADMIN --console=read-only \
    --link-journal=no --resolv-conf=off --timezone=off
  code=$?
  [[ $code == 133 ]] || exit "$code"
done
EOF
fi

# One /30 per running test host; the lock keeps parallel test files from picking the same.
exec 9>/run/wod-testhost.lock
flock 9
for k in $(seq 1 254); do
  ip netns list | grep -qw "wod-th-$k" || ip -o addr show | grep -q "10\.231\.$k\." || break
done
netns="wod-th-$k" addr="10.231.$k.2"
ip netns add "$netns"
ip link add "wth${k}h" type veth peer name "wth${k}n"
ip link set "wth${k}n" netns "$netns"
ip addr add "10.231.$k.1/30" dev "wth${k}h"
ip link set "wth${k}h" up
ip -n "$netns" addr add "$addr/30" dev "wth${k}n"
ip -n "$netns" link set "wth${k}n" up
ip -n "$netns" link set lo up
printf 'ADDR=%s\nKEY=%s\nNETNS=%s\nINIT=%s\n' "$addr" "$dir/key" "$netns" "$init" >"$dir/env"
if [[ $init == systemd ]]; then
  cgroups=()
  for m in $(cgroup_mounts); do mkdir -p "$m/$netns" && cgroups+=("$m/$netns"); done
fi
flock -u 9

if [[ $init == tini ]]; then
  setsid ip netns exec "$netns" unshare --mount --pid --uts --ipc --fork --kill-child \
    sh "$dir/init.sh" "$root" >"$dir/console.log" 2>&1 </dev/null &
else
  setsid bash "$dir/boot.sh" "$dir" "$root" "$netns" "${cgroups[@]}" >"$dir/console.log" 2>&1 </dev/null &
fi
echo $! >"$dir/pid"

ssh_host=(ssh -q -i "$dir/key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o ConnectTimeout=2 "root@$addr")
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
  if "${ssh_host[@]}" true 2>/dev/null; then
    # sshd starts before the boot ends: wait for systemd to finish it (running, or degraded
    # while a unit such as fail2ban fails before bootstrap configures it).
    if [[ $init == systemd ]] && ! timeout $((deadline > SECONDS ? deadline - SECONDS : 1)) "${ssh_host[@]}" systemctl is-system-running --wait >/dev/null; then
      state=$("${ssh_host[@]}" systemctl is-system-running || true)
      [[ $state == running || $state == degraded ]] || break
    fi
    cat "$dir/env"
    exit 0
  fi
  kill -0 "$(<"$dir/pid")" 2>/dev/null || break
  sleep 0.2
done
echo "testhost.sh: the test host did not come up; console:" >&2
cat "$dir/console.log" >&2
exit 1
