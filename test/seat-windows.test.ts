// Seats free up over time (issue 20): a booking takes its seat and its slot for its window only.
// The case on the demo stack — a week of sessions, 320 bookings imported from CSV while
// the demo learners are in their workshops — registers every booking that fits, refuses the one
// that does not, and the plan shows the seats each session really uses; the database itself
// refuses two overlapping bookings of one slot and two overlapping seats of one learner.
import * as path from "node:path";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { importRegistrations } from "../infra/cli/import";
import { renderPlan, seatFigures } from "../infra/cli/render";
import { syncCatalog } from "../infra/db/catalog-sync";
import { ExtensionRefused, extend, register } from "../infra/db/registrations";
import { seedDemo } from "../infra/db/seed";
import { readSnapshot } from "../infra/db/snapshot";
import { countDesired, desiredState } from "../infra/desired/state";
import { peakOverlap } from "../infra/desired/seats";
import { ROOT } from "../infra/load";
import { startPg, type TestPg } from "./support/pg";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
const catalog = loadCatalog(path.join(ROOT, "workshops"), dev).workshops;
const NOW = new Date("2026-12-07T10:00:00Z");
/** Tomorrow 08:00: the first session of the week. */
const WEEK = Date.parse("2026-12-08T08:00:00Z");

let pg: TestPg;
beforeAll(async () => {
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

/** The demo stack: its catalog synced and its demo learners seeded (14 live accounts now). */
async function demo(): Promise<Pool> {
  const pool = await pg.fresh();
  await syncCatalog(pool, dev, catalog);
  await seedDemo(pool, NOW);
  return pool;
}

/**
 * A week of sessions, 320 bookings: session i of a workshop on day i mod 7 (the eighth on the
 * first day, starting as the first ends: back to back), each as full as the workshop's seats allow.
 */
function week(): { csv: string; sessions: { workshop: string; startsAt: number; learners: number }[] } {
  const sessions: { workshop: string; startsAt: number; learners: number }[] = [];
  const rows = ["email,workshop,name,location,startsAt"];
  const bookings = { Python101: 160, Docker101: 80, GitIntro: 80 };
  for (const [name, total] of Object.entries(bookings)) {
    const w = catalog.find((x) => x.name === name)!;
    for (let i = 0, left = total; left > 0; i++) {
      const startsAt = WEEK + (i % 7) * DAY + Math.floor(i / 7) * w.duration * HOUR;
      const learners = Math.min(w.capacity, left);
      left -= learners;
      sessions.push({ workshop: name, startsAt, learners });
      for (let seat = 0; seat < learners; seat++) rows.push(`${name.toLowerCase()}-${i}-${seat}@example.org,${name},,dev,${new Date(startsAt).toISOString()}`);
    }
  }
  return { csv: rows.join("\n"), sessions };
}

describe("seats over time", () => {
  it("a week of 320 bookings on the demo stack is registered in full; the plan shows each session's seats", async () => {
    const pool = await demo();
    const { csv, sessions } = week();
    expect(csv.split("\n").length - 1).toBe(320);
    const report = await importRegistrations(pool, csv);
    expect(report.lines.filter((l) => l.outcome !== "registered")).toEqual([]);
    expect(report).toMatchObject({ registered: 320, alreadyRegistered: 0, rejected: 0 });

    const snapshot = await readSnapshot(pool);
    // Now: the demo learners only, and the week counted as booked later.
    const today = desiredState({ catalog, snapshot, config: dev, now: NOW });
    expect(countDesired(today).accounts).toBe(14);
    const figures = seatFigures(today, catalog, snapshot.registrations, NOW);
    expect(Object.fromEntries(figures.map((f) => [f.workshop, { used: f.used, later: f.later, peak: f.peak }]))).toEqual({
      Python101: { used: 7, later: 160, peak: 20 }, Docker101: { used: 3, later: 80, peak: 10 }, GitIntro: { used: 4, later: 80, peak: 15 },
    });
    expect(renderPlan({ stack: "dev", decidedAt: NOW.toISOString(), counts: countDesired(today), seats: figures, quarantined: [], nextSync: { migrations: [], catalog: [] }, ...today }))
      .toMatch(/workshop Python101 {2}7\/20 seats used \(1 ending\), 160 bookings later \(at most 20 seats at once\), slots 1-20/);

    // During each session: exactly its learners hold the workshop's seats, on distinct slots of its range.
    for (const s of sessions) {
      const during = desiredState({ catalog, snapshot, config: dev, now: new Date(s.startsAt + HOUR) });
      const accounts = during.accounts.filter((a) => a.workshop === s.workshop);
      expect(accounts.length, `${s.workshop} at ${new Date(s.startsAt).toISOString()}`).toBe(s.learners);
      expect(new Set(accounts.map((a) => a.slot)).size).toBe(s.learners);
      expect(during.rejected).toEqual(today.rejected);
    }
  }, 120_000);

  it("a booking into a full session is refused; one into the gap after it, or by the same learner another day, is not", async () => {
    const pool = await demo();
    await importRegistrations(pool, week().csv);
    const monday = new Date(WEEK);
    expect(await register(pool, { email: "late@example.net", workshop: "Python101", startsAt: monday })).toMatchObject({
      ok: false, refusal: "full", message: expect.stringMatching(/^workshop Python101 is full from 2026-12-08T08:00:00.000Z to 2026-12-08T12:00:00.000Z/),
    });
    // Half an hour into the second Monday session: still full (its learners hold every seat).
    expect(await register(pool, { email: "late@example.net", workshop: "Python101", startsAt: new Date(WEEK + 4.5 * HOUR) })).toMatchObject({ ok: false, refusal: "full" });
    // When the second session ends the seats are free again.
    const evening = await register(pool, { email: "late@example.net", workshop: "Python101", startsAt: new Date(WEEK + 8 * HOUR) });
    expect(evening).toMatchObject({ ok: true, slot: 1 });
    // The rule for one learner: one seat of a workshop at a time; another time is another booking.
    expect(await register(pool, { email: "late@example.net", workshop: "Python101", startsAt: new Date(WEEK + 10 * HOUR) })).toMatchObject({
      ok: false, refusal: "already-registered", message: expect.stringMatching(/already holds slot 1 of Python101 on dev from 2026-12-08T16:00:00.000Z/),
    });
    expect(await register(pool, { email: "late@example.net", workshop: "Python101", startsAt: new Date(WEEK + 14 * DAY) })).toMatchObject({ ok: true, slot: 1 });
  }, 120_000);

  it("an extension stops where the slot's next booking begins, and never over the seats", async () => {
    const pool = await demo();
    await importRegistrations(pool, week().csv);
    const first = (await pool.query("select id::text from registrations where starts_at = $1 and workshop = 'Python101' and slot = 1", [new Date(WEEK)])).rows[0].id;
    const next = (await pool.query("select id::text from registrations where starts_at = $1 and workshop = 'Python101' and slot = 1", [new Date(WEEK + 4 * HOUR)])).rows[0].id;
    const refused = await extend(pool, first, 1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ExtensionRefused);
    expect((refused as Error).message).toMatch(/all 20 seats of Python101 on dev are booked before then|slot 1 on dev is booked from 2026-12-08T12:00:00.000Z/);
    // GitIntro has 15 seats on 20 slots: a free slot is not a free seat.
    const git = (await pool.query("select id::text from registrations where starts_at = $1 and workshop = 'GitIntro' limit 1", [new Date(WEEK)])).rows[0].id;
    await register(pool, { email: "next@example.net", workshop: "GitIntro", startsAt: new Date(WEEK + 2 * HOUR) });
    for (let i = 0; i < 14; i++) await register(pool, { email: `g${i}@example.net`, workshop: "GitIntro", startsAt: new Date(WEEK + 2 * HOUR) });
    await expect(extend(pool, git, 1)).rejects.toThrow(/all 15 seats of GitIntro on dev are booked before then/);
    const ends = (await pool.query("select ends_at from registrations where id = $1", [first])).rows[0].ends_at;
    expect(ends).toEqual(new Date(WEEK + 4 * HOUR));
    expect(next).toBeDefined();
  }, 120_000);

  it("the database refuses an overlapping booking of a held slot and a learner's overlapping second seat, but not back-to-back ones", async () => {
    const pool = await demo();
    const p = (await pool.query("insert into participants (email) values ('x@example.net') returning id")).rows[0].id;
    const q = (await pool.query("insert into participants (email) values ('y@example.net') returning id")).rows[0].id;
    const book = (participant: string, slot: number, from: number, hours: number) =>
      pool.query("insert into registrations (participant_id, workshop, location, slot, starts_at, ends_at) values ($1, 'Python101', 'dev', $2, $3, $4)",
        [participant, slot, new Date(from), new Date(from + hours * HOUR)]);
    await book(p, 15, WEEK, 4);
    await expect(book(q, 15, WEEK + 3 * HOUR, 4)).rejects.toThrow(/registrations_live_slot/);
    await expect(book(p, 16, WEEK + 3 * HOUR, 4)).rejects.toThrow(/registrations_live_participant/);
    await expect(book(q, 15, WEEK + 4 * HOUR, 4)).resolves.toBeDefined();
    await expect(book(p, 16, WEEK + 4 * HOUR, 4)).resolves.toBeDefined();
  }, 60_000);
});

describe("peakOverlap", () => {
  it("counts the most windows holding one moment; a window ending as another starts does not overlap it", () => {
    expect(peakOverlap([])).toBe(0);
    expect(peakOverlap([{ start: 0, end: 4 }, { start: 4, end: 8 }])).toBe(1);
    expect(peakOverlap([{ start: 0, end: 4 }, { start: 3, end: 8 }, { start: 2, end: 3 }])).toBe(2);
    expect(peakOverlap([{ start: 0, end: 10 }, { start: 1, end: 2 }, { start: 1, end: 9 }], { start: 5, end: 20 })).toBe(2);
    expect(peakOverlap([{ start: 0, end: 4 }], { start: 4, end: 8 })).toBe(0);
  });
});
