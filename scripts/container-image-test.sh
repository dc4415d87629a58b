#!/usr/bin/env bash
# Proves docker/Dockerfile builds and the image works, with podman and without any
# registry: Docker Hub is unreachable here, so the Node base is made locally
# (debootstrap minbase from the apt mirror this host uses, plus this host's own
# `node` and `npm`) and passed as BASE_IMAGE; everything else is the Dockerfile's
# normal path (apt-get of the client tools and server, `npm ci` + `npm run build` in the build stage).
# Then, from inside the image, as the compose stack's dbops services do: the bucket made by
# docker/create-bucket.mjs on an S3 server (the tests' s3rver on the host's loopback,
# `--network host`), the operator's keys with only age.pub and signing.key mounted, a
# test-only restore-test identity added with `dbops keys add-recipient`, `dbops doctor`,
# a backup of a throwaway MariaDB on the host, checksums, binlog shipping and a content
# restore test whose throwaway server runs inside the container (sandbox.driver: process,
# as uid 10001); the host's dbops must list the backup and verify it with the operator's
# age.key; and the daemon until its HEALTHCHECK (/livez), /readyz and /healthz pass.
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
db_pid= s3_pid=
ctr=dbops-image-test-$$
cleanup() {
  local rc=$?
  podman rm -f --time 5 "$ctr" >/dev/null 2>&1 || true
  for pid in $db_pid $s3_pid; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
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
# ---- 2. the image, through docker/Dockerfile ----
# A TLS-intercepting egress proxy (as on CI machines) needs its CA inside the build for npm.
ca_file=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
ca_secret=()
[[ -n "$ca_file" && -s "$ca_file" ]] && ca_secret=(--secret "id=ca-certificates,src=$ca_file")
build_args=("${ca_secret[@]}" "${no_cache[@]}" --jobs 2 --format docker --build-arg "BASE_IMAGE=$base_image" --build-arg FLAVOR=mariadb -f docker/Dockerfile -t "$app_image")
if ((prebuilt)); then
  phase "building $app_image (target runtime-prebuilt: host dist/ + pruned node_modules/)"
  ctx=$work/context
  mkdir -p "$ctx/docker"
  npm run -s build
  cp -a dist db package.json package-lock.json node_modules "$ctx/"
  cp docker/healthcheck.mjs docker/create-bucket.mjs "$ctx/docker/"
  (cd "$ctx" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
  podman build "${build_args[@]}" --target runtime-prebuilt "$ctx" >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; die "podman build failed (log tail above)"; }
else
  phase "building $app_image (default target: npm ci + npm run build inside the build)"
  podman build "${build_args[@]}" . >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; die "podman build failed (log tail above; --prebuilt if build containers cannot reach npm)"; }
fi
[[ $(podman image inspect --format '{{json .Config.Healthcheck}}' "$app_image") == *healthcheck.mjs* ]] ||
  die "the image has no HEALTHCHECK (podman keeps it only with --format docker)"
say "image size $(($(podman image inspect --format '{{.Size}}' "$app_image") / 1024 / 1024)) MiB; user $(podman image inspect --format '{{.Config.User}}' "$app_image")"


# ---- 3. the CLI runs, as the non-root user, with the tools and the server of its flavour ----
phase "dbops --version / whoami / tools and server binary"
want=$(node -p 'require("./package.json").version')
got=$(podman run --rm --no-healthcheck --network none "$app_image" --version)
[[ "$got" == "$want" ]] || die "dbops --version printed '$got', want '$want'"
[[ $(podman run --rm --no-healthcheck --network none --entrypoint id "$app_image" -u) == 10001 ]] || die "the image does not run as uid 10001"
podman run --rm --no-healthcheck --network none --entrypoint sh "$app_image" -c 'command -v mariadb-dump && command -v mariadb-binlog && command -v zstd && command -v age && command -v age-keygen && command -v mariadb-install-db && { command -v mariadbd || test -x /usr/sbin/mariadbd; }' >/dev/null ||
  die "client tools or the server binary missing from the image"

