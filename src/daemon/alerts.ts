// Webhook alerts: a generic JSON body and/or a Slack-compatible {"text"} body, on a job
// failure, on staleness (any health reason), and once when the problem clears. A
// problem that lasts is re-sent at most every `repeatAfterMs`, not on every check.
import { hostname } from 'node:os';
import { log } from '../util/logger.js';

export interface AlertTargets {
  webhookUrl?: string;
  slackWebhookUrl?: string;
  repeatAfterMs: number;
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
    for (const [key, message] of problems) {
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
    log.error({ err: (err as Error).message }, 'alert webhook could not be reached');
  }
}
