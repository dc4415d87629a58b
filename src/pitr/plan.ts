// The PITR plan, built and checked entirely before the target is touched: the target as an
// exact binlog point on a transaction boundary, the base backup (choose-base.ts), the chain
// of shipped files between them (refusing across a gap, naming the file and what is
// recoverable), for a --table/--database recovery that it still exists at the stop
// (scope-existence.ts), the bytes to fetch, and the point — position, GTID state, time —
// the replay will reach. Only the first and the last file of the chain are fetched to plan
// (to find boundaries and check the base's GTID state), plus, for a scoped recovery, the
// files whose content index shows statements (DDL can only be seen decoded).
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { pitrUnavailable } from '../manifest/point-in-time.js';
import type { ChainSegment } from '../binlog/segment-manifest.js';
import { planRestore, type RestoreScope } from '../restore/select-parts.js';
import type { Flavor } from '../mysql/server-info.js';
import { UsageError, VerificationError } from '../errors.js';
import { GtidState, formatGtid, parseGtidTarget, type Gtid } from './gtid.js';
import { eventStarts, scanTransactions, stateAt, transactionAt, type FileTransactions } from './transaction-scan.js';
import { comparePoint, cp, describeWindows, formatPoint, recoverableWindows, selectChain, type ChainPoint } from './chain.js';
import { describeTarget, type PitrTarget } from './target-spec.js';
import type { SegmentCache } from './segment-cache.js';
import { chooseBase, type BaseRef } from './choose-base.js';
import { ScopeExistence, describeRemoval, type ScopeObject } from './scope-existence.js';
import { binlogTool, decodeFile, segmentMayMatch } from './binlog-find.js';
import { parseTableRef } from '../restore/select-parts.js';
import { physicalChain } from '../physical/chain.js';

export const PLAN_FORMAT = 'horizn-dbops/pitr-plan';

export interface ReachedPoint {
  file: string;
  position: number;
  /** GTID state after the last replayed transaction (MariaDB gtid_binlog_pos / MySQL gtid_executed form). */
  gtidSet: string | null;
  /** Commit time of the last replayed transaction (UTC), or null when none is known. */
  time: string | null;
  /** GTID of the last replayed transaction. */
  lastGtid: string | null;
}

export interface PitrPlan {
  format: typeof PLAN_FORMAT;
  version: 1;
  sourceId: string;
  flavor: Flavor;
  requested: string;
  base: { id: string; completedAt: string; consistentPoint: BackupManifest['consistentPoint']; databases: string[]; storedBytes: number; rawBytes: number };
  scope: RestoreScope;
  /** Files replayed in order, with the byte range of each that is read. */
  chain: Array<{ file: string; from: number; to: number; rawBytes: number; storedBytes: number; firstEventTime: string; lastEventTime: string }>;
  bytes: { backupStored: number; binlogStored: number; binlogRaw: number; totalStored: number };
  /** Where replay stops (exclusive: events at or after it are not applied); null when there is nothing to replay. */
  stop: ChainPoint | null;
  reached: ReachedPoint;
  /** Adjustments the planner made (a position inside a transaction moved to its boundary…). */
  notes: string[];
  recoverable: Array<{ fromBackup: string; from: string; to: string; fromTime: string; toTime: string }>;
  /** The newest good base older than `base` that reaches the target: what to use when `base` turns out damaged. */
  previousBase: BaseRef | null;
}

export interface PlanOptions {
  repo: Repository;
  target: PitrTarget;
  scope: RestoreScope;
  cache: SegmentCache;
  /** Source id; default: the only binlog source, or the newest backup's. */
  sourceId?: string;
  /** Use this backup as the base (restore tests); otherwise the newest that fits. */
  baseId?: string;
  /** --base: `previous`, or a backup id or unique prefix. */
  base?: string;
  /** Bases of this kind only: a server target takes a logical base, a datadir a physical one. Default: either. */
  kind?: 'logical' | 'physical';
  now?: Date;
}

interface Context {
  repo: Repository;
  cache: SegmentCache;
  segments: ChainSegment[];
  flavor: Flavor;
  scans: Map<string, Promise<FileTransactions>>;
}

