// Credentials for the benchmark's shell pipelines (`mariadb-dump … | zstd`): a named 0600
// option file in a 0700 temp dir, removed afterwards. Only for the throwaway servers the
// bench starts itself (random passwords); dbops hands credentials to its tools without a
// name (src/mysql/defaults-file.ts), which a pipeline string cannot reference.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { renderDefaultsFile, toolFlavor } from '../../src/mysql/defaults-file.js';

export { defaultsFileArg } from '../../src/mysql/defaults-file.js';

/** Writes the option file for `tool`, runs fn(path), and removes it afterwards, also on throw. */
export async function withDefaultsFile<T>(conn: MysqlConn, tool: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-bench-cred-'));
  try {
    const path = join(dir, 'my.cnf');
    await writeFile(path, renderDefaultsFile(conn, toolFlavor(tool)), { mode: 0o600, flag: 'wx' });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
