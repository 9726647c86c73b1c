// The outbox (migration 003) against a real PostgreSQL: every change a learner must hear about
// records its message in the same transaction, whoever makes it (operator commands, an import, the
// write-back, an expiry, another application writing SQL), once per event.
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importRegistrations } from "../infra/cli/import";
import { syncCatalog } from "../infra/db/catalog-sync";
import { extendServer, revokeServer } from "../infra/db/learners";
import { cancel, extend, register, resetRegistration } from "../infra/db/registrations";
import { loadCatalog } from "../infra/catalog/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

let pg: TestPg;
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

const catalogDir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 10], capacity: 10 }) } });
const config = stackConfig();

async function platform(): Promise<Pool> {
  const pool = await pg.fresh();
  await syncCatalog(pool, config, loadCatalog(catalogDir, config).workshops);
  return pool;
}

async function book(pool: Pool, email: string, name = "") {
  const r = await register(pool, { email, name, workshop: "Python", startsAt: new Date("2026-12-01T09:00:00Z") });
  if (!r.ok) throw new Error(r.message);
  return r.id;
}

const messages = async (pool: Pool, where = "true", args: unknown[] = []) =>
  (await pool.query(`select kind, state, recipient, recipient_name, due_at, facts, last_error, dedupe_key from outbox where ${where} order by id`, args)).rows;
const kinds = async (pool: Pool, registration: string) =>
  (await messages(pool, "registration_id = $1", [registration])).map((m) => `${m.kind}:${m.state}`);

/** What the write-back does when a cohort's sync says the slot is active. */
const activate = (pool: Pool, id: string, seedId = "seed-1") =>
  pool.query("update registrations set status = 'active', username = 'student1', hub_url = 'http://eu.example.org:8000', password_seed_id = $2 where id = $1", [id, seedId]);

