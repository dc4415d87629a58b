// The physical tools' command lines, for both flavours: MariaDB's are run for real by the
// physical tests; xtrabackup's (MySQL) only here, against Percona's documented flags.
import { describe, expect, it } from 'vitest';
import { backupArgs, extractArgs, prepareArgs } from '../../src/physical/tools.js';

describe('physical tool arguments', () => {
  it('a backup streams xbstream, keeps its checkpoints apart and names the datadir; an incremental adds its LSN', () => {
    const full = backupArgs({ targetDir: '/t', extraLsnDir: '/l', datadir: '/var/lib/mysql' });
    expect(full).toEqual(['--backup', '--stream=xbstream', '--target-dir=/t', '--extra-lsndir=/l', '--datadir=/var/lib/mysql']);
    expect(backupArgs({ targetDir: '/t', extraLsnDir: '/l', datadir: '/d', incrementalLsn: '1538687821' })).toContain('--incremental-lsn=1538687821');
  });

  it('an extract writes with at least two threads and at most four', () => {
    expect(extractArgs('/dir', 2)).toEqual(['-x', '--parallel=2', '-C', '/dir']);
    const threads = Number(/^--parallel=(\d+)$/.exec(extractArgs('/dir')[1]!)?.[1]);
    expect(threads).toBeGreaterThanOrEqual(2);
    expect(threads).toBeLessThanOrEqual(4);
  });

  it('xtrabackup keeps uncommitted transactions while more incrementals follow; mariadb-backup needs no flag for it', () => {
    expect(prepareArgs('xtrabackup', '/d', '/inc1', true)).toEqual(['--prepare', '--target-dir=/d', '--incremental-dir=/inc1', '--apply-log-only']);
    expect(prepareArgs('xtrabackup', '/d', '/inc2', false)).toEqual(['--prepare', '--target-dir=/d', '--incremental-dir=/inc2']);
    expect(prepareArgs('mariadb-backup', '/d', '/inc1', true)).toEqual(['--prepare', '--target-dir=/d', '--incremental-dir=/inc1']);
    expect(prepareArgs('mariadb-backup', '/d', undefined, false)).toEqual(['--prepare', '--target-dir=/d']);
  });
});
