// A lease in the repository: one writer at a time for something (a binlog source's
// shipping), with a heartbeat and an expiry, so a second writer on another host is
// refused by name and a crashed writer's lease runs out by itself.
//
// Generations, each created once: `<prefix>lease-<generation>.json`. Taking the lease is
// creating the next generation (create-only, conditional-create.ts), so of two writers
// taking over an expired lease only one can create generation N+1; the holder renews by
// rewriting its own generation, and loses the lease when a later generation appears or
// its own object no longer carries its token. Where the store cannot enforce create-only
// writes, renewal is where a double take-over is noticed (within one renewal interval).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { OperationError, isNotFound } from '../errors.js';
import { log } from '../util/logger.js';
import { createIfAbsent } from './conditional-create.js';
import type { Storage } from './storage.js';
import { isProcessAlive } from '../util/process-alive.js';

export const LEASE_FORMAT = 'horizn-dbops/lease';
const NAME_RE = /^lease-(\d{12})\.json$/;

export interface LeaseDoc {
  format: typeof LEASE_FORMAT;
  version: 1;
  /** What is held, for people: e.g. "binlog shipping of <source> to repository <id>". */
  what: string;
  generation: number;
  holder: { host: string; pid: number; token: string };
  acquiredAt: string;
  renewedAt: string;
  /** Another writer may take over after this instant (the holder's clock). */
  expiresAt: string;
  released: boolean;
}

/** Someone else holds the lease (exit 1); the message names them. */
export class LeaseHeldError extends OperationError {
  constructor(readonly holder: LeaseDoc, key: string) {
    super(`${holder.what} is held by ${describeHolder(holder)} (lease ${key}, renewed ${holder.renewedAt}, expires ${holder.expiresAt}): stop that writer first, or wait for its lease to expire; only one may write`);
  }
}

export function describeHolder(d: LeaseDoc): string {
  return `host ${d.holder.host} pid ${d.holder.pid}`;
}

export interface LeaseOptions {
  /** Folder of the lease objects, ending in "/". */
  prefix: string;
  what: string;
  ttlMs: number;
}

export class Lease {
  private lostReason: string | undefined;
  private lastRenewed = Date.now();
  private constructor(
    private readonly storage: Storage,
    private readonly o: LeaseOptions,
    private doc: LeaseDoc,
  ) {}

