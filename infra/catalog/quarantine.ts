// Quarantine: a workshop whose folder, wod.yml or templates have errors of their own is never
// planned from its folder, and never stops the others. Its live learners keep what they were
// activated with: the program declares it as it was at its last good catalog sync, from the
// `workshops` row that sync wrote (content hash and the parsed wod.yml, `catalog` jsonb), and
// refuses new registrations for it. A workshop that was never good has nothing to keep: no seats.
// Fixed, it is planned from its folder again on the next run.
import type { CatalogIssue, Workshop } from "./schema";

/** A workshop with errors of its own, as the catalog check found it. */
export interface QuarantinedWorkshop {
  /** Its identity (the folder's `<Name>`), as registrations name it. */
  name: string;
  /** `WKSHP-<Name>` */
  folder: string;
  /** As its wod.yml says; true when that cannot be read (its errors then stay errors). */
  active: boolean;
  /** Every problem of its own, as reported: an inactive workshop's errors are warnings. */
  issues: CatalogIssue[];
  /** Of those, the errors that quarantine it (warnings for an inactive workshop). */
  errors: CatalogIssue[];
}

const INACTIVE = "inactive workshop, quarantined: ";

/** An inactive workshop's errors become warnings: nobody can register for it, so they never fail a check. */
export function quarantine(name: string, folder: string, active: boolean, own: CatalogIssue[]): QuarantinedWorkshop {
  const issues = own.map((i): CatalogIssue => (active || i.severity !== "error" ? i : { ...i, severity: "warning", message: `${INACTIVE}${i.message}` }));
  return { name, folder, active, issues, errors: issues.filter((i, n) => own[n].severity === "error") };
}

/** One line: how many errors and the first, for refusals, reports and the database. */
export function quarantineReason(q: Pick<QuarantinedWorkshop, "folder" | "errors">): string {
  const first = q.errors[0];
  const where = first ? `, first: ${first.file}${first.field ? `: ${first.field}` : ""}: ${first.message.replace(INACTIVE, "")}` : "";
  return `${q.errors.length} error${q.errors.length === 1 ? "" : "s"} in ${q.folder}${where}`;
}

/** What the last good catalog sync wrote for a workshop (a `workshops` row), as far as keeping it needs. */
export interface SyncedWorkshop {
  name: string;
  inCatalog: boolean;
  contentHash: string;
  /** The workshop as the sync parsed it, without its local folder (catalog-sync.ts, catalogRows). */
  catalog: Record<string, unknown>;
}

/**
 * The quarantined workshops that can be kept: declared from their last good sync, never from
 * their folder (`kept: true`). A row the sync marked as out of the catalog, or one an older
 * version wrote without what the declaration needs, is not kept: that workshop has no seats.
 */
export function keptWorkshops(quarantined: QuarantinedWorkshop[], rows: SyncedWorkshop[]): { kept: Workshop[]; unkept: { name: string; reason: string }[] } {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const kept: Workshop[] = [];
  const unkept: { name: string; reason: string }[] = [];
  for (const q of quarantined) {
    const row = byName.get(q.name);
    const why = !row ? "it was never synced without errors" : !row.inCatalog ? "it had left the catalog before" : unusable(row);
    if (why) unkept.push({ name: q.name, reason: why });
    else kept.push({ ...(row!.catalog as unknown as Workshop), name: q.name, contentHash: row!.contentHash, dir: "", kept: true });
  }
  return { kept, unkept };
}

/** Why a synced row cannot be declared from (undefined when it can). */
function unusable(row: SyncedWorkshop): string | undefined {
  const c = row.catalog as Partial<Workshop>;
  const range = c.range as { min?: unknown; max?: unknown } | undefined;
  const ok =
    typeof c.folder === "string" && /^WKSHP-[A-Za-z0-9_.-]+$/.test(c.folder) && Array.isArray(c.locations) && c.locations.every((l) => typeof l === "string") &&
    typeof range?.min === "number" && typeof range.max === "number" && typeof c.duration === "number" && typeof c.active === "boolean" &&
    typeof c.capacity === "number" && /^[A-Za-z0-9_-]{8,}$/.test(row.contentHash) &&
    (c.appliance === undefined || (typeof c.appliance === "object" && c.appliance !== null && typeof (c.appliance as { machines?: unknown }).machines === "object"));
  return ok ? undefined : "its last synced row lacks what the program needs to declare it (written by an older version)";
}
