// The flags of a table's own dump and zstd's size report, on recorded values (no server).
import { describe, it, expect } from 'vitest';
import { ignoreTableArgs, pickTableDumps, tableDumpArgs } from '../../src/backup/parallel-dump.js';
import { reportedInputBytes } from '../../src/pipeline/compress.js';
import { parseServerInfo } from '../../src/mysql/server-info.js';
import type { MysqlClient } from '../../src/mysql/client.js';

const FULL = ['--single-transaction', '--quick', '--routines', '--triggers', '--events', '--hex-blob', '--skip-add-locks', '--dump-history', '--default-character-set=utf8mb4', '--max-allowed-packet=1G', '--master-data=2', '--gtid', '--ignore-table=a.x', '--databases', 'a', 'b'];

describe('a table dump of its own', () => {
  it('keeps the row-level flags and drops the database-wide sections and coordinates', () => {
    expect(tableDumpArgs(FULL, { database: 'horizn', table: 'pageviews', bytes: 1 })).toEqual([
      '--single-transaction', '--quick', '--triggers', '--hex-blob', '--skip-add-locks', '--dump-history', '--default-character-set=utf8mb4', '--max-allowed-packet=1G', '--ignore-table=a.x', 'horizn', 'pageviews',
    ]);
  });

  it('the main dump leaves those tables out', () => {
    expect(ignoreTableArgs([{ database: 'horizn', table: 'pageviews', bytes: 1 }])).toEqual(['--ignore-table=horizn.pageviews']);
  });

  it('MySQL has no BACKUP STAGE: every table stays in the one stream', async () => {
    const mysql8 = parseServerInfo({ version: '8.0.36', version_comment: 'MySQL Community Server - GPL', server_uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562', server_id: '1', gtid_mode: 'ON', log_bin: '1', binlog_format: 'ROW' });
    const noQueries = { query: () => Promise.reject(new Error('no query expected')) } as unknown as MysqlClient;
    expect(await pickTableDumps(noQueries, mysql8, ['horizn'])).toEqual([]);
  });
});

describe("zstd's size report (-vv)", () => {
  it('reads the input bytes from the summary line', () => {
    expect(reportedInputBytes('Using stdout for output\n/*stdin*\\            : 75.37%   (4052632 B => 3054428 B, /*stdout*\\) \n')).toBe(4052632);
  });
  it('is undefined when zstd said nothing of it', () => {
    expect(reportedInputBytes('')).toBeUndefined();
  });
});
