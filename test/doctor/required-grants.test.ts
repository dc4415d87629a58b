// Role privileges per flavour and version, and SHOW GRANTS read back, on recorded outputs
// (MySQL has no server here: its lines are MySQL 8.0/8.4's documented SHOW GRANTS format).
import { describe, it, expect } from 'vitest';
import { createUserStatements, excessGrants, missingGrants, parseGrants, roleNeeds } from '../../src/doctor/required-grants.js';

const mariadb = { flavor: 'mariadb' as const, major: 10, minor: 11, patch: 9 };
const mariadb104 = { flavor: 'mariadb' as const, major: 10, minor: 4, patch: 30 };
const mysql80 = { flavor: 'mysql' as const, major: 8, minor: 0, patch: 36 };
const mysql84 = { flavor: 'mysql' as const, major: 8, minor: 4, patch: 2 };
const mysql57 = { flavor: 'mysql' as const, major: 5, minor: 7, patch: 44 };

describe('roleNeeds', () => {
  it('backup: dump and shipping privileges, per flavour', () => {
    expect(roleNeeds('backup', mariadb, { database: 'x' }).grants).toEqual([{ privileges: ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'RELOAD', 'BINLOG MONITOR', 'REPLICATION SLAVE'] }]);
    expect(roleNeeds('backup', mariadb104, { database: 'x' }).grants[0]!.privileges).toContain('REPLICATION CLIENT');
    expect(roleNeeds('backup', mysql84, { database: 'x' }).grants).toEqual([{ privileges: ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'RELOAD', 'REPLICATION CLIENT', 'PROCESS', 'REPLICATION SLAVE'] }]);
    expect(roleNeeds('backup', mariadb, { database: 'x', shipping: false }).grants[0]!.privileges).toEqual(['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT']);
  });

  it('backup with physical backups: the tool\'s locks and status reads on top, per flavour (MySQL: xtrabackup\'s documented list)', () => {
    expect(roleNeeds('backup', mariadb, { database: 'x', physical: true }).grants).toEqual([{ privileges: ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'RELOAD', 'BINLOG MONITOR', 'REPLICATION SLAVE', 'PROCESS', 'LOCK TABLES'] }]);
    expect(roleNeeds('backup', mariadb104, { database: 'x', physical: true }).grants[0]!.privileges).toEqual(expect.arrayContaining(['REPLICATION CLIENT', 'PROCESS', 'LOCK TABLES']));
    expect(roleNeeds('backup', mariadb104, { database: 'x', physical: true }).grants[0]!.privileges).not.toContain('BINLOG MONITOR');
    const mysql = roleNeeds('backup', mysql84, { database: 'x', physical: true });
    expect(mysql.grants[0]!.privileges).toEqual(expect.arrayContaining(['BACKUP_ADMIN', 'PROCESS', 'RELOAD', 'LOCK TABLES', 'REPLICATION CLIENT']));
    expect(mysql.grants[1]).toEqual({ privileges: ['SELECT'], database: 'performance_schema' });
    expect(mysql.notes.join(' ')).toMatch(/reads the datadir/);
  });

  it('admin: objects of one database (and of migrate verify\'s scratch databases) only, nothing global', () => {
    const needs = roleNeeds('admin', mysql84, { database: 'horizn' });
    expect(needs.grants.map((g) => g.database)).toEqual(['horizn', 'dbops\\_shadow\\_%']);
    expect(needs.grants[0]!.privileges).toEqual(expect.arrayContaining(['CREATE', 'ALTER', 'DROP', 'INDEX', 'INSERT', 'SELECT']));
  });

  it('restore: MySQL dynamic privileges by version, MariaDB split SUPER from 10.5.2', () => {
    const extra = (info: typeof mariadb | typeof mysql80): string[] => roleNeeds('restore', info, { database: 'x' }).grants[0]!.privileges.slice(18);
    expect(extra(mariadb)).toEqual(['BINLOG ADMIN', 'BINLOG REPLAY', 'SET USER']);
    expect(extra(mariadb104)).toEqual(['SUPER']);
    expect(extra(mysql80)).toEqual(['SESSION_VARIABLES_ADMIN', 'REPLICATION_APPLIER', 'SET_USER_ID']);
    expect(extra(mysql84)).toEqual(['SESSION_VARIABLES_ADMIN', 'REPLICATION_APPLIER', 'SET_ANY_DEFINER']);
    expect(extra(mysql57)).toEqual(['SUPER']);
  });
});

