// Child process for the teardown test: starts a sandbox server, prints where
// it lives, then dies the way argv[2] says (signal, throw, or plain exit);
// 'restart-exit' restarts the server first, so the process to clean up is the new one.
import { startSandboxServer } from '../../../src/sandbox/process-server.js';

let how = process.argv[2] ?? 'exit';
const server = await startSandboxServer({ binlog: false });
if (how.startsWith('restart-')) {
  await server.restart();
  how = how.slice('restart-'.length);
}
process.stdout.write(`${JSON.stringify({ pid: server.pid, baseDir: server.baseDir })}\n`);
if (how === 'SIGTERM' || how === 'SIGINT') process.kill(process.pid, how);
else if (how === 'throw') throw new Error('child crashed');
else process.exit(0);
// Keep running until the signal lands.
setTimeout(() => undefined, 60_000);