  get key(): string {
    return leaseKey(this.o.prefix, this.doc.generation);
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  /** Throws when the lease was lost (or could not be renewed before it expired). */
  assertHeld(): void {
    if (!this.lostReason && Date.now() - this.lastRenewed >= this.o.ttlMs) this.lostReason = `the lease could not be renewed for ${Math.round(this.o.ttlMs / 1000)} s (storage unreachable?), so another writer may have taken over`;
    if (this.lostReason) throw new OperationError(`${this.o.what}: ${this.lostReason}; stopped writing`);
  }

  /** Take the lease, or throw LeaseHeldError naming the holder. */
  static async acquire(storage: Storage, o: LeaseOptions): Promise<Lease> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await newest(storage, o.prefix);
      if (current && !takeable(current.doc)) throw new LeaseHeldError(current.doc, current.key);
      const now = new Date();
      const doc: LeaseDoc = {
        format: LEASE_FORMAT,
        version: 1,
        what: o.what,
        generation: (current?.doc.generation ?? 0) + 1,
        holder: { host: hostname(), pid: process.pid, token: randomBytes(12).toString('hex') },
        acquiredAt: now.toISOString(),
        renewedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + o.ttlMs).toISOString(),
        released: false,
      };
      if (await createIfAbsent(storage, leaseKey(o.prefix, doc.generation), encode(doc), { contentType: 'application/json', unlocked: true })) {
        const lease = new Lease(storage, o, doc);
        if (current) log.info({ lease: lease.key, previous: describeHolder(current.doc), previousExpired: current.doc.expiresAt }, `${o.what}: took over the lease`);
        await lease.removeOlder();
        return lease;
      }
      // Another writer created that generation first: look again (it normally holds it now).
    }
    throw new OperationError(`${o.what}: could not take the lease under ${o.prefix} (other writers kept taking it): is another writer starting at the same time?`);
  }

  /** Heartbeat: extend the expiry; notices a later generation or a foreign token (lease lost). */
  async renew(): Promise<void> {
    if (this.lostReason) return;
    const current = await newest(this.storage, this.o.prefix);
    if (current && current.doc.generation > this.doc.generation) return this.lose(`taken over by ${describeHolder(current.doc)} (lease ${current.key})`);
    const mine = await read(this.storage, this.key);
    if (mine && mine.holder.token !== this.doc.holder.token) return this.lose(`taken over by ${describeHolder(mine)} (lease ${this.key})`);
    const now = new Date();
    this.doc = { ...this.doc, renewedAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.o.ttlMs).toISOString() };
    await this.storage.put(this.key, encode(this.doc), { contentType: 'application/json', unlocked: true });
    this.lastRenewed = now.getTime();
  }

  /** Mark the lease released, so the next writer takes over at once. */
  async release(): Promise<void> {
    if (this.lostReason) return;
    const mine = await read(this.storage, this.key).catch(() => undefined);
    if (mine && mine.holder.token !== this.doc.holder.token) return;
    const now = new Date().toISOString();
    await this.storage.put(this.key, encode({ ...this.doc, renewedAt: now, expiresAt: now, released: true }), { contentType: 'application/json', unlocked: true });
  }

  private lose(why: string): void {
    this.lostReason = why;
    log.error({ lease: this.key }, `${this.o.what}: lease lost: ${why}`);
  }

  private async removeOlder(): Promise<void> {
    for await (const obj of this.storage.list(this.o.prefix)) {
      const gen = generationOf(obj.key.slice(this.o.prefix.length));
      if (gen !== undefined && gen < this.doc.generation) await this.storage.remove(obj.key).catch(() => undefined);
    }
  }
}

export function leaseKey(prefix: string, generation: number): string {
  return `${prefix}lease-${String(generation).padStart(12, '0')}.json`;
}

function generationOf(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

function encode(doc: LeaseDoc): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
}

/** The newest generation's lease, if any. */
export async function newest(storage: Storage, prefix: string): Promise<{ key: string; doc: LeaseDoc } | undefined> {
  let best: number | undefined;
  for await (const obj of storage.list(prefix)) {
    const gen = generationOf(obj.key.slice(prefix.length));
    if (gen !== undefined && (best === undefined || gen > best)) best = gen;
  }
  if (best === undefined) return undefined;
  const key = leaseKey(prefix, best);
  const doc = await read(storage, key);
  // Removed since the listing, or not ours to read: treat as a generation that is free.
  return { key, doc: doc ?? { format: LEASE_FORMAT, version: 1, what: '', generation: best, holder: { host: '?', pid: 0, token: '' }, acquiredAt: '', renewedAt: '', expiresAt: new Date(0).toISOString(), released: true } };
}

async function read(storage: Storage, key: string): Promise<LeaseDoc | undefined> {
  try {
    const doc = JSON.parse((await storage.getBuffer(key)).toString('utf8')) as LeaseDoc;
    return doc.format === LEASE_FORMAT ? doc : undefined;
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * Free to take: released, expired, or held by a process of this host that is gone (a
 * writer killed with -9 is replaced at once instead of after the expiry), including one
 * that had our own pid (a restarted container's process often gets the same pid).
 */
function takeable(doc: LeaseDoc): boolean {
  if (doc.released || Date.parse(doc.expiresAt) <= Date.now()) return true;
  if (doc.holder.host !== hostname()) return false;
  return doc.holder.pid === process.pid || !isProcessAlive(doc.holder.pid);
}

