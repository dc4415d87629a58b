// The one configuration schema. Every key can come from dbops.yaml, from the env
// (DBOPS_ + the key path in upper snake case, e.g. age.identityFile → DBOPS_AGE_IDENTITY_FILE)
// or from a flag; flags > env > file. Unknown keys are errors, all reported at once.
import { z } from 'zod';
import { validate as validCron } from 'node-cron';
import { parseDuration } from '../util/duration.js';
import { FILE_LOCK_PROBLEM } from '../storage/object-lock.js';
import { SSL_MODES, tlsProblems } from '../mysql/tls-settings.js';
import { parseSize } from '../cli/commands/seed/parse-size.js';

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
    mode: z
      .preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase() : v), z.enum(SSL_MODES))
      .optional()
      .describe("`ssl-mode` of this connection, overriding the URL's (unset: `PREFERRED`); `VERIFY_IDENTITY` across a network (see [Secure connections](#secure-connections))"),
    ca: z.string().min(1).optional().describe("PEM file of the CA the server's certificate must chain to (unset: the system's CAs)"),
    cert: z.string().min(1).optional().describe('PEM client certificate (accounts created `REQUIRE X509`)'),
    key: z.string().min(1).optional().describe("PEM private key of the client certificate"),
  })
  .superRefine((t, ctx) => {
    for (const message of tlsProblems(t, 'tls')) ctx.addIssue({ code: 'custom', message: message.replace(/^tls: /, '') });
  })
  .optional();

/** How one account logs in (see src/config/connections.ts): a URL, its password apart (or from
 *  a file), a MySQL option file, TLS. Secrets have `…File` twins read by load-config.ts. */
const account = {
  password: z.string().min(1).optional().describe("this account's password, when not in the URL (prefer the `…File` twin)"),
  passwordFile: z.string().min(1).optional().describe('file holding the password (`chmod 600`; one trailing newline is dropped)'),
  defaultsFile: z.string().min(1).optional().describe('MySQL option file whose `[client]` group gives user, password, host, port, socket and `ssl-*` (node and tools alike)'),
  tls,
};

