// The databases the source has now, so prune can name the ones no backup holds. Prune is
// a repository job: without a configured source, or when the source cannot be reached,
// it plans as before and says what it could not check.
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { DbopsError } from '../errors.js';
import type { SourceDatabases } from './types.js';

export async function readSourceDatabases(source: MysqlConn): Promise<{ source: SourceDatabases | null; problem: string | null }> {
  try {
    return await withConnection(source, async (db) => {
      const info = await readServerInfo(db);
      return { source: { serverUuid: info.serverUuid, databases: await db.listUserDatabases() }, problem: null };
    });
  } catch (err) {
    if (!(err instanceof DbopsError)) throw err;
    return { source: null, problem: `could not list the source's databases (${(err as Error).message}): databases that no backup holds are not reported` };
  }
}
