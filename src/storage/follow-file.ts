// Reads a file while another program writes it, to hash what it wrote without its bytes
// passing through us. The writer's end (its exit) is the end of the file: only a read that
// began after the writer was done and found nothing more is the end, since a read that
// began before may have raced the last write.
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

const READ_BYTES = 1024 * 1024;
/** How long to wait, caught up with the writer, before looking again. */
const IDLE_MS = 20;

/**
 * Hands every byte the writer wrote, in order, to `onChunk` (one reused buffer), then
 * resolves with the count once `written` resolved and the rest was read; rejects with
 * `written`'s rejection. `afterRead` runs after each chunk (a datasync schedule, say).
 */
export async function followFile(fh: FileHandle, written: Promise<unknown>, onChunk: (chunk: Buffer) => void, afterRead: (bytes: number) => void = () => undefined): Promise<number> {
  const writer: { state: 'writing' | 'done' | 'failed'; failure?: unknown } = { state: 'writing' };
  const settled = written.then(
    () => void (writer.state = 'done'),
    (err: unknown) => void Object.assign(writer, { state: 'failed', failure: err }),
  );
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  let position = 0;
  for (;;) {
    const writerDone = writer.state;
    if (writerDone === 'failed') throw writer.failure;
    const { bytesRead } = await fh.read(buffer, 0, READ_BYTES, position);
    if (bytesRead > 0) {
      position += bytesRead;
      onChunk(buffer.subarray(0, bytesRead));
      afterRead(bytesRead);
      continue;
    }
    if (writerDone === 'done') return position;
    await Promise.race([delay(IDLE_MS), settled]);
  }
}
