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

export interface MetricsSnapshot {
  facts: StatusFacts;
  reasons: HealthReason[];
  state: DaemonState;
  shipper: ShipperStatus | null;
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
    this.counter('dbops_job_skipped_overlaps_total', 'Runs skipped because the previous one was still going', ['job'], perJob((j) => j.skippedOverlaps ?? 0));

    const b = (read: (x: StatusFacts['backups']) => Value): Read => (s, set) => set(read(s.facts.backups));
    this.gauge('dbops_backups', 'Good backups (verified manifests) in the repository', [], b((x) => x.count));
    this.gauge('dbops_backups_invalid', 'Backups whose manifest does not verify', [], b((x) => x.invalid));
    this.gauge('dbops_backup_newest_timestamp_seconds', 'Completion time of the newest good backup (unix time)', [], b((x) => seconds(x.newest?.completedAt)));
    this.gauge('dbops_backup_age_seconds', 'Age of the newest good backup', [], b((x) => x.newest?.ageSeconds));
    this.gauge('dbops_backup_newest_raw_bytes', 'Raw (uncompressed dump) bytes of the newest good backup', [], b((x) => x.newest?.rawBytes));
    this.gauge('dbops_backup_newest_stored_bytes', 'Stored (compressed, encrypted) bytes of the newest good backup', [], b((x) => x.newest?.storedBytes));
    this.gauge('dbops_backups_raw_bytes', 'Raw bytes of all good backups', [], b((x) => x.rawBytesTotal));
    this.gauge('dbops_backups_stored_bytes', 'Stored bytes of all good backups', [], b((x) => x.storedBytesTotal));

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
