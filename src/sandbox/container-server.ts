// Throwaway MariaDB/MySQL servers in a container (podman or docker), for
// restore tests that must run the source's flavour and version rather than
// whatever is installed locally. The datadir is a tmpfs, the port is published
// on 127.0.0.1 only, and the container is removed on stop/kill, on process
// exit and on signals (cleanup-registry), with removeStaleSandboxes() for
// anything a SIGKILLed owner left behind. On a prepared datadir (a physical restore) the
// directory is mounted as the datadir instead, handed to the image's mysql user, and our
// account comes in through --init-file (see process-server.ts).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { getuid } from 'node:process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ToolError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import { formatConnectionUrl, type MysqlConn } from '../mysql/connection-url.js';
import { MysqlClient } from '../mysql/client.js';
import { detectFlavor, parseVersion, type Flavor } from '../mysql/server-info.js';
import { register, unregister, type Disposable } from './cleanup-registry.js';
import { engineVersion, findContainerEngine, forceRemove, forceRemoveArgs, runEngine, type ContainerEngine } from './container-engine.js';
import type { Sandbox, SandboxDescription } from './sandbox.js';
import { SANDBOX_ACCOUNT, sandboxAccountSql } from './sandbox-account.js';

/** Every sandbox container carries this label (value '1'); stale ones are found by it. */
export const SANDBOX_LABEL = 'dbops.sandbox';
/** Start time in epoch milliseconds, so age does not depend on the engine's date format. */
export const STARTED_LABEL = 'dbops.sandbox.started';
/** Images built by scripts/build-sandbox-image.sh carry this label. */
const OWN_IMAGE_LABEL = 'dbops.sandbox.image';
const SECRET_PATH = '/run/secrets/dbops-root-password';
const INIT_PATH = '/run/secrets/dbops-init.sql';

export interface ContainerSandboxOptions {
  /** 'podman', 'docker' or a path (default: podman, else docker; config sandbox.engine). */
  engine?: string;
  /** Image reference; default from flavor/version (see defaultSandboxImage). */
  image?: string;
  /** The source's flavour, for the default image (default 'mariadb'). */
  flavor?: Flavor;
  /** The source's version, e.g. '10.11.19' or '8.4' (default 10.11 / 8.4). */
  version?: string;
  /** Binary logging inside the datadir (default true, like the process driver). */
  binlog?: boolean;
  /** server_id (default: random 1000..999999). */
  serverId?: number;
  /** Extra server options, e.g. ['--max-allowed-packet=1G']. */
  extraArgs?: string[];
  /** Memory limit as the engine takes it, e.g. '1g'. Counts the tmpfs datadir too. */
  memory?: string;
  /** CPU limit, e.g. 1.5. */
  cpus?: number;
  /** Datadir on a tmpfs (default true); a string is its size, e.g. '4g'. false: the container's own layer. */
  tmpfs?: boolean | string;
  /** A prepared datadir on this host to mount as the datadir (no tmpfs); its files are given to the
   *  image's mysql user. Left in place by stop()/kill(): its owner removes it. */
  datadir?: string;
  /** Give up waiting for the first connection after this long (default 120 s). */
  startTimeoutMs?: number;
}

export interface ContainerSandbox extends Sandbox {
  driver: 'container';
  engine: ContainerEngine;
  image: string;
  imageId: string;
  /** dbops-sandbox-<hex> */
  containerName: string;
  serverId: number;
}

const DEFAULT_VERSION: Record<Flavor, string> = { mariadb: '10.11', mysql: '8.4' };

/** `localhost/dbops-sandbox-<flavor>:<major.minor>`: the tag scripts/build-sandbox-image.sh gives its image. */
export function localSandboxImage(flavor: Flavor, version?: string): string {
  return `localhost/dbops-sandbox-${flavor}:${majorMinor(flavor, version)}`;
}

function majorMinor(flavor: Flavor, version?: string): string {
  if (!version) return DEFAULT_VERSION[flavor];
  if (/^\d+\.\d+$/.test(version)) return version;
  const v = parseVersion(version);
  return `${v.major}.${v.minor}`;
}

interface ImageFacts {
  id: string;
  ours: boolean;
}

