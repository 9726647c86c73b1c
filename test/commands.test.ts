// The operator commands as an operator types them (`wod …`, the package's bin): ordinary bad
// input is one line and a documented exit code, never a stack trace; `--help` exits 0; a
// cohort imports from CSV line by line; pipelines get pure output and end quietly.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { importRegistrations } from "../infra/cli/import";
import { syncCatalog } from "../infra/db/catalog-sync";
import { ROOT } from "../infra/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const BIN = path.join(ROOT, "infra/cli/bin.js");
const UNREACHABLE = "postgres://nobody:secret@127.0.0.1:9/none";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `wod ARGS` exactly as `npx wod ARGS` runs it (the package's bin). */
async function wod(args: string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const lines = (text: string) => text.trim().split("\n").filter(Boolean);

let pg: TestPg;
const dirs: string[] = [];
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

/** A platform database with the shipped catalog synced, and its URL. */
async function platform(): Promise<{ pool: Pool; url: string }> {
  const pool = await pg.fresh();
  const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
  await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
  return { pool, url: pg.url((await pool.query("select current_database() as db")).rows[0].db) };
}

describe("wod commands", () => {
  it("--help prints the usage and exits 0, for every command", async () => {
    for (const args of [["--help"], ["help"], ["plan", "--help"], ["reconcile", "--help"], ["migrate", "--help"], ["register", "--help"], ["import", "-h"], ["cancel", "--help"]]) {
      const r = await wod(args, { DATABASE_URL: UNREACHABLE });
      expect(r, args.join(" ")).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^usage: wod/);
      expect(r.stdout).toMatch(/exit codes: /);
    }
  }, 120_000);

  it("ordinary bad input is one line and exit 2, decided before any database is touched", async () => {
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["--bogus"], /unknown command '--bogus'/],
      [["register", "--bogus"], /unknown option --bogus/],
      [["register", "--email", "a@example.org"], /--workshop is required/],
      [["cancel", "abc"], /registration id: expected a positive whole number, got 'abc'/],
      [["cancel"], /a registration id is required/],
      [["cancel", "12", "13"], /unexpected argument '13'/],
      [["cancel", "12", "--hours", "2"], /cancel does not take --hours/],
      [["extend", "12", "--hours", "abc"], /--hours: expected a positive number of hours, got 'abc'/],
      [["extend", "12", "--hours", "0"], /--hours: expected a positive number/],
      [["extend", "12", "--hours", "-2"], /option --hours needs a value/],
      [["extend", "12", "--hours", "100000"], /100000 hours is more than the 168 hours one command may grant/],
      [["extend", "12"], /--hours is required/],
      [["server-extend", "7", "--days", "1000"], /more than the 365 days/],
      [["import"], /a CSV file is required/],
      [["import", "/nonexistent.csv"], /cannot read \/nonexistent\.csv: ENOENT/],
      [["plan", "--stack", "../../etc/passwd"], /--stack: '\.\.\/\.\.\/etc\/passwd' is not a stack name/],
      [["plan", "--now", "yesterday"], /--now: not a date: yesterday/],
      [["plan", "--bogus"], /unknown option --bogus \(see wod plan --help\)/],
      [["reconcile"], /--stack is required/],
      [["reconcile", "--stack", "dev", "--every", "0m"], /--every: expected a period/],
    ];
    for (const [args, reason] of cases) {
      const r = await wod(args, { DATABASE_URL: UNREACHABLE, WOD_PULUMI_ORG: "acme" });
      expect(r.code, args.join(" ")).toBe(2);
      expect(lines(r.stderr), args.join(" ")).toEqual([expect.stringMatching(reason)]);
      expect(r.stderr).toMatch(/^wod: /);
    }
  }, 180_000);

  it("a reconcile without the Pulumi stack's fully qualified name says how to give it (exit 2)", async () => {
    const r = await wod(["reconcile", "--stack", "dev"], { DATABASE_URL: UNREACHABLE, WOD_PULUMI_ORG: "", WOD_PULUMI_STACK: "" });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/set WOD_PULUMI_ORG .* or pass --pulumi-stack ORG\/wod\/dev/)]);
  });

  it("a bad e-mail is a refusal with its reason (exit 3), not a database constraint error", async () => {
    const { url, pool } = await platform();
    const r = await wod(["register", "--email", "not an email", "--workshop", "Python101"], { DATABASE_URL: url });
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toEqual(["refused (invalid-email): 'not an email' is not an e-mail address"]);
    expect((await pool.query("select count(*)::int as n from participants")).rows[0].n).toBe(0);
  }, 60_000);

  it("extend --hours 1.5 moves the end by 90 minutes; a registration that is not live is exit 1", async () => {
    const { url } = await platform();
    const reg = await wod(["register", "--email", "ada@example.org", "--workshop", "Python101"], { DATABASE_URL: url });
    expect(reg.code).toBe(0);
    const [, id, until] = /^registration (\d+): .* until (\S+)$/.exec(reg.stdout.trim())!;
    const ext = await wod(["extend", id, "--hours", "1.5"], { DATABASE_URL: url });
    expect(ext).toMatchObject({ code: 0 });
    expect(new Date(/now ends (\S+)$/.exec(ext.stdout.trim())![1]).getTime() - new Date(until).getTime()).toBe(90 * 60_000);
    expect(await wod(["cancel", id], { DATABASE_URL: url })).toMatchObject({ code: 0 });
    expect(await wod(["cancel", id], { DATABASE_URL: url })).toMatchObject({ code: 1, stderr: `no live registration ${id}\n` });
  }, 60_000);

  it("a database error (a role that may only read) is one line naming the cause, exit 2", async () => {
    const { pool, url } = await platform();
    const db = (await pool.query("select current_database() as db")).rows[0].db;
    await pool.query(`create role ro_${db} login password 'ro'`);
    await pool.query(`grant select on all tables in schema public to ro_${db}`);
    const r = await wod(["cancel", "1"], { DATABASE_URL: url.replace(/\/\/[^@]+@/, `//ro_${db}:ro@`) });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^wod: database error \(42501\): permission denied/)]);
  }, 60_000);

  it("on a real database, a command never syncs the checkout's catalog into it", async () => {
    const pool = await pg.fresh();
    const config = stackConfig();
    await syncCatalog(pool, config, loadCatalog(writeCatalog({ "WKSHP-A": { yml: wodYml("A") } }), config).workshops);
    const before = (await pool.query("select * from workshops order by name")).rows;
    const url = pg.url((await pool.query("select current_database() as db")).rows[0].db);
    const r = await wod(["register", "--email", "ada@example.org", "--workshop", "A"], { DATABASE_URL: url });
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^registration \d+: A slot 1 .* on eu/) });
    expect((await pool.query("select * from workshops order by name")).rows).toEqual(before);
  }, 60_000);

  it("on a real database that lacks migrations, a command says to run wod migrate (exit 2) and changes nothing", async () => {
    const db = `bare_${process.pid}`;
    await pg.server.pool.query(`create database ${db}`);
    const r = await wod(["cancel", "1"], { DATABASE_URL: pg.url(db) });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/lacks migrations 001_init\.sql.*: run `wod migrate`/)]);
    const m = await wod(["migrate"], { DATABASE_URL: pg.url(db) });
    expect(m).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied 001_init\.sql/) });
    expect(await wod(["cancel", "1"], { DATABASE_URL: pg.url(db) })).toMatchObject({ code: 1, stderr: "no live registration 1\n" });
  }, 60_000);

  it("two commands at once on the embedded database both run (one waits for the other), no crash", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-cmd-"));
    dirs.push(dataDir);
    fs.chmodSync(dataDir, 0o755);
    const env = { DATABASE_URL: "", WOD_DATA_DIR: path.join(dataDir, "pg") };
    const runs = await Promise.all([
      wod(["register", "--email", "ada@example.org", "--workshop", "GitIntro"], env),
      wod(["register", "--email", "bob@example.org", "--workshop", "GitIntro"], env),
      wod(["plan", "--summary"], env),
    ]);
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(0);
    }
    const slots = runs.slice(0, 2).map((r) => /slot (\d+)/.exec(r.stdout)![1]);
    expect(new Set(slots).size).toBe(2);
  }, 180_000);
});