export const configSchema = z.strictObject({
  environment: z
    .enum(['development', 'staging', 'production'])
    .default('development')
    .describe('`production` makes migrations, seeding and partition deletions ask for confirmation (see [The horizn_ database](#the-horizn_-database))'),
  source: z
    .strictObject({
      url: z
        .string()
        .min(1)
        .optional()
        .describe('the backup account: `mysql://user@host:port` with `?ssl-mode=…&ssl-ca=…&ssl-cert=…&ssl-key=…` (see [Secure connections](#secure-connections)) or `?socket=/path`; the password better apart'),
      urlFile: z.string().min(1).optional().describe('file holding `source.url` (for a URL with a password in it)'),
      ...account,
      databases: z.array(z.string().min(1)).default([]).describe('databases to back up (empty: every user database)'),
    })
    .default({ databases: [] }),
  /** The account for schema changes (migrate, partitions, seed): DDL on the horizn_ database
   *  only. Unset: those commands use the source account. */
  admin: z
    .strictObject({
      url: z
        .string()
        .min(1)
        .optional()
        .describe('the account for `migrate`, `partitions` and `seed` (see [Accounts](#accounts-and-grants)), as `source.url`; unset: the source account'),
      urlFile: z.string().min(1).optional().describe('file holding `admin.url`'),
      ...account,
    })
    .default({}),
  storage: z
    .strictObject({
      url: z.string().min(1).optional().describe('the repository: `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true` or `file:///path`'),
      objectLock: z
        .preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(['governance', 'compliance']))
        .optional()
        .describe('S3 Object Lock on every object written, S3 only, on a bucket with Object Lock (see [Object Lock](#object-lock)); unset: off'),
      objectLockMargin: duration
        .default('1d')
        .describe('objects are locked at upload until then + `retention.pitrWindow` + this; at least the interval between full backups'),
    })
    .superRefine((s, ctx) => {
      if (s.objectLock && s.url?.trim().startsWith('file:')) {
        ctx.addIssue({ code: 'custom', path: ['objectLock'], message: FILE_LOCK_PROBLEM });
      }
    })
    .default({ objectLockMargin: '1d' }),
  age: z
    .strictObject({
      recipients: z
        .array(z.string().min(1))
        .default([])
        .describe("`age1…` public keys, or files of them, that new backups are encrypted to; when set, exactly `repo.json`'s list (unset: that list)"),
      identityFile: z
        .string()
        .min(1)
        .optional()
        .describe('age private key, only to verify content, restore, pitr, `binlog find` and restore tests (`chmod 600`)'),
    })
    .default({ recipients: [] }),
  signing: z
    .strictObject({
      keyFile: z.string().min(1).optional().describe('Ed25519 private key (PEM) that signs manifests, reports and evidence (`chmod 600`)'),
      publicKeyFile: z.string().min(1).optional().describe("pinned public key that manifests and reports are checked against, instead of `repo.json`'s own"),
    })
    .default({}),
  compression: z
    .strictObject({
      level: level.default(3).describe('zstd level (1–19)'),
      threads: z.coerce.number().int().min(0).max(64).default(0).describe('zstd worker threads; 0 = one per core'),
    })
    .default({ level: 3, threads: 0 }),
  backup: z
    .strictObject({
      accounts: bool.default(true).describe('also store users and grants, in a part of their own (restored only with `--accounts`)'),
      kind: z
        .enum(['logical', 'physical'])
        .default('logical')
        .describe("`logical`: a consistent dump (per-table restores); `physical`: mariadb-backup's copy of the whole server's datadir (fast restores, incrementals; runs where the datadir is)"),
      datadir: z
        .string()
        .min(1)
        .optional()
        .describe("physical: the source's datadir as this host sees it (a read-only mount); default the server's `@@datadir`"),
    })
    .default({ accounts: true, kind: 'logical' }),
  restore: z
    .strictObject({
      parallel: z.coerce.number().int().min(1).max(32).default(2).describe('tables loaded at once'),
      targetUrl: z
        .string()
        .min(1)
        .optional()
        .describe('the server to restore into (`--target`), as `source.url`; never the source by default'),
      targetUrlFile: z.string().min(1).optional().describe('file holding `restore.targetUrl`'),
      /** The restore account's password (or file), option file and TLS. */
      target: z.strictObject({ ...account }).default({}),
    })
    .default({ parallel: 2, target: {} }),
  binlog: z
    .strictObject({
      maxLagSeconds: z.coerce
        .number()
        .int()
        .min(2)
        .max(86_400)
        .default(60)
        .describe("the newest shipped event is at most this old while the source writes: the shipper ships the active file's growth in time (`partialSegments`), or else rotates the source's binlog (`FLUSH BINARY LOGS`) in time"),
      spoolDir: z
        .string()
        .min(1)
        .optional()
        .describe('local spool for streamed binlogs, a cache (lost files are streamed again); unset: `<tmpdir>/dbops-binlog-spool`'),
      connectionServerId: z.coerce
        .number()
        .int()
        .min(1)
        .max(4_294_967_295)
        .optional()
        .describe("replica `server_id` of the binlog dump connection, which must differ from every real replica's; unset: derived from the repository id and the source"),
      waitForShipping: duration
        .optional()
        .describe('a content restore test waits this long for the binlog holding its checksum point to be shipped (unset: `maxLagSeconds` + 30 s)'),
      partialSegments: bool
        .default(true)
        .describe('ship the file the source is writing as it grows (partial segments, each a few seconds of it), rotating it at most once a minute; false: rotate it within the lag budget instead'),
    })
    .default({ maxLagSeconds: 60, partialSegments: true }),
  /** How `dbops pitr` and restore tests apply binlogs (src/pitr/replay.ts). */
  pitr: z
    .strictObject({
      replay: z
        .enum(['auto', 'session', 'relay'])
        .default('auto')
        .describe("how the chain is applied: `auto` the target's replication reads it as relay logs where it can, else one client session; `session` always one session; `relay` never falls back (`--replay`)"),
      replayThreads: z.coerce
        .number()
        .int()
        .min(0)
        .max(256)
        .default(4)
        .describe('`slave_parallel_threads` while the relay-log applier runs (0: the single SQL thread)'),
      replayParallelMode: z
        .enum(['conservative', 'optimistic', 'aggressive', 'minimal', 'none'])
        .default('conservative')
        .describe('`slave_parallel_mode` of the relay-log applier: `conservative` runs in parallel what the source committed together'),
    })
    .default({ replay: 'auto', replayThreads: 4, replayParallelMode: 'conservative' }),
  /** Visitor data of the horizn_ database (partition maintenance, `dbops daemon`'s partitions job):
   *  pageviews/events days older than this (a number of days, e.g. 400d) are archived to the
   *  repository and their partitions dropped; sessions that started before it are deleted. */
  retention: z
    .strictObject({
      pageviews: z
        .string()
        .regex(/^\d+d$/, 'write a number of days like 400d')
        .default('400d')
        .describe('horizn_ `pageviews` kept this many days: older daily partitions are archived to the repository, then dropped'),
      events: z
        .string()
        .regex(/^\d+d$/, 'write a number of days like 400d')
        .default('400d')
        .describe('horizn_ `events` kept this many days, as `pageviews`'),
      sessions: z
        .string()
        .regex(/^\d+d$/, 'write a number of days like 400d')
        .default('400d')
        .describe('horizn_ `sessions` that started longer ago are deleted'),
      realtimeVisitors: duration.default('1h').describe('horizn_ `realtime_visitors` rows not seen for this long are deleted'),
      archives: duration.default('90d').describe('archived partitions are deleted this long after archiving'),
      daily: z.coerce.number().int().min(0).max(3660).default(7).describe('`dbops prune`, per database: the newest backup of each of the last this many days is kept'),
      weekly: z.coerce.number().int().min(0).max(520).default(4).describe('the same for ISO weeks'),
      monthly: z.coerce.number().int().min(0).max(1200).default(12).describe('the same for months'),
      pitrWindow: duration.default('7d').describe('every point of this window stays restorable: its base backup and binlog chain are kept'),
      graceForIncomplete: duration
        .default('1d')
        .describe('objects of an unfinished backup or upload (no manifest) are removed by `prune --apply` once this old'),
      legalHoldLabel: z.string().min(1).default('legal-hold').describe('a backup whose manifest carries this label is never pruned (an S3 legal hold under Object Lock)'),
    })
    .default({ pageviews: '400d', events: '400d', sessions: '400d', realtimeVisitors: '1h', archives: '90d', daily: 7, weekly: 4, monthly: 12, pitrWindow: '7d', graceForIncomplete: '1d', legalHoldLabel: 'legal-hold' }),
  partitions: z
    .strictObject({
      aheadDays: z.coerce.number().int().min(1).max(366).default(7).describe('daily partitions of the horizn_ visitor tables kept ready ahead of today'),
      autoApply: bool
        .default(false)
        .describe("production's consent for the daemon to drop partitions and delete visitor rows and archives past retention (the CLI asks `--confirm-production` instead); elsewhere the daemon always applies"),
    })
    .default({ aheadDays: 7, autoApply: false }),
  /** How a server or database says it is production, besides `environment: production`. */
  production: z
    .strictObject({
      setting: z
        .string()
        .default('environment')
        .describe("a row of the database's `settings` table whose JSON value `\"production\"` marks it as production; `''` turns this off"),
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
        .optional()
        .describe("regular expression matched against the server's `@@hostname` to recognise production, e.g. `^db-prod-`"),
    })
    .default({ setting: 'environment' }),
  /** Restore-test coverage: every backup must pass a content-depth restore test within this many days of completing. */
  verify: z
    .strictObject({
      maxUntestedDays: z.coerce
        .number()
        .int()
        .min(1)
        .max(3660)
        .default(7)
        .describe('coverage: every backup must pass a content-depth restore test within this many days of completing'),
    })
    .default({ maxUntestedDays: 7 }),
  /** Throwaway servers for restore tests. */
  sandbox: z
    .strictObject({
      driver: z
        .enum(['process', 'container'])
        .default('process')
        .describe("restore tests' throwaway server: this host's `mariadbd`/`mysqld` in a temp datadir (`process`, also inside the dbops image) or a podman/docker container"),
      engine: z.string().min(1).optional().describe('container engine: `podman`, `docker` or a path; unset: podman when installed, else docker'),
      image: z
        .string()
        .min(1)
        .optional()
        .describe("container image; unset: the source's flavour and major version (the local dbops-sandbox image when built)"),
      memory: z
        .string()
        .regex(/^\d+[kmg]?$/i, 'write a size like 2g or 512m')
        .optional()
        .describe('container memory limit, e.g. `2g` (a tmpfs datadir counts against it)'),
      cpus: z.coerce.number().positive().max(256).optional().describe('container CPU limit'),
    })
    .default({ driver: 'process' }),
  /** `dbops daemon` job schedules (cron; 6 fields = with seconds). Unset optional ones are off. */
  schedule: z
    .strictObject({
      backup: cron.default('0 2 * * *').describe("`dbops daemon`'s full backup (cron; 6 fields: seconds first)"),
      incremental: cron
        .optional()
        .describe(
          "the daemon's physical incremental on the newest physical backup (unset: off; needs `backup.kind: physical`). With nothing to apply on (no physical backup of the source yet, or its newest chain broken) the run takes a full one instead and says so; one due while the full backup runs is skipped, and a full backup due while an incremental runs starts when it ends",
        ),
      restoreTest: cron
        .default('0 4 * * *')
        .describe("the daemon's restore test; daily, as coverage asks every backup to pass a content-depth test within `verify.maxUntestedDays`"),
      prune: cron.default('30 3 * * *').describe("the daemon's `prune --apply`"),
      checksum: cron.optional().describe("the daemon's source checksums on their own (unset: off; a content restore test takes them first anyway)"),
      partitions: cron.default('5 * * * *').describe("the daemon's partition maintenance and visitor-data retention of the horizn_ database (hourly, for `realtime_visitors`)"),
      monitor: cron.default('*/5 * * * *').describe("the daemon's database monitoring (slow statements, index usage, storage growth, connections, error log) for /metrics and alerts"),
    })
    .default({ backup: '0 2 * * *', restoreTest: '0 4 * * *', prune: '30 3 * * *', partitions: '5 * * * *', monitor: '*/5 * * * *' }),
  daemon: z
    .strictObject({
      listen: z
        .string()
        .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i, 'write host:port like 127.0.0.1:9187')
        .superRefine((v, ctx) => {
          const port = Number(/:(\d+)$/.exec(v)?.[1]);
          if (port < 1 || port > 65_535) ctx.addIssue({ code: 'custom', message: `port ${port} is out of range 1-65535: write host:port like 127.0.0.1:9187` });
        })
        .default('127.0.0.1:9187')
        .describe('`host:port` of the probes and `/metrics` (keep it off the internet)'),
      jitterSeconds: z.coerce.number().int().min(0).max(3600).default(0).describe('random delay before each scheduled run, up to this many seconds'),
      stateFile: z.string().min(1).optional().describe('job state (last start, end, outcome); unset: `<tmpdir>/dbops-daemon-state.json`'),
      shipBinlogs: bool.default(true).describe('run the binlog shipper in the daemon'),
      restoreTestDepth: z
        .enum(['integrity', 'restore', 'content'])
        .default('content')
        .describe("depth of the daemon's restore test; `content` takes the source's checksums first, then proves the restore equal to them"),
      shutdownTimeout: duration.default('60s').describe('on SIGTERM, running work gets this long to stop before the daemon exits anyway'),
    })
    .default({ listen: '127.0.0.1:9187', jitterSeconds: 0, shipBinlogs: true, restoreTestDepth: 'content', shutdownTimeout: '60s' }),
  /** Database monitoring of the source (`dbops db report`, the daemon's monitor job): the read-only
   *  account it uses (unset: the source account) and the thresholds of its alert rules. */
  monitor: z
    .strictObject({
      url: z.string().min(1).optional().describe('the read-only account for `dbops db report` and the monitor job, as `source.url`; unset: the source account'),
      urlFile: z.string().min(1).optional().describe('file holding `monitor.url`'),
      ...account,
      topStatements: z.coerce.number().int().min(1).max(100).default(10).describe('statements listed, the slowest by total time first'),
      /** What the monitored databases' data + index may grow to (e.g. 200GB: the volume less room for logs); unset: no forecast alert. */
      diskLimit: z
        .string()
        .refine((v) => {
          try {
            return parseSize(v) > 0;
          } catch {
            return false;
          }
        }, 'not a size: write e.g. 200GB or 512GiB')
        .optional()
        .describe("what the monitored databases' data + index may grow to (e.g. `200GB`); unset: no forecast alert"),
      /** Alert when the growth forecast reaches diskLimit within this many days. */
      forecastDays: z.coerce.number().int().min(1).max(3660).default(30).describe('alert when the growth forecast reaches `monitor.diskLimit` within this many days'),
      /** Alert when a daily-partitioned table has partitions for fewer days ahead than this (0: off). */
      partitionDaysAhead: z.coerce.number().int().min(0).max(366).default(3).describe('alert when a daily-partitioned table has partitions for fewer days ahead (0: off)'),
      /** Alert when a catch-all (MAXVALUE) partition holds more rows than this (an estimate; -1: off). */
      catchAllRows: z.coerce.number().int().min(-1).default(0).describe('alert when a catch-all (MAXVALUE) partition holds more rows than this (an estimate; -1: off)'),
      /** Alert when connections exceed this share of max_connections, in percent (0: off). */
      connectionsPercent: z.coerce.number().int().min(0).max(100).default(80).describe('alert when connections exceed this share of `max_connections`, in percent (0: off)'),
      /** Alert on new server error-log entries at ERROR level. */
      errorLogAlerts: bool.default(true).describe('alert on new server error-log entries at ERROR level'),
    })
    .default({ topStatements: 10, forecastDays: 30, partitionDaysAhead: 3, catchAllRows: 0, connectionsPercent: 80, errorLogAlerts: true }),
  alerts: z
    .strictObject({
      webhookUrl: z
        .string()
        .url()
        .optional()
        .describe('POSTed `{source, host, status: firing|resolved, key, message, at}` when a job fails or `/healthz` has a reason, and once when it clears'),
      webhookUrlFile: z.string().min(1).optional().describe('file holding `alerts.webhookUrl`'),
      slackWebhookUrl: z.string().url().optional().describe('the same as a Slack `{"text": …}` message'),
      slackWebhookUrlFile: z.string().min(1).optional().describe('file holding `alerts.slackWebhookUrl`'),
      backupStaleAfter: duration.optional().describe("the newest good backup older than this is stale (unset: twice the interval of the backup schedule, or of the incremental one when that is shorter)"),
      restoreTestStaleAfter: duration.optional().describe("the newest restore test older than this is stale (unset: twice its schedule's interval)"),
      shippingLagLimit: duration.optional().describe('binlog shipping lag above this is unhealthy (unset: 3 × `binlog.maxLagSeconds`)'),
      repeatAfter: duration.default('6h').describe('a lasting problem is re-sent at most this often'),
      startupGrace: duration
        .optional()
        .describe('after the daemon starts, lag and staleness alerts wait this long, so a restart pages no one (unset: 2 × the shipping lag limit); job failures never wait'),
      heartbeatUrl: z
        .string()
        .url()
        .optional()
        .describe("success ping: a GET after every successful backup and restore test (healthchecks.io and the like), so a daemon that stopped working is noticed by its silence"),
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
  'backup.kind': 'string',
  'backup.datadir': 'string',
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
  'binlog.partialSegments': 'boolean',
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
  'schedule.incremental': 'string',
  'schedule.restoreTest': 'string',
  'schedule.prune': 'string',
  'schedule.checksum': 'string',
  'schedule.partitions': 'string',
  'schedule.monitor': 'string',
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
  'monitor.url': 'string',
  'monitor.urlFile': 'string',
  'monitor.password': 'string',
  'monitor.passwordFile': 'string',
  'monitor.defaultsFile': 'string',
  'monitor.tls.mode': 'string',
  'monitor.tls.ca': 'string',
  'monitor.tls.cert': 'string',
  'monitor.tls.key': 'string',
  'monitor.topStatements': 'number',
  'monitor.diskLimit': 'string',
  'monitor.forecastDays': 'number',
  'monitor.partitionDaysAhead': 'number',
  'monitor.catchAllRows': 'number',
  'monitor.connectionsPercent': 'number',
  'monitor.errorLogAlerts': 'boolean',
};

/**
 * Settings that hold a secret. Each has a twin `<key>File` (env `<ENV>_FILE`, e.g.
 * DBOPS_SOURCE_PASSWORD_FILE) naming a file that holds it instead: Docker and Kubernetes
 * secrets are files, and an environment variable shows in /proc/PID/environ.
 */
export const SECRET_KEYS = ['source.url', 'source.password', 'admin.url', 'admin.password', 'restore.targetUrl', 'restore.target.password', 'alerts.webhookUrl', 'alerts.slackWebhookUrl', 'monitor.url', 'monitor.password'] as const;

export function envNameFor(key: string): string {
  return `DBOPS_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
