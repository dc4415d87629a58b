// Evidence for auditors, away from the repository: a tar of the evidence entries of a period,
// the reports they pin (JSON and HTML), repo.json, the public key, and a page plus a script
// that check it all with stock tools (jq, openssl, sha256sum). `dbops evidence verify FILE.tar`
// checks the same bundle with dbops, without the repository.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { execa } from 'execa';
import type { Repository } from './repository.js';
import { evidenceHeadKey, evidenceKey, parseReportKey, repoJsonKey, reportKey, idTime } from '../storage/layout.js';
import { parseRepoConfig } from './repo-config.js';
import { storageReader, verifyChain, type ChainVerification, type EvidenceEntry, type ObjectReader } from './evidence-log.js';
import { ToolError, UsageError, VerificationError } from '../errors.js';

export interface ExportResult {
  file: string;
  entries: number;
  firstSequence: number | null;
  lastSequence: number | null;
  objects: number;
}

/**
 * Write a bundle of every entry at or after `since` (and the rest of the chain after it), the
 * objects they pin and, for reports, their HTML page. The repository's chain is verified
 * first: a bundle is never made of a broken chain.
 */
export async function exportEvidence(repo: Repository, since: Date, out: string): Promise<ExportResult> {
  const chain = await repo.evidence.verify();
  const bad = chain.problems[0];
  if (bad) throw new VerificationError(`refusing to export a chain that does not verify: ${bad.problem} (see "dbops evidence verify")`, bad.key);
  const from = chain.entries.find((e) => Date.parse(e.at) >= since.getTime());
  const entries = from ? chain.entries.filter((e) => e.sequence >= from.sequence) : [];
  const dir = await mkdtemp(join(tmpdir(), 'dbops-evidence-'));
  try {
    const reader = storageReader(repo);
    const keys = new Set<string>([repoJsonKey, evidenceHeadKey, ...entries.map((e) => evidenceKey(e.sequence))]);
    for (const e of entries) {
      for (const ref of e.refs) {
        keys.add(ref.key);
        const report = parseReportKey(ref.key);
        if (report?.ext === 'json') keys.add(reportKey(report.id, idTime(report.id), 'html'));
      }
    }
    let objects = 0;
    for (const key of keys) {
      const bytes = await reader.get(key);
      if (!bytes) continue;
      await mkdir(dirname(join(dir, key)), { recursive: true });
      await writeFile(join(dir, key), bytes);
      objects++;
    }
    await writeFile(join(dir, 'signing.pub'), repo.config.signingPublicKey);
    await writeFile(join(dir, 'VERIFY.txt'), verifyPage(repo, entries));
    await writeFile(join(dir, 'verify-bundle.sh'), VERIFY_SCRIPT, { mode: 0o755 });
    await tar(['-cf', out, '-C', dir, '.']);
    return { file: out, entries: entries.length, firstSequence: entries[0]?.sequence ?? null, lastSequence: entries.at(-1)?.sequence ?? null, objects };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Check a bundle offline: with `publicKey` when given (pinned out of band), else the key inside it. */
export async function verifyEvidenceBundle(file: string, publicKey: KeyObject | undefined): Promise<ChainVerification & { repositoryId: string; keyFromBundle: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-evidence-check-'));
  try {
    await tar(['-xf', file, '-C', dir]);
    const repoJson = await readFile(join(dir, repoJsonKey)).catch(() => {
      throw new UsageError(`${file} is not an evidence bundle (no repo.json inside); make one with "dbops evidence export"`);
    });
    const { repo, publicKey: key } = parseRepoConfig(repoJson, publicKey);
    const chain = await verifyChain(dirReader(dir), key, repo.id, { complete: false });
    return { ...chain, repositoryId: repo.id, keyFromBundle: publicKey === undefined };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function dirReader(root: string): ObjectReader {
  return {
    async keys(prefix) {
      const base = join(root, prefix);
      const names = (await readdir(base, { recursive: true }).catch(() => [] as string[])) as string[];
      return names.map((n) => `${prefix}${n.split(sep).join('/')}`);
    },
    async get(key) {
      const path = join(root, key);
      if (relative(root, path).startsWith('..')) return undefined;
      return readFile(path).catch(() => undefined);
    },
  };
}

async function tar(args: string[]): Promise<void> {
  const r = await execa('tar', args, { reject: false });
  if (r.exitCode !== 0) throw new ToolError('tar', r.exitCode === undefined ? 'not found: install tar' : `exited with ${r.exitCode}`, String(r.stderr).slice(-500));
}

function verifyPage(repo: Repository, entries: EvidenceEntry[]): string {
  const first = entries[0];
  return `horizn-dbops evidence bundle
============================

Repository ${repo.config.id}, signing key ${repo.config.signingKeyId}.
Entries ${first ? `${first.sequence} to ${entries.at(-1)!.sequence} (${first.at} to ${entries.at(-1)!.at})` : 'none'}.

What is in it
  evidence/<sequence>.json   the entries: who did what, when, with which outcome
  evidence/head.json         the newest entry the log knew of when the bundle was made
  reports/<year>/<id>.json   restore-test reports the entries pin (.html: the same, for people)
  repo.json                  the repository description, signed by the same key
  signing.pub                that public key, as the repository states it

Compare the key with the one you were given out of band (its id is ${repo.config.signingKeyId}:
the first 16 hex characters of sha256 over the DER public key), then check:

  1. Every entry, head.json and report is signed: the "signature" member holds an Ed25519
     signature (base64) over the RFC 8785 canonical JSON of the document without "signature"
     (keys sorted, no spaces; what "jq -cS" prints for these documents).
  2. Entry N+1's "previous" is the sha256 (hex) of entry N's canonical JSON, signature included.
     Sequence numbers have no holes. The first entry of the bundle names an entry before the
     bundle: that link is taken as given (the repository's own check covers it).
  3. Every "refs" item names a file in the bundle whose sha256 is the one recorded.

verify-bundle.sh does exactly that with jq, openssl and sha256sum only:

  sh verify-bundle.sh signing.pub      # run inside the unpacked bundle; exit 0 when all holds

or, with dbops:  dbops evidence verify THIS.tar --public-key YOUR-COPY-OF-signing.pub
`;
}

/** Run inside an unpacked bundle; every step is a stock tool. */
const VERIFY_SCRIPT = `#!/bin/sh
# Checks this evidence bundle with jq, openssl and sha256sum only (see VERIFY.txt).
# Usage: sh verify-bundle.sh PUBLIC-KEY.pem   (exit 0: every signature, link and pinned file holds)
set -eu
key=\${1:?usage: sh verify-bundle.sh PUBLIC-KEY.pem}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
canon() { jq -cS "$2" "$1" | tr -d '\\n'; }
check_sig() {
  canon "$1" 'del(.signature)' > "$tmp/body"
  jq -r .signature.value "$1" | base64 -d > "$tmp/sig"
  openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in "$tmp/body" -sigfile "$tmp/sig" > /dev/null || { echo "BAD signature: $1"; exit 3; }
}
prev=""; expect=""
for f in $(ls evidence/ | grep -E '^[0-9]{12}\\.json$' | sort); do
  e="evidence/$f"; check_sig "$e"
  seq=$(jq -r .sequence "$e")
  [ "$expect" = "" ] || [ "$seq" = "$expect" ] || { echo "BAD chain: entry $expect is missing before $e"; exit 3; }
  [ "$prev" = "" ] || [ "$(jq -r .previous "$e")" = "$prev" ] || { echo "BAD link: $e does not follow the entry before it"; exit 3; }
  for ref in $(jq -r '.refs[] | .key + "=" + .sha256' "$e"); do
    file=\${ref%%=*}; sum=\${ref#*=}
    [ -f "$file" ] || { echo "MISSING $file (pinned by $e)"; exit 3; }
    [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ] || { echo "CHANGED $file (pinned by $e)"; exit 3; }
    case "$file" in *.json) check_sig "$file";; esac
  done
  prev=$(canon "$e" . | sha256sum | cut -d' ' -f1)
  expect=$((seq + 1))
  echo "ok $e $(jq -r '.at + " " + .action + " " + (.subject // "") + " " + .outcome' "$e")"
done
check_sig evidence/head.json
check_sig repo.json
echo "bundle verified"
`;
