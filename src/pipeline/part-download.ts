// The reverse pipeline: storage → measure (stored sha256, whole object, checked) → the checked
// file → age -d → (kernel pipe) → zstd -d → measure (raw sha256) → consumer, or zstd -d straight
// into a consumer program through a kernel pipe (parts without a raw hash: node never sees them).
// A local object (file://) is opened once and hashed where it is; a remote one (S3) is
// downloaded once into a private file while it is hashed. Either way age then reads that same
// open file as its stdin, without a second hash (see DecryptInput). `done`
// settles after the consumer drained everything and rejects with a VerificationError naming
// the part when any hash or size differs.
import { createHash } from 'node:crypto';
import { createWriteStream, type BigIntStats } from 'node:fs';
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Storage } from '../storage/storage.js';
import { readSegments } from '../storage/segments.js';
import type { ManifestPart } from '../manifest/backup-manifest.js';
import { MeasureStream, type Measurement } from './measure.js';
import { startDecrypt } from '../crypto/age.js';
import { reportedOutputBytes, startDecompress } from './compress.js';
import { waitTool, type ToolProcess } from '../util/tool-process.js';
import { osPipe, type OsPipe } from '../util/os-pipe.js';
import { DbopsError, OperationError, UsageError, VerificationError, ToolError, isNotFound } from '../errors.js';

/** The reader stopped before the end (its own failure, or cancel()): not a fault of the part. */
export class ReadingStoppedError extends OperationError {}

export interface PartSource {
  /** Plaintext of the part (empty when it goes to `rawFd`). */
  raw: Readable;
  /** Resolves when everything was read and every check passed. */
  done: Promise<void>;
  cancel(): void;
}

export function describePart(part: Pick<ManifestPart, 'kind' | 'database' | 'table' | 'key'>): string {
  const what = part.table !== undefined ? `${part.database}.${part.table}` : part.database !== undefined ? `${part.database} (${part.kind})` : part.kind;
  return `part ${part.key} [${what}]`;
}

export interface SourceOptions {
  /**
   * zstd writes the plaintext straight into this file descriptor (a kernel pipe a consumer
   * program reads, e.g. mbstream) instead of through node; zstd reports its size. Only for
   * parts without a raw sha256, since node never sees those bytes.
   */
  rawFd?: number;
  /** Stored bytes read so far by the decrypting pass (progress where node sees no plaintext). */
  onStoredBytes?: (bytes: number) => void;
}

export async function openPartSource(storage: Storage, part: ManifestPart, identityFile: string, options: SourceOptions = {}): Promise<PartSource> {
  return openObjectSource(storage, part, identityFile, describePart(part), options);
}

/** What any stored object (backup part, binlog segment) needs for its hashes to be checked on the way back. */
export type StoredObjectRef = Pick<ManifestPart, 'key' | 'rawBytes' | 'rawSha256' | 'storedBytes' | 'storedSha256' | 'segments'>;

/**
 * openPartSource for any object with stored/raw sizes and hashes (binlog segments too); `label` names it in errors.
 * The stored bytes are hashed in a first pass and only decrypted, read from the same file, once
 * they match the manifest. So nothing unauthenticated reaches a consumer (age authenticates chunks,
 * but anyone with a recipient's public key can make a valid age file: only the signed
 * manifest's hash says it is ours), and damage reads the same wherever it is found: the stored
 * hash, not whichever of age, zstd or the hash happened to notice first.
 */
