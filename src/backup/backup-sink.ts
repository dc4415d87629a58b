// Receives the dump's parts from the splitter and turns each into a stored object.
// At most `concurrency` parts are finishing (compress/encrypt/upload) at once, which
// bounds memory however many tables there are; every started upload is tracked so a
// failure can abort them all and remove what was written.
import type { PartDescriptor, PartSink, PartWriter, PartStats } from '../dump/dump-splitter.js';
import { PartUpload, type ProducedObject, type UploadedObject } from '../pipeline/part-upload.js';
import type { Storage } from '../storage/storage.js';
import { backupPartKey } from '../storage/layout.js';

export interface BackupSinkOptions {
  storage: Storage;
  backupId: string;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  concurrency?: number;
}

export interface StoredPart extends PartDescriptor {
  name: string;
  object: UploadedObject;
}

/** A part a producer program wrote straight into zstd (no raw hash, no row count). */
export interface ProducedPart extends PartDescriptor {
  name: string;
  object: ProducedObject;
}

/** True when the text has a line that is neither blank nor a `--` comment. */
function hasStatement(chunk: Buffer): boolean {
  return chunk
    .toString('utf8')
    .split('\n')
    .some((line) => line.trim() !== '' && !line.startsWith('--'));
}

export class BackupSink implements PartSink {
  private readonly started: Array<{ name: string; descriptor: PartDescriptor; upload: PartUpload; done?: Promise<UploadedObject> }> = [];
  private readonly produced: Array<{ name: string; descriptor: PartDescriptor; upload: PartUpload; done: Promise<ProducedObject> }> = [];
  private readonly finishing = new Set<Promise<unknown>>();
  private failed: Error | undefined;
  /** Set by abortAll: an upload that was still starting then is aborted as soon as it exists. */
  private aborted: Error | undefined;
  private readonly starting = new Set<Promise<unknown>>();
  private count = 0;

  constructor(private readonly options: BackupSinkOptions) {}

  /** The upload of part `name`: fed by write(), or by the named producer program. */
  private startUpload(name: string, producer?: string): Promise<PartUpload> {
    const starting = PartUpload.start({
      storage: this.options.storage,
      key: backupPartKey(this.options.backupId, `${name}.sql.zst.age`),
      recipients: this.options.recipients,
      compressionLevel: this.options.compressionLevel,
      compressionThreads: this.options.compressionThreads,
      ...(producer !== undefined ? { producer } : {}),
    }).then((upload) => {
      if (this.aborted) upload.abort(this.aborted);
      return upload;
    });
    this.starting.add(starting);
    void starting.finally(() => this.starting.delete(starting)).catch(() => undefined);
    return starting;
  }

  /** Next part name: zero-padded sequence, so keys sort in dump order. */
  nextName(): string {
    return String(++this.count).padStart(5, '0');
  }

  /** A part whose raw bytes a program (named for errors) will write straight into zstd, via
   *  `upload.startProducer()`; outside the `open` limit. */
  async prepareProduced(descriptor: PartDescriptor, producer: string): Promise<PartUpload> {
    const name = this.nextName();
    const upload = await this.startUpload(name, producer);
    const done = upload.produced();
    done.catch(() => undefined);
    this.produced.push({ name, descriptor, upload, done });
    return upload;
  }

  /** Give up the prepared parts (none was started): their programs stop, their names are reused. */
  async dropProduced(): Promise<void> {
    const dropped = this.produced.splice(0);
    for (const entry of dropped) entry.upload.abort(new Error('not used'));
    await Promise.allSettled(dropped.map((e) => e.done));
    this.count -= dropped.length;
  }

  /** Wait for every produced part; the first failure fails the whole backup. */
  async finishProduced(): Promise<ProducedPart[]> {
    const out: ProducedPart[] = [];
    for (const entry of this.produced) out.push({ ...entry.descriptor, name: entry.name, object: await entry.done });
    return out;
  }

  async open(descriptor: PartDescriptor): Promise<PartWriter> {
    // Measured (npm run bench): with 2, small tables queue behind each other and stall the
    // dump; 4 keeps it flowing. Memory stays bounded: each finishing part holds at most one
    // multipart window of the S3 driver; zstd and age run in their own processes.
    const limit = this.options.concurrency ?? 4;
    while (this.finishing.size >= limit) await Promise.race(this.finishing);
    if (this.failed) throw this.failed;
    // Routines/events sections are often empty (only comments): those are not stored.
    const mayBeEmpty = descriptor.kind === 'routines' || descriptor.kind === 'events';
    let entry: (typeof this.started)[number] | undefined;
    const held: Buffer[] = [];
    const start = async (): Promise<NonNullable<typeof entry>> => {
      const name = this.nextName();
      const upload = await this.startUpload(name);
      entry = { name, descriptor, upload };
      this.started.push(entry);
      for (const b of held.splice(0)) await upload.write(b);
      return entry;
    };
    if (!mayBeEmpty) await start();
    let writes = 0;
    return {
      write: async (chunk) => {
        writes++;
        if (entry) return entry.upload.write(chunk);
        held.push(chunk);
        // The first write is the session preamble; any later non-comment line is content.
        if (writes > 1 && hasStatement(chunk)) await start();
      },
      end: async (): Promise<PartStats> => {
        if (!entry) return { rawBytes: 0, skipped: true };
        const current = entry;
        const done = current.upload.end();
        current.done = done;
        const tracked = done.then(
          () => undefined,
          (err: Error) => {
            this.failed ??= err;
          },
        );
        this.finishing.add(tracked);
        void tracked.finally(() => this.finishing.delete(tracked));
        return { rawBytes: current.upload.rawBytes };
      },
      abort: (err) => entry?.upload.abort(err),
    };
  }

  /** Wait for every part; the first failure fails the whole backup. */
  async finishAll(): Promise<StoredPart[]> {
    const out: StoredPart[] = [];
    for (const entry of this.started) {
      const object = await (entry.done ?? entry.upload.end());
      out.push({ ...entry.descriptor, name: entry.name, object });
    }
    return out;
  }

  /** Stop every part's programs now (a table's own dump too): the waits on them fail with `err`. */
  interrupt(err: Error): void {
    for (const entry of [...this.started, ...this.produced]) entry.upload.abort(err);
  }

  /**
   * Abort running uploads and remove every object this backup wrote (best effort). Returns
   * the keys whose removal failed, and the first reason: the caller must not claim a clean
   * slate when the store refused or could not be reached.
   */
  async abortAll(err: Error): Promise<{ notRemoved: string[]; problem: string | null }> {
    this.aborted = err;
    // Uploads still starting when the backup failed join the lists a moment later: wait until
    // every upload there is has been stopped and has settled, so none lands after the removal.
    const settled = new Set<unknown>();
    for (;;) {
      await Promise.allSettled([...this.starting]);
      const fresh = [...this.started, ...this.produced].filter((e) => !settled.has(e));
      if (fresh.length === 0 && this.starting.size === 0) break;
      for (const e of fresh) {
        settled.add(e);
        e.upload.abort(err);
      }
      await Promise.allSettled(fresh.map((e) => e.done ?? Promise.resolve()));
    }
    const all = [...this.started, ...this.produced];
    const keys = all.map((e) => backupPartKey(this.options.backupId, `${e.name}.sql.zst.age`));
    const results = await Promise.allSettled(keys.map((key) => this.options.storage.remove(key)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ key: keys[i]!, reason: r.reason as unknown }] : []));
    const first = failed[0]?.reason;
    return { notRemoved: failed.map((f) => f.key), problem: first === undefined ? null : first instanceof Error ? first.message : String(first) };
  }
}
