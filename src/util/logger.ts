// One pino logger for the process: stderr only (stdout is for --json output),
// pretty on a TTY, JSON otherwise (ISO times, level names: a log shipper or a person
// reads them without pino's numbers); secrets redacted by key wherever they appear.
// The level: DBOPS_LOG_LEVEL, else info; each command's -v / -q / --log-level override it
// (setLogLevel, from the CLI entry).
import { pino, destination, type Logger } from 'pino';

const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'url',
  '*.url',
  'sourceUrl',
  '*.sourceUrl',
  'targetUrl',
  '*.targetUrl',
  'webhookUrl',
  '*.webhookUrl',
  'slackWebhookUrl',
  '*.slackWebhookUrl',
  'identity',
  '*.identity',
  'passphrase',
  '*.passphrase',
  'authorization',
  '*.authorization',
  'accessKeyId',
  '*.accessKeyId',
  'secretAccessKey',
  '*.secretAccessKey',
  // Webhook and heartbeat URLs carry their credential in the URL.
  'webhookUrl',
  '*.webhookUrl',
  'slackWebhookUrl',
  '*.slackWebhookUrl',
  'heartbeatUrl',
  '*.heartbeatUrl',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

function makeLogger(): Logger {
  const fromEnv = process.env.DBOPS_LOG_LEVEL?.trim().toLowerCase();
  // A bad DBOPS_LOG_LEVEL must not throw on import: the CLI entry refuses it (exit 2) before any command runs.
  const level = fromEnv ? (isLogLevel(fromEnv) ? fromEnv : 'info') : process.env.VITEST ? 'warn' : 'info';
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY && !process.env.DBOPS_LOG_JSON) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino({ ...options, formatters: { level: (label: string) => ({ level: label }) } }, destination({ fd: 2, sync: true }));
}

export const log: Logger = makeLogger();

/** The level for the rest of the process (the CLI's -v, -q, --log-level). */
export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
