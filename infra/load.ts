// The load phase shared by the plan, the Pulumi program and the reconcile job:
// catalog check → database migrate and catalog sync → one consistent snapshot.
// Read only (previews and plans): no migration and no sync; the snapshot plus the catalog as
// loaded decide, and what the next up would migrate and sync is reported instead.
import * as path from "node:path";
import type { StackConfig } from "./config";
import { type Catalog, hasErrors } from "./catalog/load";
import { loadCheckedCatalog } from "./catalog/templates";
import { formatIssue } from "./catalog/schema";
import { catalogChanges, catalogRows, readCatalogRows, syncCatalog } from "./db/catalog-sync";
import type { Database } from "./db/connect";
import { migrate, pendingMigrations } from "./db/migrate";
import { readSnapshot, type Snapshot } from "./db/snapshot";

/** Project root: where Pulumi.yaml and the default catalog live. */
export const ROOT = path.resolve(__dirname, "..");

export class CatalogInvalid extends Error {
  constructor(public catalog: Catalog) {
    super(`the workshop catalog has errors:\n${catalog.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);
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
  snapshot: Snapshot;
  nextSync: NextSync;
}

/** Loads everything the decision needs; throws before writing anything when the catalog is invalid. */
export async function loadInputs(opts: {
  config: StackConfig;
  db: Database;
  /** A catalog the caller already loaded and reported on (checked again here for errors). */
  catalog?: Catalog;
  log?: (m: string) => void;
  /** Previews and plans: never migrate or sync; report what the next up would do in nextSync. */
  readOnly?: boolean;
}): Promise<Inputs> {
  const log = opts.log ?? (() => {});
  const dir = path.resolve(ROOT, opts.config.workshopsDir);
  const catalog = opts.catalog ?? loadCheckedCatalog(dir, opts.config);
  log(`catalog: ${catalog.workshops.length} workshops${opts.catalog ? "" : ` from ${dir}`}`);
  if (hasErrors(catalog.issues)) throw new CatalogInvalid(catalog);
  const nextSync: NextSync = { migrations: [], catalog: [] };
  let snapshot: Snapshot;
  if (!opts.readOnly) {
    const applied = await migrate(opts.db.pool);
    if (applied.length) log(`database: applied ${applied.join(", ")}`);
    await syncCatalog(opts.db.pool, opts.config, catalog.workshops);
    snapshot = await readSnapshot(opts.db.pool);
  } else {
    nextSync.migrations = await pendingMigrations(opts.db.pool);
    const wanted = catalogRows(opts.config, catalog.workshops);
    if (nextSync.migrations.length && !(await hasSchema(opts.db))) {
      // A database nothing was ever applied to: nothing registered yet, everything to sync.
      snapshot = { registrations: [], closing: [], learners: [], studentServers: [] };
      nextSync.catalog = catalogChanges(wanted, { locations: [], workshops: [] });
    } else {
      try {
        snapshot = await readSnapshot(opts.db.pool);
        nextSync.catalog = catalogChanges(wanted, await readCatalogRows(opts.db.pool));
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
  log(`database: ${snapshot.registrations.length} live registrations, ${snapshot.learners.length} learners, ${snapshot.studentServers.length} student servers`);
  return { catalog, snapshot, nextSync };
}

async function hasSchema(db: Database): Promise<boolean> {
  const { rows } = await db.pool.query("select to_regclass('registrations') is not null as present");
  return rows[0].present;
}
