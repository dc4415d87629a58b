// Starts the single MariaDB (binary log on) that the whole test run shares and
// tells the test files how to reach it; stops it when the run ends. S3 servers
// are started per test file, not here.
import type { TestProject } from 'vitest/node';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/process-server.js';
import type { ProvidedMariadb } from './helpers/mariadb.js';

let server: SandboxServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  server = await startSandboxServer({ binlog: true, serverId: 1 });
  const provided: ProvidedMariadb = {
    url: server.url,
    port: server.port,
    socket: server.socket,
    version: server.version,
    binlogDir: server.binlogDir,
  };
  project.provide('mariadb', provided);
  return async () => {
    await server?.stop();
    server = undefined;
  };
}
