// Applies a planned binlog chain to the target, by one of two appliers that reach the same
// point with the same data: the target's own replication reading the chain as relay logs
// (relay-replay.ts, parallel and without a decode: the fast one), or one mariadb-binlog |
// client session (session-replay.ts, the one that works everywhere). `auto` takes the relay
// applier where it can honour everything the session honours and falls back, saying why:
// a scoped recovery (--database/--table/--into-schema: the filter is text-level) or account
// changes in the chain without --accounts stay in the session, as does any target the
// probe refuses (see relay-replay.ts). `session` forces the fallback; `relay` refuses to
// fall back (exit 2 when the target cannot, exit 1 when the chain's content cannot).
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { OperationError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import type { PitrPlan } from './plan.js';
import { auditRange, emptyAudit } from './replay-audit.js';
import { probeRelayTarget, relayReplay, RelaySetupError, type ParallelMode, type Probe, type RelaySettings } from './relay-replay.js';
import { sessionReplay, type ReplayTools } from './session-replay.js';

export { binlogArgs, type ReplayTools } from './session-replay.js';

export type ReplayMode = 'auto' | 'session' | 'relay';

export interface ApplierSettings extends RelaySettings {
  mode: ReplayMode;
}

export const DEFAULT_APPLIER: ApplierSettings = { mode: 'auto', threads: 4, parallelMode: 'conservative' };

export type Applier = { kind: 'relay-log'; threads: number; parallelMode: ParallelMode } | { kind: 'session'; reason: string };

export interface ReplayResult {
  /** Decoded SQL bytes sent to the client (0 for the relay-log applier, which sends none). */
  sqlBytes: number;
  /** Binlog bytes read from the chain (the ranges replayed). */
  binlogBytes: number;
  seconds: number;
  applier: Applier;
}

export interface ReplayOptions {
  plan: PitrPlan;
  paths: string[];
  target: MysqlConn;
  tools: ReplayTools;
  /** Write the replay into the target's binlog (default off, like restore). */
  binlog?: boolean;
  signal?: AbortSignal;
  /** Binlog bytes applied so far (about once a second). */
  onProgress?: (binlogBytes: number) => void;
  applier?: ApplierSettings;
  /** The target probe, when the caller made it before touching the target (chooseApplier). */
  probe?: Probe;
}

/** Whether the plan and target allow the relay applier: asked before the base is restored, so `relay` can refuse with nothing changed. */
export async function chooseApplier(plan: PitrPlan, target: MysqlConn, settings: ApplierSettings, binlog: boolean): Promise<Probe> {
  if (settings.mode === 'session') return { ok: false, reason: 'pitr.replay is session' };
  const scoped = plan.scope.database !== undefined || plan.scope.table !== undefined;
  const probe: Probe = scoped ? { ok: false, reason: 'a --database/--table recovery is filtered statement by statement' } : await probeRelayTarget(target, plan, binlog);
  if (!probe.ok && settings.mode === 'relay') throw new UsageError(`--replay relay: ${probe.reason}; use --replay auto (or session)`);
  return probe;
}

export async function replayChain(o: ReplayOptions): Promise<ReplayResult> {
  const binlogBytes = o.plan.chain.reduce((n, c) => n + (c.to - c.from), 0);
  const settings = o.applier ?? DEFAULT_APPLIER;
  const t0 = performance.now();
  if (o.plan.chain.length === 0) return { sqlBytes: 0, binlogBytes, seconds: 0, applier: { kind: 'session', reason: 'nothing to replay' } };
  let probe = o.probe ?? (await chooseApplier(o.plan, o.target, settings, o.binlog ?? false));
  if (probe.ok) {
    const refusal = await chainRefusal(o);
    if (refusal !== undefined) {
      if (settings.mode === 'relay') throw new OperationError(`--replay relay: ${refusal}; nothing was replayed; use --replay auto`);
      probe = { ok: false, reason: refusal };
    }
  }
  if (probe.ok) {
    try {
      await relayReplay({ plan: o.plan, paths: o.paths, conn: o.target, target: probe.target, settings, ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
      return { sqlBytes: 0, binlogBytes, seconds: (performance.now() - t0) / 1000, applier: { kind: 'relay-log', threads: settings.threads, parallelMode: settings.parallelMode } };
    } catch (err) {
      // Refused before anything was applied: the session can still do it all.
      if (!(err instanceof RelaySetupError) || settings.mode === 'relay') throw err;
      probe = { ok: false, reason: err.message };
    }
  }
  if (settings.mode !== 'session') log.info({ reason: probe.reason }, 'binlog replay in one client session');
  const sqlBytes = await sessionReplay({ ...o, tools: o.tools });
  return { sqlBytes, binlogBytes, seconds: (performance.now() - t0) / 1000, applier: { kind: 'session', reason: probe.reason } };
}

/** Why the chain's own content keeps it from the relay applier (read from the local files), or undefined. */
async function chainRefusal(o: ReplayOptions): Promise<string | undefined> {
  const audit = emptyAudit();
  for (const [i, c] of o.plan.chain.entries()) await auditRange(o.paths[i]!, c.file, c.from, c.to, audit);
  if (!o.plan.scope.accounts && audit.accountChanges.length > 0) return `the chain changes accounts (${audit.accountChanges[0]}…), which only the session replay leaves out without --accounts`;
  if (!o.plan.scope.accounts && audit.unreadableStatements > 0) return `the chain holds ${audit.unreadableStatements} compressed statement(s) that cannot be checked for account changes`;
  const id = await withConnection(o.target, async (db) => Number((await db.query<{ id: number }>('SELECT @@server_id AS id'))[0]?.id));
  if (audit.serverIds.has(id)) return `the target's server_id ${id} is the source's: its replication would skip those events`;
  return undefined;
}
