// The parts of database monitoring that are pure functions, on recorded and documented server
// output (no MySQL server exists here): MySQL 8's digest rows with QUANTILE_95 and its
// performance_schema.error_log rows, both flavours' error-log files, the slow-log grouping and
// its p95, the redundant-index rules, the growth fit and forecast, the daily-partition window,
// and the alert rules.
import { describe, it, expect } from 'vitest';
import { digestStats, normalizeStatement, percentile, slowLogStats, timeSeconds } from '../../src/monitor/statements.js';
import { errorLogRows, parseErrorLog } from '../../src/monitor/error-log.js';
import { indexDefs, redundantIndexes, unusedIndexes } from '../../src/monitor/index-usage.js';
import { bytesPerDay, growthFacts } from '../../src/monitor/growth.js';
import { datePartitionedTables } from '../../src/monitor/storage-sizes.js';
import { dbAlerts, type AlertRules } from '../../src/monitor/db-alerts.js';
import type { DbReport, PartitionSize } from '../../src/monitor/report-types.js';
import { excessGrants, missingGrants, parseGrants, roleNeeds } from '../../src/doctor/required-grants.js';

const DAY = 86_400_000;

describe('statements', () => {
  it('MySQL 8 digest rows: picoseconds to seconds, QUANTILE_95 as p95; MariaDB rows have no p95', () => {
    // Recorded from MySQL 8.0.36 (SELECT … FROM performance_schema.events_statements_summary_by_digest).
    const mysql = digestStats([
      { SCHEMA_NAME: 'horizn', DIGEST: '5b2e3c1a9f0d4e6b8a7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a', DIGEST_TEXT: 'SELECT `page_path` , COUNT ( * ) FROM `pageviews` GROUP BY `page_path`', COUNT_STAR: 40, SUM_TIMER_WAIT: '1200000000000', AVG_TIMER_WAIT: 30000000000, MAX_TIMER_WAIT: 90000000000, SUM_ROWS_EXAMINED: 571440, SUM_ROWS_SENT: 400, SUM_NO_INDEX_USED: 40, FIRST_SEEN: '2026-12-06 10:00:00.000000', LAST_SEEN: '2026-12-06 10:01:00.000000', QUANTILE_95: 60255958607 },
    ]);
    expect(mysql[0]).toMatchObject({ calls: 40, totalSeconds: 1.2, meanSeconds: 0.03, maxSeconds: 0.09, rowsExamined: 571440, noIndexUsed: 40 });
    expect(mysql[0]!.p95Seconds).toBeCloseTo(0.060256, 5);
    const mariadb = digestStats([{ SCHEMA_NAME: null, DIGEST: 'ab', DIGEST_TEXT: 'SELECT ?', COUNT_STAR: 1, SUM_TIMER_WAIT: 1e9, AVG_TIMER_WAIT: 1e9, MAX_TIMER_WAIT: 1e9, SUM_ROWS_EXAMINED: 0, SUM_ROWS_SENT: 1, SUM_NO_INDEX_USED: 0, FIRST_SEEN: null, LAST_SEEN: null }]);
    expect(mariadb[0]!.p95Seconds).toBeNull();
  });

  it('slow-log rows group by their normalised text; p95 is the nearest rank over the logged executions', () => {
    expect(normalizeStatement("SELECT * FROM t WHERE a = 'x''y' AND b IN (1, 2, 3) AND c = -4.5e3 AND d = 0xFF  /* hint */")).toBe('SELECT * FROM t WHERE a = ? AND b IN (...) AND c = ? AND d = ?');
    expect(normalizeStatement('SELECT col1 FROM t2')).toBe('SELECT col1 FROM t2');
    expect(timeSeconds('00:00:01.250000')).toBe(1.25);
    expect(timeSeconds('100:00:00.000000')).toBe(360_000);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95)).toBe(19);
    const rows = Array.from({ length: 20 }, (_, i) => ({ start_time: `2026-12-06 10:00:${String(i).padStart(2, '0')}.000000`, query_time: `00:00:0${(i + 1) % 10}.${i >= 9 ? '5' : '0'}00000`, rows_sent: 1, rows_examined: 100, db: 'horizn', sql_text: Buffer.from(`SELECT * FROM pageviews WHERE id = ${i}`) }));
    rows.push({ start_time: '2026-12-06 10:01:00.000000', query_time: '00:00:00.100000', rows_sent: 0, rows_examined: 0, db: 'horizn', sql_text: Buffer.from('SELECT * FROM performance_schema.threads') });
    const stats = slowLogStats(rows, 10);
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({ text: 'SELECT * FROM pageviews WHERE id = ?', calls: 20, rowsExamined: 2000, firstSeen: '2026-12-06 10:00:00.000000', lastSeen: '2026-12-06 10:00:19.000000', noIndexUsed: null });
    const times = rows.slice(0, 20).map((r) => timeSeconds(r.query_time)).sort((a, b) => a - b);
    expect(stats[0]!.p95Seconds).toBe(times[18]);
  });
});

