// The exact privileges each role's account needs, per flavour and version, and nothing
// broader; what `dbops doctor --print-grants` prints and what doctor checks accounts
// against. test/doctor/role-grants.test.ts runs every command as accounts holding exactly
// these (MariaDB 10.11); the MySQL lists follow MySQL's documentation.
//
// backup (dump, ship, checksum), measured on MariaDB 10.11: the dump needs SELECT, SHOW
// VIEW (views), TRIGGER (triggers) and EVENT (events) — MariaDB takes the consistent binlog
// position from binlog_snapshot_* without FLUSH TABLES WITH READ LOCK, so no RELOAD and no
// LOCK TABLES (--single-transaction, --skip-add-locks). RELOAD is optional for backups:
// with it the largest tables are dumped in parallel (BACKUP STAGE, see
// backup/parallel-dump.ts); shipping needs it anyway. Shipping needs REPLICATION SLAVE (the
// binlog stream), BINLOG MONITOR (SHOW BINARY LOGS; REPLICATION CLIENT before MariaDB
// 10.5.2 and on MySQL) and RELOAD (FLUSH BINARY LOGS: with partial segments, the default,
// a rotation a minute so the active file's parts give way to the whole file, else they pile
// up until max_binlog_size; without them it is what bounds the lag). MySQL's
// mysqldump with --source-data and --single-transaction runs FLUSH TABLES WITH READ LOCK
// (RELOAD) and SHOW MASTER STATUS (REPLICATION CLIENT), and since 8.0.21 reads tablespaces
// (PROCESS); `checksum` on MySQL takes FLUSH TABLES WITH READ LOCK too.
//
// backup with backup.kind physical: mariadb-backup takes BACKUP STAGE locks (RELOAD), reads
// InnoDB's state (PROCESS), locks non-InnoDB tables (LOCK TABLES) and reads the binlog
// position (BINLOG MONITOR; REPLICATION CLIENT before 10.5.2), per MariaDB's mariadb-backup
// documentation, checked by test/physical/physical.test.ts; xtrabackup (MySQL 8) takes
// BACKUP_ADMIN, PROCESS, RELOAD, LOCK TABLES, REPLICATION CLIENT and reads
// performance_schema.log_status, per Percona's documentation. The dump's object privileges
// stay: the manifest's schema inventory lists only what the account may see.
//
// admin (migrate, partitions, seed): DDL and DML on the horizn_ database only. `seed
// --no-binlog` also turns off its session's binary log (BINLOG ADMIN / MySQL
// SESSION_VARIABLES_ADMIN), a global privilege an admin account should not hold (BINLOG
// ADMIN can purge the binlogs shipping still needs). The backup taken before a migration
// uses the backup account.
//
// restore (the target of restore and pitr): the objects of any database (the target is a
// server to recover into), sql_log_bin=0 for the session (BINLOG ADMIN; MySQL
// SESSION_VARIABLES_ADMIN), BINLOG statements and their session variables in a binlog
// replay (BINLOG REPLAY; MySQL REPLICATION_APPLIER), and DEFINER clauses naming other
// accounts (SET USER; MySQL SET_USER_ID, SET_ANY_DEFINER from 8.2). `restore --accounts`
// also creates users and grants what they hold: that takes CREATE USER and every granted
// privilege WITH GRANT OPTION, which no least-privilege account has.
//
// monitor (db report, the daemon's monitor job), measured on MariaDB 10.11: reads no rows of
// any table. SELECT on performance_schema (statement digests, index usage, connections per
// account; MySQL 8's error_log); SHOW VIEW ON *.*, because information_schema lists a table
// (sizes, partitions, indexes) only to an account with some privilege on it, and SHOW VIEW
// is one that reads no data; PROCESS, for every connection in the process list when
// performance_schema is off (MariaDB's default). MariaDB's INDEX_STATISTICS (userstat)
// shows only tables the account may SELECT from, so without performance_schema unused
// indexes are found only for those.
import type { Role } from '../config/connections.js';
import { versionAtLeast } from '../mysql/flavor.js';
import type { ServerInfo } from '../mysql/server-info.js';

