#!/usr/bin/env bash
# Proves docker/Dockerfile builds and the image works, with podman and without any
# registry: Docker Hub is unreachable here, so the Node base is made locally
# (debootstrap minbase from the apt mirror this host uses, plus this host's own
# `node` and `npm`) and passed as BASE_IMAGE; everything else is the Dockerfile's
# normal path (apt-get of the client tools, `npm ci` + `tsc` in the build stage).
# Then, from inside the image: `dbops --version`, `dbops doctor` (when the CLI has
# it), `keys generate`, `init` and a backup of a throwaway MariaDB on the host's
# loopback (`--network host`) into a mounted file:// repository, which the host's
# dbops must list and verify; and, when the CLI has a daemon, the HEALTHCHECK.
#
# Usage: scripts/container-image-test.sh [--prebuilt] [--rebuild-base] [--no-cache] [--keep]
#   --prebuilt      build target runtime-prebuilt from this checkout's dist/ and a
#                   production-pruned copy of node_modules/ (for builders whose
#                   containers cannot reach the npm registry)
#   --rebuild-base  rebuild the local Node base image even if it exists
#   --no-cache      build every Dockerfile step again (what a CI machine does anyway)
#   --keep          keep the app image and the temp dir (printed) for a look
# Env: DBOPS_APP_IMAGE (default localhost/dbops:test), DBOPS_NODE_BASE_IMAGE
#      (default localhost/dbops-node-base:<suite>-node<major of the node on PATH>), DBOPS_APT_ETC, DBOPS_DEBIAN_SUITE.
# Needs root (debootstrap, podman), podman (scripts/setup-podman.sh), mariadbd on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
# apt_sources / mirror_for / host_suite (read $apt_etc).
. scripts/lib/apt-mirrors.sh

apt_etc=${DBOPS_APT_ETC:-/etc/apt}
suite=${DBOPS_DEBIAN_SUITE:-$(host_suite)}
# One cached base per Node major: .ci/run puts Node 22 (the image's) first on PATH.
base_image=${DBOPS_NODE_BASE_IMAGE:-localhost/dbops-node-base:$suite-node$(node -p 'process.versions.node.split(".")[0]')}
app_image=${DBOPS_APP_IMAGE:-localhost/dbops:test}
# Stand-in for the docker CLI stage (docker:27-cli cannot be pulled here).
cli_standin=localhost/dbops-docker-cli-standin:local
prebuilt=0 rebuild_base=0 keep=0 no_cache=()
for arg in "$@"; do
  case "$arg" in
    --prebuilt) prebuilt=1 ;;
    --rebuild-base) rebuild_base=1 ;;
    --no-cache) no_cache=(--no-cache) ;;
    --keep) keep=1 ;;
    *) echo "container-image-test: unknown argument $arg (use --prebuilt, --rebuild-base, --no-cache or --keep)" >&2; exit 2 ;;
  esac
done

say() { echo "container-image-test: $*"; }
die() { echo "container-image-test: FAILED: $*" >&2; exit 1; }
t0=$(date +%s)
lap=$t0
phase() { local now; now=$(date +%s); say "  ($((now - lap)) s)"; lap=$now; say "$*"; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and podman need it)"
command -v podman >/dev/null || die "podman not found: run scripts/setup-podman.sh"
command -v debootstrap >/dev/null || die "debootstrap not found: run scripts/setup-podman.sh"
host_node=$(command -v node) || die "node not found on the host"
host_npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[[ -f "$host_npm_dir/package.json" ]] || die "cannot find npm's own directory (got $host_npm_dir)"

work=$(mktemp -d /var/tmp/dbops-image-test.XXXXXX)
db_pid=
ctr=dbops-image-test-$$
cleanup() {
  local rc=$?
  podman rm -f --time 5 "$ctr" >/dev/null 2>&1 || true
  if [[ -n "$db_pid" ]]; then kill -TERM "$db_pid" 2>/dev/null || true; wait "$db_pid" 2>/dev/null || true; fi
  if ((keep)); then say "kept $work and $app_image"; else
    rm -rf --one-file-system "$work"
    podman rmi "$app_image" >/dev/null 2>&1 || true
  fi
  ((rc == 0)) || say "failed after $(($(date +%s) - t0)) s"
}
trap cleanup EXIT

