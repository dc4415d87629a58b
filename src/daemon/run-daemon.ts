// `dbops daemon`: node-cron schedules (backup, optional physical incremental, restore test,
// prune, optional checksum, partition maintenance and database monitoring), the supervised binlog shipper, the probes (/livez, /readyz,
// /healthz) and /metrics, webhook alerts and success pings. One run per job at a time; a
// run missed or cut short while the daemon was down is caught up once at start. On shutdown: no new work, running jobs
// are aborted (a backup leaves no manifest, a sandbox is torn down), the shipper
// ships what is closed, and the call returns within `daemon.shutdownTimeout`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { schedule, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../util/duration.js';
import { log } from '../util/logger.js';
import { repoJsonKey } from '../storage/layout.js';
import { Alerter } from './alerts.js';
import { collectStatus, evaluateHealth, healthLimits, jobReasons, shipperReasons, type HealthReason, type StatusFacts } from './health.js';
import { startHttpServer } from './http-server.js';
import { JobRunner } from './job-runner.js';
import { backupJob, checksumJob, incrementalJob, monitorJob, partitionsJob, pruneJob, restoreTestJob, type JobContext } from './jobs.js';
import type { DbReport } from '../monitor/report-types.js';
import { DaemonMetrics } from './metrics.js';
import { dueSince } from './schedule.js';
import { ShipperSupervisor } from './shipper-supervisor.js';
import { loadState } from './state-file.js';

export interface DaemonOptions extends JobContext {
  /** Aborted by SIGTERM/SIGINT: the daemon winds down and returns. */
  shutdown: AbortSignal;
  /** Called once the HTTP server listens (tests, logs). */
  onListening?: (address: string) => void;
}

/** /livez fails when the 5 s check loop has not ticked for this long (a stuck event loop or a dead loop). */
const LOOP_STALL_MS = 30_000;
/** /readyz asks the storage at most this often. */
const READY_CACHE_MS = 5_000;

export function defaultStatePath(config: Config): string {
  return config.daemon.stateFile ?? join(tmpdir(), 'dbops-daemon-state.json');
}