type Version = Pick<ServerInfo, 'flavor' | 'major' | 'minor' | 'patch'>;

export interface RequiredPrivileges {
  backup: string[];
  shipping: string[];
}

export function requiredPrivileges(info: Version): RequiredPrivileges {
  const objects = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'];
  if (info.flavor === 'mariadb') {
    const monitor = versionAtLeast(info, 10, 5, 2) ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
    return { backup: objects, shipping: ['RELOAD', monitor, 'REPLICATION SLAVE'] };
  }
  const backup = [...objects, 'RELOAD', 'REPLICATION CLIENT'];
  if (versionAtLeast(info, 8, 0, 21)) backup.push('PROCESS');
  return { backup, shipping: ['RELOAD', 'REPLICATION CLIENT', 'REPLICATION SLAVE'] };
}

/** Creating, changing and filling the objects of a database (tables, views, routines, triggers, events). */
const OBJECT_DDL = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'INDEX', 'REFERENCES', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EXECUTE'];

/** Privileges of one role, on `*.*` (global) or on one database. */
export interface RoleGrant {
  privileges: string[];
  /** undefined: ON *.* */
  database?: string;
}

export interface RoleNeeds {
  role: Role;
  /** What the account is for, for messages and the printed comment. */
  purpose: string;
  grants: RoleGrant[];
  /** Said beside the printed grants. */
  notes: string[];
}

export interface RoleOptions {
  /** The admin role's database (horizn_'s). */
  database: string;
  /** The backup account also ships binlogs (default true). */
  shipping?: boolean;
  /** The backup account takes physical backups (backup.kind physical). */
  physical?: boolean;
}

/** What the physical backup tool needs beyond the logical backup's privileges. */
function physicalGrants(info: Version): RoleGrant[] {
  if (info.flavor === 'mariadb') return [{ privileges: ['RELOAD', 'PROCESS', 'LOCK TABLES', versionAtLeast(info, 10, 5, 2) ? 'BINLOG MONITOR' : 'REPLICATION CLIENT'] }];
  return [{ privileges: ['BACKUP_ADMIN', 'PROCESS', 'RELOAD', 'LOCK TABLES', 'REPLICATION CLIENT'] }, { privileges: ['SELECT'], database: 'performance_schema' }];
}

/** The scratch databases `migrate verify` creates and drops (a GRANT pattern: `_` escaped, `%` any). */
export const SHADOW_DATABASES = 'dbops\\_shadow\\_%';

