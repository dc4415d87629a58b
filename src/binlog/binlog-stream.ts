// One run of the binlog tool streaming raw binlogs from the source over the replication
// protocol into the spool directory (`--result-file=<spool>/` is a name prefix: files
// keep the source's names). Credentials go in as an unnamed option file on fd 3
// (mysql/defaults-file.ts), which the wrapper below passes on to the tool.
//
// The tool runs under a tiny sh wrapper that kills it when our end of its stdin closes:
// if the shipper dies by SIGKILL, an orphaned streamer would otherwise keep writing the
// spool while the restarted shipper re-streams the same file, and the copy would be torn.
import type { MysqlConn } from '../mysql/connection-url.js';
import { openToolCredentials } from '../mysql/defaults-file.js';
import type { Flavor } from '../mysql/server-info.js';
import { startTool, toToolError, type ToolProcess } from '../util/tool-process.js';
import { ToolError } from '../errors.js';

const WRAPPER = [
  'exec 9<&0', // keep our stdin: background jobs get /dev/null as fd 0 (fd 3 is the tool's option file)
  '"$@" </dev/null &',
  'c=$!',
  '(read _ <&9; kill -TERM $c 2>/dev/null) &',
  'w=$!',
  'wait $c; s=$?',
  'kill $w 2>/dev/null',
  'exit $s',
].join('\n');

export interface StreamOptions {
  tool: string;
  flavor: Flavor;
  source: MysqlConn;
  spoolDir: string;
  startFile: string;
  /** Replica server_id for the dump connection; must differ from every real replica's. */
  connectionServerId: number;
  /** true: follow the source until stopped (--stop-never); false: stop at the end of the last log. */
  follow: boolean;
  /** Only `startFile` (not following, not to the last log): a backfill of one closed file. */
  single?: boolean;
}

export interface RunningStream {
  /** Settles when the tool exits: resolves on exit 0 or after stop(), rejects with a ToolError otherwise. */
  done: Promise<void>;
  /** Ask the tool to end (closes the wrapper's stdin); `done` settles soon after. */
  stop(): void;
}

/** The tool's arguments after its option file (which startTool puts first). */
export function streamArgs(o: StreamOptions): string[] {
  const args = ['--read-from-remote-server', '--raw', `--result-file=${o.spoolDir.replace(/\/?$/, '/')}`];
  if (o.follow) {
    // MariaDB's tool names the replica id after --stop-never; MySQL's has --connection-server-id.
    args.push('--stop-never', o.flavor === 'mariadb' ? `--stop-never-slave-server-id=${o.connectionServerId}` : `--connection-server-id=${o.connectionServerId}`);
  } else {
    if (!o.single) args.push('--to-last-log');
    if (o.flavor === 'mysql') args.push(`--connection-server-id=${o.connectionServerId}`);
  }
  args.push(o.startFile);
  return args;
}

/** The source no longer has the file we asked for (purged): a gap, not a retryable fault. */
export function isPurgedError(err: unknown): boolean {
  return err instanceof ToolError && /could not find first log file|binary log index file|purged|1236/i.test(err.message);
}

export function startStream(o: StreamOptions): RunningStream {
  let proc: ToolProcess | undefined;
  let stopped = false;
  const done = (async () => {
    if (stopped) return;
    const credentials = openToolCredentials(o.source, o.tool);
    try {
      proc = startTool('sh', ['-c', WRAPPER, 'dbops-binlog-stream', o.tool, credentials.arg, ...streamArgs(o)], { extraFds: [credentials.fd] });
    } finally {
      credentials.close();
    }
    proc.stdout.resume();
    try {
      await proc;
    } catch (err) {
      if (stopped) return;
      throw toToolError(err, o.flavor === 'mariadb' ? 'mariadb-binlog' : 'mysqlbinlog');
    }
  })();
  done.catch(() => undefined);
  return {
    done,
    stop: () => {
      stopped = true;
      proc?.stdin.end();
    },
  };
}
