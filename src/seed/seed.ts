// `dbops seed`: fills a migrated, empty horizn_ database with realistic, deterministic analytics data
// of roughly the requested size (demo, tests, benchmarks). Same options → byte-identical tables.
// It also makes the database usable by the dashboard: a development user and instance settings.
// The whole seed holds the schema lock (src/migrate/lock.ts): it drops and rebuilds indexes and
// adds partitions, which must not interleave with a migration or partition maintenance.
import mysql, { type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import { UsageError } from '../errors.js';
import { withSchemaLock } from '../migrate/lock.js';
import { addDays, ensureDatePartitions } from '../migrate/partitions.js';
import { log } from '../util/logger.js';
import { rebuildAggregates } from './aggregates.js';
import { buildSites, type SiteSpec } from './catalog.js';
import { generateRows, RowBuffers, type Batch, type GenerationPlan } from './generator.js';
import { loadTsv, type TsvTable } from './load-data.js';
import { dropSecondaryIndexes, repairInterruptedSeed, restoreSecondaryIndexes, type DeferredIndexes } from './deferred-indexes.js';
import { Rng } from './prng.js';
import { insertDevelopmentAccount } from './dev-account.js';

/** Fixed so that a seed is reproducible by default; the demo passes today's date instead. */
export const DEFAULT_SEED_END_DATE = '2026-11-27';
/** Table data (InnoDB data_length, raw + aggregates) one session adds on average, measured on MariaDB 10.11.
 *  Scaled by what migration 0004 added per session (113 MB instead of 89 MB for the same 138,889
 *  sessions at 100 MB): 16-byte session ids in every pageview and event, the unique key on them. */
export const BYTES_PER_SESSION = 910;

export interface SeedOptions {
  /** Approximate table data to produce (sum of data_length), in bytes. */
  sizeBytes: number;
  /** Number of sites; default 3. */
  sites?: number;
  /** Days of history ending at endDate; default 30. */
  days?: number;
  /** PRNG seed; default 1. */
  seed?: number | string;
  /** Last day of data, 'YYYY-MM-DD' (UTC); default DEFAULT_SEED_END_DATE. */
  endDate?: string;
  /** Empty the analytics tables first instead of refusing when they hold data. */
  truncate?: boolean;
  /** Keep the load out of the binary log (SET SESSION sql_log_bin = 0; needs BINLOG ADMIN or SUPER).
   *  Replicas and binlog-based PITR will not see the seeded rows. */
  noBinlog?: boolean;
  /** Seconds to wait for a migration or partition maintenance holding the schema lock; default 60. */
  lockTimeoutSec?: number;
  /** Rows generated so far (may run one batch ahead of the load), called after every loaded batch. */
  onProgress?: (p: { sessions: number; pageviews: number; events: number; bytesSent: number }) => void;
}

export interface SeedResult {
  seed: string;
  from: string;
  to: string;
  sites: number;
  rows: Record<string, number>;
  /** Bytes of LOAD DATA text sent. */
  bytesSent: number;
  /** Sum of data_length over every seeded table after ANALYZE TABLE. */
  dataBytes: number;
  indexBytes: number;
  /** Wall time to generate and load raw rows (sessions, pageviews, events), their secondary index build included. */
  loadSeconds: number;
  /** Of loadSeconds, the build of the secondary indexes dropped for the load. */
  indexSeconds: number;
  /** Wall time of the whole seed, aggregates and ANALYZE included. */
  totalSeconds: number;
  /** dataBytes of the raw tables / loadSeconds, in MB/s (10^6). */
  loadMBps: number;
}

const RAW_TABLES = ['sessions', 'pageviews', 'events'] as const;
const SEEDED_TABLES = ['sites', ...RAW_TABLES, 'daily_stats', 'page_stats', 'referrer_stats', 'realtime_visitors'];
const BATCH_BYTES = 8 << 20;

const TSV: Record<(typeof RAW_TABLES)[number], TsvTable> = {
  sessions: {
    table: 'sessions',
    columns:
      '@id, site_id, @user_hash, @ip_hash, started_at, ended_at, pageview_count, duration_s, entry_page, exit_page, ' +
      'referrer_host, utm_source, utm_medium, utm_campaign, country, device, browser, os',
    set: 'id = UNHEX(@id), user_hash = UNHEX(@user_hash), ip_hash = UNHEX(@ip_hash)',
  },
  pageviews: {
    table: 'pageviews',
    columns: 'id, day, site_id, @session_id, `timestamp`, page_path, page_title, time_on_page_ms, is_entry',
    set: 'session_id = UNHEX(@session_id)',
  },
  events: {
    table: 'events',
    columns: 'id, day, site_id, @session_id, `timestamp`, event_name, page_path, properties',
    set: 'session_id = UNHEX(@session_id)',
  },
};

function validate(opts: SeedOptions): Required<Omit<SeedOptions, 'onProgress' | 'noBinlog' | 'lockTimeoutSec'>> {
  const sites = opts.sites ?? 3;
  const days = opts.days ?? 30;
  const endDate = opts.endDate ?? DEFAULT_SEED_END_DATE;
  if (!Number.isFinite(opts.sizeBytes) || opts.sizeBytes <= 0) throw new UsageError(`seed size must be a positive number of bytes, got ${opts.sizeBytes}`);
  if (!Number.isInteger(sites) || sites < 1 || sites > 1000) throw new UsageError(`seed sites must be an integer from 1 to 1000, got ${sites}`);
  if (!Number.isInteger(days) || days < 1 || days > 3660) throw new UsageError(`seed days must be an integer from 1 to 3660, got ${days}`);
  addDays(endDate, 0); // validates the date
  return { sizeBytes: opts.sizeBytes, sites, days, seed: opts.seed ?? 1, endDate, truncate: opts.truncate ?? false };
}

/** Spreads `total` sessions over days (weekly rhythm, slow growth, noise) and sites (skewed). */
export function planSessions(seed: string, days: string[], siteCount: number, total: number): number[][] {
  const rng = new Rng(seed, 'plan');
  const weights: number[] = [];
  days.forEach((day, d) => {
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    const weekend = weekday === 0 || weekday === 6 ? 0.72 : 1;
    const growth = 0.8 + (0.4 * d) / Math.max(1, days.length - 1);
    const noise = 0.9 + 0.2 * rng.next();
    for (let s = 0; s < siteCount; s++) weights.push(weekend * growth * noise * (1 / (s + 1) ** 0.8));
  });
  const sum = weights.reduce((a, b) => a + b, 0);
  const out: number[][] = days.map(() => new Array<number>(siteCount).fill(0));
  let cum = 0;
  let prev = 0;
  weights.forEach((w, i) => {
    cum += (w / sum) * total;
    const rounded = Math.round(cum);
    out[Math.floor(i / siteCount)]![i % siteCount] = rounded - prev;
    prev = rounded;
  });
  return out;
}

/** Session settings of every loader connection: rows are consistent by construction, so per-row FK
 *  and unique checks are skipped; optionally the binlog too. */
async function prepareSession(conn: Connection, noBinlog: boolean): Promise<void> {
  await conn.query('SET SESSION foreign_key_checks = 0, unique_checks = 0');
  if (!noBinlog) return;
  try {
    await conn.query('SET SESSION sql_log_bin = 0');
  } catch (err) {
    throw new UsageError(`--no-binlog needs the BINLOG ADMIN (or SUPER) privilege (${(err as Error).message}); grant it or seed without --no-binlog`, { cause: err });
  }
}

async function requireSchema(conn: Connection): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [[...SEEDED_TABLES, 'users', 'settings', 'visitor_salts']],
  );
  const have = new Set(rows.map((r) => String(r.t)));
  const missing = [...SEEDED_TABLES, 'users', 'settings', 'visitor_salts'].filter((t) => !have.has(t));
  if (missing.length > 0) {
    throw new UsageError(`tables ${missing.join(', ')} are missing; run \`dbops migrate up\` on this database first`);
  }
}

