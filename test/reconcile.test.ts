// The reconcile job against a real PostgreSQL, the real stack program under Pulumi's mock
// runtime, and a scripted engine in place of the Pulumi engine.
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../infra/config";
import type { Database } from "../infra/db/connect";
import { cancel, register } from "../infra/db/registrations";
import type { HostReader } from "../infra/reconcile/host-facts";
import { reconcile, type ReconcileOptions } from "../infra/reconcile/run";
import type { ServerRemover } from "../infra/reconcile/servers";
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
const DAY = 24 * HOUR;
const T0 = new Date("2026-11-23T09:00:00Z");

const catalogDir = writeCatalog({
  "WKSHP-Python": { yml: wodYml("Python", { range: [1, 60], capacity: 60 }), files: { "1-Lab.ipynb": "{\"cells\": [], \"nbformat\": 4}" } },
  "WKSHP-Git": { yml: wodYml("Git", { range: [61, 70], capacity: 10, duration: 2 }) },
});

function stackConfig(): StackConfig {
  return parseStackConfig(stackConfigRaw(), "test");
}

function stackConfigRaw(): Record<string, unknown> {
  return {
    locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
    adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
    studentServers: { enabled: true, allowedRegions: ["fra1", "ams3"], idleDays: 14, warningDays: 3 },
  };
}

/** A fresh database with the catalog synced, a fresh engine state, and a run() bound to them. */
async function platform(config = stackConfig(), shared?: Pool) {
  const pool = shared ?? (await pg.fresh());
  const db: Database = { pool, describe: "test", close: async () => {} };
  const e = new MockEngine();
  const run = (now: Date, extra: Partial<ReconcileOptions> = {}) =>
    reconcile({
      stack: "test", config, db, engine: e, now: () => now, sleep: async () => {},
      declare: (d, c) => {
        return declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>;
      },
      ...extra,
    });
  // The catalog sync happens inside every run; a first empty run is refused, so sync by registering.
  return { pool, db, engine: e, run };
}

async function book(pool: Pool, email: string, workshop = "Python", startsAt = T0) {
  const r = await register(pool, { email, workshop, startsAt });
  if (!r.ok) throw new Error(r.message);
  return r;
}

async function seedCatalog(pool: Pool, config = stackConfig()) {
  const { loadCatalog } = await import("../infra/catalog/load");
  const { syncCatalog } = await import("../infra/db/catalog-sync");
  const { migrate } = await import("../infra/db/migrate");
  await migrate(pool);
  await syncCatalog(pool, config, loadCatalog(config.workshopsDir, config).workshops);
}

async function registrationRow(pool: Pool, id: string) {
  return (await pool.query("select status, username, password_seed_id, hub_url, failure_reason, released_at, release_attempts, release_error, completion from registrations where id = $1", [id])).rows[0];
}

/** The slot table of a cohort as the engine applied it (slot → "registration#generation"). */
function appliedSlots(engine: MockEngine, cohort: string): Record<string, string> | undefined {
  const urn = engine.urns(`wod:index:StudentCohort::${cohort}`)[0];
  return urn ? (engine.applied.get(urn)!.inputs.slots as Record<string, string>) : undefined;
}

/** A DigitalOcean stand-in for the reconcile's server removals: records what it is asked. */
function fakeRemover(): ServerRemover & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async snapshot(dropletId, name) {
      calls.push(`snapshot ${dropletId} ${name}`);
      return `snap-${dropletId}`;
    },
    async destroy(dropletId) {
      calls.push(`destroy ${dropletId}`);
    },
  };
}

async function learnerWithGrant(pool: Pool, email: string, key = KEY_A, region = "fra1", passedAt = T0) {
  const id = (await pool.query("insert into learners (email, ssh_public_key, region) values ($1, $2, $3) returning id::text", [email, key, region])).rows[0].id;
  await pool.query("insert into lesson_progress (learner_id, lesson, passed_at) values ($1, 'js4', $2)", [id, passedAt]);
  return id as string;
}

