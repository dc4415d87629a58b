// Which Docker-CLI-compatible engine (podman or docker) runs sandbox
// containers, and whether it works. Both accept the same `run/port/logs/rm/
// inspect` arguments we use; the few differences (rm's stop timeout) live here.
import { basename } from 'node:path';
import { execa } from 'execa';
import { ToolError } from '../errors.js';
import { findTool } from '../mysql/find-tool.js';

export interface ContainerEngine {
  /** 'podman' or 'docker' (the executable's base name). */
  name: string;
  path: string;
  isPodman: boolean;
}

/**
 * Picks the engine: the explicit name or path, 
 * else podman when on PATH (it needs no daemon), else docker.
 */
export function findContainerEngine(preferred?: string): ContainerEngine {
  const wanted = preferred?.trim() || (findTool('podman') ? 'podman' : findTool('docker') ? 'docker' : undefined);
  if (!wanted) {
    throw new ToolError('podman', 'no container engine on PATH: install podman (run scripts/setup-podman.sh) or docker, or use the process driver');
  }
  const path = wanted.includes('/') ? wanted : findTool(wanted);
  if (!path) throw new ToolError(wanted, 'container engine not found on PATH: install it or set sandbox.engine (DBOPS_SANDBOX_ENGINE) to podman or docker');
  const name = basename(path);
  return { name, path, isPodman: name.includes('podman') };
}

export type EngineStatus = { usable: true; engine: ContainerEngine; version: string } | { usable: false; reason: string };

/** Whether the engine answers `info` (a docker CLI without a daemon, or a broken podman, does not). */
export async function containerEngineStatus(preferred?: string): Promise<EngineStatus> {
  let engine: ContainerEngine;
  try {
    engine = findContainerEngine(preferred);
  } catch (err) {
    return { usable: false, reason: (err as Error).message };
  }
  const r = await execa(engine.path, ['info'], { reject: false, all: true, timeout: 30_000 });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
    return { usable: false, reason: `${engine.name} info failed (${tail}): run scripts/setup-podman.sh` };
  }
  return { usable: true, engine, version: await engineVersion(engine) };
}

const versions = new Map<string, Promise<string>>();

/** The client version ('4.3.1'), cached per executable. */
export function engineVersion(engine: ContainerEngine): Promise<string> {
  let v = versions.get(engine.path);
  if (!v) {
    v = execa(engine.path, ['version', '--format', '{{.Client.Version}}'], { reject: false, timeout: 30_000 }).then((r) =>
      r.exitCode === 0 ? r.stdout.trim() : 'unknown',
    );
    versions.set(engine.path, v);
  }
  return v;
}

/**
 * Arguments for an immediate forced removal of one container (docker's `rm -f`
 * already SIGKILLs; podman's waits 10 s first). One name per call: podman 4.3
 * given several names of which one no longer exists removes none of them and
 * still exits 0.
 */
export function forceRemoveArgs(engine: ContainerEngine, name: string): string[] {
  return ['rm', '-f', ...(engine.isPodman ? ['-t', '0'] : []), name];
}

/** Force-removes containers (one engine call each, in parallel); missing ones are fine. */
export async function forceRemove(engine: ContainerEngine, names: string[]): Promise<void> {
  await Promise.all(names.map((n) => execa(engine.path, forceRemoveArgs(engine, n), { reject: false, timeout: 60_000, stdin: 'ignore' })));
}

/** Runs an engine command; ToolError with the output tail (one line) when it fails. */
export async function runEngine(engine: ContainerEngine, args: string[], what: string, timeoutMs = 120_000): Promise<string> {
  const r = await execa(engine.path, args, { reject: false, all: true, timeout: timeoutMs, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').split('\n').map((l) => l.trim()).filter(Boolean).slice(-4).join(' | ');
    throw new ToolError(engine.name, `${what} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`})`, tail);
  }
  return r.stdout;
}
