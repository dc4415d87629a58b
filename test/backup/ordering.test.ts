// Backup ids order backups ("latest", retention, PITR's base) with one-second precision and a
// random suffix: backups taken back to back, several in one second, must still list in the
// order they were taken. Tiny backups in process take well under a second each, so several
// share a second, and without the wait for the next second (when the suffix would sort a new
// backup first) each such pair is misordered by chance, one time in two.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase } from '../helpers/mariadb.js';
import { makeKeys } from '../helpers/cli.js';
import { withConnection } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { runBackup } from '../../src/backup/run-backup.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';

let dir: string;
let repo: Repository;
let recipients: string[];
let source: { name: string; conn: MysqlConn };

beforeAll(async () => {
  const keys = await makeKeys();
  dir = await mkdtemp(join(tmpdir(), 'dbops-ordering-'));
  const storage = await openStorage(`file://${dir}`);
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  await initRepository(storage, signer, recipients);
  repo = await openRepository(storage, { signer });
  source = await freshDatabase('ordering');
  await withConnection(source.conn, async (db) => {
    await db.exec(`CREATE TABLE \`${source.name}\`.t (id INT PRIMARY KEY)`);
    await db.exec(`INSERT INTO \`${source.name}\`.t VALUES (1)`);
  });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backups taken back to back', () => {
  it('list in the order they were taken, even within one second', async () => {
    const taken: string[] = [];
    for (let i = 0; i < 8; i++) {
      const m = await runBackup({ repo, source: source.conn, recipients, databases: [source.name], compressionLevel: 1, compressionThreads: 1, includeAccounts: false });
      taken.push(m.id);
    }
    expect(await repo.backups.ids()).toEqual(taken);
    expect((await repo.backups.list()).at(-1)?.manifest?.id).toBe(taken.at(-1));
  }, 60_000);
});
