// `dbops doctor` as a library call: every check, in the order a new installation would
// fix them, each with its fix. `ok` is false when anything blocks backups or shipping.
import type { Config } from '../config/schema.js';
import { parseConnectionUrl } from '../mysql/connection-url.js';
import { shippingStatus } from '../binlog/shipping-status.js';
import { check, type DoctorCheck } from './check.js';
import { sourceChecks } from './source-checks.js';
import { toolChecks } from './tool-checks.js';
import { keyChecks } from './key-checks.js';
import { storageChecks } from './storage-checks.js';

export interface DoctorResult {
  ok: boolean;
  checks: DoctorCheck[];
}

export async function runDoctor(config: Config): Promise<DoctorResult> {
  const checks: DoctorCheck[] = [];
  const storage = await storageChecks(config);
  const shipping = config.daemon.shipBinlogs;
  let info;
  if (!config.source.url) {
    checks.push(check('source.reachable', 'source reachable', 'fail', 'source.url is not set', 'set DBOPS_SOURCE_URL=mysql://user:password@host:port'));
  } else {
    let conn;
    try {
      conn = parseConnectionUrl(config.source.url);
    } catch (err) {
      checks.push(check('source.reachable', 'source reachable', 'fail', (err as Error).message, 'fix DBOPS_SOURCE_URL'));
    }
    if (conn) {
      const repo = storage.repo;
      const shippingLag = async (id: string): Promise<number | null> => (repo && (await repo.binlogs.sources()).includes(id) ? (await shippingStatus(repo, id)).lagSeconds : null);
      const found = await sourceChecks(conn, { maxLagSeconds: config.binlog.maxLagSeconds, shipping, shippingLag });
      info = found.info;
      checks.push(...found.checks);
    }
  }
  checks.push(...(await toolChecks(info)));
  checks.push(...storage.checks);
  checks.push(...(await keyChecks(config, storage.repo?.publicKey)));
  return { ok: !checks.some((c) => c.status === 'fail'), checks };
}
