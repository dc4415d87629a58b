// The one configuration schema. Every key can come from dbops.yaml, from the env
// (DBOPS_ + the key path in upper snake case, e.g. age.identityFile → DBOPS_AGE_IDENTITY_FILE)
// or from a flag; flags > env > file. Unknown keys are errors, all reported at once.
import { z } from 'zod';
import { validate as validCron } from 'node-cron';
import { parseDuration } from '../util/duration.js';
import { FILE_LOCK_PROBLEM } from '../storage/object-lock.js';
import { SSL_MODES, tlsProblems } from '../mysql/tls-settings.js';

const level = z.coerce.number().int().min(1).max(19);
/** A duration like 90s, 15m, 12h, 7d, 2w (see util/duration.ts). */
const duration = z.string().refine((v) => {
  try {
    return parseDuration(v) > 0;
  } catch {
    return false;
  }
}, 'not a duration: use e.g. 90s, 15m, 12h, 7d or 2w');
/** A boolean: a typed true/false in the file; env and flags turn true|false|1|0|yes|no into one
 *  (load-config.ts) and leave anything else a string, refused here. z.coerce.boolean() took any
 *  non-empty string, "false" and "maybe" included, as true. */
const bool = z.boolean({ error: 'write true or false (env and flags also take 1/0 or yes/no)' });
/** A cron expression: 5 fields, or 6 with seconds first (node-cron). */
const cron = z.string().refine((v) => validCron(v), 'not a cron expression: use 5 fields like "0 2 * * *" (or 6 with seconds first)');

/** TLS of one connection, with the MySQL client's names (see src/mysql/tls-settings.ts). */
const tls = z
  .strictObject({
    mode: z.preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase() : v), z.enum(SSL_MODES)).optional(),
    /** PEM files: the CA the server certificate must chain to, and a client certificate + key. */
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .superRefine((t, ctx) => {
    for (const message of tlsProblems(t, 'tls')) ctx.addIssue({ code: 'custom', message: message.replace(/^tls: /, '') });
  })
  .optional();

/** How one account logs in (see src/config/connections.ts): a URL, its password apart (or from
 *  a file), a MySQL option file, TLS. Secrets have `…File` twins read by load-config.ts. */
const account = {
  password: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  /** MySQL option file whose [client] group gives user, password, host, port, socket, ssl-*. */
  defaultsFile: z.string().min(1).optional(),
  tls,
};

