// A thin wrapper over mysql2/promise with the settings every caller needs:
// one statement per call, big numbers kept exact, dates as strings (no time
// zone conversion), and errors rewrapped so the statement text (which may hold
// a password) never travels with them.
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { DbopsError, OperationError } from '../errors.js';
import type { MysqlConn } from './connection-url.js';
import { checkPeerIdentity, mayBeTlsRequired, mysql2Ssl, probeSsl, tlsConnectError, usesTls } from './client-tls.js';
import { effectiveMode, verifiesCertificate } from './tls-settings.js';

export const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

/** Engines whose tables are consistent inside --single-transaction. */
const TRANSACTIONAL_ENGINES = ['InnoDB', 'RocksDB', 'TokuDB'];

/** A failed statement. `message` is the server's message; the SQL is never attached. */
export class MysqlQueryError extends OperationError {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly errno: number | undefined,
    readonly sqlState: string | undefined,
  ) {
    super(message);
  }
}

export interface ConnectOptions {
  database?: string;
  /** Off by default: one statement per call keeps injection and error attribution simple. */
  multipleStatements?: boolean;
  connectTimeoutMs?: number;
}

export interface QueryOptions {
  /** The statement carries a secret: drop the server message (it may quote the statement). */
  sensitive?: boolean;
}

export interface NonTransactionalTable {
  database: string;
  table: string;
  engine: string;
}

interface MysqlErrorShape {
  message?: string;
  code?: string;
  errno?: number;
  sqlState?: string;
}

function wrapQueryError(err: unknown, sensitive: boolean): MysqlQueryError {
  const e = (err ?? {}) as MysqlErrorShape;
  const message = sensitive ? `statement failed with ${e.code ?? 'an error'} (message withheld: it may quote a secret)` : (e.message ?? String(err));
  return new MysqlQueryError(message, e.code, e.errno, e.sqlState);
}

/**
 * Servers that offered no TLS to a PREFERRED connection: mysql2 ends such a handshake with an
 * error, so PREFERRED costs a second connect; remembered for the process's later connections.
 */
const WITHOUT_TLS = new Set<string>();

function describe(conn: MysqlConn): string {
  return conn.socket ? `socket ${conn.socket}` : `${conn.host}:${conn.port}`;
}

export class MysqlClient {
  private constructor(
    /** The underlying mysql2 connection, for streaming or transactions. */
    readonly raw: Connection,
    /** The server certificate was checked when connecting. */
    private readonly verified = false,
  ) {}

  /**
   * Opens a connection with the TLS settings of `conn` (ssl-mode semantics: PREFERRED falls
   * back to plaintext only when the server offers no TLS). A TLS misconfiguration is a
   * UsageError naming the cause; anything else an OperationError naming host and user
   * (never the password).
   */
  static async connect(conn: MysqlConn, opts: ConnectOptions = {}): Promise<MysqlClient> {
    const options = MysqlClient.connectionOptions(conn, opts);
    const preferred = effectiveMode(conn.tls) === 'PREFERRED';
    const server = `${conn.host}:${conn.port}`;
    if (preferred && WITHOUT_TLS.has(server)) delete options.ssl;
    try {
      let raw: Connection;
      try {
        raw = await mysql.createConnection(options);
      } catch (err) {
        if ((err as MysqlErrorShape).code !== 'HANDSHAKE_NO_SSL_SUPPORT' || !preferred) throw err;
        WITHOUT_TLS.add(server);
        const { ssl: _ssl, ...plain } = options;
        raw = await mysql.createConnection(plain);
      }
      // An idle connection dropped by the server emits 'error'; without a listener that would crash the process.
      raw.on('error', () => {});
      try {
        checkPeerIdentity(conn, MysqlClient.tlsSocket(raw)?.getPeerCertificate(true) as PeerCertificate | undefined);
      } catch (err) {
        raw.destroy();
        throw err;
      }
      return new MysqlClient(raw, usesTls(conn) && verifiesCertificate(effectiveMode(conn.tls)));
    } catch (err) {
      if (err instanceof DbopsError) throw err;
      const tlsError = tlsConnectError(err, conn, mayBeTlsRequired(err, conn) && (await MysqlClient.acceptsOverTls(conn, opts)));
      if (tlsError) throw tlsError;
      const e = err as MysqlErrorShape;
      throw new OperationError(
        `cannot connect to ${describe(conn)} as ${conn.user}: ${e.message ?? String(err)}: check the connection settings (host, port, user, password) and that the server is running`,
      );
    }
  }

  /** The TLS socket under a connection, when it is encrypted. */
  private static tlsSocket(raw: Connection): TLSSocket | undefined {
    const stream = (raw as unknown as { connection?: { stream?: unknown } }).connection?.stream as TLSSocket | undefined;
    return stream && typeof stream.getPeerCertificate === 'function' ? stream : undefined;
  }

