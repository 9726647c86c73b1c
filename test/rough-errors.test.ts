// Mistakes an operator makes following the README, each answered by one line that says what is
// wrong and the exit code the README promises (2: bad input, config or database; 1: nothing to act
// on) — never an Automation API dump, a raw errno or a misleading "unknown option"; and the admin
// commands on student servers act on what the plan shows and keep the server's history.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { ROOT } from "../infra/load";
import { KEY_A } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const BIN = path.join(ROOT, "infra/cli/bin.js");
const UNREACHABLE = "postgres://nobody:secret@127.0.0.1:9/none";
const DAY = 86_400_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

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
/** stderr without the catalog's info lines (WoD fields without effect), which every plan prints. */
const errors = (text: string) => lines(text).filter((l) => !l.startsWith("info: "));

let pg: TestPg;
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

async function platform(): Promise<{ pool: Pool; url: string }> {
  const pool = await pg.fresh();
  const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
  await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
  return { pool, url: pg.url((await pool.query("select current_database() as db")).rows[0].db) };
}

async function learner(pool: Pool, email: string, passed: Record<string, Date>, region = "fra1"): Promise<string> {
  const id = (await pool.query("insert into learners (email, ssh_public_key, region) values ($1, $2, $3) returning id::text", [email, KEY_A, region])).rows[0].id;
  for (const [lesson, at] of Object.entries(passed)) await pool.query("insert into lesson_progress values ($1, $2, $3)", [id, lesson, at]);
  return id;
}

async function planned(url: string, learnerId: string) {
  const r = await wod(["plan", "--json"], { DATABASE_URL: url });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout).studentServers as { learnerId: string; expiresAt: string }[]).find((s) => s.learnerId === learnerId);
}

describe("rough errors", () => {
  it("migrate-state without the Pulumi CLI says so in one line (exit 2), not an Automation API dump", async () => {
    const r = await wod(["migrate-state", "--stack", "dev", "--dry-run"], { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, WOD_PULUMI_ORG: "acme" });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^wod: migrate-state needs the Pulumi CLI, and no `pulumi` is on PATH: install it \(https:\/\/www\.pulumi\.com\/docs\/install\/\)/)]);
  });

  it("plan --workshops with a folder that does not exist is bad input (exit 2), not a catalog error", async () => {
    const r = await wod(["plan", "--workshops", "/nonexistent"], { DATABASE_URL: UNREACHABLE });
    expect(r.code).toBe(2);
    expect(errors(r.stderr)).toEqual(["wod: --workshops /nonexistent: no such folder"]);
  });

  it("a negative id is refused as an id, not as an unknown option", async () => {
    for (const command of ["reset", "cancel", "server-revoke"]) {
      const r = await wod([command, "-1"], { DATABASE_URL: UNREACHABLE });
      expect(r.code, command).toBe(2);
      expect(lines(r.stderr), command).toEqual([expect.stringMatching(new RegExp(`^wod: ${command}: a (registration|learner) id: expected a positive whole number, got '-1'$`))]);
    }
  });

  it("a DATABASE_URL that is not a PostgreSQL URL is named as such (exit 2), never looked up as a host", async () => {
    for (const args of [["cancel", "1"], ["plan"]]) {
      const r = await wod(args, { DATABASE_URL: "garbage" });
      expect(r.code, args[0]).toBe(2);
      expect(errors(r.stderr), args[0]).toEqual(["wod: DATABASE_URL is not a PostgreSQL URL: expected postgres://USER:PASSWORD@HOST[:PORT]/DATABASE"]);
    }
    // A secret pasted by mistake is never echoed.
    const leaked = await wod(["cancel", "1"], { DATABASE_URL: "s3cr3t-password" });
    expect(leaked.stderr).not.toContain("s3cr3t");
  });

  it("--stack with no stack file names the file and the stacks there are (exit 2), not a raw ENOENT", async () => {
    for (const args of [["plan", "--stack", "nosuch"], ["register", "--email", "a@example.org", "--workshop", "Python101", "--stack", "nosuch"]]) {
      const r = await wod(args, { DATABASE_URL: UNREACHABLE });
      expect(r.code, args[0]).toBe(2);
      expect(errors(r.stderr), args[0]).toEqual(["wod: --stack nosuch: no stack file Pulumi.nosuch.yaml here (stacks: dev, prod)"]);
    }
  });
});

