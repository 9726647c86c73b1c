// The load phase shared by the plan, the Pulumi program and the reconcile job:
// catalog check → database migrate and catalog sync → one consistent snapshot.
import * as path from "node:path";
import type { StackConfig } from "./config";
import { type Catalog, hasErrors } from "./catalog/load";
import { loadCheckedCatalog } from "./catalog/templates";
import { formatIssue } from "./catalog/schema";
import { syncCatalog } from "./db/catalog-sync";
import type { Database } from "./db/connect";
import { migrate } from "./db/migrate";
import { readSnapshot, type Snapshot } from "./db/snapshot";

/** Project root: where Pulumi.yaml and the default catalog live. */
export const ROOT = path.resolve(__dirname, "..");

export class CatalogInvalid extends Error {
  constructor(public catalog: Catalog) {
    super(`the workshop catalog has errors:\n${catalog.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);
  }
}

export class EmptyDatabase extends Error {}

export interface Inputs {
  catalog: Catalog;
  snapshot: Snapshot;
}

/** Loads everything the decision needs; throws before writing anything when the catalog is invalid. */
export async function loadInputs(opts: {
  config: StackConfig;
  db: Database;
  /** A catalog the caller already loaded and reported on (checked again here for errors). */
  catalog?: Catalog;
  log?: (m: string) => void;
}): Promise<Inputs> {
  const log = opts.log ?? (() => {});
  const dir = path.resolve(ROOT, opts.config.workshopsDir);
  const catalog = opts.catalog ?? loadCheckedCatalog(dir, opts.config);
  log(`catalog: ${catalog.workshops.length} workshops${opts.catalog ? "" : ` from ${dir}`}`);
  if (hasErrors(catalog.issues)) throw new CatalogInvalid(catalog);
  const applied = await migrate(opts.db.pool);
  if (applied.length) log(`database: applied ${applied.join(", ")}`);
  await syncCatalog(opts.db.pool, opts.config, catalog.workshops);
  const snapshot = await readSnapshot(opts.db.pool);
  log(`database: ${snapshot.registrations.length} live registrations, ${snapshot.learners.length} learners, ${snapshot.studentServers.length} student servers`);
  return { catalog, snapshot };
}
