// The audit trail of reconciles, against a real PostgreSQL and the real stack program under
// Pulumi's mock runtime with the scripted engine: each run's entry (trigger, who, outcome, what
// it changed, the Pulumi update), the write-back's events tagged with that run, and a learner's
// whole story — registered, activated, extended, released with completion — as one timeline.
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../infra/config";
import type { Database } from "../infra/db/connect";
import { audited, newAuditContext } from "../infra/audit/record";
import { extend, register } from "../infra/db/registrations";
import { revokeServer } from "../infra/db/learners";
import { reconcile } from "../infra/reconcile/run";
import type { ServerRemover } from "../infra/reconcile/servers";
import { readEntries, readTimeline } from "../infra/view/history";
import { renderEntries, renderTimeline } from "../infra/cli/history";
import { MockEngine } from "./reconcile/mock-engine";
import { KEY_A, KEY_B, wodYml, writeCatalog } from "./support/fixtures";
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

const HOUR = 3_600_000;
const T0 = new Date("2026-11-23T09:00:00Z");
const catalogDir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 20], capacity: 20, duration: 2 }) } });
const config = parseStackConfig({
  locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
  adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
  studentServers: { enabled: true, allowedRegions: ["fra1"], idleDays: 14, warningDays: 3 },
}, "test");

async function platform() {
  const pool = await pg.fresh();
  const { loadCatalog } = await import("../infra/catalog/load");
  const { syncCatalog } = await import("../infra/db/catalog-sync");
  await syncCatalog(pool, config, loadCatalog(catalogDir, config).workshops);
  const db: Database = { pool, describe: "test", close: async () => {} };
  const engine = new MockEngine();
  const run = (now: Date, actor: string, extra: { servers?: ServerRemover } = {}) =>
    reconcile({
      stack: "test", config, db, engine, now: () => now, sleep: async () => {},
      declare: (d, c) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>,
      audit: { ...newAuditContext(), actor, trigger: "schedule", request: { pulumiStack: "acme/wod/test" } },
      ...extra,
    });
  return { pool, engine, run };
}

/** An operator command as `wod` runs it: its change and its entry in one transaction. */
function asOperator<T>(pool: Pool, actor: string, command: string, work: (c: import("pg").PoolClient) => Promise<T>) {
  return audited(pool, { ...newAuditContext(), actor }, { command }, async (c) => ({ result: await work(c), outcome: "done", exitCode: 0 }));
}

