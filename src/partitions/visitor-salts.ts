// The daily salts that key ip_hash and user_hash (db/migrations/0004_visitor_privacy): 32 bytes from
// the CSPRNG for today and tomorrow (so the tracking path finds one right after midnight), and every
// salt older than yesterday deleted. Once a day's salt is gone its hashes can no longer be
// recomputed, which is what makes them unlinkable across days and irreversible.
import { randomBytes } from 'node:crypto';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { addDays } from '../migrate/partitions.js';

export const SALTS_TABLE = 'visitor_salts';

export async function hasSaltsTable(conn: Connection): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [SALTS_TABLE]);
  return rows.length > 0;
}

/** Days whose salt is past keeping (before yesterday), oldest first. */
export async function expiredSaltDays(conn: Connection, today: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT DATE_FORMAT(day, '%Y-%m-%d') AS d FROM ${SALTS_TABLE} WHERE day < ? ORDER BY day`, [addDays(today, -1)]);
  return rows.map((r) => String(r.d));
}

/** Creates today's and tomorrow's salts when missing (never replaces one: hashes already written
 *  with it must stay comparable within the day) and destroys those before yesterday. */
export async function rotateVisitorSalts(conn: Connection, today: string): Promise<{ created: string[]; destroyed: string[] }> {
  const created: string[] = [];
  for (const day of [today, addDays(today, 1)]) {
    const [res] = await conn.query<ResultSetHeader>(`INSERT IGNORE INTO ${SALTS_TABLE} (day, salt) VALUES (?, ?)`, [day, randomBytes(32)]);
    if (res.affectedRows > 0) created.push(day);
  }
  const destroyed = await expiredSaltDays(conn, today);
  if (destroyed.length > 0) await conn.query(`DELETE FROM ${SALTS_TABLE} WHERE day < ?`, [addDays(today, -1)]);
  return { created, destroyed };
}
