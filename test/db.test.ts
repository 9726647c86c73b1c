import * as path from "node:path";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { extendServer, revokeServer } from "../infra/db/learners";
import { migrate } from "../infra/db/migrate";
import { cancel, extend, register } from "../infra/db/registrations";
import { seedDemo } from "../infra/db/seed";
import { readSnapshot } from "../infra/db/snapshot";
import { desiredState } from "../infra/desired/state";
import { ROOT } from "../infra/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

let pg: TestPg;
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

const config = stackConfig();

/** A database with two workshops: A (eu then us, slots 1-3, capacity 2), B (eu, 11-20), C inactive. */
async function withCatalog(): Promise<Pool> {
  const pool = await pg.fresh();
  const dir = writeCatalog({
    "WKSHP-A": { yml: wodYml("A", { range: [1, 3], capacity: 2, alternateLocation: ["us"], duration: 2 }) },
    "WKSHP-B": { yml: wodYml("B", { range: [11, 20], capacity: 10 }) },
    "WKSHP-C": { yml: wodYml("C", { range: [21, 30], active: false }) },
  });
  await syncCatalog(pool, config, loadCatalog(dir, config).workshops);
  return pool;
}

describe("database", () => {
  it("migrations apply once and are safe to run again", async () => {
    const pool = await pg.fresh();
    expect(await migrate(pool)).toEqual([]);
    const tables = await pool.query("select table_name from information_schema.tables where table_schema = 'public' order by 1");
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(["learners", "lesson_progress", "locations", "participants", "registrations", "schema_migrations", "student_servers", "workshops"]),
    );
  });

  it("the database itself refuses a second live registration on a held slot", async () => {
    const pool = await withCatalog();
    const r = await register(pool, { email: "a@example.org", workshop: "B" });
    expect(r.ok).toBe(true);
    const other = (await pool.query("insert into participants (email) values ('b@example.org') returning id")).rows[0].id;
    const insert = () =>
      pool.query("insert into registrations (participant_id, workshop, location, slot, ends_at) values ($1, 'B', 'eu', 11, now() + interval '1 hour')", [other]);
    await expect(insert()).rejects.toThrow(/registrations_live_slot/);
    // Once released, the slot can be booked again.
    await pool.query("update registrations set status = 'released' where slot = 11");
    await expect(insert()).resolves.toBeDefined();
  });

  it("registration books the lowest free slot of the workshop's range for its duration", async () => {
    const pool = await withCatalog();
    const startsAt = new Date("2026-11-23T09:00:00Z");
    const r = await register(pool, { email: "Ada@Example.org", workshop: "A", startsAt });
    expect(r).toMatchObject({ ok: true, workshop: "A", location: "eu", slot: 1, endsAt: new Date("2026-11-23T11:00:00Z") });
    expect(await register(pool, { email: "b@example.org", workshop: "A", startsAt })).toMatchObject({ ok: true, location: "eu", slot: 2 });
    // A seat is taken for its window only: the next session, starting as this one ends, reuses slot 1.
    expect(await register(pool, { email: "c@example.org", workshop: "A", startsAt: new Date("2026-11-23T11:00:00Z") })).toMatchObject({ ok: true, location: "eu", slot: 1 });
  });

  it("refuses with the reason: unknown, inactive, already registered, full", async () => {
    const pool = await withCatalog();
    expect(await register(pool, { email: "a@example.org", workshop: "Z" })).toMatchObject({ ok: false, refusal: "unknown-workshop" });
    expect(await register(pool, { email: "a@example.org", workshop: "C" })).toMatchObject({ ok: false, refusal: "inactive" });
    await register(pool, { email: "a@example.org", workshop: "A" });
    expect(await register(pool, { email: "A@example.org", workshop: "A" })).toMatchObject({ ok: false, refusal: "already-registered", message: expect.stringMatching(/already holds slot 1 of A on eu/) });
    // capacity 2 per location: eu fills, then the alternate location us takes over, then it is full
    await register(pool, { email: "b@example.org", workshop: "A" });
    expect(await register(pool, { email: "c@example.org", workshop: "A" })).toMatchObject({ ok: true, location: "us", slot: 1 });
    await register(pool, { email: "d@example.org", workshop: "A" });
    expect(await register(pool, { email: "e@example.org", workshop: "A" })).toMatchObject({ ok: false, refusal: "full", message: expect.stringMatching(/A is full/) });
  });

  it("an address that is not an e-mail is a refusal with the reason, and nothing is written", async () => {
    const pool = await withCatalog();
    for (const email of ["not an email", "ada", "@example.org", "ada@", "ada@exa mple.org", "a\u0000b@example.org"]) {
      expect(await register(pool, { email, workshop: "B" })).toMatchObject({ ok: false, refusal: "invalid-email" });
    }
    expect((await pool.query("select count(*)::int as n from participants")).rows[0].n).toBe(0);
  });

  it("fractional hours work: a 1.5-hour workshop ends 90 minutes after its start, and extend --hours 1.5 adds 90 minutes", async () => {
    const pool = await pg.fresh();
    const dir = writeCatalog({ "WKSHP-Short": { yml: wodYml("Short", { duration: 1.5 }) } });
    await syncCatalog(pool, config, loadCatalog(dir, config).workshops);
    const startsAt = new Date("2026-11-23T09:00:00Z");
    const r = await register(pool, { email: "a@example.org", workshop: "Short", startsAt });
    expect(r).toMatchObject({ ok: true, endsAt: new Date("2026-11-23T10:30:00Z") });
    if (!r.ok) return;
    expect(await extend(pool, r.id, 1.5)).toEqual(new Date("2026-11-23T12:00:00Z"));
    await expect(extend(pool, r.id, 100_000)).rejects.toThrow(/up to 168/);
  });

  it("concurrent registrations never share a slot and never exceed capacity", async () => {
    const pool = await withCatalog();
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => register(pool, { email: `p${i}@example.org`, workshop: "B" })));
    const booked = results.filter((r) => r.ok) as Extract<(typeof results)[number], { ok: true }>[];
    expect(booked).toHaveLength(10);
    expect(new Set(booked.map((r) => r.slot)).size).toBe(10);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.refusal === "full")).toBe(true);
  });

  it("cancel and extend act on live registrations only", async () => {
    const pool = await withCatalog();
    const r = await register(pool, { email: "a@example.org", workshop: "B" });
    if (!r.ok) throw new Error(r.message);
    const end = await extend(pool, r.id, 2);
    expect(end!.getTime() - r.endsAt.getTime()).toBe(2 * 3_600_000);
    expect(await cancel(pool, r.id)).toBe(true);
    expect(await cancel(pool, r.id)).toBe(false);
    expect(await extend(pool, r.id, 1)).toBeUndefined();
    await expect(extend(pool, r.id, -1)).rejects.toThrow(/positive/);
    // the cancelled seat is free again
    expect(await register(pool, { email: "a@example.org", workshop: "B" })).toMatchObject({ ok: true, slot: 11 });
  });

  it("a catalog sync updates workshops without touching seats in use, and never deletes a workshop in use", async () => {
    const pool = await withCatalog();
    await register(pool, { email: "a@example.org", workshop: "B" });
    const dir = writeCatalog({ "WKSHP-B": { yml: wodYml("B", { range: [11, 20], capacity: 4, description: "new text" }) } });
    await syncCatalog(pool, config, loadCatalog(dir, config).workshops);
    const rows = (await pool.query("select name, capacity, in_catalog, active from workshops order by name")).rows;
    expect(rows).toEqual([
      { name: "A", capacity: 2, in_catalog: false, active: false },
      { name: "B", capacity: 4, in_catalog: true, active: true },
      { name: "C", capacity: 5, in_catalog: false, active: false },
    ]);
    expect((await pool.query("select in_use from workshop_seats where workshop = 'B'")).rows[0].in_use).toBe(1);
    expect(await register(pool, { email: "b@example.org", workshop: "A" })).toMatchObject({ ok: false, refusal: "unknown-workshop" });
  });

  it("admin actions on student servers: extend clears the warning, revoke marks it", async () => {
    const pool = await pg.fresh();
    const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
    await seedDemo(pool, new Date());
    const idle = (await pool.query("select id from learners where email = 'pia@example.org'")).rows[0].id;
    await pool.query("update student_servers set warned_at = now() where learner_id = $1", [idle]);
    expect(await extendServer(pool, idle, 7, dev)).toMatchObject({ ok: true, until: expect.any(Date) });
    const row = (await pool.query("select warned_at, extended_until > now() + interval '6 days' as kept from student_servers where learner_id = $1", [idle])).rows[0];
    expect(row).toEqual({ warned_at: null, kept: true });
    expect(await revokeServer(pool, idle)).toBe(true);
    expect(await revokeServer(pool, idle)).toBe(false);
  });

  it("the demo seed, read back as a snapshot, decides backends, accounts, servers and rejections", async () => {
    const pool = await pg.fresh();
    const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    const catalog = loadCatalog(path.join(ROOT, "workshops"), dev);
    await syncCatalog(pool, dev, catalog.workshops);
    const now = new Date();
    expect(await seedDemo(pool, now)).toEqual({ seeded: true, skipped: [] });
    expect(await seedDemo(pool, now)).toEqual({ seeded: false, skipped: [] }); // never into a database with data
    const snapshot = await readSnapshot(pool);
    expect(snapshot.registrations).toHaveLength(15);
    const d = desiredState({ catalog: catalog.workshops, snapshot, config: dev, now });
    expect(d.backends).toHaveLength(1);
    expect(d.accounts).toHaveLength(14);
    expect(d.transitions.expiredRegistrations).toHaveLength(1);
    expect(d.studentServers.map((s) => s.email)).toEqual(["nia@example.org", "omar@example.org", "pia@example.org"]);
    expect(d.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/SSH key/), expect.stringMatching(/region sgp1/)]);
  });
});
