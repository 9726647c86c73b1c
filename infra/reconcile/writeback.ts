// Write-back: the database learns what the stack now holds. An idempotent full sync from the
// resources the state holds (each cohort's last applied per-slot results, each droplet), the
// secret credentials output, and facts read on the machines (servers' removals are recorded by
// servers.ts as they happen).
// Only what was really applied is written: a failed sync leaves its previous results in the
// state, so nothing it did not do is recorded.
import type { Pool } from "pg";
import type { DesiredState } from "../desired/types";
import { inTransaction } from "../db/registrations";
import { type AuditContext, setAuditContext } from "../audit/record";
import { type CohortResults, parseResults } from "../../components/studentCohort";
import { nameOf, type StateResource } from "./engine";
import { checkRelease, type HostFacts } from "./host-facts";

export interface StackOutputValues {
  credentials?: Record<string, string>;
  /** Which password seed the credentials come from (recorded per activation; the password itself never is). */
  passwordSeedId?: string;
  backends?: Record<string, { address: string; hubUrl: string; hostKey?: string }>;
}

/** What a write-back learns from the state: per cohort results, per learner droplet. */
export interface Applied {
  /** Cohort name → its results; a cohort in the state without parseable results maps to undefined. */
  cohorts: Map<string, CohortResults | undefined>;
  /** Learner id → the droplet the state holds. */
  droplets: Map<string, { id: string; ipv4?: string }>;
}

export function appliedFrom(state: StateResource[]): Applied {
  const cohorts = new Map<string, CohortResults | undefined>();
  const droplets = new Map<string, { id: string; ipv4?: string }>();
  for (const r of state) {
    const name = nameOf(r.urn);
    if (r.type === "command:remote:Command" && r.urn.includes("wod:index:StudentCohort$") && name.endsWith("-sync")) {
      cohorts.set(name.slice(0, -"-sync".length), parseResults(r.outputs.stdout as string | undefined));
    }
    const learner = /^learner-(.+)-droplet$/.exec(name)?.[1];
    if (r.type === "digitalocean:index/droplet:Droplet" && learner) {
      droplets.set(learner, { id: String(r.outputs.id ?? ""), ipv4: r.outputs.ipv4Address as string | undefined });
    }
  }
  return { cohorts, droplets };
}

export interface WriteBackSummary {
  activated: number;
  failed: number;
  released: number;
  releaseFailed: number;
  serversUp: number;
  serversWarned: number;
  completions: number;
  lastLogins: number;
}

