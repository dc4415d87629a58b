// The one shape every throwaway-server driver returns (a local process in a
// temp datadir, or a container), so restore tests, the demo and tests can
// take either without caring which one runs the server. Both drivers pass one
// behaviour suite: test/sandbox/conformance.test.ts.
import type { MysqlConn } from '../mysql/connection-url.js';
import type { Flavor } from '../mysql/server-info.js';

export type SandboxDriver = 'process' | 'container';

/** What ran the server, for reports: enough to reproduce the environment. */
export interface SandboxDescription {
  driver: SandboxDriver;
  /** 'podman 4.3.1' / 'docker 27.0.1' for containers; the server binary path for processes. */
  engine: string;
  /** Image reference as given to the engine (containers only). */
  image?: string;
  /** Full image id (sha256 hex) the container ran (containers only). */
  imageId?: string;
  /** VERSION() as the server reports it, e.g. '10.11.19-MariaDB-0+deb12u1'. */
  serverVersion: string;
}

export interface Sandbox {
  driver: SandboxDriver;
  flavor: Flavor;
  /** mysql://root:<random password>@127.0.0.1:<port>; on a prepared datadir (a physical
   *  restore, whose accounts are the source's) the account is dbops_sandbox instead. */
  url: string;
  conn: MysqlConn;
  /** Loopback TCP port on this host. */
  port: number;
  /** VERSION() as the server reports it. */
  version: string;
  describe(): SandboxDescription;
  /** Clean shutdown, then everything removed. Idempotent. */
  stop(): Promise<void>;
  /** Immediate kill, then everything removed. Idempotent. */
  kill(): Promise<void>;
}
