// This package's directory (where package.json and db/ are) and its package.json, found by
// walking up from the running module. The CLI runs from src/ through tsx, from dist/ as one
// bundle split into chunks, and from /opt/dbops in the image: a fixed relative path fits only
// one of them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'horizn-dbops';

export interface InstalledPackage {
  root: string;
  version: string | undefined;
}

let found: InstalledPackage | undefined;

/** The nearest ancestor of this module holding horizn-dbops's package.json, read once. */
export function installedPackage(): InstalledPackage {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME) return (found = { root: dir, version: pkg.version });
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${PACKAGE_NAME} package.json above ${fileURLToPath(import.meta.url)}: the installation is incomplete`);
    dir = parent;
  }
}
