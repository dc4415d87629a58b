// Child process for the teardown test: starts a sandbox server, prints where
// it lives, then dies the way argv[2] says (signal, throw, or plain exit).
import { startSandboxServer } from '../../../src/sandbox/process-server.js';

const how = process.argv[2] ?? 'exit';
const server = await startSandboxServer({ binlog: false });
process.stdout.write(`${JSON.stringify({ pid: server.pid, baseDir: server.baseDir })}\n`);
if (how === 'SIGTERM' || how === 'SIGINT') process.kill(process.pid, how);
else if (how === 'throw') throw new Error('child crashed');
else process.exit(0);
// Keep running until the signal lands.
setTimeout(() => undefined, 60_000);
