// What every benchmark group gets from scripts/bench.ts: where to work and write, the
// dataset, how often to repeat, how to log, and how to register teardown.
import type { Dataset } from './dataset.js';

export interface BenchGroupContext {
  root: string;
  workDir: string;
  resultsDir: string;
  dataset: Dataset;
  repeat: number;
  cpuProf: boolean;
  log: (text: string) => void;
  /** Registers teardown for resources the group starts (servers, shippers). */
  onCleanup: (fn: () => Promise<void>) => void;
}