async function inspectImage(engine: ContainerEngine, image: string): Promise<ImageFacts | undefined> {
  const r = await execa(engine.path, ['image', 'inspect', image], { reject: false, timeout: 30_000, stdin: 'ignore' });
  if (r.exitCode !== 0) return undefined;
  const [info] = JSON.parse(r.stdout) as { Id: string; Config?: { Labels?: Record<string, string> | null } }[];
  if (!info) return undefined;
  return { id: info.Id.replace(/^sha256:/, ''), ours: info.Config?.Labels?.[OWN_IMAGE_LABEL] === '1' };
}

/** The chosen image and, when the engine already has it, its facts (undefined: run will pull it). */
async function chooseImage(engine: ContainerEngine, flavor: Flavor, version?: string): Promise<{ image: string; facts?: ImageFacts | undefined }> {
  const local = localSandboxImage(flavor, version);
  const facts = await inspectImage(engine, local);
  if (facts) return { image: local, facts };
  return { image: `docker.io/library/${flavor}:${majorMinor(flavor, version)}` };
}

/**
 * The image for a source of this flavour/version: the locally built
 * `localhost/dbops-sandbox-<flavor>:<major.minor>` when the engine has it
 * (no registry needed), else the official `docker.io/library/<flavor>:<major.minor>`
 * (fully qualified: podman may have no short-name search registries).
 * Both take the same run arguments (password file env, extra `--option` args).
 */
export async function defaultSandboxImage(engine: ContainerEngine, flavor: Flavor = 'mariadb', version?: string): Promise<string> {
  return (await chooseImage(engine, flavor, version)).image;
}

function oneLineTail(text: string, lines = 8): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-lines).join(' | ');
}

async function logsTail(engine: ContainerEngine, name: string): Promise<string> {
  const r = await execa(engine.path, ['logs', '--tail', '15', name], { reject: false, all: true, timeout: 30_000, stdin: 'ignore' });
  return oneLineTail(r.all ?? '');
}

async function containerState(engine: ContainerEngine, name: string): Promise<string> {
  const r = await execa(engine.path, ['inspect', '--format', '{{.State.Status}}', name], { reject: false, timeout: 30_000, stdin: 'ignore' });
  return r.exitCode === 0 ? r.stdout.trim() : 'missing';
}

async function publishedPort(engine: ContainerEngine, name: string): Promise<number> {
  const out = await runEngine(engine, ['port', name, '3306/tcp'], `reading the published port of ${name}`, 30_000);
  const m = /127\.0\.0\.1:(\d+)/.exec(out);
  if (!m) throw new ToolError(engine.name, `container ${name} has no port published on 127.0.0.1`, oneLineTail(out));
  return Number(m[1]);
}

async function tryConnect(conn: MysqlConn): Promise<MysqlClient | undefined> {
  try {
    return await MysqlClient.connect(conn, { connectTimeoutMs: 2000 });
  } catch {
    return undefined;
  }
}

function serverArgs(flavor: Flavor, serverId: number, opts: ContainerSandboxOptions): string[] {
  const args = [`--server-id=${serverId}`];
  if (opts.binlog ?? true) args.push('--log-bin=binlog', '--binlog-format=ROW');
  else if (flavor === 'mysql') args.push('--skip-log-bin'); // on by default in MySQL 8
  args.push(...(opts.extraArgs ?? []));
  return args;
}

function removeSync(engine: ContainerEngine, name: string): void {
  spawnSync(engine.path, forceRemoveArgs(engine, name), { stdio: 'ignore', timeout: 30_000 });
}

