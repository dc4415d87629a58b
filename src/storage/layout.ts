// The repository's object-key layout (BRIEF.md "Storage repository"), in one place so
// that no other module builds or parses keys by hand (restic's internal/backend/layout):
//   repo.json
//   backups/<backup-id>/parts/<part>            data objects
//   backups/<backup-id>/manifest.json           the commit marker, written last
//   binlogs/<source-id>/<file>.zst.age          one object per closed binlog
//   binlogs/<source-id>/<file>.json             its segment manifest
//   binlogs/<source-id>/partial/<file>/<part>.zst.age|.json  the active file's growth, until it closes
//   binlogs/<source-id>/gaps/<from>-<to>.json   files the repository will never have
//   binlogs/<source-id>/state/shipper.json      the shipper's heartbeat (unlocked)
//   checksums/<id>.json                         source content checksums
//   reports/<yyyy>/<report-id>.json|.html       restore-test reports
//   archive/<database>/<table>/<partition>.sql.zst.age|.json  archived partitions
//   evidence/<sequence>-<hash>.json             the hash-chained evidence log
//   monitor/<source-id>/storage/<day>.json      daily storage samples (database monitoring)
//   monitor/<source-id>/error-log.json          how far the server error log was read
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { isBinlogName } from '../binlog/file-names.js';
import { assertValidKey } from './keys.js';

export const repoJsonKey = 'repo.json';
export const backupsPrefix = 'backups/';
export const binlogsPrefix = 'binlogs/';
export const reportsPrefix = 'reports/';

const ID_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-([a-z2-7]{6})$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const BINLOG_DATA_SUFFIX = '.zst.age';
export const BINLOG_MANIFEST_SUFFIX = '.json';

/** `20261127T020000Z-k3x9qa`: UTC second, then 6 random base32 characters. Sorts by time. */
export function newBackupId(date: Date = new Date()): string {
  const stamp = date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  const bytes = randomBytes(6);
  let suffix = '';
  for (const byte of bytes) suffix += BASE32[byte & 31];
  return `${stamp}-${suffix}`;
}

/** Report ids use the same time-sortable format. */
export const newReportId = newBackupId;

export function isBackupId(id: string): boolean {
  return ID_RE.test(id);
}

