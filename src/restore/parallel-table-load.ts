// Loads one big table over several client connections at once. A single connection
// leaves a core idle while the server parses one INSERT at a time, and per-table
// parallelism alone is bound by the largest table (pageviews holds ~40% of horizn_).
// Order kept: the head (DROP/CREATE TABLE) finishes before any row goes in; the
// statements go to whichever connection is free; the tail (ENABLE KEYS, triggers,
// deferred indexes) runs once every connection has finished.
import { InsertSplitter, sessionSettings, type Piece } from './insert-splitter.js';
import { ClientSession, type ClientSpec } from './client-session.js';

export interface ParallelLoadStats {
  statements: number;
  connections: number;
}

export async function loadTableInParallel(input: AsyncIterable<Buffer>, spec: ClientSpec, width: number, signal?: AbortSignal): Promise<ParallelLoadStats> {
  const splitter = new InsertSplitter();
  const sessions: ClientSession[] = [];
  const open = (preamble: string): ClientSession => {
    const s = new ClientSession({ ...spec, preamble: spec.preamble + preamble });
    sessions.push(s);
    return s;
  };
  let head: Buffer[] = [];
  let settings = '';
  let loaders: ClientSession[] | undefined;
  let tail: ClientSession | undefined;
  let statements = 0;
  let next = 0;

  const startLoaders = async (): Promise<ClientSession[]> => {
    const headBytes = Buffer.concat(head);
    head = [];
    settings = sessionSettings(headBytes);
    const first = open('');
    await first.write(headBytes);
    await first.finish();
    return Array.from({ length: width }, () => open(settings));
  };

  const handle = async (piece: Piece): Promise<void> => {
    if (piece.section === 'head') {
      head.push(piece.data);
      return;
    }
    if (piece.section === 'insert') {
      loaders ??= await startLoaders();
      statements++;
      await send(loaders, piece.data);
      return;
    }
    if (!tail) {
      // No INSERT at all (an empty table): the head is the whole part.
      if (!loaders) {
        tail = open('');
        await tail.write(Buffer.concat(head));
        head = [];
      } else {
        await Promise.all(loaders.map((l) => l.finish()));
        tail = open(settings);
      }
    }
    await tail.write(piece.data);
  };

  /** The next free connection takes the statement; when all are busy, wait for one. */
  const send = async (pool: ClientSession[], data: Buffer): Promise<void> => {
    for (let i = 0; i < pool.length; i++) {
      const s = pool[(next + i) % pool.length]!;
      if (s.ready) {
        next = (next + i + 1) % pool.length;
        await s.write(data);
        return;
      }
    }
    await Promise.race(pool.map((s) => s.drained()));
    await send(pool, data);
  };

  const onAbort = (): void => sessions.forEach((s) => s.kill());
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of input) for (const piece of splitter.push(chunk)) await handle(piece);
    for (const piece of splitter.end()) await handle(piece);
    if (!tail && !loaders && head.length > 0) {
      tail = open('');
      await tail.write(Buffer.concat(head));
    }
    if (loaders && !tail) await Promise.all(loaders.map((l) => l.finish()));
    if (tail) await tail.finish();
  } catch (err) {
    for (const s of sessions) s.kill();
    await Promise.all(sessions.map((s) => s.gone()));
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { statements, connections: loaders ? loaders.length : 1 };
}
