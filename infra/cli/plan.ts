// `wod plan` (`npm run plan`): what the stack would contain, computed offline from the catalog
// and the database, and never written to a real database: a plan reads (DATABASE_URL may be a
// read-only role) and reports what the next `up` would migrate and sync. Only the embedded
// demo database (no DATABASE_URL) is migrated, and seeded with demo data when empty.
// Exit codes: 0 planned, 1 catalog errors (nothing planned), 2 bad input, config or database.
import * as path from "node:path";
import { ConfigError, readStackFile, type StackConfig } from "../config";
import { hasErrors } from "../catalog/load";
import { loadCheckedCatalog } from "../catalog/templates";
import { formatIssue } from "../catalog/schema";
import { syncCatalog } from "../db/catalog-sync";
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";
import { isEmpty, seedDemo } from "../db/seed";
import { countDesired, desiredState } from "../desired/state";
import { loadInputs, ROOT } from "../load";
import { parseCommandLine, runCommand, stackName } from "./exit";
import type { Pool } from "pg";
import { countMessages, hasOutbox } from "../notify/outbox";
import { type Plan, renderPlan, seatFigures, summarize } from "./render";

export const PLAN_USAGE = `usage: wod plan [--stack dev] [--workshops DIR] [--json] [--summary] [--now ISO-8601]
  --stack NAME      read Pulumi.NAME.yaml (default: dev)
  --workshops DIR   check and plan another catalog folder (never synced into a database)
  --json            print the plan as JSON on stdout (pure JSON: use \`npx wod plan --json\`, not npm run)
  --summary         counts and seat figures only, no per-account lines
  --now TIME        decide as of this time (default: now)
  DATABASE_URL      read this PostgreSQL (read only) instead of the embedded one in .wod/pgdata
exit codes: 0 planned, 1 catalog errors, 2 bad input, config or database error`;

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
  const config = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const workshopsDir = args.workshops ? path.resolve(args.workshops) : undefined;

  // Check the catalog before touching any database: a broken catalog writes nothing.
  const checked = loadCheckedCatalog(path.resolve(ROOT, workshopsDir ?? config.workshopsDir), config);
  for (const issue of checked.issues) console.error(formatIssue(issue));
  if (hasErrors(checked.issues)) {
    const n = checked.issues.filter((i) => i.severity === "error").length;
    console.error(`wod: catalog check failed with ${n} error(s); nothing was planned or written`);
    return 1;
  }

  const db = await openDatabase({ log });
  try {
    log(`database: ${db.describe}${db.embedded ? "" : " (read only)"}`);
    if (db.embedded) {
      // The demo database is the plan's own: migrate it, and fill it once.
      const applied = await migrate(db.pool);
      if (applied.length) log(`database: applied ${applied.join(", ")}`);
      if (await isEmpty(db.pool)) {
        await syncCatalog(db.pool, config, checked.workshops);
        const seed = await seedDemo(db.pool, now);
        log(`database was empty: seeded demo data${seed.skipped.length ? ` (not in this catalog, left out: ${seed.skipped.join("; ")})` : ""}`);
      }
    }
    const { snapshot, nextSync } = await loadInputs({ config, db, catalog: checked, log, readOnly: true });
    const desired = desiredState({ catalog: checked.workshops, snapshot, config, now });
    const plan: Plan = {
      stack, decidedAt: now.toISOString(), counts: countDesired(desired), seats: seatFigures(desired, checked.workshops), nextSync, ...desired,
      messages: await messageFigures(db.pool, config, args.now ? now : new Date()),
    };
    if (args.json) console.log(JSON.stringify(args.summary ? summarize(plan) : plan, null, 2));
    else console.log(renderPlan(plan, { summary: args.summary }));
    return 0;
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
