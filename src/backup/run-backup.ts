// A full backup: one consistent mysqldump, split into parts, each compressed, encrypted,
// measured and stored — on MariaDB the largest tables by dumps of their own at the same
// point in time (parallel-dump.ts); then the signed manifest, written LAST. Any failure or interrupt
// aborts every upload and removes what was written, and no manifest is ever written,
// so a failed backup can never be listed or restored.
import { execa } from 'execa';
import type { KeyObject } from 'node:crypto';
import { DumpSplitter } from '../dump/dump-splitter.js';
import { BackupSink } from './backup-sink.js';
import { dumpAccounts } from './accounts.js';
import { schemaInventory, type SchemaObjects } from './schema-inventory.js';
import { PartUpload } from '../pipeline/part-upload.js';
import { withConnection } from '../mysql/client.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../mysql/flavor.js';
import { dumpArgs } from './dump-args.js';
import { CommitBlock, ignoreTableArgs, pickTableDumps, tableDumpArgs, type StartedTableDump, type TableDump } from './parallel-dump.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { newBackupId, backupManifestKey, backupPartKey, backupPrefix } from '../storage/layout.js';
import { withEvidence } from '../repo/evidence-log.js';
import { documentBytes, sha256Hex } from '../repo/signed-document.js';
import { recipientFingerprint } from '../crypto/age.js';
import { BINLOG_OFF_WARNING } from '../manifest/point-in-time.js';
import { PART_ORDER, type BackupManifest, type ManifestPart, type UnsignedManifest } from '../manifest/backup-manifest.js';
import type { Repository } from '../repo/repository.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { processIo } from '../util/proc-io.js';
import { InterruptedError, OperationError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import { coalesce } from '../util/coalesce.js';
import { VERSION } from '../version.js';

export interface BackupOptions {
  repo: Repository;
  source: MysqlConn;
  recipients: readonly string[];
  databases: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  includeAccounts: boolean;
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** Progress callback with raw bytes dumped so far (the main dump's, plus what the tables' own dumps wrote). */
  onProgress?: (rawBytes: number) => void;
  /** The expected raw size, once the source is inspected: the previous backup's when it had the
   *  same databases, else information_schema's DATA_LENGTH (a dump carries no index pages). */
  onEstimate?: (rawBytes: number) => void;
}

/** Dump bytes handed to the splitter at a time (see coalesce.ts). */
const DUMP_BLOCK_BYTES = 1 << 20;

/** Take a backup and record it (committed, failed or interrupted) in the evidence log. */
export async function runBackup(options: BackupOptions): Promise<BackupManifest> {
  return withEvidence(options.repo, { action: 'backup' }, () => takeBackup(options), (m) => ({
    subject: m.id,
    outcome: 'ok',
    summary: `backup ${m.id} committed: ${m.databases.join(', ')}, ${m.parts.length} parts, ${m.totals.storedBytes} bytes stored`,
    details: { databases: m.databases, consistentPoint: m.consistentPoint, storedBytes: m.totals.storedBytes, labels: m.labels },
    refs: [{ key: backupManifestKey(m.id), sha256: sha256Hex(documentBytes(m)) }],
  }));
}

async function takeBackup(options: BackupOptions): Promise<BackupManifest> {
  const startedAt = new Date();
  const { info, databases, warnings, accounts, objects, tableDumps, schemaBytes } = await inspectSource(options);
  if (options.onEstimate) options.onEstimate(await estimateRawBytes(options.repo, databases, schemaBytes));
  const profile = flavorProfile(info);
  const tools = resolveTools(profile);
  const id = newBackupId(startedAt);
  // Asked early, in parallel with the dump, so they add no wall time at the end.
  const versions = toolVersions(tools.dump);
  const storage = options.repo.storage;
  log.info({ backupId: id, databases, flavor: info.flavor, version: info.version }, 'backup started');

  const sink = new BackupSink({
    storage,
    backupId: id,
    recipients: options.recipients,
    compressionLevel: options.compressionLevel,
    compressionThreads: options.compressionThreads,
  });
  const splitter = new DumpSplitter(sink);
  const accountsKey = backupPartKey(id, 'accounts.sql.zst.age');
  // Interrupted: every part's programs stop at once. The tables' own dumps run on after the
  // main dump ends, and only the main dump hears the signal below.
  const interrupt = (): void => sink.interrupt(new InterruptedError(String(options.signal?.reason ?? 'signal')));
  options.signal?.addEventListener('abort', interrupt, { once: true });
  // The tables' own dumps write straight into zstd, and run on after the main dump: their
  // progress is what /proc says they wrote, asked once a second until their parts are stored.
  const producerPids: number[] = [];
  const producerBytes = new Map<number, number>();
  let mainBytes = 0;
  const report = (): void => {
    for (const pid of producerPids) {
      const io = processIo(pid);
      if (io) producerBytes.set(pid, Math.max(producerBytes.get(pid) ?? 0, io.written));
    }
    options.onProgress?.(mainBytes + [...producerBytes.values()].reduce((a, b) => a + b, 0));
  };
  const ticker = options.onProgress && tableDumps.length ? setInterval(report, 1000) : undefined;
  try {
    const split = await (async () => {
      // zstd and age for each table dump start first: commits are blocked only while the
      // dumps themselves start.
      const uploads: PartUpload[] = [];
      for (const t of tableDumps) uploads.push(await sink.prepareProduced({ kind: 'table', database: t.database, table: t.table }, `mariadb-dump of ${t.database}.${t.table}`));
      const block = tableDumps.length ? await CommitBlock.take(options.source) : undefined;
      if (!block) await sink.dropProduced();
      try {
        const ownDumps = block ? tableDumps : [];
        const fullArgs = dumpArgs(info, databases);
        const started: StartedTableDump[] = ownDumps.map((t, i) => {
          const proc = uploads[i]!.startProducer((stdoutFd) => startTool(tools.dump, tableDumpArgs(fullArgs, t), { stdout: stdoutFd, bufferStdout: true, credentials: options.source }));
          if (proc.pid !== undefined) producerPids.push(proc.pid);
          proc.stdin.end();
          const exited = waitTool(proc, `mariadb-dump of ${t.database}.${t.table}`);
          exited.catch(() => undefined);
          return { table: t, exited };
        });
        if (ownDumps.length) log.info({ tables: ownDumps.map((t) => `${t.database}.${t.table}`) }, 'largest tables dumped by their own processes');
        const args = dumpArgs(info, databases, ignoreTableArgs(ownDumps));
        const dump = startTool(tools.dump, args, { bufferStdout: true, credentials: options.source });
        dump.stdin.end();
        const onAbort = (): void => void dump.kill('SIGTERM');
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const dumpDone = waitTool(dump, 'mariadb-dump/mysqldump');
        dumpDone.catch(() => undefined);
        let mainStarted!: () => void;
        const firstBytes = new Promise<void>((resolve) => (mainStarted = resolve));
        // Commits resume as soon as every dump has its snapshot, while the dumps go on.
        const snapshots = block?.waitForSnapshots(started, Promise.race([firstBytes, dumpDone])).finally(() => block.release());
        snapshots?.catch(() => undefined);
        try {
          let bytes = 0;
          for await (const chunk of coalesce(dump.stdout as AsyncIterable<Buffer>, DUMP_BLOCK_BYTES)) {
            if (bytes === 0) mainStarted();
            bytes += chunk.length;
            await splitter.push(chunk);
            mainBytes = bytes;
            if (!ticker) options.onProgress?.(bytes);
          }
          await dumpDone;
          await snapshots;
        } catch (err) {
          dump.kill('SIGKILL');
          await dumpDone.catch(() => undefined);
          throw err;
        } finally {
          options.signal?.removeEventListener('abort', onAbort);
        }
        if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));
        const result = await splitter.finish();
        if (!result.completed) throw new OperationError('the dump ended without its "Dump completed" trailer: it was truncated; no backup was recorded');
        block?.checkSamePoint(result.coordinates);
        return result;
      } finally {
        await block?.release();
      }
    })();
    const stored = await sink.finishAll();
    const produced = await sink.finishProduced();

    const parts: ManifestPart[] = stored.map((p, i) => ({
      name: p.name,
      key: p.object.key,
      kind: p.kind,
      ...(p.database !== undefined ? { database: p.database } : {}),
      ...(p.table !== undefined ? { table: p.table } : {}),
      rows: split.parts[i]?.rows ?? null,
      rawBytes: p.object.raw.bytes,
      rawSha256: p.object.raw.sha256,
      storedBytes: p.object.stored.bytes,
      storedSha256: p.object.stored.sha256,
    }));
    for (const p of produced) {
      parts.push({ name: p.name, key: p.object.key, kind: p.kind, database: p.database, ...(p.table !== undefined ? { table: p.table } : {}), rows: null, rawBytes: p.object.raw.bytes, rawSha256: null, storedBytes: p.object.stored.bytes, storedSha256: p.object.stored.sha256 });
    }
    if (accounts) {
      const upload = await PartUpload.start({ storage, key: accountsKey, recipients: options.recipients, compressionLevel: options.compressionLevel, compressionThreads: 1 });
      await upload.write(Buffer.from(accounts.sql));
      const object = await upload.end();
      parts.push({ name: 'accounts', key: object.key, kind: 'accounts', rows: accounts.count, rawBytes: object.raw.bytes, rawSha256: object.raw.sha256, storedBytes: object.stored.bytes, storedSha256: object.stored.sha256 });
    }
    parts.sort((a, b) => PART_ORDER[a.kind] - PART_ORDER[b.kind] || a.name.localeCompare(b.name));

    if (!split.coordinates.binlogFile && info.logBin) warnings.push('the dump recorded no binlog position: point-in-time recovery from this backup is not possible');
    const unsigned: UnsignedManifest = {
      id,
      repositoryId: options.repo.config.id,
      startedAt: startedAt.toISOString(),
      completedAt: new Date().toISOString(),
      source: {
        flavor: info.flavor,
        version: info.version,
        serverUuid: info.serverUuid,
        serverId: info.serverId,
        gtidMode: info.gtidMode,
        host: options.source.socket ? `socket:${options.source.socket}` : `${options.source.host}:${options.source.port}`,
      },
      consistentPoint: {
        binlogFile: split.coordinates.binlogFile ?? null,
        binlogPosition: split.coordinates.binlogPosition ?? null,
        gtidSet: split.coordinates.gtidSet ?? null,
      },
      databases: [...databases],
      tools: await versions,
      encryption: { format: 'age', recipients: options.recipients.map(recipientFingerprint) },
      compression: { format: 'zstd', level: options.compressionLevel },
      parts,
      totals: {
        rawBytes: parts.reduce((s, p) => s + p.rawBytes, 0),
        storedBytes: parts.reduce((s, p) => s + p.storedBytes, 0),
        rows: parts.some((p) => p.kind === 'table' && p.rows === null) ? null : parts.filter((p) => p.kind === 'table').reduce((s, p) => s + (p.rows ?? 0), 0),
      },
      warnings,
      objects,
      labels: options.labels ?? {},
    };
    if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));
    // The commit point: before this put the backup does not exist.
    const manifest = await options.repo.backups.commit(unsigned);
    log.info({ backupId: id, rawBytes: manifest.totals.rawBytes, storedBytes: manifest.totals.storedBytes, parts: parts.length }, 'backup committed');
    return manifest;
  } catch (err) {
    const error = options.signal?.aborted && !(err instanceof InterruptedError) ? new InterruptedError(String(options.signal.reason ?? 'signal')) : (err as Error);
    splitter.abort(error);
    const cleanup = await sink.abortAll(error);
    const accountsLeft = await storage.remove(accountsKey).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    const notRemoved = [...cleanup.notRemoved, ...(accountsLeft === null ? [] : [accountsKey])];
    if (storage.lock) {
      log.error({ backupId: id, err: error.message }, 'backup failed; no manifest was written (parts already uploaded stay until their Object Lock ends, then prune removes them as an unfinished backup)');
    } else if (notRemoved.length === 0) {
      log.error({ backupId: id, err: error.message }, 'backup failed; its parts were removed and no manifest was written');
    } else {
      // A removal can fail for a key that was never written (the store is unreachable), so
      // this is what MAY be left; prune finds what is actually there.
      log.error(
        { backupId: id, err: error.message, notRemoved: notRemoved.length, prefix: backupPrefix(id), removeError: cleanup.problem ?? accountsLeft },
        `backup failed; no manifest was written, but ${notRemoved.length} of its objects could not be removed (${cleanup.problem ?? accountsLeft}) and may be left under ${backupPrefix(id)}: it is not a backup, and "dbops prune --apply" removes them as an unfinished backup once they are older than retention.graceForIncomplete`,
      );
    }
    throw error;
  } finally {
    if (ticker) clearInterval(ticker);
    options.signal?.removeEventListener('abort', interrupt);
  }
}

