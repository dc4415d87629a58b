// Locates external programs. Server binaries live in /usr/sbin, which is often
// missing from PATH in non-login shells and CI, so the sbin dirs are searched too.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const SBIN_FALLBACK = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/mysql/bin'];

/** Absolute path of `name` on PATH (then the sbin dirs), or undefined. */
export function findTool(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), ...SBIN_FALLBACK];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** First of several alternative names that exists, e.g. ['mariadb-dump', 'mysqldump']. */
export function findFirstTool(names: readonly string[], path?: string): { name: string; path: string } | undefined {
  for (const name of names) {
    const found = findTool(name, path);
    if (found) return { name, path: found };
  }
  return undefined;
}
