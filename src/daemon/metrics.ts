// /metrics through prom-client: one registry per daemon, every family declared once with
// its type and label names, so the exposition is valid by construction (hand-written text
// interleaved families as soon as there was more than one job). The daemon's own series are
// read from a snapshot at scrape time; Node's process metrics come from collectDefaultMetrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { findFirstTool } from '../mysql/find-tool.js';
import { VERSION } from '../version.js';
import type { StatusFacts, HealthReason } from './health.js';
import type { DaemonState } from './state-file.js';
import type { ShipperStatus } from './shipper-supervisor.js';
import type { DbReport } from '../monitor/report-types.js';

export interface MetricsSnapshot {
  facts: StatusFacts;
  reasons: HealthReason[];
  state: DaemonState;
  shipper: ShipperStatus | null;
  /** The monitor job's last look at the source (null before the first, or without the job). */
  database?: DbReport | null;
}

type Value = number | null | undefined;
type Labels = Record<string, string>;
/** Reads the snapshot and calls `set` once per sample (a null value means: no sample). */
type Read = (s: MetricsSnapshot, set: (value: Value, labels?: Labels) => void) => void;

const seconds = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) / 1000 : null);
const present = (v: Value): v is number => v !== null && v !== undefined && !Number.isNaN(v);

/** Which client tools the image carries ("mariadb" or "mysql"): a PATH lookup, no process started. */
function clientFlavor(): string {
  const found = findFirstTool(['mariadb-dump', 'mysqldump']);
  return found ? (found.name === 'mariadb-dump' ? 'mariadb' : 'mysql') : 'none';
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private snapshot: MetricsSnapshot | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const info = new Gauge({ name: 'dbops_build_info', help: 'Always 1; the labels say which dbops, Node.js and client tools run', labelNames: ['version', 'node_version', 'client_flavor'], registers: [this.registry] });
    info.set({ version: VERSION, node_version: process.version, client_flavor: clientFlavor() }, 1);

    this.gauge('dbops_healthy', 'Whether /healthz answers 200 (1) or 503 (0)', [], (s, set) => set(s.reasons.length === 0 ? 1 : 0));

    const perJob = (read: (j: DaemonState['jobs'][string]) => Value): Read => (s, set) => {
      for (const [job, j] of Object.entries(s.state.jobs)) set(read(j), { job });
    };
    this.gauge('dbops_job_last_success_timestamp_seconds', 'End of the last successful run per job (unix time)', ['job'], perJob((j) => seconds(j.lastSuccess)));
    this.gauge('dbops_job_last_failure_timestamp_seconds', 'End of the last failed run per job (unix time)', ['job'], perJob((j) => seconds(j.lastFailure)));
    this.gauge('dbops_job_last_success_duration_seconds', 'Wall time of the last successful run per job', ['job'], perJob((j) => j.lastSuccessDurationSeconds));
    this.gauge('dbops_job_last_run_ok', 'Whether the last finished run of the job succeeded (1) or not (0)', ['job'], perJob((j) => (j.outcome && j.outcome !== 'running' ? (j.outcome === 'ok' ? 1 : 0) : null)));
    this.gauge('dbops_job_running', 'Whether a run of the job is going (1) or not (0)', ['job'], perJob((j) => (j.outcome === 'running' ? 1 : 0)));
    this.counter('dbops_job_runs_total', 'Runs started, kept across restarts in the daemon state file', ['job'], perJob((j) => j.runs ?? 0));
    this.counter('dbops_job_failures_total', 'Failed runs, kept across restarts in the daemon state file', ['job'], perJob((j) => j.failures ?? 0));
    this.counter('dbops_job_skipped_overlaps_total', 'Runs skipped because the previous one, or a job that covers it (the full backup, for an incremental), was still going', ['job'], perJob((j) => j.skippedOverlaps ?? 0));

    const b = (read: (x: StatusFacts['backups']) => Value): Read => (s, set) => set(read(s.facts.backups));
    this.gauge('dbops_backups', 'Good backups (verified manifests) in the repository', [], b((x) => x.count));
    this.gauge('dbops_backups_invalid', 'Backups whose manifest does not verify', [], b((x) => x.invalid));
    this.gauge('dbops_backup_newest_timestamp_seconds', 'Completion time of the newest good backup (unix time)', [], b((x) => seconds(x.newest?.completedAt)));
    this.gauge('dbops_backup_age_seconds', 'Age of the newest good backup', [], b((x) => x.newest?.ageSeconds));
    this.gauge('dbops_backup_newest_raw_bytes', 'Raw (uncompressed dump) bytes of the newest good backup', [], b((x) => x.newest?.rawBytes));
    this.gauge('dbops_backup_newest_stored_bytes', 'Stored (compressed, encrypted) bytes of the newest good backup', [], b((x) => x.newest?.storedBytes));
    this.gauge('dbops_backups_raw_bytes', 'Raw bytes of all good backups', [], b((x) => x.rawBytesTotal));
    this.gauge('dbops_backups_stored_bytes', 'Stored bytes of all good backups', [], b((x) => x.storedBytesTotal));
    // The series above count every kind, as dashboards and alerts read them; per kind here,
    // since each kind has its own schedule and so its own age.
    const perKind = (read: (x: StatusFacts['backups']['byKind']['logical']) => Value): Read => (s, set) => {
      for (const [kind, x] of Object.entries(s.facts.backups.byKind)) set(read(x), { kind });
    };
    this.gauge('dbops_backups_by_kind', 'Good backups per kind (logical, physical)', ['kind'], perKind((x) => x.count));
    this.gauge('dbops_backup_age_by_kind_seconds', 'Age of the newest good backup of the kind', ['kind'], perKind((x) => x.newest?.ageSeconds));
    this.gauge('dbops_backups_incremental', 'Physical incrementals among the good backups (a long chain lengthens a restore)', [], (s, set) => set(s.facts.backups.byKind.physical.incremental));

    const perSource = (read: (x: StatusFacts['sources'][number]) => Value): Read => (s, set) => {
      for (const src of s.facts.sources) set(read(src), { source: src.serverUuid });
    };
    this.gauge('dbops_binlog_shipping_lag_seconds', 'Seconds since everything the source wrote was in the repository', ['source'], perSource((x) => x.lagSeconds));
    this.gauge('dbops_binlog_files', 'Shipped binlog files', ['source'], perSource((x) => x.files));
    this.gauge('dbops_binlog_stored_bytes', 'Stored bytes of shipped binlogs', ['source'], perSource((x) => x.storedBytes));
    this.gauge('dbops_binlog_spool_full', 'Whether the shipper cannot stream because its spool filesystem is full (ENOSPC)', ['source'], perSource((x) => (x.problem?.kind === 'spool-full' ? 1 : 0)));

    this.gauge('dbops_recoverable_window_start_timestamp_seconds', 'Oldest restorable point (unix time)', [], (s, set) => set(seconds(s.facts.window.start)));
    this.gauge('dbops_recoverable_window_end_timestamp_seconds', 'Newest restorable point (unix time)', [], (s, set) => set(seconds(s.facts.window.end)));
    this.gauge('dbops_recoverable_window_gaps', 'Binlog gaps inside the PITR window', [], (s, set) => set(s.facts.window.gaps.length));

    const t = (read: (x: NonNullable<StatusFacts['restoreTest']>) => Value): Read => (s, set) => set(s.facts.restoreTest ? read(s.facts.restoreTest) : null);
    this.gauge('dbops_restore_test_last_pass', 'Whether the last restore test passed (1) or not (0)', [], t((x) => (x.verdict === 'pass' ? 1 : 0)));
    this.gauge('dbops_restore_test_last_timestamp_seconds', 'Time of the last restore test (unix time)', [], t((x) => seconds(x.createdAt)));
    this.gauge('dbops_restore_test_rto_seconds', 'Measured RTO of the last restore test', [], t((x) => x.rtoSeconds));
    const perDepth = (read: (x: NonNullable<StatusFacts['tests']['newestByDepth'][keyof StatusFacts['tests']['newestByDepth']]>) => Value): Read => (s, set) => {
      for (const [depth, run] of Object.entries(s.facts.tests.newestByDepth)) set(run ? read(run) : null, { depth });
    };
    this.gauge('dbops_restore_test_newest_timestamp_seconds', 'Time of the newest restore test per depth (unix time)', ['depth'], perDepth((r) => seconds(r.at)));
    this.gauge('dbops_restore_test_newest_pass', 'Whether the newest restore test at this depth passed (1; error and interrupted are not failures) or failed (0)', ['depth'], perDepth((r) => (r.outcome === 'fail' ? 0 : 1)));
    this.gauge('dbops_restore_test_open_failure', 'Whether a failed restore test has not been followed by a pass at the same or a deeper depth (1)', [], (s, set) => set(s.facts.tests.openFailure ? 1 : 0));
    this.gauge('dbops_backups_untested', 'Backups past verify.maxUntestedDays without a content-depth pass', [], (s, set) => set(s.facts.tests.coverage.untested.length));
    this.gauge('dbops_evidence_entries', 'Entries in the evidence log', [], (s, set) => set(s.facts.evidence.entries));
    this.gauge('dbops_evidence_chain_ok', 'Whether the evidence log verifies (1) or not (0)', [], (s, set) => set(s.facts.evidence.problems.length ? 0 : 1));

    this.gauge('dbops_shipper_up', 'Whether the supervised binlog shipper runs (1) or not (0); absent when the daemon does not ship', [], (s, set) => set(s.shipper ? (s.shipper.running ? 1 : 0) : null));
    this.counter('dbops_shipper_restarts_total', 'Restarts of the supervised binlog shipper', [], (s, set) => set(s.shipper?.restarts));
    this.gauge('dbops_shipper_failing', 'Whether the supervised binlog shipper keeps failing (e.g. another writer holds the lease)', [], (s, set) => set(s.shipper ? (s.shipper.failing ? 1 : 0) : null));
    this.databaseSeries();
  }

  /**
   * Database monitoring (src/monitor): the monitor job's last look, one family per fact. Labels
   * stay bounded: the top statements only (monitor.topStatements), indexes and tables of the
   * monitored databases. A section the server cannot provide has no samples, and
   * dbops_db_section_available says which.
   */
  private databaseSeries(): void {
    type R = DbReport;
    const db = (read: (r: R, set: (value: Value, labels?: Labels) => void) => void): Read => (s, set) => {
      if (s.database) read(s.database, set);
    };
    this.gauge('dbops_db_report_timestamp_seconds', "Time of the monitor job's last look at the source (unix time)", [], db((r, set) => set(seconds(r.takenAt))));
    this.gauge('dbops_db_section_available', 'Whether the server provided this section of database monitoring (1) or not (0: see dbops db report for why)', ['section'], db((r, set) => {
      const sections: Record<string, boolean> = {
        statements: r.statements.available,
        unused_indexes: r.indexes.unused.available,
        full_scans: r.indexes.fullScans.available,
        storage: r.storage.available,
        connections: r.connections.available,
        connections_by_user: r.connections.available && r.connections.byUser.available,
        error_log: r.errors.available,
      };
      for (const [section, ok] of Object.entries(sections)) set(ok ? 1 : 0, { section });
    }));
    this.gauge('dbops_db_alerts_firing', 'Database alert rules that fire on the last look (monitor.* thresholds)', [], db((r, set) => set(r.alerts.length)));

    const st = ['digest', 'schema', 'statement'];
    const perStatement = (read: (x: Extract<R['statements'], { available: true }>['statements'][number]) => Value): Read =>
      db((r, set) => {
        if (!r.statements.available) return;
        for (const x of r.statements.statements) set(read(x), { digest: x.digest, schema: x.schema ?? '', statement: x.text.length > 200 ? `${x.text.slice(0, 199)}…` : x.text });
      });
    this.counter('dbops_db_statement_calls_total', 'Executions of a top statement (by total time) since the server started counting', st, perStatement((x) => x.calls));
    this.counter('dbops_db_statement_seconds_total', 'Total execution time of a top statement', st, perStatement((x) => x.totalSeconds));
    this.gauge('dbops_db_statement_mean_seconds', 'Mean execution time of a top statement', st, perStatement((x) => x.meanSeconds));
    this.gauge('dbops_db_statement_p95_seconds', "95th percentile execution time of a top statement; absent where the server keeps no distribution (MariaDB)", st, perStatement((x) => x.p95Seconds));
    this.counter('dbops_db_statement_rows_examined_total', 'Rows examined by a top statement', st, perStatement((x) => x.rowsExamined));
    this.counter('dbops_db_statement_rows_sent_total', 'Rows sent by a top statement', st, perStatement((x) => x.rowsSent));

    this.gauge('dbops_db_indexes_unused', 'Secondary indexes with no reads since the server started counting', [], db((r, set) => set(r.indexes.unused.available ? r.indexes.unused.indexes.length : null)));
    this.gauge('dbops_db_index_unused', 'Always 1: an index with no reads since the server started counting', ['schema', 'table', 'index'], db((r, set) => {
      if (r.indexes.unused.available) for (const i of r.indexes.unused.indexes) set(1, { schema: i.schema, table: i.table, index: i.index });
    }));
    this.gauge('dbops_db_index_redundant', 'Always 1: an index another index of the table makes redundant', ['schema', 'table', 'index', 'covered_by'], db((r, set) => {
      for (const i of r.indexes.redundant) set(1, { schema: i.schema, table: i.table, index: i.index, covered_by: i.coveredBy });
    }));
    this.counter('dbops_db_table_full_scan_rows_total', 'Rows read by scans that used no index, per table', ['schema', 'table'], db((r, set) => {
      if (r.indexes.fullScans.available) for (const t of r.indexes.fullScans.tables) set(t.rowsRead, { schema: t.schema, table: t.table });
    }));

    type Storage = Extract<R['storage'], { available: true }>;
    const storage = (read: (x: Storage, set: (value: Value, labels?: Labels) => void) => void): Read => db((r, set) => {
      if (r.storage.available) read(r.storage, set);
    });
    const tbl = ['schema', 'table'];
    const part = ['schema', 'table', 'partition'];
    this.gauge('dbops_db_table_data_bytes', 'Data bytes of a table (information_schema)', tbl, storage((x, set) => x.tables.forEach((t) => set(t.dataBytes, { schema: t.schema, table: t.table }))));
    this.gauge('dbops_db_table_index_bytes', 'Index bytes of a table (information_schema)', tbl, storage((x, set) => x.tables.forEach((t) => set(t.indexBytes, { schema: t.schema, table: t.table }))));
    this.gauge('dbops_db_table_rows', 'Rows of a table as the engine estimates them', tbl, storage((x, set) => x.tables.forEach((t) => set(t.rows, { schema: t.schema, table: t.table }))));
    this.gauge('dbops_db_partition_data_bytes', 'Data bytes of a partition', part, storage((x, set) => x.partitions.forEach((p) => set(p.dataBytes, { schema: p.schema, table: p.table, partition: p.partition }))));
    this.gauge('dbops_db_partition_index_bytes', 'Index bytes of a partition', part, storage((x, set) => x.partitions.forEach((p) => set(p.indexBytes, { schema: p.schema, table: p.table, partition: p.partition }))));
    this.gauge('dbops_db_partition_rows', 'Rows of a partition as the engine estimates them', part, storage((x, set) => x.partitions.forEach((p) => set(p.rows, { schema: p.schema, table: p.table, partition: p.partition }))));
    this.gauge('dbops_db_partition_days_ahead', 'Days after today that daily partitions (pYYYYMMDD) cover; negative: rows of today land in the catch-all', tbl, storage((x, set) => x.datePartitioned.forEach((t) => set(t.daysAhead, { schema: t.schema, table: t.table }))));
    this.gauge('dbops_db_catchall_partition_rows', 'Estimated rows in the catch-all (MAXVALUE) partition of a daily-partitioned table', tbl, storage((x, set) => x.datePartitioned.forEach((t) => set(t.catchAll?.rows, { schema: t.schema, table: t.table }))));
    this.gauge('dbops_db_size_bytes', 'Data + index bytes of the monitored databases', [], storage((x, set) => set(x.totalBytes)));
    this.gauge('dbops_db_growth_bytes_per_day', 'Growth of data + index, fitted to the daily history in the repository', [], storage((x, set) => set(x.growth.bytesPerDay)));
    this.gauge('dbops_db_size_forecast_bytes', 'Data + index forecast monitor.forecastDays ahead at the fitted growth', [], storage((x, set) => set(x.growth.forecastBytes)));
    this.gauge('dbops_db_disk_limit_bytes', 'monitor.diskLimit: what data + index may grow to', [], storage((x, set) => set(x.growth.diskLimitBytes)));
    this.gauge('dbops_db_disk_limit_days_left', 'Days until data + index reach monitor.diskLimit at the fitted growth', [], storage((x, set) => set(x.growth.daysUntilLimit)));

    type Conn = Extract<R['connections'], { available: true }>;
    const conn = (read: (c: Conn) => Value): Read => db((r, set) => set(r.connections.available ? read(r.connections) : null));
    this.gauge('dbops_db_connections', 'Open connections (Threads_connected)', [], conn((c) => c.current));
    this.gauge('dbops_db_connections_running', 'Connections running a statement (Threads_running)', [], conn((c) => c.running));
    this.gauge('dbops_db_max_connections', 'The server\'s max_connections', [], conn((c) => c.max));
    this.gauge('dbops_db_max_used_connections', 'Most connections open at once since the server started', [], conn((c) => c.maxUsed));
    this.counter('dbops_db_aborted_clients_total', 'Connections that ended without closing properly (Aborted_clients)', [], conn((c) => c.abortedClients));
    this.counter('dbops_db_aborted_connects_total', 'Failed connection attempts (Aborted_connects)', [], conn((c) => c.abortedConnects));
    this.gauge('dbops_db_user_connections', 'Open connections per user', ['user'], db((r, set) => {
      if (r.connections.available && r.connections.byUser.available) for (const u of r.connections.byUser.users) set(u.current, { user: u.user });
    }));
    this.gauge('dbops_db_error_log_new_entries', 'Entries the last look found in the server error log since the one before, per level', ['level'], db((r, set) => {
      if (r.errors.available) for (const [level, count] of Object.entries(r.errors.counts)) set(count, { level });
    }));
  }

  /** The exposition for this snapshot of the daemon's facts. */
  async render(snapshot: MetricsSnapshot): Promise<string> {
    this.snapshot = snapshot;
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string, labelNames: string[], read: Read): void {
    const owner = this;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect(this: Gauge) {
        this.reset();
        if (labelNames.length === 0) this.remove();
        if (!owner.snapshot) return;
        read(owner.snapshot, (v, labels = {}) => {
          if (present(v)) this.set(labels, v);
        });
      },
    });
  }

  private counter(name: string, help: string, labelNames: string[], read: Read): void {
    const owner = this;
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect(this: Counter) {
        this.reset();
        if (labelNames.length === 0) this.remove();
        if (!owner.snapshot) return;
        read(owner.snapshot, (v, labels = {}) => {
          if (present(v)) this.inc(labels, v);
        });
      },
    });
  }
}