describe('parseGrants, missingGrants, excessGrants', () => {
  it('reads MySQL 8 SHOW GRANTS (static and dynamic lines) and finds the account exact', () => {
    const lines = [
      'GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER ON *.* TO `dbops_restore`@`%`',
      'GRANT REPLICATION_APPLIER,SESSION_VARIABLES_ADMIN,SET_ANY_DEFINER ON *.* TO `dbops_restore`@`%`',
    ];
    const needs = roleNeeds('restore', mysql84, { database: 'x' });
    const held = parseGrants(lines);
    expect(missingGrants(held, needs)).toEqual([]);
    expect(excessGrants(held, needs)).toEqual([]);
  });

  it('database grants: escaped names, column lists, and what lies outside the database', () => {
    const held = parseGrants([
      "GRANT USAGE ON *.* TO 'dbops_admin'@'%'",
      "GRANT SELECT, INSERT, UPDATE (a, b), DELETE ON `horiz\\_n`.* TO 'dbops_admin'@'%'",
      "GRANT ALL PRIVILEGES ON `other`.* TO 'dbops_admin'@'%' WITH GRANT OPTION",
    ]);
    expect([...held.databases.get('horiz_n')!]).toEqual(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
    const needs = roleNeeds('admin', mariadb, { database: 'horiz_n' });
    expect(missingGrants(held, needs)[0]).toMatch(/^CREATE, DROP, ALTER, .* ON `horiz_n`\.\*$/);
    expect(excessGrants(held, needs)).toEqual(['ALL PRIVILEGES ON `other`.*', 'GRANT OPTION']);
  });

  it('ALL and SUPER cover what they imply for "missing" but are flagged as excess', () => {
    const root = parseGrants(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]);
    const needs = roleNeeds('backup', mariadb, { database: 'x' });
    expect(missingGrants(root, needs)).toEqual([]);
    expect(excessGrants(root, needs)).toEqual(['ALL PRIVILEGES ON *.*', 'GRANT OPTION']);
    const oldNames = parseGrants(["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE, SUPER ON *.* TO 'b'@'%'"]);
    expect(missingGrants(oldNames, needs)).toEqual([]);
    expect(excessGrants(oldNames, needs)).toEqual(['SUPER ON *.*', 'REPLICATION CLIENT ON *.*']);
  });
});

describe('createUserStatements', () => {
  it('quotes the account, keeps the password a placeholder and requires TLS when asked', () => {
    const needs = roleNeeds('admin', mariadb, { database: 'horizn' });
    const [create, grant] = createUserStatements(needs, "o'brien", 'X509');
    expect(create).toBe("CREATE USER IF NOT EXISTS 'o''brien'@'%' IDENTIFIED BY 'change-me' REQUIRE X509;");
    expect(grant).toMatch(/^GRANT SELECT, .* ON `horizn`\.\* TO 'o''brien'@'%';$/);
    expect(createUserStatements(needs, 'a@10.0.0.%', 'NONE')[0]).toBe("CREATE USER IF NOT EXISTS 'a'@'10.0.0.%' IDENTIFIED BY 'change-me';");
  });
});

describe('grantsText (doctor --print-grants)', () => {
  it('prints each role for MySQL 8.4, with the configured users, TLS requirements and the admin database', async () => {
    const { loadConfig } = await import('../../src/config/load-config.js');
    const { grantsText, CURRENT } = await import('../../src/doctor/print-grants.js');
    const config = await loadConfig({
      env: {
        DBOPS_SOURCE_URL: 'mysql://backup:pw@db.example:3306/shop?ssl-mode=VERIFY_IDENTITY',
        DBOPS_RESTORE_TARGET_URL: 'mysql://root:pw@scratch:3306',
      },
    });
    const text = grantsText(config, CURRENT.mysql);
    expect(text.split('\n').filter((l) => !l.startsWith('--') && l)).toEqual([
      "CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY 'change-me' REQUIRE SSL;",
      "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, REPLICATION CLIENT, PROCESS, REPLICATION SLAVE ON *.* TO 'backup'@'%';",
      "CREATE USER IF NOT EXISTS 'dbops_admin'@'%' IDENTIFIED BY 'change-me';",
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER, EVENT, CREATE ROUTINE, ALTER ROUTINE, EXECUTE ON `shop`.* TO 'dbops_admin'@'%';",
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER, EVENT, CREATE ROUTINE, ALTER ROUTINE, EXECUTE ON `dbops\\_shadow\\_%`.* TO 'dbops_admin'@'%';",
      "CREATE USER IF NOT EXISTS 'dbops_restore'@'%' IDENTIFIED BY 'change-me';",
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER, EVENT, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, SESSION_VARIABLES_ADMIN, REPLICATION_APPLIER, SET_ANY_DEFINER ON *.* TO 'dbops_restore'@'%';",
      "CREATE USER IF NOT EXISTS 'dbops_monitor'@'%' IDENTIFIED BY 'change-me';",
      "GRANT PROCESS, SHOW VIEW ON *.* TO 'dbops_monitor'@'%';",
      "GRANT SELECT ON `performance_schema`.* TO 'dbops_monitor'@'%';",
    ]);
    expect(text).toMatch(/^-- MySQL 8\.4: /);
    expect(text).toContain('-- (seed --no-binlog also needs SESSION_VARIABLES_ADMIN ON *.*; this account seeds with the binlog on)');
  });
});
