// The alert rules on a database report, with the thresholds of monitor.* (each can be turned off):
// daily partitions ready for fewer days ahead than partitionDaysAhead, rows in a catch-all
// partition, connections over connectionsPercent of max_connections, a growth forecast that
// reaches diskLimit within forecastDays, and new error-log entries at ERROR level. Keys are
// stable while a problem lasts (the alerter de-duplicates on them) and start with "db:".
import type { Config } from '../config/schema.js';
import { parseSize } from '../cli/commands/seed/parse-size.js';
import type { DbAlert, DbReport } from './report-types.js';

export type AlertRules = Pick<Config['monitor'], 'partitionDaysAhead' | 'catchAllRows' | 'connectionsPercent' | 'errorLogAlerts' | 'forecastDays'> & { diskLimitBytes: number | null };

export function alertRules(config: Config): AlertRules {
  const m = config.monitor;
  return { partitionDaysAhead: m.partitionDaysAhead, catchAllRows: m.catchAllRows, connectionsPercent: m.connectionsPercent, errorLogAlerts: m.errorLogAlerts, forecastDays: m.forecastDays, diskLimitBytes: m.diskLimit ? parseSize(m.diskLimit) : null };
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

export function dbAlerts(r: Omit<DbReport, 'alerts'>, rules: AlertRules): DbAlert[] {
  const out: DbAlert[] = [];
  if (r.storage.available) {
    for (const t of r.storage.datePartitioned) {
      const name = `${t.schema}.${t.table}`;
      if (rules.partitionDaysAhead > 0 && (t.daysAhead === null || t.daysAhead < rules.partitionDaysAhead)) {
        const where = t.daysAhead === null ? 'no daily partition covers any day' : t.daysAhead < 0 ? `daily partitions end ${-t.daysAhead} day(s) before today (${t.coveredThrough}): today's rows land in ${t.catchAll?.partition ?? 'no partition'}` : `daily partitions cover only ${t.daysAhead} day(s) ahead (through ${t.coveredThrough})`;
        out.push({ key: `db:partition-window:${name}`, message: `${name}: ${where}; wanted at least ${rules.partitionDaysAhead}: run "dbops partitions maintain --apply" (or check the daemon's partitions job)` });
      }
      if (rules.catchAllRows >= 0 && t.catchAll && t.catchAll.rows > rules.catchAllRows) {
        out.push({ key: `db:catch-all:${name}`, message: `${name}: about ${t.catchAll.rows} row(s) in the catch-all partition ${t.catchAll.partition} (more than ${rules.catchAllRows}): splitting it is no longer instant and retention cannot drop those rows by day; create the missing daily partitions` });
      }
    }
    const g = r.storage.growth;
    if (rules.diskLimitBytes !== null && g.daysUntilLimit !== null && g.daysUntilLimit <= rules.forecastDays) {
      out.push({
        key: 'db:disk-forecast',
        message: g.daysUntilLimit === 0
          ? `data + index (${gib(r.storage.totalBytes)}) have reached monitor.diskLimit (${gib(rules.diskLimitBytes)})`
          : `at ${gib(g.bytesPerDay ?? 0)} a day, data + index (${gib(r.storage.totalBytes)}) reach monitor.diskLimit (${gib(rules.diskLimitBytes)}) in ${g.daysUntilLimit.toFixed(1)} days`,
      });
    }
  }
  if (r.connections.available && rules.connectionsPercent > 0 && r.connections.currentPercent > rules.connectionsPercent) {
    const c = r.connections;
    out.push({ key: 'db:connections', message: `${c.current} connections of max_connections ${c.max} (${c.currentPercent}%, alert above ${rules.connectionsPercent}%)` });
  }
  // Only entries after a recorded look are news; the end of a log nobody looked at before is context.
  if (r.errors.available && rules.errorLogAlerts && r.errors.since !== null && r.errors.counts.error > 0) {
    const first = r.errors.entries.find((e) => e.level === 'error');
    out.push({ key: 'db:error-log', message: `${r.errors.counts.error} new ERROR entr${r.errors.counts.error === 1 ? 'y' : 'ies'} in the server error log${first ? `, e.g. ${first.at}: ${first.message.slice(0, 300)}` : ''}` });
  }
  return out;
}
