// The shape every kind of backup fills (run-backup.ts runs it): inspect the source (reads
// only), produce the parts (every byte through the one BackupSink), then the commit, which
// run-backup does the same way for every kind (the signed manifest, written last).
import type { ServerInfo } from '../mysql/server-info.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import type { Repository } from '../repo/repository.js';
import type { SchemaObjects } from './schema-inventory.js';
import type { BackupSink } from './backup-sink.js';
import type { ConsistentPoint, PhysicalInfo } from '../manifest/backup-manifest.js';

export interface BackupOptions {
  repo: Repository;
  source: MysqlConn;
  recipients: readonly string[];
  /** logical (default): a consistent dump; physical: mariadb-backup's copy of the whole server. */
  kind?: 'logical' | 'physical';
  /** Physical only: pages changed since the newest physical backup of this source, applied on it. */
  incremental?: boolean;
  /**
   * With `incremental`: when there is nothing to apply on (no physical backup of this source,
   * or its newest chain is broken), take a full one and record why in its warnings instead of
   * failing. The daemon's schedule does: a chain has to start somewhere, and a failed run
   * would leave the source without a new backup.
   */
  fullWhenNoBase?: boolean;
  /** Physical only: where the source's datadir is readable from here (default: the server's @@datadir). */
  datadir?: string;
  /** Logical only: the databases to dump (empty: every user database). */
  databases: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  includeAccounts: boolean;
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** Progress callback with raw bytes produced so far (written by us, or by producers as /proc tells). */
  onProgress?: (rawBytes: number) => void;
  /** The expected raw size, once the source is inspected. */
  onEstimate?: (rawBytes: number) => void;
}

/** What inspection found; each kind adds its own facts. */
export interface Inspection {
  info: ServerInfo;
  /** The databases the backup holds (a physical one: every user database of the server). */
  databases: string[];
  warnings: string[];
  objects: Record<string, SchemaObjects>;
  /** Raw bytes expected, for progress. */
  estimate: () => Promise<number | undefined>;
  /** Programs whose `--version` the manifest records (zstd and age are added by the runner). */
  tools: Record<string, string>;
  /** The id must sort after this one (an incremental after what it applies on: ids order backups). */
  follows?: string;
}

/** What producing the parts established about the backup. */
export interface Produced {
  consistentPoint: ConsistentPoint;
  warnings: string[];
  physical?: PhysicalInfo;
}

/** What the runner gives a kind while it produces. */
export interface ProduceContext {
  id: string;
  sink: BackupSink;
  signal?: AbortSignal;
  /** Raw bytes we passed to the sink so far (writes). */
  wrote(total: number): void;
  /** A producer program whose written bytes count as progress (from /proc, once a second). */
  watch(pid: number | undefined): void;
  /** The copy is under way (its first program started): work that may run beside it starts now, not before it. */
  started(): void;
}

export interface BackupKind<I extends Inspection> {
  kind: 'logical' | 'physical';
  inspect(options: BackupOptions): Promise<I>;
  produce(options: BackupOptions, inspected: I, ctx: ProduceContext): Promise<Produced>;
  /** Right before the commit: what must still hold for the manifest to be true (throws when not). */
  beforeCommit?(options: BackupOptions, inspected: I): Promise<void>;
}