/** The time encoded in an id (second precision, UTC). */
export function idTime(id: string): Date {
  const m = ID_RE.exec(id);
  if (!m) throw invalidId(id);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function backupPrefix(id: string): string {
  assertId(id);
  return `${backupsPrefix}${id}/`;
}

export function backupManifestKey(id: string): string {
  return `${backupPrefix(id)}manifest.json`;
}

export function backupPartsPrefix(id: string): string {
  return `${backupPrefix(id)}parts/`;
}

/** `partName` may contain `/` (e.g. `tables/horizn/pageviews.sql.zst.age`). */
export function backupPartKey(id: string, partName: string): string {
  const key = `${backupPartsPrefix(id)}${partName}`;
  assertValidKey(key);
  return key;
}

/** `reports/<yyyy>/<id>.json` (or `.html`); the year is the report date's, in UTC. */
export function reportKey(id: string, date: Date, ext: 'json' | 'html' = 'json'): string {
  assertId(id);
  return `${reportsPrefix}${date.getUTCFullYear()}/${id}.${ext}`;
}

/** Backup id of any key under `backups/<id>/`, else undefined. */
export function backupIdOfKey(key: string): string | undefined {
  if (!key.startsWith(backupsPrefix)) return undefined;
  const id = key.slice(backupsPrefix.length).split('/')[0] ?? '';
  return isBackupId(id) ? id : undefined;
}

export function isBackupManifestKey(key: string): boolean {
  const id = backupIdOfKey(key);
  return id !== undefined && key === backupManifestKey(id);
}

/**
 * Ids of committed backups (those with a manifest), oldest first. Data objects without
 * a manifest are an unfinished backup and do not count.
 */
export function committedBackupIds(keys: Iterable<string>): string[] {
  const ids = new Set<string>();
  for (const key of keys) if (isBackupManifestKey(key)) ids.add(backupIdOfKey(key)!);
  return [...ids].sort();
}

/** Every backup id that has any object (committed or not), oldest first. */
export function backupIdsOfKeys(keys: Iterable<string>): string[] {
  const ids = new Set<string>();
  for (const key of keys) {
    const id = backupIdOfKey(key);
    if (id) ids.add(id);
  }
  return [...ids].sort();
}


/** Parse `reports/<yyyy>/<id>.json|.html`, else undefined. */
export function parseReportKey(key: string): { id: string; year: number; ext: 'json' | 'html' } | undefined {
  const m = /^reports\/(\d{4})\/([^/]+)\.(json|html)$/.exec(key);
  if (!m || !isBackupId(m[2]!)) return undefined;
  return { id: m[2]!, year: Number(m[1]), ext: m[3] as 'json' | 'html' };
}

function assertId(id: string): void {
  if (!isBackupId(id)) throw invalidId(id);
}

function invalidId(id: string): UsageError {
  return new UsageError(`id "${id}" is not valid: expected the form 20261127T020000Z-k3x9qa (see dbops list)`);
}


// Partition archives (retention): archive/<database>/<table>/<partition>.sql.zst.age holds the
// partition's rows as SQL, archive/<database>/<table>/<partition>.json its signed manifest, written
// last (the commit marker). The database is part of the key so that two databases with the same
// tables can share a repository. Archives written before that have no database segment
// (archive/<table>/<partition>…): readers still find them, and their manifest names the database.
export const archivePrefix = 'archive/';
const ARCHIVE_NAME_RE = /^[A-Za-z0-9_$]{1,64}$/;
export const ARCHIVE_DATA_SUFFIX = '.sql.zst.age';
export const ARCHIVE_MANIFEST_SUFFIX = '.json';

function assertArchiveName(what: string, name: string): void {
  if (!ARCHIVE_NAME_RE.test(name)) throw new UsageError(`${what} name "${name}" is not valid: expected letters, digits, _ or $ (like pageviews / p20261127)`);
}

function archiveStem(database: string, table: string, partition: string): string {
  assertArchiveName('database', database);
  assertArchiveName('table', table);
  assertArchiveName('partition', partition);
  return `${archivePrefix}${database}/${table}/${partition}`;
}

export function archiveKey(database: string, table: string, partition: string): string {
  return `${archiveStem(database, table, partition)}${ARCHIVE_DATA_SUFFIX}`;
}

export function archiveManifestKey(database: string, table: string, partition: string): string {
  return `${archiveStem(database, table, partition)}${ARCHIVE_MANIFEST_SUFFIX}`;
}

/** Where an archive written before keys carried the database keeps its manifest. */
export function legacyArchiveManifestKey(table: string, partition: string): string {
  assertArchiveName('table', table);
  assertArchiveName('partition', partition);
  return `${archivePrefix}${table}/${partition}${ARCHIVE_MANIFEST_SUFFIX}`;
}

export interface ArchiveKeyParts {
  /** Undefined for the legacy layout without a database segment. */
  database?: string;
  table: string;
  partition: string;
  kind: 'data' | 'manifest';
}

/** Parses any key under archive/ (either layout); undefined for anything else. */
export function parseArchiveKey(key: string): ArchiveKeyParts | undefined {
  if (!key.startsWith(archivePrefix)) return undefined;
  const segs = key.slice(archivePrefix.length).split('/');
  const file = segs.at(-1) ?? '';
  const kind = file.endsWith(ARCHIVE_DATA_SUFFIX) ? 'data' : file.endsWith(ARCHIVE_MANIFEST_SUFFIX) ? 'manifest' : undefined;
  if (!kind || (segs.length !== 2 && segs.length !== 3)) return undefined;
  const partition = file.slice(0, file.length - (kind === 'data' ? ARCHIVE_DATA_SUFFIX : ARCHIVE_MANIFEST_SUFFIX).length);
  const names = [...segs.slice(0, -1), partition];
  if (!names.every((n) => ARCHIVE_NAME_RE.test(n))) return undefined;
  return segs.length === 3 ? { database: segs[0]!, table: segs[1]!, partition, kind } : { table: segs[0]!, partition, kind };
}

// Binlog sources: a MySQL server_uuid, or MariaDB's synthesised `mariadb-<server_id>-<hash>`
// (see mysql/server-info.ts). Gaps and the heartbeat live one level deeper so that a reader
// looking for `<file>.json` segment manifests never mistakes them for one.
export const SOURCE_ID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mariadb-\d+-[0-9a-f]{12})$/;

