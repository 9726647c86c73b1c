// `npm run reconcile -- --stack prod`: converge the stack to the database and the catalog.
// `--every 5m` keeps running on a schedule. Exit codes: 0 converged, 1 engine failure,
// 2 bad input (nothing applied), 3 guard abort, 4 another run holds the lock, 5 partial.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, readStackFile } from "../config";
import { runCommand } from "./exit";
import { openDatabase } from "../db/connect";
import { ROOT } from "../load";
import { sshReader } from "../reconcile/host-facts";
import { pulumiEngine } from "../reconcile/pulumi-engine";
import { renderReport } from "../reconcile/report";
import { EXIT, reconcile, type Report } from "../reconcile/run";

const USAGE = `usage: npm run reconcile -- --stack NAME [--json] [--allow-mass-delete] [--no-fast-path] [--write-back-only] [--every 5m]
  DATABASE_URL (required)  the platform database
  WOD_SSH_KEY_FILE         private key to read last logins and completions on the machines`;

async function once(stack: string, args: { json: boolean; allowMassDelete: boolean; fastPath: boolean; writeBackOnly: boolean }): Promise<Report> {
  const log = (m: string) => console.error(`wod: ${m}`);
  let config;
  try {
    config = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  } catch (e) {
    return failed(stack, (e as Error).message);
  }
  if (!process.env.DATABASE_URL) return failed(stack, "DATABASE_URL is not set: a reconcile never runs on an empty embedded database");
  let db;
  try {
    db = await openDatabase({ url: process.env.DATABASE_URL });
  } catch (e) {
    return failed(stack, (e as Error).message);
  }
  try {
    return await reconcile({
      stack, config, db, log, allowMassDelete: args.allowMassDelete, fastPath: args.fastPath, writeBackOnly: args.writeBackOnly,
      engine: pulumiEngine({ stack, workDir: ROOT, log }),
      hosts: process.env.WOD_SSH_KEY_FILE ? sshReader({ keyFile: process.env.WOD_SSH_KEY_FILE }) : undefined,
    });
  } finally {
    await db.close();
  }
}

function failed(stack: string, message: string): Report {
  return { stack, exitCode: EXIT.input, outcome: "invalid-input", message: `nothing applied: ${message}`, phases: [], changes: {}, fastPath: false, rejected: [], guard: [], failures: [], unreachable: [] };
}

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      stack: { type: "string" }, json: { type: "boolean", default: false }, "allow-mass-delete": { type: "boolean", default: false },
      "no-fast-path": { type: "boolean", default: false }, "write-back-only": { type: "boolean", default: false }, every: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  if (a.help || !a.stack) return console.log(USAGE), a.help ? 0 : EXIT.input;
  const args = { json: a.json!, allowMassDelete: a["allow-mass-delete"]!, fastPath: !a["no-fast-path"], writeBackOnly: a["write-back-only"]! };
  const print = (r: Report) => (a.json ? console.log(JSON.stringify(r)) : console.log(renderReport(r)));
  if (!a.every) {
    const r = await once(a.stack, args);
    print(r);
    return r.exitCode;
  }
  const m = /^(\d+)(s|m|h)$/.exec(a.every);
  if (!m) throw new ConfigError(`--every: expected a period such as 90s, 5m or 1h, got ${a.every}`);
  const period = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
  let stop = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (stop = true));
  while (!stop) {
    const started = Date.now();
    print(await once(a.stack, args));
    // the next run starts one period after this one started, never overlapping it
    while (!stop && Date.now() - started < period) await new Promise((r) => setTimeout(r, 1000));
  }
  return EXIT.ok;
}

runCommand(main);