export async function writeBack(
  pool: Pool,
  run: {
    desired: DesiredState;
    applied: Applied;
    outputs: StackOutputValues;
    facts?: HostFacts;
    now: Date;
    /** Tags the changes with the run, so the trail's events name it. */
    audit?: AuditContext;
  },
): Promise<WriteBackSummary> {
  const { desired, applied, now } = run;
  const credentials = run.outputs.credentials ?? {};
  const hubUrls = Object.fromEntries(Object.entries(run.outputs.backends ?? {}).map(([l, b]) => [l, b.hubUrl]));
  const s: WriteBackSummary = { activated: 0, failed: 0, released: 0, releaseFailed: 0, serversUp: 0, serversWarned: 0, completions: 0, lastLogins: 0 };

  // Who each cohort's last applied sync says holds its slots, and what it released.
  const held = new Map<string, { status: string; error?: string }>();
  const completion = new Map<string, number>();
  for (const results of applied.cohorts.values()) {
    for (const r of Object.values(results?.slots ?? {})) held.set(r.registration, r);
    for (const record of results?.released ?? []) {
      // A host's record is data from a learner-writable machine: only well-formed ids and ratios get through.
      const r = checkRelease(record);
      if ("registration" in r) completion.set(r.registration, r.completionRatio);
    }
  }
  for (const [id, ratio] of Object.entries(run.facts?.completions ?? {})) if (!completion.has(id)) completion.set(id, ratio);

  await inTransaction(pool, async (c) => {
    await setAuditContext(c, run.audit);
    for (const a of desired.accounts) {
      const result = held.get(a.registrationId);
      if (!applied.cohorts.has(a.cohort) || !result) continue; // not applied (yet): stays pending
      if (result.status === "failed") {
        const r = await c.query(
          "update registrations set status = 'failed', failure_reason = $2, updated_at = $3 where id = $1 and status in ('pending', 'active')",
          [a.registrationId, (result.error ?? "activation failed").slice(0, 2000), now],
        );
        s.failed += r.rowCount ?? 0;
        continue;
      }
      const password = credentials[a.registrationId];
      const hubUrl = hubUrls[a.location];
      if (result.status !== "active" || !password || !hubUrl) continue;
      // No password at rest: only which seed it derives from (a new seed id is a new credentials mail).
      const r = await c.query(
        `update registrations set status = 'active', username = $2, password_seed_id = $3, hub_url = $4, failure_reason = null, updated_at = $5
          where id = $1 and status in ('pending', 'active')
            and (status, username, password_seed_id, hub_url) is distinct from ('active', $2, $3, $4)`,
        [a.registrationId, a.username, run.outputs.passwordSeedId ?? null, hubUrl, now],
      );
      s.activated += r.rowCount ?? 0;
    }

    // An ended registration is released once no applied sync holds its slot any more (its cohort
    // said so, or the cohort itself is gone from the state); a release that failed is counted and
    // retried by the next run.
    const t = desired.transitions;
    for (const id of [...t.expiredRegistrations, ...t.closedRegistrations]) {
      const cohort = t.endedCohorts[id];
      const results = cohort === undefined ? undefined : applied.cohorts.get(cohort);
      if (cohort !== undefined && applied.cohorts.has(cohort) && results === undefined) continue; // its sync never answered
      const r = held.get(id);
      if (r?.status === "release-failed") {
        const q = await c.query(
          "update registrations set release_attempts = release_attempts + 1, release_error = $2, updated_at = $3 where id = $1 and released_at is null",
          [id, (r.error ?? "release failed").slice(0, 2000), now],
        );
        s.releaseFailed += q.rowCount ?? 0;
        continue;
      }
      if (r) continue; // still held: the release has not happened
      const q = await c.query(
        `update registrations set status = case when status in ('pending', 'active') then 'released' else status end,
                released_at = $2, release_error = null, updated_at = $2
          where id = $1 and released_at is null`,
        [id, now],
      );
      s.released += q.rowCount ?? 0;
    }

    for (const [id, ratio] of completion) {
      const r = await c.query("update registrations set completion = $2 where id = $1 and completion is distinct from $2", [id, ratio]);
      s.completions += r.rowCount ?? 0;
    }

    const desiredServers = new Map(desired.studentServers.map((x) => [x.learnerId, x]));
    for (const [learnerId, droplet] of applied.droplets) {
      const d = desiredServers.get(learnerId);
      if (!d || !droplet.ipv4) continue;
      const r = await c.query(
        `insert into student_servers (learner_id, droplet_id, ipv4, region, created_at) values ($1, $2, $3, $4, $5)
         on conflict (learner_id) do update set ipv4 = excluded.ipv4, droplet_id = excluded.droplet_id
           where student_servers.removed_at is null
             and (student_servers.ipv4, student_servers.droplet_id) is distinct from (excluded.ipv4, excluded.droplet_id)`,
        [learnerId, droplet.id, droplet.ipv4, d.region, now],
      );
      s.serversUp += r.rowCount ?? 0;
    }
    const warn = desired.transitions.warnServers.filter((id) => applied.droplets.has(id));
    if (warn.length) {
      // Only a warning not given yet, or given before the last activity, is (re)set: a re-run keeps the first date.
      const r = await c.query(
        `update student_servers set warned_at = $2 where learner_id = any($1::bigint[]) and removed_at is null
           and (warned_at is null or warned_at < greatest(created_at, coalesce(last_ssh_at, created_at)))`,
        [warn, now],
      );
      s.serversWarned += r.rowCount ?? 0;
    }
    for (const [id, at] of Object.entries(run.facts?.hubLogins ?? {})) {
      await c.query("update registrations set last_login_at = $2 where id = $1 and (last_login_at is null or last_login_at < $2)", [id, at]);
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
