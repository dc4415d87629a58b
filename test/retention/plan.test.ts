// The retention planner over simulated months: hourly binlogs, a daily backup, a prune
// every day with the plan applied to the simulated repository. After every prune each
// quarter hour of the PITR window that had a restore plan before still has one (checked
// by an independent planExists), and the GFS, newest-backup and legal-hold rules hold.
import { describe, it, expect } from 'vitest';
import { planRetention } from '../../src/retention/plan.js';
import { checkChainsKept } from '../../src/retention/apply-plan.js';
import { bucketOf } from '../../src/retention/gfs.js';
import type { BackupFacts, RetentionPolicy, SegmentFacts } from '../../src/retention/types.js';

const SRC = 'mariadb-1-0123456789ab';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const policy: RetentionPolicy = { daily: 7, weekly: 4, monthly: 3, pitrWindowMs: 7 * DAY, graceForIncompleteMs: DAY, legalHoldLabel: 'legal-hold' };
const iso = (ms: number): string => new Date(ms).toISOString();
/** What a backup of every database holds (one database, no accounts part). */
const ALL = { databases: ['app'], accounts: false };
const file = (seq: number): string => `binlog.${String(seq).padStart(6, '0')}`;

/** Segment n holds the events of hour n (from T0); closed and shipped when the hour ends. */
function segment(seq: number): SegmentFacts {
  return { serverUuid: SRC, file: file(seq), sequence: seq, firstEventTime: iso(T0 + seq * HOUR), lastEventTime: iso(T0 + (seq + 1) * HOUR - 1000), storedBytes: 1000 };
}

/** Independent of the planner: is there a full + unbroken binlog chain that reaches `t`? */
function planExists(t: number, backups: BackupFacts[], segments: SegmentFacts[]): boolean {
  return checker(backups, segments)(t);
}

/** planExists for many points over one state: each segment knows where its unbroken run starts. */
function checker(backups: BackupFacts[], segments: SegmentFacts[]): (t: number) => boolean {
  const sorted = [...segments].sort((a, b) => a.sequence - b.sequence);
  const runStart = new Map<number, number>();
  for (const s of sorted) runStart.set(s.sequence, runStart.get(s.sequence - 1) ?? s.sequence);
  const spans = sorted.map((s) => ({ s, from: Date.parse(s.firstEventTime), to: Date.parse(s.lastEventTime) + 1000 }));
  const done = backups.map((b) => ({ b, at: Date.parse(b.completedAt) }));
  return (t) => {
    const target = spans.find((x) => x.from <= t && t <= x.to)?.s;
    for (const { b, at } of done) {
      const done = at;
      if (done > t) continue;
      if (done === t) return true;
      if (!b.cpFile || !target) continue;
      const from = Number(b.cpFile.slice(-6));
      // The chain from the backup's file to the target's file has every file.
      if (from <= target.sequence && runStart.get(target.sequence)! <= from) return true;
    }
    return false;
  };
}

interface World {
  backups: BackupFacts[];
  segments: SegmentFacts[];
}

function windowPoints(now: number, world: World): number[] {
  const shippedUntil = Math.max(...world.segments.map((s) => Date.parse(s.lastEventTime)));
  const out: number[] = [];
  for (let t = now - policy.pitrWindowMs; t <= Math.min(now, shippedUntil); t += 15 * 60_000) out.push(t);
  return out;
}

function prune(world: World, now: number): { deletedBackups: string[]; deletedSegments: number } {
  const plan = planRetention({ backups: world.backups, unverified: [], segments: world.segments, gaps: [], debris: [], now: new Date(now), policy });
  const gone = new Set(plan.backups.filter((b) => b.action === 'delete').map((b) => b.id));
  const goneSegs = new Set(plan.sources.flatMap((s) => s.deleted.map((d) => d.sequence)));
  world.backups = world.backups.filter((b) => !gone.has(b.id));
  world.segments = world.segments.filter((s) => !goneSegs.has(s.sequence));
  return { deletedBackups: [...gone], deletedSegments: goneSegs.size };
}