export function roleNeeds(role: Role, info: Version, opts: RoleOptions): RoleNeeds {
  if (role === 'monitor') {
    return {
      role,
      purpose: 'db report and the monitor job (read only)',
      grants: [{ privileges: ['PROCESS', 'SHOW VIEW'] }, { privileges: ['SELECT'], database: 'performance_schema' }],
      notes: [
        'with performance_schema off and log_output=TABLE, statements come from the slow log: also GRANT SELECT ON mysql.slow_log',
        info.flavor === 'mariadb' ? 'the error log is read as the file @@log_error names: run dbops where that file is readable' : 'the error log is read from performance_schema.error_log (MySQL 8.0.22+)',
      ],
    };
  }
  if (role === 'backup') {
    const need = requiredPrivileges(info);
    const privileges = opts.shipping === false ? need.backup : [...need.backup, ...need.shipping.filter((p) => !need.backup.includes(p))];
    if (!opts.physical) return { role, purpose: 'backup, binlog ship, checksum', grants: [{ privileges }], notes: [] };
    const [global, ...others] = physicalGrants(info);
    return {
      role,
      purpose: 'physical and logical backups, binlog ship, checksum',
      grants: [{ privileges: [...privileges, ...global!.privileges.filter((p) => !privileges.includes(p))] }, ...others],
      notes: ['a physical backup also reads the datadir: run dbops as an OS user that may read it (e.g. in the mysql group), on the database host or with the datadir mounted read-only'],
    };
  }
  if (role === 'admin') {
    const binlogOff = info.flavor === 'mariadb' ? 'BINLOG ADMIN' : 'SESSION_VARIABLES_ADMIN';
    return {
      role,
      purpose: `migrate, partitions, seed on ${opts.database}`,
      // migrate verify builds the schema the migrations make in a scratch database to compare (src/migrate/schema-drift.ts).
      grants: [{ privileges: OBJECT_DDL, database: opts.database }, { privileges: OBJECT_DDL, database: SHADOW_DATABASES }],
      notes: [`seed --no-binlog also needs ${binlogOff} ON *.*; this account seeds with the binlog on`],
    };
  }
  const global = [...OBJECT_DDL];
  if (info.flavor === 'mariadb') {
    if (versionAtLeast(info, 10, 5, 2)) global.push('BINLOG ADMIN', 'BINLOG REPLAY', 'SET USER');
    else global.push('SUPER');
  } else if (versionAtLeast(info, 8, 0, 18)) {
    global.push('SESSION_VARIABLES_ADMIN', 'REPLICATION_APPLIER', versionAtLeast(info, 8, 2, 0) ? 'SET_ANY_DEFINER' : 'SET_USER_ID');
  } else {
    global.push('SUPER');
  }
  return {
    role,
    purpose: 'the target of restore and pitr',
    grants: [{ privileges: global }],
    notes: ['restore --accounts also needs CREATE USER and every privilege it grants WITH GRANT OPTION: use an administrator for that'],
  };
}

/** What SHOW GRANTS says an account holds. */
export interface HeldGrants {
  global: Set<string>;
  databases: Map<string, Set<string>>;
  grantOption: boolean;
}

/** Splits "SELECT, INSERT (a, b), ALL PRIVILEGES" on the commas outside parentheses. */
function splitPrivileges(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.replace(/\(.*\)/, '').trim().toUpperCase().replace(/\s+/g, ' ')).filter(Boolean);
}

/** `horizn`.* / `horiz\_n`.* → horizn / horiz_n; undefined for table-level and other forms. */
/** A GRANT's database as SHOW GRANTS names it once parsed: `\_` and `\%` unescaped. */
function unescapeDatabase(db: string): string {
  return db.replace(/\\([_%])/g, '$1');
}

function databaseOf(on: string): string | undefined {
  const m = /^`((?:[^`]|``)+)`\.\*$/.exec(on) ?? /^([A-Za-z0-9_$\\]+)\.\*$/.exec(on);
  return m ? unescapeDatabase(m[1]!.replace(/``/g, '`')) : undefined;
}

export function parseGrants(lines: readonly string[]): HeldGrants {
  const held: HeldGrants = { global: new Set(), databases: new Map(), grantOption: false };
  for (const line of lines) {
    const m = /^GRANT (.+?) ON (\S+) TO .*?( WITH GRANT OPTION)?$/i.exec(line.trim().replace(/;$/, ''));
    if (!m) continue;
    const privileges = splitPrivileges(m[1]!).map((p) => (p === 'ALL' ? 'ALL PRIVILEGES' : p));
    if (m[3]) held.grantOption = true;
    if (m[2] === '*.*') for (const p of privileges) held.global.add(p);
    else {
      const db = databaseOf(m[2]!);
      if (db === undefined) continue;
      const set = held.databases.get(db) ?? new Set<string>();
      for (const p of privileges) set.add(p);
      held.databases.set(db, set);
    }
  }
  return held;
}

