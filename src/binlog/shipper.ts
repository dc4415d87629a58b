// Continuous binlog shipping: stream the source's binlogs into a local spool directory
// and ship every CLOSED file (the server wrote its Rotate/Stop event, or the next file
// exists) with a signed segment manifest, then drop it from the spool.
//
// Restart-safe by construction: where to resume comes from the repository (the last
// file with a manifest), never from local state; a file whose manifest exists is never
// uploaded again; a missing file is recorded as a gap, never skipped silently.
//
// Bounded lag: when the active file holds a transaction older than the rotation budget
// the shipper runs FLUSH BINARY LOGS (needs RELOAD). That keeps every object a whole
// binlog file, byte-identical to the source's, instead of shipping partial segments.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Repository } from '../repo/repository.js';
import type { SigningKey } from '../crypto/signing.js';
import { signDocument } from '../crypto/signing.js';
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
import { assertSourceId, gapKey, gapsPrefix, shipperStateKey } from './source-keys.js';
import { endsWithCloseEvent, scanBinlogFile } from './event-scan.js';
import { shipFile, type ShipFileOptions } from './ship-file.js';
import { listShippedFiles, type ShipperState } from './repo-binlogs.js';
import { GAP_FORMAT, type GapRecord, type UnsignedGapRecord } from './gap-record.js';
import { startStream, isPurgedError, type RunningStream } from './binlog-stream.js';
import { sourceWarnings } from './source-checks.js';
import { acquireSpoolLock } from './spool-lock.js';

export interface ShipOptions {
  repo: Repository;
  source: MysqlConn;
  signingKey: SigningKey;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  /** Root of the spool; each source gets `<spoolRoot>/<source-id>/`. */
  spoolRoot: string;
  maxLagSeconds: number;
  /** Replica server_id of the dump connection (default: derived from host and source). */
  connectionServerId?: number;
  /** Rotate, ship everything closed, return. Otherwise run until `signal` aborts. */
  once: boolean;
  signal?: AbortSignal;
  /** How often the continuous loop looks at the spool (default 500 ms). */
  pollMs?: number;
}

export interface ShipResult {
  serverUuid: string;
  /** Files shipped by this run, in order. */
  shipped: string[];
  gaps: Array<Pick<GapRecord, 'from' | 'to' | 'reason'>>;
  warnings: string[];
  /** Newest file in the repository after this run. */
  lastShipped: string | null;
}

/** Ship binlogs of one source until stopped (or once); see the file comment. */
export async function shipBinlogs(options: ShipOptions): Promise<ShipResult> {
  const shipper = new Shipper(options);
  try {
    await shipper.init();
    if (options.once) await shipper.runOnce();
    else await shipper.runContinuous();
    return shipper.result;
  } finally {
    await shipper.close();
  }
}

/** Seconds a transaction may wait in the active file before we rotate: leaves room for upload. */
export function rotateAfterSeconds(maxLagSeconds: number): number {
  return maxLagSeconds <= 20 ? maxLagSeconds / 2 : maxLagSeconds - 10;
}

/** A stable replica id per (host, source), in the upper half of the 32-bit range real servers rarely use. */
export function defaultConnectionServerId(sourceId: string): number {
  return 0x80000000 + (createHash('sha256').update(`${hostname()}|${sourceId}`).digest().readUInt32BE(0) % 0x7ffffffe);
}

class Shipper {
  result: ShipResult = { serverUuid: '', shipped: [], gaps: [], warnings: [], lastShipped: null };
  private db: MysqlClient | undefined;
  private info!: ServerInfo;
  private profile!: FlavorProfile;
  private tool!: string;
  private tools: Record<string, string> = {};
  private sourceId = '';
  private spool = '';
  private shipped = new Set<string>();
  private last: string | null = null;
  private knownGaps = new Set<string>();
  private releaseLock: (() => Promise<void>) | undefined;
  private connectionServerId = 0;
  private stream: RunningStream | undefined;
  private streamError: unknown;
  private streamEnded = false;
  private restartStream = false;
  private flushDenied = false;

  constructor(private readonly o: ShipOptions) {}

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
    this.connectionServerId = this.o.connectionServerId ?? defaultConnectionServerId(this.sourceId);
    if (this.connectionServerId === this.info.serverId) {
      throw new OperationError(`binlog.connectionServerId ${this.connectionServerId} equals the source's own server_id: choose another`);
    }
    this.result.warnings = sourceWarnings(this.info, this.o.maxLagSeconds);
    for (const w of this.result.warnings) log.warn({ serverUuid: this.sourceId }, w);

