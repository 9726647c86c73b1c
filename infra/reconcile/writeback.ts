// Write-back: the database learns what the stack now holds. An idempotent full sync from the
// stack outputs (what was applied), the engine's failures, and the facts read on the machines.
import type { Pool } from "pg";
import type { DesiredState } from "../desired/types";
import { inTransaction } from "../db/registrations";
import { accountName, ownerName } from "../names";
import { type Failure, nameOf } from "./engine";
import type { HostFacts } from "./host-facts";

export interface StackOutputValues {
  accounts?: Record<string, { username: string; hubUrl: string; password: string }>;
  studentServers?: Record<string, { ipv4: string }>;
  backends?: Record<string, { address: string; hubUrl: string }>;
}

export interface WriteBackSummary {
  activated: number;
  failed: number;
  released: number;
  serversUp: number;
  serversWarned: number;
  serversRemoved: number;
  completions: number;
  lastLogins: number;
}

export async function writeBack(
  pool: Pool,
  run: {
    desired: DesiredState;
    outputs: StackOutputValues;
    failures: Failure[];
    facts?: HostFacts;
    now: Date;
    /** A split stack's locations: registrations elsewhere belong to another stack's write-back. */
    locations?: string[];
  },
): Promise<WriteBackSummary> {
  const { desired, failures, now } = run;
  const accounts = run.outputs.accounts ?? {};
  const servers = run.outputs.studentServers ?? {};
  const failedAccounts = failedRegistrations(desired, failures);
  const s: WriteBackSummary = { activated: 0, failed: 0, released: 0, serversUp: 0, serversWarned: 0, serversRemoved: 0, completions: 0, lastLogins: 0 };

  await inTransaction(pool, async (c) => {
    for (const a of desired.accounts) {
      const reason = failedAccounts.get(a.registrationId);
      if (reason) {
        const r = await c.query(
          "update registrations set status = 'failed', failure_reason = $2, updated_at = $3 where id = $1 and status in ('pending', 'active')",
          [a.registrationId, reason, now],
        );
        s.failed += r.rowCount ?? 0;
        continue;
      }
      const out = accounts[a.registrationId];
      if (!out) continue; // not applied (yet): stays pending
      const r = await c.query(
        `update registrations set status = 'active', username = $2, password = $3, hub_url = $4, failure_reason = null, updated_at = $5
          where id = $1 and status in ('pending', 'active')
            and (status, username, password, hub_url) is distinct from ('active', $2, $3, $4)`,
        [a.registrationId, out.username, out.password, out.hubUrl, now],
      );
      s.activated += r.rowCount ?? 0;
    }

    // Released once its account is gone from the stack: expired ones, and cancelled ones.
    const gone = (id: string) => !accounts[id];
    const expired = desired.transitions.expiredRegistrations.filter(gone);
    if (expired.length) {
      const r = await c.query(
        "update registrations set status = 'released', released_at = $2, password = null, updated_at = $2 where id = any($1::bigint[]) and status in ('pending', 'active')",
        [expired, now],
      );
      s.released += r.rowCount ?? 0;
    }
    const cancelled = await c.query(
      "select id::text from registrations where status in ('cancelled', 'failed') and released_at is null and ($1::text[] is null or location = any($1))",
      [run.locations ?? null],
    );
    const releasedNow = cancelled.rows.map((r) => r.id as string).filter(gone);
    if (releasedNow.length) {
      await c.query("update registrations set released_at = $2, password = null where id = any($1::bigint[])", [releasedNow, now]);
      s.released += releasedNow.length;
    }

    for (const [id, ratio] of Object.entries(run.facts?.completions ?? {})) {
      const r = await c.query("update registrations set completion = $2 where id = $1 and completion is distinct from $2", [id, ratio]);
      s.completions += r.rowCount ?? 0;
    }

    const desiredServers = new Map(desired.studentServers.map((x) => [x.learnerId, x]));
    for (const [learnerId, out] of Object.entries(servers)) {
      const d = desiredServers.get(learnerId);
      if (!d || !out.ipv4) continue;
      const r = await c.query(
        `insert into student_servers (learner_id, ipv4, region, created_at) values ($1, $2, $3, $4)
         on conflict (learner_id) do update set ipv4 = excluded.ipv4
           where student_servers.removed_at is null and student_servers.ipv4 is distinct from excluded.ipv4`,
        [learnerId, out.ipv4, d.region, now],
      );
      s.serversUp += r.rowCount ?? 0;
    }
    const warn = desired.transitions.warnServers.filter((id) => servers[id]);
    if (warn.length) {
      // Only a warning not given yet, or given before the last activity, is (re)set: a re-run keeps the first date.
      const r = await c.query(
        `update student_servers set warned_at = $2 where learner_id = any($1::bigint[]) and removed_at is null
           and (warned_at is null or warned_at < greatest(created_at, coalesce(last_ssh_at, created_at)))`,
        [warn, now],
      );
      s.serversWarned += r.rowCount ?? 0;
    }
    for (const { learnerId, reason } of desired.transitions.removeServers) {
      if (servers[learnerId]) continue; // still in the stack: not removed yet
      const r = await c.query(
        "update student_servers set removed_at = $2, removal_reason = $3, ipv4 = null where learner_id = $1 and removed_at is null",
        [learnerId, now, reason],
      );
      s.serversRemoved += r.rowCount ?? 0;
    }
    for (const [learnerId, at] of Object.entries(run.facts?.lastSshAt ?? {})) {
      const r = await c.query(
        "update student_servers set last_ssh_at = $2 where learner_id = $1 and (last_ssh_at is null or last_ssh_at < $2)",
        [learnerId, at],
      );
      s.lastLogins += r.rowCount ?? 0;
    }
  });
  return s;
}

/** Registration id → the engine's message, for accounts whose resources failed. */
function failedRegistrations(desired: DesiredState, failures: Failure[]): Map<string, string> {
  const byName = new Map(desired.accounts.map((a) => [accountName(a.location, a.slot), a.registrationId]));
  const out = new Map<string, string>();
  for (const f of failures) {
    const owner = ownerName(nameOf(f.urn));
    const id = owner && byName.get(owner);
    if (id) out.set(id, f.message.slice(0, 2000));
  }
  return out;
}
