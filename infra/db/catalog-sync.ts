// Mirrors the stack config's locations and the catalog's workshops into the database.
// Only catalog fields are written: registrations (seats in use, slots) are never touched,
// and a workshop that leaves the catalog is marked, not deleted, while rows refer to it.
import type { Pool } from "pg";
import type { StackConfig } from "../config";
import type { Workshop } from "../catalog/schema";

export async function syncCatalog(pool: Pool, config: StackConfig, workshops: Workshop[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    for (const l of config.locations) {
      await client.query(
        `insert into locations (name, slot_min, slot_max) values ($1, $2, $3)
         on conflict (name) do update set slot_min = excluded.slot_min, slot_max = excluded.slot_max, synced_at = now()`,
        [l.name, l.slotPool.min, l.slotPool.max],
      );
    }
    for (const w of workshops) {
      const { dir: _dir, ...catalog } = w;
      await client.query(
        `insert into workshops (name, folder, active, in_catalog, capacity, range_min, range_max, duration_hours, locations, reset, content_hash, catalog)
         values ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (name) do update set folder = excluded.folder, active = excluded.active, in_catalog = true,
           capacity = excluded.capacity, range_min = excluded.range_min, range_max = excluded.range_max,
           duration_hours = excluded.duration_hours, locations = excluded.locations, reset = excluded.reset,
           content_hash = excluded.content_hash, catalog = excluded.catalog, synced_at = now()`,
        [w.name, w.folder, w.active, w.capacity, w.range.min, w.range.max, w.duration, w.locations, w.reset, w.contentHash, catalog],
      );
    }
    await client.query(`update workshops set in_catalog = false, active = false where not (name = any($1))`, [workshops.map((w) => w.name)]);
    await client.query("commit");
  } catch (e) {
    await client.query("rollback");
    throw e;
  } finally {
    client.release();
  }
}
