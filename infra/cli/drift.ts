// `wod drift --stack NAME`: what differs from the stack, changing nothing — the cloud through a
// refresh preview, each backend through check-backend.py (infra/drift/check.ts). Needs the Pulumi
// CLI and a logged-in backend like the reconcile, and WOD_SSH_KEY_FILE to reach the backends.
import * as path from "node:path";
import { newAuditContext } from "../audit/record";
import { loadCatalog } from "../catalog/load";
import { readStackFile, type StackConfig } from "../config";
import { openDatabase } from "../db/connect";
import { checkDrift, type DriftReport, renderDrift } from "../drift/check";
import { driftExit, recordDrift } from "../drift/record";
import { ROOT } from "../load";
import { pulumiEngine } from "../reconcile/pulumi-engine";
import { sshReader } from "../reconcile/host-facts";
import { parseCommandLine, stackName, UsageError } from "./exit";
import { pulumiStackName } from "./reconcile";

export const DRIFT_USAGE = `usage: wod drift --stack NAME [--pulumi-stack ORG/wod/NAME] [--json]
  what differs from the stack, changing nothing: cloud resources changed or gone (a Pulumi refresh in
  preview mode), and on each backend what its syncs would change — accounts that should be locked and
  are not, a released slot with processes or a hub user, missing or altered workshop content, unknown
  student* users
  WOD_SSH_KEY_FILE   the platform's private key, to check the backends (without it they are not checked)
  DATABASE_URL       when set, the check is recorded in the audit trail (wod report --html shows it)
exit codes: 0 nothing drifted, 1 drift found, 2 bad input, 5 incomplete (a part could not be checked, the rest is clean)`;

export async function driftCommand(argv: string[]): Promise<number> {
  const { values: o } = parseCommandLine({
    args: argv,
    options: { stack: { type: "string" }, "pulumi-stack": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, DRIFT_USAGE);
  if (o.help) return console.log(DRIFT_USAGE), 0;
  if (!o.stack) throw new UsageError("--stack is required (see wod drift --help)");
  const stack = stackName(o.stack);
  const config = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const pulumiStack = pulumiStackName(stack, o["pulumi-stack"]);
  const log = (m: string) => console.error(`wod: ${m}`);
  const ctx = newAuditContext();
  const report = await runDrift(stack, config, pulumiStack, log);
  console.log(o.json ? JSON.stringify(report, null, 2) : renderDrift(report));
  if (process.env.DATABASE_URL) {
    const db = await openDatabase({ url: process.env.DATABASE_URL }).catch((e: Error) => (log(`audit: drift not recorded: ${e.message}`), undefined));
    if (db) {
      await recordDrift(db.pool, ctx, report, log, { pulumiStack });
      await db.close();
    }
  }
  return driftExit(report);
}

/** The check as the CLI and the reconcile's --drift run it. */
export function runDrift(stack: string, config: StackConfig, pulumiStack: string, log: (m: string) => void): Promise<DriftReport> {
  const engine = pulumiEngine({ stack: pulumiStack, workDir: ROOT, log });
  const keyFile = process.env.WOD_SSH_KEY_FILE;
  const catalog = loadCatalog(path.resolve(ROOT, config.workshopsDir), config).workshops;
  return checkDrift({ stack, config, engine, catalog, hosts: keyFile ? sshReader({ keyFile }) : undefined, log });
}
