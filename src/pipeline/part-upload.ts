// One stored object made from a byte stream: raw → zstd → age → measure → storage, in
// that fixed order. The raw bytes come either from our writes or straight from a producer
// program (a per-table dump) writing into zstd through a kernel pipe, so none pass
// through node; zstd writes into age the same way. Raw and stored sizes are recorded, the raw
// sha256 where we saw the bytes, so verify can check the object without a key (stored
// hash) and end to end (zstd's frame checksum and age's authentication always, raw hash
// where there is one).
import { once } from 'node:events';
import { osPipe, type OsPipe } from '../util/os-pipe.js';
import type { Storage } from '../storage/storage.js';
import { reportedInputBytes, startCompress } from './compress.js';
import { startEncrypt } from '../crypto/age.js';
import { MeasureStream, Meter, type Measurement } from './measure.js';
import { toToolError, waitTool, type ToolProcess } from '../util/tool-process.js';
import { OperationError } from '../errors.js';


export interface PartUploadOptions {
  storage: Storage;
  key: string;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  sizeHint?: number;
  /** The raw bytes come from a program, named so for errors, that `startProducer()` starts
   *  later, instead of from `write()`. zstd and age are up before it, so starting it is quick. */
  producer?: string;
}

export interface UploadedObject {
  key: string;
  raw: Measurement;
  stored: Measurement;
}

/** A producer's object: node never read its raw bytes, so there is no raw hash. */
export interface ProducedObject {
  key: string;
  raw: { bytes: number; sha256: null };
  stored: Measurement;
}

export class PartUpload {
  private readonly raw = new Meter();
  private readonly zstd: ToolProcess;
  private readonly age: ToolProcess;
  private producer: ToolProcess | undefined;
  private readonly rawPipe: OsPipe | undefined;
  // Wrapped: a ToolProcess is itself a promise, which resolve() would adopt.
  private readonly producerStarted: Promise<{ proc: ToolProcess }>;
  private onProducerStarted: (started: { proc: ToolProcess }) => void = () => undefined;
  private readonly stored = new MeasureStream();
  private readonly done: Promise<UploadedObject | ProducedObject>;
  private aborted: Error | undefined;

  /** Start the programs; the upload runs until `end()` (or the producer's exit). */
  static async start(options: PartUploadOptions): Promise<PartUpload> {
    const compressed = await osPipe();
    const raw = options.producer ? await osPipe().catch((err: unknown) => (compressed.close(), Promise.reject(err))) : undefined;
    try {
      return new PartUpload(options, compressed, raw);
    } finally {
      // Our copies of the pipes close once the programs hold theirs: each reader then sees
      // end-of-file when its writer exits (the producer's write end: once it is started).
      compressed.close();
      raw?.closeRead();
    }
  }

  private constructor(
    private readonly options: PartUploadOptions,
    compressed: OsPipe,
    raw: OsPipe | undefined,
  ) {
    // zstd → age through a kernel pipe: node never copies the compressed bytes between them.
    this.age = startEncrypt(options.recipients, { stdin: compressed.readFd });
    this.zstd = startCompress(options.compressionLevel, options.compressionThreads, { stdout: compressed.writeFd, ...(raw ? { stdin: raw.readFd, reportSizes: true } : {}) });
    this.rawPipe = raw;
    this.producerStarted = new Promise((resolve) => (this.onProducerStarted = resolve));
    this.age.stdout.pipe(this.stored);
    // A failing tool must fail the upload itself, so a truncated object is never stored.
    // The put reports stream errors; this listener only keeps a late one (after the put
    // finished) from crashing the process — `done` still rejects through `tools`.
    this.stored.on('error', () => undefined);
    const producerDone = options.producer ? this.producerStarted.then(({ proc }) => waitTool(proc, options.producer!)) : Promise.resolve();
    producerDone.catch(() => undefined);
    const tools = Promise.all([this.rawFromZstd(producerDone), waitTool(this.age, 'age'), producerDone]);
    tools.catch((err: Error) => this.stored.destroy(err));
    const put = options.storage.put(options.key, this.stored, options.sizeHint !== undefined ? { sizeHint: options.sizeHint } : {});
    this.done = Promise.all([put, tools]).then(
      ([, [raw]]): UploadedObject | ProducedObject => ({ key: options.key, raw, stored: this.stored.result() }) as UploadedObject | ProducedObject,
      async (err: unknown) => {
        this.kill();
        // A failing tool rejects this at once while the put may still be finishing (its
        // input ended, the rename or last part in flight): remove only once it has settled,
        // or the object lands after its removal.
        await put.catch(() => undefined);
        await options.storage.remove(options.key).catch(() => undefined);
        throw this.aborted ?? err;
      },
    );
    this.done.catch(() => undefined);
  }

  /** Once zstd exited well: the raw size and hash (from zstd's own count for a producer). */
  private async rawFromZstd(producerDone: Promise<void>): Promise<UploadedObject['raw'] | ProducedObject['raw']> {
    let stderr: unknown;
    try {
      stderr = (await this.zstd).stderr;
    } catch (err) {
      throw toToolError(err, 'zstd');
    }
    if (!this.options.producer) return this.raw.result();
    // zstd ends well on a producer that died (it only sees end-of-file): its error comes first.
    await producerDone;
    const bytes = reportedInputBytes(typeof stderr === 'string' ? stderr : '');
    if (bytes === undefined) throw new OperationError(`zstd did not report the size of ${this.options.producer}'s output for ${this.options.key}; is it zstd ≥ 1.4?`);
    return { bytes, sha256: null };
  }

  /** Start the producer with its stdout on the pipe into zstd; returns it. */
  startProducer(start: (stdoutFd: number) => ToolProcess): ToolProcess {
    if (!this.rawPipe) throw new Error('PartUpload.startProducer on an upload fed by write()');
    if (this.aborted) throw this.aborted;
    try {
      this.producer = start(this.rawPipe.writeFd);
    } finally {
      this.rawPipe.closeWrite();
    }
    this.onProducerStarted({ proc: this.producer });
    return this.producer;
  }

  get rawBytes(): number {
    return this.raw.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.aborted) throw this.aborted;
    if (this.options.producer) throw new Error('PartUpload.write on an upload fed by a producer');
    this.raw.update(chunk);
    try {
      if (!this.zstd.stdin.write(chunk)) {
        await Promise.race([once(this.zstd.stdin, 'drain'), this.done.then(() => undefined)]);
      }
    } catch (err) {
      // A broken pipe into zstd means zstd is gone: its own end (killed, failed) is the story.
      throw (await this.done.then(() => undefined, (e: unknown) => e)) ?? err;
    }
  }

  /** Close the input; the returned promise settles when the object is stored. */
  end(): Promise<UploadedObject> {
    if (this.options.producer) throw new Error('PartUpload.end on an upload fed by a producer: await produced()');
    this.zstd.stdin.end();
    return this.done as Promise<UploadedObject>;
  }

  /** Settles when the producer's output is stored. */
  produced(): Promise<ProducedObject> {
    if (!this.options.producer) throw new Error('PartUpload.produced on an upload fed by write()');
    return this.done as Promise<ProducedObject>;
  }

  abort(err: Error): void {
    this.aborted ??= err instanceof OperationError ? err : new OperationError(err.message, { cause: err });
    this.kill();
  }

  private kill(): void {
    this.rawPipe?.closeWrite();
    this.producer?.kill('SIGKILL');
    this.zstd.kill('SIGKILL');
    this.age.kill('SIGKILL');
    this.stored.destroy(this.aborted ?? new Error('upload aborted'));
  }
}
