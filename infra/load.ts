// The load phase shared by the plan, the Pulumi program and the reconcile job:
// catalog check → database migrate and catalog sync → one consistent snapshot.
// Read only (previews and plans): no migration and no sync; the snapshot plus the catalog as
// loaded decide, and what the next up would migrate and sync is reported instead.
// A quarantined workshop never stops the load: it is declared from its last good sync (kept).
import * as path from "node:path";
import type { StackConfig } from "./config";
import { type Catalog, catalogErrors } from "./catalog/load";
import { keptWorkshops, quarantineReason } from "./catalog/quarantine";
import { loadCheckedCatalog } from "./catalog/templates";
import { formatIssue, type Workshop } from "./catalog/schema";
import { catalogChanges, catalogRows, readCatalogRows, syncCatalog } from "./db/catalog-sync";
import type { Database } from "./db/connect";
import { migrate, pendingMigrations } from "./db/migrate";
import { readSnapshot, type Snapshot } from "./db/snapshot";

/** Project root: where Pulumi.yaml and the default catalog live. */
export const ROOT = path.resolve(__dirname, "..");

/** The catalog as a whole cannot be read (its folder is missing): nothing is planned from it. One broken workshop never is this. */
export class CatalogInvalid extends Error {
  constructor(public catalog: Catalog) {
    super(`the workshop catalog cannot be read:\n${catalogErrors(catalog).map(formatIssue).join("\n")}`);
  }
}

export class EmptyDatabase extends Error {}

/** The database is missing migrations this code needs, and this run may not apply them. */
export class DatabaseBehind extends Error {}

/** What the next `up` (or reconcile) would write before deciding; empty after a writing load. */
export interface NextSync {
  /** Migrations it would apply. */
  migrations: string[];
  /** Locations and workshops it would add or change, one line each. */
  catalog: string[];
}

export interface Inputs {
  catalog: Catalog;
  /** Quarantined workshops declared as their last good sync left them (`kept: true`); the decision takes them with catalog.workshops. */
  kept: Workshop[];
  snapshot: Snapshot;
  nextSync: NextSync;
}

/** Loads everything the decision needs; throws before writing anything when the catalog cannot be read at all. */
export async function loadInputs(opts: {
  config: StackConfig;
  db: Database;
  /** A catalog the caller already loaded and reported on (checked again here for errors). */
  catalog?: Catalog;
  log?: (m: string) => void;
  /** Where each quarantined workshop is reported (default: log). */
  warn?: (m: string) => void;
  /** Previews and plans: never migrate or sync; report what the next up would do in nextSync. */
  readOnly?: boolean;
}): Promise<Inputs> {
  const log = opts.log ?? (() => {});
  const warn = opts.warn ?? log;
  const dir = path.resolve(ROOT, opts.config.workshopsDir);
  const catalog = opts.catalog ?? loadCheckedCatalog(dir, opts.config);
  log(`catalog: ${catalog.workshops.length} workshops${opts.catalog ? "" : ` from ${dir}`}`);
  if (catalogErrors(catalog).length) throw new CatalogInvalid(catalog);
  const nextSync: NextSync = { migrations: [], catalog: [] };
  let snapshot: Snapshot;
  let synced: Awaited<ReturnType<typeof readCatalogRows>>["workshops"] = [];
  if (!opts.readOnly) {
    const applied = await migrate(opts.db.pool);
    if (applied.length) log(`database: applied ${applied.join(", ")}`);
    await syncCatalog(opts.db.pool, opts.config, catalog.workshops, catalog.quarantined);
    snapshot = await readSnapshot(opts.db.pool);
    if (catalog.quarantined.length) synced = (await readCatalogRows(opts.db.pool)).workshops;
  } else {
    nextSync.migrations = await pendingMigrations(opts.db.pool);
    const wanted = catalogRows(opts.config, catalog.workshops);
    if (nextSync.migrations.length && !(await hasSchema(opts.db))) {
      // A database nothing was ever applied to: nothing registered yet, everything to sync.
      snapshot = { registrations: [], closing: [], learners: [], studentServers: [] };
      nextSync.catalog = catalogChanges(wanted, { locations: [], workshops: [], quarantined: [] }, catalog.quarantined);
    } else {
      try {
        snapshot = await readSnapshot(opts.db.pool);
        const current = await readCatalogRows(opts.db.pool);
        nextSync.catalog = catalogChanges(wanted, current, catalog.quarantined);
        synced = current.workshops;
      } catch (e) {
        if (!nextSync.migrations.length) throw e;
        throw new DatabaseBehind(
          `${opts.db.describe} lacks migrations ${nextSync.migrations.join(", ")}, which a preview or plan never applies ` +
            `(run \`npm run db:migrate\` or let the next up apply them): ${(e as Error).message}`,
        );
      }
    }
    if (nextSync.migrations.length) log(`the next up will migrate: ${nextSync.migrations.join(", ")}`);
    for (const line of nextSync.catalog) log(`the next up will sync: ${line}`);
  }
  const { kept, unkept } = keptWorkshops(catalog.quarantined, synced);
  for (const q of catalog.quarantined) {
    const k = kept.find((w) => w.name === q.name);
    const held = k ? `kept as last synced (content ${k.contentHash.slice(0, 12)}), closed for registration` : `no seats: ${unkept.find((u) => u.name === q.name)?.reason}`;
    warn(`quarantined: workshop ${q.name} (${q.active ? "active" : "inactive"}): ${quarantineReason(q)}; ${held}`);
  }
  log(`database: ${snapshot.registrations.length} live registrations, ${snapshot.learners.length} learners, ${snapshot.studentServers.length} student servers`);
  return { catalog, kept, snapshot, nextSync };
}

async function hasSchema(db: Database): Promise<boolean> {
  const { rows } = await db.pool.query("select to_regclass('registrations') is not null as present");
  return rows[0].present;
}
