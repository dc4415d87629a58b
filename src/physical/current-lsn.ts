// The source's redo log position now, from the LOG section of SHOW ENGINE INNODB STATUS
// ("Log sequence number N" on MariaDB and MySQL alike; the backup role holds PROCESS). An
// incremental applies only on a chain that the source's datadir continues, and LSNs only grow
// on one datadir: a source behind the end of the newest backup had its datadir replaced or
// restored since.
import type { MysqlClient } from '../mysql/client.js';
import { OperationError } from '../errors.js';

/** The number after "Log sequence number", or undefined when the text has none. */
export function parseLogSequenceNumber(status: string): bigint | undefined {
  const m = /^Log sequence number\s+(\d+)\s*$/m.exec(status);
  return m ? BigInt(m[1]!) : undefined;
}

export async function readCurrentLsn(db: MysqlClient): Promise<bigint> {
  const rows = await db.query<{ Status: string }>('SHOW ENGINE INNODB STATUS');
  const lsn = parseLogSequenceNumber(String(rows[0]?.Status ?? ''));
  if (lsn === undefined) throw new OperationError("SHOW ENGINE INNODB STATUS gave no 'Log sequence number': cannot tell whether the source continues the newest physical backup");
  return lsn;
}
