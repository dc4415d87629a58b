// The names of every schema object per database (tables, sequences, views, routines,
// triggers, events), recorded in the manifest so a restore test can check that each
// one came back — the dump itself only says what it wrote, not what should exist.
import type { MysqlClient } from '../mysql/client.js';

export interface SchemaObjects {
  tables: string[];
  sequences: string[];
  views: string[];
  routines: string[];
  triggers: string[];
  events: string[];
}

export async function schemaInventory(db: MysqlClient, databases: readonly string[]): Promise<Record<string, SchemaObjects>> {
  const out: Record<string, SchemaObjects> = {};
  for (const name of databases) out[name] = { tables: [], sequences: [], views: [], routines: [], triggers: [], events: [] };
  if (databases.length === 0) return out;
  const dbs = [databases];
  const tables = await db.query<{ db: string; name: string; type: string }>(
    'SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_NAME',
    dbs,
  );
  for (const t of tables) {
    const o = out[t.db]!;
    if (t.type === 'VIEW') o.views.push(t.name);
    else if (t.type === 'SEQUENCE') o.sequences.push(t.name);
    else o.tables.push(t.name);
  }
  const routines = await db.query<{ db: string; name: string; type: string }>(
    'SELECT ROUTINE_SCHEMA AS db, ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (?) ORDER BY ROUTINE_TYPE, ROUTINE_NAME',
    dbs,
  );
  for (const r of routines) out[r.db]!.routines.push(`${r.type.toLowerCase()} ${r.name}`);
  const triggers = await db.query<{ db: string; name: string }>(
    'SELECT TRIGGER_SCHEMA AS db, TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (?) ORDER BY TRIGGER_NAME',
    dbs,
  );
  for (const t of triggers) out[t.db]!.triggers.push(t.name);
  const events = await db.query<{ db: string; name: string }>(
    'SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (?) ORDER BY EVENT_NAME',
    dbs,
  );
  for (const e of events) out[e.db]!.events.push(e.name);
  return out;
}