export function assertSourceId(sourceId: string): void {
  if (!SOURCE_ID_RE.test(sourceId)) {
    throw new UsageError(`source id "${sourceId}" is not valid: expected a MySQL server_uuid or a MariaDB id like mariadb-1-0123456789ab (see dbops binlog status)`);
  }
}

function assertBinlogFile(file: string): void {
  if (!isBinlogName(file)) throw new UsageError(`binlog file name "${file}" is not valid: expected a name like binlog.000042`);
}

export function sourcePrefix(sourceId: string): string {
  assertSourceId(sourceId);
  return `${binlogsPrefix}${sourceId}/`;
}

export function segmentDataKey(sourceId: string, file: string): string {
  assertBinlogFile(file);
  return `${sourcePrefix(sourceId)}${file}${BINLOG_DATA_SUFFIX}`;
}

export function segmentManifestKey(sourceId: string, file: string): string {
  assertBinlogFile(file);
  return `${sourcePrefix(sourceId)}${file}${BINLOG_MANIFEST_SUFFIX}`;
}

export function gapsPrefix(sourceId: string): string {
  return `${sourcePrefix(sourceId)}gaps/`;
}

/** `binlogs/<id>/gaps/<from>-<to>.json`: the missing files, inclusive. */
export function gapKey(sourceId: string, from: string, to: string): string {
  assertBinlogFile(from);
  assertBinlogFile(to);
  return `${gapsPrefix(sourceId)}${from}-${to}.json`;
}

/** The shipper's heartbeat (see binlog/shipping-status.ts). */
export function shipperStateKey(sourceId: string): string {
  return `${sourcePrefix(sourceId)}state/shipper.json`;
}

/** The shipping lease of a source (one writer per repository and source; see storage/lease.ts). */
export function shipperLeasePrefix(sourceId: string): string {
  return `${sourcePrefix(sourceId)}state/`;
}

// Partial segments: the growth of the file the source is still writing, shipped part by
// part (each part's bytes follow the previous part's) so that the newest transactions are
// offsite within seconds without rotating the binlog. Two levels below the source, so a
// reader of `<file>.json` whole-file manifests never meets them; removed once the whole
// file is shipped. Part numbers are 6 digits, so a listing sorts them.
const PART_RE = /^(\d{6})$/;

export function partialsPrefix(sourceId: string): string {
  return `${sourcePrefix(sourceId)}partial/`;
}

export function partialFilePrefix(sourceId: string, file: string): string {
  assertBinlogFile(file);
  return `${partialsPrefix(sourceId)}${file}/`;
}

function partialStem(sourceId: string, file: string, part: number): string {
  if (!Number.isSafeInteger(part) || part < 1 || part > 999_999) throw new UsageError(`partial segment number ${part} is out of range 1-999999`);
  return `${partialFilePrefix(sourceId, file)}${String(part).padStart(6, '0')}`;
}

export function partialDataKey(sourceId: string, file: string, part: number): string {
  return `${partialStem(sourceId, file, part)}${BINLOG_DATA_SUFFIX}`;
}

export function partialManifestKey(sourceId: string, file: string, part: number): string {
  return `${partialStem(sourceId, file, part)}${BINLOG_MANIFEST_SUFFIX}`;
}

