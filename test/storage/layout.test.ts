// The repository key layout and id format (BRIEF.md): ids sort by time, keys round-trip
// through their parsers, and bad ids are usage errors rather than odd keys.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  backupIdOfKey,
  backupIdsOfKeys,
  backupManifestKey,
  backupPartKey,
  backupPrefix,
  committedBackupIds,
  idTime,
  isBackupId,
  newBackupId,
  parseReportKey,
  parseSourceKey,
  partialDataKey,
  partialManifestKey,
  repoJsonKey,
  reportKey,
  segmentDataKey,
  segmentManifestKey,
} from '../../src/storage/layout.js';
import { capacityOf, DEFAULT_INITIAL_PART_SIZE, initialPartSize, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, partSizeFor, SEGMENTED_PART_CAP } from '../../src/storage/part-size.js';


describe('backup ids', () => {
  it('have the documented form and carry their time', () => {
    const id = newBackupId(new Date('2026-11-27T02:00:00.789Z'));
    expect(id).toMatch(/^20261127T020000Z-[a-z2-7]{6}$/);
    expect(isBackupId(id)).toBe(true);
    expect(idTime(id).toISOString()).toBe('2026-11-27T02:00:00.000Z');
  });

  it('sort by time, whatever the random suffix', () => {
    const times = ['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', '2026-01-09T23:59:59Z', '2026-01-10T00:00:00Z', '2027-01-01T00:00:00Z'];
    for (let round = 0; round < 20; round += 1) {
      const ids = times.map((t) => newBackupId(new Date(t)));
      expect([...ids].sort()).toEqual(ids);
    }
  });

  it('are random within one second', () => {
    const at = new Date('2026-05-05T05:05:05Z');
    expect(new Set(Array.from({ length: 50 }, () => newBackupId(at))).size).toBe(50);
  });

  it.each(['', 'latest', '20261127T020000Z', '20261127T020000Z-ABCDEF', '20261127T020000Z-abc', '../x'])('rejects %j', (bad) => {
    expect(isBackupId(bad)).toBe(false);
    expect(() => backupPrefix(bad)).toThrow(UsageError);
  });
});

describe('keys', () => {
  const id = '20261127T020000Z-abcdef';

  it('follow the repository layout', () => {
    expect(repoJsonKey).toBe('repo.json');
    expect(backupPrefix(id)).toBe(`backups/${id}/`);
    expect(backupManifestKey(id)).toBe(`backups/${id}/manifest.json`);
    expect(backupPartKey(id, 'tables/horizn/pageviews.sql.zst.age')).toBe(`backups/${id}/parts/tables/horizn/pageviews.sql.zst.age`);
    expect(reportKey(id, new Date('2026-12-31T23:59:59Z'))).toBe(`reports/2026/${id}.json`);
    expect(reportKey(id, new Date('2027-01-01T00:00:00Z'), 'html')).toBe(`reports/2027/${id}.html`);
  });

  it('reject names that would escape their folder', () => {
    expect(() => backupPartKey(id, '../../repo.json')).toThrow(UsageError);
  });

  it('parse back', () => {
    expect(parseReportKey(reportKey(id, new Date('2026-06-01T00:00:00Z')))).toEqual({ id, year: 2026, ext: 'json' });
    expect(parseReportKey('reports/2026/whatever.json')).toBeUndefined();
    expect(backupIdOfKey(backupPartKey(id, 'schema.sql.zst.age'))).toBe(id);
    expect(backupIdOfKey('backups/junk/manifest.json')).toBeUndefined();
    expect(backupIdOfKey('repo.json')).toBeUndefined();
  });

  it('count only backups with a manifest as committed', () => {
    const a = '20261101T020000Z-aaaaaa';
    const b = '20261102T020000Z-bbbbbb';
    const c = '20261103T020000Z-cccccc';
    const keys = [backupPartKey(c, 'x'), backupManifestKey(b), backupPartKey(b, 'x'), backupManifestKey(a), 'repo.json', 'backups/stray/manifest.json'];
    expect(committedBackupIds(keys)).toEqual([a, b]);
    expect(backupIdsOfKeys(keys)).toEqual([a, b, c]);
  });
});