async function prepareEmptyTables(conn: Connection, truncate: boolean): Promise<void> {
  const nonEmpty: string[] = [];
  for (const t of SEEDED_TABLES) {
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT 1 FROM \`${t}\` LIMIT 1`);
    if (rows.length > 0) nonEmpty.push(t);
  }
  if (nonEmpty.length === 0) return;
  if (!truncate) {
    throw new UsageError(`tables ${nonEmpty.join(', ')} already hold data; seed an empty database or pass truncate (--truncate)`);
  }
  // Children first; foreign_key_checks is off for this session (see seed()).
  for (const t of [...SEEDED_TABLES].reverse()) await conn.query(`TRUNCATE TABLE \`${t}\``);
}

async function insertSites(conn: Connection, sites: SiteSpec[], createdAt: string): Promise<void> {
  await conn.query('INSERT INTO sites (id, public_id, domain, name, timezone, is_public, created_at) VALUES ?', [
    sites.map((s) => [s.id, s.publicId, s.domain, s.name, s.timezone, s.id === 1 ? 1 : 0, `${createdAt} 09:00:00.000`]),
  ]);
}

/** Runs the generator in ~8 ms slices until a batch is full, leaving the event loop free for the load in flight. */
function produceBatch(gen: Generator<void, void, void>, buffers: RowBuffers): Promise<Batch | null> {
  return new Promise((resolve, reject) => {
    const step = (): void => {
      try {
        const deadline = performance.now() + 8;
        while (performance.now() < deadline) {
          const r = gen.next();
          if (r.done) {
            resolve(buffers.bytes > 0 ? buffers.take() : null);
            return;
          }
          if (buffers.bytes >= BATCH_BYTES) {
            resolve(buffers.take());
            return;
          }
        }
        setImmediate(step);
      } catch (err) {
        reject(err);
      }
    };
    setImmediate(step);
  });
}

