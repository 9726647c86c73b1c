// The operator's read-only views: `wod status`, `wod history`, `wod report --html FILE`, `wod drift`.
// They read DATABASE_URL (a SELECT-only role is enough) or the embedded demo database, write
// nothing but their own audit entry (through audit_record(), which a read-only role may call),
// and never fail for that entry.
import * as fs from "node:fs";
import * as path from "node:path";
import { newAuditContext, tryRecordEntry } from "../audit/record";
import { readStackFile } from "../config";
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";
import { ROOT } from "../load";
import { parseSince, readEntries, readTimeline } from "../view/history";
import { readStatus } from "../view/status";
import { parseCommandLine, recordId, stackName, UsageError } from "./exit";
import { HISTORY_USAGE, renderEntries, renderTimeline } from "./history";
import { renderStatus, STATUS_USAGE } from "./status";

const log = (m: string) => console.error(`wod: ${m}`);

export async function viewCommand(command: "status" | "history" | "drift" | "report", argv: string[]): Promise<number> {
  if (command === "drift") return (require("./drift") as typeof import("./drift")).driftCommand(argv);
  if (command === "report") return (require("./report") as typeof import("./report")).reportCommand(argv);
  const usage = command === "status" ? STATUS_USAGE : HISTORY_USAGE;
  const o = parseCommandLine({
    args: argv,
    options: command === "status"
      ? { stack: { type: "string" }, workshop: { type: "string" }, location: { type: "string" }, json: { type: "boolean" }, now: { type: "string" }, help: { type: "boolean", short: "h" } }
      : { registration: { type: "string" }, learner: { type: "string" }, since: { type: "string" }, all: { type: "boolean" }, limit: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, usage).values as Record<string, string | boolean | undefined>;
  if (o.help) return console.log(usage), 0;
  const now = parseNow(o.now as string | undefined);
  const ctx = newAuditContext();

  if (command === "status") {
    const stack = stackName((o.stack as string | undefined) ?? "dev");
    const config = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
    return withDatabase(async (pool) => {
      const status = await readStatus(pool, { stack, config, now, workshop: o.workshop as string | undefined, location: o.location as string | undefined });
      console.log(o.json ? JSON.stringify(status, null, 2) : renderStatus(status));
      await tryRecordEntry(pool, ctx, { command, stack, request: { ...o }, outcome: "shown", exitCode: 0, changes: { totals: status.totals } }, log);
      return 0;
    });
  }

  const chosen = ["registration", "learner", "since"].filter((k) => o[k] !== undefined);
  if (chosen.length > 1) throw new UsageError(`history: --${chosen.join(" and --")} cannot be combined (see wod history --help)`);
  const registration = o.registration !== undefined ? recordId(o.registration as string, "history: --registration") : undefined;
  const since = o.since !== undefined ? parseSince(o.since as string, now) : undefined;
  if (o.since !== undefined && !since) throw new UsageError(`history: --since: expected an ISO 8601 time or a span such as 12h or 7d, got '${o.since}'`);
  const limit = o.limit !== undefined ? Number(o.limit) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0 && limit <= 100_000)) throw new UsageError(`history: --limit: expected a whole number from 1 to 100000, got '${o.limit}'`);
  const learner = o.learner as string | undefined;
  if (learner !== undefined && !/^[^\s@]+@[^\s@]+$/.test(learner.trim())) throw new UsageError(`history: --learner: '${learner.slice(0, 80)}' is not an e-mail address`);
  return withDatabase(async (pool) => {
    const present = (await pool.query("select to_regclass('audit_log') is not null as present")).rows[0].present;
    if (!present) throw new UsageError("this database has no audit trail yet: it lacks migration 006_audit.sql (run `wod migrate`, or let the next up apply it)");
    let code = 0;
    if (registration || learner) {
      const t = await readTimeline(pool, registration ? { registration } : { learner: learner! });
      console.log(o.json ? JSON.stringify(t, null, 2) : renderTimeline(t));
      if (!t.events.length) code = 1;
    } else {
      const entries = await readEntries(pool, { since, limit, all: !!o.all });
      console.log(o.json ? JSON.stringify(entries, null, 2) : renderEntries(entries, since));
    }
    await tryRecordEntry(pool, ctx, { command, request: { ...o }, outcome: code ? "nothing-recorded" : "shown", exitCode: code }, log);
    return code;
  });
}

export function parseNow(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const now = new Date(text);
  if (Number.isNaN(now.getTime())) throw new UsageError(`--now: not a date: ${text}`);
  return now;
}

/** DATABASE_URL, or the embedded demo database (migrated: it is the commands' own). */
export async function withDatabase<T>(work: (pool: import("pg").Pool) => Promise<T>): Promise<T> {
  const db = await openDatabase({ log });
  try {
    if (db.embedded) await migrate(db.pool);
    return await work(db.pool);
  } finally {
    await db.close();
  }
}

/** Writes a file whole or not at all (a reader never sees half a report). */
export function writeAtomically(file: string, text: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