export async function openObjectSource(storage: Storage, part: StoredObjectRef, identityFile: string, label: string, options: SourceOptions = {}): Promise<PartSource> {
  if (options.rawFd !== undefined && part.rawSha256 !== null) throw new Error(`${label} has a raw sha256: it must be read through node to be checked`);
  const stored = await openStoredFile(storage, part, label);
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  if (options.rawFd !== undefined) out.end();
  // The reader stopping early (its own failure, or cancel()) stops both passes; what
  // follows is not damage and must not be reported as such.
  let readerGone = false;
  let stop = (): void => stored.cancel();
  const gone = (): void => {
    readerGone = true;
    stop();
  };
  out.once('close', () => {
    if (!out.readableEnded) gone();
  });
  const stopped = (): OperationError => new ReadingStoppedError(`${label}: reading stopped before the end`);
  const done = (async () => {
    try {
      let input: DecryptInput;
      try {
        input = await stored.check(() => readerGone);
      } catch (err) {
        if (readerGone) throw stopped();
        throw err;
      }
      if (readerGone) throw stopped();
      const run = decrypt(input, await osPipe(), part, identityFile, label, out, () => readerGone, options);
      stop = run.kill;
      if (readerGone) run.kill();
      await run.done;
    } finally {
      await stored.close();
    }
  })();
  done.catch(() => out.destroy());
  return { raw: out, done, cancel: gone };
}

/**
 * The stored object as a file to hash and then decrypt: opened where it lies (file://) or
 * downloaded into a private copy (S3). Opened (or requested) here, so that a missing object
 * fails before anything starts.
 */
interface StoredFile {
  /** Hash it against the manifest (downloading a remote one meanwhile): what decrypting reads. */
  check(stopped: () => boolean): Promise<DecryptInput>;
  /** Stop a download under way. */
  cancel(): void;
  close(): Promise<void>;
}

async function openStoredFile(storage: Storage, part: StoredObjectRef, label: string): Promise<StoredFile> {
  if (storage.openLocal && !part.segments) {
    const { file, before } = await openLocalStored(storage, part.key, label);
    return {
      check: async (stopped) => ({ file, before, checked: await checkLocal(file, part, label, stopped) }),
      cancel: () => undefined,
      close: () => file.close().catch(() => undefined),
    };
  }
  const body = await getStored(storage, part, label);
  let fetched: Fetched | undefined;
  return {
    check: async () => (fetched = await fetchToFile(body, part, label)),
    cancel: () => void body.destroy(),
    close: async () => {
      body.destroy();
      await fetched?.dispose();
    },
  };
}

/**
 * What the decrypting pass reads: the file whose bytes were hashed, the very same open file
 * (the object itself for file://, a private copy fetched from a remote store), age's stdin,
 * without a second hash: a write to it since (which would change its ctime) makes the object
 * count as altered, as a second hash differing would. With nothing of ours between the file
 * and the programs, age is started to die with dbops (setpriv --pdeathsig): kill -9 of dbops
 * kills age, and zstd and the consumer after it see their input end.
 */
interface DecryptInput {
  file: FileHandle;
  before: BigIntStats;
  checked: Measurement;
}

interface Fetched extends DecryptInput {
  dispose(): Promise<void>;
}

/**
 * A remote object downloaded once into a private file (0600, in a fresh directory under
 * TMPDIR) while it is hashed, and checked against the manifest: decrypting then reads the
 * copy, not the store a second time. Needs the object's stored size in TMPDIR for as long as
 * it is being restored.
 */