describe("wod import FILE.csv", () => {
  const csv = (text: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-csv-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "cohort.csv"), text);
    return path.join(dir, "cohort.csv");
  };

  const COHORT = [
    "email,workshop,name,location,startsAt",
    "ada@example.org,Python101,\"Lovelace, Ada\",dev,2026-11-25T09:00:00Z",
    "not-an-email,Python101",
    "bob@example.org,NoSuchWorkshop",
    "",
    "cyd@example.org,GitIntro,Cyd,,not a date",
    "dee@example.org,GitIntro,\"Dee",
    "eve@example.org,GitIntro,Eve,dev,2026-11-25T09:00:00Z,extra",
    "fay@example.org,Docker101",
    ",Docker101",
  ].join("\n");

  it("each bad line is reported with its number and reason, the good lines are registered, and a second run registers nothing twice", async () => {
    const { pool, url } = await platform();
    const file = csv(COHORT);
    const first = await wod(["import", file], { DATABASE_URL: url });
    expect(first.code).toBe(3);
    expect(lines(first.stdout)).toEqual([
      expect.stringMatching(/^line 2: registered ada@example\.org in Python101: registration \d+, slot 1 on dev, until 2026-11-25T13:00:00\.000Z$/),
      "line 3: rejected: refused (invalid-email): 'not-an-email' is not an e-mail address",
      "line 4: rejected: refused (unknown-workshop): no workshop named NoSuchWorkshop in the catalog",
      "line 6: rejected: startsAt 'not a date' is not a date (ISO 8601, e.g. 2026-12-01T09:00:00Z)",
      "line 7: rejected: a quoted field is not closed on this line",
      "line 8: rejected: 6 fields, at most 5 expected (email,workshop,name,location,startsAt)",
      expect.stringMatching(/^line 9: registered fay@example\.org in Docker101: registration \d+, slot 21 on dev/),
      "line 10: rejected: email is missing",
      "import: 2 registered, 0 already registered, 6 rejected",
    ]);
    expect((await pool.query("select name from participants where email = 'ada@example.org'")).rows[0].name).toBe("Lovelace, Ada");

    const again = await wod(["import", file, "--json"], { DATABASE_URL: url });
    expect(again.code).toBe(3);
    const report = JSON.parse(again.stdout);
    expect(report).toMatchObject({ registered: 0, alreadyRegistered: 2, rejected: 6 });
    expect(report.lines[0]).toMatchObject({ line: 2, outcome: "already-registered", reason: expect.stringMatching(/already holds slot 1 of Python101/) });
    expect((await pool.query("select count(*)::int as n from registrations")).rows[0].n).toBe(2);
  }, 60_000);

  it("a file without a header takes the columns in order; a header with an unknown column imports nothing (exit 2)", async () => {
    const { pool, url } = await platform();
    expect((await wod(["import", csv("ada@example.org,GitIntro\r\nbob@example.org,GitIntro,Bob\r\n")], { DATABASE_URL: url })).code).toBe(0);
    expect((await pool.query("select count(*)::int as n from registrations")).rows[0].n).toBe(2);
    const bad = await wod(["import", csv("email,workshop,seat\ncyd@example.org,GitIntro,3\n")], { DATABASE_URL: url });
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/line 1: unknown column 'seat' \(columns: email, workshop, name, location, startsAt\)/)]);
    expect((await pool.query("select count(*)::int as n from registrations")).rows[0].n).toBe(2);
  }, 60_000);
});