async function tableSizes(conn: Connection, tables: readonly string[]): Promise<{ data: number; index: number; byTable: Record<string, number> }> {
  await conn.query(`ANALYZE TABLE ${tables.map((t) => `\`${t}\``).join(', ')}`);
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, DATA_LENGTH AS d, INDEX_LENGTH AS i FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [tables],
  );
  const byTable: Record<string, number> = {};
  let data = 0;
  let index = 0;
  for (const r of rows) {
    byTable[String(r.t)] = Number(r.d);
    data += Number(r.d);
    index += Number(r.i);
  }
  return { data, index, byTable };
}

/** Seeds the database the connection (or options) points at. Needs a migrated, empty schema and local_infile.
 *  Pass connection options rather than a connection for the fastest load (three parallel loaders). */
export async function seed(target: Connection | ConnectionOptions, options: SeedOptions): Promise<SeedResult> {
  const o = validate(options);
  const own = typeof (target as Connection).query !== 'function';
  const conn = own ? await mysql.createConnection(target as ConnectionOptions) : (target as Connection);
  const extras: Connection[] = [];
  const t0 = performance.now();
  try {
    const [dbRows] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS db, @@foreign_key_checks AS fk, @@unique_checks AS uc');
    if (!dbRows[0]?.db) throw new UsageError('the connection has no default database; put the database name in the URL');
    return await withSchemaLock(conn, String(dbRows[0].db), options.lockTimeoutSec ?? 60, () =>
      seedLocked({ conn, target, own, o, options, extras, saved: dbRows[0]!, t0 }),
    );
  } finally {
    for (const c of extras) await c.end().catch(() => undefined);
    if (own) await conn.end().catch(() => undefined);
  }
}

interface SeedRun {
  conn: Connection;
  /** Connection options when the seed opened its connections itself (then it adds parallel loaders). */
  target: Connection | ConnectionOptions;
  own: boolean;
  o: ReturnType<typeof validate>;
  options: SeedOptions;
  /** Loader connections opened here, closed by the caller. */
  extras: Connection[];
  /** The session's foreign_key_checks and unique_checks before the seed, restored after it. */
  saved: RowDataPacket;
  t0: number;
}

async function seedLocked({ conn, target, own, o, options, extras, saved, t0 }: SeedRun): Promise<SeedResult> {
  await requireSchema(conn);
  const seedKey = String(o.seed);
  const from = addDays(o.endDate, -(o.days - 1));
  const days = Array.from({ length: o.days }, (_, i) => addDays(from, i));
  await prepareSession(conn, options.noBinlog ?? false);
  let deferred: DeferredIndexes | undefined;
  try {
    await repairInterruptedSeed(conn);
    await prepareEmptyTables(conn, o.truncate);
    for (const t of ['pageviews', 'events']) await ensureDatePartitions(conn, t, from, o.endDate);
    const sites = buildSites(seedKey, o.sites);
    await insertSites(conn, sites, addDays(from, -30));
    await insertDevelopmentAccount(conn, `${addDays(from, -30)} 09:00:00.000`);

    const totalSessions = Math.max(o.days * o.sites, Math.round(o.sizeBytes / BYTES_PER_SESSION));
    const sessions = planSessions(seedKey, days, o.sites, totalSessions);
    const perSite = sites.map((_, s) => sessions.reduce((a, day) => a + day[s]!, 0));
    const plan: GenerationPlan = {
      seed: seedKey,
      sites,
      days,
      sessions,
      visitorPool: perSite.map((n) => Math.max(10, Math.round(n * 0.55))),
    };
    // Given connection options, each raw table loads over its own connection so the loads can overlap
    // their waits on tablespace growth (one file per daily partition). On the shared 2-core VM this
    // measured the same as one connection; it pays off where the server has cores to spare.
    const loaders: Connection[] = [conn];
    if (own) {
      for (let i = 1; i < RAW_TABLES.length; i++) {
        const extra = await mysql.createConnection(target as ConnectionOptions);
        extras.push(extra);
        await prepareSession(extra, options.noBinlog ?? false);
        loaders.push(extra);
      }
    }
    const buffers = new RowBuffers();
    const gen = generateRows(plan, buffers);
    const tLoad = performance.now();
    deferred = await dropSecondaryIndexes(conn, RAW_TABLES);
    let bytesSent = 0;
    let pending = produceBatch(gen, buffers);
    for (;;) {
      const batch = await pending;
      if (!batch) break;
      pending = produceBatch(gen, buffers);
      pending.catch(() => undefined); // still awaited above; this only avoids an unhandled rejection if a load throws first
      if (loaders.length === RAW_TABLES.length) {
        const sent = await Promise.all(RAW_TABLES.map((t, i) => loadTsv(loaders[i]!, TSV[t], batch[t].bytes, batch[t].rows)));
        bytesSent += sent.reduce((x, y) => x + y, 0);
      } else {
        for (const t of RAW_TABLES) bytesSent += await loadTsv(conn, TSV[t], batch[t].bytes, batch[t].rows);
      }
      options.onProgress?.({ ...buffers.totals, bytesSent });
    }
    const tIndex = performance.now();
    await restoreSecondaryIndexes(loaders, deferred);
    deferred = undefined;
    const indexSeconds = (performance.now() - tIndex) / 1000;
    const loadSeconds = (performance.now() - tLoad) / 1000;

    await rebuildAggregates(conn, from, o.endDate);
    // A realtime snapshot: visitors seen in the last 30 minutes of the last day, latest session wins.
    await conn.query(
      `INSERT INTO realtime_visitors (site_id, user_hash, session_id, page_path, country, device, last_seen_at)
       SELECT site_id, user_hash, id, exit_page, country, device, ended_at FROM sessions
        WHERE ended_at >= ? ORDER BY ended_at, id
       ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), page_path = VALUES(page_path),
         country = VALUES(country), device = VALUES(device), last_seen_at = VALUES(last_seen_at)`,
      [`${o.endDate} 23:30:00.000`],
    );

    const sizes = await tableSizes(conn, SEEDED_TABLES);
    const rawData = RAW_TABLES.reduce((a, t) => a + (sizes.byTable[t] ?? 0), 0);
    const rows: Record<string, number> = {};
    for (const t of SEEDED_TABLES) {
      const [r] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${t}\``);
      rows[t] = Number(r[0]?.n ?? 0);
    }
    const result: SeedResult = {
      seed: seedKey,
      from,
      to: o.endDate,
      sites: o.sites,
      rows,
      bytesSent,
      dataBytes: sizes.data,
      indexBytes: sizes.index,
      loadSeconds,
      indexSeconds,
      totalSeconds: (performance.now() - t0) / 1000,
      loadMBps: rawData / 1e6 / Math.max(loadSeconds, 1e-6),
    };
    log.info({ ...result, rows: undefined }, 'seed done');
    return result;
  } catch (err) {
    // A failed or interrupted load still leaves the schema whole (the rows stay for --truncate).
    if (deferred) await restoreSecondaryIndexes([conn], deferred).catch((e: Error) => log.error({ err: e.message }, 'could not add the secondary indexes back; the next seed run will'));
    throw err;
  } finally {
    await conn
      .query('SET SESSION foreign_key_checks = ?, unique_checks = ?', [Number(saved.fk), Number(saved.uc)])
      .then(() => (options.noBinlog ? conn.query('SET SESSION sql_log_bin = 1') : undefined))
      .catch(() => undefined);
  }
}
