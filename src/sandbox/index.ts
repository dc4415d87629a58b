// One entry point for throwaway servers: callers pick a driver by name (from
// config or a flag) and get the same Sandbox shape back either way.
import { startContainerSandbox, type ContainerSandbox, type ContainerSandboxOptions } from './container-server.js';
import { startSandboxServer, type SandboxOptions, type SandboxServer } from './process-server.js';
import type { Sandbox } from './sandbox.js';

export type ProcessSandboxStartOptions = { driver: 'process' } & SandboxOptions;
export type ContainerSandboxStartOptions = { driver: 'container' } & ContainerSandboxOptions;
export type StartSandboxOptions = ProcessSandboxStartOptions | ContainerSandboxStartOptions;

/** Starts a throwaway server with the chosen driver; it is torn down on stop/kill, exit and signals. */
export function startSandbox(options: ProcessSandboxStartOptions): Promise<SandboxServer>;
export function startSandbox(options: ContainerSandboxStartOptions): Promise<ContainerSandbox>;
export function startSandbox(options: StartSandboxOptions): Promise<Sandbox>;
export function startSandbox(options: StartSandboxOptions): Promise<Sandbox> {
  const { driver, ...rest } = options;
  return driver === 'container' ? startContainerSandbox(rest) : startSandboxServer(rest);
}

export type { Sandbox, SandboxDescription, SandboxDriver } from './sandbox.js';
export type { ContainerSandbox, ContainerSandboxOptions } from './container-server.js';
export type { SandboxOptions, SandboxServer } from './process-server.js';
export { removeStaleSandboxes, defaultSandboxImage, localSandboxImage } from './container-server.js';
export { containerEngineStatus, findContainerEngine } from './container-engine.js';
