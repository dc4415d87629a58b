// The backup manifest: the commit marker of a backup (written last), self-describing
// (format version, source, consistent point, tools, every part with sizes and hashes)
// and signed. Readers accept a backup only through `parseVerifiedManifest`.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const MANIFEST_FORMAT = 'horizn-dbops/backup-manifest';
export const MANIFEST_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const partSchema = z.object({
  /** Stable name inside the backup, e.g. `0003`. */
  name: z.string(),
  key: z.string(),
  kind: z.enum(['database', 'table', 'sequence', 'views', 'events', 'routines', 'accounts']),
  database: z.string().optional(),
  table: z.string().optional(),
  /** Row count from the dump itself; null where the dump format does not tell. */
  rows: z.number().int().nonnegative().nullable(),
  rawBytes: z.number().int().nonnegative(),
  /** Null for a table dumped by its own process straight into zstd (dbops never read those
   *  bytes); zstd's frame checksum and age's authentication still check them end to end. */
  rawSha256: sha256.nullable(),
  storedBytes: z.number().int().nonnegative(),
  storedSha256: sha256,
});
export type ManifestPart = z.infer<typeof partSchema>;

export const sourceSchema = z.object({
  flavor: z.enum(['mysql', 'mariadb']),
  version: z.string(),
  serverUuid: z.string(),
  serverId: z.number().int().optional(),
  gtidMode: z.boolean(),
  host: z.string().optional(),
});
export type SourceInfo = z.infer<typeof sourceSchema>;

export const consistentPointSchema = z.object({
  binlogFile: z.string().nullable(),
  binlogPosition: z.number().int().nonnegative().nullable(),
  gtidSet: z.string().nullable(),
});
export type ConsistentPoint = z.infer<typeof consistentPointSchema>;

export const backupManifestDoc = documentType(MANIFEST_FORMAT, MANIFEST_VERSION, 'backup manifest', {
  id: z.string(),
  repositoryId: z.string(),
  startedAt: z.string(),
  completedAt: z.string(),
  source: sourceSchema,
  consistentPoint: consistentPointSchema,
  databases: z.array(z.string()),
  tools: z.record(z.string(), z.string()),
  encryption: z.object({ format: z.literal('age'), recipients: z.array(z.string()) }),
  compression: z.object({ format: z.literal('zstd'), level: z.number().int() }),
  /** Ordered as restore must apply them (databases, tables, views, routines, events, accounts). */
  parts: z.array(partSchema),
  totals: z.object({ rawBytes: z.number(), storedBytes: z.number(), rows: z.number().nullable() }),
  warnings: z.array(z.string()),
  /** Names of every schema object per database at backup time (restore tests check them). */
  objects: z
    .record(
      z.string(),
      z.object({
        tables: z.array(z.string()),
        sequences: z.array(z.string()),
        views: z.array(z.string()),
        routines: z.array(z.string()),
        triggers: z.array(z.string()),
        events: z.array(z.string()),
      }),
    )
    .default({}),
  labels: z.record(z.string(), z.string()).default({}),
});
export type BackupManifest = SignedDoc<typeof backupManifestDoc>;
export type UnsignedManifest = UnsignedDoc<typeof backupManifestDoc>;

/** Restore order: databases first, then tables/sequences, then objects that refer to them. */
export const PART_ORDER: Record<ManifestPart['kind'], number> = {
  database: 0,
  sequence: 1,
  table: 1,
  views: 2,
  routines: 3,
  events: 4,
  accounts: 5,
};
