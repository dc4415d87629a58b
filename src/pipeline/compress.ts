// zstd by wrapping the stock binary (multithreaded, and a responder can `zstd -d` by hand).
import { startTool, type ToolProcess } from '../util/tool-process.js';

export interface CompressOptions {
  /** Read the raw bytes from this file descriptor (a pipe another program writes) instead of from us. */
  stdin?: number;
  /** Write the compressed stream into this file descriptor (a pipe another program reads). */
  stdout?: number;
  /** Report the byte counts on stderr (`-vv`: "(N B => M B"), for input node never sees. */
  reportSizes?: boolean;
}

export function startCompress(level: number, threads: number, options: CompressOptions = {}): ToolProcess {
  return startTool('zstd', [`-${level}`, `-T${threads}`, options.reportSizes ? '-vv' : '-q', '-c'], { ...(options.stdin !== undefined ? { stdin: options.stdin } : {}), ...(options.stdout !== undefined ? { stdout: options.stdout } : {}) });
}

/** The input size zstd reported under `reportSizes`, or undefined when it did not. */
export function reportedInputBytes(stderr: string): number | undefined {
  const m = /\((\d+) B => \d+ B/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** The output size `zstd -d -vv` reported ("/*stdin*\\ : N bytes"), or undefined when it did not. */
export function reportedOutputBytes(stderr: string): number | undefined {
  const m = /: (\d+) bytes\s*$/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/**
 * zstd -d reading `stdin`, a pipe another program (age) writes; with `stdout`, straight into
 * that file descriptor (a pipe a consumer program reads), reporting the size.
 */
export function startDecompress(options: { stdin: number; stdout?: number }): ToolProcess {
  if (options.stdout === undefined) return startTool('zstd', ['-d', '-q', '-c'], { stdin: options.stdin });
  return startTool('zstd', ['-d', '-vv', '-c'], { stdin: options.stdin, stdout: options.stdout });
}
