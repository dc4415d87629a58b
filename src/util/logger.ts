// One pino logger for the process: stderr only (stdout is for --json output),
// pretty on a TTY, JSON otherwise; secrets redacted by key wherever they appear.
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
];

function makeLogger(): Logger {
  const level = process.env.DBOPS_LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info');
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: undefined };
  if (process.stderr.isTTY && !process.env.DBOPS_LOG_JSON) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino(options, destination({ fd: 2, sync: true }));
}

export const log: Logger = makeLogger();
