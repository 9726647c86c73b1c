// `wod reconcile --stack prod` (`npm run reconcile -- --stack prod`): converge the stack to the
// database and the catalog. `--every 5m` keeps running on a schedule. Exit codes: 0 converged,
// 1 engine failure, 2 bad input (nothing applied), 3 guard abort, 4 another run holds the lock,
// 5 partial.
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../config";
import { openDatabase } from "../db/connect";
import { ROOT } from "../load";
import { sshReader } from "../reconcile/host-facts";
import { digitalOceanRemover } from "../reconcile/servers";
import { assertStackExists, pulumiEngine, PulumiUnavailable, StackMissing } from "../reconcile/pulumi-engine";
import { renderReport } from "../reconcile/report";
import { EXIT, reconcile, type Report } from "../reconcile/run";
import { parseCommandLine, readStack, runCommand, stackName, UsageError } from "./exit";
import { newAuditContext } from "../audit/record";
import { reconcileTrigger } from "../audit/reconcile";
import { recordDrift } from "../drift/record";
import { notifyAfterRun } from "../notify/run";
import { runDrift } from "./drift";

export const RECONCILE_USAGE = `usage: wod reconcile --stack NAME [--pulumi-stack ORG/wod/NAME] [--json] [--allow-mass-delete] [--no-fast-path] [--write-back-only] [--every 5m] [--drift | --drift-every 24h]
  --stack NAME             the stack file Pulumi.NAME.yaml
  --pulumi-stack ORG/PROJECT/NAME   the Pulumi stack to update, fully qualified (default: $WOD_PULUMI_ORG/wod/NAME);
                           it must exist (pulumi stack init): a reconcile never creates one
  DATABASE_URL (required)  the platform database
  WOD_PULUMI_ORG           the Pulumi organization owning the stacks ('organization' on an s3:// or file:// backend)
  --drift                  after the write-back, check what still differs from the stack (read only; see wod drift --help)
  --drift-every PERIOD     with --every: the drift check in at most one run per PERIOD (e.g. 24h), the first run included
  WOD_SSH_KEY_FILE         private key to read last logins and completions on the machines (needs the ssh client)
exit codes: 0 converged, 1 engine failure, 2 bad input, 3 guard abort, 4 another run holds the lock, 5 partial`;

interface Args {
  json: boolean;
  allowMassDelete: boolean;
  fastPath: boolean;
  writeBackOnly: boolean;
  pulumiStack: string;
  /** Runs on a schedule (--every). */
  every: boolean;
  /** Check drift after this run's write-back. */
  drift?: boolean;
}

async function once(stack: string, args: Args): Promise<Report> {
  const log = (m: string) => console.error(`wod: ${m}`);
  let config;
  try {
    config = readStack(stack);
  } catch (e) {
    return failed(stack, (e as Error).message);
  }
  if (!process.env.DATABASE_URL) return failed(stack, "DATABASE_URL is not set: a reconcile never runs on an empty embedded database");
  try {
    await assertStackExists(args.pulumiStack, ROOT);
  } catch (e) {
    // A missing stack is a configuration error to fix, not an engine failure to retry.
    if (e instanceof StackMissing) return failed(stack, e.message);
    if (e instanceof PulumiUnavailable) return failed(stack, `a reconcile needs the Pulumi CLI, and ${e.message}`);
    throw e;
  }
  let db;
  try {
    db = await openDatabase({ url: process.env.DATABASE_URL });
  } catch (e) {
    return failed(stack, (e as Error).message);
  }
  const { trigger, commit } = reconcileTrigger({ every: args.every });
  const audit = {
    ...newAuditContext(), trigger,
    request: { pulumiStack: args.pulumiStack, allowMassDelete: args.allowMassDelete, fastPath: args.fastPath, writeBackOnly: args.writeBackOnly, ...(commit ? { commit } : {}) },
  };
  try {
    const report = await reconcile({
      audit,
      drift: args.drift ? async () => {
        const report = await runDrift(stack, config, args.pulumiStack, log);
        await recordDrift(db.pool, newAuditContext(), report, log, { pulumiStack: args.pulumiStack, during: "reconcile" });
        return report;
      } : undefined,
      stack, config, db, log, allowMassDelete: args.allowMassDelete, fastPath: args.fastPath, writeBackOnly: args.writeBackOnly,
      engine: pulumiEngine({ stack: args.pulumiStack, workDir: ROOT, log }), pulumiStack: args.pulumiStack.split("/")[2],
      hosts: hostReader(log),
      // The DigitalOcean provider reads the same variable; without it servers to remove are reported, not removed.
      servers: process.env.DIGITALOCEAN_TOKEN ? digitalOceanRemover({ token: process.env.DIGITALOCEAN_TOKEN }) : undefined,
    });
    // Then the learners are told (what this run activated, released, warned): `wod notify --once`.
    if (report.exitCode !== EXIT.busy) report.messages = await notifyAfterRun(db.pool, config, args.pulumiStack, log);
    return report;
  } finally {
    await db.close();
  }
}

