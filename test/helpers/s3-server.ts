// A real S3 protocol server for tests: @20minutes/s3rver 4.0.4 on 127.0.0.1, a free
// port, a fresh temp directory and one bucket. It runs in a child Node process because
// (1) both s3rver 3.7 and 4.0.4 encrypt ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 (Node 20) only offers under --openssl-legacy-provider — without it
// every paginated listing fails with HTTP 500 — and vitest workers can't get that flag;
// (2) stop() can then kill the server abruptly mid-request, like a crashed endpoint.
// Its logs are discarded (only a stderr tail is kept for startup failures).
//
// Why 4.0.4 over 3.7: it checks SigV4 signatures and decodes aws-chunked bodies, is
// maintained for Node ≥ 20; otherwise both behave the same in our probes. Its SigV4
// check rejects every bucket-level request of SDK v3 (ListObjectsV2 gets
// SignatureDoesNotMatch: it canonicalises "/bucket" as "/bucket/"), so it runs with
// allowMismatchedSignatures; unknown access key ids are still refused (InvalidAccessKeyId).
// Not covered by either server (measured): AbortMultipartUpload and ListParts answer
// 405, part sizes (EntityTooSmall) and part ETags are not checked, If-None-Match is
// ignored, and listings follow directory-walk order, not UTF-8 byte order — keys where
// a character below "/" (space, "-", ".") meets a "/" boundary ("a-c" vs "a/b") come
// back out of S3 order and paginate wrongly.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

export const S3_TEST_ACCESS_KEY = 'S3RVER';
export const S3_TEST_SECRET_KEY = 'S3RVER';

/** Environment for child processes (dbops CLI) talking to the test server. */
export const s3TestEnv: Record<string, string> = {
  AWS_ACCESS_KEY_ID: S3_TEST_ACCESS_KEY,
  AWS_SECRET_ACCESS_KEY: S3_TEST_SECRET_KEY,
  AWS_REGION: 'us-east-1',
  // Never fall through to the instance-metadata endpoint (an address off this machine).
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface S3TestServer {
  /** e.g. http://127.0.0.1:40123 */
  readonly endpoint: string;
  readonly bucket: string;
  readonly directory: string;
  /** Storage URL for a prefix in the bucket: s3://bucket/prefix?endpoint=…&region=us-east-1 */
  url(prefix?: string): string;
  /** Kill the server at once (open requests see a reset); data stays for restart(). */
  stop(): Promise<void>;
  /** Start again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stop and delete the data directory. */
  cleanup(): Promise<void>;
}

const CHILD_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.S3RVER_PORT),
  directory: process.env.S3RVER_DIR,
  silent: true,
  allowMismatchedSignatures: true,
  configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
});
server.run().then(
  (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
  (err) => { process.stderr.write(String(err && err.stack || err) + '\\n'); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  Object.assign(process.env, s3TestEnv);
  const bucket = options.bucket ?? 'dbops-test';
  const directory = await mkdtemp(path.join(tmpdir(), 'dbops-s3rver-'));
  const modulePath = createRequire(import.meta.url).resolve('@20minutes/s3rver');
  let child: ChildProcess | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    const proc = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT], {
      env: { ...process.env, S3RVER_MODULE: modulePath, S3RVER_PORT: String(port), S3RVER_DIR: directory, S3RVER_BUCKET: bucket },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    let out = '';
    const ready = new Promise<number>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
      });
      proc.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${stderr.trim()}`)));
    });
    const timeout = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    try {
      port = await ready;
    } finally {
      clearTimeout(timeout);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    url: (prefix = '') => `s3://${bucket}/${prefix.replace(/^\/+/, '')}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    cleanup: async () => {
      await stop();
      process.removeListener('exit', killOnExit);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