/** Starts a throwaway server container; resolves once root can connect over TCP with a random password. */
export async function startContainerSandbox(opts: ContainerSandboxOptions = {}): Promise<ContainerSandbox> {
  if (opts.cpus !== undefined && !(opts.cpus > 0)) throw new UsageError(`sandbox cpus must be a positive number, got ${opts.cpus}`);
  const engine = findContainerEngine(opts.engine);
  const flavor = opts.flavor ?? 'mariadb';
  const chosen = opts.image ? { image: opts.image, facts: await inspectImage(engine, opts.image) } : await chooseImage(engine, flavor, opts.version);
  const image = chosen.image;
  let facts = chosen.facts;
  const name = `dbops-sandbox-${randomBytes(6).toString('hex')}`;
  const serverId = opts.serverId ?? 1000 + Math.floor(Math.random() * 999_000);
  const timeoutMs = opts.startTimeoutMs ?? 120_000;
  const started = Date.now();

  // The password travels as a mounted file, never in argv or the environment
  // (both visible through `ps`/`inspect`). Our image reads it as root (0600);
  // official images read it after dropping to their mysql user, so there the
  // file is 0644 and the 0700 dir around it keeps host users out.
  const secretDir = await mkdtemp(join(tmpdir(), 'dbops-ctr-'));
  const entry: Disposable = { pid: undefined, dir: secretDir, disposeSync: () => removeSync(engine, name) };
  register(entry);
  let created = false;
  const discard = async (): Promise<void> => {
    if (created) await forceRemove(engine, [name]);
    await rm(secretDir, { recursive: true, force: true });
    unregister(entry);
  };
  try {
    const password = randomBytes(18).toString('hex');
    const secretFile = join(secretDir, 'root-password');
    await writeFile(secretFile, password, { mode: 0o600 });
    if (!facts?.ours) await chmod(secretFile, 0o644);
    // The server reads the init file after dropping to its mysql user: 0644, in our 0700 dir.
    const initFile = join(secretDir, 'init.sql');
    if (opts.datadir) {
      await writeFile(initFile, sandboxAccountSql(password, ['%']), { mode: 0o644 });
      await chmod(initFile, 0o644);
      await giveToImageUser(engine, image, opts.datadir);
    }

    const tmpfs = opts.datadir ? false : (opts.tmpfs ?? true);
    const runArgs = [
      'run',
      '--detach',
      '--name',
      name,
      '--label',
      `${SANDBOX_LABEL}=1`,
      '--label',
      `${STARTED_LABEL}=${started}`,
      '--publish',
      '127.0.0.1::3306',
      '--volume',
      `${secretFile}:${SECRET_PATH}:ro`,
      '--env',
      `MARIADB_ROOT_PASSWORD_FILE=${SECRET_PATH}`,
      '--env',
      `MYSQL_ROOT_PASSWORD_FILE=${SECRET_PATH}`,
      ...(tmpfs === false ? [] : ['--tmpfs', `/var/lib/mysql:rw${typeof tmpfs === 'string' ? `,size=${tmpfs}` : ''}`]),
      ...(opts.datadir ? ['--volume', `${opts.datadir}:/var/lib/mysql:rw`, '--volume', `${initFile}:${INIT_PATH}:ro`] : []),
      ...(opts.memory ? ['--memory', opts.memory] : []),
      ...(opts.cpus !== undefined ? ['--cpus', String(opts.cpus)] : []),
      image,
      ...serverArgs(flavor, serverId, opts),
      ...(opts.datadir ? [`--init-file=${INIT_PATH}`] : []),
    ];
    created = true; // from here a half-created container may exist
    await runEngine(engine, runArgs, `starting sandbox container from ${image}`, 10 * 60_000);
    facts ??= await inspectImage(engine, image); // pulled by run
    const port = await publishedPort(engine, name);
    const conn: MysqlConn = { user: opts.datadir ? SANDBOX_ACCOUNT : 'root', password, host: '127.0.0.1', port };

    const deadline = Date.now() + timeoutMs;
    let db: MysqlClient | undefined;
    let state = 'running';
    let lastStateCheck = 0;
    while (Date.now() < deadline && !(db = await tryConnect(conn))) {
      if (Date.now() - lastStateCheck > 1000) {
        lastStateCheck = Date.now();
        state = await containerState(engine, name);
        if (state !== 'running' && state !== 'created') break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!db) {
      const tail = await logsTail(engine, name);
      const why = state !== 'running' && state !== 'created' ? `exited during startup (${state})` : `did not accept connections within ${timeoutMs} ms`;
      throw new ToolError(engine.name, `sandbox container ${name} from ${image} ${why} (log tail follows)`, tail);
    }
    let version: string;
    let comment: string;
    try {
      const [row] = await db.query<{ v: string; c: string }>('SELECT VERSION() AS v, @@version_comment AS c');
      version = row!.v;
      comment = row!.c;
    } finally {
      await db.close();
    }
    // The datadir is initialised: the password file has done its job.
    await rm(secretDir, { recursive: true, force: true });

    const engineLabel = `${engine.name} ${await engineVersion(engine)}`;
    const imageId = facts?.id ?? '';
    let done = false;
    const finish = async (graceful: boolean): Promise<void> => {
      if (done) return;
      done = true;
      if (graceful) await execa(engine.path, ['stop', '-t', '30', name], { reject: false, timeout: 90_000, stdin: 'ignore' });
      await discard();
    };
    log.debug({ name, image, port, ms: Date.now() - started }, 'sandbox container started');
    const description: SandboxDescription = { driver: 'container', engine: engineLabel, image, imageId, serverVersion: version };
    return {
      driver: 'container',
      flavor: detectFlavor(version, comment),
      url: formatConnectionUrl(conn),
      conn,
      port,
      version,
      engine,
      image,
      imageId,
      containerName: name,
      serverId,
      describe: () => ({ ...description }),
      stop: () => finish(true),
      kill: () => finish(false),
    };
  } catch (err) {
    await discard();
    throw err;
  }
}

export interface StaleSandboxOptions {
  engine?: string;
  /** Only containers started at least this long ago (default 60). 0 removes every sandbox container. */
  olderThanMinutes?: number;
  now?: number;
}

interface InspectedContainer {
  Name: string;
  Created?: string;
  Config?: { Labels?: Record<string, string> | null };
}

/** Removes sandbox containers a dead owner left behind (e.g. after SIGKILL); returns their names. */
export async function removeStaleSandboxes(opts: StaleSandboxOptions = {}): Promise<string[]> {
  const engine = findContainerEngine(opts.engine);
  const now = opts.now ?? Date.now();
  const cutoff = now - (opts.olderThanMinutes ?? 60) * 60_000;
  const ids = (await runEngine(engine, ['ps', '--all', '--quiet', '--filter', `label=${SANDBOX_LABEL}=1`], 'listing sandbox containers', 60_000))
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) return [];
  // A container may vanish between ps and inspect: inspect each one's JSON and skip failures.
  const r = await execa(engine.path, ['inspect', '--type', 'container', ...ids], { reject: false, timeout: 60_000, stdin: 'ignore' });
  let infos: InspectedContainer[] = [];
  try {
    infos = JSON.parse(r.stdout || '[]') as InspectedContainer[];
  } catch {
    infos = [];
  }
  const stale = infos
    .filter((c) => {
      const label = Number(c.Config?.Labels?.[STARTED_LABEL]);
      const startedAt = Number.isFinite(label) && label > 0 ? label : Date.parse(c.Created ?? '');
      return Number.isFinite(startedAt) && startedAt <= cutoff;
    })
    .map((c) => c.Name.replace(/^\//, ''));
  if (stale.length === 0) return [];
  await forceRemove(engine, stale);
  log.info({ removed: stale }, 'removed stale sandbox containers');
  return stale;
}

/**
 * The image's mysql user must own a mounted datadir. Its uid and gid are asked of the image;
 * as root the files are chowned here, rootless podman does it inside its user namespace.
 */
async function giveToImageUser(engine: ContainerEngine, image: string, dir: string): Promise<void> {
  const ask = async (flag: string): Promise<string> => (await runEngine(engine, ['run', '--rm', '--entrypoint', 'id', image, flag, 'mysql'], `asking ${image} for its mysql user`, 120_000)).trim();
  const [uid, gid] = [await ask('-u'), await ask('-g')];
  if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) throw new ToolError(engine.name, `${image} has no mysql user to own the datadir (id said ${uid}:${gid})`);
  const args = ['-R', `${uid}:${gid}`, dir];
  const r = getuid?.() === 0 || !engine.isPodman ? await execa('chown', args, { reject: false }) : await execa(engine.path, ['unshare', 'chown', ...args], { reject: false });
  if (r.exitCode !== 0) throw new ToolError('chown', `could not give ${dir} to the container's mysql user (${uid}:${gid})`, String(r.stderr).trim());
}
