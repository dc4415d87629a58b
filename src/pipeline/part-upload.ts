// One stored object made from a byte stream (or a run of them where S3's part limit would
// otherwise need huge parts: PartUploadOptions.segmented): raw → zstd → age → measure →
// storage, in that fixed order. The chain is the same whoever feeds it; there are two ways to build it:
//   - from our writes (PartUpload): the raw bytes pass through node, which hashes them;
//   - from a producer's pipe (ProducedUpload): a program (a table's own dump, mariadb-backup)
//     writes straight into zstd through a kernel pipe, so none pass through node; zstd's own
//     count gives the raw size, and there is no raw hash.
// zstd writes into age through a kernel pipe too, and age into the object's own file where the
// storage keeps files (file://), which node reads back as it grows to hash it; for S3 node
// reads age's output from a pipe into one reused buffer, hashes it and copies it into the
// upload's parts. Raw and stored sizes are recorded, so verify
// can check the object without a key (stored hash) and end to end (zstd's frame checksum and
// age's authentication always, the raw hash where there is one).
import { once } from 'node:events';
import { osPipes, type OsPipe } from '../util/os-pipe.js';
import type { LocalObjectWriter, PutResult, Storage } from '../storage/storage.js';
import { reportedInputBytes, startCompress } from './compress.js';
import { startEncrypt } from '../crypto/age.js';
import { Meter, type Measurement } from './measure.js';
import { readPipe, type PipeReader } from './pipe-reader.js';
import { toToolError, waitTool, type ToolProcess } from '../util/tool-process.js';
import { OperationError } from '../errors.js';
import type { Segment } from '../storage/segments.js';

export interface PartUploadOptions {
  storage: Storage;
  key: string;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  sizeHint?: number;
  /** Store it without an Object Lock retention (see PutOptions.unlocked). */
  unlocked?: boolean;
  /** It may be any size: stored as a run of objects where one would not do (see PutOptions.segmented). */
  segmented?: boolean;
}

export interface UploadedObject {
  key: string;
  raw: Measurement;
  stored: Measurement;
  /** The objects it was stored as, when more than one (a segmented upload). */
  segments?: Segment[];
}

/** A producer's object: node never read its raw bytes, so there is no raw hash. */
export interface ProducedObject {
  key: string;
  raw: { bytes: number; sha256: null };
  stored: Measurement;
  segments?: Segment[];
}

/**
 * zstd → age → measure → storage. `upstream` settles when whatever feeds zstd is done (a
 * producer's exit): its failure comes first, since zstd ends well on a producer that died
 * (it only sees end-of-file). Any failure kills every program and removes the object, so a
 * truncated object is never stored.
 */
class Chain {
  readonly zstd: ToolProcess;
  private readonly age: ToolProcess;
  /** age's output read through node on its way to put() (S3); none where age writes the object's file. */
  private readonly reader: PipeReader | undefined;
  private readonly stored = new Meter();
  private aborted: Error | undefined;
  readonly done: Promise<{ stored: Measurement; zstdStderr: string; segments?: Segment[] }>;

