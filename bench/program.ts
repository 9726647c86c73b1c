// How long the stack program takes under Pulumi's mock engine, and how much memory, for 1,000 and
// 10,000 live learner accounts plus 1,000 student servers — decided by the real desiredState()
// from a generated catalog and snapshot, declared by the real declareStack(). Each size runs in
// its own process (the mock runtime is process-global; maxRSS is then that size's peak), with
// source-map-support loaded exactly as Pulumi's runner loads it (@pulumi/pulumi/cmd/run/index.js),
// which makes the SDK's per-resource stack traces dearer: the figure is not flattered.
// Run alone: npx tsx bench/program.ts
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";

const SIZES = [
  { accounts: 1_000, servers: 1_000 },
  { accounts: 10_000, servers: 1_000 },
];
const SLOTS_PER_LOCATION = 1_000; // as in Pulumi.prod.yaml
const WORKSHOPS_PER_LOCATION = 10;

interface ChildResult { resources: number; cohorts: number; ms: number; maxRssMb: number; stateMb: number }

export async function benchProgram(log: (line: string) => void): Promise<void> {
  log("the stack program under the Pulumi mock engine (source maps on, as `pulumi up` runs it; one child process per size)");
  const results: ChildResult[] = [];
  for (const size of SIZES) {
    try {
      const r = await runChild(size.accounts, size.servers, log);
      results.push(r);
      log(
        `accounts=${size.accounts} servers=${size.servers}: ${r.resources} resources (${r.cohorts} cohorts), ` +
          `decide+declare+register ${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.maxRssMb} MB, state about ${r.stateMb.toFixed(1)} MB`,
      );
    } catch (e) {
      log(`accounts=${size.accounts} servers=${size.servers}: FAILED (${(e as Error).message})`);
    }
  }
  if (results.length === 2) log(`t(10k)/t(1k) = ${(results[1].ms / results[0].ms).toFixed(2)} (targets: 10k+1k < 10 s and < 2 GB, 1k+1k < 2 s, ratio ≤ 3, ≤ 3,000 resources, state < 20 MB)`);
}

function runChild(accounts: number, servers: number, log: (line: string) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", __filename, "--child", String(accounts), String(servers)], { stdio: ["ignore", "pipe", "inherit"] });
    let result: ChildResult | undefined;
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
      else if (line) log(`  ${line}`);
    });
    child.on("close", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`bench child for ${accounts} accounts exited ${code}`))));
  });
}

/** A catalog on disk: per location, 10 workshops of 100 slots each, three small files apiece. */
function writeCatalog(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-bench-"));
  for (let w = 0; w < WORKSHOPS_PER_LOCATION; w++) {
    const folder = path.join(dir, `WKSHP-W${w}`);
    fs.mkdirSync(folder);
    for (const f of ["0-ReadMeFirst.ipynb", "1-Lab.ipynb", "README.md"]) fs.writeFileSync(path.join(folder, f), `{"cells": [], "nbformat": 4, "w": ${w}}\n`);
  }
  return dir;
}

