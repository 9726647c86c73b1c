// Mirrors the stack config's locations and the catalog's workshops into the database.
// Only catalog fields are written: registrations (seats in use, slots) are never touched,
// and a workshop that leaves the catalog is marked, not deleted, while rows refer to it.
// A quarantined workshop's row is left as the last good sync wrote it (the program declares the
// workshop from it) and its errors are written to quarantined_workshops, which register reads.
// Previews and plans never write: catalogChanges() says what the next sync would change.
import type { Pool } from "pg";
import type { StackConfig } from "../config";
import { type QuarantinedWorkshop, quarantineReason } from "../catalog/quarantine";
import { formatIssue, type Workshop } from "../catalog/schema";

/** A location's row as the sync writes it. */
export interface LocationRow {
  name: string;
  slotMin: number;
  slotMax: number;
}

/** A workshop's row as the sync writes it (in_catalog is true for every row written). */
export interface WorkshopRow {
  name: string;
  folder: string;
  active: boolean;
  capacity: number;
  rangeMin: number;
  rangeMax: number;
  durationHours: number;
  locations: string[];
  reset: boolean;
  contentHash: string;
  /** The wod.yml fields as the catalog holds them (jsonb). */
  catalog: Record<string, unknown>;
}

/** What the sync writes, from the config and the catalog: one definition for writing and comparing. */
export function catalogRows(config: StackConfig, workshops: Workshop[]): { locations: LocationRow[]; workshops: WorkshopRow[] } {
  return {
    locations: config.locations.map((l) => ({ name: l.name, slotMin: l.slotPool.min, slotMax: l.slotPool.max })),
    workshops: workshops.map((w) => {
      const { dir: _dir, ...catalog } = w;
      return {
        name: w.name, folder: w.folder, active: w.active, capacity: w.capacity, rangeMin: w.range.min, rangeMax: w.range.max,
        durationHours: w.duration, locations: w.locations, reset: w.reset, contentHash: w.contentHash,
        catalog: JSON.parse(JSON.stringify(catalog)) as Record<string, unknown>,
      };
    }),
  };
}

/** A quarantined workshop's row as the sync writes it. */
export interface QuarantineRow {
  name: string;
  folder: string;
  active: boolean;
  reason: string;
  errors: string[];
}

export const quarantineRows = (quarantined: QuarantinedWorkshop[]): QuarantineRow[] =>
  quarantined.map((q) => ({ name: q.name, folder: q.folder, active: q.active, reason: quarantineReason(q), errors: q.errors.map(formatIssue) }));

