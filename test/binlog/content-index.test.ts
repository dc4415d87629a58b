// The content index a segment manifest carries (tables × insert/update/delete, statement
// count), read from the real binlog's table-map and row events at ship time, and
// `binlog find` skipping the files it rules out while still finding every match.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { segmentMayMatch } from '../../src/pitr/binlog-find.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { shipSetup, segments, type ShipSetup } from '../helpers/binlog-ship.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

let server: SandboxServer;
let db: MysqlClient;
let s: ShipSetup;

beforeAll(async () => {
  let keys;
  [server, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  db = await MysqlClient.connect(server.conn);
  s = await shipSetup(server.url, keys);
  await db.exec('CREATE DATABASE ci');
  await db.exec('CREATE TABLE ci.pageviews (id INT PRIMARY KEY, v VARCHAR(20))');
  await db.exec('CREATE TABLE ci.events (id INT PRIMARY KEY)');
  await db.exec('FLUSH BINARY LOGS');
  // File A: inserts only (three transactions into pageviews, one into events).
  for (let i = 1; i <= 3; i++) await db.exec('INSERT INTO ci.pageviews VALUES (?, ?)', [i, 'x']);
  await db.exec('INSERT INTO ci.events VALUES (1)');
  await db.exec('FLUSH BINARY LOGS');
  // File B: an update and the incident, a DELETE without WHERE on pageviews.
  await db.exec("UPDATE ci.pageviews SET v = 'y' WHERE id = 1");
  await db.exec('DELETE FROM ci.pageviews');
  await db.exec('FLUSH BINARY LOGS');
  // File C: inserts only again.
  await db.exec('INSERT INTO ci.events VALUES (2)');
  const r = await runCli(['binlog', 'ship', '--once'], s.env);
  expect(r.exitCode, r.stderr).toBe(0);
});

afterAll(async () => {
  await db?.close();
  await server?.stop();
});

describe('segment content index', () => {
  it('records per table how many insert, update and delete row events each file holds, and its other statements', async () => {
    const sourceId = (await readdir(join(s.repoDir, 'binlogs')))[0]!;
    const list = await segments(s, sourceId);
    const withRows = list.filter((m) => Object.keys(m.content?.tables ?? {}).length > 0);
    expect(withRows.map((m) => m.content)).toEqual([
      { tables: { 'ci.pageviews': { insert: 3, update: 0, delete: 0 }, 'ci.events': { insert: 1, update: 0, delete: 0 } }, statements: 0, unmappedRowEvents: 0 },
      { tables: { 'ci.pageviews': { insert: 0, update: 1, delete: 1 } }, statements: 0, unmappedRowEvents: 0 },
      { tables: { 'ci.events': { insert: 1, update: 0, delete: 0 } }, statements: 0, unmappedRowEvents: 0 },
    ]);
    // The file with the CREATE statements counts them (and so is always decoded).
    expect(list[0]!.content!.statements).toBeGreaterThanOrEqual(3);
  });

  it('binlog find decodes only the files that can hold a match, and finds it', async () => {
    const r = await runCli(['binlog', 'find', '--table', 'ci.pageviews', '--type', 'delete', '--json'], s.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { files: number; skippedFiles: number; matches: Array<{ operations: Array<{ type: string; table: string; rows: number }> }> };
    // The file with the DDL and the one with the delete; the two insert-only files are skipped.
    expect(out.files).toBe(2);
    expect(out.skippedFiles).toBeGreaterThanOrEqual(2);
    expect(out.matches.flatMap((m) => m.operations)).toEqual([expect.objectContaining({ type: 'delete', table: 'ci.pageviews', rows: 3 })]);
  });

  it('rules a file out only when the index proves no match', () => {
    const content = { tables: { 'd.t': { insert: 2, update: 0, delete: 0 } }, statements: 0, unmappedRowEvents: 0 };
    expect(segmentMayMatch(content, { table: 'd.t', type: 'insert' })).toBe(true);
    expect(segmentMayMatch(content, { table: 'd.t', type: 'delete' })).toBe(false);
    expect(segmentMayMatch(content, { table: 'd.u' })).toBe(false);
    expect(segmentMayMatch(content, { type: 'ddl' })).toBe(false);
    expect(segmentMayMatch(content, { type: 'insert' })).toBe(true);
    // Nothing to rule out with, statements that need a decode, or an old manifest without an index.
    expect(segmentMayMatch(content, {})).toBe(true);
    expect(segmentMayMatch({ ...content, statements: 1 }, { table: 'd.u', type: 'delete' })).toBe(true);
    expect(segmentMayMatch({ ...content, unmappedRowEvents: 1 }, { table: 'd.u' })).toBe(true);
    expect(segmentMayMatch(undefined, { table: 'd.u', type: 'delete' })).toBe(true);
  });
});
