// Locates external programs. Server binaries live in /usr/sbin, which is often
// missing from PATH in non-login shells and CI, so the sbin dirs are searched too.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const SBIN_FALLBACK = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/mysql/bin'];

/** True when `path` is a file we may execute. */
export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name` on PATH (then the sbin dirs), or undefined. */
export function findTool(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), ...SBIN_FALLBACK];
  return dirs.map((dir) => join(dir, name)).find(isExecutableFile);
}

/** First of several alternative names that exists, e.g. ['mariadb-dump', 'mysqldump']. */
export function findFirstTool(names: readonly string[], path?: string): { name: string; path: string } | undefined {
  for (const name of names) {
    const found = findTool(name, path);
    if (found) return { name, path: found };
  }
  return undefined;
}