async function inspectSource(
  options: BackupOptions,
): Promise<{ info: ServerInfo; databases: string[]; warnings: string[]; objects: Record<string, SchemaObjects>; tableDumps: TableDump[]; schemaBytes: number; accounts?: { sql: string; count: number } }> {
  return withConnection(options.source, async (db) => {
    const info = await readServerInfo(db);
    const existing = await db.listUserDatabases();
    let databases: string[];
    if (options.databases.length) {
      const missing = options.databases.filter((d) => !existing.includes(d));
      if (missing.length) throw new UsageError(`database ${missing.map((m) => `"${m}"`).join(', ')} does not exist on the source; existing: ${existing.join(', ') || '(none)'}`);
      databases = [...options.databases];
    } else {
      databases = existing;
    }
    if (databases.length === 0) throw new UsageError('the source has no user database to back up; create one or check source.url');
    const warnings: string[] = [];
    const nonTx = await db.nonTransactionalTables(databases);
    if (nonTx.length) {
      const names = nonTx.slice(0, 5).map((t) => `${t.database}.${t.table} (${t.engine})`).join(', ');
      const msg = `${nonTx.length} non-transactional table(s) are not covered by the consistent snapshot: ${names}${nonTx.length > 5 ? ', …' : ''}`;
      warnings.push(msg);
      log.warn({ tables: nonTx.length }, msg);
    }
    if (!info.logBin) {
      warnings.push(BINLOG_OFF_WARNING);
      log.warn(BINLOG_OFF_WARNING);
    }
    const accounts = options.includeAccounts ? await dumpAccounts(db) : undefined;
    const objects = await schemaInventory(db, databases);
    const tableDumps = await pickTableDumps(db, info, databases);
    const sized = await db.query<{ n: number | string | null }>('SELECT SUM(DATA_LENGTH) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)', [databases]);
    return { info, databases, warnings, objects, tableDumps, schemaBytes: Number(sized[0]?.n ?? 0), ...(accounts ? { accounts } : {}) };
  });
}

/** The previous backup's raw size when it holds the same databases (the best guess), else the schema's. */
async function estimateRawBytes(repo: Repository, databases: readonly string[], schemaBytes: number): Promise<number> {
  try {
    const previous = await repo.backups.resolve('latest');
    const same = previous.databases.length === databases.length && previous.databases.every((d) => databases.includes(d));
    if (same) return previous.totals.rawBytes;
  } catch {
    // no backup yet, or none that verifies: the schema's estimate
  }
  return schemaBytes;
}

async function toolVersions(dumpTool: string): Promise<Record<string, string>> {
  const first = async (file: string, args: string[]): Promise<string> => {
    try {
      const r = await execa(file, args, { reject: false, timeout: 5000 });
      return (r.stdout || r.stderr).split('\n')[0]!.trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    dbops: VERSION,
    dump: await first(dumpTool, ['--version']),
    zstd: await first('zstd', ['--version']),
    age: await first('age', ['--version']),
  };
}

export type { KeyObject };