describe('error log', () => {
  it('parses MariaDB lines (continuations join their entry) and MySQL file lines', () => {
    const text = [
      '2026-12-06 10:17:42 0 [Note] /usr/sbin/mariadbd: ready for connections.',
      "Version: '10.11.19-MariaDB-0+deb12u1-log'  socket: '/tmp/x.sock'  port: 45433  Debian 12",
      "2026-12-06 10:19:14 40 [ERROR] Event Scheduler: [root@localhost][evt.boom] Table 'evt.missing' doesn't exist",
      '201206 10:19:15 [Warning] an old-format line',
      '2026-12-06T10:25:00.338624Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.36) starting as process 1',
      '2026-12-06T10:25:01.000001Z 12 [ERROR] [MY-012592] [InnoDB] Operating system error number 2 in a file operation.',
      '',
    ].join('\n');
    const e = parseErrorLog(text);
    expect(e.map((x) => x.level)).toEqual(['note', 'error', 'warning', 'system', 'error']);
    expect(e[0]!.message).toContain("| Version: '10.11.19-MariaDB");
    expect(e[1]).toEqual({ at: '2026-12-06 10:19:14', level: 'error', message: "Event Scheduler: [root@localhost][evt.boom] Table 'evt.missing' doesn't exist" });
    expect(e[4]).toMatchObject({ code: 'MY-012592', subsystem: 'InnoDB', at: '2026-12-06T10:25:01.000001Z' });
  });

  it('reads performance_schema.error_log rows (MySQL 8.0.22+, as documented)', () => {
    const e = errorLogRows([
      { LOGGED: '2020-08-06 09:25:00.338624', PRIO: 'System', ERROR_CODE: 'MY-010116', SUBSYSTEM: 'Server', DATA: 'mysqld (mysqld 8.0.22) starting as process 96344' },
      { LOGGED: '2020-08-06 09:26:00.000001', PRIO: 'Error', ERROR_CODE: 'MY-010584', SUBSYSTEM: 'Repl', DATA: 'Slave I/O for channel : error connecting to master' },
    ]);
    expect(e.map((x) => x.level)).toEqual(['system', 'error']);
    expect(e[1]).toMatchObject({ code: 'MY-010584', subsystem: 'Repl', at: '2020-08-06 09:26:00.000001' });
  });
});

