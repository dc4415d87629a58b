// The statements that cost the server most, by total time. From performance_schema's digest
// summary when it is on (counts, total, mean and max since start; p95 where the server keeps a
// latency distribution: MySQL 8's QUANTILE_95; MariaDB has none, so it is said, not guessed).
// With performance_schema off, from the slow log when it is a table (mysql.slow_log): the logged
// executions grouped by their normalised text, where p95 is taken over those executions (only
// the ones slower than long_query_time are logged, which the p95 note says).
import { createHash } from 'node:crypto';
import type { MysqlClient } from '../mysql/client.js';
import type { Section, StatementStat, StatementsFacts } from './report-types.js';
import type { ServerFacts } from './server-facts.js';

const PICO = 1e12;

/** Monitoring's own statements (and every tool's) read these schemas: not the application's load. */
const OWN = "(DIGEST_TEXT IS NULL OR (DIGEST_TEXT NOT LIKE '%performance\\_schema%' AND DIGEST_TEXT NOT LIKE '%information\\_schema%' AND DIGEST_TEXT NOT LIKE 'SHOW %'))";

export interface DigestRow {
  SCHEMA_NAME: string | null;
  DIGEST: string | null;
  DIGEST_TEXT: string | null;
  COUNT_STAR: number | string;
  SUM_TIMER_WAIT: number | string;
  AVG_TIMER_WAIT: number | string;
  MAX_TIMER_WAIT: number | string;
  SUM_ROWS_EXAMINED: number | string;
  SUM_ROWS_SENT: number | string;
  SUM_NO_INDEX_USED: number | string;
  FIRST_SEEN: string | null;
  LAST_SEEN: string | null;
  QUANTILE_95?: number | string | null;
}

/** Rows of events_statements_summary_by_digest (MySQL 8 or MariaDB) as statement stats. */
export function digestStats(rows: DigestRow[]): StatementStat[] {
  return rows.map((r) => ({
    digest: String(r.DIGEST ?? ''),
    schema: r.SCHEMA_NAME ?? null,
    text: r.DIGEST_TEXT ?? '',
    calls: Number(r.COUNT_STAR),
    totalSeconds: Number(r.SUM_TIMER_WAIT) / PICO,
    meanSeconds: Number(r.AVG_TIMER_WAIT) / PICO,
    p95Seconds: r.QUANTILE_95 === undefined || r.QUANTILE_95 === null ? null : Number(r.QUANTILE_95) / PICO,
    maxSeconds: Number(r.MAX_TIMER_WAIT) / PICO,
    rowsExamined: Number(r.SUM_ROWS_EXAMINED),
    rowsSent: Number(r.SUM_ROWS_SENT),
    noIndexUsed: Number(r.SUM_NO_INDEX_USED),
    firstSeen: r.FIRST_SEEN,
    lastSeen: r.LAST_SEEN,
  }));
}

async function fromDigests(db: MysqlClient, f: ServerFacts, top: number): Promise<StatementsFacts> {
  const quantile = (await db.query("SHOW COLUMNS FROM performance_schema.events_statements_summary_by_digest LIKE 'QUANTILE\\_95'")).length > 0;
  const rows = await db.query<DigestRow>(
    `SELECT SCHEMA_NAME, DIGEST, DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT, AVG_TIMER_WAIT, MAX_TIMER_WAIT, SUM_ROWS_EXAMINED, SUM_ROWS_SENT,
            SUM_NO_INDEX_USED, FIRST_SEEN, LAST_SEEN${quantile ? ', QUANTILE_95' : ''}
       FROM performance_schema.events_statements_summary_by_digest
      WHERE DIGEST IS NOT NULL AND ${OWN}
      ORDER BY SUM_TIMER_WAIT DESC LIMIT ?`,
    [top],
  );
  const p95 = quantile
    ? 'QUANTILE_95 of the digest summary (the server\'s latency histogram per statement)'
    : `not available: ${f.info.flavor === 'mariadb' ? 'MariaDB' : 'this server'} keeps no latency distribution per statement (MySQL 8 has QUANTILE_95); mean and max are measured`;
  return { source: 'performance_schema', p95, statements: digestStats(rows) };
}