# ---- 1. the local Node base (minbase Debian + host node/npm), cached between runs ----
# The Debian part is the rootfs of the sandbox image scripts/build-sandbox-image.sh
# already made with debootstrap from this host's mirror (CI builds it in setup-podman.sh),
# minus its MariaDB packages: a second debootstrap costs ~5 minutes here. Without that
# image, debootstrap runs here.
sandbox_image=${DBOPS_SANDBOX_IMAGE:-localhost/dbops-sandbox-mariadb:10.11}
if ((rebuild_base)) || ! podman image inspect "$base_image" >/dev/null 2>&1; then
  main_mirror=$(mirror_for "$suite")
  security_mirror=$(mirror_for "$suite-security")
  [[ -n "$main_mirror" ]] || die "no Debian mirror for $suite in $apt_etc/sources.list{,.d}: configure apt first"
  root=$work/rootfs
  mkdir -p "$root"
  if [[ $(podman image inspect --format '{{index .Config.Labels "dbops.sandbox.image"}}' "$sandbox_image" 2>/dev/null) == 1* ]]; then
    say "building $base_image: $sandbox_image's Debian rootfs without MariaDB + host node $(node --version)"
    cid=$(podman create --entrypoint /bin/true "$sandbox_image")
    podman export "$cid" | tar -C "$root" --numeric-owner -x
    podman rm "$cid" >/dev/null
    chroot "$root" dpkg --purge mariadb-server-core mariadb-client-core mariadb-common mysql-common libmariadb3 >"$work/purge.log" 2>&1 ||
      { tail -20 "$work/purge.log" >&2; die "removing MariaDB from the base failed"; }
    # Libraries only the server used; anything else still needing one keeps it.
    for lib in libaio1 liburing2 libnuma1 libedit2; do chroot "$root" dpkg --purge "$lib" >/dev/null 2>&1 || true; done
    chroot "$root" sh -c 'userdel mysql 2>/dev/null; groupdel mysql 2>/dev/null; rm -f /usr/local/bin/dbops-sandbox-entrypoint; true'
    left=$(cd "$root" && find usr/bin usr/sbin usr/local/bin -name 'mysql*' -o -name 'mariadb*' | head -3)
    [[ -z "$left" ]] || die "MariaDB binaries left in the base: $left"
  else
    say "building $base_image: debootstrap $suite from $main_mirror + host node $(node --version)"
    keyring=()
    [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    debootstrap --variant=minbase "${keyring[@]}" "$suite" "$root" "$main_mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log tail above)"; }
  fi
  # The same sources a node:*-bookworm image has, from this host's mirrors, for the Dockerfile's apt-get.
  {
    echo "deb $main_mirror $suite main"
    echo "deb $main_mirror $suite-updates main"
    if [[ -n "$security_mirror" ]]; then echo "deb $security_mirror $suite-security main"; fi
  } >"$root/etc/apt/sources.list"
  # dpkg's fsyncs dominate apt-get on this slow disk; a build layer needs no crash safety.
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/unsafe-io"
  # node needs only libc/libstdc++/libgcc (in minbase); check instead of hoping.
  for lib in $(ldd "$host_node" | awk '/=>/ { print $1 }'); do
    [[ -n $(find "$root/lib" "$root/usr/lib" -name "$lib" -print -quit) ]] || die "the base lacks $lib that $host_node links against"
  done
  install -m 0755 "$host_node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$host_npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*
  : >"$root/etc/machine-id"
  rm -f "$root/etc/hostname"
  tar -C "$root" --numeric-owner -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --change "LABEL dbops.node-base=1 node.version=$(node --version) debian.suite=$suite" \
    - "$base_image" >/dev/null
  rm -rf --one-file-system "$root"
else
  say "using cached $base_image (--rebuild-base to refresh)"
fi
if ! podman image inspect "$cli_standin" >/dev/null 2>&1; then
  mkdir -p "$work/standin/usr/local/bin"
  printf '#!/bin/sh\necho "docker CLI stand-in from scripts/container-image-test.sh: build with the default DOCKER_CLI_IMAGE for a real one" >&2\nexit 127\n' >"$work/standin/usr/local/bin/docker"
  chmod 0755 "$work/standin/usr/local/bin/docker"
  tar -C "$work/standin" --numeric-owner -c . | podman import --quiet - "$cli_standin" >/dev/null
fi

