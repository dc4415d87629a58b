// The facts the retention planner decides on, reduced to plain data (no storage, no
// clock), so the decision is a pure function that tests can run over simulated months.

export interface RetentionPolicy {
  /** Newest full backup of each of the last N days / ISO weeks / months (UTC) that have one. */
  daily: number;
  weekly: number;
  monthly: number;
  /** Every point in [now − pitrWindowMs, now] that is restorable stays restorable. */
  pitrWindowMs: number;
  /** Unfinished objects (no manifest) younger than this may still be in progress. */
  graceForIncompleteMs: number;
  /** Manifest label that puts a backup under legal hold (never pruned). */
  legalHoldLabel: string;
}

export interface BackupFacts {
  id: string;
  serverUuid: string;
  /** The databases it holds: it counts for these only (retention is per database). */
  databases: string[];
  /** It holds the accounts part (users and grants), which counts as a scope of its own. */
  accounts: boolean;
  /** Upper bound of the consistent point's time (the dump's snapshot was taken before it). */
  completedAt: string;
  /** Binlog file of the consistent point; null when binary logging was off. */
  cpFile: string | null;
  labels: Record<string, string>;
  storedBytes: number;
  /** logical (default) or physical: a physical backup holds every database of its server. */
  kind?: 'logical' | 'physical';
  /** A physical incremental: the backup it applies on (restoring it needs that one, and its chain). */
  parent?: string | null;
  /** Why it does not apply on its parent although both verify (e.g. the source's datadir went back between them). */
  linkProblem?: string;
}

export interface SegmentFacts {
  serverUuid: string;
  file: string;
  sequence: number;
  firstEventTime: string;
  lastEventTime: string;
  storedBytes: number;
  /**
   * A file known only through its partial segments (the prefix recovery can end in): every
   * object under them, removed together, manifests first and the last part's first, so an
   * interrupted removal leaves parts 1…k that still chain.
   */
  partial?: { manifests: string[]; data: string[] };
}

export interface GapRecordFacts {
  serverUuid: string;
  from: string;
  to: string;
  key: string;
}

/**
 * Objects nothing commits: an unfinished backup, segment data without a manifest, an
 * unfinished multipart upload, and the partial segments of a file shipped whole since
 * (a shipper stopped before removing them; nothing reads them once the whole file verifies).
 */
export interface DebrisFacts {
  kind: 'incomplete-backup' | 'orphan-segment-data' | 'incomplete-upload' | 'replaced-partial-segments';
  /** Backup id, or the object key. */
  name: string;
  /** Newest modification (or initiation) time of anything in it. */
  modified: string;
  bytes: number;
  /** Objects to remove (empty for an upload: it is aborted instead). */
  keys: string[];
  /** Multipart upload id (incomplete-upload only). */
  uploadId?: string;
}

/** The databases a live source has now (read when the source is reachable). */
export interface SourceDatabases {
  serverUuid: string;
  databases: string[];
}

export interface RetentionInput {
  backups: BackupFacts[];
  /** Databases of live sources, to name the ones no backup holds (optional: prune works without the source). */
  sourceDatabases?: SourceDatabases[];
  /** Backups whose manifest exists but does not verify: never deleted automatically. */
  unverified: Array<{ id: string; problem: string }>;
  segments: SegmentFacts[];
  gaps: GapRecordFacts[];
  debris: DebrisFacts[];
  now: Date;
  policy: RetentionPolicy;
}

export interface Decision {
  action: 'keep' | 'delete';
  /** Why it stays (every rule that keeps it) or the one rule that sends it. */
  reasons: string[];
}

export interface RetentionPlan {
  now: string;
  windowStart: string;
  /**
   * `keepAtLeastUntil`: the earliest time the rules could let a kept backup go (a lower
   * bound; null when only "newest good backup" keeps it, or for a deleted one); prune
   * raises the Object Lock of kept backups to it. `legalHold`: kept under the legal-hold label.
   */
  backups: Array<BackupFacts & Decision & { keepAtLeastUntil: string | null; legalHold: boolean }>;
  unverified: Array<{ id: string; problem: string } & Decision>;
  /** Per source: segments kept from `keepFrom` on, and the ones before it that go. */
  sources: Array<{
    serverUuid: string;
    keepFrom: string | null;
    keepReason: string;
    kept: number;
    deleted: Array<SegmentFacts & Decision>;
    deletedGapRecords: Array<GapRecordFacts & Decision>;
  }>;
  debris: Array<DebrisFacts & Decision>;
  /**
   * Per source and scope (a database, or the accounts): the newest backup that holds it,
   * every kept backup that holds it, and where its point-in-time recovery starts (the
   * oldest backup the window keeps for it and that backup's binlog file; null when none
   * has a binlog position, and always for the accounts, which PITR does not rebuild).
   */
  coverage: Array<{
    serverUuid: string;
    scope: 'database' | 'accounts';
    database: string | null;
    newest: string;
    kept: string[];
    pitrBase: string | null;
    pitrFrom: string | null;
  }>;
  /** Databases of a live source that no backup holds: nothing can restore them. */
  uncovered: Array<{ serverUuid: string; database: string }>;
  totals: { deleteBackups: number; deleteSegments: number; deleteDebris: number; freedBytes: number };
}
