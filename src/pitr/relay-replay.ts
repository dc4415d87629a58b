// Binlog replay by the target's own replication: the chain's files become the relay logs of
// a private replication connection, and the server's SQL thread(s) apply the row events
// natively (parallel workers, in source commit order) instead of mariadb-binlog decoding
// them to text for one client session to parse again — as myhoard does for MySQL. The
// one-session guarantees hold by construction: temporary tables live in the replication
// thread across relay files; the last file is cut at the planned stop (a transaction
// boundary), so nothing after it can be applied; completion is the target's gtid_slave_pos
// reaching the plan's GTID state, which also proves the stop was exact.
//
// It needs what only some targets give, so the caller falls back to the session replay
// when `probe` says no: a MariaDB target (MySQL targets are untested here), privileges for
// CHANGE MASTER / SET GLOBAL, no replication of its own, a server_id no event carries,
// replicated writes binlogged exactly when --binlog asks, and its relay log directory on
// this host (found through a probe connection whose files must appear here).
//
// Side effects, all undone at the end (also on failure or interrupt): a replication
// connection `dbops_pitr_<hex>` and its relay files, slave_parallel_threads and
// gtid_slave_pos (set to the base's GTID state for the run). A dbops killed mid-run leaves
// the connection; the next replay into that target removes a stopped one.
import { randomBytes } from 'node:crypto';
import { copyFile, link, readFile, readdir, rm, stat, truncate, writeFile, chown } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { MysqlConn } from '../mysql/connection-url.js';
import { MysqlClient } from '../mysql/client.js';
import { InterruptedError, OperationError } from '../errors.js';
import { log } from '../util/logger.js';
import type { PitrPlan } from './plan.js';
import { GtidState } from './gtid.js';

export const PARALLEL_MODES = ['conservative', 'optimistic', 'aggressive', 'minimal', 'none'] as const;
export type ParallelMode = (typeof PARALLEL_MODES)[number];

export interface RelaySettings {
  /** slave_parallel_threads for the run (0: the single SQL thread). */
  threads: number;
  /** slave_parallel_mode of the connection. */
  parallelMode: ParallelMode;
}

/** What the probe learned: where this target keeps relay logs, seen from this host. */
export interface RelayTarget {
  /** The connection name the files are named after. */
  connection: string;
  dir: string;
  /** `<relay base>-<connection>` (files are `<stem>.000001`…). */
  stem: string;
  indexPath: string;
  /** How the index names a file: `./` (relative to the datadir) or an absolute directory. */
  indexPrefix: string;
  owner: { uid: number; gid: number } | null;
}

export type Probe = { ok: true; target: RelayTarget } | { ok: false; reason: string };

const STALE_PREFIX = 'dbops_pitr_';

/** The relay applier could not be set up; nothing was applied (the session applier can take over). */
export class RelaySetupError extends OperationError {}

type Row = Record<string, string | number | null>;

