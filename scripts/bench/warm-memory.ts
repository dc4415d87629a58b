// Every timed command starts with the memory it will write into already the guest's. This
// machine is a VM that gives memory nobody used for a few seconds back to its host (DAMON
// pageout, free page reporting through virtio-balloon), and getting it back is slow: a
// command writing much page cache paid for it or not depending on how long the machine had
// been quiet before, so a comparison measured the pauses between its runs, not the programs
// (figures in the bench README, "Memory at rest, too"). Writing zeros into a tmpfs file and
// deleting it faults the memory in just before the run, for every side alike.
import { open, rm, statfs } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';

const SHM = '/dev/shm';
const CHUNK = Buffer.alloc(1 << 20);

let wantedBytes = 0;

/** How much to fault in before each timed command (0: nothing, as for a unit test of the bench). */
export function setWarmMemoryBytes(bytes: number): void {
  wantedBytes = Math.max(0, Math.floor(bytes));
}

/**
 * Faults in up to the configured size (at most half the free memory and 80% of /dev/shm's
 * room) and gives it back to the guest's free lists; seconds it took (0 when skipped).
 */
export async function warmMemory(): Promise<number> {
  if (wantedBytes === 0) return 0;
  const room = await statfs(SHM).then(
    (s) => s.bavail * s.bsize,
    () => 0,
  );
  const bytes = Math.min(wantedBytes, freemem() / 2, room * 0.8);
  if (bytes < CHUNK.length) return 0;
  const started = performance.now();
  const path = join(SHM, `dbops-bench-warm-${process.pid}`);
  const file = await open(path, 'wx', 0o600);
  try {
    for (let written = 0; written < bytes; written += CHUNK.length) await file.write(CHUNK, 0, CHUNK.length);
  } finally {
    await file.close();
    await rm(path, { force: true });
  }
  return (performance.now() - started) / 1000;
}
