// The tool's version, read once from package.json (recorded in manifests and reports).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './util/package-root.js';

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  if (!pkg.version) throw new Error('package.json has no version: the installation is incomplete');
  return pkg.version;
}

export const VERSION = readVersion();
