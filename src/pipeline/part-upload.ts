// One stored object made from a byte stream we produce: raw → zstd → age → measure →
// storage, in that fixed order. Raw and stored sha256 and sizes are recorded so that
// verify can check the object without a key (stored hash) and end to end (raw hash).
import { once } from 'node:events';
import type { Storage } from '../storage/storage.js';
import { startCompress } from './compress.js';
import { startEncrypt } from '../crypto/age.js';
import { MeasureStream, Meter, type Measurement } from './measure.js';
import { waitTool, type ToolProcess } from '../util/tool-process.js';
import { OperationError } from '../errors.js';

export interface PartUploadOptions {
  storage: Storage;
  key: string;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  sizeHint?: number;
}

export interface UploadedObject {
  key: string;
  raw: Measurement;
  stored: Measurement;
}

export class PartUpload {
  private readonly raw = new Meter();
  private readonly zstd: ToolProcess;
  private readonly age: ToolProcess;
  private readonly stored = new MeasureStream();
  private readonly done: Promise<UploadedObject>;
  private aborted: Error | undefined;

  constructor(private readonly options: PartUploadOptions) {
    this.zstd = startCompress(options.compressionLevel, options.compressionThreads);
    this.age = startEncrypt(options.recipients);
    this.zstd.stdout.pipe(this.age.stdin);
    this.age.stdout.pipe(this.stored);
    // A failing tool must fail the upload itself, so a truncated object is never stored.
    // The put reports stream errors; this listener only keeps a late one (after the put
    // finished) from crashing the process — `done` still rejects through `tools`.
    this.stored.on('error', () => undefined);
    const tools = Promise.all([waitTool(this.zstd, 'zstd'), waitTool(this.age, 'age')]);
    tools.catch((err: Error) => this.stored.destroy(err));
    const put = options.storage.put(options.key, this.stored, options.sizeHint !== undefined ? { sizeHint: options.sizeHint } : {});
    this.done = Promise.all([put, tools]).then(
      () => ({ key: options.key, raw: this.raw.result(), stored: this.stored.result() }),
      async (err: unknown) => {
        this.kill();
        await options.storage.remove(options.key).catch(() => undefined);
        throw this.aborted ?? err;
      },
    );
    this.done.catch(() => undefined);
  }

  get rawBytes(): number {
    return this.raw.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.aborted) throw this.aborted;
    this.raw.update(chunk);
    if (!this.zstd.stdin.write(chunk)) {
      await Promise.race([once(this.zstd.stdin, 'drain'), this.done.then(() => undefined)]);
    }
  }

  /** Close the input; the returned promise settles when the object is stored. */
  end(): Promise<UploadedObject> {
    this.zstd.stdin.end();
    return this.done;
  }

  abort(err: Error): void {
    this.aborted ??= err instanceof OperationError ? err : new OperationError(err.message, { cause: err });
    this.kill();
  }

  private kill(): void {
    this.zstd.kill('SIGKILL');
    this.age.kill('SIGKILL');
    this.stored.destroy(this.aborted ?? new Error('upload aborted'));
  }
}