# ---- 4. keys and the repository as the compose stack makes them, on S3 ----
phase "starting a throwaway MariaDB and an S3 server on the host"
mkdir -p "$work/keys" "$work/operator" "$work/restore-test"
chown 10001:10001 "$work/operator" "$work/restore-test"
node --import tsx test/docker/serve-mariadb.ts "$work/source-url" 2>"$work/mariadb.log" &
db_pid=$!
node --import tsx test/docker/serve-s3.ts "$work/s3-endpoint" 2>"$work/s3.log" &
s3_pid=$!
for _ in $(seq 1 120); do
  [[ -s "$work/source-url" && -s "$work/s3-endpoint" ]] && break
  kill -0 "$db_pid" 2>/dev/null || { cat "$work/mariadb.log" >&2; die "the throwaway MariaDB did not start"; }
  kill -0 "$s3_pid" 2>/dev/null || { cat "$work/s3.log" >&2; die "the S3 server did not start"; }
  sleep 0.5
done
[[ -s "$work/source-url" && -s "$work/s3-endpoint" ]] || die "the throwaway MariaDB or the S3 server did not start within 60 s"
# The URL (with the root password) reaches the container through its environment only:
# `--env NAME` without a value copies it from this shell, so it is never in argv.
DBOPS_SOURCE_URL=$(<"$work/source-url")
export DBOPS_SOURCE_URL
export DBOPS_STORAGE_URL="s3://dbops-image-test/repo?endpoint=$(<"$work/s3-endpoint")&region=us-east-1&forcePathStyle=true"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_EC2_METADATA_DISABLED=true
# What the compose stack's dbops services get (docker/dbops.example.yaml): the daemon's keys
# (age.pub and signing.key only) and the test-only identity, read-only; both public keys as
# the recipients, as repo.json has them once the test-only one is added.
ctr_opts=(--network host --env DBOPS_SOURCE_URL --env DBOPS_STORAGE_URL
  --env AWS_ACCESS_KEY_ID --env AWS_SECRET_ACCESS_KEY --env AWS_EC2_METADATA_DISABLED --env DBOPS_LOG_JSON=1
  --env DBOPS_AGE_RECIPIENTS=/keys/age.pub,/restore-test/age.pub
  --env DBOPS_SIGNING_KEY_FILE=/keys/signing.key --env DBOPS_AGE_IDENTITY_FILE=/restore-test/age.key --env DBOPS_SANDBOX_DRIVER=process
  --volume "$work/keys:/keys:ro" --volume "$work/restore-test:/restore-test:ro")
# run_in [podman options --] dbops arguments
run_in() {
  local extra=()
  if [[ " $* " == *" -- "* ]]; then while [[ $1 != -- ]]; do extra+=("$1"); shift; done; shift; fi
  podman run --rm --no-healthcheck "${ctr_opts[@]}" "${extra[@]}" "$app_image" "$@"
}

phase "bucket, keys, init, add-recipient, doctor, migrate plan inside the container"
run_in --entrypoint node -- /opt/dbops/docker/create-bucket.mjs >"$work/bucket.out" 2>&1 ||
  { cat "$work/bucket.out" >&2; die "docker/create-bucket.mjs failed"; }
grep -q "created bucket dbops-image-test" "$work/bucket.out" || { cat "$work/bucket.out" >&2; die "create-bucket.mjs did not create the bucket"; }
podman run --rm --no-healthcheck --network none --volume "$work/operator:/operator" "$app_image" keys generate --out /operator/new >/dev/null
mv "$work/operator/new/age.pub" "$work/operator/new/signing.key" "$work/keys/"
mv "$work/operator/new/age.key" "$work/operator/new/signing.pub" "$work/operator/" && rmdir "$work/operator/new"
podman run --rm --no-healthcheck --network none --volume "$work/restore-test:/restore-test" --entrypoint age-keygen "$app_image" -o /restore-test/age.key 2>/dev/null
podman run --rm --no-healthcheck --network none --volume "$work/restore-test:/restore-test" --entrypoint age-keygen "$app_image" -y /restore-test/age.key >"$work/restore-test/age.pub"
[[ $(ls "$work/keys") == $'age.pub\nsigning.key' ]] || die "the daemon's keys are not exactly age.pub and signing.key: $(ls "$work/keys" | tr '\n' ' ')"
run_in --env DBOPS_AGE_RECIPIENTS=/keys/age.pub -- init >/dev/null 2>"$work/init.log" || { tail -5 "$work/init.log" >&2; die "dbops init failed inside the container"; }
run_in keys add-recipient /restore-test/age.pub >"$work/add-recipient.out" 2>&1 ||
  { tail -5 "$work/add-recipient.out" >&2; die "dbops keys add-recipient failed inside the container"; }
