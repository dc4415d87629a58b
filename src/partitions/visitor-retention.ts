// Retention of the visitor tables that are not partitioned by day: sessions (they hold ip_hash and
// user_hash; deleted once they started before the window, like the pageviews they describe) and
// realtime_visitors (presence, deleted once not seen for its window). Deletes go in small batches
// along an index, so a large backlog never holds long locks against the tracking path.
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

export interface RowRetentionPolicy {
  table: 'sessions' | 'realtime_visitors';
  /** The time column compared with the cutoff. */
  column: 'started_at' | 'last_seen_at';
  /** Rows with column < cutoff ('YYYY-MM-DD HH:MM:SS.mmm', UTC) are past retention. */
  cutoff: string;
  /** The window as configured, for the record (e.g. "400d", "1h"). */
  window: string;
}

export interface RowRetentionDue extends RowRetentionPolicy {
  /** Rows past retention now. */
  rows: number;
  /** The oldest of them. */
  oldest: string | null;
}

const BATCH = 5000;

/** 'YYYY-MM-DD HH:MM:SS.mmm' of a Date, UTC: how DATETIME(3) columns hold UTC times here. */
export function sqlTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

async function siteIds(conn: Connection): Promise<number[]> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT id FROM sites ORDER BY id');
  return rows.map((r) => Number(r.id));
}

/** How many rows a policy would delete now, and the oldest of them. Read-only. */
export async function rowsDue(conn: Connection, p: RowRetentionPolicy): Promise<RowRetentionDue> {
  const count = async (sql: string, params: unknown[]): Promise<{ n: number; oldest: string | null }> => {
    const [rows] = await conn.query<RowDataPacket[]>(sql, params);
    return { n: Number(rows[0]?.n ?? 0), oldest: (rows[0]?.oldest as string | null) ?? null };
  };
  const parts: Array<{ n: number; oldest: string | null }> = [];
  // sessions site by site: (site_id, started_at) is its index; realtime_visitors has one on last_seen_at.
  if (p.table === 'sessions') {
    for (const site of await siteIds(conn)) {
      parts.push(await count(`SELECT COUNT(*) AS n, DATE_FORMAT(MIN(started_at), '%Y-%m-%d %H:%i:%s.%f') AS oldest FROM sessions WHERE site_id = ? AND started_at < ?`, [site, p.cutoff]));
    }
  } else {
    parts.push(await count(`SELECT COUNT(*) AS n, DATE_FORMAT(MIN(last_seen_at), '%Y-%m-%d %H:%i:%s.%f') AS oldest FROM realtime_visitors WHERE last_seen_at < ?`, [p.cutoff]));
  }
  const oldest = parts.map((x) => x.oldest).filter((x): x is string => x !== null).sort()[0];
  return { ...p, rows: parts.reduce((a, x) => a + x.n, 0), oldest: oldest ? oldest.slice(0, 23) : null };
}

/** Deletes every row past retention; returns how many went. */
export async function deleteExpiredRows(conn: Connection, p: RowRetentionPolicy): Promise<number> {
  let deleted = 0;
  const run = async (sql: string, params: unknown[]): Promise<void> => {
    for (;;) {
      const [res] = await conn.query<ResultSetHeader>(sql, params);
      deleted += res.affectedRows;
      if (res.affectedRows < BATCH) return;
    }
  };
  if (p.table === 'sessions') {
    for (const site of await siteIds(conn)) await run(`DELETE FROM sessions WHERE site_id = ? AND started_at < ? LIMIT ${BATCH}`, [site, p.cutoff]);
  } else {
    await run(`DELETE FROM realtime_visitors WHERE last_seen_at < ? LIMIT ${BATCH}`, [p.cutoff]);
  }
  return deleted;
}
