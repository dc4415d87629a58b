// Generates the raw rows (sessions, pageviews, events) as LOAD DATA tab-separated text, one
// (day, site) unit at a time from its own PRNG stream, so the output depends only on the plan.
// It is a generator function that yields every few hundred sessions: the caller interleaves
// generation of the next batch with loading of the previous one on a single event loop.
//
// Visitor identifiers follow db/migrations/0004_visitor_privacy exactly, so the seeded data shows
// the property: ip_hash = HMAC-SHA-256(salt of the day, ip), user_hash = HMAC-SHA-256(salt of the
// day, site|ip|user agent), session ids 16 bytes of AES-128-CTR keystream. Salts and keys are
// derived from the seed rather than drawn from the CSPRNG, because the same seed must give the same
// tables; none of them is stored (a live system destroys a day's salt after the next day).
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import {
  BROWSERS,
  CAMPAIGNS,
  COUNTRIES,
  DEVICES,
  EVENT_NAMES,
  eventProperties,
  HOURS,
  LONG_TAIL,
  LONG_TAIL_SHARE,
  OSES,
  REFERRERS,
  type SiteSpec,
} from './catalog.js';
import { hash32, Rng } from './prng.js';

const DAY_MS = 86_400_000;
const EVENT_RATE = 0.15;
const BOUNCE_RATE = 0.42;

export interface GenerationPlan {
  seed: string;
  sites: SiteSpec[];
  /** Ascending 'YYYY-MM-DD'. */
  days: string[];
  /** sessions[dayIndex][siteIndex] */
  sessions: number[][];
  /** Distinct visitors each site draws from (skewed, so some return often). */
  visitorPool: number[];
}

/** Appends UTF-8 text straight into a Buffer: millions of retained small strings would leave the
 *  process spending most of its time in the garbage collector. */
export class ByteSink {
  private buf: Buffer;
  private used = 0;
  /** Lines are concatenated first: one Buffer.write per ~64 KB is far cheaper than one per line. */
  private pending = '';
  rows = 0;

  constructor(private readonly initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Bytes held (pending text counted by characters, close enough for batching). */
  get length(): number {
    return this.used + this.pending.length;
  }

  write(line: string): void {
    this.pending += line;
    this.rows++;
    if (this.pending.length >= 65_536) this.flush();
  }

  private flush(): void {
    const need = this.used + this.pending.length * 3;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, need));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.used += this.buf.write(this.pending, this.used, 'utf8');
    this.pending = '';
  }

  /** The bytes written so far, then starts over with a fresh buffer. */
  take(): { bytes: Buffer; rows: number } {
    this.flush();
    const out = { bytes: this.buf.subarray(0, this.used), rows: this.rows };
    this.buf = Buffer.allocUnsafe(Math.max(this.initial, this.buf.length));
    this.used = 0;
    this.rows = 0;
    return out;
  }
}

export type Batch = Record<'sessions' | 'pageviews' | 'events', { bytes: Buffer; rows: number }>;

/** Text collected for the next LOAD DATA of each table; the caller takes it after each batch. */
export class RowBuffers {
  readonly sessions = new ByteSink();
  readonly pageviews = new ByteSink();
  readonly events = new ByteSink();
  readonly totals = { sessions: 0, pageviews: 0, events: 0 };

  get bytes(): number {
    return this.sessions.length + this.pageviews.length + this.events.length;
  }

  take(): Batch {
    return { sessions: this.sessions.take(), pageviews: this.pageviews.take(), events: this.events.take() };
  }
}

const P2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const P3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

