// `npm run demo`: the main job end to end on an embedded default, on a fresh machine.
// Starts a throwaway MariaDB with horizn_ data, backs it up to ./backups/demo through the
// real CLI, verifies, restores into a second throwaway server, proves the two equal, and
// cleans up. Options: --size 20MB (seed size), --keep (leave ./backups/demo in place).
import './quiet-logs.js';
import { execa } from 'execa';
import { rm, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { ensureTools } from './ensure-tools.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/process-server.js';
import { up } from '../src/migrate/index.js';
import { seed } from '../src/seed/index.js';
import { fingerprintDatabase, diffFingerprints } from '../src/verify/db-fingerprint.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const REPO_DIR = join(ROOT, 'backups', 'demo');
const KEYS_DIR = join(ROOT, 'backups', 'demo-keys');

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB)?$/i.exec(text.trim());
  if (!m) throw new Error(`--size takes a size like 20MB or 1GB, got "${text}"`);
  const unit = (m[2] ?? 'MB').toUpperCase();
  return Math.round(Number(m[1]) * (unit === 'KB' ? 1e3 : unit === 'MB' ? 1e6 : 1e9));
}

function step(text: string): void {
  process.stderr.write(`\n▶ ${text}\n`);
}

async function dbops(args: string[], env: Record<string, string>): Promise<string> {
  process.stderr.write(`  $ dbops ${args.join(' ')}\n`);
  const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    env: { ...env, DBOPS_LOG_LEVEL: 'warn' },
    stderr: 'inherit',
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`dbops ${args[0]} failed with exit ${r.exitCode}`);
  return String(r.stdout);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sizeArg = argv[argv.indexOf('--size') + 1];
  const size = argv.includes('--size') && sizeArg ? parseSize(sizeArg) : 20e6;
  const keep = argv.includes('--keep');

  step('checking tools (mariadb-server, mariadb-client, zstd, age)');
  await ensureTools({ install: true });

  let source: SandboxServer | undefined;
  let target: SandboxServer | undefined;
  try {
    step('starting two throwaway MariaDB servers (source with binary log, restore target)');
    [source, target] = await Promise.all([startSandboxServer({ binlog: true }), startSandboxServer({ binlog: false })]);
    process.stderr.write(`  source ${source.version} on 127.0.0.1:${source.port}, target on 127.0.0.1:${target.port}\n`);

    step(`creating the horizn_ schema (migrations) and seeding ~${(size / 1e6).toFixed(0)} MB of analytics data`);
    const conn = await mysql.createConnection({ uri: source.url, multipleStatements: false });
    await conn.query('CREATE DATABASE horizn CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    await conn.changeUser({ database: 'horizn' });
    await up(conn);
    const seeded = await seed(conn, { sizeBytes: size, seed: 'demo' });
    await conn.end();
    process.stderr.write(`  ${Object.entries(seeded.rows).map(([t, n]) => `${t} ${n}`).join(', ')} (${seeded.loadMBps.toFixed(0)} MB/s)\n`);

    step('generating demo keys and a repository in ./backups/demo');
    await rm(REPO_DIR, { recursive: true, force: true });
    await rm(KEYS_DIR, { recursive: true, force: true });
    await mkdir(REPO_DIR, { recursive: true });
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      DBOPS_STORAGE_URL: `file://${REPO_DIR}`,
      DBOPS_SOURCE_URL: source.url,
      DBOPS_AGE_RECIPIENTS: join(KEYS_DIR, 'age.pub'),
      DBOPS_SIGNING_KEY_FILE: join(KEYS_DIR, 'signing.key'),
    };
    for (const k of Object.keys(env)) if (k.startsWith('DBOPS_') && !['DBOPS_STORAGE_URL', 'DBOPS_SOURCE_URL', 'DBOPS_AGE_RECIPIENTS', 'DBOPS_SIGNING_KEY_FILE'].includes(k)) delete env[k];
    await dbops(['keys', 'generate', '--out', KEYS_DIR], env);
    await dbops(['init'], env);

    step('backup: consistent dump → per-table parts → zstd → age → signed manifest');
    let t = performance.now();
    const backup = JSON.parse(await dbops(['backup', '--databases', 'horizn', '--json'], env));
    const backupSeconds = (performance.now() - t) / 1000;
    process.stdout.write(await dbops(['list'], env));

    step('verify: signature, hashes, and every part decrypted and decompressed');
    const withIdentity = { ...env, DBOPS_AGE_IDENTITY_FILE: join(KEYS_DIR, 'age.key') };
    t = performance.now();
    await dbops(['verify', backup.id], withIdentity);
    const verifySeconds = (performance.now() - t) / 1000;

    step('restore into the second server');
    t = performance.now();
    // The target's credentials go through the environment, never the command line.
    await dbops(['restore', backup.id], { ...withIdentity, DBOPS_RESTORE_TARGET_URL: target.url });
    const restoreSeconds = (performance.now() - t) / 1000;

    step('comparing source and restored database (CHECKSUM TABLE, row counts, SHOW CREATE …)');
    const [a, b] = await Promise.all(
      [source.url, target.url].map(async (url) => {
        const c = await mysql.createConnection({ uri: url });
        try {
          return await fingerprintDatabase(c, 'horizn');
        } finally {
          await c.end();
        }
      }),
    );
    const diffs = diffFingerprints(a!, b!);
    const tables = Object.keys(a!.tables).length;
    process.stdout.write(
      [
        '',
        'horizn-dbops demo summary',
        `  backup      ${backup.id}  ${(backup.totals.rawBytes / 1e6).toFixed(1)} MB raw → ${(backup.totals.storedBytes / 1e6).toFixed(1)} MB stored, ${backupSeconds.toFixed(1)} s`,
        `  point       ${backup.consistentPoint.binlogFile}:${backup.consistentPoint.binlogPosition}  gtid ${backup.consistentPoint.gtidSet}`,
        `  verify      ${verifySeconds.toFixed(1)} s`,
        `  restore     ${restoreSeconds.toFixed(1)} s`,
        `  comparison  ${diffs.length === 0 ? `identical: ${tables} tables, views, routines, triggers, events` : `${diffs.length} DIFFERENCES:\n    ${diffs.join('\n    ')}`}`,
        `  repository  ${REPO_DIR}${keep ? '' : ' (removed; pass --keep to look inside)'}`,
        '',
      ].join('\n'),
    );
    if (diffs.length) process.exitCode = 3;
  } finally {
    await Promise.allSettled([source?.stop(), target?.stop()]);
    if (!keep) {
      await rm(REPO_DIR, { recursive: true, force: true });
      await rm(KEYS_DIR, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
});
