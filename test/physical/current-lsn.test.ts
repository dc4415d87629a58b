// The source's current LSN from SHOW ENGINE INNODB STATUS: MariaDB 10.11's LOG section as a
// real server printed it, and MySQL 8.0's as its manual documents it (no MySQL server here).
import { describe, it, expect } from 'vitest';
import { parseLogSequenceNumber } from '../../src/physical/current-lsn.js';

const MARIADB_10_11 = '\n---\nLOG\n---\nLog sequence number 44744\nLog flushed up to   44404\nPages flushed up to 44404\nLast checkpoint at  44388\n----------------------\nBUFFER POOL AND MEMORY\n';
const MYSQL_8_0 = [
  '---',
  'LOG',
  '---',
  'Log sequence number          19643450',
  'Log buffer assigned up to    19643450',
  'Log buffer completed up to   19643450',
  'Log written up to            19643450',
  'Log flushed up to            19643450',
  'Added dirty pages up to      19643450',
  'Pages flushed up to          19639189',
  'Last checkpoint at           19639189',
  '18 log i/o\'s done, 0.00 log i/o\'s/second',
].join('\n');

describe('parseLogSequenceNumber', () => {
  it('reads the current LSN, not the flushed or checkpoint ones', () => {
    expect(parseLogSequenceNumber(MARIADB_10_11)).toBe(44744n);
    expect(parseLogSequenceNumber(MYSQL_8_0)).toBe(19643450n);
  });

  it('keeps 64-bit values exact', () => {
    expect(parseLogSequenceNumber('Log sequence number 18446744073709551615\n')).toBe(18446744073709551615n);
  });

  it('gives undefined for a status without the line', () => {
    expect(parseLogSequenceNumber('---\nLOG\n---\nLog flushed up to 5\n')).toBeUndefined();
  });
});
