// GTIDs of both flavours, as PITR needs them: parse a user's `--to-gtid`, follow the GTID
// state through a binlog (MariaDB: the last GTID per domain; MySQL: a set of intervals per
// source uuid), and compare states (a backup's recorded set against the binlog at its
// coordinates). MariaDB `D-S-N[,D-S-N…]`; MySQL `uuid:1-5:7[,uuid:…]` (tagged GTIDs of
// MySQL 8.4 are not handled: refused as malformed).
import { UsageError } from '../errors.js';
import type { Flavor } from '../mysql/server-info.js';

const MARIA_ONE = /^(\d+)-(\d+)-(\d+)$/;
const MYSQL_MEMBER = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})((?::\d+(?:-\d+)?)+)$/i;

/** One transaction's GTID, flavour-neutral: MariaDB (domain, server, seq) or MySQL (uuid, seq). */
export type Gtid = { flavor: 'mariadb'; domain: number; server: number; seq: bigint } | { flavor: 'mysql'; uuid: string; seq: bigint };

export function parseGtid(text: string): Gtid | undefined {
  const m = MARIA_ONE.exec(text);
  if (m) return { flavor: 'mariadb', domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]!) };
  const my = /^([0-9a-f-]{36}):(\d+)$/i.exec(text);
  if (my) return { flavor: 'mysql', uuid: my[1]!.toLowerCase(), seq: BigInt(my[2]!) };
  return undefined;
}

export function formatGtid(g: Gtid): string {
  return g.flavor === 'mariadb' ? `${g.domain}-${g.server}-${g.seq}` : `${g.uuid}:${g.seq}`;
}

/**
 * A `--to-gtid` target: the transactions that must be included, one per MariaDB domain or
 * MySQL source uuid (the highest of each uuid's intervals). UsageError when malformed.
 */
export function parseGtidTarget(text: string, flavor: Flavor): Gtid[] {
  const members = text.replace(/\s+/g, '').split(',').filter(Boolean);
  const hint = flavor === 'mariadb' ? 'a MariaDB GTID like 0-1-1234 (domain-server-sequence), comma-separated for several domains' : 'a MySQL GTID set like 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-1234';
  if (members.length === 0) throw new UsageError(`--to-gtid is empty: give ${hint}`);
  const out: Gtid[] = [];
  for (const m of members) {
    if (flavor === 'mariadb') {
      const g = parseGtid(m);
      if (!g || g.flavor !== 'mariadb') throw new UsageError(`--to-gtid "${text}" is not valid for this MariaDB source: give ${hint}`);
      if (out.some((o) => o.flavor === 'mariadb' && o.domain === g.domain)) throw new UsageError(`--to-gtid "${text}" names domain ${g.domain} twice: give one GTID per domain`);
      out.push(g);
    } else {
      const mm = MYSQL_MEMBER.exec(m);
      if (!mm) throw new UsageError(`--to-gtid "${text}" is not valid for this MySQL source: give ${hint}`);
      const ends = mm[2]!.split(':').filter(Boolean).map((r) => BigInt(r.split('-').at(-1)!));
      out.push({ flavor: 'mysql', uuid: mm[1]!.toLowerCase(), seq: ends.reduce((a, b) => (b > a ? b : a)) });
    }
  }
  return out;
}

/** The GTID state as a binlog advances: what a server that applied it so far has executed. */
export class GtidState {
  private maria = new Map<number, { server: number; seq: bigint }>();
  private mysql = new Map<string, Array<[bigint, bigint]>>();

  constructor(readonly flavor: Flavor) {}

  /** From a MariaDB GTID list / gtid_binlog_pos, or a MySQL Previous_gtids / gtid_executed set. */
  static parse(flavor: Flavor, text: string | null): GtidState {
    const s = new GtidState(flavor);
    for (const member of (text ?? '').replace(/\s+/g, '').split(',').filter(Boolean)) {
      if (flavor === 'mariadb') {
        const g = parseGtid(member);
        if (g?.flavor === 'mariadb') s.add(g);
      } else {
        const m = MYSQL_MEMBER.exec(member);
        if (!m) continue;
        for (const r of m[2]!.split(':').filter(Boolean)) {
          const [a, b] = r.split('-');
          s.addRange(m[1]!.toLowerCase(), BigInt(a!), BigInt(b ?? a!));
        }
      }
    }
    return s;
  }

  clone(): GtidState {
    const s = new GtidState(this.flavor);
    for (const [k, v] of this.maria) s.maria.set(k, { ...v });
    for (const [k, v] of this.mysql) s.mysql.set(k, v.map(([a, b]) => [a, b] as [bigint, bigint]));
    return s;
  }

  add(g: Gtid): void {
    if (g.flavor === 'mariadb') {
      this.maria.set(g.domain, { server: g.server, seq: g.seq });
      return;
    }
    this.addRange(g.uuid, g.seq, g.seq);
  }

  private addRange(uuid: string, from: bigint, to: bigint): void {
    const list = this.mysql.get(uuid) ?? [];
    list.push([from, to]);
    list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const r of list) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1] + 1n) last[1] = r[1] > last[1] ? r[1] : last[1];
      else merged.push([r[0], r[1]]);
    }
    this.mysql.set(uuid, merged);
  }

  /** True when the transaction `g` is part of this state. */
  includes(g: Gtid): boolean {
    if (g.flavor === 'mariadb') {
      const d = this.maria.get(g.domain);
      return d !== undefined && d.seq >= g.seq;
    }
    return (this.mysql.get(g.uuid) ?? []).some(([a, b]) => a <= g.seq && g.seq <= b);
  }

  /** Same executed transactions (MariaDB: same sequence per domain; the server id is not compared). */
  equals(other: GtidState): boolean {
    return this.compareKey() === other.compareKey();
  }

  private compareKey(): string {
    if (this.flavor === 'mariadb') return [...this.maria.entries()].sort((a, b) => a[0] - b[0]).map(([d, v]) => `${d}:${v.seq}`).join(',');
    return this.toString();
  }

  toString(): string {
    if (this.flavor === 'mariadb') return [...this.maria.entries()].sort((a, b) => a[0] - b[0]).map(([d, v]) => `${d}-${v.server}-${v.seq}`).join(',');
    return [...this.mysql.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([u, rs]) => `${u}:${rs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(':')}`)
      .join(',');
  }
}
