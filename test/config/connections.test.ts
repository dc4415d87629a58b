// How each role's account is resolved from the config: passwords apart from URLs and from
// `*_FILE` secrets (refused when others may read them), MySQL option files, TLS keys, and
// the environment conventions (Kubernetes service links ignored, typos caught).
import { describe, it, expect, beforeAll } from 'vitest';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { adminConnection, restoreTargetConnection, sourceConnection } from '../../src/config/connections.js';
import { clientOptions } from '../../src/mysql/option-file.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { runCli } from '../helpers/cli.js';

let dir: string;

async function secret(name: string, text: string, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode });
  await chmod(path, mode);
  return path;
}

async function problems(env: Record<string, string>, flags = {}): Promise<string[]> {
  try {
    await loadConfig({ env, flags });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

beforeAll(async () => {
  dir = await tempDir('dbops-conn-cfg-');
});

describe('secrets from files', () => {
  it('takes the source password from DBOPS_SOURCE_PASSWORD_FILE (one trailing newline dropped)', async () => {
    const file = await secret('source.pw', ' p#ss word \n');
    const config = await loadConfig({ env: { DBOPS_SOURCE_URL: 'mysql://backup@db.example:3307', DBOPS_SOURCE_PASSWORD_FILE: file } });
    expect(sourceConnection(config)).toEqual({ user: 'backup', password: ' p#ss word ', host: 'db.example', port: 3307 });
  });

  it('takes a whole URL from DBOPS_SOURCE_URL_FILE and webhook URLs from their _FILE twins', async () => {
    const url = await secret('source.url', 'mysql://backup:pw@db:3306\n');
    const hook = await secret('hook', 'https://hooks.example/T000/abc\n');
    const config = await loadConfig({ env: { DBOPS_SOURCE_URL_FILE: url, DBOPS_ALERTS_SLACK_WEBHOOK_URL_FILE: hook } });
    expect(sourceConnection(config)).toMatchObject({ user: 'backup', password: 'pw', host: 'db' });
    expect(config.alerts.slackWebhookUrl).toBe('https://hooks.example/T000/abc');
  });

  it('lets --target leave the password out: DBOPS_RESTORE_TARGET_PASSWORD_FILE gives it', async () => {
    const file = await secret('target.pw', 'target-secret');
    const config = await loadConfig({ env: { DBOPS_RESTORE_TARGET_PASSWORD_FILE: file }, flags: { 'restore.targetUrl': 'mysql://root@127.0.0.1:3307' } });
    expect(restoreTargetConnection(config)).toMatchObject({ user: 'root', password: 'target-secret', port: 3307 });
  });

  it('refuses a secret file that group or others can read, naming the variable and the chmod', async () => {
    const file = await secret('leaky.pw', 'pw', 0o644);
    const p = await problems({ DBOPS_SOURCE_URL: 'mysql://backup@db', DBOPS_SOURCE_PASSWORD_FILE: file });
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('DBOPS_SOURCE_PASSWORD_FILE');
    expect(p[0]).toContain(`mode 0644, readable by other users; run chmod 600 ${file}`);
    const groupOnly = await secret('group.pw', 'pw', 0o640);
    expect((await problems({ DBOPS_SOURCE_URL: 'mysql://backup@db', DBOPS_SOURCE_PASSWORD_FILE: groupOnly }))[0]).toContain('mode 0640');
  });

  it('refuses a secret twice (value and file), and a password both in the URL and apart', async () => {
    const file = await secret('twice.pw', 'pw');
    expect(await problems({ DBOPS_SOURCE_PASSWORD: 'x', DBOPS_SOURCE_PASSWORD_FILE: file })).toEqual(['DBOPS_SOURCE_PASSWORD and DBOPS_SOURCE_PASSWORD_FILE are both set: keep one']);
    const config = await loadConfig({ env: { DBOPS_SOURCE_URL: 'mysql://backup:inurl@db', DBOPS_SOURCE_PASSWORD_FILE: file } });
    expect(() => sourceConnection(config)).toThrow(/source\.url carries a password and source\.password .* sets one too/);
  });

  it('a flag replaces the file twin of a lower layer', async () => {
    const file = await secret('layer.url', 'mysql://from-file@db');
    const config = await loadConfig({ env: { DBOPS_SOURCE_URL_FILE: file }, flags: { 'source.url': 'mysql://from-flag@db' } });
    expect(sourceConnection(config).user).toBe('from-flag');
  });
});

describe('MySQL option files', () => {
  it('parses the [client] group as mysys does: quotes, escapes, comments, - and _ alike', () => {
    const text = [
      '[mysqld]',
      'password = not-this-one',
      '[client]',
      'user = backup   # the account',
      'password = "p#ss\\"w\\\\rd"',
      'host=db.example',
      'port = 3307',
      'ssl_mode = verify_identity',
      'loose-ssl-ca = /etc/dbops/ca.pem',
      '[mysqldump]',
      'user = other',
    ].join('\n');
    expect(clientOptions(text, 'my.cnf')).toEqual({ user: 'backup', password: 'p#ss"w\\rd', host: 'db.example', port: 3307, tls: { mode: 'VERIFY_IDENTITY', ca: '/etc/dbops/ca.pem' } });
    expect(clientOptions('[client]\nssl-verify-server-cert\n', 'f').tls).toEqual({ mode: 'VERIFY_IDENTITY' });
    expect(clientOptions('[client]\nskip-ssl\n', 'f').tls).toEqual({ mode: 'DISABLED' });
  });

  it('source.defaultsFile gives the login; the URL and the tls keys override it field by field', async () => {
    const cnf = await secret('client.cnf', '[client]\nuser=backup\npassword=from-cnf\nhost=cnf-host\nport=3310\nssl-ca=/etc/ca.pem\n');
    const only = await loadConfig({ env: { DBOPS_SOURCE_DEFAULTS_FILE: cnf } });
    expect(sourceConnection(only)).toEqual({ user: 'backup', password: 'from-cnf', host: 'cnf-host', port: 3310, tls: { ca: '/etc/ca.pem' } });
    const both = await loadConfig({ env: { DBOPS_SOURCE_DEFAULTS_FILE: cnf, DBOPS_SOURCE_URL: 'mysql://db.example:3306?ssl-mode=VERIFY_IDENTITY', DBOPS_SOURCE_TLS_CA: '/etc/other-ca.pem' } });
    expect(sourceConnection(both)).toEqual({ user: 'backup', password: 'from-cnf', host: 'db.example', port: 3306, tls: { mode: 'VERIFY_IDENTITY', ca: '/etc/other-ca.pem' } });
  });

  it('refuses an option file others can read (it holds the password)', async () => {
    const cnf = await secret('open.cnf', '[client]\nuser=u\npassword=p\n', 0o604);
    const config = await loadConfig({ env: { DBOPS_SOURCE_DEFAULTS_FILE: cnf } });
    expect(() => sourceConnection(config)).toThrow(/source\.defaultsFile .* mode 0604, readable by other users/);
  });
});

describe('TLS settings', () => {
  it('reads ssl-mode, ssl-ca, ssl-cert and ssl-key from YAML-style keys, case-insensitively', async () => {
    const config = await loadConfig({ env: { DBOPS_RESTORE_TARGET_URL: 'mysql://root@db', DBOPS_RESTORE_TARGET_TLS_MODE: 'verify_ca', DBOPS_RESTORE_TARGET_TLS_CA: '/ca.pem', DBOPS_RESTORE_TARGET_TLS_CERT: '/c.pem', DBOPS_RESTORE_TARGET_TLS_KEY: '/c.key' } });
    expect(restoreTargetConnection(config).tls).toEqual({ mode: 'VERIFY_CA', ca: '/ca.pem', cert: '/c.pem', key: '/c.key' });
  });

  it('refuses an unknown mode and a certificate without its key', async () => {
    expect((await problems({ DBOPS_SOURCE_TLS_MODE: 'strict' }))[0]).toMatch(/source\.tls\.mode .*DBOPS_SOURCE_TLS_MODE.*DISABLED.*VERIFY_IDENTITY/);
    expect((await problems({ DBOPS_SOURCE_TLS_CERT: '/c.pem' }))[0]).toMatch(/source\.tls.*ssl-cert and ssl-key go together/);
  });
});

describe('roles', () => {
  it('the admin account is its own when admin.url is set, else the source account', async () => {
    const file = await secret('admin.pw', 'admin-secret');
    const own = await loadConfig({ env: { DBOPS_SOURCE_URL: 'mysql://backup:b@db/horizn', DBOPS_ADMIN_URL: 'mysql://dbops_admin@db/horizn?ssl-mode=REQUIRED', DBOPS_ADMIN_PASSWORD_FILE: file } });
    expect(adminConnection(own)).toEqual({ user: 'dbops_admin', password: 'admin-secret', host: 'db', port: 3306, database: 'horizn', tls: { mode: 'REQUIRED' } });
    const borrowed = await loadConfig({ env: { DBOPS_SOURCE_URL: 'mysql://backup:b@db/horizn' } });
    expect(adminConnection(borrowed).user).toBe('backup');
  });

  it('names the variables to set when a role has no account', async () => {
    const config = await loadConfig({ env: {} });
    expect(() => restoreTargetConnection(config)).toThrow('missing restore.targetUrl: set DBOPS_RESTORE_TARGET_URL (or DBOPS_RESTORE_TARGET_DEFAULTS_FILE), pass --target or add it to dbops.yaml');
  });
});

describe('environment conventions', () => {
  const k8s = {
    DBOPS_PORT: 'tcp://10.0.0.7:9187',
    DBOPS_PORT_9187_TCP: 'tcp://10.0.0.7:9187',
    DBOPS_PORT_9187_TCP_ADDR: '10.0.0.7',
    DBOPS_PORT_9187_TCP_PORT: '9187',
    DBOPS_PORT_9187_TCP_PROTO: 'tcp',
    DBOPS_SERVICE_HOST: '10.0.0.7',
    DBOPS_SERVICE_PORT: '9187',
    DBOPS_SERVICE_PORT_METRICS: '9187',
    DBOPS_METRICS_SERVICE_HOST: '10.0.0.8',
    DBOPS_METRICS_PORT_9100_TCP_ADDR: '10.0.0.8',
  };

  it('ignores Kubernetes service-link variables of a Service named dbops (and dbops-…)', async () => {
    await expect(loadConfig({ env: k8s })).resolves.toBeDefined();
    const r = await runCli(['doctor', '--print-grants', '--flavor', 'mariadb'], k8s);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('still catches a typo, with a "did you mean"', async () => {
    expect(await problems({ ...k8s, DBOPS_SOURCE_PASWORD_FILE: '/x' })).toEqual(['unknown environment variable DBOPS_SOURCE_PASWORD_FILE: did you mean DBOPS_SOURCE_PASSWORD_FILE?']);
    expect(await problems({ DBOPS_STORGE_URL: 'file:///tmp' })).toEqual(['unknown environment variable DBOPS_STORGE_URL: did you mean DBOPS_STORAGE_URL?']);
    expect((await problems({ DBOPS_FROBNICATE: '1' }))[0]).toMatch(/^unknown environment variable DBOPS_FROBNICATE: not a dbops setting/);
  });
});
