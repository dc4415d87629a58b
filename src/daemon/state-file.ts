// What the daemon knows about its jobs across restarts: last start, end and outcome
// per job. Written atomically (temp file + fsync + rename) so a crash leaves either the
// old or the new state, never half of one; a run still marked `running` at start means
// the daemon died during it.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from '../util/logger.js';

export type JobOutcome = 'running' | 'ok' | 'failed' | 'interrupted';

export interface JobState {
  lastStart?: string;
  lastEnd?: string;
  outcome?: JobOutcome;
  error?: string;
  durationSeconds?: number;
  lastSuccess?: string;
  lastSuccessDurationSeconds?: number;
  lastFailure?: string;
  runs?: number;
  failures?: number;
  skippedOverlaps?: number;
}

export interface DaemonState {
  format: 'horizn-dbops/daemon-state';
  version: 1;
  jobs: Record<string, JobState>;
}

export function emptyState(): DaemonState {
  return { format: 'horizn-dbops/daemon-state', version: 1, jobs: {} };
}

export async function loadState(path: string): Promise<DaemonState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  try {
    const doc = JSON.parse(text) as DaemonState;
    if (doc.format === 'horizn-dbops/daemon-state' && doc.jobs && typeof doc.jobs === 'object') return doc;
  } catch {
    // fall through
  }
  log.warn({ path }, 'daemon state file is damaged; starting with empty state');
  return emptyState();
}

let counter = 0;

export async function saveState(path: string, state: DaemonState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${counter++}`;
  const fh = await open(temp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path);
}
