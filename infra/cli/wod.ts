// `wod <command>` — the one entry point (`npx wod …`, package.json "bin"; `npm run wod -- …`).
// Operator commands act on DATABASE_URL, or on the embedded database when it is not set.
import * as fs from "node:fs";
import * as path from "node:path";
import type { PoolClient } from "pg";
import { catalogErrors } from "../catalog/load";
import { quarantineReason } from "../catalog/quarantine";
import { loadCheckedCatalog } from "../catalog/templates";
import { syncCatalog } from "../db/catalog-sync";
import { openDatabase } from "../db/connect";
import { extendServer, MAX_EXTEND_DAYS, restoreServer, revokeServer } from "../db/learners";
import { migrate, pendingMigrations } from "../db/migrate";
import { cancel, extend, ExtensionRefused, MAX_EXTEND_HOURS, register, resetRegistration } from "../db/registrations";
import { seedDemo } from "../db/seed";
import { CatalogInvalid, DatabaseBehind, ROOT } from "../load";
import { audited, newAuditContext } from "../audit/record";
import { takeActor } from "./actor";
import { parseCommandLine, positiveNumber, readStack, recordId, runCommand, UsageError } from "./exit";
import { ImportFileError, importRegistrations, renderImport } from "./import";

export const USAGE = `usage: wod <command> [options]      (npx wod …, or npm run wod -- …)
  plan [--json] [--summary] [--workshops DIR] [--stack NAME] [--now T]   what the stack would contain (read only; see wod plan --help)
  reconcile --stack NAME [...]                                          converge the stack (see wod reconcile --help)
  notify [--once] [--dry-run] [--now T] [--stack NAME]                  send learners' e-mails (see wod notify --help)
  messages --registration N | --learner N | --email E                   a learner's e-mails and their state
  migrate                                                               apply the database migrations
  migrate-state --stack NAME [--dry-run]                                once, before this version's first up on an older stack
  reset <registration>                                                  give a learner a fresh start: their slot is archived and activated anew
  register --email E --workshop W [--name N] [--location L]             book a slot, or say why not
  import FILE.csv [--json]                                              register a cohort: columns email,workshop[,name,location,startsAt]
  cancel <registration>                                                 release a registration on the next run
  extend <registration> --hours H                                       move its end (0 < H <= ${MAX_EXTEND_HOURS}, fractions allowed)
  server-extend <learner> --days D [--stack NAME]                       keep a student server past its idle limit (0 < D <= ${MAX_EXTEND_DAYS}), also one not created yet
  server-revoke <learner>                                               remove a student server on the next run
  server-restore <learner>                                              let a removed learner get a new server (history kept), or cancel a revocation
  seed                                                                  demo data, into an empty database only
  status [--stack NAME] [--workshop W] [--location L] [--json]          who is on which seat, seats used and free (read only)
  history [--registration N | --learner EMAIL | --since T] [--json]     the audit trail, or one learner's story
  report --html FILE [--stack NAME]                                     one self-contained HTML page of the live view, runs and drift
  drift --stack NAME [--json]                                           what differs from the stack, cloud and backends (read only)
  --actor NAME  (any command) whom the audit trail names instead of the OS user ($WOD_ACTOR does the same)
  DATABASE_URL  the platform database, as the last up or reconcile migrated and synced it (commands never
                migrate it or sync a catalog into it); without it, the embedded demo database in .wod/pgdata,
                migrated and synced with the catalog of --stack NAME (default dev) by register, import and seed
exit codes: 0 done; 1 nothing to act on (no such live registration or server, seed into a non-empty database);
  2 bad input, config, catalog or database error (nothing done); 3 refused (a registration, an extension, or some lines of an import)`;

/** The options each operator command takes; anything else is refused rather than ignored. */
const OPERATOR: Record<string, { options: string[]; id?: string; file?: boolean }> = {
  register: { options: ["email", "workshop", "name", "location", "stack"] },
  import: { options: ["stack", "json"], file: true },
  cancel: { options: [], id: "a registration id" },
  reset: { options: [], id: "a registration id" },
  extend: { options: ["hours"], id: "a registration id" },
  "server-extend": { options: ["days", "stack"], id: "a learner id" },
  "server-revoke": { options: [], id: "a learner id" },
  "server-restore": { options: [], id: "a learner id" },
  seed: { options: ["stack"] },
};

