// User accounts and grants as SQL (SHOW CREATE USER + SHOW GRANTS), the same way on
// MySQL 8 and MariaDB 10.4+. Stored as their own part: restore applies them only when
// asked, because accounts are server-wide and a restore target has its own.
import type { MysqlClient } from '../mysql/client.js';

/** Built-in accounts that every server creates for itself. */
const SYSTEM_ACCOUNTS = new Set(['root', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'PUBLIC']);

function account(user: string, host: string): string {
  return `'${user.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'@'${host.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function dumpAccounts(db: MysqlClient): Promise<{ sql: string; count: number }> {
  const users = await db.query<{ user: string; host: string }>('SELECT User AS user, Host AS host FROM mysql.user ORDER BY User, Host');
  const lines = ['-- User accounts and grants (dbops). Apply with care: accounts are server-wide.', ''];
  let count = 0;
  for (const { user, host } of users) {
    if (SYSTEM_ACCOUNTS.has(user) || user === '') continue;
    const who = account(user, host);
    const [create] = await db.query<Record<string, string>>(`SHOW CREATE USER ${who}`, [], { sensitive: true });
    const createSql = create ? Object.values(create)[0] : undefined;
    if (!createSql) continue;
    lines.push(`${createSql.replace(/^CREATE USER /, 'CREATE USER IF NOT EXISTS ')};`);
    for (const row of await db.query<Record<string, string>>(`SHOW GRANTS FOR ${who}`)) {
      const grant = Object.values(row)[0];
      if (grant && !/^GRANT USAGE ON \*\.\* TO [^ ]+( IDENTIFIED BY PASSWORD '[^']*')?$/.test(grant)) lines.push(`${grant.replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '')};`);
    }
    count++;
  }
  return { sql: `${lines.join('\n')}\n`, count };
}