export type SourceKey =
  | { sourceId: string; kind: 'data' | 'manifest'; file: string }
  | { sourceId: string; kind: 'partial-data' | 'partial-manifest'; file: string; part: number }
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
  if (parts.length === 4 && parts[1] === 'partial' && isBinlogName(parts[2]!)) {
    for (const [suffix, kind] of [[BINLOG_DATA_SUFFIX, 'partial-data'], [BINLOG_MANIFEST_SUFFIX, 'partial-manifest']] as const) {
      const m = parts[3]!.endsWith(suffix) ? PART_RE.exec(parts[3]!.slice(0, -suffix.length)) : null;
      if (m && Number(m[1]) >= 1) return { sourceId, kind, file: parts[2]!, part: Number(m[1]) };
    }
  }
  if (parts.length === 3 && parts[1] === 'gaps' && parts[2]!.endsWith('.json')) return { sourceId, kind: 'gap' };
  if (parts.length === 3 && parts[1] === 'state') return { sourceId, kind: 'state' };
  return { sourceId, kind: 'other' };
}

// Source content checksums: checksums/<id>.json, ids in the backup id form (time-sortable).
export const checksumsPrefix = 'checksums/';

export function checksumKey(id: string): string {
  assertId(id);
  return `${checksumsPrefix}${id}.json`;
}

/** Id of `checksums/<id>.json`, else undefined. */
export function parseChecksumKey(key: string): string | undefined {
  const m = /^checksums\/([^/]+)\.json$/.exec(key);
  return m && isBackupId(m[1]!) ? m[1] : undefined;
}

// The evidence log: evidence/<sequence, 12 digits>.json, each entry created only where its
// key is free (storage/conditional-create.ts), so two writers cannot both append entry N;
// evidence/head.json points at the newest entry so a truncated tail is noticed.
export const evidencePrefix = 'evidence/';
export const evidenceHeadKey = 'evidence/head.json';
const EVIDENCE_RE = /^evidence\/(\d{12})\.json$/;

export function evidenceKey(sequence: number): string {
  if (!Number.isSafeInteger(sequence) || sequence < 1 || sequence >= 1e12) throw new UsageError(`evidence sequence ${sequence} is out of range`);
  return `${evidencePrefix}${String(sequence).padStart(12, '0')}.json`;
}

/** Sequence number of `evidence/<n>.json`, else undefined. */
export function parseEvidenceKey(key: string): number | undefined {
  const m = EVIDENCE_RE.exec(key);
  return m ? Number(m[1]) : undefined;
}

// Database monitoring: monitor/<source-id>/storage/<yyyy-mm-dd>.json holds one signed storage sample
// per day (per-table data + index bytes: the history growth is fitted to), and
// monitor/<source-id>/error-log.json how far the daemon has read the server's error log.
export const monitorPrefix = 'monitor/';
const SAMPLE_RE = /^monitor\/([^/]+)\/storage\/(\d{4}-\d{2}-\d{2})\.json$/;

export function storageSamplesPrefix(sourceId: string): string {
  assertSourceId(sourceId);
  return `${monitorPrefix}${sourceId}/storage/`;
}

export function storageSampleKey(sourceId: string, day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new UsageError(`day "${day}" is not valid: expected YYYY-MM-DD`);
  return `${storageSamplesPrefix(sourceId)}${day}.json`;
}

/** Source and day of `monitor/<source-id>/storage/<day>.json`, else undefined. */
export function parseStorageSampleKey(key: string): { sourceId: string; day: string } | undefined {
  const m = SAMPLE_RE.exec(key);
  return m && SOURCE_ID_RE.test(m[1]!) ? { sourceId: m[1]!, day: m[2]! } : undefined;
}

export function errorLogPositionKey(sourceId: string): string {
  assertSourceId(sourceId);
  return `${monitorPrefix}${sourceId}/error-log.json`;
}