function fmt(day: string, ms: number): string {
  const h = (ms / 3_600_000) | 0;
  const m = ((ms / 60_000) | 0) % 60;
  const s = ((ms / 1000) | 0) % 60;
  return `${day} ${P2[h]}:${P2[m]}:${P2[s]}.${P3[ms % 1000]}`;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The day's salt: 32 bytes, different every day, derived from the seed. */
function daySalt(seed: string, day: string): Buffer {
  return createHmac('sha256', `dbops-seed-salt:${seed}`).update(day).digest();
}

/** `n` session ids for one (site, day) unit as hex: 16 bytes each of AES-128-CTR keystream, so they
 *  are unpredictable without the seed and never sequential (one cipher call per unit: cheap). */
function sessionIds(seed: string, siteId: number, day: string, n: number): string {
  const cipher = createCipheriv('aes-128-ctr', sha256(`dbops-seed-session-ids:${seed}`).subarray(0, 16), sha256(`${siteId}:${day}`).subarray(0, 16));
  return cipher.update(Buffer.alloc(n * 16)).toString('hex');
}

/** A synthetic public-looking IPv4 address for a visitor (only its hash is ever stored). */
function visitorIp(seed: string, siteId: number, visitor: number): string {
  const h = hash32(seed, 'ip', siteId, visitor);
  return `${11 + ((h >>> 24) % 212)}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${1 + ((h & 255) % 254)}`;
}

export function* generateRows(plan: GenerationPlan, out: RowBuffers): Generator<void, void, void> {
  const { seed } = plan;
  let pageviewId = 0;
  let eventId = 0;
  for (let d = 0; d < plan.days.length; d++) {
    const day = plan.days[d]!;
    for (let si = 0; si < plan.sites.length; si++) {
      const n = plan.sessions[d]![si]!;
      if (n === 0) continue;
      const site = plan.sites[si]!;
      const pool = plan.visitorPool[si]!;
      const rng = new Rng(seed, 'sessions', site.id, day);
      const salt = daySalt(seed, day);
      const ids = sessionIds(seed, site.id, day, n);
      const ipHashes = new Map<number, string>(); // a returning visitor's IP is hashed once a day
      for (let k = 0; k < n; k++) {
        const sid = ids.slice(k * 32, k * 32 + 32);
        const u = rng.next();
        const visitor = Math.floor(pool * u * u);
        const device = DEVICES.sample(rng);
        const browser = BROWSERS[device].sample(rng);
        const os = OSES[device].sample(rng);
        const country = COUNTRIES.sample(rng);
        const referrer = rng.next() < LONG_TAIL_SHARE ? LONG_TAIL.sample(rng) : REFERRERS.sample(rng).host;
        const utm = rng.next() < 0.08 ? rng.pick(CAMPAIGNS) : null;
        const wanted = rng.next() < BOUNCE_RATE ? 1 : Math.min(25, 2 + Math.floor(rng.exp(2.2)));
        const start = HOURS.sample(rng) * 3_600_000 + rng.int(3_600_000);
        let t = start;
        let end = start;
        let entry = '';
        let exit = '';
        let count = 0;
        for (;;) {
          const page = site.pages[site.popularity.sample(rng)]!;
          let dwell = count === wanted - 1 ? -1 : Math.min(900_000, 2000 + Math.floor(rng.exp(45_000)));
          if (dwell >= 0 && t + dwell >= DAY_MS) dwell = -1; // sessions never cross midnight
          const pv = `${++pageviewId}\t${day}\t${site.id}\t${sid}\t${fmt(day, t)}\t${page.path}\t${page.title}\t${dwell < 0 ? '\\N' : dwell}\t${count === 0 ? 1 : 0}\n`;
          out.pageviews.write(pv);
          if (count === 0) entry = page.path;
          exit = page.path;
          count++;
          if (rng.next() < EVENT_RATE) {
            const name = EVENT_NAMES.sample(rng);
            const props = eventProperties(name, rng);
            const et = Math.min(DAY_MS - 1, t + rng.int(dwell > 0 ? dwell : 30_000));
            if (et > end) end = et;
            const ev = `${++eventId}\t${day}\t${site.id}\t${sid}\t${fmt(day, et)}\t${name}\t${page.path}\t${props ?? '\\N'}\n`;
            out.events.write(ev);
            out.totals.events++;
          }
          if (t > end) end = t;
          if (dwell < 0) break;
          t += dwell;
        }
        out.totals.pageviews += count;
        const ip = visitorIp(seed, site.id, visitor);
        const userHash = createHmac('sha256', salt).update(`${site.id}|${ip}|${browser} (${os}; ${device})`).digest('hex');
        let ipHash = ipHashes.get(visitor);
        if (ipHash === undefined) ipHashes.set(visitor, (ipHash = createHmac('sha256', salt).update(ip).digest('hex')));
        const se =
          `${sid}\t${site.id}\t${userHash}\t${ipHash}\t${fmt(day, start)}\t${fmt(day, end)}\t${count}\t` +
          `${Math.floor((end - start) / 1000)}\t${entry}\t${exit}\t${referrer}\t` +
          `${utm ? `${utm[0]}\t${utm[1]}\t${utm[2]}` : '\\N\t\\N\t\\N'}\t${country ?? '\\N'}\t${device}\t${browser}\t${os}\n`;
        out.sessions.write(se);
        out.totals.sessions++;
        if ((k & 255) === 255) yield;
      }
      yield;
    }
  }
}