  /** After a refused plaintext login: would the same login over TLS be accepted? Then TLS is what the server wants. */
  private static async acceptsOverTls(conn: MysqlConn, opts: ConnectOptions): Promise<boolean> {
    try {
      const probe = await mysql.createConnection({ ...MysqlClient.connectionOptions(conn, opts), ssl: probeSsl(conn) });
      probe.on('error', () => {});
      probe.destroy();
      return true;
    } catch {
      return false;
    }
  }

  /** The mysql2 options for `conn` (see checkedConnectionOptions for code that connects by itself). */
  static connectionOptions(conn: MysqlConn, opts: ConnectOptions): ConnectionOptions {
    const options: ConnectionOptions = {
      user: conn.user,
      password: conn.password,
      multipleStatements: opts.multipleStatements ?? false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      // Only affects JS Date parameters; the session time_zone is left as the server's.
      timezone: 'Z',
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
    };
    const database = opts.database ?? conn.database;
    if (database) options.database = database;
    if (conn.socket) options.socketPath = conn.socket;
    else Object.assign(options, { host: conn.host, port: conn.port });
    const ssl = mysql2Ssl(conn);
    if (ssl) options.ssl = ssl;
    return options;
  }

  /** Whether this session is encrypted, with what; `verified`: the certificate was checked (ssl-mode VERIFY_*). */
  async tlsStatus(): Promise<{ encrypted: boolean; cipher: string; version: string; verified: boolean }> {
    const rows = await this.query<{ Variable_name: string; Value: string }>("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')");
    const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
    const cipher = v.Ssl_cipher ?? '';
    return { encrypted: cipher !== '', cipher, version: v.Ssl_version ?? '', verified: cipher !== '' && this.verified };
  }

  /** Runs one statement with `?` placeholders (client-side escaped) and returns its rows. */
  async query<T>(sql: string, params: unknown[] = [], opts: QueryOptions = {}): Promise<T[]> {
    try {
      const [rows] = await this.raw.query(sql, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    } catch (err) {
      throw wrapQueryError(err, opts.sensitive ?? false);
    }
  }

  /** Runs a statement that returns no rows; resolves to affected rows. */
  async exec(sql: string, params: unknown[] = [], opts: QueryOptions = {}): Promise<number> {
    try {
      const [result] = await this.raw.query(sql, params);
      return (result as { affectedRows?: number }).affectedRows ?? 0;
    } catch (err) {
      throw wrapQueryError(err, opts.sensitive ?? false);
    }
  }

  /** Databases other than mysql, information_schema, performance_schema and sys, sorted. */
  async listUserDatabases(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY SCHEMA_NAME`,
      [SYSTEM_DATABASES],
    );
    return rows.map((r) => r.name);
  }

  /** Tables a --single-transaction dump cannot snapshot consistently (MyISAM, Aria, MEMORY, …). */
  async nonTransactionalTables(databases: string[]): Promise<NonTransactionalTable[]> {
    if (databases.length === 0) return [];
    return this.query<NonTransactionalTable>(
      `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS \`table\`, ENGINE AS engine
         FROM information_schema.TABLES
        WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
          AND TABLE_SCHEMA IN (?)
          AND ENGINE IS NOT NULL AND ENGINE NOT IN (?)
        ORDER BY TABLE_SCHEMA, TABLE_NAME`,
      [databases, TRANSACTIONAL_ENGINES],
    );
  }

  async close(): Promise<void> {
    try {
      await this.raw.end();
    } catch {
      this.raw.destroy();
    }
  }
}

/**
 * mysql2 options for code that opens its own connections (the seed's parallel loaders),
 * with the TLS this account gets: one connection through connect() first settles
 * PREFERRED (TLS or not), checks the certificate and turns failures into our errors.
 */
export async function checkedConnectionOptions(conn: MysqlConn, opts: ConnectOptions = {}): Promise<ConnectionOptions> {
  const db = await MysqlClient.connect(conn, opts);
  try {
    const options = MysqlClient.connectionOptions(conn, opts);
    if (!(await db.tlsStatus()).encrypted) delete options.ssl;
    return options;
  } finally {
    await db.close();
  }
}

export function connect(conn: MysqlConn, opts?: ConnectOptions): Promise<MysqlClient> {
  return MysqlClient.connect(conn, opts);
}

/** Opens a connection, runs fn, and always closes it. */
export async function withConnection<T>(conn: MysqlConn, fn: (db: MysqlClient) => Promise<T>, opts?: ConnectOptions): Promise<T> {
  const db = await MysqlClient.connect(conn, opts);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
