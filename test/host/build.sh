#!/usr/bin/env bash
# Builds the test host's root filesystem (Debian bookworm with sshd, JupyterHub, fail2ban…)
# once and caches it as a tarball keyed by this script's hash, so reruns take seconds.
# Needs root and Debian's mirror; installs its own tools with apt-get. Prints the tarball path.
set -euo pipefail

CACHE=${WOD_TESTHOST_CACHE:-/var/cache/wod-testhost}
# Everything the host scripts and the tests use inside the test host. systemd, systemd-sysv
# and dbus make the host bootable with systemd as init (testhost.sh up --systemd), like a
# droplet; python3-systemd is what fail2ban reads the journal with (a droplet's apt-get gets it
# as a Recommends). Hosts started without --systemd never run systemd: sshd runs under tini.
PACKAGES=(openssh-server jupyterhub python3-jinja2 fail2ban sudo procps psmisc curl acl
  iptables iproute2 tini passwd tar gzip ca-certificates systemd systemd-sysv dbus python3-systemd)

hash=$(sha256sum "$0" | cut -c1-16)
tarball="$CACHE/rootfs-bookworm-$hash.tar.zst"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # concurrent test files wait for one build
if [[ -s $tarball ]]; then echo "$tarball"; exit 0; fi

[[ $(id -u) == 0 ]] || { echo "build.sh: must run as root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null || ! command -v zstd >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap zstd >&2
fi

# Use the machine's own Debian mirror (the only one reachable here).
mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | head -n1 | tr -d ' ' || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "$CACHE/build.XXXXXX")
root="$work/root"
cleanup() {
  for m in dev/pts dev proc; do umount -l "$root/$m" 2>/dev/null || true; done
  if ! grep -q " $work/" /proc/self/mounts; then rm -rf "$work"; fi
}
trap cleanup EXIT

echo "build.sh: debootstrap bookworm from $mirror (a few minutes)…" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$root/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" # no service starts while installing
chmod +x "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
echo "build.sh: installing ${PACKAGES[*]}…" >&2
chroot "$root" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends ${PACKAGES[*]} && apt-get clean" \
  >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }
umount "$root/dev/pts" "$root/dev" "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/apt "$root"/var/log/dpkg.log

tar --zstd -cf "$tarball.tmp" -C "$root" .
mv "$tarball.tmp" "$tarball"
find "$CACHE" -maxdepth 1 -name 'rootfs-bookworm-*.tar.zst' ! -name "${tarball##*/}" -delete # older builds
echo "$tarball"
