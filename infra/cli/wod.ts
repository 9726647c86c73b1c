// `npm run wod -- <command>`: operator commands against DATABASE_URL (or the embedded database).
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, readStackFile } from "../config";
import { runCommand } from "./exit";
import { hasErrors } from "../catalog/load";
import { loadCheckedCatalog } from "../catalog/templates";
import { formatIssue } from "../catalog/schema";
import { syncCatalog } from "../db/catalog-sync";
import { openDatabase } from "../db/connect";
import { extendServer, restoreServer, revokeServer } from "../db/learners";
import { migrate } from "../db/migrate";
import { cancel, extend, register } from "../db/registrations";
import { seedDemo } from "../db/seed";
import { ROOT } from "../load";

const USAGE = `usage: npm run wod -- <command> [options]   (DATABASE_URL or the embedded database)
  register --email E --workshop W [--name N] [--location L]   book a slot, or say why not
  cancel <registration>                                      release a registration on the next run
  extend <registration> --hours H                            move its end
  server-extend <learner> --days D                           keep a student server past its idle limit
  server-revoke <learner>                                    remove a student server on the next run
  server-restore <learner>                                   let a removed learner get a new server
  seed                                                       demo data, into an empty database only
  common: --stack NAME (default dev) selects Pulumi.NAME.yaml for the catalog sync`;

async function main(): Promise<number> {
  const { values: o, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      stack: { type: "string", default: "dev" },
      email: { type: "string" }, name: { type: "string" }, workshop: { type: "string" }, location: { type: "string" },
      hours: { type: "string" }, days: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  const [command, id] = positionals;
  if (!command || o.help) return console.log(USAGE), command ? 0 : 1;
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new ConfigError(`${command}: ${what} is required\n${USAGE}`);
    return value;
  };

  const config = readStackFile(path.join(ROOT, `Pulumi.${o.stack}.yaml`));
  const db = await openDatabase({ log: (m) => console.error(`wod: ${m}`) });
  try {
    await migrate(db.pool);
    // Registrations need the current catalog; a broken catalog is reported, never synced.
    const catalog = loadCheckedCatalog(path.resolve(ROOT, config.workshopsDir), config);
    if (hasErrors(catalog.issues)) catalog.issues.forEach((i) => console.error(formatIssue(i)));
    else await syncCatalog(db.pool, config, catalog.workshops);

    switch (command) {
      case "register": {
        const r = await register(db.pool, { email: need(o.email, "--email"), workshop: need(o.workshop, "--workshop"), name: o.name, location: o.location });
        if (!r.ok) return console.error(`refused (${r.refusal}): ${r.message}`), 3;
        console.log(`registration ${r.id}: ${r.workshop} slot ${r.slot} (student${r.slot}) on ${r.location}, until ${r.endsAt.toISOString()}`);
        return 0;
      }
      case "cancel":
        return report(await cancel(db.pool, need(id, "a registration id")), `registration ${id} cancelled`, `no live registration ${id}`);
      case "extend": {
        const end = await extend(db.pool, need(id, "a registration id"), Number(need(o.hours, "--hours")));
        return report(!!end, `registration ${id} now ends ${end?.toISOString()}`, `no live registration ${id}`);
      }
      case "server-extend": {
        const until = await extendServer(db.pool, need(id, "a learner id"), Number(need(o.days, "--days")));
        return report(!!until, `learner ${id}'s server is kept until at least ${until?.toISOString()}`, `learner ${id} has no live student server`);
      }
      case "server-revoke":
        return report(await revokeServer(db.pool, need(id, "a learner id")), `learner ${id}'s server is removed on the next run`, `learner ${id} has no live student server`);
      case "server-restore":
        return report(await restoreServer(db.pool, need(id, "a learner id")), `learner ${id} gets a new server on the next run if eligible`, `learner ${id} has no removed server`);
      case "seed":
        return report(await seedDemo(db.pool), "seeded demo data", "the database is not empty: nothing seeded");
      default:
        throw new ConfigError(`unknown command ${command}\n${USAGE}`);
    }
  } finally {
    await db.close();
  }
}

function report(ok: boolean, yes: string, no: string): number {
  if (ok) console.log(yes);
  else console.error(no);
  return ok ? 0 : 1;
}

runCommand(main);
