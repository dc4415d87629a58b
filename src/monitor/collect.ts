// One look at the source for database monitoring: server facts first, then each section on its
// own, so a section the server or the account cannot provide (a missing grant, a feature turned
// off) is reported unavailable with its reason while the others still arrive. Only reaching the
// server at all is a failure. Read only on the server; in the repository the look keeps the
// day's storage sample (first look of the day) and, when it is the daemon's, the error-log position.
import type { MysqlClient } from '../mysql/client.js';
import { MysqlQueryError } from '../mysql/client.js';
import { VerificationError } from '../errors.js';
import type { Repository } from '../repo/repository.js';
import { log } from '../util/logger.js';
import { collectConnections } from './connections.js';
import { dbAlerts, type AlertRules } from './db-alerts.js';
import { collectErrors } from './error-log.js';
import { growthFacts, GROWTH_WINDOW_DAYS, type Point } from './growth.js';
import { readStorageSamples, recordStorageSample } from './history-store.js';
import { collectIndexFacts } from './index-usage.js';
import type { DbReport, IndexFacts, Section, StorageFacts } from './report-types.js';
import { readServerFacts, statusNumber, type ServerFacts } from './server-facts.js';
import { collectStatements } from './statements.js';
import { datePartitionedTables, readSizes } from './storage-sizes.js';

export interface CollectOptions {
  /** Databases to size and check; empty: every user database the account can see. */
  databases: string[];
  topStatements: number;
  rules: AlertRules;
  /** Where the history lives; without one there is no growth rate. */
  repo?: Repository | undefined;
  /** The daemon's look: moves the error-log position. */
  advanceErrorLog: boolean;
  now?: Date;
}

/** A section's query failed (a grant missing, a table the server lacks) or its stored state does not verify. */
function unavailable(err: unknown, account: string): { available: false; reason: string } {
  if (err instanceof MysqlQueryError) return { available: false, reason: `${err.message} (as ${account}; dbops doctor --print-grants lists the monitor role's grants)` };
  if (err instanceof VerificationError) return { available: false, reason: err.message };
  throw err;
}

async function section<T>(name: string, f: ServerFacts, run: () => Promise<Section<T>>): Promise<Section<T>> {
  try {
    return await run();
  } catch (err) {
    const u = unavailable(err, f.account);
    log.warn({ section: name, reason: u.reason }, 'database monitoring: section unavailable');
    return u;
  }
}

async function storage(db: MysqlClient, f: ServerFacts, o: CollectOptions, databases: string[], now: Date): Promise<Section<StorageFacts>> {
  const sizes = await readSizes(db, databases);
  const totalBytes = sizes.tables.reduce((n, t) => n + t.dataBytes + t.indexBytes, 0);
  const sourceId = f.info.serverUuid;
  const notes: string[] = [];
  let recorded = false;
  const total: Point[] = [];
  const perTable = new Map<string, Point[]>();
  if (o.repo) {
    if (o.repo.canSign) {
      recorded = await recordStorageSample(o.repo, {
        sourceId,
        day: f.today,
        takenAt: now.toISOString(),
        databases,
        totalBytes,
        tables: sizes.tables.map((t) => ({ schema: t.schema, table: t.table, dataBytes: t.dataBytes, indexBytes: t.indexBytes, rows: t.rows })),
      });
    }
    const since = new Date(now.getTime() - GROWTH_WINDOW_DAYS * 86_400_000).toISOString().slice(0, 10);
    const history = await readStorageSamples(o.repo, sourceId, since);
    notes.push(...history.problems.map((p) => `sample left out: ${p}`));
    // Today's stored sample is this look or an earlier one of today: the current look stands for the day.
    for (const s of history.samples.filter((x) => x.day !== f.today)) {
      total.push({ at: Date.parse(s.takenAt), bytes: s.totalBytes });
      for (const t of s.tables) perTable.set(`${t.schema}.${t.table}`, [...(perTable.get(`${t.schema}.${t.table}`) ?? []), { at: Date.parse(s.takenAt), bytes: t.dataBytes + t.indexBytes }]);
    }
  } else notes.push('no repository configured (storage.url): no daily history, so no growth rate');
  total.push({ at: now.getTime(), bytes: totalBytes });
  for (const t of sizes.tables) perTable.set(`${t.schema}.${t.table}`, [...(perTable.get(`${t.schema}.${t.table}`) ?? []), { at: now.getTime(), bytes: t.dataBytes + t.indexBytes }]);
  return {
    available: true,
    totalBytes,
    tables: sizes.tables,
    partitions: sizes.partitions,
    datePartitioned: datePartitionedTables(sizes.partitions, f.today),
    growth: growthFacts({ total, tables: perTable, now: now.getTime(), forecastDays: o.rules.forecastDays, diskLimitBytes: o.rules.diskLimitBytes, notes }),
    recorded,
  };
}

export async function collectDbReport(db: MysqlClient, o: CollectOptions): Promise<DbReport> {
  const now = o.now ?? new Date();
  const f = await readServerFacts(db);
  const databases = o.databases.length ? o.databases : await db.listUserDatabases();
  const statements = await section('statements', f, () => collectStatements(db, f, o.topStatements));
  let indexes: IndexFacts;
  try {
    indexes = await collectIndexFacts(db, f, databases);
  } catch (err) {
    const u = unavailable(err, f.account);
    indexes = { unused: u, redundant: [], fullScans: u };
  }
  const report: Omit<DbReport, 'alerts'> = {
    takenAt: now.toISOString(),
    source: {
      flavor: f.info.flavor,
      version: f.info.version,
      serverUuid: f.info.serverUuid,
      hostname: f.variables.hostname ?? f.info.hostname ?? null,
      uptimeSeconds: statusNumber(f, 'Uptime'),
      performanceSchema: f.performanceSchema,
      account: f.account,
    },
    databases,
    statements,
    indexes,
    storage: await section('storage', f, () => storage(db, f, o, databases, now)),
    connections: await section('connections', f, async () => ({ available: true as const, ...(await collectConnections(db, f)) })),
    errors: await section('errors', f, () => collectErrors(db, f, { repo: o.repo, advance: o.advanceErrorLog, now })),
  };
  return { ...report, alerts: dbAlerts(report, o.rules) };
}
