// Throwaway local MariaDB/MySQL servers in a temp datadir on a free loopback
// port: used by tests, the demo and restore tests. Tuned for speed, not
// durability. Teardown is guaranteed by cleanup-registry (exit and signals).
// Or on a prepared datadir (a physical restore): nothing is initialised, and the
// server's own accounts stay as they are, so an account of ours (dbops_sandbox, random
// password) comes in through --init-file, a 0600 file removed once the server is up.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { OperationError, ToolError } from '../errors.js';
import { log } from '../util/logger.js';
import { formatConnectionUrl, type MysqlConn } from '../mysql/connection-url.js';
import { MysqlClient } from '../mysql/client.js';
import { findTool } from '../mysql/find-tool.js';
import type { Flavor } from '../mysql/server-info.js';
import { freePort } from './free-port.js';
import { register, unregister, type Disposable } from './cleanup-registry.js';
import type { Sandbox } from './sandbox.js';
import { SANDBOX_ACCOUNT, sandboxAccountSql } from './sandbox-account.js';

export interface SandboxOptions {
  /** Binary logging into `binlogDir` (default true). */
  binlog?: boolean;
  /** server_id (default: random 1000..999999). */
  serverId?: number;
  /** Extra server options appended last, e.g. ['--gtid-strict-mode=1']. */
  extraArgs?: string[];
  /** Give up waiting for the first connection after this long (default 60 s). */
  startTimeoutMs?: number;
  /** Parent of the temp dir (default os.tmpdir()). */
  parentDir?: string;
  /**
   * Start on this prepared datadir (a physical restore) instead of a new one. The server logs
   * in `dbops_sandbox` (see sandboxAccountSql); stop() and kill() leave the directory to its
   * owner, who removes it (or keeps it, as pitr --datadir does).
   */
  datadir?: string;
}


export interface RestartOptions {
  /**
   * 'graceful' (default): SIGTERM, a clean shutdown (the binlog gets its Stop event).
   * 'crash': SIGKILL, so the start runs InnoDB crash recovery (and binlog recovery).
   */
  mode?: 'graceful' | 'crash';
  /** Runs while the server is down (e.g. until clients noticed); the server is started again even if it throws. */
  whileDown?: () => Promise<void>;
}

export interface SandboxServer extends Sandbox {
  driver: 'process';
  flavor: Flavor;
  /** mysql://root:<random password>@127.0.0.1:<port> */
  url: string;
  conn: MysqlConn;
  port: number;
  socket: string;
  /** Temp dir holding everything below; removed by stop()/kill(). */
  baseDir: string;
  datadir: string;
  /** Binlogs are `${binlogDir}/binlog.NNNNNN` (the dir exists but stays empty without binlog). */
  binlogDir: string;
  errorLog: string;
  serverId: number;
  version: string;
  /** The running server process (after restart(), the new one). */
  readonly pid: number;
  /**
   * Stops the server and starts it again on the same datadir, port, options and
   * password; resolves once root can log in again. The temp dir stays registered
   * throughout, so a dying test process still leaves nothing behind.
   */
  restart(options?: RestartOptions): Promise<void>;
  /** Clean shutdown (SIGTERM, then SIGKILL after 30 s) and removal of the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL and removal of the temp dir. */
  kill(): Promise<void>;
}

interface ServerBinary {
  path: string;
  flavor: Flavor;
}

// Unix socket paths are limited to 107 bytes.
const MAX_SOCKET_PATH = 100;

/** Flavour by binary path: asked once, not on every sandbox start. */
const flavors = new Map<string, Promise<Flavor>>();

/** Finds mariadbd (preferred) or mysqld, looking in /usr/sbin too, and which flavour it is. */
export async function findServerBinary(): Promise<ServerBinary> {
  const path = findTool('mariadbd') ?? findTool('mysqld');
  if (!path) throw new ToolError('mariadbd', 'not found on PATH or in /usr/sbin: install mariadb-server (run: tsx scripts/ensure-tools.ts)');
  let flavor = flavors.get(path);
  if (!flavor) {
    flavor = execa(path, ['--version'], { reject: false }).then(({ stdout }) => (/mariadb/i.test(String(stdout)) ? 'mariadb' : 'mysql'));
    flavors.set(path, flavor);
  }
  return { path, flavor: await flavor };
}

