// /metrics in the Prometheus text exposition format (version 0.0.4), written by hand:
// a handful of gauges does not justify a client library.
import type { StatusFacts, HealthReason } from './health.js';
import type { DaemonState } from './state-file.js';
import type { ShipperStatus } from './shipper-supervisor.js';

type Labels = Record<string, string>;

class Exposition {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  gauge(name: string, help: string, value: number | null | undefined, labels: Labels = {}, type: 'gauge' | 'counter' = 'gauge'): void {
    if (!this.declared.has(name)) {
      this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      this.declared.add(name);
    }
    if (value === null || value === undefined || Number.isNaN(value)) return;
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
    this.lines.push(`${name}${l.length ? `{${l.join(',')}}` : ''} ${Number.isInteger(value) ? value : value.toFixed(3)}`);
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

const seconds = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) / 1000 : null);

export function renderMetrics(facts: StatusFacts, reasons: HealthReason[], state: DaemonState, shipper: ShipperStatus | null): string {
  const m = new Exposition();
  m.gauge('dbops_healthy', '1 when /healthz answers 200', reasons.length === 0 ? 1 : 0);
  for (const [job, s] of Object.entries(state.jobs)) {
    m.gauge('dbops_job_last_success_timestamp_seconds', 'End of the last successful run per job (unix time)', seconds(s.lastSuccess), { job });
    m.gauge('dbops_job_last_success_duration_seconds', 'Wall time of the last successful run per job', s.lastSuccessDurationSeconds, { job });
    m.gauge('dbops_job_last_run_ok', '1 when the last finished run of the job succeeded', s.outcome && s.outcome !== 'running' ? (s.outcome === 'ok' ? 1 : 0) : null, { job });
    m.gauge('dbops_job_running', '1 while a run of the job is going', s.outcome === 'running' ? 1 : 0, { job });
    m.gauge('dbops_job_runs_total', 'Runs started by this daemon state', s.runs ?? 0, { job }, 'counter');
    m.gauge('dbops_job_failures_total', 'Failed runs', s.failures ?? 0, { job }, 'counter');
    m.gauge('dbops_job_skipped_overlaps_total', 'Runs skipped because the previous one was still going', s.skippedOverlaps ?? 0, { job }, 'counter');
  }
  const b = facts.backups;
  m.gauge('dbops_backups', 'Good backups (verified manifests) in the repository', b.count);
  m.gauge('dbops_backups_invalid', 'Backups whose manifest does not verify', b.invalid);
  m.gauge('dbops_backup_newest_timestamp_seconds', 'Completion time of the newest good backup (unix time)', seconds(b.newest?.completedAt));
  m.gauge('dbops_backup_age_seconds', 'Age of the newest good backup', b.newest?.ageSeconds);
  m.gauge('dbops_backup_newest_raw_bytes', 'Raw (uncompressed dump) bytes of the newest good backup', b.newest?.rawBytes);
  m.gauge('dbops_backup_newest_stored_bytes', 'Stored (compressed, encrypted) bytes of the newest good backup', b.newest?.storedBytes);
  m.gauge('dbops_backups_raw_bytes', 'Raw bytes of all good backups', b.rawBytesTotal);
  m.gauge('dbops_backups_stored_bytes', 'Stored bytes of all good backups', b.storedBytesTotal);
  for (const s of facts.sources) {
    m.gauge('dbops_binlog_shipping_lag_seconds', 'Seconds since everything the source wrote was in the repository', s.lagSeconds, { source: s.serverUuid });
    m.gauge('dbops_binlog_files', 'Shipped binlog files', s.files, { source: s.serverUuid });
    m.gauge('dbops_binlog_stored_bytes', 'Stored bytes of shipped binlogs', s.storedBytes, { source: s.serverUuid });
    m.gauge('dbops_binlog_spool_full', '1 while the shipper cannot stream because its spool filesystem is full (ENOSPC)', s.problem?.kind === 'spool-full' ? 1 : 0, { source: s.serverUuid });
  }
  m.gauge('dbops_recoverable_window_start_timestamp_seconds', 'Oldest restorable point (unix time)', seconds(facts.window.start));
  m.gauge('dbops_recoverable_window_end_timestamp_seconds', 'Newest restorable point (unix time)', seconds(facts.window.end));
  m.gauge('dbops_recoverable_window_gaps', 'Binlog gaps inside the PITR window', facts.window.gaps.length);
  const t = facts.restoreTest;
  m.gauge('dbops_restore_test_last_pass', '1 when the last restore test passed', t ? (t.verdict === 'pass' ? 1 : 0) : null);
  m.gauge('dbops_restore_test_last_timestamp_seconds', 'Time of the last restore test (unix time)', seconds(t?.createdAt));
  m.gauge('dbops_restore_test_rto_seconds', 'Measured RTO of the last restore test', t?.rtoSeconds);
  for (const [depth, run] of Object.entries(facts.tests.newestByDepth)) {
    m.gauge('dbops_restore_test_newest_timestamp_seconds', 'Time of the newest restore test per depth (unix time)', seconds(run?.at), { depth });
    m.gauge('dbops_restore_test_newest_pass', '1 when the newest restore test at this depth passed (error and interrupted are not failures)', run ? (run.outcome === 'fail' ? 0 : 1) : null, { depth });
  }
  m.gauge('dbops_restore_test_open_failure', '1 while a failed restore test has not been followed by a pass at the same or a deeper depth', facts.tests.openFailure ? 1 : 0);
  m.gauge('dbops_backups_untested', 'Backups past verify.maxUntestedDays without a content-depth pass', facts.tests.coverage.untested.length);
  m.gauge('dbops_evidence_entries', 'Entries in the evidence log', facts.evidence.entries);
  m.gauge('dbops_evidence_chain_ok', '1 when the evidence log verifies', facts.evidence.problems.length ? 0 : 1);
  if (shipper) {
    m.gauge('dbops_shipper_up', '1 while the supervised binlog shipper runs', shipper.running ? 1 : 0);
    m.gauge('dbops_shipper_restarts_total', 'Restarts of the supervised binlog shipper', shipper.restarts, {}, 'counter');
    m.gauge('dbops_shipper_failing', '1 while the supervised binlog shipper keeps failing (e.g. another writer holds the lease)', shipper.failing ? 1 : 0);
  }
  return m.toString();
}