async function fetchToFile(body: Readable, part: Pick<StoredObjectRef, 'key' | 'storedBytes' | 'storedSha256'>, label: string): Promise<Fetched> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-fetch-'));
  const path = join(dir, 'object');
  let file: FileHandle | undefined;
  const dispose = async (): Promise<void> => {
    await file?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const measure = new MeasureStream();
    try {
      await pipeline(body, measure, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new OperationError(`${label}: no room to fetch it into ${dir} (${code}, ${part.storedBytes} bytes needed): free space there or point TMPDIR at a larger disk`, { cause: err });
      throw err;
    }
    const checked = measure.result();
    if (checked.sha256 !== part.storedSha256 || checked.bytes !== part.storedBytes) throw alteredError(part, label, checked);
    file = await open(path, 'r');
    return { file, before: await file.stat({ bigint: true }), checked, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/**
 * age -d | zstd -d from `input` into `out` (or `options.rawFd`), checking the raw hash at the
 * end. age writes into zstd through `compressed`, a kernel pipe: node has no use for those bytes
 * (the stored ones were checked, the raw ones are checked after zstd).
 */
function decrypt(input: DecryptInput, compressed: OsPipe, part: StoredObjectRef, identityFile: string, label: string, out: PassThrough, readerGone: () => boolean, options: SourceOptions): { done: Promise<void>; kill: () => void } {
  const rawMeter = new MeasureStream();
  const direct = options.rawFd !== undefined;
  let age: ToolProcess;
  let zstd: ToolProcess;
  try {
    age = startDecrypt(identityFile, { stdin: input.file.fd, stdout: compressed.writeFd });
    zstd = startDecompress({ stdin: compressed.readFd, ...(direct ? { stdout: options.rawFd } : {}) });
  } finally {
    // Both programs hold their own ends now: zstd sees end-of-file when age exits, age a broken pipe when zstd does.
    compressed.close();
  }
  const tools = [waitTool(age, 'age'), waitTool(zstd, 'zstd')];
  const stopProgress = options.onStoredBytes ? followOffset(input.file, options.onStoredBytes) : () => undefined;
  // `out` ends only once zstd exited cleanly: a killed zstd's stdout ends too, and the consumer
  // must not take that truncated stream's end for the part's.
  const flows = Promise.all([...(direct ? [] : [pipeline(zstd.stdout, rawMeter, out, { end: false })]), ...tools])
    .then(() => {
      if (!direct) out.end();
    })
    .finally(stopProgress);
  const rawSeen = async (): Promise<{ bytes: number; sha256: string | null }> => {
    if (!direct) return rawMeter.result();
    const { stderr } = await zstd;
    const bytes = reportedOutputBytes(typeof stderr === 'string' ? stderr : '');
    if (bytes === undefined) throw new OperationError(`${label}: zstd did not report the size it decompressed; is it zstd ≥ 1.4?`);
    return { bytes, sha256: null };
  };
  /** The stored bytes this pass decrypted, when they are not the ones that were checked. */
  const alteredMeanwhile = async (): Promise<VerificationError | undefined> => ((await changedSince(input.file, input.before)) ? changedError(part, label) : undefined);
  const done = flows.then(
    async () => {
      const altered = await alteredMeanwhile();
      if (altered) throw altered;
      checkPart(part, label, input.checked, await rawSeen());
    },
    async (first: unknown) => {
      if (readerGone()) throw new ReadingStoppedError(`${label}: reading stopped before the end`);
      // Whichever rejects first is a race: a wrong key makes age exit, and the write into
      // its stdin may fail (EPIPE) before age's exit is seen. The tools' own verdict
      // explains more than a broken pipe, so wait for them (they exit once their pipes close).
      const err = await toolFailure(tools, first);
      // The object changed since its hash was checked: say so, as the first pass would have.
      const altered = await alteredMeanwhile();
      if (altered) throw altered;
      // A program killed from outside (kill -9, the OOM killer) says nothing about the data.
      if (err instanceof ToolError && /killed by SIG/.test(err.message)) throw new OperationError(`${label}: ${err.message}`, { cause: err });
      if (err instanceof ToolError && err.tool === 'age') {
        if (/no identity matched/i.test(err.message)) throw new UsageError(`the age identity ${identityFile} cannot open this backup: it was encrypted to other recipients; use the matching age.key`);
        throw new VerificationError(`${label}: decryption failed (${err.stderrTail || err.message}): the object is damaged or altered`, part.key);
      }
      if (err instanceof ToolError && err.tool === 'zstd') throw new VerificationError(`${label}: decompression failed (${err.stderrTail}): the object is damaged`, part.key);
      // A broken pipe or a storage read error without a verdict of the tools: say which part.
      if (!(err instanceof DbopsError)) throw new OperationError(`${label}: ${(err as Error).message}`, { cause: err });
      throw err;
    },
  );
  return {
    done,
    kill: () => {
      age.kill('SIGKILL');
      zstd.kill('SIGKILL');
    },
  };
}

/**
 * The tools' verdict on a failed pass, `first` when they have none. The chain is age → zstd,
 * joined by a kernel pipe, so one failure shows up in both: age failing (a wrong key, damage,
 * a kill) leaves zstd an unexpected end of file, and zstd failing leaves age a broken pipe.
 * The story is the most upstream program that failed for a reason of its own: the first such
 * failure is taken at once when nothing runs before it or when it was killed from outside
 * (waiting would let the consumer see the truncated stream end and fail with a story of its own
 * first); a later program's other failures wait, at most 5 s, for those before it only. Not for
 * all of them: a tool whose output nobody reads any more (the client waits on the server) must
 * not keep the others' verdict from us.
 */
async function toolFailure(tools: Promise<unknown>[], first: unknown): Promise<unknown> {
  const verdicts: Array<{ failed: boolean; error?: unknown } | undefined> = tools.map(() => undefined);
  const settled = tools.map((t, i) =>
    t.then(
      () => void (verdicts[i] = { failed: false }),
      (error: unknown) => void (verdicts[i] = { failed: true, error }),
    ),
  );
  const never = new Promise<never>(() => undefined);
  const ownFailure = settled.map((s, i) => s.then(() => (verdicts[i]!.failed && !lostReader(verdicts[i]!.error) ? i : never)));
  const timeout = delay(5000, undefined, { ref: false });
  const i = await Promise.race([...ownFailure, timeout]);
  if (i !== undefined && i > 0 && !killedFromOutside(verdicts[i]!.error)) await Promise.race([Promise.all(settled.slice(0, i)), timeout]);
  const failures = verdicts.filter((v) => v?.failed).map((v) => v!.error);
  return failures.find((e) => !lostReader(e)) ?? failures[0] ?? first;
}

/** A program killed by a signal other than SIGPIPE (kill -9, the OOM killer): its own story, whatever ran before it. */
function killedFromOutside(e: unknown): boolean {
  return e instanceof ToolError && /killed by SIG/.test(e.message) && !lostReader(e);
}

/** A program killed by SIGPIPE, or age (Go) reporting a failed write to stdout: it only lost its reader. */
function lostReader(e: unknown): boolean {
  return e instanceof ToolError && (/killed by SIGPIPE/.test(e.message) || /write \/dev\/stdout: (broken pipe|connection reset by peer)/.test(`${e.message} ${e.stderrTail ?? ''}`));
}

function checkPart(part: StoredObjectRef, label: string, stored: { bytes: number; sha256: string }, raw: { bytes: number; sha256: string | null }): void {
  if (stored.sha256 !== part.storedSha256 || stored.bytes !== part.storedBytes) throw alteredError(part, label, stored);
  if ((part.rawSha256 !== null && raw.sha256 !== part.rawSha256) || raw.bytes !== part.rawBytes) {
    throw new VerificationError(`${label}: decrypted content (${raw.bytes} bytes) differs from the manifest (${part.rawBytes} bytes): the object is damaged`, part.key);
  }
}

/** The one message for stored bytes that are not the ones the manifest recorded, wherever that is found. */
function alteredError(part: Pick<StoredObjectRef, 'key' | 'storedBytes' | 'storedSha256'>, label: string, got: { bytes: number; sha256: string }): VerificationError {
  return new VerificationError(`${label}: stored sha256 ${got.sha256.slice(0, 12)}… (${got.bytes} bytes) differs from the manifest's ${part.storedSha256.slice(0, 12)}… (${part.storedBytes} bytes): the object was altered`, part.key);
}

/** Hash `body` to its end and compare with the manifest. */
async function checkStored(body: Readable, part: Pick<StoredObjectRef, 'key' | 'storedBytes' | 'storedSha256'>, label: string): Promise<Measurement> {
  const m = new MeasureStream();
  await pipeline(body, m, async function* (src) {
    for await (const _ of src) {
      /* drain */
    }
  });
  const r = m.result();
  if (r.sha256 !== part.storedSha256 || r.bytes !== part.storedBytes) throw alteredError(part, label, r);
  return r;
}

/**
 * A local file hashed and compared with the manifest, through two reused buffers (no buffer
 * per read for the GC to collect): the next read runs in libuv's pool while this one is
 * hashed, so the pass takes about the longer of the two, not their sum.
 */
async function checkLocal(file: FileHandle, part: Pick<StoredObjectRef, 'key' | 'storedBytes' | 'storedSha256'>, label: string, stopped: () => boolean): Promise<Measurement> {
  const hash = createHash('sha256');
  let filling = Buffer.allocUnsafe(LOCAL_READ_BYTES);
  let spare = Buffer.allocUnsafe(LOCAL_READ_BYTES);
  let bytes = 0;
  // Positional reads leave the file offset at 0, where age starts reading the same open file.
  let reading = file.read(filling, 0, LOCAL_READ_BYTES, 0) as Promise<{ bytesRead: number }> | undefined;
  try {
    while (reading && !stopped()) {
      const { bytesRead } = await reading;
      reading = undefined;
      if (bytesRead === 0) break;
      const filled = filling;
      [filling, spare] = [spare, filling];
      bytes += bytesRead;
      reading = file.read(filling, 0, LOCAL_READ_BYTES, bytes);
      hash.update(filled.subarray(0, bytesRead));
    }
  } finally {
    // Stopped with a read under way: it finishes before the file may be closed.
    await reading?.catch(() => undefined);
  }
  const r = { bytes, sha256: hash.digest('hex') };
  if (!stopped() && (r.sha256 !== part.storedSha256 || r.bytes !== part.storedBytes)) throw alteredError(part, label, r);
  return r;
}

const LOCAL_READ_BYTES = 1024 * 1024;

/** A stored file opened for both passes, with what it was like before the first. */
async function openLocalStored(storage: Storage, key: string, label: string): Promise<{ file: FileHandle; before: BigIntStats }> {
  let file: FileHandle;
  try {
    file = await storage.openLocal!(key);
  } catch (err) {
    if (isNotFound(err)) throw new VerificationError(`${label} is missing from the repository`, key);
    throw err;
  }
  try {
    return { file, before: await file.stat({ bigint: true }) };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}

/** Whether anything wrote to the file (or replaced its content) since `before`: writes, truncation and mmap stores all move ctime. */
async function changedSince(file: FileHandle, before: BigIntStats): Promise<boolean> {
  const now = await file.stat({ bigint: true });
  return now.ino !== before.ino || now.size !== before.size || now.mtimeNs !== before.mtimeNs || now.ctimeNs !== before.ctimeNs;
}

function changedError(part: Pick<StoredObjectRef, 'key'>, label: string): VerificationError {
  return new VerificationError(`${label}: the stored file was written to while it was read, after its hash matched the manifest: the object was altered`, part.key);
}

/**
 * Reports how far age has read: age's stdin is our open file (one open file description), so
 * its offset is the one /proc/self/fdinfo shows for our descriptor. Linux only; without /proc
 * there is no progress, nothing else changes. Returns the stop function.
 */
function followOffset(file: FileHandle, onBytes: (bytes: number) => void): () => void {
  const path = `/proc/self/fdinfo/${file.fd}`;
  const timer = setInterval(() => {
    readFile(path, 'utf8').then(
      (text) => {
        const pos = /^pos:\s+(\d+)/m.exec(text);
        if (pos) onBytes(Number(pos[1]));
      },
      () => clearInterval(timer),
    );
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** The stored object's bytes (a run of objects joined); a missing object is a verification failure naming it. */
async function getStored(storage: Storage, part: Pick<StoredObjectRef, 'key' | 'segments'>, label: string): Promise<Readable> {
  try {
    return part.segments ? await readSegments(storage, part.segments.map((s) => s.key)) : await storage.get(part.key);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    const key = err.key ?? part.key;
    throw new VerificationError(`${label} is missing from the repository${key === part.key ? '' : ` (its object ${key})`}`, key);
  }
}

/** Hash a stored object without decrypting it (what a host without the private key can check). */
export async function checkStoredObject(storage: Storage, part: ManifestPart): Promise<void> {
  const label = describePart(part);
  if (!storage.openLocal || part.segments) {
    await checkStored(await getStored(storage, part, label), part, label);
    return;
  }
  const { file } = await openLocalStored(storage, part.key, label);
  try {
    await checkLocal(file, part, label, () => false);
  } finally {
    await file.close();
  }
}
