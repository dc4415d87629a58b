// Makes sure the external programs dbops and its tests drive are installed.
// Run by `npm test` before vitest and by the demo. As root with apt-get it
// installs what is missing; otherwise it prints the exact command and exits 2.
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { OperationError, UsageError } from '../src/errors.js';
import { findTool } from '../src/mysql/find-tool.js';

/** Each requirement is satisfied by any one of its alternative names. */
export const REQUIRED_TOOLS: readonly (readonly string[])[] = [
  ['mariadbd', 'mysqld'],
  ['mariadb-install-db', 'mysql_install_db'],
  ['mariadb-dump', 'mysqldump'],
  ['mariadb', 'mysql'],
  ['mariadb-binlog', 'mysqlbinlog'],
  ['mariadb-backup', 'xtrabackup'],
  ['zstd'],
  ['age'],
  ['age-keygen'],
];

export const APT_PACKAGES = ['mariadb-server', 'mariadb-client', 'mariadb-backup', 'zstd', 'age'];
export const INSTALL_COMMAND = `sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${APT_PACKAGES.join(' ')}`;

export interface EnsureToolsResult {
  /** Requirement names (first alternative) that were missing before any install. */
  missing: string[];
  installed: boolean;
}

/** Names (first alternative) of requirements with no executable on PATH or in /usr/sbin. */
export function missingTools(path?: string): string[] {
  return REQUIRED_TOOLS.filter((alts) => !alts.some((name) => findTool(name, path))).map((alts) => alts[0]!);
}

/**
 * Checks the tools; with `install` and root + apt-get, installs what is missing.
 * Throws UsageError (exit 2) naming the install command when it cannot install.
 */
export async function ensureTools(opts: { install: boolean }): Promise<EnsureToolsResult> {
  const missing = missingTools();
  if (missing.length === 0) return { missing, installed: false };
  const isRoot = process.getuid?.() === 0;
  const apt = findTool('apt-get');
  if (!opts.install || !isRoot || !apt) {
    throw new UsageError(`missing tools: ${missing.join(', ')}; install them with: ${INSTALL_COMMAND}`);
  }
  process.stderr.write(`ensure-tools: missing ${missing.join(', ')}; installing ${APT_PACKAGES.join(' ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execa(apt, ['update'], { env, stdout: 'inherit', stderr: 'inherit' });
  await execa(apt, ['install', '-y', '--no-install-recommends', ...APT_PACKAGES], { env, stdout: 'inherit', stderr: 'inherit' });
  const still = missingTools();
  if (still.length > 0) {
    throw new OperationError(`still missing after apt-get install: ${still.join(', ')}: install them by hand`);
  }
  return { missing, installed: true };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  ensureTools({ install: true }).then(
    (r) => {
      if (r.installed) process.stderr.write(`ensure-tools: installed ${r.missing.join(', ')}\n`);
    },
    (err: unknown) => {
      const e = err as { message?: string; exitCode?: number };
      process.stderr.write(`ensure-tools: ${e.message ?? String(err)}\n`);
      process.exitCode = e.exitCode ?? 1;
    },
  );
}