export const configSchema = z.strictObject({
  environment: z.enum(['development', 'staging', 'production']).default('development'),
  source: z
    .strictObject({
      url: z.string().min(1).optional(),
      urlFile: z.string().min(1).optional(),
      ...account,
      /** Databases to back up; empty means every user database. */
      databases: z.array(z.string().min(1)).default([]),
    })
    .default({ databases: [] }),
  /** The account for schema changes (migrate, partitions, seed): DDL on the horizn_ database
   *  only. Unset: those commands use the source account. */
  admin: z
    .strictObject({
      url: z.string().min(1).optional(),
      urlFile: z.string().min(1).optional(),
      ...account,
    })
    .default({}),
  storage: z
    .strictObject({
      url: z.string().min(1).optional(),
      /** S3 Object Lock for every object written (see src/storage/object-lock.ts); S3 only,
       *  and the bucket must have Object Lock enabled. Unset: no lock. */
      objectLock: z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(['governance', 'compliance'])).optional(),
      /** Objects are locked at upload until upload time + retention.pitrWindow + this; at least
       *  the interval between full backups. */
      objectLockMargin: duration.default('1d'),
    })
    .superRefine((s, ctx) => {
      if (s.objectLock && s.url?.trim().startsWith('file:')) {
        ctx.addIssue({ code: 'custom', path: ['objectLock'], message: FILE_LOCK_PROBLEM });
      }
    })
    .default({ objectLockMargin: '1d' }),
  age: z
    .strictObject({
      /** age1… public keys or files of them; the backup host needs only these. */
      recipients: z.array(z.string().min(1)).default([]),
      /** Private identity file, needed only to verify content or restore. */
      identityFile: z.string().min(1).optional(),
    })
    .default({ recipients: [] }),
  signing: z
    .strictObject({
      keyFile: z.string().min(1).optional(),
      /** Pinned public key for checking manifests and reports (defaults to repo.json's). */
      publicKeyFile: z.string().min(1).optional(),
    })
    .default({}),
  compression: z
    .strictObject({
      level: level.default(3),
      /** zstd worker threads; 0 = one per core. */
      threads: z.coerce.number().int().min(0).max(64).default(0),
    })
    .default({ level: 3, threads: 0 }),
  backup: z
    .strictObject({
      /** Dump user accounts and grants into a separate part (restored only on request). */
      accounts: bool.default(true),
    })
    .default({ accounts: true }),
  restore: z
    .strictObject({
      /** Table parts loaded at once. */
      parallel: z.coerce.number().int().min(1).max(32).default(2),
      /** Server to restore into (a restore command needs it; never the source by default). */
      targetUrl: z.string().min(1).optional(),
      targetUrlFile: z.string().min(1).optional(),
      /** The restore account's password (or file), option file and TLS. */
      target: z.strictObject({ ...account }).default({}),
    })
    .default({ parallel: 2, target: {} }),
  binlog: z
    .strictObject({
      /** Newest shipped event is at most this old while the source writes (rotation by FLUSH BINARY LOGS). */
      maxLagSeconds: z.coerce.number().int().min(2).max(86_400).default(60),
      /** Local spool for streamed binlogs (a cache: lost files are streamed again). Default: <tmpdir>/dbops-binlog-spool. */
      spoolDir: z.string().min(1).optional(),
      /** Replica server_id of the dump connection; default derived from the repository id and the source. */
      connectionServerId: z.coerce.number().int().min(1).max(4_294_967_295).optional(),
      /** A content restore test waits this long for the binlog holding its checksum point to be shipped (default: maxLagSeconds + 30 s). */
      waitForShipping: duration.optional(),
    })
    .default({ maxLagSeconds: 60 }),
  /** How `dbops pitr` and restore tests apply binlogs (src/pitr/replay.ts). */
  pitr: z
    .strictObject({
      /** auto: the target's replication reads the chain as relay logs where it can, else one client session; session: always one session; relay: never fall back. */
      replay: z.enum(['auto', 'session', 'relay']).default('auto'),
      /** slave_parallel_threads while the relay-log applier runs (0: the single SQL thread). */
      replayThreads: z.coerce.number().int().min(0).max(256).default(4),
      /** slave_parallel_mode of the relay-log applier: conservative runs in parallel what the source committed together. */
      replayParallelMode: z.enum(['conservative', 'optimistic', 'aggressive', 'minimal', 'none']).default('conservative'),
    })
    .default({ replay: 'auto', replayThreads: 4, replayParallelMode: 'conservative' }),
  /** Visitor data of the horizn_ database (partition maintenance, `dbops daemon`'s partitions job):
   *  pageviews/events days older than this (a number of days, e.g. 400d) are archived to the
   *  repository and their partitions dropped; sessions that started before it are deleted. */
  retention: z
    .strictObject({
      pageviews: z.string().regex(/^\d+d$/, 'write a number of days like 400d').default('400d'),
      events: z.string().regex(/^\d+d$/, 'write a number of days like 400d').default('400d'),
      sessions: z.string().regex(/^\d+d$/, 'write a number of days like 400d').default('400d'),
      /** realtime_visitors rows not seen for this long are deleted. */
      realtimeVisitors: duration.default('1h'),
      /** Partition archives are deleted this long after they were archived. */
      archives: duration.default('90d'),
      /** Full backups (`dbops prune`): newest per day / ISO week / month kept, for this many of each. */
      daily: z.coerce.number().int().min(0).max(3660).default(7),
      weekly: z.coerce.number().int().min(0).max(520).default(4),
      monthly: z.coerce.number().int().min(0).max(1200).default(12),
      /** Every point in the last pitrWindow stays restorable: its full backup and binlog chain are kept. */
      pitrWindow: duration.default('7d'),
      /** Objects of an unfinished backup or upload (no manifest) are removed once this old. */
      graceForIncomplete: duration.default('1d'),
      /** A backup whose manifest carries this label is never pruned. */
      legalHoldLabel: z.string().min(1).default('legal-hold'),
    })
    .default({ pageviews: '400d', events: '400d', sessions: '400d', realtimeVisitors: '1h', archives: '90d', daily: 7, weekly: 4, monthly: 12, pitrWindow: '7d', graceForIncomplete: '1d', legalHoldLabel: 'legal-hold' }),
  partitions: z
    .strictObject({
      /** Daily partitions kept ready ahead of today. */
      aheadDays: z.coerce.number().int().min(1).max(366).default(7),
      /** Production's consent for the daemon to drop partitions and delete visitor rows and archives
       *  on its own (the CLI asks --confirm-production instead). Elsewhere the daemon always applies. */
      autoApply: bool.default(false),
    })
    .default({ aheadDays: 7, autoApply: false }),
  /** How a server or database says it is production, besides `environment: production`. */
  production: z
    .strictObject({
      /** Name of a row in the database's `settings` table; its JSON value "production" marks it. '' turns this off. */
      setting: z.string().default('environment'),
      /** Regular expression matched against the server's @@hostname, e.g. ^db-prod- */
      hostnamePattern: z
        .string()
        .min(1)
        .refine((v) => {
          try {
            new RegExp(v);
            return true;
          } catch {
            return false;
          }
        }, 'not a regular expression')
        .optional(),
    })
    .default({ setting: 'environment' }),
  /** Restore-test coverage: every backup must pass a content-depth restore test within this many days of completing. */
  verify: z
    .strictObject({
      maxUntestedDays: z.coerce.number().int().min(1).max(3660).default(7),
    })
    .default({ maxUntestedDays: 7 }),
  /** Throwaway servers for restore tests. */
  sandbox: z
    .strictObject({
      driver: z.enum(['process', 'container']).default('process'),
      /** podman or docker (or a path); default: podman when installed, else docker. */
      engine: z.string().min(1).optional(),
      /** Image; default: the source's flavour and major version (local dbops-sandbox image when built). */
      image: z.string().min(1).optional(),
      /** Container memory limit, e.g. 2g (the tmpfs datadir counts against it). */
      memory: z.string().regex(/^\d+[kmg]?$/i, 'write a size like 2g or 512m').optional(),
      cpus: z.coerce.number().positive().max(256).optional(),
    })
    .default({ driver: 'process' }),
  /** `dbops daemon` job schedules (cron; 6 fields = with seconds). Unset optional ones are off. */
  schedule: z
    .strictObject({
      backup: cron.default('0 2 * * *'),
      /** Daily: coverage asks every backup to pass a content-depth test within verify.maxUntestedDays. */
      restoreTest: cron.default('0 4 * * *'),
      prune: cron.default('30 3 * * *'),
      checksum: cron.optional(),
      /** Partition maintenance and visitor-data retention of the horizn_ database (hourly: realtime_visitors). */
      partitions: cron.default('5 * * * *'),
    })
    .default({ backup: '0 2 * * *', restoreTest: '0 4 * * *', prune: '30 3 * * *', partitions: '5 * * * *' }),
  daemon: z
    .strictObject({
      /** host:port of /healthz and /metrics. */
      listen: z
        .string()
        .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i, 'write host:port like 127.0.0.1:9187')
        .superRefine((v, ctx) => {
          const port = Number(/:(\d+)$/.exec(v)?.[1]);
          if (port < 1 || port > 65_535) ctx.addIssue({ code: 'custom', message: `port ${port} is out of range 1-65535: write host:port like 127.0.0.1:9187` });
        })
        .default('127.0.0.1:9187'),
      /** Random delay before each scheduled run, up to this many seconds. */
      jitterSeconds: z.coerce.number().int().min(0).max(3600).default(0),
      /** Job state (last start, end, outcome); default <tmpdir>/dbops-daemon-state.json. */
      stateFile: z.string().min(1).optional(),
      /** Run the binlog shipper as part of the daemon. */
      shipBinlogs: bool.default(true),
      /** content: the job takes the source's checksums first, then proves the backup restores equal to them. */
      restoreTestDepth: z.enum(['integrity', 'restore', 'content']).default('content'),
      /** SIGTERM: running work gets this long to stop before the daemon exits anyway. */
      shutdownTimeout: duration.default('60s'),
    })
    .default({ listen: '127.0.0.1:9187', jitterSeconds: 0, shipBinlogs: true, restoreTestDepth: 'content', shutdownTimeout: '60s' }),
  alerts: z
    .strictObject({
      /** POSTed a generic JSON body on failure, staleness and recovery. */
      webhookUrl: z.string().url().optional(),
      webhookUrlFile: z.string().min(1).optional(),
      /** POSTed a Slack-compatible {"text": …} body. */
      slackWebhookUrl: z.string().url().optional(),
      slackWebhookUrlFile: z.string().min(1).optional(),
      /** Newest good backup older than this is stale (default: twice the backup schedule's interval). */
      backupStaleAfter: duration.optional(),
      /** Last restore test older than this is stale (default: twice its schedule's interval). */
      restoreTestStaleAfter: duration.optional(),
      /** Binlog shipping lag above this is unhealthy (default: 3 × binlog.maxLagSeconds). */
      shippingLagLimit: duration.optional(),
      /** An ongoing problem is re-sent at most this often. */
      repeatAfter: duration.default('6h'),
      /** After the daemon starts, lag and staleness alerts wait this long: the shipper and a catch-up backup get to catch up first (default: 2 × the shipping lag limit). */
      startupGrace: duration.optional(),
      /** GET after every successful backup and restore test (a dead man's switch such as healthchecks.io); the URL is a secret and never logged. */
      heartbeatUrl: z.string().url().optional(),
    })
    .default({ repeatAfter: '6h' }),
});

