// Decoders for the GTID-bearing binlog event bodies both readers need (the shipper's
// header scan and PITR's transaction scan): MariaDB's GTID list, MySQL's previous-GTIDs
// set, and the 16-byte server uuid MySQL GTID events carry.

export function uuidOf(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** MariaDB GTID_LIST body → `domain-server-seq` entries, one per domain. */
export function mariadbGtidList(b: Buffer): string[] {
  const count = b.readUInt32LE(0) & 0x0fffffff;
  const list: string[] = [];
  for (let i = 0; i < count && 4 + i * 16 + 16 <= b.length; i++) {
    const o = 4 + i * 16;
    list.push(`${b.readUInt32LE(o)}-${b.readUInt32LE(o + 4)}-${b.readBigUInt64LE(o + 8)}`);
  }
  return list;
}

/** MySQL PREVIOUS_GTIDS body → a GTID set `uuid:1-5:7,uuid2:1-3`. */
export function mysqlPreviousGtids(b: Buffer): string {
  const sets: string[] = [];
  let o = 8;
  for (let i = 0n; i < b.readBigUInt64LE(0) && o + 24 <= b.length; i++) {
    const sid = uuidOf(b.subarray(o, o + 16));
    const n = Number(b.readBigUInt64LE(o + 16));
    o += 24;
    const ranges: string[] = [];
    for (let j = 0; j < n && o + 16 <= b.length; j++, o += 16) {
      const start = b.readBigInt64LE(o);
      const end = b.readBigInt64LE(o + 8) - 1n; // stored end is exclusive
      ranges.push(start === end ? `${start}` : `${start}-${end}`);
    }
    sets.push(`${sid}:${ranges.join(':')}`);
  }
  return sets.join(',');
}