/** The machines' reader, when a key is given; without an ssh client every machine would read as unreachable. */
function hostReader(log: (m: string) => void) {
  const keyFile = process.env.WOD_SSH_KEY_FILE;
  if (!keyFile) return undefined;
  if (!onPath("ssh")) {
    log("WOD_SSH_KEY_FILE is set but no ssh client is on PATH (install openssh-client): last logins and completion ratios are not read this run");
    return undefined;
  }
  return sshReader({ keyFile });
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function failed(stack: string, message: string): Report {
  return { stack, exitCode: EXIT.input, outcome: "invalid-input", message: `nothing applied: ${message}`, phases: [], changes: {}, fastPath: false, rejected: [], quarantined: [], guard: [], failures: [], unreachable: [] };
}

/** The fully qualified Pulumi stack: --pulumi-stack, else $WOD_PULUMI_STACK, else $WOD_PULUMI_ORG/wod/<stack>. */
export function pulumiStackName(stack: string, explicit: string | undefined, env = process.env): string {
  const name = explicit ?? env.WOD_PULUMI_STACK ?? (env.WOD_PULUMI_ORG ? `${env.WOD_PULUMI_ORG}/wod/${stack}` : undefined);
  if (!name) {
    throw new UsageError(
      `the Pulumi stack's fully qualified name is needed: set WOD_PULUMI_ORG (your Pulumi organization, 'organization' on an s3:// or file:// backend) or pass --pulumi-stack ORG/wod/${stack}`,
    );
  }
  if (!/^[^/\s]+\/[^/\s]+\/[^/\s]+$/.test(name)) throw new UsageError(`--pulumi-stack: '${name}' is not ORG/PROJECT/STACK`);
  return name;
}

export async function reconcileCommand(argv: string[]): Promise<number> {
  const { values: a } = parseCommandLine({
    args: argv,
    options: {
      stack: { type: "string" }, "pulumi-stack": { type: "string" }, json: { type: "boolean", default: false },
      "allow-mass-delete": { type: "boolean", default: false }, "no-fast-path": { type: "boolean", default: false },
      "write-back-only": { type: "boolean", default: false }, every: { type: "string" }, help: { type: "boolean", short: "h" },
      drift: { type: "boolean", default: false }, "drift-every": { type: "string" },
    },
  }, RECONCILE_USAGE);
  if (a.help) return console.log(RECONCILE_USAGE), 0;
  if (!a.stack) throw new UsageError("--stack is required (see wod reconcile --help)");
  const stack = stackName(a.stack);
  const args: Args = {
    json: a.json!, allowMassDelete: a["allow-mass-delete"]!, fastPath: !a["no-fast-path"], writeBackOnly: a["write-back-only"]!,
    pulumiStack: pulumiStackName(stack, a["pulumi-stack"]), every: !!a.every,
  };
  const print = (r: Report) => (a.json ? console.log(JSON.stringify(r)) : console.log(renderReport(r)));
  if (a.drift && a["drift-every"]) throw new UsageError("--drift and --drift-every cannot be combined (see wod reconcile --help)");
  if (a["drift-every"] && !a.every) throw new UsageError("--drift-every needs --every (a single run takes --drift)");
  const driftPeriod = a["drift-every"] ? period(a["drift-every"], "--drift-every") : undefined;
  if (!a.every) {
    const r = await once(stack, { ...args, drift: a.drift });
    print(r);
    return r.exitCode;
  }
  const every = period(a.every, "--every");
  let stop = false;
  let lastDrift: number | undefined;
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (stop = true));
  while (!stop) {
    const started = Date.now();
    const drift = driftPeriod !== undefined && (lastDrift === undefined || started - lastDrift >= driftPeriod);
    const r = await once(stack, { ...args, drift });
    if (r.drift) lastDrift = started;
    print(r);
    // the next run starts one period after this one started, never overlapping it
    while (!stop && Date.now() - started < every) await new Promise((r) => setTimeout(r, 1000));
  }
  return EXIT.ok;
}

/** `90s`, `5m`, `1h`, `24h` in milliseconds. */
function period(text: string, option: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (!m || Number(m[1]) === 0) throw new ConfigError(`${option}: expected a period such as 90s, 5m or 1h, got ${text}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
}

if (require.main === module) runCommand(() => reconcileCommand(process.argv.slice(2)));
