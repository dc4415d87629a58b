// The pipe reader lends one reused buffer per chunk: a consumer that takes its time before it
// copies a chunk must still find the chunk intact (the socket stays paused until the next is
// asked for), and every byte a real program wrote arrives once, in order.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPipe } from '../../src/pipeline/pipe-reader.js';
import { osPipe } from '../../src/util/os-pipe.js';

let dir: string;
let source: string;
let content: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dbops-pipe-reader-'));
  source = path.join(dir, 'source');
  content = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(source, content);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `cat` writing the file into the pipe's write end, as age writes its output; resolves with its exit code. */
async function catInto(file: string): Promise<{ reader: ReturnType<typeof readPipe>; exited: Promise<number | null>; hashed: () => string }> {
  const pipe = await osPipe();
  const child = spawn('cat', [file], { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  pipe.closeWrite();
  const hash = createHash('sha256');
  const reader = readPipe(pipe.releaseRead(), (chunk) => hash.update(chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { reader, exited, hashed: () => hash.digest('hex') };
}

describe('readPipe', () => {
  it('lends each chunk until the next is asked for: a slow consumer copies every byte intact, in order', async () => {
    const { reader, exited, hashed } = await catInto(source);
    const copies: Buffer[] = [];
    let chunks = 0;
    for await (const chunk of reader) {
      chunks++;
      // Meanwhile the program goes on writing: were the socket reading, this chunk's memory would be overwritten.
      if (chunks % 4 === 1) await delay(5);
      copies.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(copies).equals(content)).toBe(true);
    expect(chunks).toBeGreaterThan(4);
    expect(hashed()).toBe(createHash('sha256').update(content).digest('hex'));
    expect(await exited).toBe(0);
  });

  it('destroy() fails the pull with its error, and the writer meets a closed pipe', async () => {
    const { reader, exited } = await catInto(source);
    const pulls = reader[Symbol.asyncIterator]();
    expect((await pulls.next()).done).toBe(false);
    reader.destroy(new Error('upload failed'));
    await expect(pulls.next()).rejects.toThrow('upload failed');
    // cat dies of SIGPIPE (or exits non-zero on EPIPE) instead of blocking forever.
    expect(await exited).not.toBe(0);
  });
});
