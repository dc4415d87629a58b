// Connections: now and at their peak against max_connections, aborted clients and connects
// (the server counts those only in total), and connections per user: performance_schema.accounts
// when it is on (current and since start), else the process list (current only, and every
// user's only with PROCESS).
import type { MysqlClient } from '../mysql/client.js';
import type { ConnectionFacts } from './report-types.js';
import { statusNumber, type ServerFacts } from './server-facts.js';

const pct = (part: number, whole: number): number => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);

async function byUser(db: MysqlClient, f: ServerFacts): Promise<ConnectionFacts['byUser']> {
  if (f.performanceSchema) {
    const rows = await db.query<{ user: string; cur: number | string; total: number | string }>(
      'SELECT USER AS user, SUM(CURRENT_CONNECTIONS) AS cur, SUM(TOTAL_CONNECTIONS) AS total FROM performance_schema.accounts WHERE USER IS NOT NULL GROUP BY USER ORDER BY cur DESC, total DESC, user',
    );
    return { available: true, source: 'performance_schema', users: rows.map((r) => ({ user: r.user, current: Number(r.cur), total: Number(r.total) })) };
  }
  const rows = await db.query<{ user: string; cur: number | string }>(
    "SELECT USER AS user, COUNT(*) AS cur FROM information_schema.PROCESSLIST WHERE USER NOT IN ('system user', 'event_scheduler') GROUP BY USER ORDER BY cur DESC, user",
  );
  const process = await db.query("SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS' LIMIT 1");
  const note = process.length ? undefined : `${f.account} lacks PROCESS: only its own connections are listed (dbops doctor --print-grants, monitor role)`;
  return { available: true, source: 'processlist', users: rows.map((r) => ({ user: r.user, current: Number(r.cur), total: null })), ...(note ? { note } : {}) };
}

export async function collectConnections(db: MysqlClient, f: ServerFacts): Promise<ConnectionFacts> {
  const max = Number(f.variables.max_connections ?? 0);
  const current = statusNumber(f, 'Threads_connected');
  const maxUsed = statusNumber(f, 'Max_used_connections');
  return {
    current,
    running: statusNumber(f, 'Threads_running'),
    max,
    maxUsed,
    maxUsedAt: f.status.Max_used_connections_time || null,
    currentPercent: pct(current, max),
    peakPercent: pct(maxUsed, max),
    abortedClients: statusNumber(f, 'Aborted_clients'),
    abortedConnects: statusNumber(f, 'Aborted_connects'),
    attempts: statusNumber(f, 'Connections'),
    byUser: await byUser(db, f),
  };
}
