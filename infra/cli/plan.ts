// `wod plan` (`npm run plan`): what the stack would contain, computed offline from the catalog
// and the database, and never written to a real database: a plan reads (DATABASE_URL may be a
// read-only role) and reports what the next `up` would migrate and sync. Only the embedded
// demo database (no DATABASE_URL) is migrated, and seeded with demo data when empty.
// Exit codes: 0 planned, 1 planned but an active workshop is quarantined (or the catalog cannot be
// read at all: nothing planned), 2 bad input, config or database.
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, type StackConfig } from "../config";
import { catalogErrors } from "../catalog/load";
import { loadCheckedCatalog } from "../catalog/templates";
import { formatIssue } from "../catalog/schema";
import { syncCatalog } from "../db/catalog-sync";
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";
import { isEmpty, seedDemo } from "../db/seed";
import { countDesired, desiredState } from "../desired/state";
import { loadInputs, ROOT } from "../load";
import { parseCommandLine, readStack, runCommand, stackName, UsageError } from "./exit";
import type { Pool } from "pg";
import { countMessages, hasOutbox } from "../notify/outbox";
import { type Plan, renderPlan, seatFigures, summarize } from "./render";
import { newAuditContext, tryRecordEntry } from "../audit/record";

export const PLAN_USAGE = `usage: wod plan [--stack dev] [--workshops DIR] [--json] [--summary] [--now ISO-8601]
  --stack NAME      read Pulumi.NAME.yaml (default: dev)
  --workshops DIR   check and plan another catalog folder (never synced into a database)
  --json            print the plan as JSON on stdout (pure JSON: use \`npx wod plan --json\`, not npm run)
  --summary         counts and seat figures only, no per-account lines
  --now TIME        decide as of this time (default: now)
  DATABASE_URL      read this PostgreSQL (read only) instead of the embedded one in .wod/pgdata
exit codes: 0 planned; 1 planned, but an active workshop is quarantined (its errors are listed; a pipeline
  refuses the merge), or the catalog folder cannot be read (nothing planned); 2 bad input, config or database error`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values: args } = parseCommandLine({
    args: argv,
    options: {
      stack: { type: "string", default: "dev" },
      workshops: { type: "string" },
      json: { type: "boolean", default: false },
      summary: { type: "boolean", default: false },
      now: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }, PLAN_USAGE);
  if (args.help) return console.log(PLAN_USAGE), 0;
  const log = (m: string) => console.error(`wod: ${m}`);
  const now = args.now ? new Date(args.now) : new Date();
  if (Number.isNaN(now.getTime())) throw new ConfigError(`--now: not a date: ${args.now}`);

  const stack = stackName(args.stack!);
  const config = readStack(stack);
  const workshopsDir = args.workshops ? path.resolve(args.workshops) : undefined;
  // A folder that is not there is a wrong path (bad input), not a catalog with errors.
  const catalogDir = path.resolve(ROOT, workshopsDir ?? config.workshopsDir);
  if (!fs.statSync(catalogDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(args.workshops ? `--workshops ${args.workshops}: no such folder` : `wod:workshopsDir of stack ${stack}: no such folder ${catalogDir}`);
  }

  // Check the catalog before touching any database: a catalog that cannot be read writes nothing.
  const checked = loadCheckedCatalog(catalogDir, config);
  for (const issue of checked.issues) console.error(formatIssue(issue));
  if (catalogErrors(checked).length) {
    console.error("wod: the catalog cannot be read; nothing was planned or written");
    return 1;
  }

  const ctx = newAuditContext();
  const db = await openDatabase({ log });
  try {
    log(`database: ${db.describe}${db.embedded ? "" : " (read only)"}`);
    if (db.embedded) {
      // The demo database is the plan's own: migrate it, and fill it once.
      const applied = await migrate(db.pool);
      if (applied.length) log(`database: applied ${applied.join(", ")}`);
      if (await isEmpty(db.pool)) {
        await syncCatalog(db.pool, config, checked.workshops, checked.quarantined);
        const seed = await seedDemo(db.pool, now);
        log(`database was empty: seeded demo data${seed.skipped.length ? ` (not in this catalog, left out: ${seed.skipped.join("; ")})` : ""}`);
      }
    }
    const { snapshot, nextSync, kept } = await loadInputs({ config, db, catalog: checked, log, readOnly: true });
    const workshops = [...checked.workshops, ...kept];
    const desired = desiredState({ catalog: workshops, quarantined: checked.quarantined, snapshot, config, now });
    const quarantined = checked.quarantined.map((q) => {
      const k = kept.find((w) => w.name === q.name);
      return {
        workshop: q.name, folder: q.folder, active: q.active, kept: !!k, ...(k ? { contentHash: k.contentHash } : {}),
        accounts: desired.accounts.filter((a) => a.workshop === q.name).length, errors: q.errors.map(formatIssue),
      };
    });
    const plan: Plan = {
      stack, decidedAt: now.toISOString(), counts: countDesired(desired), seats: seatFigures(desired, workshops, snapshot.registrations, now), quarantined, nextSync, ...desired,
      messages: await messageFigures(db.pool, config, args.now ? now : new Date()),
    };
    if (args.json) console.log(JSON.stringify(args.summary ? summarize(plan) : plan, null, 2));
    else console.log(renderPlan(plan, { summary: args.summary }));
    // The PR check: the healthy workshops are planned, and an active quarantined one fails the check.
    const active = checked.quarantined.filter((q) => q.active);
    if (checked.quarantined.length) {
      const names = (qs: typeof active) => qs.map((q) => q.name).join(", ") || "none";
      console.error(
        `wod: ${checked.quarantined.length} workshop(s) quarantined, not planned from their folders: active ${names(active)}; ` +
          `inactive ${names(checked.quarantined.filter((q) => !q.active))}${active.length ? " (exit 1: fix the active ones before merging)" : ""}`,
      );
    }
    const exitCode = active.length ? 1 : 0;
    // Recorded even for a SELECT-only role (audit_record is SECURITY DEFINER); never fails the plan.
    await tryRecordEntry(db.pool, ctx, {
      command: "plan", stack, outcome: exitCode ? "quarantined" : "planned", exitCode,
      request: { ...(args.workshops ? { workshops: args.workshops } : {}), ...(args.now ? { now: args.now } : {}), ...(args.summary ? { summary: true } : {}) },
      changes: {
        counts: plan.counts, nextSync: { migrations: nextSync.migrations.length, catalog: nextSync.catalog.length }, expired: desired.transitions.expiredRegistrations.length,
        ...(checked.quarantined.length ? { quarantined: checked.quarantined.map((q) => q.name) } : {}),
      },
    }, log);
    return exitCode;
  } finally {
    await db.close();
  }
}

/** The outbox's counts at `now` (none before migration 003), and whether anything can be sent. */
async function messageFigures(pool: Pool, config: StackConfig, now: Date): Promise<Plan["messages"]> {
  if (!(await hasOutbox(pool))) return undefined;
  return { ...(await countMessages(pool, now, config.notifications.endingSoonMinutes)), smtp: !!config.smtp };
}

if (require.main === module) runCommand(() => planCommand(process.argv.slice(2)));
