// Operator commands on registrations: register, cancel, extend.
import { Pool, type PoolClient } from "pg";
import { peakOverlap } from "../desired/seats";

/** The pool, or a client already in a transaction (a command recorded in the audit runs in one). */
export type Db = Pool | PoolClient;

export type Refusal = "unknown-workshop" | "quarantined" | "inactive" | "full" | "already-registered" | "unknown-location" | "invalid-email" | "invalid-start";

/** An address the database's check (lower case, something@something) accepts and mail can reach. */
export const EMAIL = /^[^\s@\x00-\x1f\x7f"<>(),;:\\[\]]+@[^\s@\x00-\x1f\x7f"<>(),;:\\[\]]+$/;

/** The longest extension one command grants: beyond it is a typo, not a plan. */
export const MAX_EXTEND_HOURS = 168;

export type RegisterResult =
  | { ok: true; id: string; workshop: string; location: string; slot: number; startsAt: Date; endsAt: Date }
  | { ok: false; refusal: Refusal; message: string };

export interface RegisterRequest {
  email: string;
  name?: string;
  workshop: string;
  /** Only this location; otherwise the workshop's location first, then its alternates. */
  location?: string;
  startsAt?: Date;
}

/**
 * Books the lowest slot in the workshop's range that is free for the booking's whole window, on a
 * location that hosts it and has a seat left for that window, or says why not. A seat is taken
 * from starts_at to ends_at only (infra/desired/seats.ts): bookings whose windows do not overlap
 * never block each other. One learner holds at most one seat of a workshop at any moment: a second
 * booking whose window overlaps the first is "already registered"; one at another time is a new booking.
 */
export async function register(pool: Db, req: RegisterRequest): Promise<RegisterResult> {
  const email = req.email.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) return refuse("invalid-email", `'${req.email.slice(0, 80)}' is not an e-mail address`);
  if (req.startsAt && Number.isNaN(req.startsAt.getTime())) return refuse("invalid-start", "the start time is not a date");
  return inTransaction(pool, async (c) => {
    // Row lock: registrations for one workshop are decided one at a time.
    const w = (await c.query("select * from workshops where name = $1 for update", [req.workshop])).rows[0];
    // A quarantined workshop takes nobody new until its errors are fixed (its live learners keep their seats).
    const q = (await c.query("select reason, since from quarantined_workshops where name = $1", [req.workshop])).rows[0];
    if (q) {
      return refuse("quarantined", `workshop ${req.workshop} is quarantined since ${(q.since as Date).toISOString()}: ${q.reason}; it takes registrations again once the next up or reconcile finds it fixed (see wod plan)`);
    }
    if (!w || !w.in_catalog) return refuse("unknown-workshop", `no workshop named ${req.workshop} in the catalog`);
    if (!w.active) return refuse("inactive", `workshop ${w.name} is not open for registration`);
    const locations: string[] = req.location ? [req.location] : w.locations;
    if (req.location && !w.locations.includes(req.location)) {
      return refuse("unknown-location", `workshop ${w.name} is not hosted on location ${req.location} (hosted on: ${w.locations.join(", ")})`);
    }
    const participant = (
      await c.query(
        `insert into participants (email, name) values ($1, $2)
         on conflict (email) do update set name = coalesce(nullif(excluded.name, ''), participants.name) returning id`,
        [email, req.name ?? ""],
      )
    ).rows[0].id as string;
    const startsAt = req.startsAt ?? new Date();
    const endsAt = new Date(startsAt.getTime() + Number(w.duration_hours) * 3_600_000);
    const window = [startsAt, endsAt];
    const held = await c.query(
      `select location, slot, starts_at from registrations
        where participant_id = $1 and workshop = $2 and status in ('pending', 'active') and tstzrange(starts_at, ends_at) && tstzrange($3, $4)`,
      [participant, w.name, ...window],
    );
    if (held.rowCount) {
      const h = held.rows[0];
      return refuse("already-registered", `${email} already holds slot ${h.slot} of ${w.name} on ${h.location} from ${h.starts_at.toISOString()}`);
    }
    for (const location of locations) {
      if ((await seatsTaken(c, w.name, location, startsAt, endsAt)) >= w.capacity) continue;
      const free = await c.query(
        `select s from generate_series($1::int, $2::int) s
          where not exists (select 1 from registrations r where r.location = $3 and r.slot = s and r.status in ('pending', 'active')
                              and tstzrange(r.starts_at, r.ends_at) && tstzrange($4, $5))
          order by s`,
        [w.range_min, w.range_max, location, ...window],
      );
      for (const { s: slot } of free.rows) {
        await c.query("savepoint slot");
        try {
          const row = (
            await c.query(
              `insert into registrations (participant_id, workshop, location, slot, starts_at, ends_at)
               values ($1, $2, $3, $4, $5, $6) returning id::text, starts_at, ends_at`,
              [participant, w.name, location, slot, ...window],
            )
          ).rows[0];
          return { ok: true as const, id: row.id, workshop: w.name, location, slot, startsAt: row.starts_at, endsAt: row.ends_at };
        } catch (e) {
          // Another live registration holds this slot in this window (the database's guarantee): try the next one.
          if (!HELD.has((e as { code?: string }).code ?? "")) throw e;
          await c.query("rollback to savepoint slot");
        }
      }
    }
    return refuse("full", `workshop ${w.name} is full from ${startsAt.toISOString()} to ${endsAt.toISOString()}: all ${w.capacity} seats on ${locations.join(", ")} are taken`);
  });
}

