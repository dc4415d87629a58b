// A kernel pipe between two programs we start, so a dump's bytes reach zstd without
// passing through node. Node has no pipe(2), and handing one child's stdio stream to
// another does not work either: Node's child pipes are socket pairs that execa watches,
// so closing our copy either shuts the socket down for both ends or fails the subprocess.
// A FIFO stands in: made in a private directory, both ends opened here, unlinked at once.
import { mkdtemp, rm } from 'node:fs/promises';
import { closeSync, constants, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface OsPipe {
  readFd: number;
  writeFd: number;
  /** Close our copy of the read end once the reading program has its own (idempotent). */
  closeRead(): void;
  /** Close our copy of the write end once the writing program has its own (idempotent). */
  closeWrite(): void;
  close(): void;
}

export async function osPipe(): Promise<OsPipe> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-pipe-'));
  try {
    const path = join(dir, 'p');
    await execa('mkfifo', ['-m', '600', path]);
    // The write end is opened read-write so neither open blocks (a FIFO's open waits for the
    // other side). The writer thus also holds a read end: it gets no SIGPIPE if the reader
    // dies, so callers kill both programs on any failure.
    const writeFd = openSync(path, constants.O_RDWR);
    const readFd = openSync(path, constants.O_RDONLY);
    let readOpen = true;
    let writeOpen = true;
    const closeRead = (): void => {
      if (readOpen) closeSync(readFd);
      readOpen = false;
    };
    const closeWrite = (): void => {
      if (writeOpen) closeSync(writeFd);
      writeOpen = false;
    };
    return {
      readFd,
      writeFd,
      closeRead,
      closeWrite,
      close: () => {
        closeRead();
        closeWrite();
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
