// Shipped binlog segments decrypted to local files for mariadb-binlog, which needs real
// files (it seeks, and --start-position/--stop-position apply per file). They hold
// plaintext data: a private 0700 directory, files 0600, removed by dispose() on every path.
// Each file is checked on the way (stored and raw sha256 against the signed segment
// manifest) before anything reads it. The file the source was still writing comes from its
// partial segments, appended in order, and must hash to what the newest part says of the
// whole prefix.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Repository } from '../repo/repository.js';
import { isPrefix, type ChainSegment, type ShippedPrefix } from '../binlog/segment-manifest.js';
import { VerificationError } from '../errors.js';
import { openObjectSource } from '../pipeline/part-download.js';

export class SegmentCache {
  private files = new Map<string, Promise<string>>();
  /** Raw bytes fetched so far. */
  fetchedBytes = 0;

  private constructor(
    readonly dir: string,
    private readonly repo: Repository,
    private readonly identityFile: string,
  ) {}

  static async create(repo: Repository, identityFile: string, parent = tmpdir()): Promise<SegmentCache> {
    const dir = await mkdtemp(join(parent, 'dbops-pitr-'));
    await chmod(dir, 0o700);
    return new SegmentCache(dir, repo, identityFile);
  }

  /** Local path of the decrypted, verified segment (fetched once). */
  fetch(segment: ChainSegment): Promise<string> {
    let p = this.files.get(segment.file);
    if (!p) {
      p = this.download(segment);
      this.files.set(segment.file, p);
      p.catch(() => this.files.delete(segment.file));
    }
    return p;
  }

  /** Start fetching in the background (the next file while the current one is decoded). */
  prefetch(segment: ChainSegment | undefined): void {
    if (segment) this.fetch(segment).catch(() => undefined);
  }

  private async download(segment: ChainSegment): Promise<string> {
    const path = join(this.dir, segment.file);
    if (isPrefix(segment)) return this.assemble(segment, path);
    const source = await openObjectSource(this.repo.storage, segment, this.identityFile, `binlog segment ${segment.key}`);
    try {
      await Promise.all([pipeline(source.raw, createWriteStream(path, { mode: 0o600 })), source.done]);
    } catch (err) {
      source.cancel();
      await rm(path, { force: true });
      throw err;
    }
    this.fetchedBytes += segment.rawBytes;
    return path;
  }

  /** The parts of a shipped prefix, one after the other into one file, checked part by part and as a whole. */
  private async assemble(prefix: ShippedPrefix, path: string): Promise<string> {
    const out: WriteStream = createWriteStream(path, { mode: 0o600 });
    const hash = createHash('sha256');
    try {
      for (const part of prefix.parts) {
        const source = await openObjectSource(this.repo.storage, part, this.identityFile, `partial binlog segment ${part.key}`);
        try {
          for await (const chunk of source.raw) {
            hash.update(chunk as Buffer);
            if (!out.write(chunk)) await once(out, 'drain');
          }
          await source.done;
        } catch (err) {
          // The stream ends early when a check fails: the check's verdict is the error to give.
          source.cancel();
          throw await source.done.then(() => err, (verdict: unknown) => verdict);
        }
      }
      out.end();
      await once(out, 'finish');
      const last = prefix.parts.at(-1)!;
      if (hash.digest('hex') !== last.partial.prefixSha256) {
        throw new VerificationError(`the partial segments of ${prefix.file} (1–${last.partial.part}) do not add up to the prefix their last manifest describes: one was replaced`, last.key);
      }
    } catch (err) {
      out.destroy();
      await rm(path, { force: true });
      throw err;
    }
    this.fetchedBytes += prefix.endPosition;
    return path;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled([...this.files.values()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