    this.spool = join(this.o.spoolRoot, this.sourceId);
    await mkdir(this.spool, { recursive: true, mode: 0o700 });
    this.releaseLock = await acquireSpoolLock(this.spool);
    const files = await listShippedFiles(this.o.repo, this.sourceId);
    this.shipped = new Set(files);
    this.last = files.at(-1) ?? null;
    this.result.lastShipped = this.last;
    for await (const obj of this.o.repo.storage.list(gapsPrefix(this.sourceId))) this.knownGaps.add(obj.key);
    log.info({ serverUuid: this.sourceId, lastShipped: this.last, spool: this.spool, once: this.o.once }, 'binlog shipper started');
  }

  async close(): Promise<void> {
    this.stopStream();
    await this.stream?.done.catch(() => undefined);
    await this.db?.close();
    this.db = undefined;
    await this.releaseLock?.();
  }

  /** `--once`: catch up to the end of the source's binlogs, rotate if the active file holds transactions, ship. */
  async runOnce(): Promise<void> {
    await this.shipClosed();
    await this.streamToEnd(await this.resumePoint());
    const active = (await this.spoolFiles()).at(-1);
    if (active && !this.aborted()) {
      const scan = await scanBinlogFile(join(this.spool, active));
      if (scan.transactions > 0 && !endsWithCloseEvent(scan) && (await this.flush())) await this.streamToEnd(active);
    }
    await this.shipClosed();
    const rest = (await this.spoolFiles()).at(-1);
    if (rest && !this.aborted()) {
      const scan = await scanBinlogFile(join(this.spool, rest));
      if (scan.transactions === 0) await this.heartbeat(rest, scan.size);
    }
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
    let active: { file: string; firstTransaction: Date | null } | undefined;
    let lastFlush = 0;
    const rotateAfterMs = rotateAfterSeconds(this.o.maxLagSeconds) * 1000;
    const heartbeatMs = Math.min(this.o.maxLagSeconds * 500, 30_000);
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
          this.restartStream = false;
        }
        await this.shipClosed();
        if (!this.stream && Date.now() >= nextStreamAt) {
          const start = await this.resumePoint();
          this.startFollowing(start);
          streamStartedAt = Date.now();
        }
        // Bounded lag: rotate once the oldest unshipped transaction nears the budget.
        const newest = (await this.spoolFiles()).at(-1);
        if (newest && this.stream) {
          if (active?.file !== newest) active = { file: newest, firstTransaction: null };
          if (!active.firstTransaction) {
            const scan = await scanBinlogFile(join(this.spool, newest));
            active.firstTransaction = scan.firstTransactionTime;
            if (!scan.firstTransactionTime && Date.now() - lastHeartbeat >= heartbeatMs && (await this.heartbeat(newest, scan.size))) lastHeartbeat = Date.now();
          }
          if (active.firstTransaction && Date.now() - active.firstTransaction.getTime() >= rotateAfterMs && Date.now() - lastFlush >= Math.max(1000, rotateAfterMs / 2)) {
            lastFlush = Date.now();
            await this.flush();
          }
        }
      } catch (err) {
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
    await this.shipClosed();
  }

  private aborted(): boolean {
    return this.o.signal?.aborted ?? false;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, this.o.signal ? { signal: this.o.signal } : {}).catch(() => undefined);
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
        log.error({ serverUuid: this.sourceId }, 'the source account lacks the RELOAD privilege: cannot rotate binlogs, so shipping lag is not bounded; GRANT RELOAD to it');
        return false;
      }
      throw err;
    }
  }

  private async spoolFiles(): Promise<string[]> {
    return (await readdir(this.spool)).filter(isBinlogName).sort(compareBinlogNames);
  }

  /** Ship every closed spool file in order; remove shipped ones. */
  private async shipClosed(): Promise<void> {
    const files = await this.spoolFiles();
    for (const [i, file] of files.entries()) {
      const path = join(this.spool, file);
      if (this.shipped.has(file)) {
        await rm(path, { force: true });
        continue;
      }
      const scan = await scanBinlogFile(path);
      const newest = i === files.length - 1;
      if (scan.partialBytes !== 0 && !newest) {
        // The streamer moved on, so this copy was torn (e.g. by a crash): fetch it again.
        log.warn({ file, partialBytes: scan.partialBytes }, 'spool file is incomplete; streaming it again');
        for (const f of files.slice(i)) await rm(join(this.spool, f), { force: true });
        this.restartStream = true;
        return;
      }
      if (newest && !endsWithCloseEvent(scan)) return;
      if (this.last && binlogSeq(file) <= binlogSeq(this.last)) {
        throw new OperationError(`spool file ${file} is not newer than the last shipped file ${this.last}: was RESET MASTER run on the source? Ship it to a new repository prefix`);
      }
      if (this.last && binlogSeq(file) > binlogSeq(this.last) + 1) {
        await this.recordGap(shiftBinlogName(this.last, 1), shiftBinlogName(file, -1), 'missing-from-sequence', file);
      }
      const m = await shipFile(this.shipOptions(), path, file, scan, this.last);
      this.shipped.add(file);
      this.last = file;
      this.result.lastShipped = file;
      this.result.shipped.push(file);
      await rm(path, { force: true });
      log.info({ file, rawBytes: m.rawBytes, storedBytes: m.storedBytes, transactions: m.transactions, lastEventTime: m.lastEventTime }, 'binlog shipped');
    }
  }

  private shipOptions(): ShipFileOptions {
    return {
      repo: this.o.repo,
      signingKey: this.o.signingKey,
      recipients: this.o.recipients,
      compressionLevel: this.o.compressionLevel,
      compressionThreads: this.o.compressionThreads,
      sourceId: this.sourceId,
      flavor: this.info.flavor,
      tools: this.tools,
    };
  }

  /** The file to stream from: the one after the last shipped, or the source's oldest; records a gap when it was purged. */
  private async resumePoint(): Promise<string> {
    const logs = (await this.withDb((db) => listBinaryLogs(db, this.profile))).map((l) => l.file).sort(compareBinlogNames);
    const oldest = logs[0];
    if (!oldest) throw new OperationError('the source lists no binary logs: is log_bin on?');
    if (!this.last) return oldest;
    const next = shiftBinlogName(this.last, 1);
    if (logs.includes(next)) return next;
    const later = logs.filter((f) => binlogSeq(f) > binlogSeq(next));
    if (later.length === 0) {
      throw new OperationError(`the source's binlogs (${oldest} … ${logs.at(-1)}) are all older than ${next}, the next file to ship: was RESET MASTER run, or is this another server? Ship it to a new repository prefix`);
    }
    const first = later[0]!;
    await this.recordGap(next, shiftBinlogName(first, -1), 'purged-on-source', first);
    for (const f of await this.spoolFiles()) if (binlogSeq(f) < binlogSeq(first)) await rm(join(this.spool, f), { force: true });
    return first;
  }

  private async recordGap(from: string, to: string, reason: GapRecord['reason'], before: string): Promise<void> {
    const key = gapKey(this.sourceId, from, to);
    if (this.knownGaps.has(key) || (await this.o.repo.storage.stat(key))) {
      this.knownGaps.add(key);
      return;
    }
    const unsigned: UnsignedGapRecord = {
      format: GAP_FORMAT,
      version: 1,
      repositoryId: this.o.repo.config.id,
      serverUuid: this.sourceId,
      from,
      to,
      after: this.last,
      before,
      reason,
      detectedAt: new Date().toISOString(),
    };
    await this.o.repo.storage.put(key, Buffer.from(`${JSON.stringify(signDocument(unsigned, this.o.signingKey), null, 2)}\n`), { contentType: 'application/json' });
    this.knownGaps.add(key);
    this.result.gaps.push({ from, to, reason });
    log.error(
      { serverUuid: this.sourceId, from, to, reason, after: this.last, before },
      `binlog gap: ${from} … ${to} ${reason === 'purged-on-source' ? 'were purged on the source before they were shipped' : 'are missing from the sequence'}; point-in-time recovery cannot cross it (take a new full backup)`,
    );
  }

  /** Record "nothing unshipped at this instant" when the source's position is the active spool file's end. */
  private async heartbeat(activeFile: string, spoolSize: number): Promise<boolean> {
    if (!this.last) return false;
    const status = await this.withDb((db) => readBinlogStatus(db, this.profile));
    const size = (await stat(join(this.spool, activeFile)).catch(() => undefined))?.size;
    if (status.file !== activeFile || status.position !== spoolSize || size !== spoolSize) return false;
    const state: Omit<ShipperState, 'signature'> = {
      format: 'horizn-dbops/binlog-shipper-state',
      version: 1,
      serverUuid: this.sourceId,
      caughtUpAt: new Date().toISOString(),
      activeFile,
      activePosition: status.position,
      host: hostname(),
      pid: process.pid,
    };
    // Rewritten every few seconds while idle: a heartbeat, not backup data, so never locked
    // (each locked write would pin one more version for pitrWindow + margin).
    await this.o.repo.storage.put(shipperStateKey(this.sourceId), Buffer.from(`${JSON.stringify(signDocument(state, this.o.signingKey), null, 2)}\n`), { contentType: 'application/json', unlocked: true });
    return true;
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
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await stream.done;
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
      this.stream = undefined;
    }
  }

  private streamOptions(startFile: string, follow: boolean) {
    return { tool: this.tool, flavor: this.info.flavor, source: this.o.source, spoolDir: this.spool, startFile, connectionServerId: this.connectionServerId, follow };
  }

  private stopStream(): void {
    this.stream?.stop();
  }
}
