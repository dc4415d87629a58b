// One call for what most commands need first: who the server is, the
// flavour-specific choices, and (optionally) where its binlog stands now.
import { readBinlogStatus, type BinlogStatus } from './binlog-status.js';
import { flavorProfile, type FlavorProfile } from './flavor.js';
import { readServerInfo, type Queryable, type ServerInfo } from './server-info.js';

export interface ServerInspection {
  info: ServerInfo;
  profile: FlavorProfile;
  /** Present when log_bin is on. */
  binlog?: BinlogStatus;
}

export async function inspectServer(db: Queryable): Promise<ServerInspection> {
  const info = await readServerInfo(db);
  const profile = flavorProfile(info);
  const result: ServerInspection = { info, profile };
  if (info.logBin) result.binlog = await readBinlogStatus(db, profile);
  return result;
}
