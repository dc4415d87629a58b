// Starting external programs (zstd, age, mariadb-dump, mysql…) the same way everywhere:
// through execa, stdout as a stream (never buffered whole), stderr kept for the error
// message, and any failure turned into a ToolError that says which program failed.
import { execa, type Options, type ResultPromise } from 'execa';
import { ToolError, ToolTlsError } from '../errors.js';
import { findTool, isExecutableFile } from '../mysql/find-tool.js';
import { openToolCredentials, CREDENTIALS_FD } from '../mysql/defaults-file.js';
import type { MysqlConn } from '../mysql/connection-url.js';

export type ToolProcess = ResultPromise<{ buffer: { stdout: false; stderr: true }; stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe' }>;

export interface StartOptions {
  /** Extra environment; the parent's env is inherited minus secrets we never pass. */
  env?: Record<string, string>;
  cwd?: string;
  /** The program streams a lot through C stdio (mariadb-dump, mysqlbinlog): give its stdout a large buffer. */
  bufferStdout?: boolean;
  /** File descriptors (ends of an os-pipe) the program reads from / writes to instead of
   *  pipes to us; the caller closes its own copies once the program has started. */
  stdin?: number;
  stdout?: number;
  /** Log the tool (a MySQL/MariaDB client) in as this account: its option file goes in as
   *  fd 3 and `--defaults-extra-file=/dev/fd/3` becomes its first argument (defaults-file.ts). */
  credentials?: MysqlConn;
  /** Descriptors the child gets as fd 3, 4…, when a wrapper passes an option file on (binlog-stream.ts). */
  extraFds?: number[];
  /**
   * The program is killed (SIGKILL) when dbops dies, however it dies (kill -9 too), through
   * `setpriv --pdeathsig` (util-linux), which sets it and execs the program in place (same
   * pid). For a program nothing of ours feeds, which would otherwise run on to the end as an
   * orphan. The signal follows the spawning thread, which for node's spawn is the main one.
   */
  dieWithParent?: boolean;
  /** A chatty program (mariadb-backup logs a line per file it copies): stderr is read line by
   *  line into this callback instead of being kept whole, and only its last lines make the error. */
  stderrLines?: (line: string) => void;
}

/** Lines of a chatty program's stderr kept for its error message. */
const STDERR_TAIL_LINES = 40;

/** stdio block-buffers a pipe in 4 KiB writes, so a dump reaches us in ~220,000 reads per GB.
 *  Measured at 1 GB: reading mariadb-dump's output took 2.9 s of our CPU and 9.3 s of wall time;
 *  under `stdbuf -o1M` (coreutils) 1.1 s and 6.4 s. Without stdbuf the program runs as it is. */
const STDOUT_BUFFER = '-o1M';
let stdbufPath: string | null | undefined;

/** The command line that runs `file` under stdbuf, when both exist; else `file` as it is, so a
 *  missing program still fails as ENOENT with the usual error (stdbuf would exit 127 instead). */
function underStdbuf(file: string, args: readonly string[]): [string, readonly string[]] {
  stdbufPath ??= findTool('stdbuf') ?? null;
  const program = file.includes('/') ? (isExecutableFile(file) ? file : undefined) : findTool(file);
  return stdbufPath && program ? [stdbufPath, [STDOUT_BUFFER, program, ...args]] : [file, args];
}

/** `file` under `setpriv --pdeathsig KILL`, once the program is found: a missing program still
 *  fails as ENOENT naming it (setpriv would exit 127 instead). A missing setpriv is a ToolError
 *  naming its package, before anything starts: without it nothing stops the program outliving us. */
function dyingWithParent(file: string, args: readonly string[]): [string, readonly string[]] {
  const program = file.includes('/') ? (isExecutableFile(file) ? file : undefined) : findTool(file);
  if (!program) return [file, args];
  const setpriv = findTool('setpriv');
  if (!setpriv) throw new ToolError('setpriv', `not found on PATH; install it (Debian: apt-get install ${packageFor('setpriv')})`);
  return [setpriv, ['--pdeathsig', 'KILL', '--', program, ...args]];
}

/** Environment variables a child never needs: our own secrets-bearing settings. */
const SCRUBBED_ENV = /^(DBOPS_|AWS_SECRET|AWS_SESSION|MYSQL_PWD$)/;

function childEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED_ENV.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Spawn a program with piped stdio; await it (or `waitTool`) to learn how it ended. */
export function startTool(file: string, args: readonly string[], options: StartOptions = {}): ToolProcess {
  const credentials = options.credentials ? openToolCredentials(options.credentials, file) : undefined;
  if (credentials) args = [credentials.arg, ...args];
  // stdbuf execs the program in place: same pid, so signals, `ps` and fd 3 stay the program's.
  if (options.bufferStdout) [file, args] = underStdbuf(file, args);
  if (options.dieWithParent) [file, args] = dyingWithParent(file, args);
  // execa passes a file descriptor number straight to spawn (its types only list 0-2).
  const stdio: unknown[] = [options.stdin ?? 'pipe', options.stdout ?? 'pipe', 'pipe'];
  if (credentials) stdio[CREDENTIALS_FD] = credentials.fd;
  else stdio.push(...(options.extraFds ?? []));
  const execaOptions: Options = {
    stdio: stdio as unknown as Options['stdio'],
    buffer: { stdout: false, stderr: !options.stderrLines },
    env: childEnv(options.env),
    extendEnv: false,
    cwd: options.cwd,
    stripFinalNewline: true,
    maxBuffer: { stderr: 1_000_000 },
  };
  // With a file descriptor for stdin/stdout, that stream is null on the result: callers
  // that pass one never touch it.
  let proc: ToolProcess;
  try {
    proc = execa(file, args, execaOptions) as unknown as ToolProcess;
  } finally {
    // spawn() has run (synchronously): the child holds its own copy of the option file.
    credentials?.close();
  }
  if (options.stderrLines) followStderr(proc, options.stderrLines);
  return proc;
}

/** Feed stderr to `onLine`; a failure's error carries the last lines as its stderr (this handler runs before any awaiting caller's). */
function followStderr(proc: ToolProcess, onLine: (line: string) => void): void {
  const tail: string[] = [];
  let partial = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
      onLine(line);
    }
  });
  proc.catch((err: { stderr?: unknown }) => {
    if (partial) tail.push(partial);
    if (err && typeof err === 'object' && !err.stderr) err.stderr = tail.join('\n');
  });
}

