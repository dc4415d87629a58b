// Shipped binlog segments decrypted to local files for mariadb-binlog, which needs real
// files (it seeks, and --start-position/--stop-position apply per file). They hold
// plaintext data: a private 0700 directory, files 0600, removed by dispose() on every path.
// Each file is checked on the way (stored and raw sha256 against the signed segment
// manifest) before anything reads it.
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Repository } from '../repo/repository.js';
import type { SegmentManifest } from '../binlog/segment-manifest.js';
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
  fetch(segment: SegmentManifest): Promise<string> {
    let p = this.files.get(segment.file);
    if (!p) {
      p = this.download(segment);
      this.files.set(segment.file, p);
      p.catch(() => this.files.delete(segment.file));
    }
    return p;
  }

  /** Start fetching in the background (the next file while the current one is decoded). */
  prefetch(segment: SegmentManifest | undefined): void {
    if (segment) this.fetch(segment).catch(() => undefined);
  }

  private async download(segment: SegmentManifest): Promise<string> {
    const path = join(this.dir, segment.file);
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

  async dispose(): Promise<void> {
    await Promise.allSettled([...this.files.values()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
