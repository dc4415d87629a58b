// Compares two database fingerprints and says, one line per difference, which
// object differs and how — the text a restore test prints and a restore-test
// report stores. The databases' own names are not compared (a restore into a
// scratch schema is expected to have another name).
import type { CodeFingerprint, DbFingerprint, SequenceFingerprint, TableFingerprint } from './db-fingerprint.js';
import { quoteIdent } from './quote-ident.js';

/** One line: `<kind> <quoted name>: <what> expected <x>, actual <y>`. */
export type Difference = string;

export interface DiffOptions {
  /**
   * Fields to leave out, e.g. ['autoIncrement'] when comparing against a
   * snapshot (the counter is not transactional), or ['checksum'] when the two
   * sides run different server versions (use contentChecksum there).
   */
  ignore?: ReadonlyArray<keyof TableFingerprint | keyof CodeFingerprint | 'sequenceState'>;
}

type Section = 'tables' | 'views' | 'procedures' | 'functions' | 'triggers' | 'events' | 'sequences';

const KINDS: [Section, string][] = [
  ['tables', 'table'],
  ['sequences', 'sequence'],
  ['views', 'view'],
  ['procedures', 'procedure'],
  ['functions', 'function'],
  ['triggers', 'trigger'],
  ['events', 'event'],
];

/** Every way `actual` differs from `expected`; empty when they match. */
export function diffFingerprints(expected: DbFingerprint, actual: DbFingerprint, options: DiffOptions = {}): Difference[] {
  const ignored = new Set<string>(options.ignore ?? []);
  const out: Difference[] = [];
  const field = (object: string, name: string, a: unknown, b: unknown): void => {
    if (ignored.has(name) || same(a, b)) return;
    out.push(`${object}: ${describe(name, a, b)}`);
  };

  field('database', 'characterSet', expected.characterSet, actual.characterSet);
  field('database', 'collation', expected.collation, actual.collation);

  for (const [section, kind] of KINDS) {
    const exp = expected[section] as Record<string, unknown>;
    const act = actual[section] as Record<string, unknown>;
    const names = [...new Set([...Object.keys(exp), ...Object.keys(act)])].sort();
    for (const name of names) {
      const object = `${kind} ${quoteIdent(name)}`;
      const has = Object.hasOwn(exp, name);
      const got = Object.hasOwn(act, name);
      if (!got) {
        out.push(`${object}: missing (expected to exist)`);
        continue;
      }
      if (!has) {
        out.push(`${object}: unexpected (not in the expected database)`);
        continue;
      }
      if (section === 'sequences') {
        const e = exp[name] as SequenceFingerprint;
        const a = act[name] as SequenceFingerprint;
        field(object, 'definition', e.definition, a.definition);
        if (!ignored.has('sequenceState')) {
          for (const key of [...new Set([...Object.keys(e.state), ...Object.keys(a.state)])].sort()) {
            field(object, key, e.state[key], a.state[key]);
          }
        }
        continue;
      }
      const e = exp[name] as Record<string, unknown>;
      const a = act[name] as Record<string, unknown>;
      for (const key of [...new Set([...Object.keys(e), ...Object.keys(a)])].sort()) {
        field(object, key, e[key], a[key]);
      }
    }
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (a === undefined && b === null) || (a === null && b === undefined);
}

const LABELS: Record<string, string> = {
  rowCount: 'row count',
  checksum: 'CHECKSUM TABLE',
  contentChecksum: 'content checksum',
  autoIncrement: 'AUTO_INCREMENT',
  createTable: 'definition',
  sqlMode: 'sql_mode',
  timeZone: 'time_zone',
  characterSetClient: 'character_set_client',
  collationConnection: 'collation_connection',
  databaseCollation: 'database collation',
  actionOrder: 'action order',
  characterSet: 'character set',
};

/** `<field> expected X, actual Y`; long texts are cut to a window around the first difference. */
function describe(name: string, a: unknown, b: unknown): string {
  const label = LABELS[name] ?? name;
  if (typeof a === 'string' && typeof b === 'string' && (a.length > 60 || b.length > 60)) {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    const from = Math.max(0, i - 25);
    const snippet = (s: string): string => (from > 0 ? '…' : '') + JSON.stringify(s.slice(from, i + 35)) + (i + 35 < s.length ? '…' : '');
    return `${label} differs at character ${i}: expected ${snippet(a)}, actual ${snippet(b)}`;
  }
  return `${label} expected ${show(a)}, actual ${show(b)}`;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
