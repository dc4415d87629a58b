// `dbops restore`: streams parts back (storage → age -d → zstd -d → mysql client) into a
// target server in dependency-safe order, tables in parallel, in a fast session (no
// binlog unless asked; unique/foreign-key checks off from the dump preamble). A non-empty
// target is refused unless forced, before anything is written.
import { pipeline, type Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { planRestore, type RestoreScope, type PlannedPart, type RestorePlan } from './select-parts.js';
import { StripTriggers } from './strip-triggers.js';
import { DeferSecondaryIndexes } from './defer-indexes.js';
import { LoadDataRouter, ClientGoneError, makeFifo, type StatementProbe } from './load-data.js';
import { setTimeout as delay } from 'node:timers/promises';
import { openPartSource, describePart, checkStoredObject, ReadingStoppedError } from '../pipeline/part-download.js';
import { withConnection, type MysqlClient } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../mysql/flavor.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { ClientSession, type ClientSpec } from './client-session.js';
import { quoteIdent } from '../verify/quote-ident.js';
import { UsageError, InterruptedError, VerificationError } from '../errors.js';
import { log } from '../util/logger.js';

export interface RestoreOptions extends RestoreScope {
  repo: Repository;
  manifest: BackupManifest;
  target: MysqlConn;
  identityFile: string;
  force?: boolean;
  /** Write the restore into the target's binlog (off by default: faster, and a restore is not new history). */
  binlog?: boolean;
  parallel?: number;
  signal?: AbortSignal;
  /** Told when a part begins writing to the target and when it is loaded (partial-target.ts reports a failure with it). */
  onPart?: (step: PlannedPart, state: 'started' | 'loaded') => void;
  /** Told the plan's raw bytes once, before loading. */
  onTotal?: (rawBytes: number) => void;
  /** Raw bytes handed to the target's clients so far (all parts together). */
  onProgress?: (rawBytes: number) => void;
}

export interface RestoreResult {
  backupId: string;
  databases: string[];
  parts: Array<{ key: string; what: string; seconds: number; rawBytes: number }>;
  seconds: number;
  rawBytes: number;
  strippedTriggers: number;
  /** Tables whose rows went in through LOAD DATA (the others through their INSERTs), with the
   *  rows their part held, counted as they were converted. */
  loadData: Array<{ database: string; table: string; rows: number }>;
}

interface TargetSession {
  clientTool: string;
  mariadb: boolean;
  /** Where table parts get their LOAD DATA FIFO; undefined when the target refuses LOCAL INFILE. */
  fifoDir: string | undefined;
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  if (options.manifest.kind === 'physical') throw new UsageError(`backup ${options.manifest.id} is physical: it restores into a datadir (dbops restore --datadir DIR), not into a running server`);
  const started = performance.now();
  const plan = planRestore(options.manifest, options);
  const session = await withConnection(options.target, async (db) => {
    const existing = await existingTargets(db, plan.targets);
    if (existing.length && !options.force) {
      throw new UsageError(`${existing[0]} on the target: restore into an empty target, choose --into-schema, or pass --force to overwrite`);
    }
    const info = await readServerInfo(db);
    if (!options.binlog) await checkCanSkipBinlog(db);
    // A part is checked as it loads, after its DROP TABLE ran: existing tables are only
    // overwritten once every part that will be loaded was read back whole and matched.
    // The key is tried on the smallest part first, so a wrong one changes nothing either.
    await checkIdentityOpens(options.repo, plan, options.identityFile);
    if (existing.length) await checkBeforeOverwrite(options.repo, plan, existing);
    for (const d of plan.createDatabases) {
      if (!d.fromPart) await db.exec(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(d.name)} CHARACTER SET utf8mb4`);
    }
    return { clientTool: resolveTools(flavorProfile(info)).client, mariadb: info.flavor === 'mariadb', localInfile: await allowsLocalInfile(db) };
  });
  const result: RestoreResult = { backupId: options.manifest.id, databases: plan.createDatabases.map((d) => d.name), parts: [], seconds: 0, rawBytes: 0, strippedTriggers: 0, loadData: [] };
  const progress = new RestoreProgress(plan);
  options.onTotal?.([...plan.createDatabases.flatMap((d) => (d.fromPart ? [d.fromPart] : [])), ...plan.steps.map((s) => s.part)].reduce((n, p) => n + p.rawBytes, 0));
  let sent = 0;
  const count = options.onProgress ? (n: number): void => options.onProgress!((sent += n)) : undefined;
  // FIFOs for LOAD DATA live in a private (0700) temp dir, removed whatever happens.
  const fifoDir = session.localInfile ? await mkdtemp(join(tmpdir(), 'dbops-load-')) : undefined;
  try {
    const apply = async (step: PlannedPart): Promise<void> => {
      progress.started(step);
      await applyPart(step, { ...session, fifoDir }, options, result, count);
      progress.finished(step);
    };
    // Database parts first (CREATE DATABASE with the original character set).
    for (const d of plan.createDatabases) if (d.fromPart) await apply({ part: d.fromPart, stripTriggers: false });
    const stages = groupByStage(plan.steps);
    for (const stage of stages) await runLimited(biggestFirst(stage), options.parallel ?? 2, apply, options.signal);
  } catch (err) {
    // The target was changed part by part: what it holds now, for the caller to say
    // (withPartialTarget, which may also have removed what the run created).
    if (err instanceof InterruptedError) err.message = `interrupted by ${err.signal}`;
    if (err instanceof Error) restoreProgressOf.set(err, progress.describe());
    throw err;
  } finally {
    if (fifoDir) await rm(fifoDir, { recursive: true, force: true });
  }
  result.seconds = (performance.now() - started) / 1000;
  log.info({ backupId: options.manifest.id, seconds: Math.round(result.seconds * 10) / 10, parts: result.parts.length, rawBytes: result.rawBytes }, 'restore finished');
  return result;
}

/** What a failed restore's parts did to the target, by error (see withPartialTarget). */
export const restoreProgressOf = new WeakMap<Error, string>();

/** Which parts reached the target, for the message of a restore that stopped. */
class RestoreProgress {
  private readonly running = new Set<PlannedPart>();
  private readonly done: PlannedPart[] = [];
  private readonly total: number;

  constructor(plan: RestorePlan) {
    this.total = plan.steps.length + plan.createDatabases.filter((d) => d.fromPart).length;
  }

  started(step: PlannedPart): void {
    this.running.add(step);
  }

  finished(step: PlannedPart): void {
    this.running.delete(step);
    this.done.push(step);
  }

  describe(): string {
    const name = (s: PlannedPart): string => (s.part.table !== undefined ? `${s.targetDatabase ?? s.part.database}.${s.part.table}` : s.part.kind === 'accounts' ? 'the accounts' : `${s.targetDatabase ?? s.part.database} (${s.part.kind})`);
    const untouched = this.total - this.done.length - this.running.size;
    const partial = [...this.running].map(name);
    return [
      `the restore stopped with ${this.done.length} of ${this.total} parts applied`,
      partial.length ? `${partial.join(', ')} ${partial.length === 1 ? 'is' : 'are'} dropped or partly loaded` : '',
      untouched ? `${untouched} part(s) not started (those tables are as they were)` : '',
      'run the restore again (with --force) once the cause is fixed',
    ]
      .filter(Boolean)
      .join('; ');
  }
}

/** The smallest part the restore loads, decrypted whole: a wrong age identity is refused before anything changes. */
async function checkIdentityOpens(repo: Repository, plan: RestorePlan, identityFile: string): Promise<void> {
  const parts = [...plan.createDatabases.flatMap((d) => (d.fromPart ? [d.fromPart] : [])), ...plan.steps.map((s) => s.part)];
  const smallest = parts.sort((a, b) => a.storedBytes - b.storedBytes)[0];
  if (!smallest) return;
  const src = await openPartSource(repo.storage, smallest, identityFile);
  src.raw.resume();
  try {
    await src.done;
  } catch (err) {
    if (err instanceof VerificationError) err.message = `${err.message}; nothing on the target was changed`;
    throw err;
  }
}

/** Every stored object the restore will load, read back and hashed before anything existing is dropped. */
async function checkBeforeOverwrite(repo: Repository, plan: RestorePlan, existing: string[]): Promise<void> {
  const parts = [...plan.createDatabases.flatMap((d) => (d.fromPart ? [d.fromPart] : [])), ...plan.steps.map((s) => s.part)];
  const bytes = parts.reduce((n, p) => n + p.storedBytes, 0);
  log.info({ parts: parts.length, storedBytes: bytes, overwriting: existing.length }, 'checking every part before overwriting existing tables');
  try {
    await runLimited(parts, 2, (p) => checkStoredObject(repo.storage, p));
  } catch (err) {
    if (err instanceof VerificationError) err.message = `${err.message}; nothing on the target was changed (every part is checked before existing tables are overwritten)`;
    throw err;
  }
}
/** Tables and sequences load in parallel; views, routines, events, accounts one by one after them. */
function groupByStage(steps: PlannedPart[]): PlannedPart[][] {
  const stages: PlannedPart[][] = [];
  let last: string | undefined;
  for (const s of steps) {
    const stage = s.part.kind === 'table' || s.part.kind === 'sequence' ? 'data' : s.part.kind;
    if (stage !== last) stages.push([]);
    stages[stages.length - 1]!.push(s);
    last = stage;
  }
  return stages;
}

/** Sequences first (a table's DEFAULT may name one), then longest first: the last table to finish is a small one, not the biggest started late. */
function biggestFirst(stage: PlannedPart[]): PlannedPart[] {
  const rank = (p: PlannedPart): number => (p.part.kind === 'sequence' ? 0 : 1);
  return [...stage].sort((a, b) => rank(a) - rank(b) || b.part.rawBytes - a.part.rawBytes);
}

async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      if (signal?.aborted) throw new InterruptedError(String(signal.reason ?? 'signal'));
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

async function applyPart(step: PlannedPart, target: TargetSession, options: RestoreOptions, result: RestoreResult, count?: (bytes: number) => void): Promise<void> {
  const t0 = performance.now();
  const { part } = step;
  const fifo = target.fifoDir && part.kind === 'table' ? await makeFifo(target.fifoDir, part.key.replace(/[^A-Za-z0-9]+/g, '_')) : undefined;
  const source = await openPartSource(options.repo.storage, part, options.identityFile);
  const spec: ClientSpec = {
    clientTool: target.clientTool,
    credentials: options.target,
    ...(step.targetDatabase !== undefined ? { database: step.targetDatabase } : {}),
    // CHECK constraints held on the source; MariaDB can skip re-checking them (~3% of a
    // big table's load), as foreign keys are.
    preamble: `${options.binlog ? '' : 'SET SESSION sql_log_bin=0;\n'}SET SESSION foreign_key_checks=0, unique_checks=0;\n${target.mariadb ? 'SET SESSION check_constraint_checks=0;\n' : ''}`,
    ...(fifo ? { localInfile: true } : {}),
  };
  // Interrupted: stop fetching; the loader kills its client on the same signal.
  const onAbort = (): void => source.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let stripper: StripTriggers | undefined;
  let input: Readable = source.raw;
  if (part.kind === 'table') {
    // Secondary indexes are built after the data (sorted index build): the RTO win.
    // pipeline(), not pipe(): a failing source must end the loader's input with the error.
    input = pipeline(input, new DeferSecondaryIndexes(), () => undefined);
    if (step.stripTriggers) input = pipeline(input, (stripper = new StripTriggers()), () => undefined);
  }
  // One connection per table: loading one table over several was measured slower here
  // (2 cores: the server is the bottleneck and concurrent inserts into one table contend).
  options.onPart?.(step, 'started');
  // The load is also stopped when its input fails: its client may be waiting on the server
  // (a DROP TABLE behind a lock) with rows queued for it, and would never finish.
  const stopLoad = new AbortController();
  const loadSignal = options.signal ? AbortSignal.any([options.signal, stopLoad.signal]) : stopLoad.signal;
  const load = loadSerially(input, spec, loadSignal, fifo, (marker) => statementRuns(options.target, marker), count);
  let first: 'load' | 'source' | undefined;
  load.catch(() => (first ??= 'load'));
  source.done.catch((e: unknown) => {
    if (!(e instanceof ReadingStoppedError)) first ??= 'source';
  });
  try {
    const [loaded] = await Promise.all([load, source.done]);
    for (const t of loaded) result.loadData.push({ database: step.targetDatabase ?? part.database ?? '', ...t });
    if (stripper?.stripped) result.strippedTriggers += stripper.stripped;
  } catch (err) {
    const sourceFailure = source.done.then(() => undefined, (e: unknown) => e);
    source.cancel();
    input.destroy();
    if (first === 'source') stopLoad.abort();
    const loadFailure = await load.then(() => undefined, (e: unknown) => e);
    if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));
    // Damage or a wrong key found in the part explains everything after it, and so does a
    // source that failed first (its client was stopped for it); otherwise the client's own
    // error (a SQL error, a lost connection) is the story, not the pipe it broke.
    const fromSource = await sourceFailure;
    if (fromSource instanceof VerificationError || fromSource instanceof UsageError) throw fromSource;
    if (first === 'source' && fromSource) throw fromSource;
    throw loadFailure ?? fromSource ?? err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  options.onPart?.(step, 'loaded');
  const seconds = (performance.now() - t0) / 1000;
  result.parts.push({ key: part.key, what: describePart(part), seconds, rawBytes: part.rawBytes });
  result.rawBytes += part.rawBytes;
  log.debug({ part: part.key, seconds }, 'part restored');
}

/**
 * Everything through one client, in order; a table's rows through LOAD DATA when `fifo` is
 * given. Resolves with the tables loaded that way and the rows counted in each.
 */
async function loadSerially(
  input: AsyncIterable<Buffer>,
  spec: ClientSpec,
  signal: AbortSignal | undefined,
  fifo: string | undefined,
  statementProbe: StatementProbe,
  count?: (bytes: number) => void,
): Promise<Array<{ table: string; rows: number }>> {
  const client = new ClientSession(spec);
  const router = fifo ? new LoadDataRouter(client, fifo, statementProbe) : undefined;
  const onAbort = (): void => client.kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (router) {
      for await (const chunk of input) {
        await router.write(chunk);
        count?.(chunk.length);
      }
      await router.end();
    } else {
      for await (const chunk of input) {
        await client.write(chunk);
        count?.(chunk.length);
      }
    }
    await client.finish();
    router?.release();
    return router?.loaded ?? [];
  } catch (err) {
    router?.destroy();
    // The FIFO broke because the client stopped reading (its statement failed): let it
    // finish dying, and report its own error, not the broken pipe.
    const brokenFifo = (err as NodeJS.ErrnoException).code === 'EPIPE' || err instanceof ClientGoneError;
    if (brokenFifo) await Promise.race([client.gone(), delay(5000, undefined, { ref: false })]);
    client.kill();
    const own = await client.exitError();
    throw brokenFifo ? (own ?? err) : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Whether a statement with `marker` in its text runs on the target (undefined: cannot tell, e.g. it is down). */
async function statementRuns(target: MysqlConn, marker: string): Promise<boolean | undefined> {
  try {
    return await withConnection(target, async (db) => {
      // Our own query holds the marker too: it is left out by its connection id.
      const rows = await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INSTR(INFO, ?) > 0', [marker]);
      return Number(rows[0]?.n) > 0;
    });
  } catch {
    return undefined;
  }
}

/** LOAD DATA LOCAL needs the server's consent (MySQL 8 turns it off by default). */
async function allowsLocalInfile(db: MysqlClient): Promise<boolean> {
  const rows = await db.query<{ v: number | string }>('SELECT @@GLOBAL.local_infile AS v');
  return Number(rows[0]?.v) === 1;
}

/** The targets that already hold something, described for a message ("table a.b already exists"). */
async function existingTargets(db: MysqlClient, targets: Array<{ database: string; table?: string }>): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    const rows = await db.query<{ n: number }>(
      t.table === undefined
        ? 'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?'
        : 'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      t.table === undefined ? [t.database] : [t.database, t.table],
    );
    if (Number(rows[0]?.n ?? 0) > 0) out.push(t.table === undefined ? `database ${t.database} already has tables` : `table ${t.database}.${t.table} already exists`);
  }
  return out;
}

async function checkCanSkipBinlog(db: MysqlClient): Promise<void> {
  try {
    await db.exec('SET SESSION sql_log_bin=0');
  } catch {
    throw new UsageError('the target user may not turn off binary logging for its session (needs SUPER or BINLOG ADMIN): grant it, or pass --binlog to write the restore into the target binlog');
  }
}
