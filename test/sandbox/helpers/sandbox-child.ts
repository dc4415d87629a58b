// Child process for the conformance suite's teardown test: starts a sandbox with the driver
// argv[2] names, prints where it lives, then dies by the signal argv[3] names (default SIGTERM).
import { startSandbox, type ContainerSandbox, type SandboxServer } from '../../../src/sandbox/index.js';

const driver = process.argv[2] === 'container' ? 'container' : 'process';
const signal = (process.argv[3] ?? 'SIGTERM') as NodeJS.Signals;
const sandbox = (await startSandbox({ driver, binlog: false })) as ContainerSandbox | SandboxServer;
const where = sandbox.driver === 'container' ? { name: sandbox.containerName } : { pid: sandbox.pid, dir: sandbox.baseDir };
process.stdout.write(`${JSON.stringify({ port: sandbox.port, ...where })}\n`);
process.kill(process.pid, signal);
// Keep running until the signal lands.
setTimeout(() => undefined, 60_000);
