// The recovery target a responder asks for, parsed and checked for form before anything
// is read: exactly one of --to TIME | --to-position FILE:POS | --to-gtid SET | --before
// FILE:POS | --to latest. Times must carry a zone: a bare "14:02" means different
// instants on the responder's laptop, the server and the backup host.
import { UsageError } from '../errors.js';
import { isBinlogName } from '../binlog/file-names.js';

export type PitrTarget =
  | { kind: 'time'; time: Date; text: string }
  | { kind: 'position'; file: string; position: number }
  | { kind: 'before'; file: string; position: number }
  | { kind: 'gtid'; text: string }
  | { kind: 'latest' };

export interface TargetFlags {
  to?: string;
  toPosition?: string;
  toGtid?: string;
  before?: string;
}

const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_NO_ZONE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/;

export function parseTime(text: string, flag = '--to'): Date {
  const m = ISO_WITH_ZONE.exec(text.trim());
  if (!m) {
    if (ISO_NO_ZONE.test(text.trim())) {
      throw new UsageError(`${flag} ${text} has no time zone: add one, e.g. ${text.trim().replace(' ', 'T')}Z for UTC or ${text.trim().replace(' ', 'T')}+01:00`);
    }
    throw new UsageError(`${flag} "${text}" is not an ISO 8601 time: write e.g. 2026-11-27T14:02:59+01:00 (or …Z for UTC)`);
  }
  // JavaScript's Date rolls a day the month does not have over into the next month
  // (2026-02-30 → 2026-03-02): every field is checked before it may build a Date.
  const problem = fieldProblem(m);
  if (problem) throw new UsageError(`${flag} "${text}" is not a valid date and time (${problem}): write e.g. 2026-11-27T14:02:59+01:00`);
  const d = new Date(text.trim().replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag} "${text}" is not a valid date and time`);
  return d;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** What is out of range in a matched ISO_WITH_ZONE, or undefined when every field is real. */
function fieldProblem(m: RegExpExecArray): string | undefined {
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month! < 1 || month! > 12) return `there is no month ${month}`;
  const days = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (day! < 1 || day! > days) return `${MONTHS[month! - 1]} ${year} has ${days} days`;
  if (hour! > 23) return `hour ${hour} is out of range 00-23`;
  if (minute! > 59) return `minute ${minute} is out of range 00-59`;
  if (second > 59) return `second ${second} is out of range 00-59`;
  const zone = /^([+-])(\d{2}):?(\d{2})$/.exec(m[8]!);
  if (zone && (Number(zone[2]) > 14 || Number(zone[3]) > 59)) return `zone offset ${m[8]} is out of range -14:00 to +14:00`;
  return undefined;
}

export function parseFilePos(text: string, flag: string): { file: string; position: number } {
  const m = /^([^:\s]+):(\d+)$/.exec(text.trim());
  if (!m || !isBinlogName(m[1]!)) throw new UsageError(`${flag} "${text}" is not FILE:POSITION: write e.g. binlog.000042:1234 (see dbops binlog find)`);
  const position = Number(m[2]);
  if (!Number.isSafeInteger(position) || position < 4) throw new UsageError(`${flag} ${text}: a binlog position is at least 4`);
  return { file: m[1]!, position };
}

export function parseTarget(flags: TargetFlags): PitrTarget {
  const given = (['to', 'toPosition', 'toGtid', 'before'] as const).filter((k) => flags[k] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(`give exactly one target: --to TIME, --to latest, --to-position FILE:POS, --to-gtid SET or --before FILE:POS${given.length > 1 ? ` (got ${given.map((g) => `--${g.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')})` : ''}`);
  }
  if (flags.to !== undefined) {
    if (flags.to.trim() === 'latest') return { kind: 'latest' };
    return { kind: 'time', time: parseTime(flags.to), text: flags.to };
  }
  if (flags.toPosition !== undefined) return { kind: 'position', ...parseFilePos(flags.toPosition, '--to-position') };
  if (flags.before !== undefined) return { kind: 'before', ...parseFilePos(flags.before, '--before') };
  if (!flags.toGtid!.trim()) throw new UsageError('--to-gtid is empty: give a GTID like 0-1-1234 (MariaDB) or uuid:1-1234 (MySQL)');
  return { kind: 'gtid', text: flags.toGtid!.trim() };
}

export function describeTarget(t: PitrTarget): string {
  switch (t.kind) {
    case 'time':
      return `--to ${t.time.toISOString()}`;
    case 'position':
      return `--to-position ${t.file}:${t.position}`;
    case 'before':
      return `--before ${t.file}:${t.position}`;
    case 'gtid':
      return `--to-gtid ${t.text}`;
    case 'latest':
      return '--to latest';
  }
}
