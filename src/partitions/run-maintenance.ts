// One maintenance run of the horizn_ database, as `dbops partitions maintain` and the daemon's
// partitions job both do it (the daemon calls this, not the CLI): connect, plan, and with `apply`
// take the schema lock, plan again under it (a plan made outside the lock can name partitions a
// concurrent run just dropped) and carry it out. Where deletions need a consent that was not given
// (production without partitions.autoApply), the safe steps still run and the run fails, naming
// what is past retention, so that health turns red instead of data quietly outliving its window.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { Repository } from '../repo/repository.js';
import { OperationError } from '../errors.js';
import { withSchemaLock } from '../migrate/lock.js';
import { databaseExists, type DatabaseTarget } from '../migrate/target.js';
import { connect } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../mysql/flavor.js';
import type { ArchiveKeys } from './archive-partition.js';
import { applyMaintenance, applySafeSteps, deletionsDue, maintenanceSettings, planMaintenance, type MaintenanceOutcome, type MaintenancePlan } from './maintain.js';

export interface MaintainOptions {
  config: Config;
  target: DatabaseTarget;
  /** The clock (tests pin it); default now. "Today" is its UTC date. */
  now?: Date;
  /** Where archives are looked for (archive retention); none: archives are left alone. */
  repo?: Repository;
  /** What archiving needs; asked only when a partition is to be archived or an archive deleted. */
  keys?: () => Promise<ArchiveKeys>;
  apply: boolean;
  /** Set when deletions are not consented to: why (e.g. production without partitions.autoApply). */
  refuseDeletions?: string;
  lockTimeoutSec?: number;
}

export interface MaintainResult {
  database: string;
  /** Why nothing was done: the database does not exist or is not migrated. */
  skipped?: string;
  plan?: MaintenancePlan;
  outcome?: MaintenanceOutcome;
}

async function isMigrated(conn: Connection): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('pageviews', 'events') AND PARTITION_NAME IS NOT NULL",
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

export async function maintainDatabase(o: MaintainOptions): Promise<MaintainResult> {
  const database = o.target.database;
  if (!(await databaseExists(o.target))) return { database, skipped: `database ${database} does not exist on the server` };
  const settings = maintenanceSettings(o.config);
  const now = o.now ?? new Date();
  const client = await connect(o.target.server, { database });
  const conn = client.raw;
  try {
    if (!(await isMigrated(conn))) return { database, skipped: `database ${database} has no partitioned pageviews/events: it is not migrated (\`dbops migrate up\`)` };
    if (!o.apply) return { database, plan: await planMaintenance(conn, database, settings, now, o.repo) };
    return await withSchemaLock(conn, database, o.lockTimeoutSec ?? 60, async () => {
      const plan = await planMaintenance(conn, database, settings, now, o.repo);
      const due = deletionsDue(plan);
      if (o.refuseDeletions && due.length > 0) {
        await applySafeSteps(plan, conn);
        throw new OperationError(`${o.refuseDeletions}: ${due.join(', ')} past retention in ${database} were not deleted (future partitions and salts were maintained)`);
      }
      const needsKeys = plan.tables.some((t) => t.expire.length > 0) || (plan.archives !== null && plan.archives.expired.length + plan.archives.orphans.length > 0);
      const keys = needsKeys && o.keys ? await o.keys() : undefined;
      const info = await readServerInfo(client);
      const outcome = await applyMaintenance(plan, { conn, server: o.target.server, database, info, dumpTool: resolveTools(flavorProfile(info)).dump }, keys);
      return { database, plan, outcome };
    });
  } finally {
    await client.close();
  }
}

/** One line for logs and the daemon's job summary. */
export function summarizeMaintenance(r: MaintainResult): string {
  if (r.skipped) return `nothing to maintain: ${r.skipped}`;
  const o = r.outcome;
  if (!o) return `${r.database}: planned only`;
  const created = o.tables.reduce((n, t) => n + t.created.length, 0);
  const dropped = o.tables.map((t) => (t.dropped.length ? `${t.dropped.length} ${t.table}` : '')).filter(Boolean);
  const rows = o.rows.map((x) => `${x.deleted} ${x.table}`);
  return [
    `${r.database}: ${created} partition(s) created`,
    `${dropped.length ? dropped.join(', ') : 'no'} partition(s) archived and dropped`,
    `${rows.length ? rows.join(', ') : 'no'} row(s) past retention deleted`,
    ...(o.salts ? [`${o.salts.destroyed.length} salt(s) destroyed`] : []),
    ...(o.archives ? [`${o.archives.removed} archive(s) and ${o.archives.orphans} orphan(s) removed`] : []),
  ].join('; ');
}
