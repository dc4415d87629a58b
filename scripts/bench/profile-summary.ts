// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): self time per
// function and per package/module, so "where does the dbops process spend its CPU"
// is answered without opening DevTools. Usage: tsx scripts/bench/profile-summary.ts FILE [N]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Package (node_modules/<name>), our own file (src/…), or node:internal. */
export function moduleOf(url: string): string {
  if (!url) return '(native/idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/((?:src|dist|scripts)\/.+)$/.exec(url);
  if (own) return own[1]!;
  return url.replace(/^node:/, 'node:');
}

export function summarise(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const name = `${f.functionName || '(anonymous)'}  ${moduleOf(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    mod.set(moduleOf(f.url), (mod.get(moduleOf(f.url)) ?? 0) + us);
    total += us;
  }
  const rows = (m: Map<string, number>): string[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  return [
    `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s wall, ${(total / 1e6).toFixed(2)} s sampled`,
    '',
    'self time by module:',
    ...rows(mod),
    '',
    'self time by function:',
    ...rows(fn),
    '',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && /profile-summary\.[jt]s$/.test(process.argv[1]);
if (isMain) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx scripts/bench/profile-summary.ts FILE.cpuprofile [TOP]\n');
    process.exitCode = 2;
  } else {
    const top = Number(process.argv[3] ?? 25);
    process.stdout.write(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number.isInteger(top) && top > 0 ? top : 25));
  }
}
