// Brings an archived partition back: verifies the signed manifest, re-creates the partition when
// it was dropped (splitting the partition that now covers its days), streams the decrypted SQL into
// the mariadb client, and checks the row count against the manifest.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { pipeline } from 'node:stream/promises';
import { openPartSource } from '../pipeline/part-download.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { archiveManifestKey, legacyArchiveManifestKey } from '../storage/layout.js';
import type { Repository } from '../repo/repository.js';
import { listDatePartitions } from '../migrate/partitions.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';
import { parseArchiveManifest, type ArchiveManifest } from './archive-manifest.js';
import { rangeWhere } from './archive-partition.js';

export interface RestoreArchiveOptions {
  conn: Connection;
  server: MysqlConn;
  database: string;
  /** mariadb / mysql client path. */
  clientTool: string;
  repo: Repository;
  identityFile: string;
  table: string;
  partition: string;
}

export interface RestoreArchiveResult {
  manifest: ArchiveManifest;
  /** The partition had to be created again. */
  recreated: boolean;
  rows: number;
}

/** The manifest of `database`.`table` `partition`: under the current key, else where archives
 *  written before keys carried the database are (only if it names this database). */
export async function readArchiveManifest(repo: Repository, database: string, table: string, partition: string): Promise<ArchiveManifest> {
  const keys = [archiveManifestKey(database, table, partition), legacyArchiveManifestKey(table, partition)];
  for (const key of keys) {
    let bytes: Buffer;
    try {
      bytes = await repo.storage.getBuffer(key);
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    const manifest = parseArchiveManifest(bytes, key, repo.publicKey);
    if (manifest.repositoryId !== repo.config.id) throw new VerificationError(`${key} belongs to repository ${manifest.repositoryId}, not ${repo.config.id}`, key);
    if (manifest.table !== table || manifest.partition !== partition) throw new VerificationError(`${key} describes ${manifest.table} ${manifest.partition}: the manifest was moved or swapped`, key);
    if (manifest.database !== database) {
      if (key === keys[1]) continue; // a legacy archive of another database
      throw new VerificationError(`${key} describes database ${manifest.database}: the manifest was moved or swapped`, key);
    }
    return manifest;
  }
  throw new UsageError(`no archive of ${database}.${table} partition ${partition} in ${repo.storage.location} (looked for ${keys[0]})`);
}

/** Makes sure a partition ends exactly at range.to; returns true when one had to be created. */
async function ensurePartition(conn: Connection, m: ArchiveManifest): Promise<boolean> {
  const parts = await listDatePartitions(conn, m.table);
  const covering = parts.find((p) => p.lessThan === null || p.lessThan >= m.range.to);
  if (!covering) throw new UsageError(`table ${m.table} has no partition for days before ${m.range.to} and no pmax; add one, then restore again`);
  if (covering.lessThan === m.range.to) return false;
  if (parts.some((p) => p.name === m.partition)) {
    throw new UsageError(`table ${m.table} already has a partition named ${m.partition} with other bounds; rename or drop it, then restore again`);
  }
  const upper = covering.lessThan === null ? 'MAXVALUE' : `'${covering.lessThan}'`;
  await conn.query(
    `ALTER TABLE \`${m.table}\` REORGANIZE PARTITION \`${covering.name}\` INTO (PARTITION \`${m.partition}\` VALUES LESS THAN ('${m.range.to}'), PARTITION \`${covering.name}\` VALUES LESS THAN (${upper}))`,
  );
  return true;
}

async function countRange(conn: Connection, m: ArchiveManifest): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${m.table}\` WHERE ${rangeWhere(m.range)}`);
  return Number(rows[0]?.n ?? 0);
}

export async function restoreArchive(o: RestoreArchiveOptions): Promise<RestoreArchiveResult> {
  const manifest = await readArchiveManifest(o.repo, o.database, o.table, o.partition);
  const present = await countRange(o.conn, manifest);
  if (present > 0) {
    throw new UsageError(`${o.database}.${o.table} already holds ${present} rows in ${rangeWhere(manifest.range)}; loading the archive would duplicate them — nothing was changed`);
  }
  const recreated = await ensurePartition(o.conn, manifest);
  const part = { name: manifest.partition, kind: 'table' as const, database: manifest.database, table: manifest.table, rows: manifest.rows, ...manifest.part };
  const source = await openPartSource(o.repo.storage, part, o.identityFile);
  try {
    const client = startTool(o.clientTool, ['--default-character-set=utf8mb4', '--max-allowed-packet=1G', o.database], { credentials: o.server });
    client.stdout.resume();
    await Promise.all([pipeline(source.raw, client.stdin), source.done, waitTool(client, 'mariadb/mysql client')]);
  } catch (err) {
    source.cancel();
    throw err;
  }
  const rows = await countRange(o.conn, manifest);
  if (rows !== manifest.rows) {
    throw new VerificationError(`${o.table} ${o.partition}: ${rows} rows restored but the archive manifest records ${manifest.rows}`, archiveManifestKey(o.database, o.table, o.partition));
  }
  return { manifest, recreated, rows };
}
