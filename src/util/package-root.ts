// The directory of this package (where package.json and db/ are), found by walking up from
// the running module. The CLI runs from src/ through tsx, from dist/ as one bundle split into
// chunks, and from /opt/dbops in the image: a fixed relative path fits only one of them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'horizn-dbops';

let cached: string | undefined;

/** The nearest ancestor of this module holding horizn-dbops's package.json. */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${PACKAGE_NAME} package.json above ${fileURLToPath(import.meta.url)}: the installation is incomplete`);
    dir = parent;
  }
}
