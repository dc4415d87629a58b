// Rebuilds daily_stats, page_stats and referrer_stats for a day range from the raw rows with
// INSERT … SELECT … GROUP BY, so the aggregates are consistent with pageviews/sessions/events by
// construction. Used by the seed; a nightly rollup job can call it for yesterday.
import type { Connection } from 'mysql2/promise';
import { addDays } from '../migrate/partitions.js';

/** Replaces the aggregates of days [from, to] (inclusive, 'YYYY-MM-DD', UTC) in one transaction,
 *  so readers never see the range half rebuilt. */
export async function rebuildAggregates(conn: Connection, from: string, to: string): Promise<void> {
  await conn.beginTransaction();
  try {
    await rebuild(conn, from, to);
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
}

async function rebuild(conn: Connection, from: string, to: string): Promise<void> {
  const endExclusive = `${addDays(to, 1)} 00:00:00`;
  const start = `${from} 00:00:00`;
  for (const t of ['daily_stats', 'page_stats', 'referrer_stats']) {
    await conn.query(`DELETE FROM ${t} WHERE day BETWEEN ? AND ?`, [from, to]);
  }
  // Pageviews and events count on their own day; sessions, visitors and bounces on the day they started.
  await conn.query(
    `INSERT INTO daily_stats (site_id, day, pageviews, visitors, sessions, bounces, total_duration_s, events)
     SELECT k.site_id, k.day, COALESCE(p.n, 0), COALESCE(s.visitors, 0), COALESCE(s.n, 0),
            COALESCE(s.bounces, 0), COALESCE(s.duration, 0), COALESCE(e.n, 0)
       FROM (SELECT site_id, day FROM pageviews WHERE day BETWEEN ? AND ? GROUP BY site_id, day
             UNION
             SELECT site_id, CAST(started_at AS DATE) FROM sessions WHERE started_at >= ? AND started_at < ?
              GROUP BY site_id, CAST(started_at AS DATE)
             UNION
             SELECT site_id, day FROM events WHERE day BETWEEN ? AND ? GROUP BY site_id, day) AS k
       LEFT JOIN (SELECT site_id, day, COUNT(*) AS n FROM pageviews WHERE day BETWEEN ? AND ?
                   GROUP BY site_id, day) AS p ON p.site_id = k.site_id AND p.day = k.day
       LEFT JOIN (SELECT site_id, CAST(started_at AS DATE) AS day, COUNT(*) AS n,
                         COUNT(DISTINCT user_hash) AS visitors, SUM(pageview_count = 1) AS bounces,
                         SUM(duration_s) AS duration
                    FROM sessions WHERE started_at >= ? AND started_at < ?
                   GROUP BY site_id, CAST(started_at AS DATE)) AS s ON s.site_id = k.site_id AND s.day = k.day
       LEFT JOIN (SELECT site_id, day, COUNT(*) AS n FROM events WHERE day BETWEEN ? AND ?
                   GROUP BY site_id, day) AS e ON e.site_id = k.site_id AND e.day = k.day`,
    [from, to, start, endExclusive, from, to, from, to, start, endExclusive, from, to],
  );
  await conn.query(
    `INSERT INTO page_stats (site_id, day, page_path, pageviews, visitors, entries, total_time_on_page_ms)
     SELECT p.site_id, p.day, p.page_path, COUNT(*), COUNT(DISTINCT s.user_hash), SUM(p.is_entry),
            COALESCE(SUM(p.time_on_page_ms), 0)
       FROM pageviews AS p LEFT JOIN sessions AS s ON s.id = p.session_id
      WHERE p.day BETWEEN ? AND ?
      GROUP BY p.site_id, p.day, p.page_path`,
    [from, to],
  );
  await conn.query(
    `INSERT INTO referrer_stats (site_id, day, referrer_host, sessions, visitors, pageviews, bounces)
     SELECT site_id, CAST(started_at AS DATE), referrer_host, COUNT(*), COUNT(DISTINCT user_hash),
            SUM(pageview_count), SUM(pageview_count = 1)
       FROM sessions WHERE started_at >= ? AND started_at < ?
      GROUP BY site_id, CAST(started_at AS DATE), referrer_host`,
    [start, endExclusive],
  );
}