export type Config = z.infer<typeof configSchema>;

/** Leaf keys that env and flags may set, with how to read a string into them. */
export const SETTABLE_KEYS: Record<string, 'string' | 'list' | 'number' | 'boolean'> = {
  environment: 'string',
  'source.url': 'string',
  'source.urlFile': 'string',
  'source.password': 'string',
  'source.passwordFile': 'string',
  'source.defaultsFile': 'string',
  'source.tls.mode': 'string',
  'source.tls.ca': 'string',
  'source.tls.cert': 'string',
  'source.tls.key': 'string',
  'source.databases': 'list',
  'admin.url': 'string',
  'admin.urlFile': 'string',
  'admin.password': 'string',
  'admin.passwordFile': 'string',
  'admin.defaultsFile': 'string',
  'admin.tls.mode': 'string',
  'admin.tls.ca': 'string',
  'admin.tls.cert': 'string',
  'admin.tls.key': 'string',
  'storage.url': 'string',
  'storage.objectLock': 'string',
  'storage.objectLockMargin': 'string',
  'age.recipients': 'list',
  'age.identityFile': 'string',
  'signing.keyFile': 'string',
  'signing.publicKeyFile': 'string',
  'compression.level': 'number',
  'compression.threads': 'number',
  'backup.accounts': 'boolean',
  'restore.parallel': 'number',
  'restore.targetUrl': 'string',
  'restore.targetUrlFile': 'string',
  'restore.target.password': 'string',
  'restore.target.passwordFile': 'string',
  'restore.target.defaultsFile': 'string',
  'restore.target.tls.mode': 'string',
  'restore.target.tls.ca': 'string',
  'restore.target.tls.cert': 'string',
  'restore.target.tls.key': 'string',
  'verify.maxUntestedDays': 'number',
  'sandbox.driver': 'string',
  'sandbox.engine': 'string',
  'sandbox.image': 'string',
  'sandbox.memory': 'string',
  'sandbox.cpus': 'number',
  'retention.pageviews': 'string',
  'retention.events': 'string',
  'retention.sessions': 'string',
  'retention.realtimeVisitors': 'string',
  'retention.archives': 'string',
  'partitions.aheadDays': 'number',
  'partitions.autoApply': 'boolean',
  'production.setting': 'string',
  'production.hostnamePattern': 'string',
  'binlog.maxLagSeconds': 'number',
  'binlog.spoolDir': 'string',
  'binlog.connectionServerId': 'number',
  'binlog.waitForShipping': 'string',
  'pitr.replay': 'string',
  'pitr.replayThreads': 'number',
  'pitr.replayParallelMode': 'string',
  'retention.daily': 'number',
  'retention.weekly': 'number',
  'retention.monthly': 'number',
  'retention.pitrWindow': 'string',
  'retention.graceForIncomplete': 'string',
  'retention.legalHoldLabel': 'string',
  'schedule.backup': 'string',
  'schedule.restoreTest': 'string',
  'schedule.prune': 'string',
  'schedule.checksum': 'string',
  'schedule.partitions': 'string',
  'daemon.listen': 'string',
  'daemon.jitterSeconds': 'number',
  'daemon.stateFile': 'string',
  'daemon.shipBinlogs': 'boolean',
  'daemon.restoreTestDepth': 'string',
  'daemon.shutdownTimeout': 'string',
  'alerts.webhookUrl': 'string',
  'alerts.webhookUrlFile': 'string',
  'alerts.slackWebhookUrl': 'string',
  'alerts.slackWebhookUrlFile': 'string',
  'alerts.backupStaleAfter': 'string',
  'alerts.restoreTestStaleAfter': 'string',
  'alerts.shippingLagLimit': 'string',
  'alerts.repeatAfter': 'string',
  'alerts.startupGrace': 'string',
  'alerts.heartbeatUrl': 'string',
};

/**
 * Settings that hold a secret. Each has a twin `<key>File` (env `<ENV>_FILE`, e.g.
 * DBOPS_SOURCE_PASSWORD_FILE) naming a file that holds it instead: Docker and Kubernetes
 * secrets are files, and an environment variable shows in /proc/PID/environ.
 */
export const SECRET_KEYS = ['source.url', 'source.password', 'admin.url', 'admin.password', 'restore.targetUrl', 'restore.target.password', 'alerts.webhookUrl', 'alerts.slackWebhookUrl'] as const;

export function envNameFor(key: string): string {
  return `DBOPS_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
