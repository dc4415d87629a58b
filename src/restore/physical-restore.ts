// A physical backup restored into a directory a server can start on: the chain (full, then
// each incremental) fetched, checked, decrypted, decompressed and extracted streaming
// (storage → age -d → zstd -d → mbstream -x), the full into the directory and each
// incremental beside it, then `--prepare` of the full and of each incremental onto it, in
// order. Each object's stored hash is checked against the signed manifest before a byte of
// it is decrypted (part-download.ts), so mbstream never parses anything unauthenticated.
// The directory must be empty (or absent): whatever fails, what this run put there is
// removed again. A marker file says a restore is under way, so that a directory a killed
// run left (kill -9 cannot clean up) is refused by the next run instead of being taken for
// a datadir.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import type { Repository } from '../repo/repository.js';
import { physicalOf, type BackupManifest } from '../manifest/backup-manifest.js';
import { physicalChain } from '../physical/chain.js';
import { extractArgs, prepareArgs, resolvePhysicalTools, type PhysicalTools } from '../physical/tools.js';
import { CHECKPOINT_FILES, parseCheckpoints } from '../physical/checkpoints.js';
import { openPartSource, describePart, type PartSource } from '../pipeline/part-download.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { osPipe } from '../util/os-pipe.js';
import { InterruptedError, OperationError, ToolError, UsageError, VerificationError } from '../errors.js';
import { log } from '../util/logger.js';

/** Present in the directory while a restore runs; a directory holding it is an unfinished restore. */
export const RESTORE_MARKER = 'dbops-restore-in-progress.json';

export interface PhysicalRestoreOptions {
  repo: Repository;
  manifest: BackupManifest;
  identityFile: string;
  /** Empty or absent: the prepared datadir ends up here. */
  datadir: string;
  signal?: AbortSignal;
  /** Raw bytes of the whole chain, once it is known. */
  onTotal?: (rawBytes: number) => void;
  /** Raw bytes extracted so far. */
  onProgress?: (rawBytes: number) => void;
}

export interface PhysicalRestoreResult {
  backupId: string;
  /** Full first. */
  chain: string[];
  datadir: string;
  rawBytes: number;
  storedBytes: number;
  /** Seconds: fetch (check, decrypt, decompress, extract every object) and prepare. */
  phases: { fetch: number; prepare: number };
}

