// One broken workshop never stops the others (issue 17): a catalog of clean and broken workshops
// against a real PostgreSQL, the real stack program under Pulumi's mock runtime, and the scripted
// engine (which honours ignoreChanges as the Pulumi engine does). The broken active workshop's
// live learners keep their cohort, content and appliance exactly as applied (no diff), it refuses
// registrations, the rest converges, and fixing it brings it back.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importRegistrations } from "../infra/cli/import";
import { parseStackConfig, type StackConfig } from "../infra/config";
import type { Database } from "../infra/db/connect";
import { cancel, register } from "../infra/db/registrations";
import type { Step } from "../infra/reconcile/engine";
import { reconcile } from "../infra/reconcile/run";
import { renderReport } from "../infra/reconcile/report";
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
afterAll(async () => {
  await pg?.stop();
});

const T0 = new Date("2026-11-23T09:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const notebook = (...lines: string[]) =>
  `${JSON.stringify({ cells: [{ cell_type: "markdown", metadata: {}, source: lines.map((l) => `${l}\n`) }], metadata: {}, nbformat: 4, nbformat_minor: 5 }, null, 1)}\n`;
const LAB = notebook("# Lab", "Your web port: {{ HTTPPORT }}");
const BROKEN_LAB = notebook("# Lab", "Your web port: {{ HTTPPORT }}", "Token: {{ NOPE_ONE }}", "Again: {{ NOPE_ONE }}", "And: {{ NOPE_TWO }}");
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length;

/** Python and Lab (an appliance workshop) clean and active, Old clean and inactive, Never broken from the start. */
function catalog(): string {
  return writeCatalog({
    "WKSHP-Python": { yml: wodYml("Python", { range: [1, 10], capacity: 10 }) },
    "WKSHP-Lab": {
      yml: wodYml("Lab", { range: [11, 20], capacity: 10, monoappliance: true, appliance: { ports: { http: 30000 }, setup: "appliance/setup.sh", studentSetup: "appliance/student.sh" } }),
      files: { "1-Lab.ipynb": LAB, "appliance/setup.sh": "true\n", "appliance/student.sh": "true\n" },
    },
    "WKSHP-Old": { yml: wodYml("Old", { range: [21, 30], active: false }) },
    "WKSHP-Never": { yml: wodYml("Never", { range: [31, 40] }), files: { "1-Lab.ipynb": notebook("{{ NEVER_DEFINED }}") } },
  });
}

/** Breaks Lab three ways at once (wod.yml, undefined variables, a notebook that is not JSON) and Old once. */
function breakWorkshops(dir: string) {
  const yml = path.join(dir, "WKSHP-Lab", "wod.yml");
  fs.writeFileSync(yml, fs.readFileSync(yml, "utf8").replace(/^capacity: 10$/m, "capacity: many"));
  fs.writeFileSync(path.join(dir, "WKSHP-Lab", "1-Lab.ipynb"), BROKEN_LAB);
  fs.writeFileSync(path.join(dir, "WKSHP-Lab", "2-Broken.ipynb"), "{ this is not a notebook\n");
  fs.writeFileSync(path.join(dir, "WKSHP-Old", "1-Lab.ipynb"), notebook("{{ OLD_UNDEFINED }}"));
}

function fixWorkshops(dir: string) {
  const yml = path.join(dir, "WKSHP-Lab", "wod.yml");
  fs.writeFileSync(yml, fs.readFileSync(yml, "utf8").replace(/^capacity: many$/m, "capacity: 10"));
  fs.writeFileSync(path.join(dir, "WKSHP-Lab", "1-Lab.ipynb"), LAB);
  fs.rmSync(path.join(dir, "WKSHP-Lab", "2-Broken.ipynb"));
}

function stackConfig(workshopsDir: string): StackConfig {
  return parseStackConfig({
    locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
    adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir,
    studentServers: { enabled: false },
  }, "test");
}

async function platform() {
  const dir = catalog();
  const config = stackConfig(dir);
  const pool = await pg.fresh();
  const db: Database = { pool, describe: "test", close: async () => {} };
  const engine = new MockEngine();
  const run = (now: Date) =>
    reconcile({ stack: "test", config, db, engine, now: () => now, sleep: async () => {}, declare: (d, c) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown> });
  const { loadCheckedCatalog } = await import("../infra/catalog/templates");
  const { syncCatalog } = await import("../infra/db/catalog-sync");
  const { migrate } = await import("../infra/db/migrate");
  await migrate(pool);
  const loaded = loadCheckedCatalog(dir, config);
  await syncCatalog(pool, config, loaded.workshops, loaded.quarantined);
  return { dir, config, pool, engine, run };
}

async function book(pool: Pool, email: string, workshop: string) {
  const r = await register(pool, { email, workshop, startsAt: T0 });
  if (!r.ok) throw new Error(r.message);
  return r;
}

/** What the engine holds for one workshop (its content, appliance and cohorts): URN → applied inputs. */
function appliedOf(engine: MockEngine, folder: string): Record<string, unknown> {
  return Object.fromEntries(engine.urns(folder).map((urn) => [urn, structuredClone(engine.applied.get(urn)!.inputs)]));
}

const opsOf = (steps: Step[], part: string) => steps.filter((s) => s.urn.includes(part)).map((s) => s.op);

describe("a broken workshop is quarantined; the others plan, apply and reconcile as if it were absent", () => {
  it("the broken active workshop keeps its live learners exactly as applied, refuses registrations, and comes back when fixed", async () => {
    const p = await platform();
    const py = await book(p.pool, "ada@example.org", "Python");
    const lab1 = await book(p.pool, "bob@example.org", "Lab");
    const lab2 = await book(p.pool, "cy@example.org", "Lab");
    // Never was broken from its first sync: nothing to keep, closed from the start.
    expect(await register(p.pool, { email: "dee@example.org", workshop: "Never" })).toMatchObject({ ok: false, refusal: "quarantined" });

    const first = await p.run(at(1));
    expect(first).toMatchObject({ exitCode: 0, outcome: "converged" });
    expect(first.quarantined).toEqual([expect.objectContaining({ workshop: "Never", active: true, kept: false })]);
    const labBefore = appliedOf(p.engine, "WKSHP-Lab");
    // Its content on the backend and on its appliance, the appliance itself, its setup and students, its cohort.
    expect(Object.keys(labBefore).some((u) => u.includes("StudentCohort::eu-WKSHP-Lab-s0"))).toBe(true);
    expect(Object.keys(labBefore).some((u) => u.includes("CopyToRemote::eu-WKSHP-Lab-content-copy"))).toBe(true);
    expect(Object.keys(labBefore).some((u) => u.includes("Droplet::eu-WKSHP-Lab"))).toBe(true);
    // Copies: the content on the backend and on the appliance, and the host scripts on the appliance.
    expect(Object.keys(labBefore).filter((u) => u.includes("CopyToRemote::")).map((u) => u.split("::").pop()).sort()).toEqual(["eu-WKSHP-Lab-bin-copy", "eu-WKSHP-Lab-content-copy", "eu-WKSHP-Lab-copy"]);
    const rowBefore = (await p.pool.query("select content_hash, catalog from workshops where name = 'Lab'")).rows[0];

    breakWorkshops(p.dir);
    // Python changes too: the healthy workshop's edit still goes through.
    fs.appendFileSync(path.join(p.dir, "WKSHP-Python", "0-ReadMeFirst.ipynb"), "\n");
    let nextSync: string[] = [];
    const steps = await p.engine.preview(async () => {
      const { loadInputs } = await import("../infra/load");
      const { desiredState } = await import("../infra/desired/state");
      const inputs = await loadInputs({ config: p.config, db: { pool: p.pool, describe: "test", close: async () => {} }, readOnly: true });
      nextSync = inputs.nextSync.catalog;
      const d = desiredState({ catalog: [...inputs.catalog.workshops, ...inputs.kept], quarantined: inputs.catalog.quarantined, snapshot: inputs.snapshot, config: p.config, now: at(2) });
      return declareStack(d, p.config, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>;
    });
    // No diff for anything of Lab's: cohort, content (backend and appliance), appliance machine, setup, students.
    expect(opsOf(steps, "WKSHP-Lab").length).toBe(Object.keys(labBefore).length);
    expect(new Set(opsOf(steps, "WKSHP-Lab"))).toEqual(new Set(["same"]));
    expect(opsOf(steps, "CopyToRemote::eu-WKSHP-Python-copy")).toEqual(["replace"]);
    // A preview writes nothing and says what the next up will sync: Lab and Old enter quarantine, kept.
    expect(nextSync).toEqual([
      expect.stringMatching(/^workshop Python: content /),
      expect.stringMatching(/^workshop Lab: enters quarantine \(4 errors in WKSHP-Lab, first: .*\); kept as last synced \(content [0-9a-f]{12}\), closed for registration$/),
      expect.stringMatching(/^workshop Old: enters quarantine \(1 error in WKSHP-Old, first: .*OLD_UNDEFINED.*\); kept as last synced/),
    ]);

    const second = await p.run(at(3));
    expect(second).toMatchObject({ exitCode: 0, outcome: "converged" });
    expect(appliedOf(p.engine, "WKSHP-Lab")).toEqual(labBefore);
    expect(second.quarantined).toEqual([
      expect.objectContaining({ workshop: "Lab", active: true, kept: true, errors: 4 }),
      expect.objectContaining({ workshop: "Never", active: true, kept: false }),
      expect.objectContaining({ workshop: "Old", active: false, kept: true, errors: 1 }),
    ]);
    expect(renderReport(second)).toMatch(/quarantined: 3 workshops \(2 active\), closed for registration; the rest converged without them/);
    expect(renderReport(second)).toMatch(/quarantined Lab \(active, kept as last synced\): 4 errors in WKSHP-Lab, first: .*WKSHP-Lab\/wod\.yml: capacity: got "many"/);
    // The database keeps Lab as its last good sync left it, and knows why it is closed.
    expect((await p.pool.query("select content_hash, catalog from workshops where name = 'Lab'")).rows[0]).toEqual(rowBefore);
    const held = (await p.pool.query("select name, active, errors from quarantined_workshops order by name")).rows;
    expect(held.map((r) => [r.name, r.active])).toEqual([["Lab", true], ["Never", true], ["Old", false]]);
    const labErrors = held[0].errors as string[];
    expect(labErrors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^error: .*WKSHP-Lab\/wod\.yml: capacity: got "many"; a whole number of seats/),
      expect.stringMatching(new RegExp(`^error: .*WKSHP-Lab/1-Lab\\.ipynb: line ${lineOf(BROKEN_LAB, "NOPE_ONE")}: 'NOPE_ONE' is undefined`)),
      expect.stringMatching(new RegExp(`^error: .*WKSHP-Lab/1-Lab\\.ipynb: line ${lineOf(BROKEN_LAB, "NOPE_TWO")}: 'NOPE_TWO' is undefined`)),
      expect.stringMatching(/^error: .*WKSHP-Lab\/2-Broken\.ipynb: .*not valid JSON/),
    ]));
    expect(held[2].errors).toEqual([expect.stringMatching(/^warning: .*WKSHP-Old\/1-Lab\.ipynb: line \d+: inactive workshop, quarantined: 'OLD_UNDEFINED' is undefined/)]);

    // New registrations are refused with the reason, alone or in an import; the healthy workshop still books.
    const refused = await register(p.pool, { email: "eve@example.org", workshop: "Lab" });
    expect(refused).toMatchObject({ ok: false, refusal: "quarantined" });
    expect(!refused.ok && refused.message).toMatch(/^workshop Lab is quarantined since .*: 4 errors in WKSHP-Lab, first: .*capacity/);
    const imported = await importRegistrations(p.pool, "email,workshop\nfay@example.org,Lab\ngus@example.org,Python\n");
    expect(imported.lines.map((l) => [l.line, l.outcome])).toEqual([[2, "rejected"], [3, "registered"]]);
    expect(imported.lines[0].reason).toMatch(/^refused \(quarantined\): workshop Lab is quarantined/);

    // Expiry and cancellation still end a registration of a quarantined workshop: its time is its own.
    expect(await cancel(p.pool, lab2.id)).toBe(true);
    const third = await p.run(at(4));
    expect(third).toMatchObject({ exitCode: 0 });
    const labCohort = p.engine.urns("StudentCohort::eu-WKSHP-Lab-s0")[0];
    expect(p.engine.applied.get(labCohort)!.inputs.slots).toEqual({ [String(lab1.slot)]: `${lab1.id}#1` });
    expect((await p.pool.query("select status, released_at from registrations where id = $1", [lab2.id])).rows[0]).toMatchObject({ status: "cancelled", released_at: expect.any(Date) });
    // Its content was never replaced meanwhile.
    const contentCopies = (engine: MockEngine) => engine.urns("WKSHP-Lab").filter((u) => u.includes("CopyToRemote::") && !u.includes("-bin-"));
    for (const u of contentCopies(p.engine)) expect(p.engine.applied.get(u)!.inputs).toEqual(labBefore[u]);

    // Fixed: it leaves quarantine on the next run, is planned from its folder and takes registrations again.
    fixWorkshops(p.dir);
    const fourth = await p.run(at(5));
    expect(fourth.quarantined.map((q) => q.workshop)).toEqual(["Never", "Old"]);
    expect((await p.pool.query("select name from quarantined_workshops order by name")).rows.map((r) => r.name)).toEqual(["Never", "Old"]);
    // Restored as it was: the same content, so nothing of it changes.
    for (const u of contentCopies(p.engine)) expect(p.engine.applied.get(u)!.inputs).toEqual(labBefore[u]);
    expect(await register(p.pool, { email: "eve@example.org", workshop: "Lab" })).toMatchObject({ ok: true });
    expect((await p.pool.query("select status from registrations where id = $1", [py.id])).rows[0].status).toBe("active");
  }, 180_000);

  it("a quarantined workshop's edited content is never shipped: the kept copy stays as applied until the fix", async () => {
    const p = await platform();
    await book(p.pool, "ada@example.org", "Lab");
    await p.run(at(1));
    const copy = p.engine.urns("CopyToRemote::eu-WKSHP-Lab-copy")[0];
    const before = structuredClone(p.engine.applied.get(copy)!.inputs);
    breakWorkshops(p.dir);
    fs.writeFileSync(path.join(p.dir, "WKSHP-Lab", "3-New.ipynb"), notebook("new text the author is still writing"));
    await p.run(at(2));
    expect(p.engine.applied.get(copy)!.inputs).toEqual(before);
    // Fixed with the new notebook: now it ships (a new content hash, a new folder).
    fixWorkshops(p.dir);
    const fixed = await p.run(at(3));
    expect(fixed.changes.WorkshopContent).toBeDefined();
    expect(p.engine.applied.get(copy)!.inputs.triggers).not.toEqual(before.triggers);
  }, 180_000);
});
