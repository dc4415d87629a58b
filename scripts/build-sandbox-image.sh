#!/usr/bin/env bash
# Builds the throwaway-MariaDB image the container sandbox driver uses, locally
# and without any registry: debootstrap (minbase) from the Debian mirror that
# apt on this machine already uses, then `podman import`. Only the server and
# client cores are installed (no perl, no galera), docs and apt caches removed.
# The baked entrypoint speaks the same interface as the official mariadb image
# (MARIADB_ROOT_PASSWORD_FILE, extra `--option` args), so the driver runs both
# the same way.
#
# Usage: scripts/build-sandbox-image.sh [--force] [--print-mirrors]
#   --force          rebuild even when the image exists
#   --print-mirrors  print "main <uri>" / "security <uri>" as read from apt and exit
# Env: DBOPS_CONTAINER_ENGINE (podman|docker, default podman), DBOPS_SANDBOX_IMAGE
#      (default localhost/dbops-sandbox-mariadb:10.11), DBOPS_APT_ETC (default /etc/apt,
#      where the mirror is read from), DBOPS_DEBIAN_SUITE (default: this host's codename).
set -euo pipefail
# apt_sources / mirror_for / host_suite (read $apt_etc).
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-mirrors.sh"

engine=${DBOPS_CONTAINER_ENGINE:-podman}
image=${DBOPS_SANDBOX_IMAGE:-localhost/dbops-sandbox-mariadb:10.11}
apt_etc=${DBOPS_APT_ETC:-/etc/apt}
suite=${DBOPS_DEBIAN_SUITE:-$(host_suite)}
force=0
print_mirrors=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-mirrors) print_mirrors=1 ;;
    *) echo "build-sandbox-image: unknown argument $arg (use --force or --print-mirrors)" >&2; exit 2 ;;
  esac
done

die() { echo "build-sandbox-image: $*" >&2; exit 1; }

main_mirror=$(mirror_for "$suite")
security_mirror=$(mirror_for "$suite-security")
if ((print_mirrors)); then
  [[ -n "$main_mirror" ]] && echo "main $main_mirror"
  [[ -n "$security_mirror" ]] && echo "security $security_mirror"
  [[ -n "$main_mirror" ]] || exit 1
  exit 0
fi

command -v "$engine" >/dev/null || die "$engine not found: run scripts/setup-podman.sh"
if ((!force)) && "$engine" image inspect "$image" >/dev/null 2>&1; then
  echo "build-sandbox-image: $image already exists (use --force to rebuild)"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "debootstrap needs root: run as root (or via sudo)"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
[[ -n "$main_mirror" ]] || die "no Debian mirror for suite $suite found in $apt_etc/sources.list{,.d}: configure apt first"

