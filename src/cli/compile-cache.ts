// V8's compiled code kept between runs (node:module's compile cache, Node ≥ 22.1): without it
// every command compiles the bundle's chunks again (scripts/bench/README.md, "The CLI's
// start-up"). The cache lives in the user's own cache directory, never a shared one such as
// /tmp: compiled code read from a directory another user can write to would run as us. Where
// it cannot be written, node says so in the status it returns and runs without it.
import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function enableCompileCache(): void {
  const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (typeof enable !== 'function') return; // Node 20
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(homedir(), '.cache');
  try {
    enable(join(base, 'dbops', 'compile-cache'));
  } catch {
    // a cache is an optimisation: never a reason for a command to fail
  }
}