async function variables(db: MysqlClient, names: string[]): Promise<Map<string, string | null>> {
  const rows = await db.query<{ Variable_name: string; Value: string }>(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => '?').join(', ')})`, names);
  const out = new Map<string, string | null>(names.map((n) => [n, null]));
  for (const r of rows) out.set(r.Variable_name.toLowerCase(), r.Value);
  return out;
}

const isPrivilegeError = (err: unknown): boolean => [1227, 1044, 1045, 1142, 1370].includes((err as { errno?: number }).errno ?? 0);

/**
 * Whether this target can apply the plan through relay logs, and where its relay files go.
 * Leaves nothing behind: the probe connection is removed again.
 */
export async function probeRelayTarget(conn: MysqlConn, plan: PitrPlan, binlog: boolean): Promise<Probe> {
  if (plan.flavor !== 'mariadb') return { ok: false, reason: 'the binlogs are MySQL binlogs (relay-log apply is tested with MariaDB only)' };
  if (plan.reached.gtidSet === null) return { ok: false, reason: 'the chain carries no GTIDs to follow the apply by' };
  const db = await MysqlClient.connect(conn);
  try {
    const v = await variables(db, ['version', 'server_id', 'log_bin', 'log_slave_updates', 'relay_log_basename', 'relay_log_index', 'datadir']);
    if (!/mariadb/i.test(v.get('version') ?? '')) return { ok: false, reason: `the target is MySQL ${v.get('version')} (relay-log apply is tested with MariaDB only)` };
    // Replicated writes reach the target's binlog exactly when log_slave_updates is on.
    const logBin = v.get('log_bin') === 'ON';
    const logsReplicated = logBin && v.get('log_slave_updates') === 'ON';
    if (logBin && logsReplicated !== binlog) {
      return { ok: false, reason: binlog ? 'the target does not binlog replicated writes (log_slave_updates=OFF) and --binlog asks for them' : 'the target binlogs replicated writes (log_slave_updates=ON) and the replay must stay out of its binlog (no --binlog)' };
    }
    let slaves: Row[];
    try {
      slaves = await db.query<Row>('SHOW ALL SLAVES STATUS');
    } catch (err) {
      if (isPrivilegeError(err)) return { ok: false, reason: `the target account may not manage replication (${(err as Error).message})` };
      throw err;
    }
    for (const s of slaves) {
      const name = String(s.Connection_name ?? '');
      if (!name.startsWith(STALE_PREFIX)) return { ok: false, reason: `the target is a replica itself (replication connection '${name}')` };
      if (s.Slave_SQL_Running === 'Yes') return { ok: false, reason: `another dbops replay is running on the target (connection '${name}')` };
      // Left by a dbops that was killed: its files are plaintext binlog data.
      log.warn({ connection: name }, 'removing a replication connection left by an interrupted replay');
      await db.exec('RESET SLAVE ? ALL', [name]);
    }
    const connection = `${STALE_PREFIX}${randomBytes(4).toString('hex')}`;
    try {
      await db.exec("CHANGE MASTER ? TO MASTER_HOST='dbops-pitr.invalid', MASTER_USE_GTID=no", [connection]);
    } catch (err) {
      if (isPrivilegeError(err)) return { ok: false, reason: `the target account may not manage replication (${(err as Error).message})` };
      throw err;
    }
    try {
      const status = (await db.query<Row>('SHOW SLAVE ? STATUS', [connection]))[0];
      const relayFile = String(status?.Relay_Log_File ?? '');
      const dirs = [...new Set([v.get('relay_log_basename'), v.get('relay_log_index'), v.get('datadir') ? join(v.get('datadir')!, 'x') : null].filter((x): x is string => !!x).map((p) => dirname(p)))];
      const found = await findProbeIndex(dirs, connection, relayFile);
      if (!found) return { ok: false, reason: `the target's relay log directory (${dirs.join(' or ')}) is not on this host` };
      return { ok: true, target: { connection, ...found } };
    } finally {
      await db.exec('RESET SLAVE ? ALL', [connection]).catch((err: Error) => log.warn({ connection, err: err.message }, 'could not remove the probe replication connection'));
    }
  } finally {
    await db.close();
  }
}

/** The probe connection's index file, if this host sees it: the proof that its directory is the target's. */
async function findProbeIndex(dirs: string[], connection: string, relayFile: string): Promise<Omit<RelayTarget, 'connection'> | undefined> {
  if (!/\.\d{6}$/.test(relayFile)) return undefined;
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    const index = names.find((n) => n.endsWith(`-${connection}.index`));
    if (!index || !names.includes(basename(relayFile))) continue;
    const line = (await readFile(join(dir, index), 'utf8').catch(() => '')).split('\n')[0] ?? '';
    if (!line.endsWith(basename(relayFile))) continue;
    const st = await stat(join(dir, basename(relayFile)));
    return {
      dir,
      stem: basename(relayFile).replace(/\.\d{6}$/, ''),
      indexPath: join(dir, index),
      indexPrefix: line.slice(0, line.length - basename(relayFile).length),
      owner: process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : null,
    };
  }
  return undefined;
}

export interface RelayReplayOptions {
  plan: PitrPlan;
  /** Local decrypted chain files, in order (not modified: linked or copied). */
  paths: string[];
  conn: MysqlConn;
  target: RelayTarget;
  settings: RelaySettings;
  signal?: AbortSignal;
  onProgress?: (binlogBytes: number) => void;
  pollMs?: number;
}

