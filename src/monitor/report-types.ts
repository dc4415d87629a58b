// The shape of a database report: what `dbops db report --json` prints, what the HTML page and
// /metrics are rendered from. Every section says whether the server could tell (`available`) and,
// when not, why and how to turn it on: a missing feature is reported, never filled with guesses.

/** A section the server could not provide, and why (with what would make it available). */
export interface Unavailable {
  available: false;
  reason: string;
}

export type Section<T> = ({ available: true } & T) | Unavailable;

export interface StatementStat {
  /** The server's digest (performance_schema) or sha256 of the normalised text (slow log), 32 hex. */
  digest: string;
  schema: string | null;
  /** Normalised statement text, literals replaced by `?`. */
  text: string;
  calls: number;
  totalSeconds: number;
  meanSeconds: number;
  /** null when the server keeps no distribution to take it from (see StatementsFacts.p95). */
  p95Seconds: number | null;
  maxSeconds: number | null;
  rowsExamined: number;
  rowsSent: number;
  /** Executions that used no index (performance_schema only). */
  noIndexUsed: number | null;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface StatementsFacts {
  source: 'performance_schema' | 'slow_log';
  /** How p95 was measured, or why it is not available. */
  p95: string;
  statements: StatementStat[];
}

export interface IndexRef {
  schema: string;
  table: string;
  index: string;
  columns: string[];
}

export interface UnusedIndex extends IndexRef {
  unique: boolean;
}

export interface RedundantIndex extends IndexRef {
  /** duplicate: same columns as `coveredBy`; prefix: its columns are the leftmost columns of `coveredBy`. */
  kind: 'duplicate' | 'prefix';
  coveredBy: string;
  coveredByColumns: string[];
}

export interface FullScan {
  schema: string;
  table: string;
  /** Rows read by scans that used no index since the server started. */
  rowsRead: number;
}

export interface IndexFacts {
  unused: Section<{ source: 'performance_schema' | 'userstat'; since: string; indexes: UnusedIndex[] }>;
  redundant: RedundantIndex[];
  fullScans: Section<{ tables: FullScan[] }>;
}

export interface TableSize {
  schema: string;
  table: string;
  engine: string | null;
  /** Estimated by the engine (InnoDB: approximate). */
  rows: number;
  dataBytes: number;
  indexBytes: number;
  freeBytes: number;
  partitions: number;
}

export interface PartitionSize {
  schema: string;
  table: string;
  partition: string;
  /** VALUES LESS THAN …, as the server prints it (MAXVALUE for a catch-all). */
  bound: string | null;
  rows: number;
  dataBytes: number;
  indexBytes: number;
}

/** A table with daily partitions named pYYYYMMDD (the horizn_ pageviews and events). */
export interface DatePartitionedTable {
  schema: string;
  table: string;
  dailyPartitions: number;
  /** Last day a daily partition covers (inclusive), null when there is none. */
  coveredThrough: string | null;
  /** Days after today that are covered (negative: today's rows already land in the catch-all). */
  daysAhead: number | null;
  catchAll: { partition: string; rows: number; dataBytes: number; indexBytes: number } | null;
}

export interface GrowthFacts {
  /** Samples the fit used (the daily history in the repository plus this look). */
  samples: number;
  firstSampleAt: string | null;
  /** Least-squares slope of data + index bytes over the samples of the last `windowDays`. */
  bytesPerDay: number | null;
  windowDays: number;
  forecastDays: number;
  /** Size in `forecastDays` at that rate. */
  forecastBytes: number | null;
  diskLimitBytes: number | null;
  /** Days until data + index reach diskLimitBytes at that rate (0: already there; null: no limit or not growing). */
  daysUntilLimit: number | null;
  /** Why there is no rate yet, or samples that did not verify. */
  notes: string[];
  /** The fastest-growing tables. */
  tables: Array<{ schema: string; table: string; bytesPerDay: number }>;
}

export interface StorageFacts {
  totalBytes: number;
  tables: TableSize[];
  partitions: PartitionSize[];
  datePartitioned: DatePartitionedTable[];
  growth: GrowthFacts;
  /** Whether this look was kept as today's sample (first look of the day with a writable repository). */
  recorded: boolean;
}

export interface ConnectionFacts {
  current: number;
  running: number;
  max: number;
  maxUsed: number;
  maxUsedAt: string | null;
  currentPercent: number;
  peakPercent: number;
  abortedClients: number;
  abortedConnects: number;
  /** Connection attempts since start (status Connections). */
  attempts: number;
  byUser: Section<{ source: 'performance_schema' | 'processlist'; users: Array<{ user: string; current: number; total: number | null }>; note?: string }>;
}

export type ErrorLevel = 'error' | 'warning' | 'note' | 'system';

export interface ErrorEntry {
  /** As the server wrote it (MariaDB: server local time without zone). */
  at: string;
  level: ErrorLevel;
  code?: string;
  subsystem?: string;
  message: string;
}

export interface ErrorFacts {
  source: 'performance_schema.error_log' | 'file';
  file?: string;
  /** Where this look started: the daemon's last look, or null (the last part of the log, no earlier look recorded). */
  since: { lookedAt: string } | null;
  /** The daemon's first look: it starts at the end, so nothing older counts as new. */
  firstLook: boolean;
  counts: Record<ErrorLevel, number>;
  /** The newest entries of this look (at most 50). */
  entries: ErrorEntry[];
  notes: string[];
}

export interface DbAlert {
  key: string;
  message: string;
}

export interface DbReport {
  takenAt: string;
  source: {
    flavor: 'mysql' | 'mariadb';
    version: string;
    serverUuid: string;
    hostname: string | null;
    uptimeSeconds: number;
    performanceSchema: boolean;
    /** CURRENT_USER() of the monitoring session. */
    account: string;
  };
  /** Databases whose tables are sized and checked. */
  databases: string[];
  statements: Section<StatementsFacts>;
  indexes: IndexFacts;
  storage: Section<StorageFacts>;
  connections: Section<ConnectionFacts>;
  errors: Section<ErrorFacts>;
  /** The alert rules that fire on these facts (monitor.* thresholds). */
  alerts: DbAlert[];
}
