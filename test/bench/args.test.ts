// `npm run bench` flags (scripts/bench/args.ts): the groups it knows, and a typo failing at once.
import { describe, it, expect } from 'vitest';
import { parseArgs, parseSize } from '../../scripts/bench/args.js';

describe('bench arguments', () => {
  it('runs every group by default, physical among them', () => {
    expect(parseArgs([]).only).toEqual(['backup', 'restore', 'physical', 'binlog']);
  });

  it('--only physical,restore picks those groups', () => {
    expect(parseArgs(['--only', 'physical,restore', '--size', '200MB', '--reuse', '/tmp/x']).only).toEqual(['physical', 'restore']);
  });

  it('an unknown group is refused with the list of known ones', () => {
    expect(() => parseArgs(['--only', 'phsyical'])).toThrow(/unknown group phsyical; known: backup, restore, physical, binlog/);
  });

  it('the shipping-lag measurement runs with partial segments, as dbops does by default; --no-partial-segments turns them off', () => {
    expect(parseArgs([]).partialSegments).toBe(true);
    expect(parseArgs(['--only', 'binlog', '--partial-segments']).partialSegments).toBe(true);
    expect(parseArgs(['--only', 'binlog', '--no-partial-segments']).partialSegments).toBe(false);
  });

  it('the replay measurement runs 8 concurrent writers unless --load-writers says otherwise; 1 is refused, as the single writer is always measured', () => {
    expect(parseArgs([]).loadWriters).toBe(8);
    expect(parseArgs(['--only', 'binlog', '--load-writers', '16']).loadWriters).toBe(16);
    expect(() => parseArgs(['--load-writers', '1'])).toThrow(/--load-writers takes a whole number from 2 to 64/);
  });

  it('sizes in decimal units', () => {
    expect(parseSize('200MB')).toBe(200e6);
    expect(parseSize('1.5 GB')).toBe(1.5e9);
    expect(() => parseSize('lots')).toThrow(/--size takes a size/);
  });
});