/** Applies the plan's chain through relay logs; see the file comment. Returns seconds spent. */
export async function relayReplay(o: RelayReplayOptions): Promise<number> {
  const t0 = performance.now();
  const { plan, target } = o;
  const files = plan.chain.map((c, i) => ({ ...c, relay: `${target.stem}.${String(i + 1).padStart(6, '0')}`, path: o.paths[i]! }));
  const placed: string[] = [];
  const db = await MysqlClient.connect(o.conn);
  const saved = await variables(db, ['slave_parallel_threads', 'gtid_slave_pos']);
  let created = false;
  let started = false;
  try {
    for (const [i, f] of files.entries()) {
      const dest = join(target.dir, f.relay);
      placed.push(dest);
      await place(f.path, dest, i === files.length - 1 ? f.to : null);
      if (target.owner) await chown(dest, target.owner.uid, target.owner.gid);
    }
    placed.push(target.indexPath);
    await writeFile(target.indexPath, files.map((f) => `${target.indexPrefix}${f.relay}\n`).join(''), { mode: 0o660 });
    if (target.owner) await chown(target.indexPath, target.owner.uid, target.owner.gid);

    await db.exec('SET GLOBAL slave_parallel_threads = ?', [o.settings.threads]);
    await db.exec('SET GLOBAL gtid_slave_pos = ?', [plan.base.consistentPoint.gtidSet ?? '']);
    // MASTER_LOG_FILE must be set: with it empty the SQL thread crashes MariaDB 10.11 (compare_log_name).
    const first = files[0]!;
    await db.exec(
      "CHANGE MASTER ? TO MASTER_HOST='dbops-pitr.invalid', MASTER_USE_GTID=no, MASTER_LOG_FILE=?, MASTER_LOG_POS=?, RELAY_LOG_FILE=?, RELAY_LOG_POS=?",
      [target.connection, first.file, first.from, first.relay, first.from],
    );
    created = true;
    await db.exec(`SET GLOBAL \`${target.connection}\`.slave_parallel_mode = ?`, [o.settings.parallelMode]);
    if (o.signal?.aborted) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
    await db.exec('START SLAVE ? SQL_THREAD', [target.connection]);
    started = true;
    const t1 = performance.now();
    await waitApplied(db, o, files);
    log.debug({ setupSeconds: (t1 - t0) / 1000, applySeconds: (performance.now() - t1) / 1000 }, 'relay-log apply done');
    return (performance.now() - t0) / 1000;
  } catch (err) {
    if (started || err instanceof InterruptedError) throw err;
    throw new RelaySetupError(`the target could not take the chain as relay logs (${(err as Error).message})`, { cause: err });
  } finally {
    if (started) await db.exec('STOP SLAVE ?', [target.connection]).catch((err: Error) => log.warn({ err: err.message }, 'could not stop the replay connection'));
    if (created) await db.exec('RESET SLAVE ? ALL', [target.connection]).catch((err: Error) => log.warn({ connection: target.connection, err: err.message }, 'could not remove the replay connection; remove it with RESET SLAVE … ALL'));
    for (const [name, value] of saved) {
      await db.exec(`SET GLOBAL ${name} = ?`, [name === 'slave_parallel_threads' ? Number(value) : (value ?? '')]).catch((err: Error) => log.warn({ variable: name, value, err: err.message }, 'could not restore a replication setting on the target'));
    }
    await db.close().catch(() => undefined);
    // RESET SLAVE ALL removes the files it knows; these are plaintext, so make sure.
    await Promise.all(placed.map((p) => rm(p, { force: true })));
  }
}

/**
 * Hard link where the filesystem allows (no copy). Only a last file that goes on past the
 * planned stop is copied and cut, so that the cached file stays whole.
 */
async function place(from: string, to: string, cutAt: number | null): Promise<void> {
  if (cutAt !== null && (await stat(from)).size <= cutAt) cutAt = null;
  if (cutAt === null) {
    try {
      await link(from, to);
      return;
    } catch (err) {
      if (!['EXDEV', 'EPERM', 'EMLINK'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  await copyFile(from, to);
  if (cutAt !== null && (await stat(to)).size > cutAt) await truncate(to, cutAt);
}

/**
 * Waits until the target's GTID state is the plan's; an SQL thread that stops is the failure it
 * names. MASTER_GTID_WAIT returns as the last transaction commits (a sleep between polls
 * would add half its length to every replay on average); its timeout paces the progress and
 * stop checks.
 */
async function waitApplied(db: MysqlClient, o: RelayReplayOptions, files: Array<{ file: string; relay: string; from: number; to: number }>): Promise<void> {
  const want = GtidState.parse('mariadb', o.plan.reached.gtidSet);
  const total = files.reduce((n, f) => n + (f.to - f.from), 0);
  const waitSeconds = (o.pollMs ?? 500) / 1000;
  for (;;) {
    if (o.signal?.aborted) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
    await db.query('SELECT MASTER_GTID_WAIT(?, ?)', [o.plan.reached.gtidSet, waitSeconds]);
    const [g] = await db.query<{ g: string }>('SELECT @@GLOBAL.gtid_slave_pos AS g');
    if (GtidState.parse('mariadb', g?.g ?? '').equals(want)) {
      o.onProgress?.(total);
      return;
    }
    const s = (await db.query<Row>('SHOW SLAVE ? STATUS', [o.target.connection]))[0] ?? {};
    const i = files.findIndex((f) => f.relay === basename(String(s.Relay_Log_File ?? '')));
    if (i >= 0) o.onProgress?.(files.slice(0, i).reduce((n, f) => n + (f.to - f.from), 0) + Math.max(0, Number(s.Relay_Log_Pos ?? 0) - files[i]!.from));
    if (s.Slave_SQL_Running !== 'Yes') {
      const at = s.Relay_Master_Log_File ? `${String(s.Relay_Master_Log_File)}:${String(s.Exec_Master_Log_Pos)}` : 'its start';
      const why = s.Last_SQL_Error ? `error ${String(s.Last_SQL_Errno)}: ${String(s.Last_SQL_Error)}` : 'the SQL thread stopped';
      throw new OperationError(`binlog replay failed (the relay-log apply stopped after ${at}, GTID state ${g?.g || 'none'}: ${why}): the target holds the base backup and part of the replay; restore again after fixing the cause`.replace(/\s+/g, ' '));
    }
  }
}