async function tail(path: string, bytes = 2000): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.slice(-bytes).trim().split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function oneLineTail(text: string | undefined, lines = 6): string {
  return (text ?? '').trim().split('\n').slice(-lines).join(' | ');
}

function runAsUserArgs(): string[] {
  // mariadbd/mysqld refuse to run as root unless told to explicitly.
  return process.getuid?.() === 0 ? [`--user=${userInfo().username}`] : [];
}

/** InnoDB settings shared by initialisation and start, so the redo log is not resized at start. */
function innodbArgs(flavor: Flavor): string[] {
  const args = ['--innodb-buffer-pool-size=32M', '--innodb-use-native-aio=0'];
  if (flavor === 'mariadb') args.push('--innodb-log-file-size=16M');
  return args;
}

// A private --tmpdir matters: at startup (also in bootstrap) the server deletes
// every #sql* file in its tmpdir, so servers sharing /tmp break each other's
// temporary tables (mariadb-install-db fails with "Unknown table 'mysql.tmp_user_sys'").
async function initDatadir(bin: ServerBinary, datadir: string, tmpDir: string): Promise<void> {
  if (bin.flavor === 'mariadb') {
    const installDb = findTool('mariadb-install-db') ?? findTool('mysql_install_db');
    if (!installDb) throw new ToolError('mariadb-install-db', 'not found on PATH: install mariadb-server');
    const r = await execa(
      installDb,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
        `--tmpdir=${tmpDir}`,
        ...runAsUserArgs(),
        ...innodbArgs(bin.flavor),
      ],
      { reject: false, all: true, timeout: 120_000 },
    );
    if (r.exitCode !== 0) throw new ToolError('mariadb-install-db', `failed (${r.signal ?? `exit ${r.exitCode}`})`, oneLineTail(r.all));
  } else {
    // MySQL: --initialize-insecure creates root@localhost with an empty password.
    const r = await execa(
      bin.path,
      ['--no-defaults', '--initialize-insecure', `--datadir=${datadir}`, `--tmpdir=${tmpDir}`, ...runAsUserArgs(), ...innodbArgs(bin.flavor)],
      { reject: false, all: true, timeout: 180_000 },
    );
    if (r.exitCode !== 0) throw new ToolError('mysqld --initialize-insecure', `failed (${r.signal ?? `exit ${r.exitCode}`})`, oneLineTail(r.all));
  }
}

interface Layout {
  baseDir: string;
  datadir: string;
  binlogDir: string;
  socket: string;
  errorLog: string;
  pidFile: string;
  tmpDir: string;
}

function serverArgs(bin: ServerBinary, l: Layout, port: number, serverId: number, opts: SandboxOptions, initFile?: string): string[] {
  const args = [
    '--no-defaults', // must be first
    `--datadir=${l.datadir}`,
    `--socket=${l.socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--pid-file=${l.pidFile}`,
    `--log-error=${l.errorLog}`,
    `--tmpdir=${l.tmpDir}`,
    `--server-id=${serverId}`,
    '--skip-name-resolve',
    '--performance-schema=OFF',
    // Throwaway server: trade durability for speed.
    '--innodb-doublewrite=OFF',
    '--innodb-flush-log-at-trx-commit=2',
    '--sync-binlog=0',
    ...innodbArgs(bin.flavor),
    ...runAsUserArgs(),
  ];
  if (bin.flavor === 'mysql') args.push('--mysqlx=OFF'); // else it grabs port 33060
  if (initFile) args.push(`--init-file=${initFile}`);
  if (opts.binlog ?? true) {
    args.push(`--log-bin=${join(l.binlogDir, 'binlog')}`, '--binlog-format=ROW');
  } else if (bin.flavor === 'mysql') {
    args.push('--skip-log-bin'); // binlog is on by default in MySQL 8
  }
  args.push(...(opts.extraArgs ?? []));
  return args;
}