describe('binlog keys', () => {
  const src = 'mariadb-7-0123456789ab';
  it('whole segments at the source level, partial segments two levels below, each parsed back', () => {
    expect(segmentDataKey(src, 'binlog.000042')).toBe(`binlogs/${src}/binlog.000042.zst.age`);
    expect(segmentManifestKey(src, 'binlog.000042')).toBe(`binlogs/${src}/binlog.000042.json`);
    expect(partialDataKey(src, 'binlog.000042', 3)).toBe(`binlogs/${src}/partial/binlog.000042/000003.zst.age`);
    expect(partialManifestKey(src, 'binlog.000042', 12)).toBe(`binlogs/${src}/partial/binlog.000042/000012.json`);
    expect(parseSourceKey(partialManifestKey(src, 'binlog.000042', 12))).toEqual({ sourceId: src, kind: 'partial-manifest', file: 'binlog.000042', part: 12 });
    expect(parseSourceKey(partialDataKey(src, 'binlog.000042', 1))).toEqual({ sourceId: src, kind: 'partial-data', file: 'binlog.000042', part: 1 });
    expect(parseSourceKey(segmentManifestKey(src, 'binlog.000042'))).toEqual({ sourceId: src, kind: 'manifest', file: 'binlog.000042' });
    expect(parseSourceKey(`binlogs/${src}/partial/binlog.000042/000000.json`)).toEqual({ sourceId: src, kind: 'other' });
    expect(parseSourceKey(`binlogs/${src}/partial/nope/000001.json`)).toEqual({ sourceId: src, kind: 'other' });
    expect(() => partialDataKey(src, 'binlog.000042', 0)).toThrow(UsageError);
  });
});

describe('multipart part-size schedule', () => {
  it('covers S3’s 5 TiB object limit within 10,000 parts from the default start', () => {
    expect(capacityOf(MAX_PARTS)).toBeGreaterThanOrEqual(5 * 1024 ** 4);
    expect(capacityOf(MAX_PARTS, MIN_PART_SIZE)).toBeGreaterThan(10_000 * MIN_PART_SIZE * 50);
  });

  it('grows monotonically within S3’s part limits', () => {
    let previous = 0;
    for (let n = 1; n <= MAX_PARTS; n += 1) {
      const size = partSizeFor(n);
      expect(size).toBeGreaterThanOrEqual(previous);
      expect(size).toBeGreaterThanOrEqual(MIN_PART_SIZE);
      expect(size).toBeLessThanOrEqual(MAX_PART_SIZE);
      previous = size;
    }
    expect(partSizeFor(1)).toBe(MIN_PART_SIZE);
    expect(partSizeFor(900)).toBe(MIN_PART_SIZE);
    expect(partSizeFor(901)).toBe(2 * MIN_PART_SIZE);
  });

  it('keeps a segmented upload’s parts at 8 MiB at most, so a 1 TB stream needs no bigger buffers, each object holding over 64 GiB', () => {
    for (let n = 1; n <= MAX_PARTS; n += 1) expect(partSizeFor(n, DEFAULT_INITIAL_PART_SIZE, SEGMENTED_PART_CAP)).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(partSizeFor(MAX_PARTS, initialPartSize(undefined, 1024 ** 4), SEGMENTED_PART_CAP)).toBe(8 * 1024 * 1024);
    expect(capacityOf(MAX_PARTS, DEFAULT_INITIAL_PART_SIZE, SEGMENTED_PART_CAP)).toBeGreaterThan(64 * 1024 ** 3);
  });

  it('starts bigger when a size hint says the object is huge', () => {
    expect(initialPartSize(undefined, 1024 ** 3)).toBe(MIN_PART_SIZE);
    expect(initialPartSize(undefined, 500 * 1024 ** 3)).toBe(103 * 1024 * 1024);
    expect(initialPartSize(1)).toBe(MIN_PART_SIZE);
  });
});