describe('retention planner over 120 simulated days', () => {
  it('keeps every point of the window restorable, prune after prune', () => {
    const world: World = { backups: [], segments: [] };
    // Faults: hours never shipped (a gap), a day without backup, one without binlog position, a held backup.
    const missing = new Set([40 * 24 + 11, 40 * 24 + 12, 95 * 24 + 5]);
    let held = '';
    let checkedPoints = 0;
    for (let day = 0; day < 120; day++) {
      for (let h = 0; h < 24; h++) {
        const seq = day * 24 + h;
        // Hour `seq` is shipped when it ends; the backup of the day runs at 02:00 in file of hour 2.
        if (h === 3 && day !== 50) {
          const id = `${iso(T0 + day * DAY + 2 * HOUR).replace(/[-:]|\.\d{3}/g, '')}-aaaaaa`;
          const b: BackupFacts = { id, serverUuid: SRC, ...ALL, completedAt: iso(T0 + day * DAY + 2 * HOUR + 10 * 60_000), cpFile: day === 70 ? null : file(day * 24 + 2), labels: {}, storedBytes: 10_000 };
          if (day === 20) {
            b.labels = { 'legal-hold': 'case-42' };
            held = id;
          }
          world.backups.push(b);
        }
        if (seq >= 1 && !missing.has(seq - 1)) world.segments.push(segment(seq - 1));
        if (h !== 3) continue;
        const now = T0 + day * DAY + 3 * HOUR + 30 * 60_000;
        const points = windowPoints(now, world);
        const before = points.filter(checker(world.backups, world.segments));
        const newest = world.backups.at(-1)!.id;
        const beforeSegs = world.segments.map((s) => s.sequence);
        prune(world, now);
        const after = before.filter(checker(world.backups, world.segments));
        expect(after.map(iso), `day ${day}: points that lost their restore plan`).toEqual(before.map(iso));
        checkedPoints += before.length;
        // No gap inside the window: everything from the window start on is restorable.
        const windowStart = now - policy.pitrWindowMs;
        const gapInWindow = [...missing].some((s) => (s + 1) * HOUR + T0 > windowStart);
        if (day >= 8 && !gapInWindow) expect(before.length, `day ${day}`).toBe(points.length);
        expect(world.backups.map((b) => b.id)).toContain(newest);
        if (held) expect(world.backups.map((b) => b.id)).toContain(held);
        // Segments go from the front only: no new holes.
        const left = world.segments.map((s) => s.sequence);
        const leftSet = new Set(left);
        const lost = beforeSegs.filter((s) => !leftSet.has(s));
        if (left.length && lost.length) expect(Math.max(...lost)).toBeLessThan(Math.min(...left));
      }
    }
    expect(checkedPoints).toBeGreaterThan(100 * 600);
    // What is left after 120 days: bounded, and it is the GFS shape.
    const ids = world.backups.map((b) => b.id);
    expect(world.backups.length).toBeLessThanOrEqual(policy.daily + policy.weekly + policy.monthly + 2);
    const months = new Set(world.backups.map((b) => bucketOf('monthly', b.completedAt)));
    expect(months.size).toBeGreaterThanOrEqual(3);
    const weeks = new Set(world.backups.map((b) => bucketOf('weekly', b.completedAt)));
    expect(weeks.size).toBeGreaterThanOrEqual(4);
    expect(ids).toContain(held);
    // Binlogs older than the window's anchor are gone (about 8 days of hourly files remain).
    expect(world.segments.length).toBeLessThan(9 * 24);
    expect(world.segments.length).toBeGreaterThan(7 * 24);
  });

  it('the checker is not vacuous: dropping the anchor the plan keeps breaks the window start', () => {
    const world: World = { backups: [], segments: [] };
    for (let day = 0; day < 10; day++) {
      world.backups.push({ id: `d${day}`, serverUuid: SRC, ...ALL, completedAt: iso(T0 + day * DAY + 2 * HOUR + 600_000), cpFile: file(day * 24 + 2), labels: {}, storedBytes: 1 });
    }
    for (let seq = 0; seq < 10 * 24; seq++) world.segments.push(segment(seq));
    const now = T0 + 9 * DAY + 12 * HOUR;
    const plan = planRetention({ backups: world.backups, unverified: [], segments: world.segments, gaps: [], debris: [], now: new Date(now), policy: { ...policy, daily: 1, weekly: 0, monthly: 0 } });
    const kept = plan.backups.filter((b) => b.action === 'keep');
    expect(kept.map((b) => b.id)).toEqual(['d2', 'd9']);
    expect(kept[0]!.reasons.join()).toMatch(/newest full at or before the window start/);
    expect(plan.sources[0]!.keepFrom).toBe(file(2 * 24 + 2));
    const windowStart = now - 7 * DAY;
    const keptFacts = world.backups.filter((b) => kept.some((k) => k.id === b.id));
    const without = keptFacts.filter((b) => b.id !== 'd2');
    expect(planExists(windowStart, keptFacts, world.segments)).toBe(true);
    expect(planExists(windowStart, without, world.segments)).toBe(false);
  });

  it('keeps the first full after a gap inside the window, and debris only after the grace', () => {
    const backups: BackupFacts[] = [0, 1, 2, 3].map((day) => ({ id: `d${day}`, serverUuid: SRC, ...ALL, completedAt: iso(T0 + day * DAY + 2 * HOUR + 600_000), cpFile: file(day * 24 + 2), labels: {}, storedBytes: 1 }));
    const segments = Array.from({ length: 4 * 24 }, (_, s) => segment(s)).filter((s) => s.sequence !== 30);
    const now = T0 + 3 * DAY + 12 * HOUR;
    const plan = planRetention({
      backups,
      unverified: [{ id: 'bad', problem: 'signature does not verify' }],
      segments,
      gaps: [{ serverUuid: SRC, from: file(30), to: file(30), key: 'binlogs/x/gaps/y.json' }],
      debris: [
        { kind: 'incomplete-backup', name: 'old', modified: iso(now - 2 * DAY), bytes: 5, keys: ['backups/old/parts/1'] },
        { kind: 'incomplete-backup', name: 'fresh', modified: iso(now - HOUR), bytes: 5, keys: ['backups/fresh/parts/1'] },
      ],
      now: new Date(now),
      policy: { ...policy, daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 3 * DAY },
    });
    const action = Object.fromEntries(plan.backups.map((b) => [b.id, b.action]));
    // d0 anchors the window; its chain (and d1's) breaks at file 30, so d2 is the first full after the gap.
    expect(action).toEqual({ d0: 'keep', d1: 'delete', d2: 'keep', d3: 'keep' });
    expect(plan.backups.find((b) => b.id === 'd2')!.reasons.join()).toMatch(/first full after the binlog gap/);
    expect(plan.sources[0]!.deleted.map((s) => s.sequence)).toEqual([0, 1]);
    expect(plan.sources[0]!.deletedGapRecords).toEqual([]);
    expect(plan.unverified[0]!.action).toBe('keep');
    expect(plan.debris.map((d) => [d.name, d.action])).toEqual([['old', 'delete'], ['fresh', 'keep']]);
  });

  it('partial segments: a prefix is a segment (kept at the chain\'s end, cut like a whole file before the window), replaced parts go at once, parts without a verified one only after the grace', () => {
    const backups: BackupFacts[] = [0, 1, 2].map((day) => ({ id: `d${day}`, serverUuid: SRC, ...ALL, completedAt: iso(T0 + day * DAY + 2 * HOUR + 600_000), cpFile: file(day * 24 + 2), labels: {}, storedBytes: 1 }));
    const prefix = (seq: number): SegmentFacts => ({ ...segment(seq), partial: { manifests: [`p/${seq}/000002.json`, `p/${seq}/000001.json`], data: [`p/${seq}/000001.zst.age`, `p/${seq}/000002.zst.age`] } });
    // File 1 was purged on the source before it closed (its parts are all the repository has); 72 is the file the source is writing.
    const segments = [prefix(1), ...Array.from({ length: 70 }, (_, s) => segment(s + 2)), prefix(72)];
    const now = T0 + 3 * DAY;
    const plan = planRetention({
      backups,
      unverified: [],
      segments,
      gaps: [],
      debris: [
        { kind: 'replaced-partial-segments', name: 'p/60/', modified: iso(now - 60_000), bytes: 5, keys: ['p/60/000001.json', 'p/60/000001.zst.age'] },
        { kind: 'orphan-segment-data', name: 'p/73/', modified: iso(now - 60_000), bytes: 5, keys: ['p/73/000001.zst.age'] },
      ],
      now: new Date(now),
      policy: { ...policy, daily: 1, weekly: 0, monthly: 0, pitrWindowMs: DAY },
    });
    const src = plan.sources[0]!;
    expect(src.deleted.map((s) => s.sequence)).toContain(1);
    expect(src.deleted.find((s) => s.sequence === 1)!.partial!.manifests[0]).toBe('p/1/000002.json');
    expect(src.deleted.map((s) => s.sequence)).not.toContain(72);
    expect(planExists(now - 60_000, backups.filter((b) => plan.backups.find((x) => x.id === b.id)!.action === 'keep'), segments.filter((s) => !src.deleted.some((d) => d.sequence === s.sequence)))).toBe(true);
    expect(plan.debris.map((d) => [d.name, d.action])).toEqual([['p/60/', 'delete'], ['p/73/', 'keep']]);
  });

  it('keepAtLeastUntil (what prune raises Object Lock to) never outlives the plan, over 150 simulated days', () => {
    // The lock prune sets on a kept backup must have ended by the time a later plan
    // deletes it, or prune would be blocked by its own lock. Each backup remembers the
    // latest date any plan promised; deletion must come at or after it.
    for (const p of [policy, { ...policy, daily: 3, weekly: 2, monthly: 2 }, { ...policy, daily: 10, weekly: 0, monthly: 1, pitrWindowMs: 2 * DAY }]) {
      const world: World = { backups: [], segments: [] };
      const promised = new Map<string, number>();
      const missing = new Set([40 * 24 + 11, 95 * 24 + 5]);
      let deleted = 0;
      let longest = 0;
      for (let day = 0; day < 150; day++) {
        for (let h = 0; h < 24; h++) {
          const seq = day * 24 + h;
          // Backups at 02:00, none on day 50 and every day from 60 to 66, two on day 80, none with a binlog position on day 70.
          const takes = (day === 50 || (day >= 60 && day <= 66) ? 0 : day === 80 ? 2 : 1);
          if (h === 3) {
            for (let k = 0; k < takes; k++) {
              const at = T0 + day * DAY + (2 + k * 10) * HOUR;
              world.backups.push({ id: `${iso(at).replace(/[-:]|\.\d{3}/g, '')}-aaaaaa`, serverUuid: SRC, ...ALL, completedAt: iso(at + 600_000), cpFile: day === 70 ? null : file(day * 24 + 2 + k * 10), labels: {}, storedBytes: 1 });
            }
          }
          if (seq >= 1 && !missing.has(seq - 1)) world.segments.push(segment(seq - 1));
          if (h !== 3) continue;
          const now = T0 + day * DAY + 3 * HOUR + 30 * 60_000;
          const plan = planRetention({ backups: world.backups, unverified: [], segments: world.segments, gaps: [], debris: [], now: new Date(now), policy: p });
          for (const b of plan.backups) {
            if (b.action === 'delete') {
              expect(now, `${b.id} deleted on day ${day} before the lock promised by an earlier plan (${iso(promised.get(b.id) ?? 0)})`).toBeGreaterThanOrEqual(promised.get(b.id) ?? 0);
              deleted++;
            } else if (b.keepAtLeastUntil) {
              const at = Date.parse(b.keepAtLeastUntil);
              promised.set(b.id, Math.max(promised.get(b.id) ?? 0, at));
              longest = Math.max(longest, at - Date.parse(b.completedAt));
            }
            expect(b.legalHold).toBe(false);
          }
          const gone = new Set(plan.backups.filter((b) => b.action === 'delete').map((b) => b.id));
          const goneSegs = new Set(plan.sources.flatMap((s) => s.deleted.map((d) => d.sequence)));
          world.backups = world.backups.filter((b) => !gone.has(b.id));
          world.segments = world.segments.filter((s) => !goneSegs.has(s.sequence));
        }
      }
      expect(deleted).toBeGreaterThan(50);
      // With two or more monthlies, a month's last backup is promised weeks, not just the window.
      if (p.monthly >= 2) expect(longest).toBeGreaterThan(28 * DAY);
    }
  });

  it('states the keep-until bounds a kept backup gets, and legal hold apart', () => {
    const day = (d: number, h = 2): string => iso(T0 + d * DAY + h * HOUR);
    // 2026-01-01 is a Thursday. Backups on Jan 1…5; now = Jan 5 (Monday) 12:00.
    const backups: BackupFacts[] = [0, 1, 2, 3, 4].map((d) => ({ id: `d${d}`, serverUuid: SRC, ...ALL, completedAt: day(d), cpFile: file(d * 24 + 2), labels: (d === 1 ? { 'legal-hold': 'case-9' } : {}) as Record<string, string>, storedBytes: 1 }));
    const segments = Array.from({ length: 5 * 24 }, (_, s) => segment(s));
    const now = new Date(T0 + 4 * DAY + 12 * HOUR);
    const plan = planRetention({ backups, unverified: [], segments, gaps: [], debris: [], now, policy: { ...policy, daily: 3, weekly: 2, monthly: 1, pitrWindowMs: 2 * DAY } });
    const by = Object.fromEntries(plan.backups.map((b) => [b.id, b]));
    // d4 is the newest of today, this week and this month, all still running: a newer backup may
    // take its place any moment, so no rule promises it anything (its upload lock covers it).
    expect(by.d4).toMatchObject({ action: 'keep', keepAtLeastUntil: null });
    // d3 (Sunday): daily 2 of 3 → two more days with a backup, Jan 6 and 7 at the earliest;
    // weekly 2 of 2 of the ended week 2026-W01 → out when a week after this one (which has d4) gets one: Jan 12.
    expect(by.d3!.keepAtLeastUntil).toBe('2026-01-12T00:00:00.000Z');
    // d2: daily 3 of 3 → Jan 6; anchor of the 2-day window → the next full (d3, Jan 4 02:00) + 2 days.
    expect(by.d2!.keepAtLeastUntil).toBe('2026-01-06T02:00:00.000Z');
    expect(by.d2!.reasons.join()).toMatch(/daily.*pitr: newest full at or before the window start/);
    // d1: legal hold only: no date, a hold. d0: superseded in its week by d3, beyond the counts.
    expect(by.d1).toMatchObject({ action: 'keep', keepAtLeastUntil: null, legalHold: true });
    expect(by.d0).toMatchObject({ action: 'delete', keepAtLeastUntil: null, legalHold: false });
  });

  it('with mixed scopes, every database keeps its newest backup and its window, prune after prune, over 120 simulated days', () => {
    // Daily backups of `a` only; `b` on its own every fifth day; every database (and the
    // accounts every other time) once a week. `c` is only ever in the weekly ones, so a
    // planner that counted backups rather than databases would delete c's only copies.
    const world: World = { backups: [], segments: [] };
    const missing = new Set([40 * 24 + 11, 40 * 24 + 12]);
    const scopes = ['a', 'b', 'c', 'accounts'] as const;
    const holds = (b: BackupFacts, scope: (typeof scopes)[number]): boolean => (scope === 'accounts' ? b.accounts : b.databases.includes(scope));
    const promised = new Map<string, number>();
    let deleted = 0;
    let checkedPoints = 0;
    for (let day = 0; day < 120; day++) {
      for (let h = 0; h < 24; h++) {
        const seq = day * 24 + h;
        if (seq >= 1 && !missing.has(seq - 1)) world.segments.push(segment(seq - 1));
        const take = (hour: number, databases: string[], accounts: boolean): void => {
          const at = T0 + day * DAY + hour * HOUR;
          world.backups.push({ id: `${iso(at).replace(/[-:]|\.\d{3}/g, '')}-${databases.join('')}`, serverUuid: SRC, databases, accounts, completedAt: iso(at + 600_000), cpFile: file(day * 24 + hour), labels: {}, storedBytes: 1 });
        };
        if (h === 3 && day !== 50) take(2, ['a'], false);
        if (h === 5 && day % 7 === 3) take(4, ['a', 'b', 'c'], day % 14 === 3);
        if (h === 7 && day % 5 === 1) take(6, ['b'], false);
        if (h !== 8) continue;
        const now = T0 + day * DAY + 7 * HOUR + 30 * 60_000;
        const points = windowPoints(now, world);
        const before = scopes.map((scope) => {
          const holders = world.backups.filter((b) => holds(b, scope));
          const newest = holders.sort((x, y) => x.completedAt.localeCompare(y.completedAt)).at(-1)?.id;
          return { scope, newest, restorable: scope === 'accounts' ? [] : points.filter(checker(holders, world.segments)) };
        });
        const plan = planRetention({ backups: world.backups, unverified: [], segments: world.segments, gaps: [], debris: [], now: new Date(now), policy });
        for (const b of plan.backups) {
          if (b.action === 'delete') {
            expect(now, `${b.id} deleted on day ${day} before the lock an earlier plan promised`).toBeGreaterThanOrEqual(promised.get(b.id) ?? 0);
            deleted++;
          } else if (b.keepAtLeastUntil) promised.set(b.id, Math.max(promised.get(b.id) ?? 0, Date.parse(b.keepAtLeastUntil)));
        }
        const beforeSegs = world.segments.map((s) => s.sequence);
        prune(world, now);
        const ids = new Set(world.backups.map((b) => b.id));
        for (const { scope, newest, restorable } of before) {
          if (newest) expect(ids.has(newest), `day ${day}: the newest backup of ${scope} (${newest}) was deleted`).toBe(true);
          const after = restorable.filter(checker(world.backups.filter((b) => holds(b, scope)), world.segments));
          expect(after.map(iso), `day ${day}: points of ${scope} that lost their restore plan`).toEqual(restorable.map(iso));
          checkedPoints += restorable.length;
        }
        for (const { scope, newest } of before) {
          const entry = plan.coverage.find((c) => (scope === 'accounts' ? c.scope === 'accounts' : c.database === scope));
          if (newest) expect(entry?.newest, `day ${day}: coverage of ${scope}`).toBe(newest);
        }
        const left = world.segments.map((s) => s.sequence);
        const lost = beforeSegs.filter((s) => !new Set(left).has(s));
        if (left.length && lost.length) expect(Math.max(...lost)).toBeLessThan(Math.min(...left));
      }
    }
    expect(checkedPoints).toBeGreaterThan(3 * 100 * 600);
    expect(deleted).toBeGreaterThan(100);
    // Each scope has the GFS shape of its own backups, and the total stays bounded.
    for (const scope of ['a', 'b', 'c'] as const) {
      const mine = world.backups.filter((b) => holds(b, scope));
      expect(new Set(mine.map((b) => bucketOf('monthly', b.completedAt))).size, scope).toBeGreaterThanOrEqual(3);
      expect(new Set(mine.map((b) => bucketOf('weekly', b.completedAt))).size, scope).toBeGreaterThanOrEqual(4);
    }
    expect(world.backups.length).toBeLessThanOrEqual(3 * (policy.daily + policy.weekly + policy.monthly + 2));
    // c is in the weekly backups only: PITR of c needs the binlogs from the weekly full at or
    // before the window start, about a week more than a's daily backups need.
    expect(world.segments.length).toBeGreaterThan(8 * 24);
    expect(world.segments.length).toBeLessThan(15 * 24);
  });

  it('the issue\'s case: a backup of one database after a full one does not replace it; coverage and uncovered databases are reported', () => {
    const at = (h: number): string => iso(T0 + h * HOUR);
    const backups: BackupFacts[] = [
      { id: 'b1', serverUuid: SRC, databases: ['sakila'], accounts: false, completedAt: at(1), cpFile: file(1), labels: {}, storedBytes: 1 },
      { id: 'b2', serverUuid: SRC, databases: ['sakila', 'shop', 'world'], accounts: true, completedAt: at(2), cpFile: file(2), labels: {}, storedBytes: 1 },
      { id: 'b3', serverUuid: SRC, databases: ['sakila'], accounts: false, completedAt: at(3), cpFile: file(3), labels: {}, storedBytes: 1 },
    ];
    const segments = Array.from({ length: 5 }, (_, s) => segment(s));
    const plan = planRetention({
      backups,
      sourceDatabases: [{ serverUuid: SRC, databases: ['world', 'sakila', 'shop', 'new_db'] }],
      unverified: [],
      segments,
      gaps: [],
      debris: [],
      now: new Date(T0 + 4 * HOUR),
      policy: { ...policy, daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 1000 },
    });
    const by = Object.fromEntries(plan.backups.map((b) => [b.id, b]));
    expect(by.b1!.action).toBe('delete');
    expect(by.b2!.action).toBe('keep');
    expect(by.b2!.reasons).toContain('newest good backup for shop, world, accounts (users and grants)');
    expect(by.b3!.reasons).toContain('newest good backup');
    expect(plan.coverage.map((c) => [c.database ?? c.scope, c.newest, c.pitrBase])).toEqual([
      ['sakila', 'b3', 'b3'],
      ['shop', 'b2', 'b2'],
      ['world', 'b2', 'b2'],
      ['accounts', 'b2', null],
    ]);
    // PITR of shop and world starts at b2: the binlogs from b2's file stay.
    expect(plan.sources[0]!.keepFrom).toBe(file(2));
    expect(plan.sources[0]!.keepReason).toMatch(/consistent point of b2.*\(for shop, world\)/);
    expect(plan.uncovered).toEqual([{ serverUuid: SRC, database: 'new_db' }]);
  });

  it('physical chains beside logical backups, over 120 simulated days: no incremental is ever left without its chain, every database keeps its window', () => {
    // A physical full every Sunday, physical incrementals (each on the one before) three times
    // a day, a logical backup of `app` only every day. `other` is only in the physical ones.
    const world: World = { backups: [], segments: [] };
    const missing = new Set([40 * 24 + 11, 40 * 24 + 12]);
    const scopes = ['app', 'other'] as const;
    let lastPhysical: string | null = null;
    let deleted = 0;
    let deletedIncrementals = 0;
    let checkedPoints = 0;
    const whole = (b: BackupFacts, ids: ReadonlySet<string>, byId: ReadonlyMap<string, BackupFacts>): boolean => {
      for (let p = b.parent ?? null; p !== null; p = byId.get(p)?.parent ?? null) if (!ids.has(p)) return false;
      return true;
    };
    /** The backups that can restore `scope` now: they hold it and their whole chain is there. */
    const usable = (scope: string): BackupFacts[] => {
      const ids = new Set(world.backups.map((b) => b.id));
      const byId = new Map(world.backups.map((b) => [b.id, b]));
      return world.backups.filter((b) => b.databases.includes(scope) && whole(b, ids, byId));
    };
    for (let day = 0; day < 120; day++) {
      for (let h = 0; h < 24; h++) {
        const seq = day * 24 + h;
        if (seq >= 1 && !missing.has(seq - 1)) world.segments.push(segment(seq - 1));
        const at = T0 + day * DAY + h * HOUR;
        const stamp = iso(at).replace(/[-:]|\.\d{3}/g, '');
        if (h === 1 && day % 7 === 0) {
          world.backups.push({ id: `${stamp}-full00`, serverUuid: SRC, databases: ['app', 'other'], accounts: true, completedAt: iso(at + 600_000), cpFile: file(seq), labels: {}, storedBytes: 100, kind: 'physical', parent: null });
          lastPhysical = world.backups.at(-1)!.id;
        } else if ((h === 7 || h === 13 || h === 19) && lastPhysical && world.backups.some((b) => b.id === lastPhysical)) {
          world.backups.push({ id: `${stamp}-incr00`, serverUuid: SRC, databases: ['app', 'other'], accounts: true, completedAt: iso(at + 300_000), cpFile: file(seq), labels: {}, storedBytes: 5, kind: 'physical', parent: lastPhysical });
          lastPhysical = world.backups.at(-1)!.id;
        }
        if (h === 2) world.backups.push({ id: `${stamp}-logic0`, serverUuid: SRC, databases: ['app'], accounts: false, completedAt: iso(at + 600_000), cpFile: file(seq), labels: {}, storedBytes: 50, kind: 'logical', parent: null });
        if (h !== 3) continue;
        const now = at + 30 * 60_000;
        const points = windowPoints(now, world);
        const before = scopes.map((scope) => {
          const holders = usable(scope);
          const newest = [...holders].sort((x, y) => x.completedAt.localeCompare(y.completedAt)).at(-1)?.id;
          return { scope, newest, restorable: points.filter(checker(holders, world.segments)) };
        });
        const plan = planRetention({ backups: world.backups, unverified: [], segments: world.segments, gaps: [], debris: [], now: new Date(now), policy });
        // What the plan keeps holds its own chain, and the reason says so for the chain.
        const kept = new Set(plan.backups.filter((b) => b.action === 'keep').map((b) => b.id));
        const byId = new Map(world.backups.map((b) => [b.id, b]));
        for (const b of plan.backups) if (b.action === 'keep') expect(whole(b, kept, byId), `day ${day}: ${b.id} kept without its chain`).toBe(true);
        for (const b of plan.backups) {
          if (b.action !== 'delete') continue;
          deleted++;
          if (b.parent) deletedIncrementals++;
        }
        prune(world, now);
        const ids = new Set(world.backups.map((b) => b.id));
        const left = new Map(world.backups.map((b) => [b.id, b]));
        for (const b of world.backups) expect(whole(b, ids, left), `day ${day}: ${b.id} left without its chain`).toBe(true);
        for (const { scope, newest, restorable } of before) {
          if (newest) expect(ids.has(newest), `day ${day}: the newest backup of ${scope} (${newest}) was deleted`).toBe(true);
          const after = restorable.filter(checker(usable(scope), world.segments));
          expect(after.map(iso), `day ${day}: points of ${scope} that lost their restore plan`).toEqual(restorable.map(iso));
          checkedPoints += restorable.length;
        }
      }
    }
    expect(checkedPoints).toBeGreaterThan(2 * 100 * 600);
    expect(deleted).toBeGreaterThan(100);
    expect(deletedIncrementals).toBeGreaterThan(50);
    // `other` keeps the GFS shape through physical backups alone (months and weeks of chains).
    const other = usable('other');
    expect(new Set(other.map((b) => bucketOf('monthly', b.completedAt))).size).toBeGreaterThanOrEqual(3);
    expect(new Set(other.map((b) => bucketOf('weekly', b.completedAt))).size).toBeGreaterThanOrEqual(4);
  });

  it('the chain of a kept incremental is kept whole, as long and as held; a broken chain counts for nothing and is kept for inspection', () => {
    const day = (d: number, h = 2): string => iso(T0 + d * DAY + h * HOUR);
    const phys = (id: string, d: number, h: number, parent: string | null, labels: Record<string, string> = {}): BackupFacts => ({ id, serverUuid: SRC, ...ALL, completedAt: day(d, h), cpFile: file(d * 24 + h), labels, storedBytes: 1, kind: 'physical', parent });
    // f0 ← i1 ← i2 (held) ; f3 alone ; i5 on a parent nobody has (removed by hand) ; i6 on a damaged one ;
    // i7 on f3 but taken after the source's datadir went back, and i8 on i7.
    const wentBack = 'incremental backup i7 ends at LSN 5, before f3 (LSN 9): the source\'s datadir went back between them';
    const backups = [phys('f0', 0, 1, null), phys('i1', 0, 7, 'f0'), phys('i2', 0, 13, 'i1', { 'legal-hold': 'case-1' }), phys('f3', 30, 1, null), phys('i5', 31, 7, 'gone'), phys('i6', 31, 9, 'bad'), { ...phys('i7', 32, 7, 'f3'), linkProblem: wentBack }, phys('i8', 32, 9, 'i7')];
    const plan = planRetention({ backups, unverified: [{ id: 'bad', problem: 'signature' }], segments: [], gaps: [], debris: [], now: new Date(T0 + 40 * DAY), policy: { ...policy, daily: 1, weekly: 0, monthly: 0, pitrWindowMs: DAY } });
    const by = new Map(plan.backups.map((b) => [b.id, b]));
    expect(by.get('i2')!.legalHold).toBe(true);
    for (const id of ['i1', 'f0']) {
      expect(by.get(id)!.action, id).toBe('keep');
      expect(by.get(id)!.legalHold, id).toBe(true);
      expect(by.get(id)!.reasons.join('; ')).toMatch(/the chain of kept incremental i2 applies on it/);
    }
    // i5 and i6 cannot be restored: they are not the newest backup (f3 is), and nothing deletes them.
    expect(by.get('f3')!.reasons.join('; ')).toMatch(/newest good backup/);
    expect(by.get('i5')!.action).toBe('keep');
    expect(by.get('i5')!.reasons.join('; ')).toMatch(/chain is broken \(it applies on gone, which is not in the repository\)/);
    expect(by.get('i6')!.reasons.join('; ')).toMatch(/applies on bad, whose manifest does not verify/);
    for (const id of ['i7', 'i8']) {
      expect(by.get(id)!.action, id).toBe('keep');
      expect(by.get(id)!.reasons.join('; '), id).toContain(`its chain is broken (${wentBack})`);
    }
    // A plan that deletes what a kept incremental applies on is refused before anything goes.
    const bad = { ...plan, backups: plan.backups.map((b) => (b.id === 'f0' ? { ...b, action: 'delete' as const } : b)) };
    expect(() => checkChainsKept(bad)).toThrow(/deletes backup f0, which kept backup i1 applies on/);
  });

  it('buckets weeks the ISO way across a year end', () => {
    expect(bucketOf('weekly', '2026-01-01T10:00:00Z')).toBe('2026-W01');
    expect(bucketOf('weekly', '2027-01-01T10:00:00Z')).toBe('2026-W53');
    expect(bucketOf('weekly', '2025-12-29T00:00:00Z')).toBe('2026-W01');
    expect(bucketOf('daily', '2026-03-07T23:59:59Z')).toBe('2026-03-07');
  });
});
