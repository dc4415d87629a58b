#!/usr/bin/env bash
# Makes podman usable for the container sandbox on a Debian host (CI or dev box)
# and builds the local MariaDB sandbox image. Idempotent: every step checks
# first. Needs root for the install/mount/config steps; exits 0 only when
# `podman info` works and a container from the image runs, otherwise non-zero
# with what to do.
#
# Why the two tweaks: on hosts with a cgroup v1 hierarchy lacking the hugetlb
# controller (some VMs and container-in-container setups) podman 4.3 fails
# every `run` while setting hugetlb limits; and the default ulimits
# (nofile/nproc) it applies can exceed what an unprivileged parent allows.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

die() { echo "setup-podman: $*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

packages=(podman uidmap slirp4netns fuse-overlayfs debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  is_root || die "missing ${missing[*]}: run as root or: sudo apt-get install -y ${missing[*]}"
  echo "setup-podman: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# cgroup v1 host (/sys/fs/cgroup is a tmpfs of per-controller mounts) without hugetlb.
if [[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" == tmpfs ]] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  if grep -qw hugetlb /proc/cgroups && is_root; then
    echo "setup-podman: mounting the hugetlb cgroup controller"
    # The cgroup tmpfs is sometimes mounted read-only: only then remount it to add the mount point.
    mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null || { mount -o remount,rw /sys/fs/cgroup && mkdir -p /sys/fs/cgroup/hugetlb; } || true
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb ||
      echo "setup-podman: could not mount the hugetlb cgroup; podman run may fail" >&2
  fi
fi

conf=/etc/containers/containers.conf
if [[ ! -e "$conf" ]] && is_root; then
  echo "setup-podman: writing $conf (default_ulimits = [])"
  mkdir -p /etc/containers
  printf '# Written by horizn-dbops scripts/setup-podman.sh: inherit ulimits instead of\n# forcing values the parent may not be allowed to set.\n[containers]\ndefault_ulimits = []\n' >"$conf"
fi

if ! out=$(podman info 2>&1); then
  echo "$out" | tail -5 >&2
  die "podman is installed but 'podman info' fails (output above): check cgroups and $conf"
fi

scripts/build-sandbox-image.sh "$@"

# `podman info` passes even when every `run` fails (cgroups, ulimits): prove a container starts.
image=${DBOPS_SANDBOX_IMAGE:-localhost/dbops-sandbox-mariadb:10.11}
if ! out=$(podman run --rm --network none "$image" true 2>&1); then
  echo "$out" | tail -5 >&2
  die "podman cannot run containers (output above): check cgroups (hugetlb) and default_ulimits in $conf"
fi
echo "setup-podman: podman $(podman version --format '{{.Client.Version}}') ready"
