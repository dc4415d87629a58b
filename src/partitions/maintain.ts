// Maintenance of the horizn_ database's visitor data, as one plan and one apply:
//   * daily partitions of pageviews/events created ahead of time (so inserts never land in pmax),
//     and after a gap in maintenance one per day of the gap;
//   * the daily visitor salts rotated (today's and tomorrow's made, older than yesterday's destroyed);
//   * partitions past their retention archived, verified and only then dropped;
//   * sessions and realtime_visitors rows past their retention deleted;
//   * partition archives past their own retention, and orphaned archive objects, deleted.
// `planMaintenance` only reads; `applyMaintenance` carries a plan out. A failure in one table does
// not stop the others (a repository outage must not keep sessions past retention): problems are
// collected and returned. Every deletion is recorded as an administrative action.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { Repository } from '../repo/repository.js';
import { addDays, datePartitionName, ensureDatePartitions, listDatePartitions, partitionDaysToAdd } from '../migrate/partitions.js';
import { recordAdminAction } from '../audit/admin-action.js';
import { OperationError, UsageError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { log } from '../util/logger.js';
import { archivePartition, countPartitionRows, type ArchiveKeys, type ArchiveTarget, type PartitionRange } from './archive-partition.js';
import { planArchiveRetention, removeArchives, type ArchiveRetentionPlan } from './archive-retention.js';
import { parseRetentionDays } from './retention.js';
import { expiredSaltDays, hasSaltsTable, rotateVisitorSalts } from './visitor-salts.js';
import { deleteExpiredRows, rowsDue, sqlTime, type RowRetentionDue, type RowRetentionPolicy } from './visitor-retention.js';

export interface TablePolicy {
  table: string;
  retentionDays: number;
}

/** Everything maintenance needs from the config, parsed once. */
export interface MaintenanceSettings {
  aheadDays: number;
  partitioned: TablePolicy[];
  sessions: { days: number; text: string };
  realtimeVisitors: { ms: number; text: string };
  archives: { keepMs: number; text: string };
  /** Orphaned archive objects younger than this may still be an archiving run in progress. */
  orphanGraceMs: number;
}

export function maintenanceSettings(config: Config): MaintenanceSettings {
  const r = config.retention;
  return {
    aheadDays: config.partitions.aheadDays,
    partitioned: (['pageviews', 'events'] as const).map((table) => ({ table, retentionDays: parseRetentionDays(r[table], `retention.${table}`) })),
    sessions: { days: parseRetentionDays(r.sessions, 'retention.sessions'), text: r.sessions },
    realtimeVisitors: { ms: parseDuration(r.realtimeVisitors), text: r.realtimeVisitors },
    archives: { keepMs: parseDuration(r.archives), text: r.archives },
    orphanGraceMs: parseDuration(r.graceForIncomplete),
  };
}

export interface TablePlan {
  table: string;
  retentionDays: number;
  /** Rows with day < cutoff are past retention. */
  cutoff: string;
  /** Partitions to add, through today + aheadDays. */
  create: string[];
  createThrough: string;
  /** Partitions whose whole range is before the cutoff, oldest first (rows: estimate). */
  expire: (PartitionRange & { estimatedRows: number })[];
}

export interface MaintenancePlan {
  database: string;
  today: string;
  aheadDays: number;
  tables: TablePlan[];
  /** Salt days to destroy; null when the database has no visitor_salts (before migration 0004). */
  salts: { destroy: string[] } | null;
  rows: RowRetentionDue[];
  /** null when no repository is configured to look in. */
  archives: ArchiveRetentionPlan | null;
}

/** Anything the plan would delete (partitions, rows, archives): what production must consent to. */
export function deletionsDue(plan: MaintenancePlan): string[] {
  const out: string[] = [];
  for (const t of plan.tables) if (t.expire.length) out.push(`${t.expire.length} ${t.table} partition(s)`);
  for (const r of plan.rows) if (r.rows) out.push(`${r.rows} ${r.table} row(s)`);
  if (plan.archives?.expired.length) out.push(`${plan.archives.expired.length} partition archive(s)`);
  if (plan.archives?.orphans.length) out.push(`${plan.archives.orphans.length} orphaned archive object(s)`);
  return out;
}

function rowPolicies(settings: MaintenanceSettings, today: string, now: Date): RowRetentionPolicy[] {
  return [
    { table: 'sessions', column: 'started_at', cutoff: `${addDays(today, -settings.sessions.days)} 00:00:00.000`, window: settings.sessions.text },
    { table: 'realtime_visitors', column: 'last_seen_at', cutoff: sqlTime(new Date(now.getTime() - settings.realtimeVisitors.ms)), window: settings.realtimeVisitors.text },
  ];
}

async function tableExists(conn: Connection, table: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
  return rows.length > 0;
}

export async function planMaintenance(
  conn: Connection,
  database: string,
  settings: MaintenanceSettings,
  now: Date,
  repo?: Repository,
): Promise<MaintenancePlan> {
  const today = now.toISOString().slice(0, 10);
  const tables: TablePlan[] = [];
  const through = addDays(today, settings.aheadDays);
  for (const p of settings.partitioned) {
    const parts = await listDatePartitions(conn, p.table);
    const create = partitionDaysToAdd(parts, today, through).map(datePartitionName);
    const cutoff = addDays(today, -p.retentionDays);
    const expire: TablePlan['expire'] = [];
    let from: string | null = null;
    for (const x of parts) {
      if (x.lessThan === null) break;
      // Never the last bounded partition of a table without pmax: a partitioned table needs one.
      if (x.lessThan <= cutoff && !(parts.length === 1)) expire.push({ table: p.table, partition: x.name, from, to: x.lessThan, estimatedRows: x.rows });
      from = x.lessThan;
    }
    tables.push({ table: p.table, retentionDays: p.retentionDays, cutoff, create, createThrough: through, expire });
  }
  const salts = (await hasSaltsTable(conn)) ? { destroy: await expiredSaltDays(conn, today) } : null;
  const rows: RowRetentionDue[] = [];
  for (const policy of rowPolicies(settings, today, now)) if (await tableExists(conn, policy.table)) rows.push(await rowsDue(conn, policy));
  const archives = repo ? await planArchiveRetention(repo, database, now, settings.archives.keepMs, settings.orphanGraceMs) : null;
  return { database, today, aheadDays: settings.aheadDays, tables, salts, rows, archives };
}

export interface MaintenanceResult {
  table: string;
  created: string[];
  archived: { partition: string; rows: number; key: string; storedBytes: number; reused: boolean }[];
  dropped: string[];
}

export interface MaintenanceOutcome {
  tables: MaintenanceResult[];
  salts: { created: string[]; destroyed: string[] } | null;
  rows: { table: string; deleted: number; oldest: string | null; cutoff: string }[];
  archives: { removed: number; orphans: number; locked: string[] } | null;
  /** One line per step that failed; the steps after it still ran. */
  problems: string[];
}

/** The steps that never delete visitor data: partitions ahead and the salt rotation (whose whole point is destruction, so it is never held back). */
export async function applySafeSteps(plan: MaintenancePlan, conn: Connection): Promise<Pick<MaintenanceOutcome, 'tables' | 'salts'>> {
  const tables: MaintenanceResult[] = [];
  for (const t of plan.tables) {
    const created = t.create.length ? await ensureDatePartitions(conn, t.table, plan.today, t.createThrough) : [];
    tables.push({ table: t.table, created, archived: [], dropped: [] });
  }
  let salts: MaintenanceOutcome['salts'] = null;
  if (plan.salts) {
    salts = await rotateVisitorSalts(conn, plan.today);
    if (salts.destroyed.length) {
      await recordAdminAction({ action: 'visitor-salt.destroy', target: `${plan.database}.visitor_salts`, details: { days: salts.destroyed }, outcome: 'ok' });
    }
  }
  return { tables, salts };
}

async function expirePartitions(plan: MaintenancePlan, t: TablePlan, result: MaintenanceResult, target: ArchiveTarget, keys: ArchiveKeys | undefined): Promise<void> {
  for (const range of t.expire) {
    if (!keys) throw new UsageError('expired partitions are archived before they are dropped, but no repository is configured (storage.url)');
    const { manifest, reused } = await archivePartition(target, keys, range);
    result.archived.push({ partition: range.partition, rows: manifest.rows, key: manifest.part.key, storedBytes: manifest.part.storedBytes, reused });
    // Rows that arrived after the archive was taken would be lost by the drop: refuse instead.
    const now = await countPartitionRows(target.conn, range.table, range.partition);
    if (now !== manifest.rows) {
      throw new OperationError(`partition ${range.partition} now holds ${now} rows but its archive has ${manifest.rows}; not dropped — run maintenance again to re-archive it`);
    }
    await target.conn.query(`ALTER TABLE \`${range.table}\` DROP PARTITION \`${range.partition}\``);
    result.dropped.push(range.partition);
    await recordAdminAction({
      action: 'partition.drop',
      target: `${plan.database}.${range.table}`,
      details: { partition: range.partition, rows: manifest.rows, range: manifest.range, cutoff: t.cutoff, retention: `${t.retentionDays}d`, archive: manifest.part.key },
      outcome: 'ok',
    });
    log.info({ table: range.table, partition: range.partition, rows: manifest.rows, key: manifest.part.key }, 'partition archived, verified and dropped');
  }
}

/** Carries the plan out (oldest partitions first). Throws only for the safe steps; everything else
 *  lands in `problems`. */
export async function applyMaintenance(plan: MaintenancePlan, target: ArchiveTarget, keys: ArchiveKeys | undefined): Promise<MaintenanceOutcome> {
  const problems: string[] = [];
  const safe = await applySafeSteps(plan, target.conn);
  for (const t of plan.tables) {
    const result = safe.tables.find((r) => r.table === t.table)!;
    try {
      await expirePartitions(plan, t, result, target, keys);
    } catch (err) {
      const message = (err as Error).message;
      problems.push(/^archiving /.test(message) ? message : `${plan.database}.${t.table}: ${message}`);
      await recordAdminAction({ action: 'partition.drop', target: `${plan.database}.${t.table}`, details: { error: message, cutoff: t.cutoff }, outcome: 'failed' });
    }
  }
  const rows: MaintenanceOutcome['rows'] = [];
  for (const due of plan.rows) {
    if (due.rows === 0) continue;
    try {
      const deleted = await deleteExpiredRows(target.conn, due);
      rows.push({ table: due.table, deleted, oldest: due.oldest, cutoff: due.cutoff });
      await recordAdminAction({
        action: 'retention.delete',
        target: `${plan.database}.${due.table}`,
        details: { rows: deleted, range: { from: due.oldest, before: due.cutoff }, column: due.column, window: due.window },
        outcome: 'ok',
      });
    } catch (err) {
      problems.push(`${plan.database}.${due.table}: deleting rows before ${due.cutoff} failed: ${(err as Error).message}`);
      await recordAdminAction({ action: 'retention.delete', target: `${plan.database}.${due.table}`, details: { error: (err as Error).message, before: due.cutoff }, outcome: 'failed' });
    }
  }
  let archives: MaintenanceOutcome['archives'] = null;
  if (plan.archives && keys) {
    try {
      const r = await removeArchives(keys.repo, plan.archives);
      archives = { removed: r.removed.length, orphans: r.orphans.length, locked: r.locked };
      for (const a of r.removed) {
        await recordAdminAction({
          action: 'partition.archive.delete',
          target: `${plan.database}.${a.table}`,
          details: { partition: a.partition, rows: a.rows, range: a.range, archivedAt: a.archivedAt, key: a.key },
          outcome: 'ok',
        });
      }
      for (const o of r.orphans) await recordAdminAction({ action: 'partition.archive.orphan-removed', target: plan.database, details: { key: o.key, modified: o.modified }, outcome: 'ok' });
    } catch (err) {
      problems.push(`partition archives of ${plan.database}: ${(err as Error).message}`);
    }
    problems.push(...plan.archives.problems);
  }
  return { ...safe, rows, archives, problems };
}