/** Literals to `?`, lists of them to one, whitespace to single spaces: one text per statement shape. */
export function normalizeStatement(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^'\\]|\\.|'')*'/g, '?')
    .replace(/"(?:[^"\\]|\\.|"")*"/g, '?')
    .replace(/\b0x[0-9a-f]+\b/gi, '?')
    .replace(/(?<![\w$`])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w$`])/gi, '?')
    .replace(/\(\s*\?(?:\s*,\s*\?)+\s*\)/g, '(...)')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** TIME(6) as the server prints it ('HH:MM:SS.ffffff', hours may exceed 24) in seconds. */
export function timeSeconds(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(-)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(v.trim());
  if (!m) return Number(v) || 0;
  return (m[1] ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]));
}

export interface SlowLogRow {
  start_time: string;
  query_time: string | number;
  rows_sent: number | string;
  rows_examined: number | string;
  db: string | null;
  sql_text: string | Buffer;
}

/** mysql.slow_log rows grouped by normalised text, slowest total first. */
export function slowLogStats(rows: SlowLogRow[], top: number): StatementStat[] {
  const groups = new Map<string, { schema: string | null; text: string; times: number[]; examined: number; sent: number; first: string; last: string }>();
  for (const r of rows) {
    const text = normalizeStatement(Buffer.isBuffer(r.sql_text) ? r.sql_text.toString('utf8') : String(r.sql_text));
    if (/performance_schema|information_schema|^show /i.test(text)) continue;
    const key = `${r.db ?? ''}\u0000${text}`;
    const g = groups.get(key) ?? { schema: r.db || null, text, times: [], examined: 0, sent: 0, first: r.start_time, last: r.start_time };
    g.times.push(timeSeconds(r.query_time));
    g.examined += Number(r.rows_examined);
    g.sent += Number(r.rows_sent);
    if (r.start_time < g.first) g.first = r.start_time;
    if (r.start_time > g.last) g.last = r.start_time;
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => {
      const sorted = [...g.times].sort((a, b) => a - b);
      const total = sorted.reduce((n, t) => n + t, 0);
      return {
        digest: createHash('sha256').update(`${g.schema ?? ''}\u0000${g.text}`).digest('hex').slice(0, 32),
        schema: g.schema,
        text: g.text,
        calls: sorted.length,
        totalSeconds: total,
        meanSeconds: total / sorted.length,
        p95Seconds: percentile(sorted, 0.95),
        maxSeconds: sorted.at(-1) ?? null,
        rowsExamined: g.examined,
        rowsSent: g.sent,
        noIndexUsed: null,
        firstSeen: g.first,
        lastSeen: g.last,
      };
    })
    .sort((a, b) => b.totalSeconds - a.totalSeconds)
    .slice(0, top);
}

/** How many slow-log rows one look reads (the newest): bounds the work on a busy log table. */
const SLOW_LOG_ROWS = 20_000;

async function fromSlowLog(db: MysqlClient, top: number): Promise<StatementsFacts> {
  const rows = await db.query<SlowLogRow>(`SELECT start_time, query_time, rows_sent, rows_examined, db, sql_text FROM mysql.slow_log ORDER BY start_time DESC LIMIT ${SLOW_LOG_ROWS}`);
  return {
    source: 'slow_log',
    p95: `over the executions in mysql.slow_log (the newest ${SLOW_LOG_ROWS} at most): only those slower than long_query_time are logged`,
    statements: slowLogStats(rows, top),
  };
}

export async function collectStatements(db: MysqlClient, f: ServerFacts, top: number): Promise<Section<StatementsFacts>> {
  if (f.performanceSchema) {
    const consumer = await db.query<{ ENABLED: string }>("SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'statements_digest'");
    if (consumer[0]?.ENABLED !== 'YES') return { available: false, reason: 'performance_schema is on but its statements_digest consumer is off: UPDATE performance_schema.setup_consumers SET ENABLED = \'YES\' WHERE NAME = \'statements_digest\'' };
    return { available: true, ...(await fromDigests(db, f, top)) };
  }
  const output = (f.variables.log_output ?? '').toUpperCase().split(',');
  if (/^(on|1)$/i.test(f.variables.slow_query_log ?? '') && output.includes('TABLE')) return { available: true, ...(await fromSlowLog(db, top)) };
  return {
    available: false,
    reason: `performance_schema is off${f.info.flavor === 'mariadb' ? " (MariaDB's default)" : ''} and the slow log is not a table (slow_query_log=${f.variables.slow_query_log ?? '?'}, log_output=${f.variables.log_output ?? '?'}): set performance_schema=ON in the server's configuration (a restart), or SET GLOBAL log_output='TABLE', slow_query_log=ON`,
  };
}
