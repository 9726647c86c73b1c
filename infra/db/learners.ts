// Admin actions on student servers: extend a learner's server past its idle limit, revoke it,
// or restore one that was removed.
import type { Db } from "./registrations";

/** The longest server extension one command grants. */
export const MAX_EXTEND_DAYS = 365;

export async function extendServer(pool: Db, learnerId: string, days: number): Promise<Date | undefined> {
  if (!Number.isFinite(days) || days <= 0 || days > MAX_EXTEND_DAYS) {
    throw new RangeError(`a server extension is a positive number of days up to ${MAX_EXTEND_DAYS}, got ${days}`);
  }
  const r = await pool.query(
    `update student_servers set extended_until = greatest(coalesce(extended_until, now()), now()) + make_interval(secs => $2::float8 * 86400), warned_at = null
      where learner_id = $1 and removed_at is null returning extended_until`,
    [learnerId, days],
  );
  return r.rows[0]?.extended_until;
}

export async function revokeServer(pool: Db, learnerId: string): Promise<boolean> {
  const r = await pool.query("update student_servers set revoked_at = now() where learner_id = $1 and removed_at is null and revoked_at is null", [learnerId]);
  return r.rowCount === 1;
}

/** Forgets a removed or revoked server so an eligible learner gets a new one on the next run. */
export async function restoreServer(pool: Db, learnerId: string): Promise<boolean> {
  const r = await pool.query("delete from student_servers where learner_id = $1 and (removed_at is not null or revoked_at is not null)", [learnerId]);
  return r.rowCount === 1;
}
