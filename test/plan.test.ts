// `wod plan` as an operator runs it (`npx wod plan`, the package's bin): a child process, on the
// embedded database or on a real PostgreSQL given by DATABASE_URL — which a plan only reads.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { register } from "../infra/db/registrations";
import { ROOT } from "../infra/load";
import { wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  dataDir: string;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** `npx wod plan ARGS` in the checkout, on a fresh embedded database unless DATABASE_URL is given. */
async function plan(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-plan-"));
  dirs.push(dataDir);
  fs.chmodSync(dataDir, 0o755);
  const run = exec("npx", ["wod", "plan", ...args], {
    cwd: ROOT,
    maxBuffer: 64 << 20,
    env: { ...process.env, DATABASE_URL: "", WOD_DATA_DIR: path.join(dataDir, "pg"), ...env },
  });
  try {
    const { stdout, stderr } = await run;
    return { code: 0, stdout, stderr, dataDir };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, dataDir };
  }
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m);

describe("wod plan on the embedded demo database", () => {
  it("--json is pure JSON on stdout (npx prints no banner) with backends, student accounts and student servers", async () => {
    const r = await plan(["--json"]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.counts).toMatchObject({ backends: 1, accounts: 14, studentServers: 3, rejected: 2 });
    expect(p.accounts).toHaveLength(p.counts.accounts);
    expect(p.stack).toBe("dev");
    expect(p.seats).toContainEqual({ workshop: "Python101", location: "dev", used: 7, seats: 20, ending: 1, slots: "1-20", later: 0, peak: 7 });
    expect(p.nextSync).toEqual({ migrations: [], catalog: [] });
    expect(r.stderr).toMatch(/seeded demo data/);
  }, 120_000);

  it("the tree shows seats used per workshop, each appliance under its own workshop, and transitions that name what they list", async () => {
    const r = await plan([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend dev .*slots 1-60.*14\/45 seats used/);
    expect(r.stdout).toMatch(/workshop Python101 +7\/20 seats used \(1 ending\), slots 1-20/);
    // Docker101 is not the last workshop: its appliance is listed inside its own branch.
    const lines = r.stdout.split("\n");
    const docker = lines.findIndex((l) => /workshop Docker101/.test(l));
    expect(lines[docker + 1]).toMatch(/^│  ├─ appliance .*3 students, ports http=31000\+ ssh=32000\+/);
    expect(r.stdout).toMatch(/student servers \(3: 2 active, 1 idle-warning\)/);
    expect(r.stdout).toMatch(/rejected inputs \(2: 2 learner\)/);
    expect(r.stdout).toMatch(/release 1 expired registration: registration \d+$/m);
    expect(r.stdout).toMatch(/remove 1 student server: learner \d+ \(revoke-lesson\)/);
  }, 120_000);

  it("--summary keeps counts and seat figures and drops per-account lines", async () => {
    const r = await plan(["--summary"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/workshop Python101 +7\/20 seats used/);
    expect(r.stdout).not.toMatch(/student1 |registration \d|learner \d/);
    const j = await plan(["--summary", "--json"]);
    const s = JSON.parse(j.stdout);
    expect(Object.keys(s).sort()).toEqual(["counts", "decidedAt", "messages", "nextSync", "quarantined", "rejected", "seats", "stack", "studentServers", "transitions"]);
    // The demo's learners' e-mails wait: the dev stack has no wod:smtp.
    expect(s.messages).toMatchObject({ smtp: false, sent: 0 });
    expect(s.messages.due + s.messages.later).toBeGreaterThan(0);
    expect(s.transitions).toEqual({ expiredRegistrations: 1, warnServers: 1, removeServers: 1 });
  }, 120_000);

  it("--workshops DIR on a fresh database seeds only what DIR offers, says what it left out, and plans", async () => {
    const dir = writeCatalog({ "WKSHP-Mine": { yml: wodYml("Mine", { location: "dev", range: [1, 10] }) } });
    const r = await plan(["--workshops", dir, "--json"]);
    expect(r.stderr).toMatch(/left out: demo registrations for Python101: no workshop named Python101/);
    noStackTrace(r.stderr);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ contents: 1, accounts: 0, studentServers: 3 });
  }, 120_000);

  it("a catalog folder that does not exist is bad input: exit 2 (as the README says), and nothing is written", async () => {
    const r = await plan(["--workshops", path.join(os.tmpdir(), "no-such-catalog-here")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--workshops \S*no-such-catalog-here: no such folder/);
    expect(fs.existsSync(path.join(r.dataDir, "pg"))).toBe(false);
  }, 120_000);

  it("a broken active workshop: the healthy ones are planned, it is listed with every error of every file, and the plan exits 1", async () => {
    const notebook = (...lines: string[]) => JSON.stringify({ cells: [{ cell_type: "markdown", metadata: {}, source: lines }], metadata: {}, nbformat: 4, nbformat_minor: 5 }, null, 1);
    const lab = notebook("{{ FIRST_MISSING }}\n", "{{ hostvars[inventory_hostname]['IP-WKSHP-Elsewhere'] }}\n");
    const lineOf = (needle: string) => lab.slice(0, lab.indexOf(needle)).split("\n").length;
    const dir = writeCatalog({
      "WKSHP-Fine": { yml: wodYml("Fine", { location: "dev", range: [1, 10] }) },
      "WKSHP-Broken": { yml: wodYml("Broken", { location: "dev", range: [50, 70], capacity: "lots" }), files: { "1-Lab.ipynb": lab, "2-Bad.ipynb": "{ not json" } },
      "WKSHP-Retired": { yml: wodYml("Retired", { location: "dev", range: [11, 20], active: false }), files: { "1-Lab.ipynb": notebook("{{ RETIRED_MISSING }}") } },
    });
    const r = await plan(["--workshops", dir]);
    noStackTrace(r.stderr);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/└─ workshop Fine +0\/5 seats used, slots 1-10/);
    expect(r.stdout).not.toMatch(/─ workshop (Broken|Retired)/);
    expect(r.stdout).toMatch(/^quarantined workshops \(2: 1 active, 1 inactive\): not planned from their folders, closed for registration$/m);
    const section = r.stdout.slice(r.stdout.indexOf("  Broken (active)"), r.stdout.indexOf("  Retired (inactive)"));
    expect(section).toMatch(/^  Broken \(active\): no good sync of it to keep: no seats; 5 errors:$/m);
    // wod.yml's errors and the templates' errors, all of them, each with its line.
    expect(section).toMatch(/error: .*WKSHP-Broken\/wod\.yml: capacity: got "lots"/);
    expect(section).toMatch(/error: .*WKSHP-Broken\/wod\.yml: range: range 50-70 is outside the slot pool 1-60 of location dev/);
    expect(section).toContain(`WKSHP-Broken/1-Lab.ipynb: line ${lineOf("FIRST_MISSING")}: 'FIRST_MISSING' is undefined: a value of your platform: set it in the stack's wod:variables`);
    expect(section).toContain(`WKSHP-Broken/1-Lab.ipynb: line ${lineOf("IP-WKSHP-Elsewhere")}: 'hostvars[inventory_hostname]['IP-WKSHP-Elsewhere']' is undefined: only this workshop's own appliance address`);
    expect(section).toContain("wod:variables: {IP-WKSHP-Elsewhere: 10.0.0.5}");
    expect(section).toMatch(/error: .*WKSHP-Broken\/2-Bad\.ipynb: .*not valid JSON/);
    expect(r.stdout).toMatch(/^  Retired \(inactive\): no good sync of it to keep: no seats; 1 error \(warnings: it is inactive\):\n    warning: .*WKSHP-Retired\/1-Lab\.ipynb: line \d+: inactive workshop, quarantined: 'RETIRED_MISSING' is undefined/m);
    expect(r.stderr).toMatch(/wod: 2 workshop\(s\) quarantined, not planned from their folders: active Broken; inactive Retired \(exit 1: fix the active ones before merging\)/);
    const j = JSON.parse((await plan(["--workshops", dir, "--json"])).stdout);
    expect(j.quarantined.map((q: { workshop: string; active: boolean; kept: boolean; errors: string[] }) => [q.workshop, q.active, q.kept, q.errors.length])).toEqual([["Broken", true, false, 5], ["Retired", false, false, 1]]);
  }, 120_000);

  it("a broken inactive workshop is a warning named as such: the plan exits 0", async () => {
    const dir = writeCatalog({
      "WKSHP-Fine": { yml: wodYml("Fine", { location: "dev", range: [1, 10] }) },
      "WKSHP-Retired": { yml: wodYml("Retired", { location: "dev", range: [11, 20], active: false, capacity: -3 }) },
    });
    const r = await plan(["--workshops", dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: .*WKSHP-Retired\/wod\.yml: capacity: inactive workshop, quarantined: got -3/m);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.stdout).toMatch(/└─ workshop Fine/);
  }, 120_000);

  it("an unreachable database is one line and exit 2, with the password hidden", async () => {
    const r = await plan([], { DATABASE_URL: "postgres://wod:hunter2@127.0.0.1:9/wod" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach the database \(postgres:\/\/wod:\*\*\*@127\.0\.0\.1:9\/wod\)/);
    expect(r.stderr).not.toMatch(/hunter2/);
    noStackTrace(r.stderr);
  }, 120_000);
});

describe("wod plan on a real database reads only", () => {
  let pg: TestPg;
  beforeAll(async () => {
    pg = await startPg();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));

  /** A platform database with the shipped catalog and two registrations, and a role that may only SELECT. */
  async function platform(): Promise<{ pool: Pool; owner: string; reader: string }> {
    const pool = await pg.fresh();
    await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
    for (const email of ["ada@example.org", "bob@example.org"]) await register(pool, { email, workshop: "Python101" });
    const db = (await pool.query("select current_database() as db")).rows[0].db as string;
    const role = `reader_${db}`;
    await pool.query(`create role ${role} login password 'reader'`);
    await pool.query(`grant select on all tables in schema public to ${role}`);
    const owner = pg.url(db);
    return { pool, owner, reader: owner.replace(/\/\/[^@]+@/, `//${role}:reader@`) };
  }

  const rows = async (pool: Pool) => ({
    workshops: (await pool.query("select * from workshops order by name")).rows,
    locations: (await pool.query("select * from locations order by name")).rows,
    migrations: (await pool.query("select * from schema_migrations order by version")).rows,
  });

  /** A branch's catalog: Python101 changed, Docker101 and GitIntro gone, one new workshop. */
  const branchCatalog = () => {
    const shipped = (name: string) => path.join(ROOT, "workshops", `WKSHP-${name}`);
    const dir = writeCatalog({ "WKSHP-Brand": { yml: wodYml("Brand", { location: "dev", range: [51, 60] }) } });
    fs.cpSync(shipped("Python101"), path.join(dir, "WKSHP-Python101"), { recursive: true });
    const yml = path.join(dir, "WKSHP-Python101", "wod.yml");
    fs.writeFileSync(yml, fs.readFileSync(yml, "utf8").replace(/^capacity: \d+$/m, "capacity: 12"));
    return dir;
  };

  it("with a SELECT-only role, --workshops DIR plans, writes nothing, and reports what the next up will sync", async () => {
    const { pool, reader } = await platform();
    const before = await rows(pool);
    const r = await plan(["--workshops", branchCatalog(), "--json"], { DATABASE_URL: reader });
    noStackTrace(r.stderr);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.counts.accounts).toBe(2);
    expect(p.nextSync.migrations).toEqual([]);
    expect(p.nextSync.catalog).toEqual([
      expect.stringMatching(/^workshop Brand: new \(active, capacity 5, slots 51-60, on dev\)$/),
      expect.stringMatching(/^workshop Python101: capacity 20 → 12/),
      "workshop Docker101: leaves the catalog (closed for registration)",
      "workshop GitIntro: leaves the catalog (closed for registration)",
    ]);
    expect(r.stderr).toMatch(/the next up will sync: workshop Docker101: leaves the catalog/);
    expect(await rows(pool)).toEqual(before);
  }, 120_000);

  it("with a writable role too, a branch's catalog never deactivates the database's workshops", async () => {
    const { pool, owner } = await platform();
    const before = await rows(pool);
    const r = await plan(["--workshops", branchCatalog()], { DATABASE_URL: owner });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/the next up will sync \(4\)/);
    expect(await rows(pool)).toEqual(before);
  }, 120_000);

  it("a database without the schema is planned as empty, told which migrations the next up applies, and left without tables", async () => {
    const db = `bare_${process.pid}`;
    await pg.server.pool.query(`create database ${db}`);
    const r = await plan(["--json"], { DATABASE_URL: pg.url(db) });
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.nextSync.migrations).toContain("001_init.sql");
    expect(p.nextSync.catalog).toContainEqual(expect.stringMatching(/^location dev: new/));
    const { Client } = await import("pg");
    const c = new Client({ connectionString: pg.url(db) });
    await c.connect();
    expect((await c.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'")).rows[0].n).toBe(0);
    await c.end();
  }, 120_000);
});
