// A local object a program writes itself (FileStorage.createLocal): node reads the file back
// as it grows to hash it, and the object appears under its key only once the program ended
// well. Real programs write it (head, sh); a real full disk is a small tmpfs (root only).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'dbops-local-object-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A program writing `script`'s output into the object's file, as age does; rejects with its stderr when it fails. */
function writer(fd: number, script: string): Promise<void> {
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', fd, 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sh: exit code ${code}: ${stderr.trim()}`))));
  });
}

describe('a local object written by a program', () => {
  it('hashes every byte the program wrote, in order, across pauses and background datasyncs, and appears only when published', async () => {
    const storage = new FileStorage(root);
    const local = await storage.createLocal('backups/a/parts/1');
    // Three bursts with pauses between: the reader catches up and waits each time; past 64 MiB a datasync runs beside it.
    const program = writer(local.fd, 'head -c 3000001 /dev/urandom; sleep 0.3; head -c 70000000 /dev/urandom; sleep 0.2; printf tail');
    const seen = createHash('sha256');
    let chunks = 0;
    const published = local.publish(program, (chunk) => {
      seen.update(chunk);
      chunks++;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(await storage.stat('backups/a/parts/1'), 'not visible while written').toBeUndefined();
    const result = await published;
    const body = await readFile(path.join(root, 'backups/a/parts/1'));
    expect(result).toEqual({ key: 'backups/a/parts/1', size: 3000001 + 70000000 + 4 });
    expect(body.length).toBe(result.size);
    expect(body.subarray(-4).toString()).toBe('tail');
    expect(seen.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(chunks).toBeGreaterThan(1);
    expect(await readdir(path.join(root, 'backups/a/parts'))).toEqual(['1']);
  });

  it('a program that fails: its failure, no object and no temp file', async () => {
    const storage = new FileStorage(root);
    const local = await storage.createLocal('backups/b/parts/1');
    const program = writer(local.fd, 'head -c 2000000 /dev/urandom; echo broken >&2; exit 3');
    const err = await local.publish(program, () => undefined).catch((e: unknown) => e);
    expect(String(err)).toMatch(/exit code 3/);
    expect(await storage.stat('backups/b/parts/1')).toBeUndefined();
    expect(await readdir(path.join(root, 'backups/b/parts'))).toEqual([]);
  });

  it('discard removes the temp file of one never written', async () => {
    const storage = new FileStorage(root);
    const local = await storage.createLocal('backups/c/parts/1');
    expect(await readdir(path.join(root, 'backups/c/parts'))).toHaveLength(1);
    await local.discard();
    expect(await readdir(path.join(root, 'backups/c/parts'))).toEqual([]);
  });

  describe.runIf(process.getuid?.() === 0)('on a full disk', () => {
    let mount: string | undefined;
    afterAll(async () => {
      if (mount) await execa('umount', [mount], { reject: false });
      if (mount) await rm(mount, { recursive: true, force: true });
    });

    it('the program failing with ENOSPC is the storage full: a permanent StorageError saying to free space, nothing left', async () => {
      mount = await mkdtemp(path.join(tmpdir(), 'dbops-local-full-'));
      await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
      const storage = new FileStorage(mount);
      const local = await storage.createLocal('parts/1');
      const program = writer(local.fd, 'head -c 3000000 /dev/zero');
      const err = await local.publish(program, () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).permanent).toBe(true);
      expect((err as Error).message).toMatch(/^file storage cannot write parts\/1: ENOSPC.*; free disk space$/);
      expect(await readdir(path.join(mount, 'parts'))).toEqual([]);
    });
  });
});
