// `wod migrate-state --stack prod [--pulumi-stack ORG/wod/prod] [--dry-run]`: run once before the
// first `up` of this version on a stack that had per-account resources (infra/reconcile/
// migrate-state.ts says what and why). It edits the checkpoint only: no machine is touched.
// Exit codes: 0 done (or nothing to do), 2 bad input or the stack cannot be read.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "../load";
import { type Deployment, migrateDeployment } from "../reconcile/migrate-state";
import { PulumiUnavailable, StackMissing, stackState } from "../reconcile/pulumi-engine";
import { parseCommandLine, stackName, UsageError } from "./exit";

export const MIGRATE_STATE_USAGE = `usage: wod migrate-state --stack NAME [--pulumi-stack ORG/wod/NAME] [--dry-run]
  takes out of the stack's state, without running their deletes, the resources whose delete would
  release learners or snapshot servers now that accounts are cohorts (see README, "Upgrading a stack");
  the checkpoint before the edit is saved next to the system's temporary files
exit codes: 0 done or nothing to do, 2 bad input or the stack cannot be read`;

export async function migrateStateCommand(argv: string[]): Promise<number> {
  const { values: o } = parseCommandLine({
    args: argv,
    options: { stack: { type: "string" }, "pulumi-stack": { type: "string" }, "dry-run": { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  }, MIGRATE_STATE_USAGE);
  if (o.help) return console.log(MIGRATE_STATE_USAGE), 0;
  if (!o.stack) throw new UsageError(`--stack is required\n${MIGRATE_STATE_USAGE}`);
  const stack = stackName(o.stack);
  const qualified = o["pulumi-stack"] ?? `${process.env.WOD_PULUMI_ORG ?? "organization"}/wod/${stack}`;
  const state = stackState({ stack: qualified, workDir: ROOT });
  const before = await state.export().catch((e: unknown) => {
    if (e instanceof PulumiUnavailable) throw new UsageError(`migrate-state needs the Pulumi CLI, and ${e.message}`);
    if (e instanceof StackMissing) throw new UsageError(e.message);
    throw e;
  });
  const { deployment, removed } = migrateDeployment(before.deployment as Deployment);
  for (const r of removed) console.log(`${o["dry-run"] ? "would take out" : "taking out"} ${r.urn.split("::").pop()} (${r.urn.split("::")[2]}): ${r.why}`);
  if (removed.length === 0) return console.log(`stack ${qualified}: nothing to migrate`), 0;
  if (o["dry-run"]) return 0;
  const backup = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wod-state-")), `${stack}.json`);
  fs.writeFileSync(backup, JSON.stringify(before), { mode: 0o600 });
  await state.import({ ...before, deployment });
  console.log(`stack ${qualified}: ${removed.length} resource(s) taken out of the state; the checkpoint before is in ${backup}`);
  return 0;
}
