// Reads a kernel pipe that a program writes (age's output on its way to S3) into one reused
// buffer: a pipe read into a fresh buffer per 64 KiB chunk left V8 collecting hundreds of MB
// of buffers per backup. Each chunk is lent until the next one is asked for (the socket
// stays paused meanwhile), which is what a storage driver's put() promises (storage.ts).
import { Socket } from 'node:net';

const BUFFER_BYTES = 256 * 1024;

export interface PipeReader extends AsyncIterable<Buffer> {
  /** Stop reading: a pending or later pull rejects with `err`. */
  destroy(err?: Error): void;
}

/** Takes over `fd` (the read end of a pipe): it is closed when the reader ends or is destroyed. */
export function readPipe(fd: number, onChunk: (chunk: Buffer) => void): PipeReader {
  const buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  let ready: Buffer | undefined;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const socket = new Socket({
    fd,
    readable: true,
    writable: false,
    onread: {
      buffer,
      callback: (bytes: number, buf: Uint8Array) => {
        ready = Buffer.from(buf.buffer, buf.byteOffset, bytes);
        wake?.();
        // Paused until the chunk was taken and the next asked for: the buffer is lent out.
        return false;
      },
    },
  });
  socket.on('end', () => {
    ended = true;
    wake?.();
  });
  socket.on('error', (err) => {
    failure ??= err;
    wake?.();
  });
  const next = async (): Promise<Buffer | undefined> => {
    for (;;) {
      if (failure) throw failure;
      if (ready) {
        const chunk = ready;
        ready = undefined;
        return chunk;
      }
      if (ended) return undefined;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const chunk = await next();
          if (!chunk) return;
          onChunk(chunk);
          yield chunk;
          socket.resume();
        }
      } finally {
        socket.destroy();
      }
    },
    destroy(err = new Error('reading stopped')) {
      failure ??= err;
      socket.destroy();
      wake?.();
    },
  };
}
