// One-shot for the compose stack (service `bucket`): creates the bucket of storage.url on
// the stack's S3 server, once it answers, with Object Lock when storage.objectLock is set
// (a bucket gets Object Lock only when it is created). The settings come through dbops's
// own config loader, so dbops.yaml and DBOPS_* variables mean here what they mean to
// dbops; credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID…), as for dbops.
// Exit 0 when the bucket is there as configured, 1 otherwise (saying why), 2 for config.
import { S3Client, HeadBucketCommand, CreateBucketCommand, GetObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../dist/config/load-config.js';
import { parseStorageUrl, describeStorageUrl } from '../dist/storage/open-storage.js';

const say = (msg) => console.log(`create-bucket: ${msg}`);
const fail = (msg, code = 1) => {
  console.error(`create-bucket: ${msg}`);
  process.exit(code);
};

let config;
let storage;
try {
  config = await loadConfig();
  if (!config.storage.url) fail('storage.url is not set (DBOPS_STORAGE_URL)', 2);
  storage = parseStorageUrl(config.storage.url);
} catch (err) {
  fail(err.message, 2);
}
if (storage.kind !== 's3') {
  say(`${describeStorageUrl(config.storage.url)} is not S3: no bucket to create`);
  process.exit(0);
}
const lock = config.storage.objectLock;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const client = new S3Client({
  ...(storage.endpoint ? { endpoint: storage.endpoint } : {}),
  region: storage.region ?? 'us-east-1',
  forcePathStyle: storage.forcePathStyle ?? Boolean(storage.endpoint),
  maxAttempts: 1,
});
const Bucket = storage.bucket;
const where = storage.endpoint ?? 'AWS';

async function exists() {
  try {
    await client.send(new HeadBucketCommand({ Bucket }));
    return true;
  } catch (err) {
    if (err.$metadata?.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchBucket') return false;
    throw err;
  }
}

// The S3 server may still be starting: connection errors are retried for 60 s, nothing else.
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    if (await exists()) {
      if (lock) {
        const state = await client.send(new GetObjectLockConfigurationCommand({ Bucket })).catch(() => undefined);
        if (state?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
          fail(`bucket ${Bucket} exists without Object Lock, which can only be chosen when a bucket is created: use another bucket in DBOPS_STORAGE_URL or unset storage.objectLock`);
        }
      }
      say(`bucket ${Bucket} exists on ${where}${lock ? ' (Object Lock on)' : ''}`);
      break;
    }
    await client.send(new CreateBucketCommand({ Bucket, ...(lock ? { ObjectLockEnabledForBucket: true } : {}) }));
    say(`created bucket ${Bucket} on ${where}${lock ? ' with Object Lock' : ''}`);
    break;
  } catch (err) {
    const code = err.code ?? err.cause?.code ?? err.name;
    const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code) || err.$metadata?.httpStatusCode === 503;
    if (!unreachable) fail(`${where}: ${err.name}: ${err.message}`);
    if (Date.now() > deadline) fail(`${where} did not answer within 60 s (${code})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
