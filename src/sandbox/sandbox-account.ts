// A sandbox started on a prepared datadir (a physical restore) keeps the source's accounts,
// whose passwords we do not know: the server creates one account of ours at start, from an
// --init-file (both drivers), outside the binlog. pitr --datadir drops it again before
// handing the datadir over.
/** The account a sandbox on a prepared datadir gets: the datadir's own accounts are not ours to change. */
export const SANDBOX_ACCOUNT = 'dbops_sandbox';

/** --init-file statements creating SANDBOX_ACCOUNT at `hosts` (outside the binlog); `password` is hex. */
export function sandboxAccountSql(password: string, hosts: readonly string[]): string {
  if (!/^[0-9a-f]+$/.test(password)) throw new Error('sandbox password must be hex');
  const lines = ['SET SESSION sql_log_bin = 0;'];
  for (const host of hosts) {
    const who = `'${SANDBOX_ACCOUNT}'@'${host}'`;
    lines.push(`DROP USER IF EXISTS ${who};`, `CREATE USER ${who} IDENTIFIED BY '${password}';`, `GRANT ALL PRIVILEGES ON *.* TO ${who} WITH GRANT OPTION;`);
  }
  return `${lines.join('\n')}\n`;
}
