// What the daemon needs beyond a valid config file, checked up front so that a bad
// setup fails at start with every problem listed at once (exit 2), not at 02:00.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/schema.js';
import { parseStorageUrl } from '../storage/open-storage.js';
import { roleConfigured, roleProblems } from '../config/connections.js';
import { parseListen } from './http-server.js';

/** Problems with a schema-valid config that would stop the daemon's jobs. */
export function daemonConfigProblems(config: Config): string[] {
  const out: string[] = [];
  const attempt = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  if (config.storage.url) {
    const p = attempt(() => parseStorageUrl(config.storage.url!));
    if (p) out.push(p);
  }
  if (!roleConfigured(config, 'backup')) out.push('missing source.url: set DBOPS_SOURCE_URL (or DBOPS_SOURCE_DEFAULTS_FILE) or add it to dbops.yaml (the daemon backs it up)');
  else out.push(...roleProblems(config, 'backup'));
  // Partition maintenance runs as the admin account.
  if (config.schedule.partitions) out.push(...roleProblems(config, 'admin'));
  // Database monitoring reads as the monitor account.
  if (config.schedule.monitor && roleConfigured(config, 'monitor')) out.push(...roleProblems(config, 'monitor'));
  if (config.schedule.incremental && config.backup.kind !== 'physical') {
    out.push(`schedule.incremental is set but backup.kind is ${config.backup.kind}: incrementals are physical; set backup.kind: physical (DBOPS_BACKUP_KIND=physical), or unset schedule.incremental`);
  }
  if (!config.signing.keyFile) out.push('missing signing.keyFile: set DBOPS_SIGNING_KEY_FILE (manifests must be signed)');
  if (config.age.recipients.length === 0) out.push('missing age.recipients: set DBOPS_AGE_RECIPIENTS (backups must be encrypted)');
  const listen = attempt(() => parseListen(config.daemon.listen));
  if (listen) out.push(listen);
  return out;
}

/**
 * Whether a storage URL was given at all, read from the raw inputs: when the config
 * does not validate there is no parsed config to ask, and "missing storage URL" must
 * still be listed with the other problems.
 */
export function storageUrlGiven(flag: string | undefined, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag || env.DBOPS_STORAGE_URL) return true;
  const file = configFile ?? env.DBOPS_CONFIG ?? (existsSync('dbops.yaml') ? 'dbops.yaml' : undefined);
  if (!file) return false;
  try {
    const doc = parseYaml(readFileSync(file, 'utf8')) as { storage?: { url?: unknown } } | null;
    return typeof doc?.storage?.url === 'string' && doc.storage.url.length > 0;
  } catch {
    return false;
  }
}
