// Admin actions on student servers: extend a learner's server past its idle limit, revoke it,
// or restore one that was removed.
import type { Pool } from "pg";
import type { StackConfig } from "../config";
import { desiredState } from "../desired/state";
import { inTransaction } from "./registrations";
import { readSnapshot } from "./snapshot";

/** The longest server extension one command grants. */
export const MAX_EXTEND_DAYS = 365;

export type ServerExtension = { ok: true; until: Date } | { ok: false; reason: string };

/**
 * Keeps a learner's server at least `days` past now. A server the decision grants but no up has
 * written back yet has no row: the extension creates it (region as decided, no droplet yet), and
 * the write-back fills in the droplet, so the plan and the command agree on which servers exist.
 * A learner the decision gives no server is refused with the reason.
 */
export async function extendServer(pool: Pool, learnerId: string, days: number, config: StackConfig, now = new Date()): Promise<ServerExtension> {
  if (!Number.isFinite(days) || days <= 0 || days > MAX_EXTEND_DAYS) {
    throw new RangeError(`a server extension is a positive number of days up to ${MAX_EXTEND_DAYS}, got ${days}`);
  }
  const extendRow = async () =>
    (await pool.query(
      `update student_servers set extended_until = greatest(coalesce(extended_until, now()), now()) + make_interval(secs => $2::float8 * 86400), warned_at = null
        where learner_id = $1 and removed_at is null returning extended_until`,
      [learnerId, days],
    )).rows[0]?.extended_until as Date | undefined;
  const until = await extendRow();
  if (until) return { ok: true, until };

  const snapshot = await readSnapshot(pool);
  const none = (why: string): ServerExtension => ({ ok: false, reason: `learner ${learnerId} has no student server and gets none: ${why}` });
  const learner = snapshot.learners.find((l) => l.id === learnerId);
  if (!learner) return { ok: false, reason: `no learner ${learnerId}` };
  if (snapshot.studentServers.some((s) => s.learnerId === learnerId)) return none("it was removed (wod server-restore lets them get a new one)");
  const rules = config.studentServers;
  if (!rules.enabled) return none("student servers are off for this stack (wod:studentServers.enabled)");
  const d = desiredState({ catalog: [], snapshot: { ...snapshot, registrations: [], closing: [], learners: [learner], studentServers: [] }, config, now });
  const granted = d.studentServers.find((s) => s.learnerId === learnerId);
  if (!granted) {
    const rejected = d.rejected.find((r) => r.kind === "learner" && r.id === learnerId);
    if (rejected) return none(rejected.reason);
    return none(learner.passed[rules.revokeLesson] ? `revoke lesson ${rules.revokeLesson} passed` : `grant lesson ${rules.grantLesson} not passed`);
  }
  await pool.query(
    "insert into student_servers (learner_id, region, created_at) values ($1, $2, $3) on conflict (learner_id) do nothing",
    [learnerId, granted.region, now],
  );
  const created = await extendRow();
  return created ? { ok: true, until: created } : none("it was removed meanwhile");
}

export async function revokeServer(pool: Pool, learnerId: string): Promise<boolean> {
  const r = await pool.query("update student_servers set revoked_at = now() where learner_id = $1 and removed_at is null and revoked_at is null", [learnerId]);
  return r.rowCount === 1;
}

/**
 * An admin's second chance: a removed server's record moves to student_server_history (its snapshot
 * id stays findable) and the learner, if still eligible, gets a new server on the next run; a
 * revocation not carried out yet is cancelled, so the server is kept.
 */
export async function restoreServer(pool: Pool, learnerId: string): Promise<{ restored: "removed"; snapshotId: string | null } | { restored: "revoked" } | undefined> {
  return inTransaction(pool, async (c) => {
    const row = (await c.query("select removed_at, revoked_at, snapshot_id from student_servers where learner_id = $1 for update", [learnerId])).rows[0];
    if (row?.removed_at) {
      await c.query(
        `insert into student_server_history (learner_id, droplet_id, ipv4, region, created_at, last_ssh_at, warned_at, extended_until, revoked_at, removed_at, removal_reason, snapshot_id, snapshot_at)
         select learner_id, droplet_id, ipv4, region, created_at, last_ssh_at, warned_at, extended_until, revoked_at, removed_at, removal_reason, snapshot_id, snapshot_at
           from student_servers where learner_id = $1`,
        [learnerId],
      );
      await c.query("delete from student_servers where learner_id = $1", [learnerId]);
      return { restored: "removed" as const, snapshotId: row.snapshot_id as string | null };
    }
    if (row?.revoked_at) {
      await c.query("update student_servers set revoked_at = null where learner_id = $1", [learnerId]);
      return { restored: "revoked" as const };
    }
    return undefined;
  });
}