/** Older or broader names that include a privilege (MariaDB split SUPER in 10.5.2; REPLICATION CLIENT is BINLOG MONITOR's old name). */
const IMPLIED_BY: Record<string, string[]> = {
  'BINLOG MONITOR': ['REPLICATION CLIENT', 'SUPER'],
  'REPLICATION CLIENT': ['BINLOG MONITOR'],
  'BINLOG ADMIN': ['SUPER'],
  'BINLOG REPLAY': ['SUPER'],
  'SET USER': ['SUPER'],
  SESSION_VARIABLES_ADMIN: ['SYSTEM_VARIABLES_ADMIN', 'SUPER'],
  REPLICATION_APPLIER: ['BINLOG_ADMIN', 'SUPER'],
  SET_USER_ID: ['SUPER'],
  SET_ANY_DEFINER: ['SET_USER_ID', 'SUPER'],
};

function has(set: Set<string> | undefined, privilege: string): boolean {
  if (!set) return false;
  return set.has('ALL PRIVILEGES') || set.has(privilege) || (IMPLIED_BY[privilege] ?? []).some((p) => set.has(p));
}

/** Required privileges the account lacks, as "PRIV ON scope". */
export function missingGrants(held: HeldGrants, needs: RoleNeeds): string[] {
  const out: string[] = [];
  for (const g of needs.grants) {
    const lacking = g.privileges.filter((p) => !has(held.global, p) && (g.database === undefined || !has(held.databases.get(unescapeDatabase(g.database)), p)));
    if (lacking.length) out.push(`${lacking.join(', ')} ON ${g.database === undefined ? '*.*' : `\`${g.database}\`.*`}`);
  }
  return out;
}

/** What the account holds beyond its role (broad grants first): a leaked password gives all of it. */
export function excessGrants(held: HeldGrants, needs: RoleNeeds): string[] {
  const globalNeeded = new Set(needs.grants.filter((g) => g.database === undefined).flatMap((g) => g.privileges));
  const out: string[] = [];
  const extraGlobal = [...held.global].filter((p) => p !== 'USAGE' && !globalNeeded.has(p));
  const broad: string[] = extraGlobal.filter((p) => p === 'ALL PRIVILEGES' || p === 'SUPER');
  if (broad.length) out.push(`${broad.join(', ')} ON *.*`);
  const rest = extraGlobal.filter((p) => !broad.includes(p));
  if (rest.length) out.push(`${rest.join(', ')} ON *.*`);
  for (const [db, privileges] of held.databases) {
    const needed = new Set(needs.grants.filter((g) => g.database !== undefined && unescapeDatabase(g.database) === db).flatMap((g) => g.privileges));
    const extra = [...privileges].filter((p) => p !== 'USAGE' && !needed.has(p) && !globalNeeded.has(p));
    if (extra.length) out.push(`${extra.join(', ')} ON \`${db}\`.*`);
  }
  if (held.grantOption) out.push('GRANT OPTION');
  return out;
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function account(user: string): string {
  const at = user.lastIndexOf('@');
  return at >= 0 ? `${quote(user.slice(0, at))}@${quote(user.slice(at + 1))}` : `${quote(user)}@'%'`;
}

/** `GRANT … TO 'user'@'host';` lines for `user` ("name" or CURRENT_USER()'s "name@host"). */
export function grantStatements(needs: RoleNeeds, user: string): string[] {
  return needs.grants.map((g) => `GRANT ${g.privileges.join(', ')} ON ${g.database === undefined ? '*.*' : `\`${g.database.replace(/`/g, '``')}\`.*`} TO ${account(user)};`);
}

/** CREATE USER (password a placeholder, TLS required when the account uses it) followed by its GRANTs. */
export function createUserStatements(needs: RoleNeeds, user: string, require: 'NONE' | 'SSL' | 'X509'): string[] {
  const tls = require === 'NONE' ? '' : ` REQUIRE ${require}`;
  return [`CREATE USER IF NOT EXISTS ${account(user)} IDENTIFIED BY 'change-me'${tls};`, ...grantStatements(needs, user)];
}