/** Last non-empty lines of stderr, short enough for a one-line error. */
export function stderrTail(stderr: unknown, maxChars = 300): string {
  const text = typeof stderr === 'string' ? stderr : '';
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const tail = lines.slice(-2).join(' | ');
  return tail.length > maxChars ? `…${tail.slice(-maxChars)}` : tail;
}

/** Await a tool; map execa's error to a ToolError naming the program and how it ended. */
export async function waitTool(proc: ToolProcess, name: string): Promise<void> {
  try {
    await proc;
  } catch (err) {
    throw toToolError(err, name);
  }
}

export function toToolError(err: unknown, name: string): ToolError {
  if (err instanceof ToolError) return err;
  const e = err as { signal?: string; exitCode?: number; stderr?: unknown; code?: string; isTerminated?: boolean; shortMessage?: string };
  if (e.code === 'ENOENT') return new ToolError(name, `not found on PATH; install it (Debian: apt-get install ${packageFor(name)})`);
  const how = e.signal ? `killed by ${e.signal}` : e.exitCode !== undefined ? `exited with code ${e.exitCode}` : (e.shortMessage ?? String(err));
  const tail = stderrTail(e.stderr);
  // The client library's TLS failures ("TLS/SSL error: …", "SSL connection error: …").
  if (/TLS\/SSL error|SSL connection error/i.test(tail)) {
    return new ToolTlsError(name, `${how}, refusing the server's TLS`, `${tail}: check ssl-ca and that the host is one the server certificate lists (MariaDB's clients check the name under VERIFY_CA too)`, { cause: err });
  }
  return new ToolError(name, how, tail, { cause: err });
}

function packageFor(tool: string): string {
  if (tool.startsWith('age')) return 'age';
  if (tool.startsWith('zstd')) return 'zstd';
  if (tool === 'setpriv') return 'util-linux';
  if (tool.startsWith('mariadb')) return 'mariadb-client';
  return 'mariadb-client (or mysql-client)';
}
