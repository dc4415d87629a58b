// The retention policy from the config's `retention:` section (durations parsed once).
import type { Config } from '../config/schema.js';
import { parseDuration } from '../util/duration.js';
import type { RetentionPolicy } from './types.js';

export function retentionPolicy(config: Config): RetentionPolicy {
  const r = config.retention;
  return {
    daily: r.daily,
    weekly: r.weekly,
    monthly: r.monthly,
    pitrWindowMs: parseDuration(r.pitrWindow, 'retention.pitrWindow'),
    graceForIncompleteMs: parseDuration(r.graceForIncomplete, 'retention.graceForIncomplete'),
    legalHoldLabel: r.legalHoldLabel,
  };
}