started=$(date +%s)
old_id=$("$engine" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
root=$(mktemp -d /var/tmp/dbops-sandbox-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$root" "$root.log"' EXIT

keyring=()
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
echo "build-sandbox-image: debootstrap $suite from $main_mirror"
debootstrap --variant=minbase "${keyring[@]}" --include=mariadb-server-core,mariadb-client-core \
  "$suite" "$root" "$main_mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; die "debootstrap failed (log tail above)"; }
rm -f "$root.log"

# Security updates live on another host: bring the server to the patched version
# (the same one a host installed from these sources runs).
if [[ -n "$security_mirror" ]]; then
  echo "build-sandbox-image: applying $suite-security updates from $security_mirror"
  printf 'deb %s %s main\ndeb %s %s main\n' "$main_mirror" "$suite" "$security_mirror" "$suite-security" >"$root/etc/apt/sources.list"
  { chroot "$root" apt-get -q update &&
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q -y -o Dpkg::Options::=--force-confold upgrade; } >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2; rm -f "$root.log"; die "apt-get upgrade inside the image failed (log tail above)"; }
  rm -f "$root.log"
fi

# The server runs as mysql, not root (mariadb-server-core does not create the account).
chroot "$root" sh -c 'getent group mysql >/dev/null || groupadd --system mysql; getent passwd mysql >/dev/null || useradd --system --gid mysql --home-dir /nonexistent --shell /usr/sbin/nologin mysql'

# Entry point: initialise an empty datadir, give root the password read from a
# mounted file (never argv or env), then run mariadbd in the foreground.
cat >"$root/usr/local/bin/dbops-sandbox-entrypoint" <<'ENTRYPOINT'
#!/bin/sh
# dbops sandbox entrypoint (see scripts/build-sandbox-image.sh in horizn-dbops).
set -eu
datadir=/var/lib/mysql
pwfile=${MARIADB_ROOT_PASSWORD_FILE:-${MYSQL_ROOT_PASSWORD_FILE:-}}
if [ "${1:-}" = mariadbd ] || [ "${1:-}" = mysqld ]; then shift; fi
case "${1:-}" in ''|-*) ;; *) exec "$@" ;; esac
# InnoDB settings shared by initialisation and start so the redo log is not resized.
set -- --innodb-buffer-pool-size=32M --innodb-log-file-size=16M --innodb-use-native-aio=0 "$@"
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld
if [ ! -d "$datadir/mysql" ]; then
  [ -n "$pwfile" ] && [ -r "$pwfile" ] || { echo "dbops-sandbox: set MARIADB_ROOT_PASSWORD_FILE to a readable mounted file" >&2; exit 64; }
  echo "dbops-sandbox: initialising $datadir" >&2
  if ! mariadb-install-db --no-defaults --datadir="$datadir" --user=mysql --auth-root-authentication-method=normal \
      --skip-test-db --skip-name-resolve --innodb-buffer-pool-size=32M --innodb-log-file-size=16M --innodb-use-native-aio=0 \
      >/tmp/install-db.log 2>&1; then
    tail -20 /tmp/install-db.log >&2
    exit 1
  fi
  # The password reaches the server through a pipe only; SQL-escape \ and '.
  pw=$(sed -e 's/\\/\\\\/g' -e "s/'/''/g" "$pwfile")
  printf "%s\n" \
    "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';" \
    "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';" \
    "FLUSH PRIVILEGES;" \
    "ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';" \
    "CREATE USER 'root'@'%' IDENTIFIED BY '$pw';" \
    "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;" |
    mariadbd --no-defaults --bootstrap --user=mysql --datadir="$datadir" --skip-log-bin \
      --innodb-buffer-pool-size=32M --innodb-log-file-size=16M --innodb-use-native-aio=0 >/tmp/bootstrap.log 2>&1 ||
    { tail -20 /tmp/bootstrap.log >&2; exit 1; }
  unset pw
fi
echo "dbops-sandbox: starting mariadbd" >&2
exec mariadbd --no-defaults --user=mysql --datadir="$datadir" --socket=/run/mysqld/mysqld.sock --port=3306 \
  --bind-address=0.0.0.0 --skip-name-resolve --performance-schema=OFF --innodb-doublewrite=OFF \
  --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 "$@"
ENTRYPOINT
chmod 0755 "$root/usr/local/bin/dbops-sandbox-entrypoint"

# Size: nothing the server needs lives in docs, locales, apt lists or caches.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old "$root"/var/log/* \
  "$root"/etc/apt/sources.list "$root"/tmp/* "$root"/root/.bash_history
# The sandbox must not think it shares the host's identity.
: >"$root/etc/machine-id"
rm -f "$root/etc/hostname"

version=$(chroot "$root" dpkg-query -W -f='${Version}' mariadb-server-core | sed -e 's/^[0-9]*://' -e 's/-.*//')
echo "build-sandbox-image: importing MariaDB $version as $image"
quiet=()
[[ $engine == *podman* ]] && quiet=(--quiet)
tar -C "$root" --numeric-owner -c . | "$engine" import "${quiet[@]}" \
  --change 'ENTRYPOINT ["/usr/local/bin/dbops-sandbox-entrypoint"]' \
  --change 'CMD []' \
  --change 'EXPOSE 3306' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL dbops.sandbox.image=1 org.mariadb.version=$version debian.suite=$suite" \
  - "$image" >/dev/null
# A rebuild leaves the previous image untagged: drop it unless a container still uses it.
[[ -n "$old_id" ]] && "$engine" rmi "$old_id" >/dev/null 2>&1 || true
size=$("$engine" image inspect --format '{{.Size}}' "$image")
echo "build-sandbox-image: built $image (MariaDB $version, $((size / 1024 / 1024)) MiB) in $(($(date +%s) - started)) s"
