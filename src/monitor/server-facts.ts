// What the monitoring sections need to know about the server before they ask it anything:
// which features are on (performance_schema, userstat, the slow log's destination), where its
// error log is, its limits and counters. SHOW GLOBAL VARIABLES/STATUS return only the names that
// exist, so one statement each serves MySQL and MariaDB, and neither needs a privilege.
import type { MysqlClient } from '../mysql/client.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';

const VARIABLES = ['performance_schema', 'userstat', 'log_output', 'slow_query_log', 'log_error', 'datadir', 'max_connections', 'hostname'] as const;
const STATUS = ['Uptime', 'Threads_connected', 'Threads_running', 'Max_used_connections', 'Max_used_connections_time', 'Aborted_clients', 'Aborted_connects', 'Connections'] as const;

export interface ServerFacts {
  info: ServerInfo;
  account: string;
  variables: Partial<Record<(typeof VARIABLES)[number], string>>;
  status: Partial<Record<(typeof STATUS)[number], string>>;
  performanceSchema: boolean;
  userstat: boolean;
  /** The server's UTC date, the day daily partitions are named after. */
  today: string;
}

const on = (v: string | undefined): boolean => /^(on|1|yes|true)$/i.test(v ?? '');

export async function readServerFacts(db: MysqlClient): Promise<ServerFacts> {
  const info = await readServerInfo(db);
  const list = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');
  const vars = await db.query<{ Variable_name: string; Value: string | null }>(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list(VARIABLES)})`);
  const status = await db.query<{ Variable_name: string; Value: string | null }>(`SHOW GLOBAL STATUS WHERE Variable_name IN (${list(STATUS)})`);
  const row = (await db.query<{ account: string; today: string }>("SELECT CURRENT_USER() AS account, DATE_FORMAT(UTC_DATE(), '%Y-%m-%d') AS today"))[0]!;
  const variables = Object.fromEntries(vars.map((r) => [r.Variable_name.toLowerCase(), r.Value ?? ''])) as ServerFacts['variables'];
  return {
    info,
    account: row.account,
    variables,
    status: Object.fromEntries(status.map((r) => [r.Variable_name, r.Value ?? ''])) as ServerFacts['status'],
    performanceSchema: on(variables.performance_schema),
    userstat: on(variables.userstat),
    today: row.today,
  };
}

export function statusNumber(f: ServerFacts, name: keyof ServerFacts['status']): number {
  const v = Number(f.status[name]);
  return Number.isFinite(v) ? v : 0;
}