async function scanOf(ctx: Context, seg: ChainSegment): Promise<FileTransactions> {
  let p = ctx.scans.get(seg.file);
  if (!p) {
    p = ctx.cache.fetch(seg).then((path) => scanTransactions(path, seg.file, ctx.flavor));
    ctx.scans.set(seg.file, p);
  }
  return p;
}

export async function planPitr(o: PlanOptions): Promise<PitrPlan> {
  const now = o.now ?? new Date();
  const listed = await o.repo.backups.list();
  const backups = listed.flatMap((b) => (b.manifest ? [b.manifest] : []));
  refuseWithoutCoordinates(o.repo, backups, o.sourceId);
  const sourceId = o.sourceId ?? (await defaultSource(o.repo, backups));
  const { segments } = await o.repo.binlogs.chainSegments(sourceId);
  if (segments.length === 0) throw new UsageError(`no binlogs of source ${sourceId} in ${o.repo.storage.location}: run "dbops binlog ship" (point-in-time recovery replays shipped binlogs)`);
  const gaps = await o.repo.binlogs.gaps(sourceId);
  const ofSource = backups.filter((b) => b.source.serverUuid === sourceId && b.consistentPoint.binlogFile && b.consistentPoint.binlogPosition !== null);
  const withCoordinates = ofSource.filter((b) => o.kind === undefined || b.kind === o.kind);
  if (o.kind && withCoordinates.length === 0 && ofSource.length) {
    throw new UsageError(
      o.kind === 'physical'
        ? `no physical backup of source ${sourceId} with binlog coordinates to recover a datadir from: take one (dbops backup --kind physical), or recover into a server with --target`
        : `no logical backup of source ${sourceId} with binlog coordinates to recover into a server from; its physical backups recover into a datadir: pass --datadir DIR`,
    );
  }
  const ctx: Context = { repo: o.repo, cache: o.cache, segments, flavor: segments[0]!.flavor, scans: new Map() };
  const notes: string[] = [];
  const windows = recoverableWindows(segments, withCoordinates);

  // 1. The target as an exact point on a transaction boundary.
  const stop = await resolveStop(ctx, o, now, notes, windows);

  // 2. The base: the newest backup whose consistent point is not after the target, or the one asked for.
  const choice = await chooseBase({ repo: o.repo, listed, candidates: withCoordinates, sourceId, target: o.target, stop, segments, gaps, ...(o.base !== undefined ? { ref: o.base } : {}), ...(o.baseId !== undefined ? { baseId: o.baseId } : {}) });
  const base = choice.base;
  notes.push(...choice.notes);
  planRestore(base, o.scope); // scope problems (unknown database/table) are usage errors now, not after the restore

  // 3. The chain between them, every file present.
  const from = cp(base);
  const chain = choice.given ? withBase(base.id, () => selectChain(segments, gaps, withCoordinates, from, stop)) : selectChain(segments, gaps, withCoordinates, from, stop);
  const first = chain[0]!;
  if (from.position > first.endPosition) throw new VerificationError(`backup ${base.id}'s consistent point ${formatPoint(from)} is past the end of the shipped ${first.file} (${first.endPosition} bytes): the binlogs are not this server's history`);

  // 4. The base's GTID state must be the binlog's at its coordinates.
  const firstScan = await scanOf(ctx, first);
  if (base.consistentPoint.gtidSet !== null && (firstScan.stateAtStart !== null || base.consistentPoint.gtidSet !== '')) {
    const atCp = stateAt(firstScan, from.position);
    const recorded = GtidState.parse(ctx.flavor, base.consistentPoint.gtidSet);
    if (!atCp.equals(recorded)) {
      throw new VerificationError(`backup ${base.id} records GTID state "${base.consistentPoint.gtidSet}" but the shipped binlog has "${atCp}" at ${formatPoint(from)}: the binlogs are not this backup's history`);
    }
  }

  // 5. A table or database recovered alone must still exist there.
  const scoped = scopeObject(o.scope);
  if (scoped && comparePoint(stop, from) !== 0) await checkScopeExists(ctx, chain, from, stop, scoped, `${formatPoint(stop)} (${describeTarget(o.target)})`);

  // 6. The point reached.
  const reached = await reachedPoint(ctx, chain, from, stop, base);
  const nothing = comparePoint(stop, from) === 0;
  const chainOut = nothing
    ? []
    : chain.map((s, i) => ({ file: s.file, from: i === 0 ? from.position : 4, to: i === chain.length - 1 ? stop.position : s.endPosition, rawBytes: s.rawBytes, storedBytes: s.storedBytes, firstEventTime: s.firstEventTime, lastEventTime: s.lastEventTime }));
  const binlogStored = chainOut.reduce((n, c) => n + c.storedBytes, 0);
  const backupStored = base.kind === 'physical' ? (await physicalChain(o.repo, base)).reduce((n, m) => n + m.totals.storedBytes, 0) : planRestore(base, o.scope).steps.reduce((n, s) => n + s.part.storedBytes, 0);
  return {
    format: PLAN_FORMAT,
    version: 1,
    sourceId,
    flavor: ctx.flavor,
    requested: describeTarget(o.target),
    base: { id: base.id, completedAt: base.completedAt, consistentPoint: base.consistentPoint, databases: base.databases, storedBytes: base.totals.storedBytes, rawBytes: base.totals.rawBytes },
    scope: o.scope,
    chain: chainOut,
    bytes: { backupStored, binlogStored, binlogRaw: chainOut.reduce((n, c) => n + c.rawBytes, 0), totalStored: backupStored + binlogStored },
    stop: nothing ? null : stop,
    reached,
    notes,
    recoverable: windows.map((w) => ({ fromBackup: w.fromBackup, from: formatPoint(w.from), to: formatPoint(w.to), fromTime: w.fromTime, toTime: w.toTime })),
    previousBase: choice.previous,
  };
}

