import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTools, missingTools } from '../../scripts/ensure-tools.js';
import { UsageError } from '../../src/errors.js';

describe('ensure-tools', () => {
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('finds every tool on this machine', async () => {
    expect(missingTools()).toEqual([]);
    await expect(ensureTools({ install: false })).resolves.toEqual({ missing: [], installed: false });
  });

  it('names the missing tools and the install command when it may not install', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'dbops-emptypath-'));
    try {
      process.env.PATH = empty;
      // Server binaries are still found in /usr/sbin; client tools live in /usr/bin.
      expect(missingTools()).toEqual(expect.arrayContaining(['mariadb-dump', 'mariadb', 'mariadb-binlog', 'zstd', 'age', 'age-keygen']));
      expect(missingTools()).not.toContain('mariadbd');
      const err = await ensureTools({ install: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toContain('apt-get install -y mariadb-server mariadb-client mariadb-backup zstd age');
      expect((err as Error).message).toContain('zstd');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
