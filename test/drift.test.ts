// `wod drift` apart from the host check (test/host/drift.test.ts): the refresh preview through the
// real Automation API driver against a stand-in `pulumi` CLI that writes engine events as the
// engine does; what each backend is told, derived from the real stack's state after a reconcile;
// and the reconcile's --drift, in its report and in the audit trail.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import type { Database } from "../infra/db/connect";
import { register } from "../infra/db/registrations";
import { newAuditContext } from "../infra/audit/record";
import { backendTargets, checkDrift, type DriftEngine, manifest } from "../infra/drift/check";
import { recordDrift } from "../infra/drift/record";
import { ROOT } from "../infra/load";
import { pulumiEngine } from "../infra/reconcile/pulumi-engine";
import { renderReport } from "../infra/reconcile/report";
import { reconcile } from "../infra/reconcile/run";
import { readEntries } from "../infra/view/history";
import { MockEngine } from "./reconcile/mock-engine";
import { KEY_B, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

void new MockEngine(); // installs Pulumi's mocks before the program is imported
let declareStack: typeof import("../infra/stack").declareStack;
let pg: TestPg;
beforeAll(async () => {
  ({ declareStack } = await import("../infra/stack"));
  pg = await startPg();
});

// A stand-in CLI: an older version (3.200), so the SDK reads engine events from the --event-log
// file (automation/stack.js setupEventLog), which this script writes as the engine would.
const bin = fs.mkdtempSync(path.join(os.tmpdir(), "wod-fake-pulumi-"));
const events = [
  { resourcePreEvent: { metadata: { op: "refresh", urn: "urn:pulumi:prod::wod::pulumi:pulumi:Stack::wod-prod", type: "pulumi:pulumi:Stack", provider: "" } } },
  { resourcePreEvent: { metadata: { op: "refresh", urn: "urn:pulumi:prod::wod::wod:index:JupyterHubBackend$digitalocean:index/droplet:Droplet::eu-hub", type: "digitalocean:index/droplet:Droplet", provider: "p", old: {}, new: {}, diffs: ["size", "tags"] } } },
  { resourcePreEvent: { metadata: { op: "refresh", urn: "urn:pulumi:prod::wod::digitalocean:index/droplet:Droplet::learner-7-droplet", type: "digitalocean:index/droplet:Droplet", provider: "p", old: {} } } },
  { resourcePreEvent: { metadata: { op: "refresh", urn: "urn:pulumi:prod::wod::digitalocean:index/firewall:Firewall::student-servers", type: "digitalocean:index/firewall:Firewall", provider: "p", old: {}, new: {}, diffs: [] } } },
  { summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: { same: 2, update: 1, delete: 1 }, PolicyPacks: {} } },
];
fs.writeFileSync(
  path.join(bin, "pulumi"),
  `#!/bin/sh
echo "$*" >> "${bin}/calls.log"
case "$1 $2" in
  "version "*) echo "v3.200.0" ;;
  "stack select") exit 0 ;;
  "stack output") echo '{"backends": {}}' ;;
  "stack export") echo '{"version": 3, "deployment": {"resources": []}}' ;;
  "refresh --preview-only")
    log=$(echo "$*" | sed -n 's/.*--event-log \\([^ ]*\\).*/\\1/p')
    cat "${bin}/events.jsonl" > "$log" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
  { mode: 0o755 },
);
fs.writeFileSync(path.join(bin, "events.jsonl"), events.map((e, i) => JSON.stringify({ sequence: i, timestamp: 0, ...e })).join("\n") + "\n");
process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
afterAll(async () => {
  fs.rmSync(bin, { recursive: true, force: true });
  await pg?.stop();
});

const catalogDir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 20], capacity: 20 }) } });
const config = parseStackConfig({
  locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
  adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
}, "test");

describe("drift", () => {
  it("reads the cloud through `pulumi refresh --preview-only`: a resource changed outside Pulumi and one gone are drift, an unchanged one is not", async () => {
    const engine = pulumiEngine({ stack: "acme/wod/prod", workDir: ROOT, log: () => {} });
    const cloud = await engine.refreshPreview!();
    expect(cloud.drifted).toEqual([
      { urn: expect.stringContaining("::eu-hub"), type: "digitalocean:index/droplet:Droplet", op: "update", diffs: ["size", "tags"] },
      { urn: expect.stringContaining("::learner-7-droplet"), type: "digitalocean:index/droplet:Droplet", op: "delete", diffs: [] },
    ]);
    expect(cloud.resources).toBe(3);
    const refresh = fs.readFileSync(path.join(bin, "calls.log"), "utf8").split("\n").find((l) => l.startsWith("refresh "))!;
    expect(refresh).toMatch(/^refresh --preview-only .*--stack acme\/wod\/prod/); // never a refresh that writes the state
    expect(refresh).not.toMatch(/--yes|--skip-preview/);
  }, 60_000);

  it("tells each backend what the stack's last applied syncs hold there, and the files of the workshop folders it shipped", async () => {
    const pool = await pg.fresh();
    const db: Database = { pool, describe: "test", close: async () => {} };
    const engine = new MockEngine();
    const catalog = loadCatalog(catalogDir, config).workshops;
    const { syncCatalog } = await import("../infra/db/catalog-sync");
    await syncCatalog(pool, config, catalog);
    const a = await register(pool, { email: "ada@example.org", workshop: "Python" });
    const b = await register(pool, { email: "bob@example.org", workshop: "Python" });
    if (!a.ok || !b.ok) throw new Error("registration refused");
    engine.failActivations.set(b.id, "slot 2: render.js exited 1");
    const declare = (d: Parameters<typeof declareStack>[0], c: Parameters<typeof declareStack>[1]) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>;
    // A drift check after the run: no SSH key here, so the backend is named unchecked; the cloud reads clean.
    const driftEngine: DriftEngine = { outputs: () => engine.outputs(), state: () => engine.state(), refreshPreview: async () => ({ drifted: [], resources: 12 }) };
    const report = await reconcile({
      stack: "test", config, db, engine, declare, sleep: async () => {},
      audit: { ...newAuditContext(), actor: "wod-cron", trigger: "schedule" },
      drift: async () => {
        const r = await checkDrift({ stack: "test", config, engine: driftEngine, catalog });
        await recordDrift(pool, newAuditContext(), r, () => {});
        return r;
      },
    });

    const [target] = backendTargets(config, (await engine.outputs()) as never, await engine.state(), catalog);
    const python = catalog[0];
    expect(target).toMatchObject({
      location: "eu", sshUser: "root", uidOffset: 2000, slotPool: { min: 1, max: 100 },
      slots: { "1": { registration: a.id, generation: 1, status: "active" }, "2": { registration: b.id, generation: 1, status: "failed" } },
      contents: [{ dir: `/opt/wod/workshops/WKSHP-Python/${python.contentHash}`, files: manifest(python.dir) }],
    });
    expect(Object.keys(target.contents[0].files!)).toEqual(["0-ReadMeFirst.ipynb", "wod.yml"]);
    // The checkout's catalog moved on: the folder's own hash is what the host checks.
    const edited = { ...python, contentHash: "0123456789abcdef" };
    expect(backendTargets(config, (await engine.outputs()) as never, await engine.state(), [edited])[0].contents[0].files).toBeNull();

    expect(report.drift).toMatchObject({ outcome: "incomplete", findings: [], checked: { cloudResources: 12, backends: [] } });
    expect(report.drift!.unchecked).toEqual([{ what: expect.stringMatching(/^backend eu \(/), reason: "no SSH key: set WOD_SSH_KEY_FILE to check the backends" }]);
    expect(renderReport(report)).toMatch(/\n {2}drift: incomplete, 0 finding\(s\)\n {2}drift not checked: backend eu/);
    const [run] = await readEntries(pool, { command: "reconcile" });
    expect(run.changes).toMatchObject({ drift: "incomplete", drifted: 0 });
    const [check] = await readEntries(pool, { command: "drift" });
    expect(check).toMatchObject({ outcome: "incomplete", exitCode: 5, changes: { checked: { cloudResources: 12 } } });
  }, 120_000);

  it("cloud drift makes the check drifted (exit 1 in the trail), with what changed named", async () => {
    const pool = await pg.fresh();
    const engine: DriftEngine = {
      outputs: async () => ({}), state: async () => [],
      refreshPreview: async () => ({ drifted: [{ urn: "urn:pulumi:prod::wod::digitalocean:index/firewall:Firewall::eu-hub-firewall", type: "digitalocean:index/firewall:Firewall", op: "update", diffs: ["inboundRules"] }], resources: 5 }),
    };
    const r = await checkDrift({ stack: "prod", config, engine, catalog: [] });
    expect(r).toMatchObject({ outcome: "drifted", findings: [{ where: "cloud: eu-hub-firewall (digitalocean:index/firewall:Firewall)", what: "cloud-resource-changed", detail: "changed outside Pulumi: inboundRules" }] });
    await recordDrift(pool, newAuditContext(), r, () => {});
    expect((await readEntries(pool, { command: "drift" }))[0]).toMatchObject({ outcome: "drifted", exitCode: 1 });
  }, 60_000);
});