/** A refusal about the chain from a base the responder chose names that base. */
function withBase<T>(id: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`base ${id}: ${err.message}`, { cause: err });
    throw err;
  }
}

function scopeObject(scope: RestoreScope): ScopeObject | undefined {
  if (scope.table) return parseTableRef(scope.table);
  return scope.database !== undefined ? { database: scope.database } : undefined;
}

/**
 * Decode the replayed range of every chain file that holds statements (the content index
 * rules out the others) and follow what happens to the scope's table or database; a
 * UsageError naming the event when it does not exist at the stop. The decoded files stay
 * in the cache for the replay.
 */
async function checkScopeExists(ctx: Context, chain: ChainSegment[], from: ChainPoint, stop: ChainPoint, scoped: ScopeObject, at: string): Promise<void> {
  const existence = new ScopeExistence(scoped);
  const tool = binlogTool(ctx.flavor);
  const files = chain.filter((s) => segmentMayMatch(s.content, { type: 'ddl' }));
  for (let i = 0; i < files.length; i++) {
    const seg = files[i]!;
    ctx.cache.prefetch(files[i + 1]);
    await decodeFile(tool, ctx.flavor, await ctx.cache.fetch(seg), seg.file, (tx) => {
      if (seg.file === from.file && tx.position < from.position) return;
      if (seg.file === stop.file && tx.position >= stop.position) return;
      existence.transaction(tx);
    });
  }
  if (existence.removal) throw new UsageError(describeRemoval(scoped, at, existence.removal));
}

/** No backup (of the source, when named) can start a replay: say why, before looking for binlogs. */
function refuseWithoutCoordinates(repo: Repository, backups: BackupManifest[], sourceId: string | undefined): void {
  const mine = backups.filter((b) => sourceId === undefined || b.source.serverUuid === sourceId);
  const newest = mine.at(-1);
  if (!newest || mine.some((b) => pitrUnavailable(b) === undefined)) return;
  throw new UsageError(
    `point-in-time recovery is impossible: no backup in ${repo.storage.location} has binlog coordinates (newest ${newest.id}: ${pitrUnavailable(newest)}); turn on log_bin (binlog_format=ROW), take a backup and ship binlogs with "dbops binlog ship"`,
  );
}

