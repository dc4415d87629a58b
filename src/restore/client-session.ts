// One `mysql`/`mariadb` client process fed through its stdin: the unit every restore
// step writes SQL into. The client (not our code) runs the SQL, so DELIMITER blocks,
// comments and every statement form behave exactly as with `mysql < dump.sql`.
import { once } from 'node:events';
import { startTool, waitTool, type ToolProcess } from '../util/tool-process.js';
import type { MysqlConn } from '../mysql/connection-url.js';

export interface ClientSpec {
  clientTool: string;
  /** The account the client logs in as (handed over as an option file, never argv). */
  credentials: MysqlConn;
  /** Database the session starts in. */
  database?: string;
  /** Written first: session settings (binlog off, checks off…). */
  preamble: string;
  /** Let the session run LOAD DATA LOCAL INFILE (the restore's own FIFOs, see load-data.ts). */
  localInfile?: boolean;
}

export class ClientSession {
  private readonly proc: ToolProcess;
  private readonly exited: Promise<void>;
  private failure: unknown;
  private ended = false;

  constructor(spec: ClientSpec) {
    // --comments: the client otherwise strips comments, also inside routine and trigger bodies.
    const args = ['--batch', '--comments', '--max-allowed-packet=1G', '--default-character-set=utf8mb4'];
    if (spec.database !== undefined) args.push(`--database=${spec.database}`);
    if (spec.localInfile) args.push('--local-infile=1');
    this.proc = startTool(spec.clientTool, args, { credentials: spec.credentials });
    this.exited = waitTool(this.proc, 'mysql client');
    this.exited.then(
      () => (this.ended = true),
      (err: unknown) => {
        this.ended = true;
        this.failure ??= err;
      },
    );
    // A client that died early closes its stdin; the write error is not the story, its exit is.
    this.proc.stdin.on('error', () => undefined);
    if (spec.preamble) this.proc.stdin.write(spec.preamble);
  }

  /** Resolves when the client drained its input, or rejects with its error if it ended. */
  private async drained(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.proc.stdin.writableNeedDrain) return;
    // A client that died makes its stdin fail (EPIPE): wait for its exit, whose error says why.
    const gone = this.exited.catch(() => undefined);
    await Promise.race([once(this.proc.stdin, 'drain').catch(() => gone), gone]);
    if (this.failure) throw this.failure;
  }

  /** Write, honouring backpressure. */
  async write(data: Buffer | string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.proc.stdin.write(data)) await this.drained();
  }

  /** End the input and wait until the client ran everything (rejects with a ToolError naming what failed). */
  async finish(): Promise<void> {
    this.proc.stdin.end();
    await this.exited;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** True once the process has exited. */
  hasExited(): boolean {
    return this.ended;
  }

  /** The client's own error once it has exited (undefined if it ended well or runs on). */
  async exitError(): Promise<unknown> {
    await this.gone();
    return this.failure;
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }

  /** Settles once the process is gone (never rejects). */
  async gone(): Promise<void> {
    await this.exited.catch(() => undefined);
  }
}
