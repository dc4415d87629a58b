// Archives one date partition through the backup pipeline: its rows as SQL INSERTs (mariadb-dump
// --where on the partition's day range, so `age -d | zstd -d | mariadb db` restores them by hand),
// compressed, encrypted, stored; then the signed manifest, written last; then re-read and checked.
// Only a verified archive lets the caller drop the partition. When the manifest cannot be written,
// the data object just uploaded is removed again, so no orphan is left behind.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Readable } from 'node:stream';
import { PartUpload } from '../pipeline/part-upload.js';
import { MeasureStream } from '../pipeline/measure.js';
import { openPartSource } from '../pipeline/part-download.js';
import { encodeDocument } from '../repo/signed-document.js';
import { recipientFingerprint } from '../crypto/age.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import type { ServerInfo } from '../mysql/server-info.js';
import { archiveKey, archiveManifestKey } from '../storage/layout.js';
import { addDays } from '../migrate/partitions.js';
import type { Repository } from '../repo/repository.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { DbopsError, OperationError, VerificationError, isNotFound } from '../errors.js';
import { recordAdminAction } from '../audit/admin-action.js';
import { log } from '../util/logger.js';
import { archiveManifestDoc, parseArchiveManifest, type ArchiveManifest, type UnsignedArchiveManifest } from './archive-manifest.js';

export interface ArchiveTarget {
  conn: Connection;
  server: MysqlConn;
  database: string;
  info: ServerInfo;
  /** mariadb-dump / mysqldump path. */
  dumpTool: string;
}

export interface ArchiveKeys {
  repo: Repository;
  recipients: readonly string[];
  /** When set, verification also decrypts and checks the plaintext hash. */
  identityFile?: string;
  compressionLevel: number;
}

export interface PartitionRange {
  table: string;
  partition: string;
  /** Inclusive lower bound (the previous partition's bound), null for the first partition (open below). */
  from: string | null;
  /** Exclusive upper bound. */
  to: string;
}

export function rangeWhere(r: Pick<PartitionRange, 'from' | 'to'>): string {
  return r.from === null ? `day < '${r.to}'` : `day >= '${r.from}' AND day < '${r.to}'`;
}

export async function countPartitionRows(conn: Connection, table: string, partition: string): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${table}\` PARTITION (\`${partition}\`)`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The range an archive records: the first partition is open below in the table, but what it holds
 * starts at its oldest row. Recording that day (not "everything before `to`") keeps consecutive
 * archives disjoint: each day archived as the first partition of its day's run can be restored,
 * oldest first, without the next one counting the previous one's rows as already present.
 */
export async function closedRange(conn: Connection, r: PartitionRange): Promise<PartitionRange> {
  if (r.from !== null) return r;
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT DATE_FORMAT(MIN(day), '%Y-%m-%d') AS d FROM \`${r.table}\` PARTITION (\`${r.partition}\`)`);
  const oldest = rows[0]?.d as string | null | undefined;
  return { ...r, from: oldest ?? addDays(r.to, -1) };
}