async function defaultSource(repo: Repository, backups: BackupManifest[]): Promise<string> {
  const sources = await repo.binlogs.sources();
  if (sources.length === 1) return sources[0]!;
  const newest = [...backups].sort((a, b) => b.id.localeCompare(a.id)).find((b) => sources.includes(b.source.serverUuid));
  if (newest) return newest.source.serverUuid;
  if (sources.length === 0) throw new UsageError(`no binlogs shipped to ${repo.storage.location}: run "dbops binlog ship" (point-in-time recovery replays shipped binlogs)`);
  throw new UsageError(`the repository holds binlogs of ${sources.length} sources (${sources.join(', ')}): choose one with --server-uuid`);
}

function segmentOf(ctx: Context, file: string): ChainSegment {
  const s = ctx.segments.find((x) => x.file === file);
  if (!s) throw new UsageError(`binlog ${file} is not in the repository (shipped: ${ctx.segments[0]!.file} … ${ctx.segments.at(-1)!.file}); see dbops binlog status / dbops binlog find`);
  return s;
}

async function resolveStop(ctx: Context, o: PlanOptions, now: Date, notes: string[], windows: ReturnType<typeof recoverableWindows>): Promise<ChainPoint> {
  const t = o.target;
  const last = ctx.segments.at(-1)!;
  switch (t.kind) {
    case 'latest':
      return { file: last.file, position: last.endPosition };
    case 'position':
    case 'before': {
      const seg = segmentOf(ctx, t.file);
      if (t.position > seg.endPosition) throw new UsageError(`position ${t.position} is past the end of ${t.file} (it ends at ${seg.endPosition})`);
      const scan = await scanOf(ctx, seg);
      const starts = await eventStarts(await ctx.cache.fetch(seg));
      if (!starts.has(t.position)) {
        const near = [...starts].sort((a, b) => a - b);
        const below = near.filter((p) => p < t.position).at(-1);
        const above = near.find((p) => p > t.position);
        throw new UsageError(`${t.file}:${t.position} is not the start of an event (nearest: ${[below, above].filter((x) => x !== undefined).join(', ')}); take positions from dbops binlog find`);
      }
      const tx = transactionAt(scan, t.position);
      if (tx && tx.start !== t.position) {
        notes.push(
          t.kind === 'before'
            ? `${t.file}:${t.position} is inside the transaction starting at ${tx.start}: stopping before that whole transaction`
            : `${t.file}:${t.position} is inside the transaction ${tx.start}–${tx.end}: stopping before it (a transaction is never cut in half)`,
        );
        return { file: t.file, position: tx.start };
      }
      return { file: t.file, position: t.position };
    }
    case 'time': {
      if (t.time.getTime() > now.getTime()) throw new UsageError(`--to ${t.text} is in the future (now is ${now.toISOString()})`);
      const seg = ctx.segments.find((s) => Date.parse(s.lastEventTime) > t.time.getTime());
      if (!seg) {
        const state = await ctx.repo.binlogs.shipperState(ctx.segments[0]!.serverUuid);
        const caught = state?.caughtUpAt && Date.parse(state.caughtUpAt) > Date.parse(last.lastEventTime) ? state.caughtUpAt : last.lastEventTime;
        if (t.time.getTime() > Date.parse(caught)) {
          throw new UsageError(`--to ${t.time.toISOString()} is after everything shipped so far (binlogs are complete up to ${caught}): wait for shipping to catch up, or use --to latest; ${describeWindows(windows)}`);
        }
        return { file: last.file, position: last.endPosition };
      }
      if (Date.parse(ctx.segments[0]!.firstEventTime) > t.time.getTime()) {
        throw new UsageError(`--to ${t.time.toISOString()} is before the oldest shipped binlog (${ctx.segments[0]!.file}, from ${ctx.segments[0]!.firstEventTime}); ${describeWindows(windows)}`);
      }
      const scan = await scanOf(ctx, seg);
      const after = scan.transactions.find((x) => x.time.getTime() > t.time.getTime());
      return { file: seg.file, position: after ? after.start : seg.endPosition };
    }
    case 'gtid': {
      const wanted = parseGtidTarget(t.text, ctx.flavor);
      let stop: ChainPoint | undefined;
      for (const g of wanted) {
        const p = await locateGtid(ctx, g);
        if (!stop || comparePoint(p, stop) > 0) stop = p;
      }
      // The GTIDs must be a prefix of the binlog: stopping after the last one must not include later transactions of another named domain.
      const state = stateAt(await scanOf(ctx, segmentOf(ctx, stop!.file)), stop!.position);
      for (const g of wanted) {
        const next: Gtid = g.flavor === 'mariadb' ? { ...g, seq: g.seq + 1n } : { ...g, seq: g.seq + 1n };
        if (state.includes(next)) throw new UsageError(`--to-gtid ${t.text}: stopping after ${formatGtid(wanted.at(-1)!)} also includes transactions after ${formatGtid(g)}; give one GTID, or a position (dbops binlog find)`);
      }
      return stop!;
    }
  }
}