export async function syncCatalog(pool: Pool, config: StackConfig, workshops: Workshop[], quarantined: QuarantinedWorkshop[] = []): Promise<void> {
  const rows = catalogRows(config, workshops);
  const held = quarantineRows(quarantined);
  const client = await pool.connect();
  try {
    await client.query("begin");
    for (const l of rows.locations) {
      await client.query(
        `insert into locations (name, slot_min, slot_max) values ($1, $2, $3)
         on conflict (name) do update set slot_min = excluded.slot_min, slot_max = excluded.slot_max, synced_at = now()`,
        [l.name, l.slotMin, l.slotMax],
      );
    }
    for (const w of rows.workshops) {
      await client.query(
        `insert into workshops (name, folder, active, in_catalog, capacity, range_min, range_max, duration_hours, locations, reset, content_hash, catalog)
         values ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (name) do update set folder = excluded.folder, active = excluded.active, in_catalog = true,
           capacity = excluded.capacity, range_min = excluded.range_min, range_max = excluded.range_max,
           duration_hours = excluded.duration_hours, locations = excluded.locations, reset = excluded.reset,
           content_hash = excluded.content_hash, catalog = excluded.catalog, synced_at = now()`,
        [w.name, w.folder, w.active, w.capacity, w.rangeMin, w.rangeMax, w.durationHours, w.locations, w.reset, w.contentHash, w.catalog],
      );
    }
    // A quarantined workshop is still in the catalog: its row stays as its last good sync left it.
    await client.query(`update workshops set in_catalog = false, active = false where not (name = any($1))`, [[...rows.workshops, ...held].map((w) => w.name)]);
    await client.query("delete from quarantined_workshops where not (name = any($1))", [held.map((q) => q.name)]);
    for (const q of held) {
      await client.query(
        `insert into quarantined_workshops (name, folder, active, reason, errors) values ($1, $2, $3, $4, $5)
         on conflict (name) do update set folder = excluded.folder, active = excluded.active, reason = excluded.reason,
           errors = excluded.errors, synced_at = now()`,
        [q.name, q.folder, q.active, q.reason, q.errors],
      );
    }
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** The locations, workshops and quarantined workshops the database holds now (a read-only query). */
export async function readCatalogRows(pool: Pool): Promise<{ locations: LocationRow[]; workshops: (WorkshopRow & { inCatalog: boolean })[]; quarantined: QuarantineRow[] }> {
  const locations = await pool.query("select name, slot_min, slot_max from locations order by name");
  const workshops = await pool.query(
    `select name, folder, active, in_catalog, capacity, range_min, range_max, duration_hours::float8 as duration_hours, locations, reset,
            content_hash, catalog from workshops order by name`,
  );
  // A database migrated by an older version has no quarantine yet (a preview never migrates).
  const hasQuarantine = (await pool.query("select to_regclass('quarantined_workshops') is not null as present")).rows[0].present as boolean;
  const quarantined = hasQuarantine ? (await pool.query("select name, folder, active, reason, errors from quarantined_workshops order by name")).rows as QuarantineRow[] : [];
  return {
    quarantined,
    locations: locations.rows.map((r) => ({ name: r.name, slotMin: r.slot_min, slotMax: r.slot_max })),
    workshops: workshops.rows.map((r) => ({
      name: r.name, folder: r.folder, active: r.active, inCatalog: r.in_catalog, capacity: r.capacity, rangeMin: r.range_min,
      rangeMax: r.range_max, durationHours: r.duration_hours, locations: r.locations, reset: r.reset, contentHash: r.content_hash, catalog: r.catalog,
    })),
  };
}

/** What syncCatalog would change, one line per location or workshop, computed in memory. */
export function catalogChanges(
  wanted: ReturnType<typeof catalogRows>,
  current: Awaited<ReturnType<typeof readCatalogRows>>,
  quarantined: QuarantinedWorkshop[] = [],
): string[] {
  const out: string[] = [];
  const locations = new Map(current.locations.map((l) => [l.name, l]));
  for (const l of wanted.locations) {
    const now = locations.get(l.name);
    if (!now) out.push(`location ${l.name}: new (slots ${l.slotMin}-${l.slotMax})`);
    else if (now.slotMin !== l.slotMin || now.slotMax !== l.slotMax) out.push(`location ${l.name}: slot pool ${now.slotMin}-${now.slotMax} → ${l.slotMin}-${l.slotMax}`);
  }
  const workshops = new Map(current.workshops.map((w) => [w.name, w]));
  for (const w of wanted.workshops) {
    const now = workshops.get(w.name);
    if (!now) {
      out.push(`workshop ${w.name}: new (${w.active ? "active" : "inactive"}, capacity ${w.capacity}, slots ${w.rangeMin}-${w.rangeMax}, on ${w.locations.join(", ")})`);
      continue;
    }
    const diffs: string[] = [];
    const field = (label: string, before: unknown, after: unknown) => {
      if (String(before) !== String(after)) diffs.push(`${label} ${before} → ${after}`);
    };
    if (!now.inCatalog) diffs.push("back in the catalog");
    field("active", now.active && now.inCatalog, w.active);
    field("capacity", now.capacity, w.capacity);
    field("slots", `${now.rangeMin}-${now.rangeMax}`, `${w.rangeMin}-${w.rangeMax}`);
    field("duration", `${now.durationHours} h`, `${w.durationHours} h`);
    field("locations", now.locations.join(", "), w.locations.join(", "));
    field("reset", now.reset, w.reset);
    field("folder", now.folder, w.folder);
    if (now.contentHash !== w.contentHash) diffs.push(`content ${now.contentHash.slice(0, 12)} → ${w.contentHash.slice(0, 12)}`);
    const others = changedKeys(now.catalog ?? {}, w.catalog).filter((k) => !CATALOG_KEYS_SHOWN.has(k));
    if (others.length) diffs.push(`${others.join(", ")} changed`);
    if (diffs.length) out.push(`workshop ${w.name}: ${diffs.join(", ")}`);
  }
  const names = new Set([...wanted.workshops, ...quarantined].map((w) => w.name));
  for (const w of current.workshops) {
    if (w.inCatalog && !names.has(w.name)) out.push(`workshop ${w.name}: leaves the catalog (closed for registration)`);
  }
  const held = new Set((current.quarantined ?? []).map((q) => q.name));
  for (const q of quarantined) {
    if (held.has(q.name)) continue;
    const row = workshops.get(q.name);
    const kept = row?.inCatalog ? `kept as last synced (content ${row.contentHash.slice(0, 12)})` : "no good sync of it to keep: no seats";
    out.push(`workshop ${q.name}: enters quarantine (${quarantineReason(q)}); ${kept}, closed for registration`);
  }
  for (const name of held) if (!quarantined.some((q) => q.name === name)) out.push(`workshop ${name}: leaves quarantine`);
  return out;
}

/** wod.yml keys already shown by their own column above. */
const CATALOG_KEYS_SHOWN = new Set(["name", "folder", "active", "capacity", "range", "duration", "locations", "location", "alternateLocation", "reset", "contentHash"]);

function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonical(a[k]) !== canonical(b[k])).sort();
}

/** JSON with sorted keys: jsonb does not keep key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v) ?? "null";
}
