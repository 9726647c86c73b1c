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
import { notifyAfterRun } from "../notify/run";

export const RECONCILE_USAGE = `usage: wod reconcile --stack NAME [--pulumi-stack ORG/wod/NAME] [--json] [--allow-mass-delete] [--no-fast-path] [--write-back-only] [--every 5m]
  --stack NAME             the stack file Pulumi.NAME.yaml
  --pulumi-stack ORG/PROJECT/NAME   the Pulumi stack to update, fully qualified (default: $WOD_PULUMI_ORG/wod/NAME);
                           it must exist (pulumi stack init): a reconcile never creates one
  DATABASE_URL (required)  the platform database
  WOD_PULUMI_ORG           the Pulumi organization owning the stacks ('organization' on an s3:// or file:// backend)
  WOD_SSH_KEY_FILE         private key to read last logins and completions on the machines (needs the ssh client)
exit codes: 0 converged, 1 engine failure, 2 bad input, 3 guard abort, 4 another run holds the lock, 5 partial`;

interface Args {
  json: boolean;
  allowMassDelete: boolean;
  fastPath: boolean;
  writeBackOnly: boolean;
  pulumiStack: string;
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
  try {
    const report = await reconcile({
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
    },
  }, RECONCILE_USAGE);
  if (a.help) return console.log(RECONCILE_USAGE), 0;
  if (!a.stack) throw new UsageError("--stack is required (see wod reconcile --help)");
  const stack = stackName(a.stack);
  const args: Args = {
    json: a.json!, allowMassDelete: a["allow-mass-delete"]!, fastPath: !a["no-fast-path"], writeBackOnly: a["write-back-only"]!,
    pulumiStack: pulumiStackName(stack, a["pulumi-stack"]),
  };
  const print = (r: Report) => (a.json ? console.log(JSON.stringify(r)) : console.log(renderReport(r)));
  if (!a.every) {
    const r = await once(stack, args);
    print(r);
    return r.exitCode;
  }
  const m = /^(\d+)(s|m|h)$/.exec(a.every);
  if (!m || Number(m[1]) === 0) throw new ConfigError(`--every: expected a period such as 90s, 5m or 1h, got ${a.every}`);
  const period = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
  let stop = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (stop = true));
  while (!stop) {
    const started = Date.now();
    print(await once(stack, args));
    // the next run starts one period after this one started, never overlapping it
    while (!stop && Date.now() - started < period) await new Promise((r) => setTimeout(r, 1000));
  }
  return EXIT.ok;
}

if (require.main === module) runCommand(() => reconcileCommand(process.argv.slice(2)));
