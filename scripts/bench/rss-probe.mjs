// Preloaded into the measured dbops process (node --import): on exit it records that
// process's OWN peak RSS and CPU time, which no outside tool reports exactly (GNU time's
// %M is the largest process of the whole tree; /proc sampling can miss the last moments).
// Plain JavaScript so it also loads into the compiled CLI without tsx.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssKb: u.maxRSS, userSeconds: u.userCPUTime / 1e6, systemSeconds: u.systemCPUTime / 1e6 }));
  });
}