async function child(accounts: number, servers: number): Promise<void> {
  require("source-map-support/register"); // as @pulumi/pulumi/cmd/run/index.js does
  const pulumi = await import("@pulumi/pulumi");
  let registered = 0;
  let stateBytes = 0;
  const started = Date.now();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (++registered % 1_000 === 0) console.log(`${registered} resources registered (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "digitalocean:index/droplet:Droplet") state.ipv4Address = "203.0.113.10";
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = "b".repeat(48);
        // The checkpoint holds inputs and outputs of every resource: roughly twice this.
        stateBytes += 2 * JSON.stringify(args.inputs).length + 200;
        return { id: args.type === "digitalocean:index/droplet:Droplet" ? String(registered) : `${args.name}-id`, state };
      },
      call(args) {
        throw new Error(`unmocked invoke ${args.token}`);
      },
    },
    "wod",
    "bench",
  );
  const { declareStack } = await import("../infra/stack");
  const { parseStackConfig } = await import("../infra/config");
  const { desiredState } = await import("../infra/desired/state");
  const { hashFolder } = await import("../infra/catalog/load");
  const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as { waitForRPCs(): Promise<void> };

  const catalogDir = writeCatalog();
  const locations = Math.max(1, Math.ceil(accounts / SLOTS_PER_LOCATION));
  const names = Array.from({ length: locations }, (_, l) => `loc${l}`);
  const config = parseStackConfig({
    locations: names.map((name) => ({ name, fqdn: `${name}.wod.example`, slotPool: { min: 1, max: SLOTS_PER_LOCATION } })),
    adminSshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFWlZ6bHx5nAcJm3LC8OmbB/n+eyBCbfac4grMpmCU1z admin@wod.example"],
    adminCidrs: ["198.51.100.0/24"],
    studentServers: { enabled: true, allowedRegions: ["fra1", "ams3"] },
  }, "bench");
  const perWorkshop = SLOTS_PER_LOCATION / WORKSHOPS_PER_LOCATION;
  const catalog = Array.from({ length: WORKSHOPS_PER_LOCATION }, (_, w) => ({
    name: `W${w}`, title: `Workshop ${w}`, description: "", active: true, capacity: perWorkshop, priority: 0,
    range: { min: w * perWorkshop + 1, max: (w + 1) * perWorkshop }, reset: false, ldap: false, monoappliance: false, multiappliance: false,
    replayId: null, varpass: false, compile: false as const, workshopImg: "", badgeImg: "", beta: false, category: [], duration: 4,
    presenter: "", role: "", avatar: "", replayLink: "", location: names[0], alternateLocation: names.slice(1),
    folder: `WKSHP-W${w}`, dir: path.join(catalogDir, `WKSHP-W${w}`), locations: names, contentHash: hashFolder(path.join(catalogDir, `WKSHP-W${w}`)),
  }));
  const now = new Date("2025-05-20T10:00:00Z");
  const snapshot = {
    registrations: Array.from({ length: accounts }, (_, i) => {
      const slot = (i % SLOTS_PER_LOCATION) + 1;
      return {
        id: String(100_000 + i), participantId: String(i), email: `p${i}@example.org`, workshop: `W${Math.floor((slot - 1) / perWorkshop)}`,
        location: names[Math.floor(i / SLOTS_PER_LOCATION)], slot, status: "active" as const, generation: 1, releaseAttempts: 0,
        startsAt: new Date("2025-05-20T08:00:00Z"), endsAt: new Date("2025-05-20T12:00:00Z"),
      };
    }),
    closing: [],
    learners: Array.from({ length: servers }, (_, i) => {
      const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), createHash("sha256").update(`learner${i}`).digest()]);
      return { id: String(i + 1), email: `learner${i}@example.org`, sshPublicKey: `ssh-ed25519 ${blob.toString("base64")}`, region: i % 2 ? "ams3" : "fra1", passed: { js4: new Date("2025-05-01T00:00:00Z") } };
    }),
    studentServers: [],
  };

  const t0 = Date.now();
  const desired = desiredState({ catalog: catalog as never, snapshot, config, now });
  console.log(`decided ${desired.backends.length} backends, ${desired.accounts.length} accounts in ${desired.cohorts.length} cohorts, ${desired.studentServers.length} servers in ${Date.now() - t0} ms`);
  const { declare } = await import("../infra/program");
  const outputs = declare(desired, config, { sshPrivateKey: "bench-key" }) as { credentials: import("@pulumi/pulumi").Output<unknown> };
  console.log(`declared in ${((Date.now() - t0) / 1000).toFixed(2)} s; waiting for every registration`);
  await settings.waitForRPCs();
  await new Promise<void>((resolve) => outputs.credentials.apply(() => resolve()));
  const ms = Date.now() - t0;
  fs.rmSync(catalogDir, { recursive: true, force: true });
  void declareStack;
  console.log(`RESULT ${JSON.stringify({ resources: registered, cohorts: desired.cohorts.length, ms, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), stateMb: stateBytes / 1e6 })}`);
}

if (require.main === module) {
  const [, , flag, accounts, servers] = process.argv;
  const main = flag === "--child" ? child(Number(accounts), Number(servers)) : benchProgram((line) => console.log(line));
  main.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
