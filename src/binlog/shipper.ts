// Continuous binlog shipping: stream the source's binlogs into a local spool directory
// and ship every CLOSED file (the server wrote its Rotate/Stop event, or the next file
// exists) with a signed segment manifest, then drop it from the spool.
//
// Restart-safe by construction: where to resume comes from the repository (the last
// file with a manifest), never from local state; a file whose manifest exists is never
// uploaded again; a missing file is recorded as a gap, never skipped silently.
//
// Bounded lag, two ways. With binlog.partialSegments (the default; continuous mode only,
// not `--once`) the file the source is still writing is shipped as it grows, as partial
// segments (ship-partial.ts) that end on transaction boundaries, every fifth of the budget
// (1-10 s); once the file closes it is shipped whole and its partial segments are removed,
// and a rotation (FLUSH BINARY LOGS, needs RELOAD) is forced at most once a minute, so no
// file carries more than a minute of partial segments. Without them the shipper rotates
// the source's binlog once the oldest unshipped transaction nears the budget, so every
// object is a whole file, byte-identical to the source's: every ~maxLag/2 under load.
//
// The spool is a cache: a copy that is torn, empty, missing or stops growing is streamed
// again, and only the source (SHOW BINARY LOGS) can make a missing file a gap. A full
// spool filesystem is reported as such (log, heartbeat, daemon health) and shipping
// resumes by itself once there is room.
//
// One writer per repository and source: a lease in the repository (storage/lease.ts).
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Repository } from '../repo/repository.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { MysqlClient } from '../mysql/client.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { flavorProfile, type FlavorProfile } from '../mysql/flavor.js';
import { findFirstTool } from '../mysql/find-tool.js';
import { listBinaryLogs, readBinlogStatus } from '../mysql/binlog-status.js';
import { OperationError, ToolError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import { VERSION } from '../version.js';
import { binlogSeq, compareBinlogNames, isBinlogName, shiftBinlogName } from './file-names.js';
import { endsWithCloseEvent, scanBinlogFile, type BinlogScan } from './event-scan.js';
import { shipFile, type ShipFileOptions } from './ship-file.js';
import { shipPartial } from './ship-partial.js';
import type { PartialSegmentManifest } from './segment-manifest.js';
import { type GapRecord, type UnsignedGapRecord } from './gap-record.js';
import { startStream, isPurgedError, type RunningStream } from './binlog-stream.js';
import { sourceWarnings } from './source-checks.js';
import { acquireSpoolLock } from './spool-lock.js';
import { freeBytes, SPOOL_HEADROOM, spoolFullMessage } from './spool-space.js';
import { Lease } from '../storage/lease.js';
import { assertSourceId, gapKey, gapsPrefix, partialDataKey, partialManifestKey, shipperLeasePrefix } from '../storage/layout.js';
import type { ShipperProblem, ShipperState } from './shipper-state.js';

export interface ShipOptions {
  repo: Repository;
  source: MysqlConn;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  /** Root of the spool; each source gets `<spoolRoot>/<source-id>/`. */
  spoolRoot: string;
  maxLagSeconds: number;
  /** Replica server_id of the dump connection (default: derived from the repository and the source). */
  connectionServerId?: number;
  /** Rotate, ship everything closed, return. Otherwise run until `signal` aborts. */
  once: boolean;
  signal?: AbortSignal;
  /** How often the continuous loop looks at the spool (default 500 ms). */
  pollMs?: number;
  /** Called once the shipper holds its lease and is about to stream (the daemon's health). */
  onStarted?: () => void;
  /** Ship the active file's growth as partial segments (continuous mode; config default true; false or unset: rotate within the lag budget). */
  partialSegments?: boolean;
}

export interface ShipResult {
  serverUuid: string;
  /** Files shipped by this run, in order. */
  shipped: string[];
  gaps: Array<Pick<GapRecord, 'from' | 'to' | 'reason'>>;
  warnings: string[];
  /** Newest file in the repository after this run. */
  lastShipped: string | null;
  /** Partial segments shipped by this run. */
  partials: number;
  /** FLUSH BINARY LOGS this run ran to bound the lag. */
  forcedRotations: number;
}

/** Ship binlogs of one source until stopped (or once); see the file comment. */
export async function shipBinlogs(options: ShipOptions): Promise<ShipResult> {
  const shipper = new Shipper(options);
  try {
    await shipper.init();
    options.onStarted?.();
    if (options.once) await shipper.runOnce();
    else await shipper.runContinuous();
    return shipper.result;
  } finally {
    await shipper.close();
  }
}

/** Seconds a transaction may wait in the active file before we rotate: leaves room for upload. */
export function rotateAfterSeconds(maxLagSeconds: number, partialSegments = false): number {
  const budget = maxLagSeconds <= 20 ? maxLagSeconds / 2 : maxLagSeconds - 10;
  return partialSegments ? Math.max(PARTIAL_ROTATE_SECONDS, budget) : budget;
}

/** With partial segments, a forced rotation at most this often: files of about a minute. */
export const PARTIAL_ROTATE_SECONDS = 60;

/** How often the active file's growth is shipped: a fifth of the lag budget, between 1 and 10 s. */
export function partialIntervalSeconds(maxLagSeconds: number): number {
  return Math.min(10, Math.max(1, maxLagSeconds / 5));
}

/**
 * A stable replica id per (repository, source), in the upper half of the 32-bit range real
 * servers rarely use: shippers of one source to two repositories stream side by side (a
 * source drops the older connection of a replica id that connects twice), and a second
 * shipper to the same repository is refused by the lease before it connects.
 */
export function defaultConnectionServerId(repositoryId: string, sourceId: string): number {
  return 0x80000000 + (createHash('sha256').update(`${repositoryId}|${sourceId}`).digest().readUInt32BE(0) % 0x7ffffffe);
}

/** The shipper's lease: long enough to ride out a slow storage call, short enough for a crashed host's replacement. */
export const LEASE_TTL_MS = 60_000;

/** The spool copy of the active file has not grown for this long while the source is ahead: the stream is stuck. */
const STALL_MS = 10_000;

class Shipper {
  result: ShipResult = { serverUuid: '', shipped: [], gaps: [], warnings: [], lastShipped: null, partials: 0, forcedRotations: 0 };
  private db: MysqlClient | undefined;
  private info!: ServerInfo;
  private profile!: FlavorProfile;
  private tool!: string;
  private tools: Record<string, string> = {};
  private sourceId = '';
  private spool = '';
  private shipped = new Set<string>();
  private last: string | null = null;
  /** The file the chain needs next (after `last`, or where streaming resumed after a gap). */
  private nextToShip: string | null = null;
  private knownGaps = new Set<string>();
  private releaseLock: (() => Promise<void>) | undefined;
  private lease: Lease | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  /** Aborted when the lease is lost: stop at once, ship nothing more. */
  private readonly leaseLost = new AbortController();
  private readonly signal: AbortSignal;
  private connectionServerId = 0;
  private stream: RunningStream | undefined;
  private streamError: unknown;
  private streamEnded = false;
  private restartStream = false;
  private flushDenied = false;
  /** What the heartbeat says: the last time nothing was unshipped, the newest event offsite, what is wrong. */
  private caughtUp: { at: string; file: string; position: number } | null = null;
  private offsite: ShipperState['offsite'] = null;
  private problem: ShipperProblem | null = null;
  private heartbeatDue = false;
  /** Bytes the spool filesystem must have free before streaming again (0: no known shortage). */
  private spaceNeeded = 0;
  /** The newest spool file's size when it last changed, for the stall check. */
  private watch: { file: string; size: number; since: number } | undefined;
  /** The active file's partial segments in the repository; `hash` is sha256 of its first `end` bytes, checked against the spool copy. */
  private partial: { file: string; parts: PartialSegmentManifest[]; hash: Hash | null } | null = null;
  private lastPartAt = 0;
  /** Files that had partial segments when this run started (a run with them off still replaces those). */
  private partialsAtStart = new Set<string>();

  constructor(private readonly o: ShipOptions) {
    this.signal = o.signal ? AbortSignal.any([o.signal, this.leaseLost.signal]) : this.leaseLost.signal;
  }

  async init(): Promise<void> {
    this.info = await this.withDb(readServerInfo);
    if (!this.info.logBin) throw new UsageError('binary logging is off on the source: start it with log_bin (and binlog_format=ROW) to ship binlogs');
    this.profile = flavorProfile(this.info);
    const found = findFirstTool(this.profile.tools.binlog);
    if (!found) throw new ToolError(this.profile.tools.binlog[0]!, `not found on PATH: install ${this.info.flavor === 'mariadb' ? 'mariadb-client' : 'mysql-client'}`);
    this.tool = found.path;
    const version = await execa(found.path, ['--version'], { reject: false });
    this.tools = { [found.name]: String(version.stdout).trim(), dbops: VERSION };
    this.sourceId = this.info.serverUuid;
    assertSourceId(this.sourceId);
    this.result.serverUuid = this.sourceId;
    this.connectionServerId = this.o.connectionServerId ?? defaultConnectionServerId(this.o.repo.config.id, this.sourceId);
    if (this.connectionServerId === this.info.serverId) {
      throw new OperationError(`binlog.connectionServerId ${this.connectionServerId} equals the source's own server_id: choose another`);
    }
    this.result.warnings = sourceWarnings(this.info, this.o.maxLagSeconds);
    for (const w of this.result.warnings) log.warn({ serverUuid: this.sourceId }, w);

    // The lease first: a second shipper is told who ships, before it touches spool or source.
    this.lease = await Lease.acquire(this.o.repo.storage, { prefix: shipperLeasePrefix(this.sourceId), what: `binlog shipping of ${this.sourceId} to ${this.o.repo.storage.location}`, ttlMs: LEASE_TTL_MS });
    this.renewTimer = setInterval(() => void this.renewLease(), LEASE_TTL_MS / 4);
    this.spool = join(this.o.spoolRoot, this.sourceId);
    await mkdir(this.spool, { recursive: true, mode: 0o700 });
    this.releaseLock = await acquireSpoolLock(this.spool).catch(async (err: unknown) => {
      // Even the lock file does not fit: say why, not "unexpected error".
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new OperationError(spoolFullMessage(this.spool, await freeBytes(this.spool), SPOOL_HEADROOM, null), { cause: err });
      throw err;
    });
    const files = await this.o.repo.binlogs.shippedFiles(this.sourceId);
    this.shipped = new Set(files);
    this.last = files.at(-1) ?? null;
    this.nextToShip = this.last ? shiftBinlogName(this.last, 1) : null;
    this.result.lastShipped = this.last;
    for await (const obj of this.o.repo.storage.list(gapsPrefix(this.sourceId))) this.knownGaps.add(obj.key);
    // What the heartbeat carries over: the previous run's caught-up instant stays true.
    const previous = await this.o.repo.binlogs.shipperState(this.sourceId);
    if (previous?.caughtUpAt && previous.activeFile && previous.activePosition !== null) this.caughtUp = { at: previous.caughtUpAt, file: previous.activeFile, position: previous.activePosition };
    if (this.last) {
      const m = await this.o.repo.binlogs.segment(this.sourceId, this.last).catch(() => undefined);
      if (m) this.offsite = { file: m.file, endPosition: m.endPosition, lastEventTime: m.lastEventTime };
    }
    // Partial segments of files shipped whole since (a shipper stopped between the two) are replaced.
    for (const file of (await this.o.repo.binlogs.partialFiles(this.sourceId)).keys()) {
      if (!this.shipped.has(file)) {
        this.partialsAtStart.add(file);
        continue;
      }
      this.lease.assertHeld();
      log.info({ file, parts: await this.o.repo.binlogs.removePartials(this.sourceId, file) }, 'removed partial segments of a file shipped whole');
    }
    log.info({ serverUuid: this.sourceId, lastShipped: this.last, spool: this.spool, once: this.o.once, connectionServerId: this.connectionServerId, lease: this.lease.key }, 'binlog shipper started');
  }

  async close(): Promise<void> {
    clearInterval(this.renewTimer);
    this.stopStream();
    await this.stream?.done.catch(() => undefined);
    await this.db?.close();
    this.db = undefined;
    await this.releaseLock?.();
    await this.lease?.release().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not release the shipping lease; it expires by itself'));
    // Lost while winding down: say so (exit 1), whatever else happened.
    if (this.lease?.lost) this.lease.assertHeld();
  }

  private async renewLease(): Promise<void> {
    try {
      await this.lease?.renew();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not renew the shipping lease; retrying');
    }
    try {
      this.lease?.assertHeld();
    } catch {
      this.leaseLost.abort('lease lost');
      this.stopStream();
    }
  }

  /** `--once`: catch up to the end of the source's binlogs, rotate if the active file holds transactions, ship. */
  async runOnce(): Promise<void> {
    await this.healGaps();
    // A lost or damaged spool copy is streamed again; a full spool ends the run (exit 1, ENOSPC named).
    for (let attempt = 0; attempt < 3 && !this.aborted(); attempt++) {
      this.restartStream = false;
      await this.shipClosed();
      if (this.spaceNeeded || !(await this.spoolHasRoom())) return this.failFull();
      if (this.restartStream) continue;
      await this.streamToEnd(await this.resumePoint());
      const active = (await this.spoolFiles()).at(-1);
      if (active && !this.aborted()) {
        const scan = await this.scanActive(active);
        if (scan && scan.transactions > 0 && !endsWithCloseEvent(scan) && (await this.flush())) await this.streamToEnd(active);
      }
      await this.shipClosed();
      if (this.spaceNeeded) return this.failFull();
      if (!this.restartStream) break;
    }
    const rest = (await this.spoolFiles()).at(-1);
    if (rest && !this.aborted()) await this.heartbeat();
  }

  /** --once on a full spool: the heartbeat tells status why, then the run fails naming ENOSPC. */
  private async failFull(): Promise<never> {
    await this.heartbeat().catch(() => undefined);
    throw new OperationError(this.problem!.message);
  }

  async runContinuous(): Promise<void> {
    const pollMs = this.o.pollMs ?? 500;
    let backoffMs = 1000;
    // A source restart or a network blip is routine: warn first, and raise it to an error
    // once the source has been unreachable for longer than the lag budget (the RPO is at risk).
    this.sourceReachedAt = Date.now();
    let nextStreamAt = 0;
    let streamStartedAt = 0;
    let lastHeartbeat = 0;
    let beatCaughtUp = false;
    let lastWatch = 0;
    let active: { file: string; firstTransaction: Date | null } | undefined;
    let lastFlush = 0;
    const partials = this.o.partialSegments ?? false;
    const rotateAfterMs = rotateAfterSeconds(this.o.maxLagSeconds, partials) * 1000;
    const flushEveryMs = partials ? PARTIAL_ROTATE_SECONDS * 1000 : Math.max(1000, rotateAfterMs / 2);
    const partialMs = partialIntervalSeconds(this.o.maxLagSeconds) * 1000;
    const heartbeatMs = Math.min(this.o.maxLagSeconds * 500, 30_000);
    const watchMs = Math.min(heartbeatMs, 5000);
    await this.healGaps();
    while (!this.aborted()) {
      try {
        if (this.stream && (this.streamEnded || this.restartStream)) {
          this.stopStream();
          await this.stream.done.catch(() => undefined);
          const err = this.streamError;
          this.stream = undefined;
          if (!this.restartStream) {
            if (Date.now() - streamStartedAt > 30_000) backoffMs = 1000;
            log.warn({ err: err ? (err as Error).message : 'ended', retryInMs: backoffMs }, 'binlog stream from the source ended; reconnecting');
            nextStreamAt = Date.now() + backoffMs;
            backoffMs = Math.min(backoffMs * 2, 30_000);
          }
        }
        this.restartStream = false;
        await this.shipClosed();
        if (!this.stream && !this.restartStream && Date.now() >= nextStreamAt && (await this.spoolHasRoom())) {
          const start = await this.resumePoint();
          this.startFollowing(start);
          streamStartedAt = Date.now();
          this.watch = undefined;
        }
        // Bounded lag: the active file's growth goes out as partial segments; a rotation
        // once its oldest transaction nears the budget (a minute with partial segments).
        const spooled = await this.spoolFiles();
        const newest = spooled.at(-1);
        if (newest && this.stream) {
          if (partials && spooled.length === 1 && (!this.nextToShip || newest === this.nextToShip) && Date.now() - this.lastPartAt >= partialMs) await this.shipGrowth(newest);
          if (active?.file !== newest) active = { file: newest, firstTransaction: null };
          if (!active.firstTransaction) active.firstTransaction = (await this.scanActive(newest))?.firstTransactionTime ?? null;
          if (active.firstTransaction && Date.now() - active.firstTransaction.getTime() >= rotateAfterMs && Date.now() - lastFlush >= flushEveryMs) {
            lastFlush = Date.now();
            if (await this.flush()) {
              this.result.forcedRotations++;
              log.info({ file: newest, oldestTransaction: active.firstTransaction.toISOString() }, 'rotated the binlog to bound the shipping lag');
            }
          }
        }
        if (this.stream && Date.now() - lastWatch >= watchMs) {
          lastWatch = Date.now();
          await this.watchStream(newest);
        }
        // The heartbeat goes out busy or idle (RPO is measured from it), at once when a problem
        // starts or ends, and every poll while idle until it could say "caught up" (a restarted
        // shipper would otherwise leave the lag of its predecessor's last beat standing).
        const idle = newest !== undefined && active?.file === newest && (active.firstTransaction === null || (await this.partialCovers(newest)));
        const due = this.heartbeatDue || Date.now() - lastHeartbeat >= heartbeatMs;
        if (due || (idle && !beatCaughtUp)) {
          const beat = await this.heartbeat(due);
          if (beat !== undefined) {
            lastHeartbeat = Date.now();
            beatCaughtUp = beat;
          }
        }
      } catch (err) {
        if (this.aborted()) break;
        const unreachableS = Math.round((Date.now() - this.sourceReachedAt) / 1000);
        const level = unreachableS >= this.o.maxLagSeconds ? 'error' : 'warn';
        log[level]({ err: (err as Error).message, sourceLastReachedSecondsAgo: unreachableS }, 'binlog shipping step failed; retrying');
        await this.dropDb();
        await this.pause(Math.min(backoffMs, 5000));
      }
      await this.pause(pollMs);
    }
    // Stopped: end the stream, then ship what is closed (the active file stays for next time).
    this.stopStream();
    await this.stream?.done.catch(() => undefined);
    this.stream = undefined;
    if (!this.leaseLost.signal.aborted) await this.shipClosed();
  }

  private aborted(): boolean {
    return this.signal.aborted;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.signal }).catch(() => undefined);
  }

  /** Last time a query on the source succeeded. */
  private sourceReachedAt = Date.now();

  private async withDb<T>(fn: (db: MysqlClient) => Promise<T>): Promise<T> {
    this.db ??= await MysqlClient.connect(this.o.source);
    try {
      const result = await fn(this.db);
      this.sourceReachedAt = Date.now();
      return result;
    } catch (err) {
      await this.dropDb();
      throw err;
    }
  }

  private async dropDb(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close().catch(() => undefined);
  }

  /** FLUSH BINARY LOGS; false (logged once) when the account lacks RELOAD. */
  private async flush(): Promise<boolean> {
    if (this.flushDenied) return false;
    try {
      await this.withDb((db) => db.exec('FLUSH BINARY LOGS'));
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === 1227) {
        this.flushDenied = true;
        log.error(
          { serverUuid: this.sourceId },
          this.o.partialSegments
            ? "the source account lacks the RELOAD privilege: cannot rotate binlogs, so the active file's partial segments pile up until the server rotates it (max_binlog_size); GRANT RELOAD to it"
            : 'the source account lacks the RELOAD privilege: cannot rotate binlogs, so shipping lag is not bounded; GRANT RELOAD to it',
        );
        return false;
      }
      throw err;
    }
  }

  private async spoolFiles(): Promise<string[]> {
    return (await readdir(this.spool)).filter(isBinlogName).sort(compareBinlogNames);
  }

  /** The active file's scan, or null while it is too new to hold the binlog header (its first bytes are on their way). */
  private async scanActive(file: string): Promise<BinlogScan | null> {
    const path = join(this.spool, file);
    if (((await stat(path).catch(() => undefined))?.size ?? 0) < 4) return null;
    return scanBinlogFile(path).catch((err: unknown) => {
      if (err instanceof OperationError) return null;
      throw err;
    });
  }

  /** Ship every closed spool file in order; remove shipped ones. A bad copy is streamed again, never shipped. */
  private async shipClosed(): Promise<void> {
    const files = await this.spoolFiles();
    let sizes: Map<string, number> | undefined;
    for (const [i, file] of files.entries()) {
      const path = join(this.spool, file);
      if (this.shipped.has(file)) {
        await rm(path, { force: true });
        continue;
      }
      if (this.last && binlogSeq(file) <= binlogSeq(this.last)) {
        throw new OperationError(`spool file ${file} is not newer than the last shipped file ${this.last}: was RESET MASTER run on the source? Ship it to a new repository prefix`);
      }
      // The spool is a cache: a file it lacks before this one was lost here (a full disk,
      // removed by hand), not on the source. resumePoint asks the source what it still has.
      if (this.nextToShip && file !== this.nextToShip) return this.spoolLost(this.nextToShip, `the spool holds ${file} but not ${this.nextToShip}`);
      const newest = i === files.length - 1;
      let scan: BinlogScan;
      try {
        scan = await scanBinlogFile(path);
      } catch (err) {
        if (!(err instanceof OperationError)) throw err;
        if (newest && (await stat(path)).size < 4) return;
        return this.spoolLost(file, err.message);
      }
      if (scan.partialBytes !== 0 && !newest) return this.spoolLost(file, `it ends inside an event (${scan.partialBytes} stray bytes)`);
      if (newest && !endsWithCloseEvent(scan)) return;
      // A closed copy must be as long as the source's file (a full disk can tear a copy at an event boundary).
      // The listing is read once per pass; a file that closed after it was read is listed
      // shorter than its closed copy, so a mismatch is judged on a fresh listing.
      const listSizes = async (): Promise<Map<string, number>> => new Map((await this.withDb((db) => listBinaryLogs(db, this.profile))).map((l) => [l.file, l.size]));
      sizes ??= await listSizes();
      if (sizes.get(file) !== undefined && sizes.get(file) !== scan.size) sizes = await listSizes();
      const onSource = sizes.get(file);
      if (onSource !== undefined && onSource !== scan.size) return this.spoolLost(file, `the copy has ${scan.size} bytes, the source's file ${onSource}`);
      this.lease?.assertHeld();
      const m = await shipFile(this.shipOptions(), path, file, scan, this.last);
      this.shipped.add(file);
      this.last = file;
      this.nextToShip = shiftBinlogName(file, 1);
      this.offsite = { file: m.file, endPosition: m.endPosition, lastEventTime: m.lastEventTime };
      this.result.lastShipped = file;
      this.result.shipped.push(file);
      await this.replacePartials(file, path);
      await rm(path, { force: true });
      log.info({ file, rawBytes: m.rawBytes, storedBytes: m.storedBytes, transactions: m.transactions, lastEventTime: m.lastEventTime }, 'binlog shipped');
    }
  }

  /**
   * A spool copy is missing, torn or stuck: stop the stream (it may be writing a deleted
   * file), drop the copy and everything after it, and stream again from the repository's
   * next file. When the spool filesystem lacks the room, that is the reason: report it
   * and hold streaming until there is room.
   */
  private async spoolLost(file: string, why: string, needed?: number): Promise<void> {
    await this.endStream();
    for (const f of await this.spoolFiles()) if (binlogSeq(f) >= binlogSeq(file)) await rm(join(this.spool, f), { force: true });
    if (this.partial) this.partial.hash = null;
    this.restartStream = true;
    this.watch = undefined;
    const onSource = needed ?? (await this.withDb((db) => listBinaryLogs(db, this.profile)).catch(() => [])).find((l) => l.file === file)?.size ?? 0;
    const want = onSource + SPOOL_HEADROOM;
    const free = await freeBytes(this.spool);
    if (free < want) {
      this.spaceNeeded = want;
      this.setProblem({ kind: 'spool-full', message: spoolFullMessage(this.spool, free, want, file), since: new Date().toISOString() }, { file, why });
      return;
    }
    log.warn({ file, why }, 'binlog spool copy is incomplete or missing; streaming it again');
  }

  /**
   * Gaps the source can still fill: earlier versions recorded a gap when their spool lost
   * files (a full disk) although the source had them. Each such file is streamed alone,
   * shipped, and the record removed; a gap the source cannot fill stays. Never fatal: the
   * shipper goes on shipping new files either way.
   */
  private async healGaps(): Promise<void> {
    if (this.knownGaps.size === 0) return;
    try {
      const onSource = new Map((await this.withDb((db) => listBinaryLogs(db, this.profile))).map((l) => [l.file, l.size]));
      for (const gap of await this.o.repo.binlogs.gaps(this.sourceId)) {
        const files: string[] = [];
        for (let f = gap.from; binlogSeq(f) <= binlogSeq(gap.to); f = shiftBinlogName(f, 1)) files.push(f);
        if (files.some((f) => !onSource.has(f) || this.shipped.has(f))) continue;
        for (const f of files) await this.backfill(f, onSource.get(f)!);
        const key = gapKey(this.sourceId, gap.from, gap.to);
        await this.o.repo.storage.remove(key);
        this.knownGaps.delete(key);
        log.info({ serverUuid: this.sourceId, from: gap.from, to: gap.to, files }, 'binlog gap healed: the source still had the files; shipped them');
      }
    } catch (err) {
      if (this.aborted()) return;
      log.warn({ err: (err as Error).message }, 'could not fill a recorded binlog gap from the source; it stays recorded');
    }
  }

  /** Stream one closed file alone into `<spool>/backfill/`, check it against the source's size, ship it. */
  private async backfill(file: string, size: number): Promise<void> {
    const dir = join(this.spool, 'backfill');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, file);
    try {
      await startStream({ ...this.streamOptions(file, false), spoolDir: dir, single: true }).done;
      const scan = await scanBinlogFile(path);
      if (scan.size !== size || !endsWithCloseEvent(scan)) throw new OperationError(`backfill of ${file}: got ${scan.size} bytes, the source's file has ${size}`);
      this.lease?.assertHeld();
      const previous = shiftBinlogName(file, -1);
      const m = await shipFile(this.shipOptions(), path, file, scan, this.shipped.has(previous) ? previous : null);
      this.shipped.add(file);
      this.result.shipped.push(file);
      await this.replacePartials(file, path);
      log.info({ file, rawBytes: m.rawBytes, storedBytes: m.storedBytes, transactions: m.transactions }, 'binlog shipped (backfill of a recorded gap)');
    } finally {
      await rm(path, { force: true });
    }
  }

  /** Room to stream: when space ran out, wait until `spaceNeeded` is free again. */
  private async spoolHasRoom(): Promise<boolean> {
    const free = await freeBytes(this.spool);
    const want = Math.max(this.spaceNeeded, SPOOL_HEADROOM);
    if (free >= want) {
      if (this.spaceNeeded) {
        this.spaceNeeded = 0;
        log.info({ spool: this.spool, freeBytes: free }, 'binlog spool has room again; shipping resumes');
        this.setProblem(null);
      }
      return true;
    }
    if (!this.spaceNeeded) {
      this.spaceNeeded = want;
      this.setProblem({ kind: 'spool-full', message: spoolFullMessage(this.spool, free, want, null), since: new Date().toISOString() });
    }
    return false;
  }

  private setProblem(problem: ShipperProblem | null, detail: Record<string, unknown> = {}): void {
    if (problem && this.problem?.kind !== problem.kind) log.error({ serverUuid: this.sourceId, spool: this.spool, ...detail }, problem.message);
    this.problem = problem;
    this.heartbeatDue = true;
  }

  /**
   * The stream is stuck when the spool copy of the active file stops growing while the
   * source is ahead (a full disk; a copy removed by hand that the stream keeps writing).
   */
  private async watchStream(newest: string | undefined): Promise<void> {
    const file = newest ?? this.nextToShip;
    if (!file) return;
    const size = (await stat(join(this.spool, file)).catch(() => undefined))?.size ?? 0;
    const status = await this.withDb((db) => readBinlogStatus(db, this.profile));
    const behind = binlogSeq(status.file) > binlogSeq(file) || (status.file === file && status.position > size);
    if (!behind || this.watch?.file !== file || this.watch.size !== size) {
      this.watch = { file, size, since: Date.now() };
      return;
    }
    if (Date.now() - this.watch.since < STALL_MS) return;
    const needed = status.file === file ? status.position : undefined;
    await this.spoolLost(file, `the spool copy stopped growing at ${size} bytes while the source is at ${status.file}:${status.position}`, needed);
  }

  private shipOptions(): ShipFileOptions {
    return {
      repo: this.o.repo,
      recipients: this.o.recipients,
      compressionLevel: this.o.compressionLevel,
      compressionThreads: this.o.compressionThreads,
      sourceId: this.sourceId,
      flavor: this.info.flavor,
      tools: this.tools,
      assertWriter: () => this.lease?.assertHeld(),
    };
  }

  /** The file to stream from: the one after the last shipped, or the source's oldest; records a gap when it was purged. */
  private async resumePoint(): Promise<string> {
    const logs = (await this.withDb((db) => listBinaryLogs(db, this.profile))).map((l) => l.file).sort(compareBinlogNames);
    const oldest = logs[0];
    if (!oldest) throw new OperationError('the source lists no binary logs: is log_bin on?');
    if (!this.last) return oldest;
    const next = shiftBinlogName(this.last, 1);
    if (logs.includes(next)) {
      this.nextToShip = next;
      return next;
    }
    const later = logs.filter((f) => binlogSeq(f) > binlogSeq(next));
    if (later.length === 0) {
      throw new OperationError(`the source's binlogs (${oldest} … ${logs.at(-1)}) are all older than ${next}, the next file to ship: was RESET MASTER run, or is this another server? Ship it to a new repository prefix`);
    }
    const first = later[0]!;
    // The only place a gap is recorded: the source itself no longer has these files.
    await this.recordGap(next, shiftBinlogName(first, -1), 'purged-on-source', first);
    // Partial segments of a purged file stay: the only copy of its start (recovery can end in them).
    this.partial = null;
    for (const f of await this.spoolFiles()) if (binlogSeq(f) < binlogSeq(first)) await rm(join(this.spool, f), { force: true });
    this.nextToShip = first;
    return first;
  }

  private async recordGap(from: string, to: string, reason: GapRecord['reason'], before: string): Promise<void> {
    const key = gapKey(this.sourceId, from, to);
    if (this.knownGaps.has(key) || (await this.o.repo.binlogs.hasGap(this.sourceId, from, to))) {
      this.knownGaps.add(key);
      return;
    }
    this.lease?.assertHeld();
    const unsigned: UnsignedGapRecord = {
      repositoryId: this.o.repo.config.id,
      serverUuid: this.sourceId,
      from,
      to,
      after: this.last,
      before,
      reason,
      detectedAt: new Date().toISOString(),
    };
    await this.o.repo.binlogs.recordGap(unsigned);
    this.knownGaps.add(key);
    this.result.gaps.push({ from, to, reason });
    log.error(
      { serverUuid: this.sourceId, from, to, reason, after: this.last, before },
      `binlog gap: ${from} … ${to} ${reason === 'purged-on-source' ? 'were purged on the source before they were shipped' : 'are missing from the sequence'}; point-in-time recovery cannot cross it (take a new full backup)`,
    );
  }

  /**
   * The heartbeat (`state/shipper.json`): written busy or idle (`always`), or only when it can
   * say "caught up" (undefined: nothing written). It says when the source last
   * had nothing unshipped (its active position was the spool's end and the active file held
   * no transaction, every closed file shipped), the newest event offsite, and any problem.
   */
  private async heartbeat(always = true): Promise<boolean | undefined> {
    let caughtUpNow = false;
    const files = await this.spoolFiles();
    const activeFile = files.at(-1);
    // Something must be offsite: a whole file, or parts of the active one (a source whose only
    // file is still open; the stream began at the source's oldest file).
    const started = this.last !== null || (this.partial?.file === activeFile && (this.partial?.parts.length ?? 0) > 0);
    if (started && activeFile && files.length === 1 && !this.spaceNeeded) {
      const status = await this.withDb((db) => readBinlogStatus(db, this.profile)).catch(() => undefined);
      const scan = await this.scanActive(activeFile);
      if (status && scan && scan.partialBytes === 0 && status.file === activeFile && status.position === scan.size && (scan.transactions === 0 || (await this.partialCovers(activeFile, scan.size)))) {
        this.caughtUp = { at: new Date().toISOString(), file: activeFile, position: status.position };
        caughtUpNow = true;
      }
    }
    // Between regular beats only news is written: "caught up".
    if (!always && !caughtUpNow) return undefined;
    this.heartbeatDue = false;
    const state = {
      serverUuid: this.sourceId,
      writtenAt: new Date().toISOString(),
      caughtUpAt: this.caughtUp?.at ?? null,
      activeFile: this.caughtUp?.file ?? null,
      activePosition: this.caughtUp?.position ?? null,
      offsite: this.offsite,
      problem: this.problem,
      host: hostname(),
      pid: process.pid,
    };
    this.lease?.assertHeld();
    await this.o.repo.binlogs.putShipperState(state);
    return caughtUpNow;
  }

  /** True when the partial segments of `file` hold it to `size` (default: its spool copy's size). */
  private async partialCovers(file: string, size?: number): Promise<boolean> {
    if (this.partial?.file !== file) return false;
    const end = this.partial.parts.at(-1)?.endPosition ?? -1;
    return end === (size ?? (await stat(join(this.spool, file)).catch(() => undefined))?.size);
  }

  /**
   * Ship the active file's committed growth since its last partial segment. The running
   * hash of what is already shipped is taken from the spool copy the first time (after a
   * restart, or a copy streamed again) and must match the last part's: the source's file
   * cannot change, so a mismatch means the repository's parts are not this file's.
   */
  private async shipGrowth(file: string): Promise<void> {
    const path = join(this.spool, file);
    if (this.partial?.file !== file) {
      const { parts, problems } = await this.o.repo.binlogs.partials(this.sourceId, file);
      // Parts after a broken link would collide with the numbers shipped next: the valid run is kept, the rest removed.
      if (problems.length) await this.dropPartsAfter(file, parts.length);
      this.partial = { file, parts, hash: null };
    }
    const scan = await this.scanActive(file);
    if (!scan || endsWithCloseEvent(scan)) return;
    const last = this.partial.parts.at(-1) ?? null;
    const from = last?.endPosition ?? 0;
    const to = scan.committedPosition;
    if (to <= from || scan.transactions === (last?.transactions ?? 0)) return;
    if (!this.partial.hash) {
      const hash = createHash('sha256');
      if (from > 0) for await (const chunk of createReadStream(path, { start: 0, end: from - 1 })) hash.update(chunk as Buffer);
      if (last && hash.copy().digest('hex') !== last.partial.prefixSha256) {
        throw new OperationError(`the spool copy of ${file} differs from its partial segments in ${this.o.repo.storage.location} (first ${from} bytes): the repository's parts are not this source's file; was RESET MASTER run on the source? Ship it to a new repository prefix`);
      }
      this.partial.hash = hash;
    }
    const prefixScan = to === scan.size ? scan : await scanBinlogFile(path, to);
    const advanced = this.partial.hash.copy();
    this.lease?.assertHeld();
    const m = await shipPartial(this.shipOptions(), { path, file, scan: prefixScan, from, to, previous: last, prefix: advanced, previousFile: this.last });
    this.partial.parts.push(m);
    this.partial.hash = advanced;
    this.lastPartAt = Date.now();
    this.result.partials++;
    this.offsite = { file, endPosition: m.endPosition, lastEventTime: m.lastEventTime };
    log.debug({ file, part: m.partial.part, from, to, transactions: m.transactions, lastEventTime: m.lastEventTime }, 'partial binlog segment shipped');
  }

  private async dropPartsAfter(file: string, keep: number): Promise<void> {
    const numbers = (await this.o.repo.binlogs.partialFiles(this.sourceId)).get(file) ?? [];
    for (const n of numbers.filter((n) => n > keep)) {
      this.lease?.assertHeld();
      await this.o.repo.storage.remove(partialManifestKey(this.sourceId, file, n));
      await this.o.repo.storage.remove(partialDataKey(this.sourceId, file, n));
    }
  }

  /**
   * `file` is shipped whole: its partial segments go. Their prefix hash is checked against
   * the whole file first; a difference is logged loudly (the whole file, checked against the
   * source's size, is the one kept).
   */
  private async replacePartials(file: string, path: string): Promise<void> {
    const parts = this.partial?.file === file ? this.partial.parts : [];
    const last = parts.at(-1);
    if (last) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path, { start: 0, end: last.endPosition - 1 })) hash.update(chunk as Buffer);
      if (hash.digest('hex') !== last.partial.prefixSha256) log.error({ file, parts: parts.length, end: last.endPosition }, 'the whole binlog file differs from its partial segments: keeping the whole file');
    }
    if (this.partial?.file === file) this.partial = null;
    // Without partial segments there is nothing to list per file (a request per shipped file,
    // which also lengthened a SIGTERM's wind-down on a slow store): only the files that had
    // parts when this run started. Parts without a manifest are prune's (replaced-partial-segments).
    else if (!this.o.partialSegments && !this.partialsAtStart.has(file)) return;
    this.partialsAtStart.delete(file);
    this.lease?.assertHeld();
    const removed = await this.o.repo.binlogs.removePartials(this.sourceId, file);
    if (removed) log.debug({ file, parts: removed }, 'partial segments replaced by the whole file');
  }

  private startFollowing(start: string): void {
    log.info({ start, connectionServerId: this.connectionServerId }, 'streaming binlogs from the source');
    this.streamEnded = false;
    this.streamError = undefined;
    const stream = startStream(this.streamOptions(start, true));
    this.stream = stream;
    stream.done.then(
      () => {
        if (this.stream === stream) this.streamEnded = true;
      },
      (err: unknown) => {
        if (this.stream !== stream) return;
        this.streamEnded = true;
        this.streamError = err;
        if (isPurgedError(err)) log.warn({ start }, 'the source no longer has the file to resume from; a gap will be recorded');
      },
    );
  }

  private async streamToEnd(start: string): Promise<void> {
    const stream = startStream(this.streamOptions(start, false));
    this.stream = stream;
    const onAbort = (): void => stream.stop();
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await stream.done;
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      this.stream = undefined;
    }
  }

  private streamOptions(startFile: string, follow: boolean) {
    return { tool: this.tool, flavor: this.info.flavor, source: this.o.source, spoolDir: this.spool, startFile, connectionServerId: this.connectionServerId, follow };
  }

  private stopStream(): void {
    this.stream?.stop();
  }

  /** Stop the stream and wait until its tool has exited (nothing writes the spool after this). */
  private async endStream(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    stream.stop();
    await stream.done.catch(() => undefined);
    if (this.stream === stream) this.stream = undefined;
  }
}
