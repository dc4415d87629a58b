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
  const d = new Date(text.trim().replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag} "${text}" is not a valid date and time`);
  return d;
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
