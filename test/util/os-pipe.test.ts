// A kernel pipe between two programs must behave like a shell pipe: the writer learns that
// its reader is gone (SIGPIPE/EPIPE) and the reader sees end-of-file when its writer exits.
// Once the write end was opened read-write, so a writer whose reader died (after kill -9
// of dbops: age, then zstd) blocked forever as an orphan.
import { describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { osPipe, osPipes } from '../../src/util/os-pipe.js';
import { startTool } from '../../src/util/tool-process.js';

const settle = async (p: Promise<unknown>, ms: number): Promise<unknown> => Promise.race([p.then((v) => v, (e: unknown) => e), delay(ms, 'still running')]);

describe('osPipe', () => {
  it('a writer whose reader exited gets SIGPIPE instead of blocking forever', async () => {
    const pipe = await osPipe();
    const writer = startTool('yes', [], { stdout: pipe.writeFd });
    // Its end is awaited below, but it may come before: handled from the start.
    const writerEnded = writer.then((v) => v, (e: unknown) => e);
    const reader = startTool('head', ['-c', '1'], { stdin: pipe.readFd });
    pipe.close();
    writer.stdin.end();
    reader.stdout.resume();
    await reader;
    try {
      const ended = (await settle(writerEnded, 10_000)) as { signal?: string } | string;
      expect(ended).not.toBe('still running');
      expect((ended as { signal?: string }).signal).toBe('SIGPIPE');
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('a reader sees end-of-file when its writer exits', async () => {
    const pipe = await osPipe();
    const writer = startTool('sh', ['-c', 'printf hello'], { stdout: pipe.writeFd });
    const reader = startTool('cat', [], { stdin: pipe.readFd });
    pipe.close();
    writer.stdin.end();
    let text = '';
    for await (const chunk of reader.stdout) text += String(chunk);
    await Promise.all([writer, reader]);
    expect(text).toBe('hello');
  });

  it('several from one call are separate pipes, each carrying its own writer to its own reader', async () => {
    const pipes = await osPipes(3);
    const runs = pipes.map((pipe, i) => {
      const writer = startTool('sh', ['-c', `printf pipe${i}`], { stdout: pipe.writeFd });
      const reader = startTool('cat', [], { stdin: pipe.readFd });
      pipe.close();
      writer.stdin.end();
      return (async () => {
        let text = '';
        for await (const chunk of reader.stdout) text += String(chunk);
        await Promise.all([writer, reader]);
        return text;
      })();
    });
    expect(await Promise.all(runs)).toEqual(['pipe0', 'pipe1', 'pipe2']);
  });
});