/** End of the transaction with GTID g, found through the manifests' per-file GTID ranges. */
async function locateGtid(ctx: Context, g: Gtid): Promise<ChainPoint> {
  const segs = ctx.segments;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const atStart = GtidState.parse(ctx.flavor, s.gtid.atStart);
    if (atStart.includes(g)) {
      if (i === 0) throw new UsageError(`GTID ${formatGtid(g)} is before the oldest shipped binlog (${s.file}, which starts at ${s.gtid.atStart})`);
      continue;
    }
    const next = segs[i + 1];
    const maybeHere = next ? GtidState.parse(ctx.flavor, next.gtid.atStart).includes(g) || next.sequence !== s.sequence + 1 : true;
    if (!maybeHere && !(s.gtid.atEnd && GtidState.parse(ctx.flavor, s.gtid.atEnd).includes(g))) continue;
    const scan = await scanOf(ctx, s);
    const tx = scan.transactions.find((x) => x.gtid && sameGtid(x.gtid, g));
    if (tx) return { file: s.file, position: tx.end };
    if (next && GtidState.parse(ctx.flavor, next.gtid.atStart).includes(g)) throw new UsageError(`GTID ${formatGtid(g)} was never written to the binlog (it is skipped between ${s.file} and ${next.file}); give an existing GTID (dbops binlog find)`);
  }
  throw new UsageError(`GTID ${formatGtid(g)} is not in the shipped binlogs (they reach ${segs.at(-1)!.gtid.atEnd ?? segs.at(-1)!.gtid.last ?? 'no GTID'}); see dbops binlog find`);
}

function sameGtid(a: Gtid, b: Gtid): boolean {
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') return a.domain === b.domain && a.seq === b.seq;
  if (a.flavor === 'mysql' && b.flavor === 'mysql') return a.uuid === b.uuid && a.seq === b.seq;
  return false;
}

async function reachedPoint(ctx: Context, chain: ChainSegment[], from: ChainPoint, stop: ChainPoint, base: BackupManifest): Promise<ReachedPoint> {
  const lastSeg = chain.at(-1)!;
  const scan = await scanOf(ctx, lastSeg);
  const gtid = stateAt(scan, stop.position).toString();
  let lastTx = scan.transactions.filter((x) => x.end <= stop.position && (lastSeg.file !== from.file || x.end > from.position)).at(-1);
  let time = lastTx ? lastTx.time.toISOString() : null;
  let lastGtid = lastTx?.gtid ? formatGtid(lastTx.gtid) : null;
  if (!lastTx) {
    // Nothing in the last file: the newest transaction of an earlier chain file, or the base itself.
    const earlier = chain.slice(0, -1).reverse().find((s) => s.transactions > 0);
    if (earlier && !(earlier.file === from.file && earlier.endPosition <= from.position)) {
      time = earlier.lastTransactionTime;
      lastGtid = earlier.gtid.last;
    } else {
      time = null;
      lastGtid = null;
    }
    lastTx = undefined;
  }
  return { file: stop.file, position: stop.position, gtidSet: gtid === '' && base.consistentPoint.gtidSet === null ? null : gtid, time, lastGtid };
}