# ---- 2. the image, through docker/Dockerfile ----
# A TLS-intercepting egress proxy (as on CI machines) needs its CA inside the build for npm.
ca_file=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
ca_secret=()
[[ -n "$ca_file" && -s "$ca_file" ]] && ca_secret=(--secret "id=ca-certificates,src=$ca_file")
build_args=("${ca_secret[@]}" "${no_cache[@]}" --jobs 2 --format docker --build-arg "BASE_IMAGE=$base_image" --build-arg "DOCKER_CLI_IMAGE=$cli_standin" --build-arg FLAVOR=mariadb -f docker/Dockerfile -t "$app_image")
if ((prebuilt)); then
  phase "building $app_image (target runtime-prebuilt: host dist/ + pruned node_modules/)"
  ctx=$work/context
  mkdir -p "$ctx/docker"
  npm run -s build
  cp -a dist package.json package-lock.json node_modules "$ctx/"
  cp docker/healthcheck.mjs "$ctx/docker/"
  (cd "$ctx" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
  podman build "${build_args[@]}" --target runtime-prebuilt "$ctx" >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; die "podman build failed (log tail above)"; }
else
  phase "building $app_image (default target: npm ci + tsc inside the build)"
  podman build "${build_args[@]}" . >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; die "podman build failed (log tail above; --prebuilt if build containers cannot reach npm)"; }
fi
[[ $(podman image inspect --format '{{json .Config.Healthcheck}}' "$app_image") == *healthcheck.mjs* ]] ||
  die "the image has no HEALTHCHECK (podman keeps it only with --format docker)"
say "image size $(($(podman image inspect --format '{{.Size}}' "$app_image") / 1024 / 1024)) MiB; user $(podman image inspect --format '{{.Config.User}}' "$app_image")"

# ---- 3. the CLI runs, as the non-root user ----
phase "dbops --version / whoami / doctor"
want=$(node -p 'require("./package.json").version')
got=$(podman run --rm --no-healthcheck --network none "$app_image" --version)
[[ "$got" == "$want" ]] || die "dbops --version printed '$got', want '$want'"
[[ $(podman run --rm --no-healthcheck --network none --entrypoint id "$app_image" -u) == 10001 ]] || die "the image does not run as uid 10001"
podman run --rm --no-healthcheck --network none --entrypoint sh "$app_image" -c 'command -v mariadb-dump && command -v mariadb-binlog && command -v zstd && command -v age && command -v age-keygen' >/dev/null ||
  die "client tools missing from the image"
if podman run --rm --no-healthcheck --network none "$app_image" doctor --help >/dev/null 2>&1; then
  doctor_ran=1
else
  doctor_ran=0
  say "SKIPPED dbops doctor: this CLI has no doctor command yet"
fi

# ---- 4. a backup from inside the container of a real MariaDB on the host ----
phase "starting a throwaway MariaDB on the host"
mkdir -p "$work/keys" "$work/repo"
chown 10001:10001 "$work/keys" "$work/repo"
node --import tsx test/docker/serve-mariadb.ts "$work/source-url" 2>"$work/mariadb.log" &
db_pid=$!
for _ in $(seq 1 120); do
  [[ -s "$work/source-url" ]] && break
  kill -0 "$db_pid" 2>/dev/null || { cat "$work/mariadb.log" >&2; die "the throwaway MariaDB did not start"; }
  sleep 0.5
done
[[ -s "$work/source-url" ]] || die "the throwaway MariaDB did not start within 60 s"
# The URL (with the root password) reaches the container through its environment only:
# `--env NAME` without a value copies it from this shell, so it is never in argv.
DBOPS_SOURCE_URL=$(<"$work/source-url")
export DBOPS_SOURCE_URL
run_in() {
  podman run --rm --no-healthcheck --network host --env DBOPS_SOURCE_URL --env DBOPS_LOG_JSON=1 \
    --env DBOPS_STORAGE_URL=file:///backups --env DBOPS_AGE_RECIPIENTS=/keys/age.pub --env DBOPS_SIGNING_KEY_FILE=/keys/signing.key \
    --volume "$work/keys:/keys" --volume "$work/repo:/backups" "$app_image" "$@"
}
phase "keys generate, init, backup, list inside the container"
run_in keys generate --out /keys >/dev/null
run_in init >/dev/null
if ((doctor_ran)); then
  run_in doctor >"$work/doctor.out" 2>&1 || { cat "$work/doctor.out" >&2; die "dbops doctor failed inside the container"; }
  say "dbops doctor passed inside the container"
fi
backup_id=$(run_in backup 2>"$work/backup.log" | tail -1) || { tail -20 "$work/backup.log" >&2; die "dbops backup failed inside the container"; }
[[ "$backup_id" =~ ^[0-9]{8}T[0-9]{6}Z- ]] || { tail -20 "$work/backup.log" >&2; die "dbops backup printed '$backup_id', not a backup id"; }
say "backup $backup_id written by uid $(stat -c %u "$work/repo/repo.json")"

