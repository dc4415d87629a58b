// Child process for the container teardown test: starts a container sandbox,
// prints its name and port, then dies the way argv[2] says (signal or plain exit).
import { startSandbox } from '../../../src/sandbox/index.js';

const how = process.argv[2] ?? 'exit';
const sandbox = await startSandbox({ driver: 'container', binlog: false });
process.stdout.write(`${JSON.stringify({ name: sandbox.containerName, port: sandbox.port })}\n`);
if (how === 'SIGTERM' || how === 'SIGINT') process.kill(process.pid, how);
else if (how === 'throw') throw new Error('child crashed');
else process.exit(0);
// Keep running until the signal lands.
setTimeout(() => undefined, 60_000);