describe('indexes', () => {
  const stats = (rows: Array<[string, string, number, string, (number | null)?, string?]>) =>
    indexDefs(rows.map(([table, index, nonUnique, column, subPart, type], i) => ({ TABLE_SCHEMA: 'h', TABLE_NAME: table, INDEX_NAME: index, NON_UNIQUE: nonUnique, SEQ_IN_INDEX: i, COLUMN_NAME: column, SUB_PART: subPart ?? null, INDEX_TYPE: type ?? 'BTREE' })));
  const defs = stats([
    ['events', 'PRIMARY', 0, 'id'],
    ['events', 'PRIMARY', 0, 'day'],
    ['events', 'by_id', 1, 'id'], // prefix of PRIMARY
    ['events', 'name_time', 1, 'site_id'],
    ['events', 'name_time', 1, 'event_name'],
    ['events', 'name_time', 1, 'ts'],
    ['events', 'site', 1, 'site_id'], // prefix of name_time
    ['events', 'site_b', 1, 'site_id'], // duplicate of site: exactly one of the pair is named
    ['events', 'uniq_site', 0, 'site_id'], // unique: not redundant to non-unique ones
    ['events', 'path10', 1, 'path', 10],
    ['events', 'path', 1, 'path'], // a full column is not covered by a 10-byte prefix…
    ['events', 'ft', 1, 'site_id', null, 'FULLTEXT'], // …and other index types are never compared
  ]);
  it('names prefixes and one of each duplicate pair; keeps PRIMARY, unique, longer and other-type indexes', () => {
    const r = redundantIndexes(defs).map((x) => `${x.index}<${x.coveredBy}:${x.kind}`).sort();
    expect(r).toEqual(['by_id<PRIMARY:prefix', 'path10<path:prefix', 'site<name_time:prefix', 'site_b<name_time:prefix']);
  });
  it('unused: secondary indexes without reads; PRIMARY never', () => {
    const used = new Set(['h.events.name_time', 'h.events.PRIMARY']);
    expect(unusedIndexes(defs, used).map((x) => x.index)).toEqual(['by_id', 'site', 'site_b', 'uniq_site', 'path10', 'path', 'ft']);
  });
});

describe('growth', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('a least-squares line over the daily samples: rate, forecast, days to the limit', () => {
    const total = Array.from({ length: 10 }, (_, i) => ({ at: now - (9 - i) * DAY, bytes: 1e9 + i * 1e8 + (i % 2 ? 1e6 : -1e6) }));
    expect(bytesPerDay(total)).toBeCloseTo(1e8, -6);
    const g = growthFacts({ total, tables: new Map([['h.pageviews', total]]), now, forecastDays: 30, diskLimitBytes: 3e9 });
    expect(g.bytesPerDay).toBeCloseTo(1e8, -6);
    expect(g.forecastBytes! / 1e9).toBeCloseTo(4.9, 1);
    expect(g.daysUntilLimit!).toBeCloseTo(11, 0);
    expect(g.tables[0]).toMatchObject({ schema: 'h', table: 'pageviews' });
  });
  it('no rate from samples less than a day apart, and none from history older than the window', () => {
    const g = growthFacts({ total: [{ at: now - 3600_000, bytes: 1 }, { at: now, bytes: 2e9 }], tables: new Map(), now, forecastDays: 30, diskLimitBytes: 1e9 });
    expect(g.bytesPerDay).toBeNull();
    expect(g.daysUntilLimit).toBe(0);
    expect(g.notes.join()).toMatch(/at least a day apart/);
    expect(growthFacts({ total: [{ at: now - 40 * DAY, bytes: 1 }, { at: now, bytes: 2 }], tables: new Map(), now, forecastDays: 30, diskLimitBytes: null }).bytesPerDay).toBeNull();
  });
});

