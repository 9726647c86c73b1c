// `npm run plan`: what the stack would contain, computed offline from the catalog and the
// database (an embedded PostgreSQL with demo data when DATABASE_URL is not set).
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, readStackFile } from "../config";
import { runCommand } from "./exit";
import { hasErrors } from "../catalog/load";
import { loadCheckedCatalog } from "../catalog/templates";
import { formatIssue } from "../catalog/schema";
import { openDatabase } from "../db/connect";
import { seedDemo } from "../db/seed";
import { readSnapshot } from "../db/snapshot";
import { countDesired, desiredState } from "../desired/state";
import { loadInputs, ROOT } from "../load";
import { renderPlan } from "./render";

const USAGE = `usage: npm run plan -- [--stack dev] [--workshops DIR] [--json] [--now ISO-8601]
  --stack NAME      read Pulumi.NAME.yaml (default: dev)
  --workshops DIR   check and plan another catalog folder
  --json            print the plan as JSON on stdout
  --now TIME        decide as of this time (default: now)
  DATABASE_URL      use this PostgreSQL instead of the embedded one in .wod/pgdata`;

async function main(): Promise<number> {
  const { values: args } = parseArgs({
    options: {
      stack: { type: "string", default: "dev" },
      workshops: { type: "string" },
      json: { type: "boolean", default: false },
      now: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (args.help) return console.log(USAGE), 0;
  const log = (m: string) => console.error(`wod: ${m}`);
  const now = args.now ? new Date(args.now) : new Date();
  if (Number.isNaN(now.getTime())) throw new ConfigError(`--now: not a date: ${args.now}`);

  const config = readStackFile(path.join(ROOT, `Pulumi.${args.stack}.yaml`));
  const workshopsDir = args.workshops ? path.resolve(args.workshops) : undefined;

  // Check the catalog before touching any database: a broken catalog writes nothing.
  const checked = loadCheckedCatalog(path.resolve(ROOT, workshopsDir ?? config.workshopsDir), config);
  for (const issue of checked.issues) console.error(formatIssue(issue));
  if (hasErrors(checked.issues)) {
    const n = checked.issues.filter((i) => i.severity === "error").length;
    console.error(`wod: catalog check failed with ${n} error(s); nothing was planned or written`);
    return 1;
  }

  const embedded = !process.env.DATABASE_URL;
  const db = await openDatabase({ log });
  try {
    log(`database: ${db.describe}`);
    let { snapshot } = await loadInputs({ config, db, catalog: checked, log });
    if (embedded && (await seedDemo(db.pool, now))) {
      log("database was empty: seeded demo data");
      snapshot = await readSnapshot(db.pool);
    }
    const desired = desiredState({ catalog: checked.workshops, snapshot, config, now });
    const plan = { stack: args.stack, decidedAt: now.toISOString(), counts: countDesired(desired), ...desired };
    if (args.json) console.log(JSON.stringify(plan, null, 2));
    else console.log(renderPlan(plan));
    return 0;
  } finally {
    await db.close();
  }
}

runCommand(main);