describe("admin commands on student servers", () => {
  it("server-extend keeps a server the plan shows as active but no up has written back yet; an ineligible learner is exit 1 with the reason", async () => {
    const { pool, url } = await platform();
    const granted = await learner(pool, "nia@example.org", { js4: new Date(Date.now() - DAY) });
    const before = await planned(url, granted);
    expect(before).toBeDefined();
    const r = await wod(["server-extend", granted, "--days", "30"], { DATABASE_URL: url });
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^learner ${granted}'s server is kept until at least `)) });
    const after = await planned(url, granted);
    expect(new Date(after!.expiresAt).getTime()).toBeGreaterThan(Date.now() + 30 * DAY);
    // The write-back of the server's droplet later fills in the row the extension made.
    expect((await pool.query("select region, droplet_id from student_servers where learner_id = $1", [granted])).rows).toEqual([{ region: "fra1", droplet_id: null }]);

    const notYet = await learner(pool, "uma@example.org", { js1: new Date() });
    const refused = await wod(["server-extend", notYet, "--days", "30"], { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(lines(refused.stderr)).toEqual([`learner ${notYet} has no student server and gets none: grant lesson js4 not passed`]);
    expect((await pool.query("select count(*)::int as n from student_servers where learner_id = $1", [notYet])).rows[0].n).toBe(0);
  }, 120_000);

  it("server-restore keeps the removed server's history (its snapshot above all) and lets the learner get a new one", async () => {
    const { pool, url } = await platform();
    const id = await learner(pool, "raj@example.org", { js4: new Date(Date.now() - 60 * DAY) });
    await pool.query(
      `insert into student_servers (learner_id, droplet_id, region, created_at, removed_at, removal_reason, snapshot_id, snapshot_at)
       values ($1, '4101', 'fra1', now() - interval '50 days', now() - interval '2 days', 'idle', 'snap-77', now() - interval '2 days')`,
      [id],
    );
    expect(await planned(url, id)).toBeUndefined();
    const r = await wod(["server-restore", id], { DATABASE_URL: url });
    expect(r).toMatchObject({ code: 0 });
    expect((await pool.query("select droplet_id, removal_reason, snapshot_id, restored_at is not null as restored from student_server_history where learner_id = $1", [id])).rows)
      .toEqual([{ droplet_id: "4101", removal_reason: "idle", snapshot_id: "snap-77", restored: true }]);
    expect(await planned(url, id)).toBeDefined();
    expect(await wod(["server-restore", id], { DATABASE_URL: url })).toMatchObject({ code: 1 });
  }, 120_000);

  it("server-restore of a revoked server not removed yet cancels the revocation, keeping the server", async () => {
    const { pool, url } = await platform();
    const id = await learner(pool, "omar@example.org", { js4: new Date(Date.now() - 30 * DAY) });
    await pool.query("insert into student_servers (learner_id, droplet_id, region, created_at, last_ssh_at, revoked_at) values ($1, '4102', 'fra1', now() - interval '20 days', now(), now())", [id]);
    expect(await planned(url, id)).toBeUndefined();
    expect(await wod(["server-restore", id], { DATABASE_URL: url })).toMatchObject({ code: 0, stdout: expect.stringMatching(/revocation .* cancelled/) });
    expect((await pool.query("select droplet_id, revoked_at from student_servers where learner_id = $1", [id])).rows).toEqual([{ droplet_id: "4102", revoked_at: null }]);
    expect(await planned(url, id)).toBeDefined();
  }, 120_000);
});
