// `dbops pitr`: plan (validated whole before the target is touched) → restore the base
// backup (the spine's restore, same scope) → fetch and check the chain → replay it up to the
// planned point (replay.ts: the target's replication reading it as relay logs, or one client
// session). Reports the point reached and each phase's time.
// The decrypted binlogs live in a private temp dir removed on every path. A failure after
// the plan removes what the recovery created on the target (partial-target.ts) and says
// what is left; a base found damaged while it is restored is answered with the flag that
// starts from the previous good base.
import type { Repository } from '../repo/repository.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../mysql/flavor.js';
import { runRestore } from '../restore/run-restore.js';
import type { RestoreScope } from '../restore/select-parts.js';
import { InterruptedError, OperationError, VerificationError } from '../errors.js';
import { withPartialTarget } from '../restore/partial-target.js';
import { parseTableRef, planRestore } from '../restore/select-parts.js';
import { quoteIdent } from '../verify/quote-ident.js';
import { baseFailedMessage } from './choose-base.js';
import { log } from '../util/logger.js';
import { planPitr, type PitrPlan, type ReachedPoint } from './plan.js';
import { chooseApplier, DEFAULT_APPLIER, replayChain, type ApplierSettings, type ReplayResult } from './replay.js';
import type { Probe } from './relay-replay.js';
import { SegmentCache } from './segment-cache.js';
import { databaseExists, matchSourceDefaults } from './renamed-database.js';
import { binlogTool } from './binlog-find.js';
import { withPhysicalBase } from './physical-base.js';
import type { PitrTarget } from './target-spec.js';

export interface PitrOptions {
  repo: Repository;
  identityFile: string;
  target: PitrTarget;
  /** Server to restore into (a logical base); unused with dryRun. */
  conn?: MysqlConn;
  /** Empty directory to recover into from a physical base (the plan then picks physical bases only). */
  datadir?: string;
  scope?: RestoreScope;
  dryRun?: boolean;
  sourceId?: string;
  force?: boolean;
  binlog?: boolean;
  parallel?: number;
  signal?: AbortSignal;
  now?: Date;
  /** --base: `previous`, or a backup id or unique prefix. */
  base?: string;
  /** Leave what a failed recovery created on the target (default: drop it). */
  keepPartial?: boolean;
  /** How the binlogs are applied (pitr.replay…); default: the relay-log applier where the target allows it. */
  applier?: ApplierSettings;
  /** Restore then replay as one figure: raw bytes of the base loaded plus binlog bytes replayed, of `total`. */
  onProgress?: (done: number, total: number) => void;
}

export interface PitrResult {
  plan: PitrPlan;
  dryRun: boolean;
  reached: ReachedPoint | null;
  /** Seconds per phase: plan, restore, fetch, replay. */
  phases: Record<string, number>;
  replay: (ReplayResult & { bytesPerSecond: number }) | null;
}