describe("reconcile", () => {
  it("a registration turns into working credentials, and the password stays out of the report", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const r = await book(p.pool, "ada@example.org");
    const report = await p.run(new Date(T0.getTime() + 60_000));
    expect(report).toMatchObject({ exitCode: 0, outcome: "converged", accounts: { live: 0, added: 1, released: 0 } });
    const row = await registrationRow(p.pool, r.id);
    expect(row).toMatchObject({ status: "active", username: "student1", hub_url: "http://eu.example.org:8000", failure_reason: null });
    // The database records which seed the password derives from, never the password.
    expect(row.password_seed_id).toMatch(/^[0-9a-f]{16}$/);
    const password = ((await p.engine.outputs()).credentials as Record<string, string>)[r.id];
    expect(password).toMatch(/^[a-zA-Z2-9]{12}$/);
    expect(JSON.stringify(report)).not.toContain(password);
    expect(JSON.stringify((await p.pool.query("select * from registrations")).rows)).not.toContain(password);
    expect(appliedSlots(p.engine, "eu-WKSHP-Python-s0")).toEqual({ "1": `${r.id}#1` });
  });

  it("write-back is an idempotent full sync: a second run changes nothing", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    await book(p.pool, "bob@example.org", "Git");
    const now = new Date(T0.getTime() + 60_000);
    await p.run(now);
    const before = (await p.pool.query("select * from registrations order by id")).rows;
    const again = await p.run(now);
    expect(again).toMatchObject({ exitCode: 0, outcome: "nothing-to-do", changes: {} });
    expect(again.writeBack).toEqual({ activated: 0, failed: 0, released: 0, releaseFailed: 0, serversUp: 0, serversWarned: 0, completions: 0, lastLogins: 0 });
    expect((await p.pool.query("select * from registrations order by id")).rows).toEqual(before);
  });

  it("two reconciles of one stack at once: one runs, the other stops at the lock", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    const slowPreview = p.engine.preview.bind(p.engine);
    p.engine.preview = async (program) => {
      await new Promise((r) => setTimeout(r, 300));
      return slowPreview(program);
    };
    const [a, b] = await Promise.all([p.run(T0), p.run(T0)]);
    expect([a.exitCode, b.exitCode].sort()).toEqual([0, 4]);
    expect([a, b].find((r) => r.exitCode === 4)!.message).toMatch(/another reconcile of stack test holds the lock/);
    expect(p.engine.ups).toHaveLength(1);
  });

  it("the engine's concurrent-update error is retried with backoff, then given up with a clear message", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    p.engine.busy = 2;
    expect((await p.run(T0)).exitCode).toBe(0);
    p.engine.busy = 99;
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 1, outcome: "failed" });
    expect(r.message).toMatch(/still being updated by someone else after 5 attempts/);
  });

  it("an up that hangs (a machine that never answers) is cancelled at the time limit: the run ends, the lock is free", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    p.engine.hangs = true;
    const r = await p.run(T0, { upTimeoutMs: 200 });
    expect(r).toMatchObject({ exitCode: 1, outcome: "failed" });
    expect(r.message).toMatch(/the up was cancelled after 0 s \(a machine did not answer in time\)/);
    expect((await p.run(T0)).exitCode).toBe(0); // the next run gets the lock and converges
  });

  it("an unreachable database applies nothing", async () => {
    const { Pool } = await import("pg");
    const dead = new Pool({ connectionString: "postgres://wod:wod@127.0.0.1:9/wod", connectionTimeoutMillis: 1000 });
    const e = new MockEngine();
    const r = await reconcile({ stack: "test", config: stackConfig(), db: { pool: dead, describe: "dead", close: async () => {} }, engine: e });
    expect(r).toMatchObject({ exitCode: 2, outcome: "invalid-input" });
    expect(e.previews + e.ups.length).toBe(0);
    await dead.end();
  });

  it("a database that comes back empty never destroys the stack", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    await p.run(T0);
    const applied = p.engine.urns();
    await p.pool.query("truncate registrations, participants, learners cascade");
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 2, outcome: "invalid-input" });
    expect(r.message).toMatch(/no registrations and no learners while the stack holds 1 accounts/);
    expect(p.engine.urns()).toEqual(applied);
  });

  it("many learners ending on time is no mass delete: 30 of 40 cancelled at once are released, and a newcomer gets in", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await book(p.pool, `p${i}@example.org`)).id);
    await p.run(T0);
    for (const id of ids.slice(0, 30)) await cancel(p.pool, id);
    const newcomer = await book(p.pool, "late@example.org");
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 0, guard: [], accounts: { live: 40, released: 30, unexpected: 0, added: 1 } });
    expect(Object.keys(appliedSlots(p.engine, "eu-WKSHP-Python-s0")!)).toHaveLength(11);
    expect((await registrationRow(p.pool, ids[0])).released_at).not.toBeNull();
    expect((await registrationRow(p.pool, newcomer.id)).status).toBe("active");
  });

  it("a registrations table emptied while learners remain would release everyone: the guard aborts unless allowed for this run", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    for (let i = 0; i < 30; i++) await book(p.pool, `p${i}@example.org`);
    await learnerWithGrant(p.pool, "still-here@example.org");
    await p.run(T0);
    const upsBefore = p.engine.ups.length;
    await p.pool.query("delete from registrations");
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 3, outcome: "aborted" });
    expect(r.guard[0]).toMatch(/30 of 30 live learner accounts would be released although their registrations have not ended/);
    expect(p.engine.ups.length).toBe(upsBefore);
    expect(Object.keys(appliedSlots(p.engine, "eu-WKSHP-Python-s0")!)).toHaveLength(30);
    const allowed = await p.run(T0, { allowMassDelete: true });
    expect(allowed.exitCode).toBe(0);
    expect(appliedSlots(p.engine, "eu-WKSHP-Python-s0")).toEqual({});
  });

  it("unexpected releases abort only above both thresholds: more than maxDeletes and more than maxDeleteShare of the live accounts", async () => {
    const config = parseStackConfig({ ...stackConfigRaw(), guard: { maxDeletes: 2, maxDeleteShare: 0.5 } }, "test");
    const p = await platform(config);
    await seedCatalog(p.pool, config);
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await book(p.pool, `p${i}@example.org`)).id);
    await p.run(T0);
    // 3 rows lost of 40: above maxDeletes (2) but 7.5 % — applied.
    await p.pool.query("delete from registrations where id = any($1::bigint[])", [ids.slice(0, 3)]);
    expect(await p.run(T0)).toMatchObject({ exitCode: 0, accounts: { unexpected: 3 } });
    // 20 more of 37: above both — refused.
    await p.pool.query("delete from registrations where id = any($1::bigint[])", [ids.slice(3, 23)]);
    expect(await p.run(T0)).toMatchObject({ exitCode: 3, accounts: { unexpected: 20 } });
  });

  it("a failed activation marks that registration failed with the host's reason; the others converge and the slot is free again", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const [a, b, c] = [await book(p.pool, "a@example.org"), await book(p.pool, "b@example.org"), await book(p.pool, "c@example.org")];
    p.engine.failActivations.set(b.id, `slot 2 (registration ${b.id}): render: 1-Lab.ipynb:3: undefined variable NOPE`);
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 0, writeBack: { activated: 2, failed: 1 } });
    expect(await registrationRow(p.pool, b.id)).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/undefined variable NOPE/), password_seed_id: null });
    expect((await registrationRow(p.pool, a.id)).status).toBe("active");
    expect((await registrationRow(p.pool, c.id)).status).toBe("active");
    // The failed seat is free again: the next participant can take it; the next run hands the slot over.
    p.engine.failActivations.clear();
    const d = await register(p.pool, { email: "d@example.org", workshop: "Python", startsAt: T0 });
    expect(d).toMatchObject({ ok: true, slot: 2 });
    await p.run(T0);
    expect(appliedSlots(p.engine, "eu-WKSHP-Python-s0")).toEqual({ "1": `${a.id}#1`, "2": `${(d as { id: string }).id}#1`, "3": `${c.id}#1` });
    expect((await registrationRow(p.pool, b.id)).released_at).not.toBeNull();
  });

  it("an expired registration is released on the next run after its end, with its completion", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const r = await book(p.pool, "ada@example.org", "Git"); // 2 hours
    await p.run(T0);
    expect(appliedSlots(p.engine, "eu-WKSHP-Git-s0")).toEqual({ "61": `${r.id}#1` });
    await p.run(new Date(T0.getTime() + 2 * HOUR + 60_000));
    expect(appliedSlots(p.engine, "eu-WKSHP-Git-s0")).toEqual({});
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ status: "released", released_at: expect.any(Date), completion: "0.5" });
  });

  it("only what the engine applied is written back: a failed sync leaves an expired learner active until a run succeeds", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const r = await book(p.pool, "ada@example.org", "Git");
    await p.run(T0);
    const seed = (await registrationRow(p.pool, r.id)).password_seed_id;
    const after = new Date(T0.getTime() + 3 * HOUR);
    p.engine.failing.set("eu-WKSHP-Git-s0-sync", "ssh: connect to host 203.0.113.1 port 22: Connection timed out");
    expect((await p.run(after)).exitCode).toBe(5);
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ status: "active", password_seed_id: seed, released_at: null });
    p.engine.failing.clear();
    expect((await p.run(after)).exitCode).toBe(0);
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ status: "released", released_at: expect.any(Date) });
  });

  it("a release the host reports failed is counted with its reason and retried by the next run until it succeeds", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const r = await book(p.pool, "ada@example.org", "Git");
    await p.run(T0);
    const after = new Date(T0.getTime() + 3 * HOUR);
    p.engine.failReleases.add(r.id);
    const first = await p.run(after);
    expect(first.writeBack).toMatchObject({ releaseFailed: 1, released: 0 });
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ release_attempts: 1, release_error: expect.stringMatching(/disk full/), released_at: null });
    p.engine.failReleases.clear();
    // The attempt count is part of the cohort's inputs: the sync runs again although its table did not change.
    const retry = await p.run(after);
    expect(retry.changes.StudentCohort).toBeDefined();
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ status: "released", released_at: expect.any(Date), release_error: null });
  });

  it("an idle student server is warned, then snapshotted and destroyed by the reconcile; an extended one is kept", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "keep-the-db-non-empty@example.org");
    const idle = await learnerWithGrant(p.pool, "idle@example.org");
    const kept = await learnerWithGrant(p.pool, "kept@example.org", KEY_B, "ams3");
    const remover = fakeRemover();
    await p.run(T0, { servers: remover });
    const servers = async () => (await p.pool.query("select learner_id::text as id, droplet_id, host(ipv4) as ipv4, warned_at, removed_at, removal_reason, snapshot_id from student_servers order by learner_id")).rows;
    expect((await servers()).map((s) => [s.id, s.ipv4 !== null, s.droplet_id !== null])).toEqual([[idle, true, true], [kept, true, true]]);
    await p.pool.query("update student_servers set extended_until = $2 where learner_id = $1", [kept, new Date(T0.getTime() + 60 * DAY)]);

    const day15 = new Date(T0.getTime() + 15 * DAY);
    await p.run(day15, { servers: remover });
    expect((await servers()).find((s) => s.id === idle).warned_at).toEqual(day15);
    expect((await servers()).find((s) => s.id === kept).warned_at).toBeNull();

    await p.run(new Date(day15.getTime() + DAY), { servers: remover }); // still within the warning period
    expect(p.engine.urns(`learner-${idle}`)).not.toEqual([]);
    expect(remover.calls).toEqual([]);

    const dropletId = (await servers()).find((s) => s.id === idle).droplet_id;
    const removal = new Date(day15.getTime() + 3 * DAY);
    const r = await p.run(removal, { servers: remover });
    expect(r.removals).toEqual({ removed: 1, snapshots: 1, failed: [] });
    expect(remover.calls).toEqual([`snapshot ${dropletId} wod-learner-${idle}-${removal.toISOString().slice(0, 10)}`, `destroy ${dropletId}`]);
    expect(p.engine.urns(`learner-${idle}`)).toEqual([]);
    expect((await servers()).find((s) => s.id === idle)).toMatchObject({ ipv4: null, removal_reason: "idle", removed_at: removal, snapshot_id: `snap-${dropletId}` });
    expect(p.engine.urns(`learner-${kept}`)).not.toEqual([]);
  });

  it("without a way to snapshot (no DigitalOcean token) a server due for removal is reported and kept on record", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "keep-the-db-non-empty@example.org");
    const l = await learnerWithGrant(p.pool, "l@example.org");
    await p.run(T0);
    await p.pool.query("update student_servers set revoked_at = $2 where learner_id = $1", [l, T0]);
    const r = await p.run(T0);
    expect(r).toMatchObject({ exitCode: 5, removals: { removed: 0, failed: [{ learnerId: l, reason: expect.stringMatching(/DIGITALOCEAN_TOKEN/) }] } });
    expect((await p.pool.query("select removed_at from student_servers where learner_id = $1", [l])).rows[0].removed_at).toBeNull();
  });

  it("last SSH logins are read from the machines; an unreachable machine is reported, not taken as idle", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "keep-the-db-non-empty@example.org");
    const active = await learnerWithGrant(p.pool, "active@example.org");
    const away = await learnerWithGrant(p.pool, "away@example.org", KEY_B);
    await p.run(T0);
    const ip = async (id: string) => (await p.pool.query("select host(ipv4) as ip from student_servers where learner_id = $1", [id])).rows[0].ip;
    const [activeIp, awayIp] = [await ip(active), await ip(away)];
    const login = new Date(T0.getTime() + 10 * DAY);
    const hosts: HostReader = {
      async read(address, command) {
        if (address === awayIp) throw new Error("ssh: connect to host timed out");
        if (address === activeIp && command.includes("last-ssh-login")) return `${login.toISOString()}\n`;
        return "";
      },
    };
    const r = await p.run(new Date(T0.getTime() + 11 * DAY), { hosts });
    expect(r.unreachable).toEqual([{ what: `student server of learner ${away}`, address: awayIp, reason: "ssh: connect to host timed out" }]);
    const rows = (await p.pool.query("select learner_id::text as id, last_ssh_at from student_servers order by learner_id")).rows;
    expect(rows).toEqual([{ id: active, last_ssh_at: login }, { id: away, last_ssh_at: null }]);
    // 16 days after creation the active learner is not idle; the unreachable one is warned by its age alone.
    const later = await p.run(new Date(T0.getTime() + 16 * DAY), { hosts });
    expect(later.exitCode).toBe(0);
    const warned = (await p.pool.query("select learner_id::text as id from student_servers where warned_at is not null")).rows.map((x) => x.id);
    expect(warned).toEqual([away]);
  });

  it("the fast path applies only the cohort that gained a learner and touches nothing else", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "ada@example.org");
    await book(p.pool, "bob@example.org", "Git");
    await learnerWithGrant(p.pool, "learner@example.org");
    await p.run(T0);
    const before = new Map(p.engine.applied);
    const r2 = await book(p.pool, "cyd@example.org");
    const report = await p.run(T0);
    expect(report).toMatchObject({ exitCode: 0, fastPath: true });
    const targets = p.engine.ups.at(-1)!.targets!;
    expect(targets.map((u) => u.split("::").pop()).sort()).toEqual(["eu-WKSHP-Python-s0", "eu-WKSHP-Python-s0-sync"]);
    for (const [urn, res] of before) if (!targets.includes(urn)) expect(p.engine.applied.get(urn)).toEqual(res);
    expect((await registrationRow(p.pool, r2.id)).status).toBe("active");
  });

  it("a bad learner row never destroys that learner's live server", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    await book(p.pool, "keep-the-db-non-empty@example.org");
    const l = await learnerWithGrant(p.pool, "l@example.org");
    await p.run(T0);
    await p.pool.query("update learners set ssh_public_key = 'garbage' where id = $1", [l]);
    const r = await p.run(T0);
    expect(r.exitCode).toBe(3);
    expect(r.guard).toEqual([`student server learner-${l} would be destroyed although no rule removes it`]);
    expect(r.rejected).toEqual([{ kind: "learner", id: l, reason: expect.stringMatching(/SSH key/) }]);
    expect(p.engine.urns(`learner-${l}`)).not.toEqual([]);
  });

  it("--write-back-only syncs the database from the stack's state and outputs without preview or up", async () => {
    const p = await platform();
    await seedCatalog(p.pool);
    const r = await book(p.pool, "ada@example.org");
    await p.run(T0);
    const seed = (await registrationRow(p.pool, r.id)).password_seed_id;
    expect(seed).toMatch(/^[0-9a-f]{16}$/);
    await p.pool.query("update registrations set status = 'pending', password_seed_id = null where id = $1", [r.id]);
    const [previews, ups] = [p.engine.previews, p.engine.ups.length];
    const report = await p.run(T0, { writeBackOnly: true });
    expect(report.exitCode).toBe(0);
    expect([p.engine.previews, p.engine.ups.length]).toEqual([previews, ups]);
    expect(await registrationRow(p.pool, r.id)).toMatchObject({ status: "active", password_seed_id: seed });
  });

  it("split stacks: each stack declares and writes back its own locations only", async () => {
    const dir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 60], capacity: 60, alternateLocation: ["us"] }) } });
    const part = (locations: string[], studentServers: boolean) => parseStackConfig({
      locations: [{ name: "eu", slotPool: { min: 1, max: 100 } }, { name: "us", slotPool: { min: 1, max: 100 } }],
      adminCidrs: ["198.51.100.0/24"], workshopsDir: dir, part: { locations, studentServers },
    }, "split");
    const eu = await platform(part(["eu"], true));
    const us = await platform(part(["us"], false), eu.pool);
    await seedCatalog(eu.pool, part(["eu"], true));
    const a = await register(eu.pool, { email: "a@example.org", workshop: "Python", location: "eu", startsAt: T0 });
    const b = await register(eu.pool, { email: "b@example.org", workshop: "Python", location: "us", startsAt: T0 });
    if (!a.ok || !b.ok) throw new Error(`registration refused: ${JSON.stringify([a, b])}`);
    await eu.run(T0);
    expect(eu.engine.urns("StudentCohort::").map((u) => u.split("::").pop())).toEqual(["eu-WKSHP-Python-s0"]);
    expect((await registrationRow(eu.pool, b.id)).status).toBe("pending");
    await us.run(T0);
    expect(appliedSlots(us.engine, "us-WKSHP-Python-s0")).toEqual({ "1": `${b.id}#1` });
    await cancel(eu.pool, b.id);
    await eu.run(T0);
    expect((await registrationRow(eu.pool, b.id)).released_at).toBeNull(); // the us stack still holds it
    await us.run(T0);
    expect((await registrationRow(eu.pool, b.id)).released_at).not.toBeNull();
  });
});
