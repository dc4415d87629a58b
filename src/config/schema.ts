// The one configuration schema. Every key can come from dbops.yaml, from the env
// (DBOPS_ + the key path in upper snake case, e.g. age.identityFile → DBOPS_AGE_IDENTITY_FILE)
// or from a flag; flags > env > file. Unknown keys are errors, all reported at once.
import { z } from 'zod';

const level = z.coerce.number().int().min(1).max(19);

export const configSchema = z.strictObject({
  environment: z.enum(['development', 'staging', 'production']).default('development'),
  source: z
    .strictObject({
      url: z.string().min(1).optional(),
      /** Databases to back up; empty means every user database. */
      databases: z.array(z.string().min(1)).default([]),
    })
    .default({ databases: [] }),
  storage: z.strictObject({ url: z.string().min(1).optional() }).default({}),
  age: z
    .strictObject({
      /** age1… public keys or files of them; the backup host needs only these. */
      recipients: z.array(z.string().min(1)).default([]),
      /** Private identity file, needed only to verify content or restore. */
      identityFile: z.string().min(1).optional(),
    })
    .default({ recipients: [] }),
  signing: z
    .strictObject({
      keyFile: z.string().min(1).optional(),
      /** Pinned public key for checking manifests and reports (defaults to repo.json's). */
      publicKeyFile: z.string().min(1).optional(),
    })
    .default({}),
  compression: z
    .strictObject({
      level: level.default(3),
      /** zstd worker threads; 0 = one per core. */
      threads: z.coerce.number().int().min(0).max(64).default(0),
    })
    .default({ level: 3, threads: 0 }),
  backup: z
    .strictObject({
      /** Dump user accounts and grants into a separate part (restored only on request). */
      accounts: z.coerce.boolean().default(true),
    })
    .default({ accounts: true }),
  restore: z
    .strictObject({
      /** Table parts loaded at once. */
      parallel: z.coerce.number().int().min(1).max(32).default(2),
      /** Server to restore into (a restore command needs it; never the source by default). */
      targetUrl: z.string().min(1).optional(),
    })
    .default({ parallel: 2 }),
  binlog: z
    .strictObject({
      /** Newest shipped event is at most this old while the source writes (rotation by FLUSH BINARY LOGS). */
      maxLagSeconds: z.coerce.number().int().min(2).max(86_400).default(60),
      /** Local spool for streamed binlogs (a cache: lost files are streamed again). Default: <tmpdir>/dbops-binlog-spool. */
      spoolDir: z.string().min(1).optional(),
      /** Replica server_id of the dump connection; default derived from host and source. */
      connectionServerId: z.coerce.number().int().min(1).max(4_294_967_295).optional(),
    })
    .default({ maxLagSeconds: 60 }),
  /** Date-partitioned tables: rows older than this (a number of days, e.g. 400d) are archived to the
   *  repository and their partitions dropped by `dbops partitions maintain --apply`. */
  retention: z
    .strictObject({
      pageviews: z.string().regex(/^\d+d$/, 'write a number of days like 400d').default('400d'),
      events: z.string().regex(/^\d+d$/, 'write a number of days like 400d').default('400d'),
    })
    .default({ pageviews: '400d', events: '400d' }),
  partitions: z
    .strictObject({
      /** Daily partitions kept ready ahead of today. */
      aheadDays: z.coerce.number().int().min(1).max(366).default(7),
    })
    .default({ aheadDays: 7 }),
});

export type Config = z.infer<typeof configSchema>;

/** Leaf keys that env and flags may set, with how to read a string into them. */
export const SETTABLE_KEYS: Record<string, 'string' | 'list' | 'number' | 'boolean'> = {
  environment: 'string',
  'source.url': 'string',
  'source.databases': 'list',
  'storage.url': 'string',
  'age.recipients': 'list',
  'age.identityFile': 'string',
  'signing.keyFile': 'string',
  'signing.publicKeyFile': 'string',
  'compression.level': 'number',
  'compression.threads': 'number',
  'backup.accounts': 'boolean',
  'restore.parallel': 'number',
  'restore.targetUrl': 'string',
  'retention.pageviews': 'string',
  'retention.events': 'string',
  'partitions.aheadDays': 'number',
  'binlog.maxLagSeconds': 'number',
  'binlog.spoolDir': 'string',
  'binlog.connectionServerId': 'number',
};

export function envNameFor(key: string): string {
  return `DBOPS_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
