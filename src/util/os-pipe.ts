// A kernel pipe between two programs we start, so a dump's bytes reach zstd without
// passing through node. Node has no pipe(2), and handing one child's stdio stream to
// another does not work either: Node's child pipes are socket pairs that execa watches,
// so closing our copy either shuts the socket down for both ends or fails the subprocess.
// A FIFO stands in: made in a private directory, both ends opened here, unlinked at once.
// Each end is opened for its direction only, as pipe(2) makes them: a writer whose reader is
// gone gets SIGPIPE, a reader sees end-of-file once every writer exited. (The write end was
// once opened read-write to keep open() from blocking; a writer then also held a reader, and
// after kill -9 of dbops, zstd writing to a dead age blocked forever as an orphan.)
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
  /** Hand our read end over to whoever closes it from now on (a socket reading it here). */
  releaseRead(): number;
  /** Close our copy of the write end once the writing program has its own (idempotent). */
  closeWrite(): void;
  close(): void;
}

export async function osPipe(): Promise<OsPipe> {
  const [pipe] = await osPipes(1);
  return pipe!;
}

/** `count` pipes from one mkfifo run: each run is a process start, on the way to a backup's first byte. */
export async function osPipes(count: number): Promise<OsPipe[]> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-pipe-'));
  const pipes: OsPipe[] = [];
  try {
    const paths = Array.from({ length: count }, (_, i) => join(dir, `p${i}`));
    await execa('mkfifo', ['-m', '600', ...paths]);
    for (const path of paths) pipes.push(openPipe(path));
    return pipes;
  } catch (err) {
    for (const p of pipes) p.close();
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function openPipe(path: string): OsPipe {
  // A FIFO's blocking open waits for the other side. A non-blocking read open returns at
  // once; with that reader present the write open does not wait, and with the writer
  // present a blocking read open does not either. The non-blocking end is then closed: its
  // O_NONBLOCK would be shared with the program that reads it.
  const probe = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let writeFd: number;
  let readFd: number;
  try {
    writeFd = openSync(path, constants.O_WRONLY);
    readFd = openSync(path, constants.O_RDONLY);
  } finally {
    closeSync(probe);
  }
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
    releaseRead: () => {
      if (!readOpen) throw new Error('the read end of this pipe is closed or handed over already');
      readOpen = false;
      return readFd;
    },
    close: () => {
      closeRead();
      closeWrite();
    },
  };
}
