// The one way a backup's bytes reach storage: every part, whoever makes it, is opened here
// and becomes one stored object under backups/<id>/parts/ (on S3, a run of them past
// ~75 GiB). A part is fed by writes (the dump splitter's sections, the accounts SQL) or by a
// producer program's pipe (a table's own dump, mariadb-backup's stream);
// pipeline/part-upload.ts builds the same filter chain for both.
// Every part is tracked in one list, so `finish()` gives them all in the order they were
// opened, and a failure can stop them all and remove what was written.
// At most `concurrency` written parts are finishing (compress/encrypt/upload) at once, which
// bounds memory however many tables there are.
import type { PartDescriptor as DumpPartDescriptor, PartSink, PartWriter, PartStats } from '../dump/dump-splitter.js';
import { PartUpload, ProducedUpload, type PartUploadOptions, type ProducedObject, type UploadedObject } from '../pipeline/part-upload.js';
import type { ManifestPart } from '../manifest/backup-manifest.js';
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

/** What a part holds: a dump section, the accounts, or a physical backup's stream. */
export interface PartDescriptor {
  kind: ManifestPart['kind'];
  database?: string;
  table?: string;
}

/** A stored part, as the manifest records it. */
export interface StoredPart extends PartDescriptor {
  name: string;
  object: UploadedObject | ProducedObject;
  /** Rows the writer counted (a dump's table section); null where unknown. */
  rows: number | null;
}

interface Entry {
  name: string;
  key: string;
  descriptor: PartDescriptor;
  stop(err: Error): void;
  /** Set once the part's input is complete: settles when it is stored. */
  done?: Promise<UploadedObject | ProducedObject>;
  rows: number | null;
}

/** The object-name suffix of a part's kind: what a responder pipes it into after `zstd -d`. */
function suffixOf(kind: PartDescriptor['kind']): string {
  return kind === 'xbstream' ? '.xbstream.zst.age' : '.sql.zst.age';
}

/** True when the text has a line that is neither blank nor a `--` comment. */
function hasStatement(chunk: Buffer): boolean {
  return chunk
    .toString('utf8')
    .split('\n')
    .some((line) => line.trim() !== '' && !line.startsWith('--'));
}

export class BackupSink implements PartSink {
  private readonly entries: Entry[] = [];
  private readonly finishing = new Set<Promise<unknown>>();
  private failed: Error | undefined;
  /** Set by abortAll: an upload that was still starting then is aborted as soon as it exists. */
  private aborted: Error | undefined;
  private readonly starting = new Set<Promise<unknown>>();
  private count = 0;

  constructor(private readonly options: BackupSinkOptions) {}

  /** Next part name: zero-padded sequence, so keys sort in the order parts were opened. */
  private track(descriptor: PartDescriptor, stop: (err: Error) => void): Entry {
    const name = String(++this.count).padStart(5, '0');
    const entry: Entry = { name, key: backupPartKey(this.options.backupId, `${name}${suffixOf(descriptor.kind)}`), descriptor, stop, rows: null };
    this.entries.push(entry);
    return entry;
  }

  /** An upload being started, tracked so abortAll can wait for it and stop it once it exists. */
  private starts<T extends { abort(err: Error): void }>(start: Promise<T>): Promise<T> {
    const starting = start.then((upload) => {
      if (this.aborted) upload.abort(this.aborted);
      return upload;
    });
    this.starting.add(starting);
    void starting.finally(() => this.starting.delete(starting)).catch(() => undefined);
    return starting;
  }

  /** A part may be any size (a table, a datadir's stream): stored as a run of objects where one would not do. */
  private chainOptions(key: string): PartUploadOptions {
    return { storage: this.options.storage, key, recipients: this.options.recipients, compressionLevel: this.options.compressionLevel, compressionThreads: this.options.compressionThreads, segmented: true };
  }

  /**
   * A part whose raw bytes a program (named for errors) will write straight into zstd: start
   * it with `upload.startProducer()`. Outside the `open` limit. `drop()` gives it up before
   * its producer started (its name is reused).
   */
  async produced(descriptor: PartDescriptor, producer: string): Promise<{ upload: ProducedUpload; drop: () => Promise<void> }> {
    let upload: ProducedUpload | undefined;
    const entry = this.track(descriptor, (err) => upload?.abort(err));
    upload = await this.starts(ProducedUpload.start({ ...this.chainOptions(entry.key), producer }));
    entry.done = upload.produced();
    entry.done.catch(() => undefined);
    const u = upload;
    return {
      upload: u,
      drop: async () => {
        u.abort(new Error('not used'));
        await entry.done!.catch(() => undefined);
        this.entries.splice(this.entries.indexOf(entry), 1);
        this.count--;
      },
    };
  }

