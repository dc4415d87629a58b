// Object keys under `binlogs/<source-id>/`. layout.ts builds the same data/manifest key
// shapes but only accepts a MySQL server_uuid, while MariaDB sources are identified by
// readServerInfo's synthesised `mariadb-<server_id>-<hash>`; so shipping builds its keys
// here for both. Extra objects (gaps, shipper state) live one level deeper so that a
// reader looking for `<file>.json` segment manifests never mistakes them for one.
import { UsageError } from '../errors.js';
import { binlogsPrefix, BINLOG_DATA_SUFFIX, BINLOG_MANIFEST_SUFFIX } from '../storage/layout.js';
import { isBinlogName } from './file-names.js';

export const SOURCE_ID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mariadb-\d+-[0-9a-f]{12})$/;

export function assertSourceId(sourceId: string): void {
  if (!SOURCE_ID_RE.test(sourceId)) {
    throw new UsageError(`source id "${sourceId}" is not valid: expected a MySQL server_uuid or a MariaDB id like mariadb-1-0123456789ab (see dbops binlog status)`);
  }
}

function assertFile(file: string): void {
  if (!isBinlogName(file)) throw new UsageError(`binlog file name "${file}" is not valid: expected a name like binlog.000042`);
}

export function sourcePrefix(sourceId: string): string {
  assertSourceId(sourceId);
  return `${binlogsPrefix}${sourceId}/`;
}

export function segmentDataKey(sourceId: string, file: string): string {
  assertFile(file);
  return `${sourcePrefix(sourceId)}${file}${BINLOG_DATA_SUFFIX}`;
}

export function segmentManifestKey(sourceId: string, file: string): string {
  assertFile(file);
  return `${sourcePrefix(sourceId)}${file}${BINLOG_MANIFEST_SUFFIX}`;
}

export function gapsPrefix(sourceId: string): string {
  return `${sourcePrefix(sourceId)}gaps/`;
}

/** `binlogs/<id>/gaps/<from>-<to>.json`: the missing files, inclusive. */
export function gapKey(sourceId: string, from: string, to: string): string {
  assertFile(from);
  assertFile(to);
  return `${gapsPrefix(sourceId)}${from}-${to}.json`;
}

/** The shipper's last "caught up" heartbeat (see shipping-status.ts). */
export function shipperStateKey(sourceId: string): string {
  return `${sourcePrefix(sourceId)}state/shipper.json`;
}

/** The shipping lease of a source (one writer per repository and source; see storage/lease.ts). */
export function shipperLeasePrefix(sourceId: string): string {
  return `${sourcePrefix(sourceId)}state/`;
}

export type SourceKey =
  | { sourceId: string; kind: 'data' | 'manifest'; file: string }
  | { sourceId: string; kind: 'gap' | 'state' | 'other' };

/** Classify a key under `binlogs/`; undefined for keys outside it or with a bad source id. */
export function parseSourceKey(key: string): SourceKey | undefined {
  if (!key.startsWith(binlogsPrefix)) return undefined;
  const parts = key.slice(binlogsPrefix.length).split('/');
  const sourceId = parts[0] ?? '';
  if (!SOURCE_ID_RE.test(sourceId)) return undefined;
  if (parts.length === 2) {
    const name = parts[1]!;
    for (const [suffix, kind] of [[BINLOG_DATA_SUFFIX, 'data'], [BINLOG_MANIFEST_SUFFIX, 'manifest']] as const) {
      if (name.endsWith(suffix) && isBinlogName(name.slice(0, -suffix.length))) return { sourceId, kind, file: name.slice(0, -suffix.length) };
    }
  }
  if (parts.length === 3 && parts[1] === 'gaps' && parts[2]!.endsWith('.json')) return { sourceId, kind: 'gap' };
  if (parts.length === 3 && parts[1] === 'state') return { sourceId, kind: 'state' };
  return { sourceId, kind: 'other' };
}
