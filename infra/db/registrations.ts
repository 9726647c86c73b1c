// Operator commands on registrations: register, cancel, extend.
import type { Pool, PoolClient } from "pg";

export type Refusal = "unknown-workshop" | "inactive" | "full" | "already-registered" | "unknown-location" | "invalid-email" | "invalid-start";

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

/** Books the lowest free slot in the workshop's range on a location that hosts it, or says why not. */
export async function register(pool: Pool, req: RegisterRequest): Promise<RegisterResult> {
  const email = req.email.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) return refuse("invalid-email", `'${req.email.slice(0, 80)}' is not an e-mail address`);
  if (req.startsAt && Number.isNaN(req.startsAt.getTime())) return refuse("invalid-start", "the start time is not a date");
  return inTransaction(pool, async (c) => {
    // Row lock: registrations for one workshop are decided one at a time.
    const w = (await c.query("select * from workshops where name = $1 for update", [req.workshop])).rows[0];
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
    const held = await c.query(
      "select location, slot from registrations where participant_id = $1 and workshop = $2 and status in ('pending', 'active')",
      [participant, w.name],
    );
    if (held.rowCount) {
      return refuse("already-registered", `${email} already holds slot ${held.rows[0].slot} of ${w.name} on ${held.rows[0].location}`);
    }
    const startsAt = req.startsAt ?? new Date();
    for (const location of locations) {
      const inUse = (await c.query("select in_use from workshop_seats where workshop = $1 and location = $2", [w.name, location])).rows[0]?.in_use ?? 0;
      if (inUse >= w.capacity) continue;
      const free = await c.query(
        `select s from generate_series($1::int, $2::int) s
          where not exists (select 1 from registrations r where r.location = $3 and r.slot = s and r.status in ('pending', 'active'))
          order by s`,
        [w.range_min, w.range_max, location],
      );
      for (const { s: slot } of free.rows) {
        await c.query("savepoint slot");
        try {
          const row = (
            await c.query(
              `insert into registrations (participant_id, workshop, location, slot, starts_at, ends_at)
               values ($1, $2, $3, $4, $5, $5::timestamptz + make_interval(secs => $6::float8 * 3600)) returning id::text, starts_at, ends_at`,
              [participant, w.name, location, slot, startsAt, Number(w.duration_hours)],
            )
          ).rows[0];
          return { ok: true as const, id: row.id, workshop: w.name, location, slot, startsAt: row.starts_at, endsAt: row.ends_at };
        } catch (e) {
          // Another live registration holds this slot (the database's guarantee): try the next one.
          if ((e as { code?: string }).code !== "23505") throw e;
          await c.query("rollback to savepoint slot");
        }
      }
    }
    return refuse("full", `workshop ${w.name} is full: all ${w.capacity} seats on ${locations.join(", ")} are taken`);
  });
}

/**
 * An operator's fresh start for one learner (WoD's PURGE of one slot): the registration's
 * generation goes up, so the next run archives the slot's current activation and activates it
 * anew (same password). Returns the new generation, or undefined when no live registration has that id.
 */
export async function resetRegistration(pool: Pool, id: string): Promise<number | undefined> {
  const r = await pool.query(
    "update registrations set generation = generation + 1, updated_at = now() where id = $1 and status in ('pending', 'active') returning generation",
    [id],
  );
  return r.rows[0]?.generation;
}

/** Cancels a live registration; its account is released by the next reconcile. */
export async function cancel(pool: Pool, id: string): Promise<boolean> {
  const r = await pool.query(
    "update registrations set status = 'cancelled', updated_at = now() where id = $1 and status in ('pending', 'active')",
    [id],
  );
  return r.rowCount === 1;
}

/** Moves a live registration's end by the given hours (an operator's extension; fractions allowed). */
export async function extend(pool: Pool, id: string, hours: number): Promise<Date | undefined> {
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_EXTEND_HOURS) {
    throw new RangeError(`an extension is a positive number of hours up to ${MAX_EXTEND_HOURS}, got ${hours}`);
  }
  const r = await pool.query(
    `update registrations set ends_at = ends_at + make_interval(secs => $2::float8 * 3600), updated_at = now()
      where id = $1 and status in ('pending', 'active') returning ends_at`,
    [id, hours],
  );
  return r.rows[0]?.ends_at;
}

function refuse(refusal: Refusal, message: string): RegisterResult {
  return { ok: false, refusal, message };
}

export async function inTransaction<T>(pool: Pool, work: (c: PoolClient) => Promise<T>): Promise<T> {
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