/** unique_violation, exclusion_violation: the slot is held meanwhile. */
const HELD = new Set(["23505", "23P01"]);

/** The most seats of a workshop on a location that live bookings take at once during [from, to). */
async function seatsTaken(c: PoolClient, workshop: string, location: string, from: Date, to: Date, except?: string): Promise<number> {
  const { rows } = await c.query(
    `select starts_at, ends_at from registrations
      where workshop = $1 and location = $2 and status in ('pending', 'active') and tstzrange(starts_at, ends_at) && tstzrange($3, $4)
        and id is distinct from $5::bigint`,
    [workshop, location, from, to, except ?? null],
  );
  return peakOverlap(rows.map((r) => ({ start: r.starts_at.getTime(), end: r.ends_at.getTime() })), { start: from.getTime(), end: to.getTime() });
}

/**
 * An operator's fresh start for one learner (WoD's PURGE of one slot): the registration's
 * generation goes up, so the next run archives the slot's current activation and activates it
 * anew (same password). Returns the new generation, or undefined when no live registration has that id.
 */
export async function resetRegistration(pool: Db, id: string): Promise<number | undefined> {
  const r = await pool.query(
    "update registrations set generation = generation + 1, updated_at = now() where id = $1 and status in ('pending', 'active') returning generation",
    [id],
  );
  return r.rows[0]?.generation;
}

/** Cancels a live registration; its account is released by the next reconcile. */
export async function cancel(pool: Db, id: string): Promise<boolean> {
  const r = await pool.query(
    "update registrations set status = 'cancelled', updated_at = now() where id = $1 and status in ('pending', 'active')",
    [id],
  );
  return r.rowCount === 1;
}

/** An extension the bookings after it leave no room for: nothing was changed. */
export class ExtensionRefused extends Error {}

/**
 * Moves a live registration's end by the given hours (an operator's extension; fractions allowed),
 * if its slot and a seat stay free that long: a later booking of the slot, or of the learner's
 * next session, or a full workshop refuses it (ExtensionRefused). Undefined when no live registration has that id.
 */
export async function extend(pool: Db, id: string, hours: number): Promise<Date | undefined> {
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_EXTEND_HOURS) {
    throw new RangeError(`an extension is a positive number of hours up to ${MAX_EXTEND_HOURS}, got ${hours}`);
  }
  return inTransaction(pool, async (c) => {
    const r = (await c.query("select workshop, location, slot, ends_at from registrations where id = $1 and status in ('pending', 'active')", [id])).rows[0];
    if (!r) return undefined;
    const w = (await c.query("select capacity from workshops where name = $1 for update", [r.workshop])).rows[0];
    const until = new Date(r.ends_at.getTime() + hours * 3_600_000);
    if (w && (await seatsTaken(c, r.workshop, r.location, r.ends_at, until, id)) >= w.capacity) {
      throw new ExtensionRefused(`registration ${id} cannot be extended to ${until.toISOString()}: all ${w.capacity} seats of ${r.workshop} on ${r.location} are booked before then`);
    }
    await c.query("savepoint extend");
    try {
      const row = (await c.query(
        "update registrations set ends_at = ends_at + make_interval(secs => $2::float8 * 3600), updated_at = now() where id = $1 returning ends_at",
        [id, hours],
      )).rows[0];
      return row.ends_at as Date;
    } catch (e) {
      const err = e as { code?: string; constraint?: string };
      if (err.code !== "23P01") throw e;
      await c.query("rollback to savepoint extend");
      const next = (await c.query(
        err.constraint === "registrations_live_participant"
          ? `select b.id::text, b.starts_at from registrations a join registrations b on b.participant_id = a.participant_id and b.workshop = a.workshop
              where a.id = $1 and b.id <> a.id and b.status in ('pending', 'active') and b.starts_at >= a.ends_at order by b.starts_at limit 1`
          : `select b.id::text, b.starts_at from registrations a join registrations b on b.location = a.location and b.slot = a.slot
              where a.id = $1 and b.id <> a.id and b.status in ('pending', 'active') and b.starts_at >= a.ends_at order by b.starts_at limit 1`,
        [id],
      )).rows[0];
      const what = err.constraint === "registrations_live_participant" ? "the learner's next booking of this workshop" : `slot ${r.slot} on ${r.location}`;
      throw new ExtensionRefused(`registration ${id} cannot be extended to ${until.toISOString()}: ${what} is booked from ${next?.starts_at.toISOString() ?? "then"}${next ? ` (registration ${next.id})` : ""}`);
    }
  });
}

function refuse(refusal: Refusal, message: string): RegisterResult {
  return { ok: false, refusal, message };
}

/** Runs work in a transaction; given a client already in one, in a savepoint of it (one failure undoes only its own work). */
export async function inTransaction<T>(pool: Db, work: (c: PoolClient) => Promise<T>): Promise<T> {
  if (!(pool instanceof Pool)) {
    await pool.query("savepoint nested");
    try {
      const result = await work(pool);
      await pool.query("release savepoint nested");
      return result;
    } catch (e) {
      await pool.query("rollback to savepoint nested").catch(() => {});
      throw e;
    }
  }
  const c = await pool.connect();
  try {
    await c.query("begin");
    const result = await work(c);
    await c.query("commit");
    return result;
  } catch (e) {
    await c.query("rollback").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}