describe('daily partitions and alert rules', () => {
  const p = (partition: string, bound: string, rows = 0): PartitionSize => ({ schema: 'horizn', table: 'pageviews', partition, bound, rows, dataBytes: 16384, indexBytes: 16384 });
  it('days ahead count from the highest bound; the MAXVALUE partition is the catch-all', () => {
    const t = datePartitionedTables([p('p20261205', "'2026-12-06'"), p('p20261206', "'2026-12-07'"), p('p20261208', "'2026-12-09'"), p('pmax', 'MAXVALUE', 12)], '2026-12-06');
    expect(t).toEqual([{ schema: 'horizn', table: 'pageviews', dailyPartitions: 3, coveredThrough: '2026-12-08', daysAhead: 2, catchAll: { partition: 'pmax', rows: 12, dataBytes: 16384, indexBytes: 16384 } }]);
    expect(datePartitionedTables([p('p1', 'MAXVALUE')], '2026-12-06')).toEqual([]);
  });

  const rules: AlertRules = { partitionDaysAhead: 3, catchAllRows: 0, connectionsPercent: 80, errorLogAlerts: true, forecastDays: 30, diskLimitBytes: 1e9 };
  const report = (over: Partial<DbReport> = {}): Omit<DbReport, 'alerts'> => ({
    takenAt: '2026-12-06T12:00:00Z',
    source: { flavor: 'mariadb', version: '10.11.19', serverUuid: 'mariadb-1-abc', hostname: 'db', uptimeSeconds: 10, performanceSchema: true, account: 'm@%' },
    databases: ['horizn'],
    statements: { available: false, reason: 'x' },
    indexes: { unused: { available: false, reason: 'x' }, redundant: [], fullScans: { available: false, reason: 'x' } },
    storage: {
      available: true,
      totalBytes: 9e8,
      tables: [],
      partitions: [],
      datePartitioned: [{ schema: 'horizn', table: 'pageviews', dailyPartitions: 3, coveredThrough: '2026-12-08', daysAhead: 2, catchAll: { partition: 'pmax', rows: 12, dataBytes: 1, indexBytes: 1 } }],
      growth: { samples: 5, firstSampleAt: null, bytesPerDay: 1e7, windowDays: 30, forecastDays: 30, forecastBytes: 1.2e9, diskLimitBytes: 1e9, daysUntilLimit: 10, notes: [], tables: [] },
      recorded: false,
    },
    connections: { available: true, current: 130, running: 3, max: 151, maxUsed: 140, maxUsedAt: null, currentPercent: 86.1, peakPercent: 92.7, abortedClients: 0, abortedConnects: 0, attempts: 1000, byUser: { available: false, reason: 'x' } },
    errors: { available: true, source: 'file', since: { lookedAt: '2026-12-06T11:55:00Z' }, firstLook: false, counts: { error: 1, warning: 0, note: 0, system: 0 }, entries: [{ at: '2026-12-06 11:58:00', level: 'error', message: 'boom' }], notes: [] },
    ...over,
  });
  it('each rule fires on its threshold, with a stable key', () => {
    expect(dbAlerts(report(), rules).map((a) => a.key)).toEqual(['db:partition-window:horizn.pageviews', 'db:catch-all:horizn.pageviews', 'db:disk-forecast', 'db:connections', 'db:error-log']);
  });
  it('thresholds turn rules off; error entries count only after a recorded look', () => {
    const off: AlertRules = { partitionDaysAhead: 0, catchAllRows: -1, connectionsPercent: 0, errorLogAlerts: false, forecastDays: 5, diskLimitBytes: 1e9 };
    expect(dbAlerts(report(), off)).toEqual([]);
    const tail = report({ errors: { available: true, source: 'file', since: null, firstLook: false, counts: { error: 3, warning: 0, note: 0, system: 0 }, entries: [], notes: [] } });
    expect(dbAlerts(tail, rules).map((a) => a.key)).not.toContain('db:error-log');
  });
});

describe('the monitor role on MySQL 8 (its documented SHOW GRANTS format)', () => {
  it('PROCESS and SHOW VIEW globally, SELECT on performance_schema: found exact', () => {
    const needs = roleNeeds('monitor', { flavor: 'mysql', major: 8, minor: 4, patch: 2 }, { database: 'horizn' });
    const held = parseGrants(['GRANT PROCESS, SHOW VIEW ON *.* TO `dbops_monitor`@`%`', 'GRANT SELECT ON `performance_schema`.* TO `dbops_monitor`@`%`']);
    expect(missingGrants(held, needs)).toEqual([]);
    expect(excessGrants(held, needs)).toEqual([]);
    expect(missingGrants(parseGrants(['GRANT PROCESS ON *.* TO `m`@`%`']), needs)).toEqual(['SHOW VIEW ON *.*', 'SELECT ON `performance_schema`.*']);
    expect(needs.notes.join()).toMatch(/performance_schema\.error_log/);
  });
});