export async function restoreDatadir(o: PhysicalRestoreOptions): Promise<PhysicalRestoreResult> {
  const chain = await physicalChain(o.repo, o.manifest);
  const tools = resolvePhysicalTools(physicalOf(o.manifest).tool);
  const datadir = resolve(o.datadir);
  const parts = chain.map((m) => ({ m, part: onlyPart(m) }));
  const rawBytes = parts.reduce((n, p) => n + p.part.rawBytes, 0);
  const storedBytes = parts.reduce((n, p) => n + p.part.storedBytes, 0);
  await claimEmptyDir(datadir, o.manifest.id);
  o.onTotal?.(rawBytes);
  const phases = { fetch: 0, prepare: 0 };
  // Incrementals are extracted beside the datadir (same filesystem, never inside it).
  const work = chain.length > 1 ? await mkdtemp(join(dirname(datadir), `.${basename(datadir)}-incremental-`)) : undefined;
  try {
    const t0 = performance.now();
    let done = 0;
    const dirs: string[] = [];
    for (const [i, { m, part }] of parts.entries()) {
      const dir = i === 0 ? datadir : join(work!, String(i));
      if (i > 0) await mkdir(dir);
      await extract(o, part, dir, tools, (n) => o.onProgress?.(done + n));
      await checkExtracted(dir, m);
      done += part.rawBytes;
      dirs.push(dir);
    }
    phases.fetch = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    for (const [i, dir] of dirs.entries()) {
      stopIfAborted(o.signal);
      await prepare(tools, datadir, i === 0 ? undefined : dir, i < dirs.length - 1, o.signal);
      if (i > 0) await rm(dir, { recursive: true, force: true });
    }
    phases.prepare = (performance.now() - t1) / 1000;
    await rm(join(datadir, RESTORE_MARKER), { force: true });
  } catch (err) {
    // The directory was empty: everything in it is ours, and none of it is a datadir yet.
    await emptyDir(datadir);
    if (o.signal?.aborted && !(err instanceof InterruptedError)) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
    throw err;
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
  log.info({ backupId: o.manifest.id, chain: chain.map((m) => m.id), datadir, fetchSeconds: round(phases.fetch), prepareSeconds: round(phases.prepare) }, 'physical restore prepared');
  return { backupId: o.manifest.id, chain: chain.map((m) => m.id), datadir, rawBytes, storedBytes, phases };
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError(String(signal.reason ?? 'signal'));
}

/** A physical backup is one stream object. */
function onlyPart(m: BackupManifest): BackupManifest['parts'][number] {
  const [part, ...rest] = m.parts;
  if (!part || rest.length || part.kind !== 'xbstream') throw new VerificationError(`backup ${m.id} is physical but does not hold exactly one xbstream part`, undefined);
  return part;
}

/** Create `dir` or take an empty one; anything in it (an earlier restore killed midway too) is refused. */
async function claimEmptyDir(dir: string, backupId: string): Promise<void> {
  let entries: string[] = [];
  try {
    if (!(await stat(dir)).isDirectory()) throw new UsageError(`--datadir ${dir} is not a directory: name an empty (or new) directory`);
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true, mode: 0o750 });
  }
  if (entries.includes(RESTORE_MARKER)) {
    const what = await readFile(join(dir, RESTORE_MARKER), 'utf8').catch(() => '');
    throw new UsageError(`--datadir ${dir} holds an unfinished restore (${RESTORE_MARKER}: ${what.trim() || 'unreadable'}), left by a run that was killed: remove the directory's contents and run the restore again`);
  }
  if (entries.length) throw new UsageError(`--datadir ${dir} is not empty (${entries.length} entries, e.g. ${entries.slice(0, 3).join(', ')}): a physical restore needs an empty directory; nothing was changed`);
  await writeFile(join(dir, RESTORE_MARKER), `${JSON.stringify({ backupId, pid: process.pid, startedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, entry), { recursive: true, force: true });
}

/**
 * storage → (stored hash checked) → age -d → zstd -d → mbstream -x -C dir. zstd writes into
 * mbstream through a kernel pipe: the plaintext (the whole datadir) never passes through node.
 */
async function extract(o: PhysicalRestoreOptions, part: BackupManifest['parts'][number], dir: string, tools: PhysicalTools, progress: (n: number) => void): Promise<void> {
  stopIfAborted(o.signal);
  const pipe = await osPipe();
  const mbstream = startTool(tools.stream, extractArgs(dir), { stdin: pipe.readFd });
  pipe.closeRead();
  const extracted = waitTool(mbstream, tools.stream);
  extracted.catch(() => undefined); // awaited below; it may fail while the source opens
  // Progress in raw bytes, estimated from the stored bytes decrypted so far.
  const ratio = part.storedBytes > 0 ? part.rawBytes / part.storedBytes : 1;
  let source: PartSource;
  try {
    source = await openPartSource(o.repo.storage, part, o.identityFile, { rawFd: pipe.writeFd, onStoredBytes: (n) => progress(Math.min(part.rawBytes, Math.round(n * ratio))) });
  } catch (err) {
    pipe.closeWrite();
    mbstream.kill('SIGKILL');
    await extracted.catch(() => undefined);
    throw err;
  }
  const onAbort = (): void => {
    source.cancel();
    mbstream.kill('SIGKILL');
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // zstd holds the write end once it started, which happens in the decrypting pass, after
    // the stored hash checked out: until then our copy keeps mbstream from seeing end-of-file.
    await Promise.all([source.done.finally(() => pipe.closeWrite()), extracted]);
    progress(part.rawBytes);
  } catch (err) {
    pipe.closeWrite();
    source.cancel();
    mbstream.kill('SIGKILL');
    stopIfAborted(o.signal);
    // Damage or a wrong key explains a broken pipe into mbstream; otherwise mbstream's own verdict.
    const fromSource = await source.done.then(() => undefined, (e: unknown) => e);
    if (fromSource instanceof VerificationError || fromSource instanceof UsageError) throw fromSource;
    const fromTool = await extracted.then(() => undefined, (e: unknown) => e);
    // A program killed from outside (kill -9, the OOM killer) says nothing about the data.
    if (fromTool instanceof ToolError && /killed by SIG/.test(fromTool.message)) throw new OperationError(`${describePart(part)}: ${fromTool.message}`, { cause: fromTool });
    if (fromTool) throw new VerificationError(`${describePart(part)}: ${(fromTool as Error).message}: the stream does not extract`, part.key, { cause: fromTool });
    throw fromSource ?? err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/** The extracted stream says it is the backup its manifest describes (same LSN range). */
async function checkExtracted(dir: string, m: BackupManifest): Promise<void> {
  const p = physicalOf(m);
  let text: string | undefined;
  for (const name of CHECKPOINT_FILES) {
    text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) break;
  }
  const got = text === undefined ? undefined : parseCheckpoints(text);
  if (!got) throw new VerificationError(`backup ${m.id}: the extracted stream has no ${CHECKPOINT_FILES[0]}: it is not a whole ${p.tool} stream`, m.parts[0]?.key);
  if (got.fromLsn !== p.fromLsn || got.toLsn !== p.toLsn) {
    throw new VerificationError(`backup ${m.id}: the stream covers LSN ${got.fromLsn}–${got.toLsn} but its manifest says ${p.fromLsn}–${p.toLsn}: it is another backup's stream`, m.parts[0]?.key);
  }
}

/** `--prepare` of the full (incrementalDir undefined) or of one incremental onto it. */
async function prepare(tools: PhysicalTools, datadir: string, incrementalDir: string | undefined, moreToApply: boolean, signal?: AbortSignal): Promise<void> {
  const proc = startTool(tools.backup, prepareArgs(tools.tool, datadir, incrementalDir, moreToApply), { stderrLines: () => undefined });
  proc.stdin.end();
  const onAbort = (): void => void proc.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await waitTool(proc, `${tools.tool} --prepare${incrementalDir ? ' --incremental-dir' : ''}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * What `verify` can check of one physical backup without preparing it: the object decrypts and
 * decompresses (stored hash, age's AEAD, zstd's checksum, the raw size), mbstream extracts it
 * whole (each xbstream chunk carries a CRC32 it checks), and the stream's own checkpoints are
 * the manifest's LSN range. The copy lives in a private temp dir under `scratchParent` and is
 * removed again; it needs as much space as the backup's raw size.
 */
export async function checkPhysicalStream(repo: Repository, manifest: BackupManifest, identityFile: string, scratchParent: string, onProgress?: (rawBytes: number) => void): Promise<void> {
  const part = onlyPart(manifest);
  const tools = resolvePhysicalTools(physicalOf(manifest).tool);
  const dir = await mkdtemp(join(scratchParent, 'dbops-verify-'));
  try {
    await extract({ repo, manifest, identityFile, datadir: dir }, part, dir, tools, (n) => onProgress?.(n));
    await checkExtracted(dir, manifest);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
