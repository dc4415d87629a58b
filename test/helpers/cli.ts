// Runs the real `dbops` CLI in a child process (as users and cron do), from the sources
// through tsx, so tests see exit codes, stdout/stderr and child processes exactly.
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { REPO_ROOT } from './fixtures.js';
import { tempDir } from './temp-dirs.js';

const MAIN = join(REPO_ROOT, 'src/cli/main.ts');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Environment with nothing of ours leaking in from the outer shell. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('DBOPS_') && !k.startsWith('VITEST')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  env.DBOPS_LOG_JSON = '1';
  return env;
}

export function startCli(args: string[], env: Record<string, string | undefined>, cwd?: string): ResultPromise<{ reject: false }> {
  return execa(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: cleanEnv(env),
    extendEnv: false,
    cwd: cwd ?? REPO_ROOT,
    reject: false,
    stdin: 'ignore',
  }) as ResultPromise<{ reject: false }>;
}

export async function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<CliResult> {
  const r = await startCli(args, env, cwd);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Keys in a fresh temp dir; returns the env that points a CLI at them and a repository. */
export async function makeKeys(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await tempDir('dbops-keys-');
  const r = await runCli(['keys', 'generate', '--out', dir]);
  if (r.exitCode !== 0) throw new Error(`keys generate failed: ${r.stderr}`);
  return {
    dir,
    env: {
      DBOPS_AGE_RECIPIENTS: join(dir, 'age.pub'),
      DBOPS_SIGNING_KEY_FILE: join(dir, 'signing.key'),
      DBOPS_AGE_IDENTITY_FILE: join(dir, 'age.key'),
    },
  };
}

/** A file:// repository in a fresh temp dir. */
export async function tempRepoUrl(): Promise<{ dir: string; url: string }> {
  const dir = await tempDir('dbops-repo-');
  return { dir, url: `file://${dir}` };
}