async function readExisting(keys: ArchiveKeys, database: string, r: PartitionRange): Promise<ArchiveManifest | undefined> {
  const key = archiveManifestKey(database, r.table, r.partition);
  let bytes: Buffer;
  try {
    bytes = await keys.repo.storage.getBuffer(key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return parseArchiveManifest(bytes, key, keys.repo.publicKey);
}

/** Reads the stored object back and checks its hash (and, given an identity, the plaintext's too). */
export async function verifyArchive(keys: ArchiveKeys, manifest: ArchiveManifest): Promise<void> {
  const part = { name: manifest.partition, kind: 'table' as const, database: manifest.database, table: manifest.table, rows: manifest.rows, ...manifest.part };
  if (keys.identityFile) {
    const src = await openPartSource(keys.repo.storage, part, keys.identityFile);
    src.raw.resume();
    await src.done;
    return;
  }
  let body: Readable;
  try {
    body = await keys.repo.storage.get(manifest.part.key);
  } catch (err) {
    if (isNotFound(err)) throw new VerificationError(`archive ${manifest.part.key} is missing from the repository`, manifest.part.key);
    throw err;
  }
  const m = new MeasureStream();
  body.pipe(m);
  for await (const _ of m) {
    /* drain */
  }
  const r = m.result();
  if (r.sha256 !== manifest.part.storedSha256 || r.bytes !== manifest.part.storedBytes) {
    throw new VerificationError(`archive ${manifest.part.key} reads back as ${r.bytes} bytes (sha256 ${r.sha256.slice(0, 12)}…), not the ${manifest.part.storedBytes} bytes just written: storage is damaging objects`, manifest.part.key);
  }
}

/**
 * Archives and verifies one partition; returns its manifest. An existing verified archive of the same
 * rows is reused (a re-run after a crash between archive and drop); a different one is never overwritten.
 */
export async function archivePartition(target: ArchiveTarget, keys: ArchiveKeys, open: PartitionRange): Promise<{ manifest: ArchiveManifest; reused: boolean }> {
  const r = await closedRange(target.conn, open);
  const rows = await countPartitionRows(target.conn, r.table, r.partition);
  const existing = await readExisting(keys, target.database, r);
  if (existing) {
    if (existing.database === target.database && existing.rows === rows && existing.range.to === r.to) {
      await verifyArchive(keys, existing);
      return { manifest: existing, reused: true };
    }
    throw new OperationError(
      `${archiveManifestKey(target.database, r.table, r.partition)} already holds an archive of ${existing.database}.${existing.table} ${existing.partition} (${existing.rows} rows) that differs from ${target.database}.${r.table} ${r.partition} (${rows} rows); move that archive away before archiving again — nothing was dropped`,
    );
  }
  const [ct] = await target.conn.query<RowDataPacket[]>(`SHOW CREATE TABLE \`${r.table}\``);
  const createTable = String(ct[0]?.['Create Table'] ?? '');
  const key = archiveKey(target.database, r.table, r.partition);
  const storage = keys.repo.storage;
  const upload = await PartUpload.start({ storage, key, recipients: keys.recipients, compressionLevel: keys.compressionLevel, compressionThreads: 1 });
  try {
    await (async () => {
      const dump = startTool(target.dumpTool, [
        '--single-transaction',
        '--no-create-info',
        '--skip-triggers',
        '--complete-insert',
        '--hex-blob',
        '--skip-add-locks',
        '--default-character-set=utf8mb4',
        '--max-allowed-packet=1G',
        `--where=${rangeWhere(r)}`,
        target.database,
        r.table,
      ], { bufferStdout: true, credentials: target.server });
      dump.stdin.end();
      const done = waitTool(dump, 'mariadb-dump/mysqldump');
      done.catch(() => undefined);
      try {
        for await (const chunk of dump.stdout) await upload.write(chunk as Buffer);
        await done;
      } catch (err) {
        dump.kill('SIGKILL');
        await done.catch(() => undefined);
        throw err;
      }
    })();
  } catch (err) {
    upload.abort(err as Error);
    await upload.end().catch(() => undefined);
    throw new OperationError(`archiving ${target.database}.${r.table} partition ${r.partition} failed: ${(err as Error).message}; nothing was dropped`, { cause: err });
  }
  let object;
  try {
    object = await upload.end();
  } catch (err) {
    throw new OperationError(`archiving ${target.database}.${r.table} partition ${r.partition} failed: ${(err as Error).message}; nothing was dropped`, { cause: err });
  }
  const unsigned: UnsignedArchiveManifest = {
    repositoryId: keys.repo.config.id,
    createdAt: new Date().toISOString(),
    database: target.database,
    table: r.table,
    partition: r.partition,
    range: { column: 'day', from: r.from, to: r.to },
    rows,
    createTable,
    source: {
      flavor: target.info.flavor,
      version: target.info.version,
      host: target.server.socket ? `socket:${target.server.socket}` : `${target.server.host}:${target.server.port}`,
    },
    compression: { format: 'zstd', level: keys.compressionLevel },
    encryption: { format: 'age', recipients: keys.recipients.map(recipientFingerprint) },
    part: { key: object.key, rawBytes: object.raw.bytes, rawSha256: object.raw.sha256, storedBytes: object.stored.bytes, storedSha256: object.stored.sha256 },
  };
  const manifestKey = archiveManifestKey(target.database, r.table, r.partition);
  const manifestBytes = encodeDocument(archiveManifestDoc, unsigned, keys.repo.signer()).bytes;
  try {
    await storage.put(manifestKey, manifestBytes, { contentType: 'application/json' });
  } catch (err) {
    // Without its manifest the data object is an orphan nobody would ever read: take it away again.
    let removed = true;
    await storage.remove(object.key).catch((e: Error) => {
      removed = false;
      log.error({ key: object.key, err: e.message }, 'could not remove the archive object whose manifest failed; `partitions maintain --apply` removes such orphans later');
    });
    const cause = err instanceof DbopsError ? err.message : `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}`;
    throw new OperationError(
      `archiving ${target.database}.${r.table} partition ${r.partition} failed: writing its manifest ${manifestKey}: ${cause}; ${removed ? 'the archive object was removed again' : `the archive object ${object.key} is left as an orphan`} — nothing was dropped`,
      { cause: err },
    );
  }
  // Verify what the repository now holds, not what we meant to write.
  const manifest = parseArchiveManifest(await storage.getBuffer(manifestKey), manifestKey, keys.repo.publicKey);
  await verifyArchive(keys, manifest);
  await recordAdminAction({
    action: 'partition.archive',
    target: `${target.database}.${r.table}`,
    details: { partition: r.partition, range: manifest.range, rows: manifest.rows, key: manifest.part.key, storedBytes: manifest.part.storedBytes },
    outcome: 'ok',
  });
  return { manifest, reused: false };
}