export async function wod(args: string[]): Promise<number> {
  const [command, ...rest] = takeActor(args); // --actor NAME, any command: who the audit trail names
  // Loaded on demand: the reconcile alone pulls in the Pulumi Automation API.
  switch (command) {
    case "plan":
      return (require("./plan") as typeof import("./plan")).planCommand(rest);
    case "reconcile":
      return (require("./reconcile") as typeof import("./reconcile")).reconcileCommand(rest);
    case "notify":
      return (require("./notify") as typeof import("./notify")).notifyCommand(rest);
    case "messages":
      return (require("./notify") as typeof import("./notify")).messagesCommand(rest);
    case "migrate":
    case "db:migrate":
      return (require("./migrate") as typeof import("./migrate")).migrateCommand(rest);
    case "migrate-state":
      return (require("./migrate-state") as typeof import("./migrate-state")).migrateStateCommand(rest);
    case "status":
    case "history":
    case "drift":
    case "report":
      return (require("./views") as typeof import("./views")).viewCommand(command, rest);
    case undefined:
      throw new UsageError("a command is required (see wod --help)");
    case "help":
    case "--help":
    case "-h":
      return console.log(USAGE), 0;
  }
  const spec = OPERATOR[command];
  if (!spec) throw new UsageError(`unknown command '${command}' (see wod --help)`);
  // `reset -1` is a wrong id, not an unknown option -1.
  const negative = spec.id && /^-\d/.test(rest[0] ?? "") ? rest[0] : undefined;
  if (negative) recordId(negative, `${command}: ${spec.id}`);
  const { values: o, positionals } = parseCommandLine({
    args: rest,
    allowPositionals: true,
    options: {
      stack: { type: "string" }, email: { type: "string" }, name: { type: "string" }, workshop: { type: "string" }, location: { type: "string" },
      hours: { type: "string" }, days: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  }, USAGE);
  if (o.help) return console.log(USAGE), 0;
  for (const option of Object.keys(o)) if (!spec.options.includes(option)) throw new UsageError(`${command} does not take --${option} (see wod --help)`);
  const wanted = spec.id || spec.file ? 1 : 0;
  if (positionals.length > wanted) throw new UsageError(`${command}: unexpected argument '${positionals[wanted]}' (see wod --help)`);
  // Validate everything before opening the database: bad input does nothing at all.
  const id = spec.id ? recordId(positionals[0], `${command}: ${spec.id}`) : "";
  const hours = command === "extend" ? positiveNumber(o.hours, "--hours", MAX_EXTEND_HOURS, "hours") : 0;
  const days = command === "server-extend" ? positiveNumber(o.days, "--days", MAX_EXTEND_DAYS, "days") : 0;
  const need = (value: string | undefined, option: string) => {
    if (!value?.trim()) throw new UsageError(`${command}: ${option} is required (see wod --help)`);
    return value;
  };
  if (command === "register") (need(o.email, "--email"), need(o.workshop, "--workshop"));
  let csv = "";
  if (spec.file) {
    const file = positionals[0];
    if (!file) throw new UsageError(`${command}: a CSV file is required (see wod --help)`);
    try {
      csv = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`${command}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const usesCatalog = spec.options.includes("stack");
  const config = usesCatalog ? readStack(o.stack ?? "dev") : undefined;

  const db = await openDatabase({ log: (m) => console.error(`wod: ${m}`) });
  try {
    if (db.embedded) {
      // The demo database is the commands' own: keep it migrated and on the checkout's catalog.
      await migrate(db.pool);
      const catalog = config ? loadCheckedCatalog(path.resolve(ROOT, config.workshopsDir), config) : undefined;
      if (catalog && catalogErrors(catalog).length) throw new CatalogInvalid(catalog);
      // A quarantined workshop is synced as such: closed for registration, the others as usual.
      for (const q of catalog?.quarantined ?? []) console.error(`wod: quarantined: workshop ${q.name}: ${quarantineReason(q)} (wod plan lists every error)`);
      if (config && catalog) await syncCatalog(db.pool, config, catalog.workshops, catalog.quarantined);
    } else {
      // The platform's database changes schema and catalog only through an up or a reconcile (or
      // `wod migrate`): a command run from an older or other checkout must never rewrite them.
      const pending = await pendingMigrations(db.pool);
      if (pending.length) throw new DatabaseBehind(`${db.describe} lacks migrations ${pending.join(", ")}: run \`wod migrate\` (or let the next up apply them) first`);
    }
    // The change, the events the database records for it and the command's audit entry commit
    // together; what the command says is printed once they have.
    const request = { ...o, ...(spec.id ? { id } : {}), ...(spec.file ? { file: positionals[0] } : {}) };
    const printed: [typeof console.log, string][] = [];
    const say = (m: string) => printed.push([console.log, m]);
    const warn = (m: string) => printed.push([console.error, m]);
    let changes: Record<string, unknown> = {};
    const outcomes: Record<number, string> = { 0: "done", 1: "nothing-to-act-on", 3: "refused" };
    const code = await audited(db.pool, newAuditContext(), { command, stack: o.stack, request }, async (pool) => {
      const exitCode = await operatorCommand(pool);
      return { result: exitCode, outcome: outcomes[exitCode] ?? "failed", exitCode, changes };
    });
    for (const [print, m] of printed) print(m);
    return code;

    async function operatorCommand(pool: PoolClient): Promise<number> {
    switch (command) {
      case "register": {
        const r = await register(pool, { email: o.email!, workshop: o.workshop!, name: o.name, location: o.location });
        if (!r.ok) return warn(`refused (${r.refusal}): ${r.message}`), 3;
        say(`registration ${r.id}: ${r.workshop} slot ${r.slot} (student${r.slot}) on ${r.location}, until ${r.endsAt.toISOString()}`);
        return 0;
      }
      case "import": {
        let report;
        try {
          report = await importRegistrations(pool, csv);
        } catch (e) {
          if (e instanceof ImportFileError) throw new UsageError(`import ${positionals[0]}: ${e.message}`);
          throw e;
        }
        changes = { registered: report.registered, alreadyRegistered: report.alreadyRegistered, rejected: report.rejected };
        say(o.json ? JSON.stringify(report, null, 2) : renderImport(report));
        return report.rejected ? 3 : 0;
      }
      case "cancel":
        return done(say, warn, await cancel(pool, id), `registration ${id} cancelled`, `no live registration ${id}`);
      case "reset": {
        const generation = await resetRegistration(pool, id);
        return done(say, warn, generation !== undefined, `registration ${id}: the next run archives its slot and activates it afresh (generation ${generation})`, `no live registration ${id}`);
      }
      case "extend": {
        let end;
        try {
          end = await extend(pool, id, hours);
        } catch (e) {
          if (e instanceof ExtensionRefused) return warn(`refused: ${e.message}`), 3;
          throw e;
        }
        return done(say, warn, !!end, `registration ${id} now ends ${end?.toISOString()}`, `no live registration ${id}`);
      }
      case "server-extend": {
        const r = await extendServer(pool, id, days, config!);
        return done(say, warn, r.ok, r.ok ? `learner ${id}'s server is kept until at least ${r.until.toISOString()}` : "", r.ok ? "" : r.reason);
      }
      case "server-revoke":
        return done(say, warn, await revokeServer(pool, id), `learner ${id}'s server is removed on the next run`, `learner ${id} has no live student server`);
      case "server-restore": {
        const r = await restoreServer(pool, id);
        const yes = r?.restored === "revoked"
          ? `the revocation of learner ${id}'s server is cancelled: the server is kept`
          : `learner ${id} gets a new server on the next run if eligible; the removed one's record${r?.snapshotId ? ` (snapshot ${r.snapshotId})` : ""} is kept in student_server_history`;
        return done(say, warn, !!r, yes, `learner ${id} has no removed or revoked server`);
      }
      case "seed": {
        const seed = await seedDemo(pool);
        for (const s of seed.skipped) warn(`wod: left out ${s}`);
        return done(say, warn, seed.seeded, "seeded demo data", "the database is not empty: nothing seeded");
      }
    }
    throw new UsageError(`unknown command '${command}'`);
    }
  } finally {
    await db.close();
  }
}

function done(say: (m: string) => void, warn: (m: string) => void, ok: boolean, yes: string, no: string): number {
  if (ok) say(yes);
  else warn(no);
  return ok ? 0 : 1;
}

if (require.main === module) runCommand(() => wod(process.argv.slice(2)));
