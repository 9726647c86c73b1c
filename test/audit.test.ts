// The audit trail (migration 006) against a real PostgreSQL, through the commands as an operator
// types them (`wod …`, the package's bin): who did what, asked what, changed what; append-only for
// the application's own role; a change and its entry commit together; a read-only role's plans and
// views are recorded as that role; a change made outside wod still reads in the learner's story.
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
import { ROOT } from "../infra/load";
import { startPg, type TestPg } from "./support/pg";

const BIN = path.join(ROOT, "infra/cli/bin.js");

async function wod(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, WOD_ACTOR: "", ...env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let pg: TestPg;
const dirs: string[] = [];
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

async function platform(): Promise<{ pool: Pool; url: string; db: string }> {
  const pool = await pg.fresh();
  const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
  await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
  const db = (await pool.query("select current_database() as db")).rows[0].db as string;
  return { pool, url: pg.url(db), db };
}

async function readOnlyRole(pool: Pool, db: string, url: string): Promise<string> {
  await pool.query(`create role ro_${db} login password 'ro'`);
  await pool.query(`grant select on all tables in schema public to ro_${db}`);
  return url.replace(/\/\/[^@]+@/, `//ro_${db}:ro@`);
}

const entries = async (pool: Pool) =>
  (await pool.query("select run::text, actor, db_role, command, request, changes, outcome, exit_code, error from audit_log order by id")).rows;

describe("the audit trail", () => {
  it("is append-only, even for the role that owns it: update, delete and truncate are refused", async () => {
    const { pool, url } = await platform();
    expect((await wod(["register", "--email", "ada@example.org", "--workshop", "Python101"], { DATABASE_URL: url })).code).toBe(0);
    for (const table of ["audit_log", "audit_events"]) {
      for (const sql of [`update ${table} set actor = 'mallory'`, `delete from ${table}`, `truncate ${table}`]) {
        await expect(pool.query(sql), sql).rejects.toThrow(/append-only/);
      }
    }
    expect((await entries(pool)).map((e) => e.actor)).not.toContain("mallory");
    expect(Number((await pool.query("select count(*) from audit_events")).rows[0].count)).toBe(1);
  });

  it("records every operator command: who (--actor, else the OS user), what it asked, what it changed, its outcome", async () => {
    const { pool, url } = await platform();
    const env = { DATABASE_URL: url };
    const reg = await wod(["register", "--email", "ada@example.org", "--name", "Ada", "--workshop", "Python101", "--actor", "alice"], env);
    const id = /registration (\d+)/.exec(reg.stdout)![1];
    const csv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wod-audit-")), "cohort.csv");
    dirs.push(path.dirname(csv));
    fs.writeFileSync(csv, "email,workshop\ngrace@example.org,GitIntro\nnot-an-email,GitIntro\n");
    await wod(["import", csv, "--actor", "bob"], env);
    await wod(["extend", id, "--hours", "1.5"], env);
    await wod(["reset", id], env);
    await wod(["cancel", id], env);
    await wod(["cancel", id], env); // nothing to act on the second time
    await wod(["register", "--email", "eve@example.org", "--workshop", "NoSuchWorkshop"], env);

    const log = await entries(pool);
    const me = os.userInfo().username;
    expect(log.map((e) => [e.command, e.actor, e.outcome, e.exit_code])).toEqual([
      ["register", "alice", "done", 0],
      ["import", "bob", "refused", 3],
      ["extend", me, "done", 0],
      ["reset", me, "done", 0],
      ["cancel", me, "done", 0],
      ["cancel", me, "nothing-to-act-on", 1],
      ["register", me, "refused", 3],
    ]);
    expect(log[0].request).toMatchObject({ email: "ada@example.org", name: "Ada", workshop: "Python101" });
    expect(log[1].changes).toMatchObject({ registered: 1, rejected: 1, events: { registered: 1 } });
    expect(log[2]).toMatchObject({ request: { id, hours: "1.5" }, changes: { events: { extended: 1 } } });
    expect(log[5].changes).toEqual({});
    // Each event names the run of the command that caused it.
    const events = (await pool.query("select e.event, l.command, e.actor from audit_events e left join audit_log l on l.run = e.run where e.registration_id = $1 order by e.id", [id])).rows;
    expect(events).toEqual([
      { event: "registered", command: "register", actor: "alice" },
      { event: "extended", command: "extend", actor: me },
      { event: "reset", command: "reset", actor: me },
      { event: "cancelled", command: "cancel", actor: me },
    ]);
  }, 120_000);

  it("a change and its entry commit together: when the entry cannot be written, the registration is not kept either", async () => {
    const { pool, url } = await platform();
    // An administrator's (hostile) trigger makes every new entry fail.
    await pool.query("create function refuse_entries() returns trigger language plpgsql as $$ begin raise exception 'no entries today'; end $$");
    await pool.query("create trigger refuse_entries before insert on audit_log for each row execute function refuse_entries()");
    const r = await wod(["register", "--email", "ada@example.org", "--workshop", "Python101"], { DATABASE_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no entries today");
    expect(r.stdout).toBe(""); // nothing claimed that did not happen
    expect(Number((await pool.query("select count(*) from registrations")).rows[0].count)).toBe(0);
    expect(Number((await pool.query("select count(*) from audit_events")).rows[0].count)).toBe(0);
  }, 60_000);

  it("records a plan and a status run with a SELECT-only role, as that role, and writes nothing else", async () => {
    const { pool, url, db } = await platform();
    await wod(["register", "--email", "ada@example.org", "--workshop", "Python101"], { DATABASE_URL: url });
    const reader = await readOnlyRole(pool, db, url);
    const before = (await pool.query("select * from registrations")).rows;
    const plan = await wod(["plan", "--json", "--actor", "github:ci"], { DATABASE_URL: reader });
    expect(plan.code).toBe(0);
    JSON.parse(plan.stdout); // still pure JSON
    const status = await wod(["status", "--json"], { DATABASE_URL: reader });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).totals.used).toBe(1);
    expect((await pool.query("select * from registrations")).rows).toEqual(before);
    const log = (await entries(pool)).filter((e) => e.command !== "register");
    expect(log.map((e) => [e.command, e.actor, e.db_role, e.outcome])).toEqual([
      ["plan", "github:ci", `ro_${db}`, "planned"],
      ["status", os.userInfo().username, `ro_${db}`, "shown"],
    ]);
    expect(log[0].changes.counts).toMatchObject({ backends: 1 });
    // The read-only role can append through audit_record() only: it still cannot write the table itself.
    const ro = new (await import("pg")).Pool({ connectionString: reader });
    await expect(ro.query("insert into audit_log (run, started_at, actor, command, outcome) values (gen_random_uuid(), now(), 'x', 'plan', 'x')")).rejects.toThrow(/permission denied/);
    await ro.end();
  }, 120_000);

  it("a plan or status against a database without the trail still works, and says it was not recorded", async () => {
    const { pool, url } = await platform();
    await pool.query("drop function audit_record(jsonb)");
    const plan = await wod(["plan", "--summary"], { DATABASE_URL: url });
    expect(plan.code).toBe(0);
    expect(plan.stderr).toContain("audit: plan not recorded");
  }, 60_000);

  it("a change made outside wod (psql, a portal) is still in the learner's story, named by its database role", async () => {
    const { pool, url, db } = await platform();
    const reg = await wod(["register", "--email", "ada@example.org", "--workshop", "Python101"], { DATABASE_URL: url });
    const id = /registration (\d+)/.exec(reg.stdout)![1];
    await pool.query("update registrations set ends_at = ends_at + interval '2 hours' where id = $1", [id]);
    const h = await wod(["history", "--registration", id], { DATABASE_URL: url });
    expect(h.code).toBe(0);
    const lines = h.stdout.trim().split("\n");
    expect(lines[1]).toMatch(/#\d+\s+registered\s+ada@example.org in Python101 slot 1 on dev/);
    expect(lines[2]).toMatch(/extended .* by database role /);
    expect(db).toBeTruthy();
    expect((await wod(["history", "--registration", "999999"], { DATABASE_URL: url })).code).toBe(1);
  }, 60_000);

  it("wod history refuses what it cannot answer, before touching the database", async () => {
    const bad = "postgres://nobody:secret@127.0.0.1:9/none";
    for (const args of [["--registration", "1", "--since", "1h"], ["--since", "yesterday"], ["--registration", "x"], ["--learner", "nobody"], ["--limit", "0"]]) {
      const r = await wod(["history", ...args], { DATABASE_URL: bad });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).not.toContain("cannot reach");
    }
  }, 60_000);
});