export async function runPitr(o: PitrOptions): Promise<PitrResult> {
  const phases: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = (phases[name] ?? 0) + (performance.now() - t0) / 1000;
    }
  };
  const cache = await SegmentCache.create(o.repo, o.identityFile);
  try {
    const plan = await timed('plan', () =>
      planPitr({ repo: o.repo, target: o.target, scope: o.scope ?? {}, cache, kind: o.datadir !== undefined ? 'physical' : 'logical', ...(o.sourceId ? { sourceId: o.sourceId } : {}), ...(o.now ? { now: o.now } : {}), ...(o.base !== undefined ? { base: o.base } : {}) }),
    );
    log.info({ base: plan.base.id, files: plan.chain.length, stop: plan.stop, reached: plan.reached }, 'pitr plan');
    if (o.dryRun || (!o.conn && o.datadir === undefined)) return { plan, dryRun: true, reached: null, phases, replay: null };
    if (o.datadir !== undefined) {
      // A physical base: restored into the datadir, replayed through a server started on it.
      const base = await o.repo.backups.read(plan.base.id);
      const replayBytes = plan.chain.reduce((n, c) => n + (c.to - c.from), 0);
      let baseBytes = 0;
      const { result: replay } = await withPhysicalBase(
        {
          repo: o.repo,
          manifest: base,
          identityFile: o.identityFile,
          datadir: o.datadir,
          keepPartial: o.keepPartial ?? false,
          phases,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onProgress ? { onTotal: (n: number) => (baseBytes = n), onProgress: (n: number) => o.onProgress!(n, baseBytes + replayBytes) } : {}),
        },
        async (conn) => {
          const tools = await replayTools(conn, plan);
          const onReplay = o.onProgress ? (n: number): void => o.onProgress!(baseBytes + n, baseBytes + replayBytes) : undefined;
          return replayPlan(o.repo, plan, cache, conn, tools, phases, { binlog: false, ...(o.signal ? { signal: o.signal } : {}), ...(onReplay ? { onProgress: onReplay } : {}) });
        },
      );
      log.info({ reached: plan.reached, phases, datadir: o.datadir }, 'pitr finished');
      return { plan, dryRun: false, reached: plan.reached, phases, replay };
    }
    if (!o.conn) throw new Error('unreachable: a recovery has a target server or a datadir');
    const conn = o.conn;
    const tools = await replayTools(conn, plan);
    const applier = o.applier ?? DEFAULT_APPLIER;
    // Before the target is touched: a --replay relay the target cannot do is refused with nothing changed.
    const probe = plan.chain.length > 0 ? await chooseApplier(plan, conn, applier, o.binlog ?? false) : undefined;
    const manifest = await o.repo.backups.read(plan.base.id);
    const scope = o.scope ?? {};
    const scoped = scope.database !== undefined || scope.table !== undefined;
    const partialOptions = {
      target: conn,
      operation: 'pitr' as const,
      // A full recovery replays whatever databases the binlog creates; a scoped one writes only its own.
      ...(scoped ? { databases: planRestore(manifest, scope).createDatabases.map((d) => d.name) } : {}),
      keepPartial: o.keepPartial ?? false,
      binlog: o.binlog ?? false,
      backupId: manifest.id,
    };
    const replayBytes = plan.chain.reduce((n, c) => n + (c.to - c.from), 0);
    let baseBytes = 0;
    const progress = o.onProgress
      ? { onTotal: (n: number) => (baseBytes = n), onProgress: (n: number) => o.onProgress!(n, baseBytes + replayBytes) }
      : {};
    const renamed = scope.intoSchema !== undefined && plan.chain.length > 0 ? { from: scope.table ? parseTableRef(scope.table).database : scope.database!, into: scope.intoSchema } : undefined;
    const renamedIsNew = renamed ? !(await databaseExists(conn, renamed.into)) : false;
    const replay = await withPartialTarget(partialOptions, async (partial) => {
      await timed('restore', () =>
        runRestore({ repo: o.repo, manifest, target: conn, identityFile: o.identityFile, ...scope, force: o.force ?? false, binlog: o.binlog ?? false, parallel: o.parallel ?? 2, onPart: partial.onPart, ...progress, ...(o.signal ? { signal: o.signal } : {}) }).catch((err: unknown) => {
          if (err instanceof VerificationError) throw new VerificationError(baseFailedMessage(manifest.id, err.message, plan.previousBase, plan.requested), err.object, { cause: err });
          throw err;
        }),
      );
      if (renamed && renamedIsNew) await matchSourceDefaults({ repo: o.repo, manifest, identityFile: o.identityFile, conn, ...renamed });
      partial.replaying();
      const onReplay = o.onProgress ? (n: number): void => o.onProgress!(baseBytes + n, baseBytes + replayBytes) : undefined;
      const r = await replayPlan(o.repo, plan, cache, conn, tools, phases, { binlog: o.binlog ?? false, applier, ...(probe ? { probe } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(onReplay ? { onProgress: onReplay } : {}) });
      if (scoped) await checkScopeOnTarget(conn, scope);
      return r;
    });
    log.info({ reached: plan.reached, phases }, 'pitr finished');
    return { plan, dryRun: false, reached: plan.reached, phases, replay };
  } finally {
    await cache.dispose();
  }
}

