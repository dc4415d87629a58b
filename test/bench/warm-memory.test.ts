// The bench's memory warm-up: it faults memory in through tmpfs and leaves nothing behind.
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { setWarmMemoryBytes, warmMemory } from '../../scripts/bench/warm-memory.js';

const ours = async (): Promise<string[]> => (await readdir('/dev/shm')).filter((n) => n.startsWith('dbops-bench-warm-'));

describe('warmMemory', () => {
  afterEach(() => setWarmMemoryBytes(0));

  it('does nothing until a size is set', async () => {
    expect(await warmMemory()).toBe(0);
    expect(await ours()).toEqual([]);
  });

  it('writes the memory through tmpfs and gives it back, leaving no file', async () => {
    setWarmMemoryBytes(8 << 20);
    expect(await warmMemory()).toBeGreaterThan(0);
    expect(await ours()).toEqual([]);
  });
});
