// The backup manifest: the commit marker of a backup (written last), self-describing
// (format version, source, consistent point, tools, every part with sizes and hashes)
// and signed. Readers accept a backup only through `repo.backups` (repo/backup-store.ts).
// Two kinds share it: `logical` (a dump split into SQL parts; manifests written before
// kinds existed have no `kind` and are logical) and `physical` (mariadb-backup's xbstream
// of the whole server, with its InnoDB LSN range and, for an incremental, the backup it
// applies on).
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';
import { VerificationError } from '../errors.js';

export const MANIFEST_FORMAT = 'horizn-dbops/backup-manifest';
export const MANIFEST_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const partSchema = z.object({
  /** Stable name inside the backup, e.g. `0003`. */
  name: z.string(),
  key: z.string(),
  /** `xbstream`: a physical backup's whole stream (mbstream -x extracts it). */
  kind: z.enum(['database', 'table', 'sequence', 'views', 'events', 'routines', 'accounts', 'xbstream']),
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
  /** Present when the stored stream is a run of objects (storage/segments.ts), first to last,
   *  the first at `key`; the stored size and hash above are those of the whole run. */
  segments: z.array(z.object({ key: z.string(), storedBytes: z.number().int().nonnegative() })).min(2).optional(),
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

/** A 64-bit InnoDB log sequence number, as decimal text (JSON numbers lose precision past 2^53). */
const lsn = z.string().regex(/^\d{1,20}$/);

export const physicalSchema = z.object({
  /** The program that read the datadir: its flags and its stream tool follow from it. */
  tool: z.enum(['mariadb-backup', 'xtrabackup']),
  /** Pages newer than fromLsn are in the stream (0 for a full); toLsn is the checkpoint the next incremental starts from. */
  fromLsn: lsn,
  toLsn: lsn,
  /** The last LSN of the redo log copied with it. */
  lastLsn: lsn,
  /** An incremental: the backup it applies on (its toLsn is our fromLsn) and the full its chain starts with; null for a full. */
  parent: z.string().nullable(),
  base: z.string().nullable(),
});
export type PhysicalInfo = z.infer<typeof physicalSchema>;

export const backupManifestDoc = documentType(MANIFEST_FORMAT, MANIFEST_VERSION, 'backup manifest', {
  id: z.string(),
  repositoryId: z.string(),
  kind: z.enum(['logical', 'physical']).default('logical'),
  /** Present exactly when kind is physical. */
  physical: physicalSchema.optional(),
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
  xbstream: 0,
};

/** The physical section of a physical backup (a VerificationError when it is missing: the manifest contradicts itself). */
export function physicalOf(m: Pick<BackupManifest, 'id' | 'kind' | 'physical'>): PhysicalInfo {
  if (m.kind !== 'physical' || !m.physical) throw new VerificationError(`backup ${m.id} is ${m.kind === 'physical' ? 'physical but its manifest has no physical section' : 'not a physical backup'}`);
  return m.physical;
}