describe("the outbox", () => {
  it("a registration records the welcome mail and the ending-soon reminder, keyed to its end, with the learner's address and name", async () => {
    const pool = await platform();
    const id = await book(pool, "Ada@Example.org", "Ada L.");
    const rows = await messages(pool);
    expect(rows.map((m) => m.kind)).toEqual(["registration-accepted", "ending-soon"]);
    expect(rows[0]).toMatchObject({ state: "due", recipient: "ada@example.org", recipient_name: "Ada L.", facts: { workshop: "Python", slot: 1 } });
    const { ends_at } = (await pool.query("select ends_at from registrations where id = $1", [id])).rows[0];
    expect(rows[1].due_at).toEqual(ends_at); // the lead time applies when sending (stack config)
  });

  it("no message without its change: a registration whose transaction rolls back leaves none", async () => {
    const pool = await platform();
    const c = await pool.connect();
    await c.query("begin");
    const p = (await c.query("insert into participants (email) values ('x@example.org') returning id")).rows[0].id;
    await c.query("insert into registrations (participant_id, workshop, location, slot, ends_at) values ($1, 'Python', 'eu', 3, now() + interval '1 hour')", [p]);
    expect((await c.query("select count(*)::int as n from outbox")).rows[0].n).toBe(2); // inside: the change and its messages
    await c.query("rollback");
    c.release();
    expect(await messages(pool)).toEqual([]);
  });

  it("an import records each registered line's welcome mail once: importing the same file again adds nothing", async () => {
    const pool = await platform();
    const csv = "email,workshop,name\na@example.org,Python,A\nb@example.org,Python,B\nnot-an-email,Python,C\n";
    await importRegistrations(pool, csv);
    await importRegistrations(pool, csv);
    expect((await messages(pool, "kind = 'registration-accepted'")).map((m) => m.recipient)).toEqual(["a@example.org", "b@example.org"]);
  });

  it("an activation records the credentials mail once; the same write-back again adds nothing; a rotated password seed is a new credentials mail", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    await activate(pool, id);
    await activate(pool, id);
    await pool.query("update registrations set updated_at = now() where id = $1", [id]);
    const creds = await messages(pool, "kind = 'credentials-ready'");
    expect(creds).toHaveLength(1);
    expect(creds[0].facts).toMatchObject({ username: "student1", hubUrl: "http://eu.example.org:8000", passwordSeedId: "seed-1" });
    await activate(pool, id, "seed-2");
    expect((await messages(pool, "kind = 'credentials-ready'")).map((m) => [m.state, m.facts.passwordSeedId])).toEqual([["skipped", "seed-1"], ["due", "seed-2"]]);
  });

  it("an extension gives a new reminder keyed by the new end, and the old one is skipped", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    const end = await extend(pool, id, 1.5);
    const reminders = await messages(pool, "kind = 'ending-soon'");
    expect(reminders.map((m) => m.state)).toEqual(["skipped", "due"]);
    expect(reminders[0].last_error).toMatch(/superseded: the end moved/);
    expect(reminders[1].due_at).toEqual(end);
    await extend(pool, id, 1.5);
    expect((await messages(pool, "kind = 'ending-soon' and state = 'due'"))).toHaveLength(1);
  });

  it("a cancellation tells the learner and drops what no longer applies (credentials not yet sent, the reminder)", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    await activate(pool, id);
    expect(await cancel(pool, id)).toBe(true);
    expect(await kinds(pool, id)).toEqual(["registration-accepted:due", "ending-soon:skipped", "credentials-ready:skipped", "registration-cancelled:due"]);
  });

  it("an operator's reset is one mail per reset", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    await resetRegistration(pool, id);
    await resetRegistration(pool, id);
    expect((await messages(pool, "kind = 'registration-reset'")).map((m) => m.dedupe_key)).toEqual([`registration-reset:${id}:2`, `registration-reset:${id}:3`]);
  });

  it("a failed activation (the write-back, or the stuck-activation rule) sends the apology, and the seat is free for a new registration", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    await pool.query("update registrations set status = 'failed', failure_reason = 'activation did not finish within 10 minutes' where id = $1", [id]);
    expect(await kinds(pool, id)).toEqual(["registration-accepted:due", "ending-soon:skipped", "activation-failed:due"]);
    expect(await book(pool, "ada@example.org")).not.toBe(id); // may register again
  });

  it("the end of an active registration (the write-back's release) sends the final mail, with the completion written after it in the same transaction", async () => {
    const pool = await platform();
    const id = await book(pool, "ada@example.org");
    await activate(pool, id);
    const c = await pool.connect();
    await c.query("begin");
    await c.query("update registrations set status = 'released', released_at = now() where id = $1", [id]);
    await c.query("update registrations set completion = 0.75 where id = $1", [id]);
    await c.query("commit");
    c.release();
    const [ended] = await messages(pool, "kind = 'workshop-ended'");
    expect(ended).toMatchObject({ state: "due", facts: { completion: 0.75 } });
    // A cancelled registration's later release is not a second mail.
    const other = await book(pool, "bob@example.org");
    await cancel(pool, other);
    await pool.query("update registrations set released_at = now() where id = $1", [other]);
    expect(await kinds(pool, other)).toEqual(["registration-accepted:due", "ending-soon:skipped", "registration-cancelled:due"]);
  });

  it("a student server's life: granted with its address, warned when idle (again after a new warning, dropped when a login lifts it), removed with its snapshot (what was not sent by then is dropped)", async () => {
    const pool = await platform();
    const l = (await pool.query("insert into learners (email, region) values ('lin@example.org', 'fra1') returning id::text")).rows[0].id;
    await pool.query("insert into student_servers (learner_id, droplet_id, ipv4, region) values ($1, 'd1', '192.0.2.7', 'fra1')", [l]);
    await pool.query("update student_servers set warned_at = '2026-12-01T09:00:00Z' where learner_id = $1", [l]);
    await extendServer(pool, l, 7, config); // clears the warning
    await pool.query("update student_servers set warned_at = '2026-12-20T09:00:00Z' where learner_id = $1", [l]);
    await revokeServer(pool, l);
    await pool.query("update student_servers set snapshot_id = 'snap-9', snapshot_at = now() where learner_id = $1", [l]);
    await pool.query("update student_servers set removed_at = now(), removal_reason = 'admin', ipv4 = null where learner_id = $1", [l]);
    const rows = await messages(pool, "learner_id = $1", [l]);
    expect(rows.map((m) => `${m.kind}:${m.state}`)).toEqual([
      "server-granted:skipped", "server-idle-warning:skipped", "server-idle-warning:skipped", "server-removed:due",
    ]);
    expect(rows[0]).toMatchObject({ recipient: "lin@example.org", facts: { ipv4: "192.0.2.7", region: "fra1" } });
    expect(rows[1].last_error).toMatch(/lifted/);
    expect(rows[2].last_error).toMatch(/removed/);
    expect(rows[3].facts).toMatchObject({ ipv4: "192.0.2.7", snapshotId: "snap-9", removalReason: "admin" });
  });

  it("wakes a waiting worker: one NOTIFY per statement, however many messages it adds", async () => {
    const pool = await platform();
    const listener = await pool.connect();
    const got: string[] = [];
    listener.on("notification", (n) => got.push(n.channel));
    await listener.query("listen wod_outbox");
    await importRegistrations(pool, "a@example.org,Python\n");
    const end = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(got[0]).toBe("wod_outbox");
    listener.release();
  });
});
