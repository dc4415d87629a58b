// Webhook alerts: a generic JSON body and/or a Slack-compatible {"text"} body, on a job
// failure, on staleness (any health reason), and once when the problem clears. A
// problem that lasts is re-sent at most every `repeatAfterMs`, not on every check.
// Lag and staleness wait out a grace after start: a daemon that was down for a minute
// finds its shipper a minute behind, and catches up within seconds; that is no page.
// Success pings (`heartbeatUrl`, healthchecks.io-style) are the other half: a GET after
// every good backup and restore test, so a dead daemon is noticed by its silence.
import { hostname } from 'node:os';
import { log } from '../util/logger.js';

export interface AlertTargets {
  webhookUrl?: string;
  slackWebhookUrl?: string;
  /** GET after each success; a secret (the URL is the credential): never logged. */
  heartbeatUrl?: string;
  repeatAfterMs: number;
  /** Until this time (ms since the epoch) lag and staleness problems are not sent. */
  graceUntil?: number;
}

/** Problems that a daemon just (re)started may show for a while without anything being wrong. */
export function waitsForGrace(key: string): boolean {
  return key === 'backup-stale' || key === 'restore-test-stale' || key === 'shipping-none' || key.startsWith('shipping-lag:');
}

export interface AlertEvent {
  status: 'firing' | 'resolved';
  key: string;
  message: string;
  at: string;
}

export class Alerter {
  private readonly firing = new Map<string, { message: string; sentAt: number }>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly targets: AlertTargets) {}

  /** The current set of problems (key → message); sends what changed. */
  update(problems: ReadonlyMap<string, string>, prefix?: string): void {
    const now = Date.now();
    const grace = this.targets.graceUntil !== undefined && now < this.targets.graceUntil;
    for (const [key, message] of problems) {
      if (grace && waitsForGrace(key)) continue;
      const known = this.firing.get(key);
      if (!known || now - known.sentAt >= this.targets.repeatAfterMs) {
        this.firing.set(key, { message, sentAt: now });
        this.send({ status: 'firing', key, message, at: new Date(now).toISOString() });
      }
    }
    for (const [key, known] of this.firing) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      if (problems.has(key)) continue;
      this.firing.delete(key);
      this.send({ status: 'resolved', key, message: `resolved: ${known.message}`, at: new Date(now).toISOString() });
    }
  }

  /** A success ping: GET heartbeatUrl (no-op without one). Failures are logged, never thrown. */
  heartbeat(what: string): void {
    const url = this.targets.heartbeatUrl;
    if (!url) return;
    this.queue = this.queue.then(async () => {
      try {
        const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(10_000) });
        await res.body?.cancel();
        if (!res.ok) log.error({ status: res.status, after: what }, 'heartbeat URL refused the success ping');
        else log.debug({ after: what }, 'success ping sent');
      } catch (err) {
        log.error({ err: describeFetchError(err), after: what }, 'heartbeat URL could not be reached');
      }
    });
  }

  /** Wait for queued deliveries (shutdown, tests). */
  flush(): Promise<void> {
    return this.queue;
  }

  private send(event: AlertEvent): void {
    log[event.status === 'firing' ? 'warn' : 'info']({ alert: event.key, status: event.status }, event.message);
    const host = hostname();
    const posts: Array<[string, unknown]> = [];
    if (this.targets.webhookUrl) posts.push([this.targets.webhookUrl, { source: 'dbops', host, ...event }]);
    if (this.targets.slackWebhookUrl) posts.push([this.targets.slackWebhookUrl, { text: `${event.status === 'firing' ? ':red_circle:' : ':large_green_circle:'} dbops on ${host}: ${event.message}` }]);
    for (const [url, body] of posts) {
      this.queue = this.queue.then(() => deliver(url, body));
    }
  }
}

async function deliver(url: string, body: unknown): Promise<void> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) log.error({ status: res.status }, 'alert webhook refused the alert');
  } catch (err) {
    // Never log the URL: Slack webhook URLs are secrets.
    log.error({ err: describeFetchError(err) }, 'alert webhook could not be reached');
  }
}

/** fetch's own message is "fetch failed"; the cause's code says why (ECONNREFUSED, timeout) without the URL. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string } };
  return e.name === 'TimeoutError' ? 'timed out after 10 s' : [e.message, e.cause?.code].filter(Boolean).join(': ');
}