phase "the host's dbops lists and verifies it"
host_env=(env -u DBOPS_SOURCE_URL DBOPS_STORAGE_URL="file://$work/repo" DBOPS_AGE_IDENTITY_FILE="$work/keys/age.key")
"${host_env[@]}" node --import tsx src/cli/main.ts list --json >"$work/list.json"
grep -q "\"$backup_id\"" "$work/list.json" || { cat "$work/list.json" >&2; die "dbops list on the host does not show $backup_id"; }
"${host_env[@]}" node --import tsx src/cli/main.ts verify "$backup_id" >"$work/verify.out" 2>&1 ||
  { cat "$work/verify.out" >&2; die "dbops verify on the host failed for $backup_id"; }

# ---- 5. the daemon answers the HEALTHCHECK (when the CLI has a daemon) ----
if podman run --rm --no-healthcheck --network none "$app_image" daemon --help >/dev/null 2>&1; then
  phase "daemon + HEALTHCHECK"
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  podman run -d --name "$ctr" --network host --env DBOPS_SOURCE_URL --env DBOPS_LOG_JSON=1 \
    --env DBOPS_STORAGE_URL=file:///backups --env DBOPS_AGE_RECIPIENTS=/keys/age.pub --env DBOPS_SIGNING_KEY_FILE=/keys/signing.key \
    --env DBOPS_DAEMON_LISTEN="127.0.0.1:$port" --env DBOPS_BINLOG_MAX_LAG_SECONDS=5 --volume "$work/keys:/keys" --volume "$work/repo:/backups" "$app_image" >/dev/null 2>"$work/run-daemon.err" ||
    { cat "$work/run-daemon.err" >&2; die "could not start the daemon container"; }
  # podman runs HEALTHCHECKs from systemd timers (none here), so they are run by hand.
  healthy=0 waited=0
  while ((waited < 90)); do
    if podman healthcheck run "$ctr" >/dev/null 2>&1; then healthy=1; break; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$ctr") == true ]] || break
    sleep 1
    waited=$((waited + 1))
  done
  ((healthy)) || { podman logs --tail 20 "$ctr" >&2; die "the daemon container never passed its HEALTHCHECK"; }
  # The HEALTHCHECK asks /livez (alive); recoverability is /healthz, 200 once a binlog is shipped.
  probe() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port$1"; }
  waited_health=0
  until probe /healthz; do
    ((waited_health < 90)) || { podman logs --tail 20 "$ctr" >&2; die "the daemon's /healthz never answered 200"; }
    sleep 1
    waited_health=$((waited_health + 1))
  done
  probe /readyz || die "the daemon's /readyz did not answer 200"
  # The entrypoint runs the CLI through its shebang: the daemon's node has its memory settings.
  settings=$(podman exec "$ctr" sh -c 'for p in /proc/[0-9]*; do case "$(tr "\0" " " <"$p/cmdline" 2>/dev/null)" in node*daemon*) tr "\0" "\n" <"$p/environ" | grep "^MALLOC_MMAP_THRESHOLD_="; tr "\0" " " <"$p/cmdline";; esac; done' 2>&1) || true
  [[ "$settings" == *MALLOC_MMAP_THRESHOLD_=1048576* && "$settings" == *--max-semi-space-size=1* ]] ||
    die "the daemon's node did not start with the shebang's settings (got: ${settings:-nothing})"
  stop_started=$(date +%s)
  podman stop --time 30 "$ctr" >/dev/null 2>&1
  code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
  [[ "$code" == 0 || "$code" == 143 ]] || { podman logs --tail 20 "$ctr" >&2; die "the daemon exited $code on SIGTERM"; }
  say "daemon healthy on 127.0.0.1:$port after ~$waited s; SIGTERM stopped it in $(($(date +%s) - stop_started)) s (exit $code)"
  podman logs "$ctr" >"$work/daemon.log" 2>&1 || true
  # /healthz turned healthy (asked above, while it ran) once a binlog was shipped: the shipper ran inside the container.
  compgen -G "$work/repo/binlogs/*/*.json" >/dev/null || die "the daemon reported healthy but shipped no binlog segment"
else
  say "SKIPPED daemon/HEALTHCHECK: this CLI has no daemon command yet"
fi

phase "done"
say "PASSED in $(($(date +%s) - t0)) s"