  /** A small part we hold whole (the accounts SQL): stored at once, outside the `open` limit. */
  async store(descriptor: PartDescriptor, bytes: Buffer, rows: number | null): Promise<void> {
    let upload: PartUpload | undefined;
    const entry = this.track(descriptor, (err) => upload?.abort(err));
    entry.rows = rows;
    upload = await this.starts(PartUpload.start({ ...this.chainOptions(entry.key), compressionThreads: 1 }));
    await upload.write(bytes);
    entry.done = upload.end();
    await entry.done;
  }

  /** A part fed by writes (PartSink, for the dump splitter). */
  async open(descriptor: DumpPartDescriptor): Promise<PartWriter> {
    // Measured (npm run bench): with 2, small tables queue behind each other and stall the
    // dump; 4 keeps it flowing. Memory stays bounded: each finishing part holds at most one
    // multipart window of the S3 driver; zstd and age run in their own processes.
    const limit = this.options.concurrency ?? 4;
    while (this.finishing.size >= limit) await Promise.race(this.finishing);
    if (this.failed) throw this.failed;
    // Routines/events sections are often empty (only comments): those are not stored.
    const mayBeEmpty = descriptor.kind === 'routines' || descriptor.kind === 'events';
    let entry: Entry | undefined;
    let upload: PartUpload | undefined;
    const held: Buffer[] = [];
    const start = async (): Promise<void> => {
      entry = this.track(descriptor, (err) => upload?.abort(err));
      upload = await this.starts(PartUpload.start(this.chainOptions(entry.key)));
      for (const b of held.splice(0)) await upload.write(b);
    };
    if (!mayBeEmpty) await start();
    let writes = 0;
    return {
      write: async (chunk) => {
        writes++;
        if (upload) return upload.write(chunk);
        held.push(chunk);
        // The first write is the session preamble; any later non-comment line is content.
        if (writes > 1 && hasStatement(chunk)) await start();
      },
      end: async (info): Promise<PartStats> => {
        if (!entry || !upload) return { rawBytes: 0, skipped: true };
        entry.rows = info?.rows ?? null;
        const done = upload.end();
        entry.done = done;
        const tracked = done.then(
          () => undefined,
          (err: Error) => {
            this.failed ??= err;
          },
        );
        this.finishing.add(tracked);
        void tracked.finally(() => this.finishing.delete(tracked));
        return { rawBytes: upload.rawBytes };
      },
      abort: (err) => upload?.abort(err),
    };
  }

  /** Wait for every part, in the order they were opened; the first failure fails the whole backup. */
  async finish(): Promise<StoredPart[]> {
    const out: StoredPart[] = [];
    for (const entry of this.entries) {
      if (!entry.done) throw new Error(`backup part ${entry.name} was never ended`);
      out.push({ ...entry.descriptor, name: entry.name, object: await entry.done, rows: entry.rows });
    }
    return out;
  }

  /** Stop every part's programs now (a producer too): the waits on them fail with `err`. */
  interrupt(err: Error): void {
    for (const entry of this.entries) entry.stop(err);
  }

  /**
   * Abort running uploads and remove every object this backup wrote (best effort). Returns
   * the keys whose removal failed, and the first reason: the caller must not claim a clean
   * slate when the store refused or could not be reached.
   */
  async abortAll(err: Error): Promise<{ notRemoved: string[]; problem: string | null }> {
    this.aborted = err;
    // Uploads still starting when the backup failed exist only a moment later: wait until
    // every upload there is has been stopped and has settled, so none lands after the removal.
    const settled = new Set<Entry>();
    for (;;) {
      await Promise.allSettled([...this.starting]);
      const fresh = this.entries.filter((e) => !settled.has(e));
      if (fresh.length === 0 && this.starting.size === 0) break;
      for (const e of fresh) {
        settled.add(e);
        e.stop(err);
      }
      await Promise.allSettled(fresh.map((e) => e.done ?? Promise.resolve()));
    }
    // A part stored whole as a run of objects is removed object by object.
    const stored = await Promise.all([...settled].map((e) => (e.done ?? Promise.resolve(undefined)).catch(() => undefined)));
    const keys = [...settled].flatMap((e, i) => stored[i]?.segments?.map((s) => s.key) ?? [e.key]);
    const results = await Promise.allSettled(keys.map((key) => this.options.storage.remove(key)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ key: keys[i]!, reason: r.reason as unknown }] : []));
    const first = failed[0]?.reason;
    return { notRemoved: failed.map((f) => f.key), problem: first === undefined ? null : first instanceof Error ? first.message : String(first) };
  }
}