run_in doctor >"$work/doctor.out" 2>&1 || { cat "$work/doctor.out" >&2; die "dbops doctor failed inside the container"; }
# The horizn_ schema's migrations ship in the image (db/migrations beside the app).
run_in migrate plan --database image_fresh >"$work/migrate-plan.out" 2>&1 || { cat "$work/migrate-plan.out" >&2; die "dbops migrate plan failed inside the container"; }
grep -q "^-- 0001_core_tables (/opt/dbops/db/migrations/" "$work/migrate-plan.out" || { cat "$work/migrate-plan.out" >&2; die "the image's migrate plan does not read /opt/dbops/db/migrations"; }

phase "backup, checksum, binlog ship --once inside the container"
backup_id=$(run_in backup 2>"$work/backup.log" | tail -1) || { tail -20 "$work/backup.log" >&2; die "dbops backup failed inside the container"; }
[[ "$backup_id" =~ ^[0-9]{8}T[0-9]{6}Z- ]] || { tail -20 "$work/backup.log" >&2; die "dbops backup printed '$backup_id', not a backup id"; }
run_in checksum >/dev/null 2>"$work/checksum.log" || { tail -20 "$work/checksum.log" >&2; die "dbops checksum failed inside the container"; }
run_in binlog ship --once >/dev/null 2>"$work/ship.log" || { tail -20 "$work/ship.log" >&2; die "dbops binlog ship --once failed inside the container"; }

phase "restore-test --depth content with the process sandbox inside the container"
run_in --json restore-test --backup "$backup_id" --depth content >"$work/restore-test.json" 2>"$work/restore-test.log" ||
  { tail -20 "$work/restore-test.log" >&2; die "dbops restore-test failed inside the container (exit $?)"; }
verdict=$(node -p 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); [r.verdict, r.depth, r.sandbox.driver, r.sandbox.engine].join(" ")' "$work/restore-test.json")
[[ "$verdict" == "pass content process /usr/sbin/"* ]] || { cat "$work/restore-test.json" >&2; die "restore-test gave '$verdict', want a content pass in the image's own server (process sandbox)"; }
say "backup $backup_id: restore test passed in the container's own throwaway server"

phase "the host's dbops lists it and verifies it with the operator's age.key"
host_env=(env -u DBOPS_SOURCE_URL DBOPS_AGE_IDENTITY_FILE="$work/operator/age.key")
"${host_env[@]}" node --import tsx src/cli/main.ts list --json >"$work/list.json"
grep -q "\"$backup_id\"" "$work/list.json" || { cat "$work/list.json" >&2; die "dbops list on the host does not show $backup_id"; }
"${host_env[@]}" node --import tsx src/cli/main.ts verify "$backup_id" >"$work/verify.out" 2>&1 ||
  { cat "$work/verify.out" >&2; die "dbops verify on the host failed for $backup_id with the operator's key"; }

# ---- 5. the daemon answers the HEALTHCHECK ----
phase "daemon + HEALTHCHECK"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
podman run -d --name "$ctr" "${ctr_opts[@]}" --env DBOPS_DAEMON_LISTEN="127.0.0.1:$port" --env DBOPS_BINLOG_MAX_LAG_SECONDS=5 "$app_image" >/dev/null 2>"$work/run-daemon.err" ||
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
# The HEALTHCHECK asks /livez (alive); recoverability is /healthz.
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
[[ "$settings" == *MALLOC_MMAP_THRESHOLD_=1048576* && "$settings" == *--max-semi-space-size=1* && "$settings" == *--heap-growing-percent=20* ]] ||
  die "the daemon's node did not start with the shebang's settings (got: ${settings:-nothing})"
stop_started=$(date +%s)
podman stop --time 30 "$ctr" >/dev/null 2>&1
code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
[[ "$code" == 0 || "$code" == 143 ]] || { podman logs --tail 20 "$ctr" >&2; die "the daemon exited $code on SIGTERM"; }
say "daemon healthy on 127.0.0.1:$port after ~$waited s; SIGTERM stopped it in $(($(date +%s) - stop_started)) s (exit $code)"
podman logs "$ctr" >"$work/daemon.log" 2>&1 || true
grep -q '"binlog shipper started"' "$work/daemon.log" || die "the daemon's binlog shipper never started (log: $work/daemon.log)"

phase "done"
say "PASSED in $(($(date +%s) - t0)) s"