async function tryConnect(socket: string, user: string, password: string): Promise<MysqlClient | undefined> {
  try {
    return await MysqlClient.connect({ user, password, host: 'localhost', port: 0, socket }, { connectTimeoutMs: 2000 });
  } catch {
    return undefined;
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

/** Gives every root account the password and makes sure root@127.0.0.1 exists (TCP clients). */
async function secureRoot(db: MysqlClient, password: string): Promise<void> {
  // Keep account changes (password hashes) out of the binlog that tests replay.
  await db.exec('SET SESSION sql_log_bin = 0');
  const roots = await db.query<{ host: string }>("SELECT Host AS host FROM mysql.user WHERE User = 'root'");
  if (!roots.some((r) => r.host === '127.0.0.1')) {
    await db.exec("CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY ?", [password], { sensitive: true });
    await db.exec("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  }
  for (const { host } of roots) {
    if (LOOPBACK_HOSTS.has(host)) {
      await db.exec('ALTER USER ?@? IDENTIFIED BY ?', ['root', host, password], { sensitive: true });
    } else {
      // mariadb-install-db adds root@<hostname>, which --skip-name-resolve ignores (ALTER/DROP
      // then fail with ER_CANNOT_USER). Unreachable with bind-address=127.0.0.1; drop it if possible.
      await db.exec('DROP USER ?@?', ['root', host]).catch(() => undefined);
    }
  }
  await db.exec('FLUSH PRIVILEGES');
}

function waitExit(sub: ResultPromise, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    sub.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

interface Launch {
  sub: ResultPromise;
  /** Connected as root over the socket; undefined when the server exited or the time ran out. */
  db: MysqlClient | undefined;
  exited: boolean;
}

interface Login {
  user: string;
  password: string;
  /** First start on a prepared datadir: the file creating the account. */
  initFile?: string;
}

/** Spawns the server (onSpawn sees it at once, for the cleanup registry) and waits until the account logs in over the socket. */
async function launch(bin: ServerBinary, l: Layout, port: number, serverId: number, opts: SandboxOptions, login: Login, timeoutMs: number, onSpawn: (sub: ResultPromise) => void): Promise<Launch> {
  const sub = execa(bin.path, serverArgs(bin, l, port, serverId, opts, login.initFile), {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
    reject: false,
    cleanup: true,
  });
  onSpawn(sub);
  let exited = false;
  void sub.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  let db: MysqlClient | undefined;
  while (!exited && Date.now() < deadline && !(db = await tryConnect(l.socket, login.user, login.password))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return { sub, db, exited };
}

/** Signals the server and waits for it to exit; SIGKILL when SIGTERM did not end it within 30 s. */
async function halt(sub: ResultPromise, graceful: boolean): Promise<void> {
  sub.kill(graceful ? 'SIGTERM' : 'SIGKILL');
  if (!(await waitExit(sub, graceful ? 30_000 : 10_000))) {
    sub.kill('SIGKILL');
    await waitExit(sub, 10_000);
  }
}

/** Starts a throwaway server; resolves once root can connect over TCP with the random password. */
export async function startSandboxServer(opts: SandboxOptions = {}): Promise<SandboxServer> {
  const bin = await findServerBinary();
  let parent = opts.parentDir ?? tmpdir();
  if (join(parent, 'dbops-sbx-XXXXXX', 'mysqld.sock').length > MAX_SOCKET_PATH) parent = '/tmp';
  const baseDir = await mkdtemp(join(parent, 'dbops-sbx-'));
  const l: Layout = {
    baseDir,
    datadir: opts.datadir ?? join(baseDir, 'data'),
    binlogDir: join(baseDir, 'binlog'),
    socket: join(baseDir, 'mysqld.sock'),
    errorLog: join(baseDir, 'error.log'),
    pidFile: join(baseDir, 'mysqld.pid'),
    tmpDir: join(baseDir, 'tmp'),
  };
  const entry: Disposable = { pid: undefined, dir: baseDir };
  register(entry);
  const started = Date.now();
  const serverId = opts.serverId ?? 1000 + Math.floor(Math.random() * 999_000);
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  let sub: ResultPromise | undefined;
  try {
    await mkdir(l.binlogDir);
    await mkdir(l.tmpDir);
    // On a prepared datadir our account comes from an init file and keeps its password; a new
    // one starts with a passwordless root that secureRoot() then gives a random password.
    let login: Login = { user: 'root', password: '' };
    if (opts.datadir) {
      const password = randomBytes(18).toString('hex');
      const initFile = join(baseDir, 'init.sql');
      await writeFile(initFile, sandboxAccountSql(password, ['localhost', '127.0.0.1']), { mode: 0o600 });
      login = { user: SANDBOX_ACCOUNT, password, initFile };
    } else {
      await initDatadir(bin, l.datadir, l.tmpDir);
    }

    // A port the OS just handed out can be taken by someone else before the
    // server binds it: retry a few times with a fresh one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const { db, exited } = await launch(bin, l, port, serverId, opts, login, timeoutMs, (s) => {
        sub = s;
        entry.pid = s.pid;
      });
      if (db) {
        // The account exists now: the file holding its password goes, and restarts need it no more.
        if (login.initFile) await rm(login.initFile, { force: true });
        const password = login.password || randomBytes(18).toString('hex');
        let version: string;
        try {
          if (!login.password) await secureRoot(db, password);
          version = (await db.query<{ v: string }>('SELECT VERSION() AS v'))[0]!.v;
        } finally {
          await db.close();
        }
        const conn: MysqlConn = { user: login.user, password, host: '127.0.0.1', port };
        // The current server process: undefined while restart() has it down.
        let running: ResultPromise | undefined = sub!;
        let lastPid = running.pid!;
        let done = false;
        let restarting = false;
        const finish = async (graceful: boolean): Promise<void> => {
          if (done) return;
          done = true;
          if (running) await halt(running, graceful);
          await rm(baseDir, { recursive: true, force: true, maxRetries: 3 });
          unregister(entry);
        };
        const restart = async (ro: RestartOptions = {}): Promise<void> => {
          if (done) throw new OperationError('sandbox server: restart() after stop()/kill()');
          if (restarting) throw new OperationError('sandbox server: restart() is already running');
          if (!running) throw new OperationError('sandbox server is not running (an earlier restart() failed)');
          restarting = true;
          try {
            await halt(running, ro.mode !== 'crash');
            running = undefined;
            entry.pid = undefined; // the dir stays registered
            let failure: { err: unknown } | undefined;
            try {
              await ro.whileDown?.();
            } catch (err) {
              failure = { err };
            }
            if (done) throw new OperationError('sandbox server was stopped while restart() had it down');
            const again = await launch(bin, l, port, serverId, opts, { user: login.user, password }, timeoutMs, (s) => {
              running = s;
              lastPid = s.pid!;
              entry.pid = s.pid;
            });
            if (!again.db) {
              await halt(again.sub, false);
              running = undefined;
              entry.pid = undefined;
              if (done) throw new OperationError('sandbox server was stopped while restart() was starting it');
              throw new ToolError(
                bin.path,
                `restarted server on port ${port} ${again.exited ? 'exited during startup' : `did not accept connections within ${timeoutMs} ms`} (error log tail follows)`,
                oneLineTail(await tail(l.errorLog)),
              );
            }
            await again.db.close().catch(() => undefined);
            if (done) throw new OperationError('sandbox server was stopped while restart() was starting it');
            if (failure) throw failure.err;
          } finally {
            restarting = false;
          }
        };
        log.debug({ port, baseDir, ms: Date.now() - started }, 'sandbox server started');
        return {
          driver: 'process',
          describe: () => ({ driver: 'process', engine: bin.path, serverVersion: version }),
          flavor: bin.flavor,
          url: formatConnectionUrl(conn),
          conn,
          port,
          socket: l.socket,
          baseDir,
          datadir: l.datadir,
          binlogDir: l.binlogDir,
          errorLog: l.errorLog,
          serverId,
          version,
          get pid() {
            return lastPid;
          },
          restart,
          stop: () => finish(true),
          kill: () => finish(false),
        };
      }
      await halt(sub!, false);
      const errTail = await tail(l.errorLog);
      if (exited && /already in use|bind on tcp\/ip port/i.test(errTail) && attempt < 3) continue;
      throw new ToolError(
        bin.path,
        `throwaway server ${exited ? 'exited during startup' : `did not accept connections within ${timeoutMs} ms`} (error log tail follows)`,
        oneLineTail(errTail),
      );
    }
  } catch (err) {
    if (sub) {
      sub.kill('SIGKILL');
      await waitExit(sub, 10_000);
    }
    await rm(baseDir, { recursive: true, force: true, maxRetries: 3 });
    unregister(entry);
    throw err;
  }
}
