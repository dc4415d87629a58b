// The statement splitter decides what the runner executes one by one; a wrong split would run
// half a statement or glue two together.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { splitSqlStatements } from '../../src/migrate/split-sql.js';

describe('splitSqlStatements', () => {
  it('splits on semicolons outside quotes and comments', () => {
    const sql = [
      '-- leading comment; with a semicolon',
      "CREATE TABLE a (s VARCHAR(10) DEFAULT 'x;y', t VARCHAR(10) DEFAULT 'it''s;', u TEXT COMMENT \"q;\\\"r\");",
      '# hash comment;',
      'CREATE TABLE `we;ird` (id INT) /* block ; comment */ ENGINE=InnoDB;',
      '/*!40101 SET NAMES utf8mb4 */;',
      "INSERT INTO a VALUES ('back\\\\slash;'),('x')  ;  ;",
      'SELECT 1 -- trailing',
    ].join('\n');
    const got = splitSqlStatements(sql);
    expect(got.map((s) => s.sql)).toEqual([
      "CREATE TABLE a (s VARCHAR(10) DEFAULT 'x;y', t VARCHAR(10) DEFAULT 'it''s;', u TEXT COMMENT \"q;\\\"r\")",
      'CREATE TABLE `we;ird` (id INT)   ENGINE=InnoDB',
      '/*!40101 SET NAMES utf8mb4 */',
      "INSERT INTO a VALUES ('back\\\\slash;'),('x')",
      'SELECT 1',
    ]);
    expect(got.map((s) => s.line)).toEqual([2, 4, 5, 6, 7]);
  });

  it('treats "--" without a following space as an operator, not a comment', () => {
    expect(splitSqlStatements('SELECT 1--1; SELECT 2').map((s) => s.sql)).toEqual(['SELECT 1--1', 'SELECT 2']);
  });

  it('refuses DELIMITER and unterminated quotes with the line number', () => {
    expect(() => splitSqlStatements('SELECT 1;\nDELIMITER //\n', 'x.sql')).toThrow(/x\.sql:2: DELIMITER/);
    expect(() => splitSqlStatements("SELECT 'abc;\n", 'y.sql')).toThrow(UsageError);
    expect(() => splitSqlStatements('SELECT 1 /* open', 'z.sql')).toThrow(/unterminated/);
  });

  it('splits every shipped migration into whole statements of the kinds migrations use', async () => {
    const { loadMigrations, defaultMigrationsDir } = await import('../../src/migrate/migration-files.js');
    const files = await loadMigrations(defaultMigrationsDir());
    expect(files.map((f) => f.id)).toEqual(['0001_core_tables', '0002_aggregate_tables', '0003_system_tables', '0004_visitor_privacy']);
    for (const f of files) {
      for (const st of [...splitSqlStatements(f.up), ...splitSqlStatements(f.down)]) {
        expect(st.sql).toMatch(/^(CREATE TABLE|DROP TABLE( IF EXISTS)?|ALTER TABLE|UPDATE|INSERT INTO|DELETE FROM) /);
      }
    }
    // 0004 re-keys rows in place: each ALTER is one statement, never cut at a comma or a quote.
    expect(splitSqlStatements(files[3]!.up).map((s) => s.sql.split(/\s/)[0])).toEqual([
      'CREATE', 'CREATE', 'INSERT', 'ALTER', 'UPDATE', 'ALTER', 'ALTER', 'UPDATE', 'ALTER', 'ALTER', 'UPDATE', 'ALTER', 'DELETE', 'ALTER', 'DROP',
    ]);
  });
});