  constructor(
    options: PartUploadOptions,
    compressed: OsPipe,
    zstdInput: { stdin?: number; reportSizes?: boolean },
    upstream: Promise<void>,
    private readonly onKill: () => void,
    output: AgeOutput,
  ) {
    // zstd → age through a kernel pipe: node never copies the compressed bytes between them.
    this.age = startEncrypt(options.recipients, { stdin: compressed.readFd, stdout: output.local ? output.local.fd : output.pipe.writeFd });
    this.zstd = startCompress(options.compressionLevel, options.compressionThreads, { stdout: compressed.writeFd, ...zstdInput });
    if (output.pipe) this.reader = readPipe(output.pipe.releaseRead(), (chunk) => this.stored.update(chunk));
    const zstd = this.zstd;
    const zstdDone = (async (): Promise<string> => {
      let stderr: unknown;
      try {
        stderr = (await zstd).stderr;
      } catch (err) {
        throw toToolError(err, 'zstd');
      }
      await upstream;
      return typeof stderr === 'string' ? stderr : '';
    })();
    const tools = Promise.all([zstdDone, waitTool(this.age, 'age'), upstream]);
    let put: Promise<PutResult>;
    if (output.local) {
      // Published only once every program ended well: a failed one leaves no object.
      put = output.local.publish(tools, (chunk) => this.stored.update(chunk));
    } else {
      tools.catch((err: Error) => this.reader!.destroy(err));
      put = options.storage.put(options.key, this.reader!, {
        ...(options.sizeHint !== undefined ? { sizeHint: options.sizeHint } : {}),
        ...(options.unlocked ? { unlocked: true } : {}),
        ...(options.segmented ? { segmented: true } : {}),
      });
    }
    // A local object's publish waits for the programs and says why they failed (a full disk as
    // the storage's), so its verdict comes first there.
    const both = output.local ? put.then(async (stored) => [stored, await tools] as const) : Promise.all([put, tools]);
    this.done = both.then(
      ([{ segments }, [zstdStderr]]) => ({ stored: this.stored.result(), zstdStderr, ...(segments ? { segments } : {}) }),
      async (err: unknown) => {
        this.kill();
        // A failing tool rejects this at once while the put may still be finishing (its
        // input ended, the rename or last part in flight): remove only once it has settled,
        // or the object lands after its removal.
        const stored = await put.catch(() => undefined);
        for (const key of stored?.segments?.map((s) => s.key) ?? [options.key]) await options.storage.remove(key).catch(() => undefined);
        throw this.aborted ?? err;
      },
    );
    this.done.catch(() => undefined);
  }

  get abortedWith(): Error | undefined {
    return this.aborted;
  }

  abort(err: Error): void {
    this.aborted ??= err instanceof OperationError ? err : new OperationError(err.message, { cause: err });
    this.kill();
  }

  kill(): void {
    this.onKill();
    this.zstd.kill('SIGKILL');
    this.age.kill('SIGKILL');
    this.reader?.destroy(this.aborted ?? new Error('upload aborted'));
  }
}

/** Where age writes: the object's own file (a storage of files), or a pipe node reads to put() the object. */
type AgeOutput = { local: LocalObjectWriter; pipe?: undefined } | { pipe: OsPipe; local?: undefined };

/** Pipes a chain needs besides its own (zstd → age): one for age's output unless the storage keeps files. */
function outputPipes(options: PartUploadOptions): number {
  return options.storage.createLocal ? 0 : 1;
}

/**
 * Our copies of the zstd → age pipe and of age's output pipe close once the programs hold
 * theirs: age then sees end-of-file when zstd exits, and node when age does. A chain that
 * does not start gives its local object up again.
 */
async function withChainPipes<T>(compressed: OsPipe, agePipe: OsPipe | undefined, options: PartUploadOptions, build: (compressed: OsPipe, output: AgeOutput) => T): Promise<T> {
  let local: LocalObjectWriter | undefined;
  try {
    if (!agePipe) local = await options.storage.createLocal!(options.key);
    return build(compressed, local ? { local } : { pipe: agePipe! });
  } catch (err) {
    await local?.discard();
    agePipe?.closeRead();
    throw err;
  } finally {
    compressed.close();
    agePipe?.closeWrite();
  }
}

/** The chain fed by write(): node sees (and hashes) every raw byte. */
export class PartUpload {
  private readonly raw = new Meter();
  private readonly chain: Chain;
  private readonly done: Promise<UploadedObject>;

  /** Start the programs; the upload runs until `end()`. */
  static async start(options: PartUploadOptions): Promise<PartUpload> {
    const [compressed, agePipe] = (await osPipes(1 + outputPipes(options))) as [OsPipe, OsPipe | undefined];
    return withChainPipes(compressed, agePipe, options, (c, output) => new PartUpload(options, c, output));
  }

