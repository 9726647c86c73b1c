// `wod report --html FILE`: the live view, the last runs and the last drift check as one
// self-contained HTML page (infra/view/html.ts). Read only; the file is written whole or not at all.
import * as path from "node:path";
import { newAuditContext, tryRecordEntry } from "../audit/record";
import { readStackFile } from "../config";
import { readEntries } from "../view/history";
import { renderHtml } from "../view/html";
import { readStatus } from "../view/status";
import { ROOT } from "../load";
import { parseCommandLine, stackName, UsageError } from "./exit";
import { parseNow, withDatabase, writeAtomically } from "./views";

export const REPORT_USAGE = `usage: wod report --html FILE [--stack NAME] [--runs N]
  one self-contained HTML page (no script, no external asset): totals, learners needing attention
  (failed first), seats per workshop as bars, the last runs, the last drift check, each backend's
  learners and the student servers; its numbers are those of \`wod status --json\`
  --stack NAME   the stack file Pulumi.NAME.yaml (default dev)
  --runs N       how many of the last runs to list (default 20)
exit codes: 0 written, 2 bad input, config or database error (nothing written)`;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values: o } = parseCommandLine({
    args: argv,
    options: { html: { type: "string" }, stack: { type: "string" }, runs: { type: "string" }, now: { type: "string" }, help: { type: "boolean", short: "h" } },
  }, REPORT_USAGE);
  if (o.help) return console.log(REPORT_USAGE), 0;
  if (!o.html) throw new UsageError("report: --html FILE is required (see wod report --help)");
  const runs = o.runs === undefined ? 20 : Number(o.runs);
  if (!(Number.isInteger(runs) && runs > 0 && runs <= 1000)) throw new UsageError(`report: --runs: expected a whole number from 1 to 1000, got '${o.runs}'`);
  const stack = stackName(o.stack ?? "dev");
  const config = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const now = parseNow(o.now);
  const ctx = newAuditContext();
  return withDatabase(async (pool) => {
    const status = await readStatus(pool, { stack, config, now });
    const audit = (await pool.query("select to_regclass('audit_log') is not null as present")).rows[0].present;
    const recent = audit ? (await readEntries(pool, { limit: runs * 3 })).filter((r) => r.command === "reconcile" || r.command === "drift" || r.command === "plan") : [];
    const drift = audit ? ((await readEntries(pool, { command: "drift", limit: 1 }))[0] ?? null) : null;
    writeAtomically(o.html!, renderHtml({ status, runs: recent.slice(-runs).reverse(), drift }));
    console.error(`wod: report written to ${o.html} (${status.totals.used}/${status.totals.seats} seats used, ${status.attention.length} learner(s) need attention)`);
    await tryRecordEntry(pool, ctx, { command: "report", stack, request: { html: o.html }, outcome: "written", exitCode: 0 }, (m) => console.error(`wod: ${m}`));
    return 0;
  });
}