export async function runDaemon(o: DaemonOptions): Promise<void> {
  const { config } = o;
  const statePath = defaultStatePath(config);
  const state = await loadState(statePath);
  const limits = healthLimits(config);
  const startedAt = Date.now();
  const graceMs = config.alerts.startupGrace ? parseDuration(config.alerts.startupGrace) : 2 * limits.shippingLagLimitSeconds * 1000;
  const alerter = new Alerter({
    ...(config.alerts.webhookUrl ? { webhookUrl: config.alerts.webhookUrl } : {}),
    ...(config.alerts.slackWebhookUrl ? { slackWebhookUrl: config.alerts.slackWebhookUrl } : {}),
    ...(config.alerts.heartbeatUrl ? { heartbeatUrl: config.alerts.heartbeatUrl } : {}),
    repeatAfterMs: parseDuration(config.alerts.repeatAfter),
    graceUntil: startedAt + graceMs,
  });

  // Health facts, computed at most every 2 s and by one caller at a time.
  let cached: { at: number; facts: StatusFacts } | undefined;
  let inflight: Promise<StatusFacts> | undefined;
  const facts = async (): Promise<StatusFacts> => {
    if (cached && Date.now() - cached.at < 2000) return cached.facts;
    inflight ??= collectStatus(o.repo, limits).then(
      (f) => {
        cached = { at: Date.now(), facts: f };
        inflight = undefined;
        return f;
      },
      (err: unknown) => {
        inflight = undefined;
        throw err;
      },
    );
    return inflight;
  };
  // `shipper` is defined below; these run only once the daemon is up.
  const reasons = async (): Promise<HealthReason[]> => [...evaluateHealth(await facts(), limits), ...shipperReasons(shipper?.status ?? null), ...jobReasons(state.jobs)];
  // The monitor job's last look at the source: /metrics and the database alert rules read it.
  // Its alerts page like the others but are not /healthz reasons (that probe is about recoverability).
  let database: DbReport | null = null;
  const checkAlerts = async (): Promise<void> => {
    try {
      alerter.update(new Map([...(await reasons()).map((r): [string, string] => [r.key, r.message]), ...(database?.alerts ?? []).map((a): [string, string] => [a.key, a.message])]));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot evaluate health');
    }
  };

  const runner = new JobRunner(state, statePath, (e) => {
    cached = undefined;
    if (e.outcome === 'ok' && (e.job === 'backup' || e.job === 'incremental' || e.job === 'restore-test')) alerter.heartbeat(e.job);
    void checkAlerts();
  });
  const schedules: Record<string, string | undefined> = {
    backup: config.schedule.backup,
    incremental: config.schedule.incremental,
    'restore-test': config.schedule.restoreTest,
    prune: config.schedule.prune,
    checksum: config.schedule.checksum,
    partitions: config.schedule.partitions,
    monitor: config.schedule.monitor,
  };
  runner.define('backup', backupJob(o));
  if (schedules.incremental) runner.define('incremental', incrementalJob(o), { yieldsTo: 'backup' });
  runner.define('restore-test', restoreTestJob(o));
  runner.define('prune', pruneJob(o));
  if (schedules.checksum) runner.define('checksum', checksumJob(o));
  if (schedules.partitions) runner.define('partitions', partitionsJob(o));
  if (schedules.monitor) runner.define('monitor', monitorJob(o, (r) => (database = r)));

  const shipper = config.daemon.shipBinlogs
    ? new ShipperSupervisor({
        repo: o.repo,
        source: o.source,
        recipients: o.recipients,
        compressionLevel: config.compression.level,
        compressionThreads: config.compression.threads,
        spoolRoot: config.binlog.spoolDir ?? join(tmpdir(), 'dbops-binlog-spool'),
        maxLagSeconds: config.binlog.maxLagSeconds,
        partialSegments: config.binlog.partialSegments,
        ...(config.binlog.connectionServerId !== undefined ? { connectionServerId: config.binlog.connectionServerId } : {}),
      })
    : null;

  // Liveness: the check loop below ticks every 5 s, and no schedule was stopped.
  let lastTick = Date.now();
  let tasks: ScheduledTask[] = [];
  // Readiness: the storage answers and holds the repository, asked at most every READY_CACHE_MS.
  let readyCache: { at: number; problem: string | null } | undefined;
  const readiness = async (): Promise<string | null> => {
    if (readyCache && Date.now() - readyCache.at < READY_CACHE_MS) return readyCache.problem;
    let problem: string | null = null;
    try {
      if (!(await o.repo.storage.stat(repoJsonKey))) problem = `no repository at ${o.repo.storage.location} (repo.json is missing)`;
    } catch (err) {
      problem = `storage ${o.repo.storage.location} unreachable: ${(err as Error).message}`;
    }
    readyCache = { at: Date.now(), problem };
    return problem;
  };
  const metrics = new DaemonMetrics();
  const http = await startHttpServer(config.daemon.listen, {
    live: async () => {
      const sinceTick = Date.now() - lastTick;
      const stopped = tasks.filter((t) => ['stopped', 'destroyed'].includes(String(t.getStatus()))).map((t) => t.name ?? t.id);
      const problems = [...(sinceTick > LOOP_STALL_MS ? [`the check loop last ran ${Math.round(sinceTick / 1000)} s ago`] : []), ...stopped.map((n) => `the ${n} schedule is stopped`)];
      return { ok: problems.length === 0, body: { live: problems.length === 0, problems, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), loopTickedSecondsAgo: Math.round(sinceTick / 1000), jobsRunning: runner.names.filter((n) => runner.isRunning(n)) } };
    },
    ready: async () => {
      const problem = await readiness();
      return { ok: problem === null, body: { ready: problem === null, problems: problem ? [problem] : [], storage: o.repo.storage.location } };
    },
    health: async () => {
      const r = await reasons();
      return { ok: r.length === 0, body: { healthy: r.length === 0, reasons: r.map((x) => x.message), keys: r.map((x) => x.key) } };
    },
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render({ facts: await facts(), reasons: await reasons(), state, shipper: shipper?.status ?? null, database }) }),
  });
  log.info({ address: http.address, statePath, jobs: runner.names, alertGraceSeconds: graceMs / 1000, heartbeat: Boolean(config.alerts.heartbeatUrl) }, 'daemon started');
  o.onListening?.(http.address);
  shipper?.start();

  // Catch-up: one run of each job whose last run did not finish, or that came due while we were down.
  const now = new Date();
  for (const name of runner.names) {
    const s = runner.jobState(name);
    const expr = schedules[name]!;
    if (s.outcome === 'running' || s.outcome === 'interrupted') runner.trigger(name, `catch-up: the run started ${s.lastStart} did not finish`);
    else if (s.lastStart && dueSince(expr, new Date(s.lastStart), now)) runner.trigger(name, `catch-up: a run came due while the daemon was down (last start ${s.lastStart})`);
  }
  // Database facts live in memory only: a fresh daemon looks at once instead of at the next tick.
  if (runner.names.includes('monitor') && !runner.isRunning('monitor')) void runner.trigger('monitor', 'start: database monitoring facts are kept in memory');

  const jitterMs = config.daemon.jitterSeconds * 1000;
  tasks = runner.names.map((name) =>
    schedule(
      schedules[name]!,
      async (ctx) => {
        if (jitterMs) await sleep(Math.random() * jitterMs, undefined, { signal: o.shutdown }).catch(() => undefined);
        void runner.trigger(name, 'schedule', ctx.date);
      },
      { name },
    ),
  );
  const checker = setInterval(() => {
    lastTick = Date.now();
    void checkAlerts();
  }, 5000);
  void checkAlerts();

  await new Promise<void>((resolve) => {
    if (o.shutdown.aborted) resolve();
    o.shutdown.addEventListener('abort', () => resolve(), { once: true });
  });

  const timeoutMs = parseDuration(config.daemon.shutdownTimeout);
  log.info({ timeoutMs }, 'daemon stopping: no new runs; aborting running jobs and flushing the shipper');
  clearInterval(checker);
  for (const t of tasks) await t.destroy();
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  const stopped = Promise.all([runner.stop(timeoutMs), shipper?.stop()]).then(() => 'done' as const);
  if ((await Promise.race([stopped, deadline])) === 'timeout') log.error({ timeoutMs }, 'daemon stop timed out; exiting with work still running');
  const closed = new Promise<void>((resolve) => http.server.close(() => resolve()));
  http.server.closeAllConnections();
  await closed;
  await Promise.race([alerter.flush(), sleep(5000)]);
  await runner.persist();
  log.info('daemon stopped');
}
