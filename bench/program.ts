// How long declaring the stack takes under Pulumi's mock engine, and how much memory, for
// 1,000 and 10,000 live accounts plus 1,000 student servers. Each size runs in its own process
// (the mock runtime is process-global; maxRSS is then that size's peak).
// Run alone: npx tsx bench/program.ts
// WOD_BENCH_NO_SOURCE_MAPS=1 / WOD_BENCH_STACK_LIMIT=<n> measure how much of it is the SDK's
// per-promise stack traces (see components/README.md, "Scale").
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import type { DesiredState } from "../infra/desired/types";
import { sshKeyFingerprint } from "../components/remote";

const SIZES = [
  { accounts: 1_000, servers: 1_000 },
  { accounts: 10_000, servers: 1_000 },
];
const SLOTS_PER_LOCATION = 1_000; // as in Pulumi.prod.yaml
// Node's default heap (~4 GB here) is too small for 10,000 accounts in one stack: give the
// child room so the figure is measured rather than an out-of-memory crash.
const HEAP_MB = Number(process.env.WOD_BENCH_HEAP_MB ?? 12_288);
const WORKSHOPS_PER_LOCATION = 10;

export async function benchProgram(log: (line: string) => void): Promise<void> {
  log("declareStack under the Pulumi mock engine (one child process per size)");
  for (const size of SIZES) {
    try {
      const result = await runChild(size.accounts, size.servers, log);
      log(
        `accounts=${size.accounts} servers=${size.servers}: ${result.resources} resources, ` +
          `declare+register ${(result.ms / 1000).toFixed(1)} s, peak RSS ${result.maxRssMb} MB (heap limit ${HEAP_MB} MB)`,
      );
    } catch (e) {
      log(`accounts=${size.accounts} servers=${size.servers}: FAILED (${(e as Error).message}) — split the stack (README, "Scale")`);
    }
  }
}

interface ChildResult { resources: number; ms: number; maxRssMb: number }

function runChild(accounts: number, servers: number, log: (line: string) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, "--import", "tsx", __filename, "--child", String(accounts), String(servers)], { stdio: ["ignore", "pipe", "inherit"] });
    let result: ChildResult | undefined;
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
      else if (line) log(`  ${line}`);
    });
    child.on("close", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`bench child for ${accounts} accounts exited ${code}`))));
  });
}

/** A generated desired state: locations of 1,000 slots, 10 workshops each, one learner per slot. */
function generate(accounts: number, servers: number, catalogDir: string): DesiredState {
  const locations = Math.max(1, Math.ceil(accounts / SLOTS_PER_LOCATION));
  const perWorkshop = SLOTS_PER_LOCATION / WORKSHOPS_PER_LOCATION;
  const state: DesiredState = {
    backends: [], contents: [], accounts: [], appliances: [], studentServers: [], rejected: [],
    transitions: { expiredRegistrations: [], warnServers: [], removeServers: [] },
  };
  for (let l = 0; l < locations; l++) {
    const location = `loc${l}`;
    state.backends.push({
      location, provider: "digitalocean", region: "fra1", size: "s-8vcpu-16gb", image: "debian-12-x64", sshUser: "root",
      fqdn: `${location}.wod.example`, hubPort: 8000, slotPool: { min: 1, max: SLOTS_PER_LOCATION }, uidOffset: 2000,
      workshops: Array.from({ length: WORKSHOPS_PER_LOCATION }, (_, w) => `W${w}`),
    });
    for (let w = 0; w < WORKSHOPS_PER_LOCATION; w++) {
      state.contents.push({ workshop: `W${w}`, folder: `WKSHP-W${w}`, location, dir: path.join(catalogDir, `WKSHP-W${w}`), contentHash: `c0ffee${String(w).padStart(10, "0")}` });
    }
  }
  for (let i = 0; i < accounts; i++) {
    const l = Math.floor(i / SLOTS_PER_LOCATION);
    const slot = (i % SLOTS_PER_LOCATION) + 1;
    const w = Math.floor((slot - 1) / perWorkshop);
    state.accounts.push({
      registrationId: String(100_000 + i), participantId: `p${i}`, workshop: `W${w}`, folder: `WKSHP-W${w}`, location: `loc${l}`,
      slot, username: `student${slot}`, uid: slot + 2000, startsAt: "2025-05-20T08:00:00Z", endsAt: "2025-05-20T12:00:00Z",
      phase: "active", contentHash: `c0ffee${String(w).padStart(10, "0")}`,
      variables: { STDID: String(slot), USERNAME: `student${slot}`, BRANDING: "Workshops-on-Demand", HTTPPORT: "8000", WODBEEXTFQDN: `loc${l}.wod.example`, WODBEURL: `http://loc${l}.wod.example:8000` },
      ports: {}, reset: false,
    });
  }
  for (let i = 0; i < servers; i++) {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), createHash("sha256").update(`learner${i}`).digest()]);
    const publicKey = `ssh-ed25519 ${blob.toString("base64")}`;
    state.studentServers.push({
      learnerId: `learner${i}`, email: `learner${i}@example.org`, region: i % 2 ? "ams3" : "fra1", size: "s-1vcpu-1gb", image: "ubuntu-24-04-x64",
      sshPublicKey: publicKey, keyFingerprint: sshKeyFingerprint(publicKey), phase: "active", expiresAt: "2025-06-10T00:00:00Z",
    });
  }
  return state;
}

/** A small catalog on disk: 10 workshops of three files. */
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
  if (process.env.WOD_BENCH_NO_SOURCE_MAPS) process.setSourceMapsEnabled(false);
  if (process.env.WOD_BENCH_STACK_LIMIT) Error.stackTraceLimit = Number(process.env.WOD_BENCH_STACK_LIMIT);
  const pulumi = await import("@pulumi/pulumi");
  let registered = 0;
  const started = Date.now();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (++registered % 5_000 === 0) console.log(`${registered} resources registered (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "digitalocean:index/droplet:Droplet") state.ipv4Address = "203.0.113.10";
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = "bench-password";
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
  const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as { waitForRPCs(): Promise<void> };

  const catalog = writeCatalog();
  const desired = generate(accounts, servers, catalog);
  const config = parseStackConfig(
    {
      locations: desired.backends.map((b) => ({ name: b.location, slotPool: b.slotPool, fqdn: b.fqdn })),
      adminSshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFWlZ6bHx5nAcJm3LC8OmbB/n+eyBCbfac4grMpmCU1z admin@wod.example"],
      adminCidrs: ["198.51.100.0/24"],
      studentServers: { enabled: true },
    },
    "bench",
  );
  console.log(`generated ${desired.backends.length} backends, ${desired.accounts.length} accounts, ${desired.studentServers.length} servers`);
  const t0 = Date.now();
  const outputs = declareStack(desired, config, { sshPrivateKey: "bench-key" });
  console.log(`declareStack returned in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for every registration`);
  await settings.waitForRPCs();
  // Resolve every exported output, as the engine would.
  await new Promise<void>((resolve) => pulumi.all(Object.values(outputs.accounts).map((a) => a.password)).apply(() => resolve()));
  const ms = Date.now() - t0;
  fs.rmSync(catalog, { recursive: true, force: true });
  console.log(`RESULT ${JSON.stringify({ resources: registered, ms, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}`);
}

if (require.main === module) {
  const [, , flag, accounts, servers] = process.argv;
  const main = flag === "--child" ? child(Number(accounts), Number(servers)) : benchProgram((line) => console.log(line));
  main.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
