// applyPlan checks a plan on its own terms before deleting anything: a plan that deletes
// the newest backup holding some database (or the accounts) of its source is refused, so
// a future planner defect cannot cost a database its last backup. Real file:// storage.
import { describe, it, expect } from 'vitest';
import { planRetention } from '../../src/retention/plan.js';
import { applyPlan, checkNewestKept } from '../../src/retention/apply-plan.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { OperationError } from '../../src/errors.js';
import { makeKeys, tempRepoUrl } from '../helpers/cli.js';
import type { BackupFacts } from '../../src/retention/types.js';

const SRC = 'mariadb-1-0123456789ab';
const backup = (id: string, hour: number, databases: string[], accounts = false): BackupFacts => ({
  id,
  serverUuid: SRC,
  databases,
  accounts,
  completedAt: new Date(Date.UTC(2026, 0, 1, hour)).toISOString(),
  cpFile: null,
  labels: {},
  storedBytes: 1,
});
const policy = { daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 1000, graceForIncompleteMs: 1000, legalHoldLabel: 'legal-hold' };

describe('the plan check before applying', () => {
  const backups = [backup('20260101T010000Z-aaaaaa', 1, ['a', 'b'], true), backup('20260101T020000Z-bbbbbb', 2, ['a'])];
  const plan = () => planRetention({ backups, unverified: [], segments: [], gaps: [], debris: [], now: new Date(Date.UTC(2026, 0, 2)), policy });

  it('accepts what the planner plans', () => {
    expect(() => checkNewestKept(plan())).not.toThrow();
  });

  it('refuses a plan that deletes the only backup of b, and deletes nothing', async () => {
    const keys = await makeKeys();
    const { url } = await tempRepoUrl();
    const storage = await openStorage(url);
    await initRepository(storage, await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE), await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]));
    const repo = await openRepository(storage);
    const marker = 'backups/20260101T010000Z-aaaaaa/manifest.json';
    await storage.put(marker, Buffer.from('{}'));
    const bad = plan();
    bad.backups = bad.backups.map((b) => (b.id === '20260101T010000Z-aaaaaa' ? { ...b, action: 'delete' as const } : b));
    const err = await applyPlan(repo, bad, url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/deletes backup 20260101T010000Z-aaaaaa, the newest that holds database b of source/);
    expect(await storage.stat(marker)).toBeDefined();
  });
});