/**
 * The recovered table or database is on the target. The plan already refused a scope the
 * binlog drops; this catches a removal its statement matching missed, so that an empty
 * schema is never reported as recovered.
 */
async function checkScopeOnTarget(conn: MysqlConn, scope: RestoreScope): Promise<void> {
  const { database, table } = scope.table ? parseTableRef(scope.table) : { database: scope.database!, table: undefined };
  const into = scope.intoSchema ?? database;
  const present = await withConnection(conn, async (db) =>
    table === undefined
      ? (await db.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [into])).length > 0
      : (await db.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [into, table])).length > 0,
  );
  if (!present) {
    const what = table === undefined ? `database ${quoteIdent(into)}` : `table ${quoteIdent(into)}.${quoteIdent(table)}`;
    throw new OperationError(`the replay left no ${what} on the target: a statement in the replayed binlog removed it; find it with dbops binlog find --type ddl and recover with --before it`);
  }
}

/** The decoder of the binlogs' flavour, the client of the target's. */
async function replayTools(conn: MysqlConn, plan: PitrPlan): Promise<{ binlog: string; client: string }> {
  const client = await withConnection(conn, async (db) => resolveTools(flavorProfile(await readServerInfo(db))).client);
  return { binlog: binlogTool(plan.flavor), client };
}

async function replayPlan(
  repo: Repository,
  plan: PitrPlan,
  cache: SegmentCache,
  conn: MysqlConn,
  tools: { binlog: string; client: string },
  phases: Record<string, number>,
  o: Pick<PitrOptions, 'binlog' | 'signal' | 'applier'> & { probe?: Probe; onProgress?: (binlogBytes: number) => void },
): Promise<ReplayResult & { bytesPerSecond: number }> {
  const t0 = performance.now();
  const { segments } = await repo.binlogs.chainSegments(plan.sourceId);
  const chain = plan.chain.map((c) => segments.find((s) => s.file === c.file)!);
  // Fetch two at a time (storage and age overlap), then decode the whole chain in one session.
  const paths: string[] = [];
  for (let i = 0; i < chain.length; i++) {
    if (o.signal?.aborted) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
    cache.prefetch(chain[i + 1]);
    paths.push(await cache.fetch(chain[i]!));
  }
  phases.fetch = (phases.fetch ?? 0) + (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const r = await replayChain({ plan, paths, target: conn, tools, binlog: o.binlog ?? false, ...(o.applier ? { applier: o.applier } : {}), ...(o.probe ? { probe: o.probe } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  phases.replay = (phases.replay ?? 0) + (performance.now() - t1) / 1000;
  return { ...r, bytesPerSecond: r.seconds > 0 ? r.binlogBytes / r.seconds : 0 };
}

/** Replay only (the base is already restored): what restore tests need to reach a checksum point. */
export async function replayTo(o: { repo: Repository; identityFile: string; baseId: string; sourceId: string; to: { binlogFile: string; binlogPosition: number }; conn: MysqlConn; signal?: AbortSignal; applier?: ApplierSettings }): Promise<{ plan: PitrPlan; replay: ReplayResult }> {
  const cache = await SegmentCache.create(o.repo, o.identityFile);
  try {
    const target: PitrTarget = { kind: 'position', file: o.to.binlogFile, position: o.to.binlogPosition };
    const plan = await planPitr({ repo: o.repo, target, scope: {}, cache, baseId: o.baseId, sourceId: o.sourceId });
    const tools = await replayTools(o.conn, plan);
    const phases: Record<string, number> = {};
    const replay = await replayPlan(o.repo, plan, cache, o.conn, tools, phases, { ...(o.applier ? { applier: o.applier } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    return { plan, replay };
  } finally {
    await cache.dispose();
  }
}