describe("reconciles in the audit trail", () => {
  it("a learner's story reads as one timeline: registered, activated, extended, released with completion — each step naming who and which run", async () => {
    const p = await platform();
    const r = await asOperator(p.pool, "alice", "register", (c) => register(c, { email: "ada@example.org", workshop: "Python", startsAt: T0 }));
    if (!r.ok) throw new Error(r.message);
    const first = await p.run(new Date(T0.getTime() + 60_000), "wod-cron");
    expect(first).toMatchObject({ exitCode: 0, pulumiVersion: 1 });
    await asOperator(p.pool, "bob", "extend", (c) => extend(c, r.id, 1));
    const second = await p.run(new Date(T0.getTime() + 3.5 * HOUR), "wod-cron"); // past the extended end
    expect(second.writeBack).toMatchObject({ released: 1 });

    const t = await readTimeline(p.pool, { learner: "Ada@Example.org" });
    expect(t.events.map((e) => [e.event, e.actor, e.command])).toEqual([
      ["registered", "alice", "register"],
      ["activated", "wod-cron", "reconcile"],
      ["extended", "bob", "extend"],
      ["released", "wod-cron", "reconcile"],
      ["completion", "wod-cron", "reconcile"],
    ]);
    const text = renderTimeline(t);
    expect(text).toMatch(/registered\s+ada@example.org in Python slot 1 on eu/);
    expect(text).toMatch(/activated\s+student1 at http:\/\/eu.example.org:8000 +by wod-cron \(reconcile, schedule\)/);
    expect(text).toMatch(/extended\s+until 2026-11-23 12:00:00 \(was 2026-11-23 11:00:00\) +by bob \(extend\)/);
    expect(text).toMatch(/released\s+completion 50% +by wod-cron \(reconcile, schedule\)/); // the host's ratio, read back

    // Each run is one entry: trigger, who, what it asked and changed, the Pulumi update it made.
    const runs = (await readEntries(p.pool, {})).filter((e) => e.command === "reconcile");
    expect(runs.map((e) => [e.trigger, e.actor, e.outcome, e.exitCode, e.pulumiVersion])).toEqual([
      ["schedule", "wod-cron", "converged", 0, 1],
      ["schedule", "wod-cron", "converged", 0, 2],
    ]);
    expect(runs[0].request).toEqual({ pulumiStack: "acme/wod/test" });
    expect(runs[0].changes).toMatchObject({ accounts: { added: 1 }, writtenBack: { activated: 1 } });
    expect(runs[1].changes).toMatchObject({ accounts: { released: 1 }, writtenBack: { released: 1, completions: 1 } });
    expect(renderEntries(runs)).toMatch(/reconcile test  schedule  by wod-cron .*: converged \(exit 0\), update 2/);

    // Whatever the write-back wrote for the credentials e-mail never reaches the trail.
    const secrets = (await p.pool.query("select to_jsonb(r) as row from registrations r")).rows.map((x) => x.row.password).filter(Boolean);
    const trail = JSON.stringify((await p.pool.query("select * from audit_log")).rows) + JSON.stringify((await p.pool.query("select * from audit_events")).rows);
    for (const s of secrets) expect(trail).not.toContain(s);
  }, 120_000);

  it("the hub's last logins read from the backends become each registration's last login; a record that is not one is ignored with its reason", async () => {
    const p = await platform();
    const r = await register(p.pool, { email: "ada@example.org", workshop: "Python", startsAt: T0 });
    const s = await register(p.pool, { email: "bob@example.org", workshop: "Python", startsAt: T0 });
    if (!r.ok || !s.ok) throw new Error("refused");
    await p.run(new Date(T0.getTime() + 60_000), "wod-cron");
    const login = new Date(T0.getTime() + 5 * 60_000);
    const hosts = {
      async read(_address: string, command: string) {
        if (!command.includes("check-backend.py activity")) return "";
        return JSON.stringify({ activity: [{ registration: r.id, slot: 1, lastActivity: login.toISOString() }, { registration: "1; drop table x", slot: 2, lastActivity: "soon" }] });
      },
    };
    const report = await reconcile({
      stack: "test", config, db: { pool: p.pool, describe: "test", close: async () => {} }, engine: p.engine, now: () => new Date(T0.getTime() + 10 * 60_000),
      sleep: async () => {}, hosts, declare: (d, c) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>,
    });
    expect(report.unusable).toEqual([expect.objectContaining({ what: "backend eu", reason: "not a registration id and a login time" })]);
    const rows = (await p.pool.query("select id::text, last_login_at from registrations order by id")).rows;
    expect(rows).toEqual([{ id: r.id, last_login_at: login }, { id: s.id, last_login_at: null }]);
    // Not an event: logins are the live view's, not the story's.
    expect((await p.pool.query("select count(*)::int as n from audit_events where event not in ('registered', 'activated')")).rows[0].n).toBe(0);
  }, 120_000);

  it("a run that aborts is recorded with its reason; a student server's grant, revocation, snapshot and removal are events of the runs that made them", async () => {
    const p = await platform();
    const learner = (await p.pool.query("insert into learners (email, ssh_public_key, region) values ('lin@example.org', $1, 'fra1') returning id::text", [KEY_A])).rows[0].id;
    await p.pool.query("insert into lesson_progress (learner_id, lesson, passed_at) values ($1, 'js4', $2)", [learner, T0]);
    await p.run(new Date(T0.getTime() + 60_000), "wod-cron");
    await asOperator(p.pool, "carol", "server-revoke", (c) => revokeServer(c, learner));
    const calls: string[] = [];
    const remover: ServerRemover = {
      async snapshot(id) { calls.push(`snapshot ${id}`); return `snap-${id}`; },
      async destroy(id) { calls.push(`destroy ${id}`); },
    };
    await p.run(new Date(T0.getTime() + 2 * 60_000), "wod-cron", { servers: remover });
    expect(calls).toHaveLength(2);
    const t = await readTimeline(p.pool, { learner: "lin@example.org" });
    expect(t.events.map((e) => [e.event, e.actor, e.command])).toEqual([
      ["server-up", "wod-cron", "reconcile"],
      ["server-revoked", "carol", "server-revoke"],
      ["server-snapshot", "wod-cron", "reconcile"],
      ["server-removed", "wod-cron", "reconcile"],
    ]);
    expect(renderTimeline(t)).toMatch(/server-removed\s+admin, snapshot snap-/);

    // Every registration gone from the database while the stack holds accounts: the guard aborts, and says so in the trail.
    await asOperator(p.pool, "alice", "register", (c) => register(c, { email: "ada@example.org", workshop: "Python", startsAt: T0 }));
    await p.run(new Date(T0.getTime() + 3 * 60_000), "wod-cron");
    await p.pool.query("delete from registrations");
    await p.pool.query("delete from lesson_progress");
    await p.pool.query("delete from student_servers");
    await p.pool.query("delete from learners");
    const aborted = await p.run(new Date(T0.getTime() + 4 * 60_000), "wod-cron");
    expect(aborted.exitCode).toBe(2);
    const last = (await readEntries(p.pool, { command: "reconcile" })).pop()!;
    expect(last).toMatchObject({ outcome: "invalid-input", exitCode: 2, pulumiVersion: null });
    expect(last.error).toContain("the database returned no registrations and no learners");
  }, 120_000);
});
