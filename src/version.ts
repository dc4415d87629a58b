// The tool's version, read once from package.json (recorded in manifests and reports).
import { installedPackage } from './util/package-root.js';

function readVersion(): string {
  const { version } = installedPackage();
  if (!version) throw new Error('package.json has no version: the installation is incomplete');
  return version;
}

export const VERSION = readVersion();