  private constructor(options: PartUploadOptions, compressed: OsPipe, output: AgeOutput) {
    this.chain = new Chain(options, compressed, {}, Promise.resolve(), () => undefined, output);
    this.done = this.chain.done.then(({ stored, segments }) => ({ key: options.key, raw: this.raw.result(), stored, ...(segments ? { segments } : {}) }));
    this.done.catch(() => undefined);
  }

  get rawBytes(): number {
    return this.raw.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.chain.abortedWith) throw this.chain.abortedWith;
    this.raw.update(chunk);
    const zstdIn = this.chain.zstd.stdin;
    try {
      if (!zstdIn.write(chunk)) await Promise.race([once(zstdIn, 'drain'), this.done.then(() => undefined)]);
    } catch (err) {
      // A broken pipe into zstd means zstd is gone: its own end (killed, failed) is the story.
      throw (await this.done.then(() => undefined, (e: unknown) => e)) ?? err;
    }
  }

  /** Close the input; the returned promise settles when the object is stored. */
  end(): Promise<UploadedObject> {
    this.chain.zstd.stdin.end();
    return this.done;
  }

  abort(err: Error): void {
    this.chain.abort(err);
  }
}

/** The chain fed by a program through a kernel pipe into zstd: node never sees the raw bytes. */
export class ProducedUpload {
  private readonly chain: Chain;
  private producer: ToolProcess | undefined;
  // Wrapped: a ToolProcess is itself a promise, which resolve() would adopt.
  private onStarted: (started: { proc: ToolProcess }) => void = () => undefined;
  private readonly done: Promise<ProducedObject>;

  /** Start zstd and age; the producer (named `producer` in errors) comes with `startProducer()`, so starting it is quick. */
  static async start(options: PartUploadOptions & { producer: string }): Promise<ProducedUpload> {
    const [raw, compressed, agePipe] = (await osPipes(2 + outputPipes(options))) as [OsPipe, OsPipe, OsPipe | undefined];
    try {
      return await withChainPipes(compressed, agePipe, options, (c, output) => new ProducedUpload(options, c, raw, output));
    } catch (err) {
      raw.close();
      throw err;
    } finally {
      // zstd holds its read end now; ours closes so zstd sees end-of-file once the producer's write end is gone.
      raw.closeRead();
    }
  }

  private constructor(
    private readonly options: PartUploadOptions & { producer: string },
    compressed: OsPipe,
    private readonly rawPipe: OsPipe,
    output: AgeOutput,
  ) {
    const started = new Promise<{ proc: ToolProcess }>((resolve) => (this.onStarted = resolve));
    const producerDone = started.then(({ proc }) => waitTool(proc, options.producer));
    producerDone.catch(() => undefined);
    this.chain = new Chain(
      options,
      compressed,
      { stdin: rawPipe.readFd, reportSizes: true },
      producerDone,
      () => {
        rawPipe.closeWrite();
        this.producer?.kill('SIGKILL');
      },
      output,
    );
    this.done = this.chain.done.then(({ stored, zstdStderr, segments }) => {
      const bytes = reportedInputBytes(zstdStderr);
      if (bytes === undefined) throw new OperationError(`zstd did not report the size of ${options.producer}'s output for ${options.key}; is it zstd ≥ 1.4?`);
      return { key: options.key, raw: { bytes, sha256: null }, stored, ...(segments ? { segments } : {}) };
    });
    this.done.catch(() => undefined);
  }

  /** Start the producer with its stdout on the pipe into zstd; returns it. */
  startProducer(start: (stdoutFd: number) => ToolProcess): ToolProcess {
    if (this.chain.abortedWith) throw this.chain.abortedWith;
    try {
      this.producer = start(this.rawPipe.writeFd);
    } finally {
      this.rawPipe.closeWrite();
    }
    this.onStarted({ proc: this.producer });
    return this.producer;
  }

  /** Settles when the producer's output is stored. */
  produced(): Promise<ProducedObject> {
    return this.done;
  }

  abort(err: Error): void {
    this.chain.abort(err);
  }

  get key(): string {
    return this.options.key;
  }
}
