// A restore sandbox is tuned for one bulk load, and under a memory limit its buffer pool and
// redo log (which a tmpfs datadir holds in memory) stay within that limit.
import { describe, expect, it } from 'vitest';
import { parseMemoryLimit, restoreTuningArgs } from '../../src/sandbox/restore-tuning.js';
import { UsageError } from '../../src/errors.js';

function option(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}

describe('restoreTuningArgs', () => {
  it('gives an unlimited sandbox a 1G pool, a 512M redo log and the largest sort buffer', () => {
    const args = restoreTuningArgs('mariadb');
    expect(option(args, 'innodb-buffer-pool-size')).toBe('1024M');
    expect(option(args, 'innodb-log-file-size')).toBe('512M');
    expect(option(args, 'innodb-sort-buffer-size')).toBe('64M');
  });

  it('keeps pool and redo log inside a memory limit', () => {
    const args = restoreTuningArgs('mariadb', '1g');
    expect(option(args, 'innodb-buffer-pool-size')).toBe('358M');
    expect(option(args, 'innodb-log-file-size')).toBe('204M');
  });

  it('halves the log file size for MySQL, whose redo capacity is two files', () => {
    expect(option(restoreTuningArgs('mysql'), 'innodb-log-file-size')).toBe('256M');
  });

  it('reads sizes as the container engines write them, and refuses others', () => {
    expect(parseMemoryLimit('512m')).toBe(512 * 1024 * 1024);
    expect(parseMemoryLimit('2G')).toBe(2 * 1024 ** 3);
    expect(parseMemoryLimit('4096')).toBe(4096);
    expect(() => parseMemoryLimit('2 gb')).toThrow(UsageError);
  });
});