describe("wod plan in a pipeline", () => {
  it("with a few hundred accounts, --json piped into head ends quietly with exit 0 (no EPIPE)", async () => {
    const pool = await pg.fresh();
    const prod = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    const dir = writeCatalog({ "WKSHP-Big": { yml: wodYml("Big", { range: [1, 400], capacity: 400 }) } });
    await syncCatalog(pool, prod, loadCatalog(dir, prod).workshops);
    const cohort = ["email,workshop", ...Array.from({ length: 300 }, (_, i) => `p${i}@example.org,Big`)].join("\n");
    expect(await importRegistrations(pool, cohort)).toMatchObject({ registered: 300, rejected: 0 });
    const url = pg.url((await pool.query("select current_database() as db")).rows[0].db);

    const full = await wod(["plan", "--stack", "prod", "--workshops", dir, "--json"], { DATABASE_URL: url });
    expect(full.stdout.length).toBeGreaterThan(128 * 1024); // beyond a pipe's 64 KiB buffer
    expect(JSON.parse(full.stdout).counts.accounts).toBe(300);

    // `… plan --json | head -c 100`: the reader goes away long before the plan is written, through
    // the bin (`npx wod`) and through `npm run` (tsx's CLI, where stdout writes are asynchronous).
    for (const command of [`"${process.execPath}" "${BIN}" plan`, "npm run -s plan --"]) {
      const pipeline = `${command} --stack prod --workshops "${dir}" --json 2>"${dir}/stderr" | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`;
      const { stdout } = await promisify(execFile)("bash", ["-c", pipeline], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } });
      const stderr = fs.readFileSync(path.join(dir, "stderr"), "utf8");
      expect(stderr, command).not.toMatch(/EPIPE|\n\s+at /);
      expect(stdout.trim(), command).toBe("0");
    }
  }, 120_000);
});
