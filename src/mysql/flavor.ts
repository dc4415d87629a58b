// Per-flavour/version choices (statements, dump flags, tool names) in one pure
// function, so every version rule is unit-tested on recorded server outputs
// instead of being scattered across callers.
import { ToolError } from '../errors.js';
import { findFirstTool } from './find-tool.js';
import type { ServerInfo } from './server-info.js';

export interface FlavorProfile {
  flavor: ServerInfo['flavor'];
  /** Statement returning the current binlog file/position (+ Executed_Gtid_Set on MySQL). */
  binlogStatusSql: string;
  /** Statement listing the binlogs on the server. */
  binaryLogsSql: string;
  /** MariaDB's status row has no GTID column: this reads it separately. Undefined on MySQL. */
  gtidPositionSql?: string;
  /**
   * Flags that make the dump record its consistent binlog point as a comment:
   * MySQL ≥ 8.0.26 `--source-data=2` (`--master-data` deprecated then),
   * older `--master-data=2`; MariaDB `--master-data=2 --gtid` (adds a commented
   * `SET GLOBAL gtid_slave_pos`). MySQL with gtid_mode=ON: `--set-gtid-purged=COMMENTED`
   * (≥ 8.0.32) so the dump still records the GTID set but restoring into a
   * server with its own GTID history does not fail; older ones get OFF since
   * ON would break such restores and AUTO equals ON there.
   */
  dumpCoordinateFlags: string[];
  /** Candidate executable names, preferred first. */
  tools: { dump: string[]; client: string[]; binlog: string[] };
}

/** a >= b on (major, minor, patch). */
export function versionAtLeast(info: Pick<ServerInfo, 'major' | 'minor' | 'patch'>, major: number, minor: number, patch: number): boolean {
  if (info.major !== major) return info.major > major;
  if (info.minor !== minor) return info.minor > minor;
  return info.patch >= patch;
}

export function flavorProfile(info: ServerInfo): FlavorProfile {
  if (info.flavor === 'mariadb') {
    return {
      flavor: 'mariadb',
      // SHOW BINLOG STATUS is the 10.5.2+ name; SHOW MASTER STATUS stays as an alias.
      binlogStatusSql: versionAtLeast(info, 10, 5, 2) ? 'SHOW BINLOG STATUS' : 'SHOW MASTER STATUS',
      binaryLogsSql: 'SHOW BINARY LOGS',
      gtidPositionSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS gtid',
      // Without binary logging there is no position to record (the dump would fail asking for one).
      dumpCoordinateFlags: info.logBin ? ['--master-data=2', '--gtid'] : [],
      // MySQL's mysqlbinlog cannot decode MariaDB binlogs; Debian's mysql* names are symlinks to mariadb-*.
      tools: {
        dump: ['mariadb-dump', 'mysqldump'],
        client: ['mariadb', 'mysql'],
        binlog: ['mariadb-binlog', 'mysqlbinlog'],
      },
    };
  }
  const flags = info.logBin ? [versionAtLeast(info, 8, 0, 26) ? '--source-data=2' : '--master-data=2'] : [];
  flags.push(info.gtidMode && versionAtLeast(info, 8, 0, 32) ? '--set-gtid-purged=COMMENTED' : '--set-gtid-purged=OFF');
  return {
    flavor: 'mysql',
    // SHOW BINARY LOG STATUS arrived in 8.2.0; SHOW MASTER STATUS was removed in 8.4.
    binlogStatusSql: versionAtLeast(info, 8, 2, 0) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS',
    binaryLogsSql: 'SHOW BINARY LOGS',
    dumpCoordinateFlags: flags,
    tools: { dump: ['mysqldump'], client: ['mysql'], binlog: ['mysqlbinlog'] },
  };
}

export interface ResolvedTools {
  dump: string;
  client: string;
  binlog: string;
}

/** Absolute paths of the tools for this profile; ToolError naming what to install if one is missing. */
export function resolveTools(profile: FlavorProfile, path?: string): ResolvedTools {
  const pick = (names: string[]): string => {
    const found = findFirstTool(names, path);
    if (!found) {
      const pkg = profile.flavor === 'mariadb' ? 'mariadb-client' : 'mysql-client';
      throw new ToolError(names[0]!, `not found on PATH (tried ${names.join(', ')}): install ${pkg}`);
    }
    return found.path;
  };
  return { dump: pick(profile.tools.dump), client: pick(profile.tools.client), binlog: pick(profile.tools.binlog) };
}
