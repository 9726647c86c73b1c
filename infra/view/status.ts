// The live view (`wod status`, `wod report --html`): who is on which seat of which backend, in
// which state, until when, from the database as the last runs wrote it back. Read only.
import type { Pool } from "pg";
import type { StackConfig } from "../config";
import { readSnapshot } from "../db/snapshot";
import { desiredState } from "../desired/state";

/** pending: waiting for the next run; active: credentials written back; failed: its activation failed; releasing: ended, its release not confirmed yet; released: recently. */
export type LearnerState = "pending" | "active" | "failed" | "releasing" | "released";
export const STATES: LearnerState[] = ["failed", "releasing", "pending", "active", "released"];

export interface StatusLearner {
  registration: string;
  email: string;
  name: string;
  workshop: string;
  location: string;
  slot: number;
  username: string;
  state: LearnerState;
  since: string;
  until: string;
  /** Active with less than the warning period left. */
  ending: boolean;
  /** The hub's last sign of the learner, when a run read it; null: not known, or never. */
  lastLoginAt: string | null;
  completion: number | null;
  releasedAt: string | null;
  /** Why its activation or its release failed. */
  error: string | null;
  releaseAttempts: number;
}

export interface StatusWorkshop {
  workshop: string;
  location: string;
  active: boolean;
  inCatalog: boolean;
  slots: string;
  seats: number;
  used: number;
  free: number;
  states: Record<LearnerState, number>;
  neverLoggedIn: number;
  learners: StatusLearner[];
}

export interface StatusBackend {
  location: string;
  hubUrl: string | null;
  slotPool: string;
  seats: number;
  used: number;
  free: number;
  states: Record<LearnerState, number>;
  workshops: StatusWorkshop[];
}

export interface StatusServer {
  learnerId: string;
  email: string;
  ipv4: string | null;
  region: string;
  createdAt: string;
  lastSshAt: string | null;
  warnedAt: string | null;
  extendedUntil: string | null;
  /** When the rules remove it unless the learner logs in (or an admin extends it). */
  reapingAt: string | null;
  daysUntilReaping: number | null;
  /** The next run removes it, and why. */
  removedNextRun: string | null;
}

export interface LastRun {
  at: string;
  actor: string;
  trigger: string | null;
  outcome: string;
  pulumiVersion: number | null;
}

export interface Status {
  stack: string;
  at: string;
  filter: { workshop?: string; location?: string };
  totals: {
    backends: number;
    workshops: number;
    seats: number;
    used: number;
    free: number;
    learners: Record<LearnerState, number>;
    ending: number;
    neverLoggedIn: number;
    studentServers: number;
    serversWarned: number;
  };
  lastRun: LastRun | null;
  /** Failed learners first, then releases that failed: what needs an operator. */
  attention: StatusLearner[];
  backends: StatusBackend[];
  studentServers: StatusServer[];
}

const DAY = 86_400_000;
const RECENT_RELEASES_MS = DAY;

const zero = (): Record<LearnerState, number> => ({ pending: 0, active: 0, failed: 0, releasing: 0, released: 0 });
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export async function readStatus(pool: Pool, opts: { stack: string; config: StackConfig; now: Date; workshop?: string; location?: string }): Promise<Status> {
  const { config, now } = opts;
  const here = (l: string) => (!config.part?.locations || config.part.locations.includes(l)) && (!opts.location || l === opts.location);
  const [locations, seats, regs] = await Promise.all([
    pool.query("select name, slot_min, slot_max, hub_url from locations order by name"),
    pool.query(
      `select s.workshop, s.location, s.capacity, s.in_use, w.range_min, w.range_max, w.active, w.in_catalog
         from workshop_seats s join workshops w on w.name = s.workshop order by s.location, s.workshop`,
    ),
    pool.query(
      `select r.id::text, r.workshop, r.location, r.slot, r.status, r.starts_at, r.ends_at, r.username, r.completion,
              r.failure_reason, r.released_at, r.release_attempts, r.release_error, r.last_login_at, p.email, p.name
         from registrations r join participants p on p.id = r.participant_id
        where r.status in ('pending', 'active') or (r.released_at is null and r.status in ('cancelled', 'failed'))
           or r.released_at > $1
        order by r.location, r.workshop, r.slot, r.id`,
      [new Date(now.getTime() - RECENT_RELEASES_MS)],
    ),
  ]);
  const warnMs = config.warningMinutes * 60_000;
  const learners: StatusLearner[] = regs.rows.map((r) => {
    const ended = new Date(r.ends_at).getTime() <= now.getTime();
    const state: LearnerState = r.released_at ? "released"
      : r.status === "failed" ? "failed"
      : r.status === "cancelled" || ended ? "releasing"
      : r.status;
    return {
      registration: r.id, email: r.email, name: r.name, workshop: r.workshop, location: r.location, slot: r.slot,
      username: r.username ?? `student${r.slot}`, state, since: iso(r.starts_at)!, until: iso(r.ends_at)!,
      ending: state === "active" && new Date(r.ends_at).getTime() - now.getTime() <= warnMs,
      lastLoginAt: iso(r.last_login_at), completion: r.completion === null ? null : Number(r.completion),
      releasedAt: iso(r.released_at), error: r.failure_reason ?? r.release_error ?? null, releaseAttempts: r.release_attempts,
    };
  });

  const workshopRows = seats.rows.filter((s) => here(s.location) && (!opts.workshop || s.workshop === opts.workshop));
  const backends: StatusBackend[] = locations.rows.filter((l) => here(l.name)).map((l) => {
    const workshops = workshopRows.filter((s) => s.location === l.name).map((s): StatusWorkshop => {
      const mine = learners.filter((x) => x.location === l.name && x.workshop === s.workshop);
      const states = zero();
      for (const x of mine) states[x.state]++;
      const size = Math.min(s.capacity, s.range_max - s.range_min + 1);
      return {
        workshop: s.workshop, location: l.name, active: s.active, inCatalog: s.in_catalog, slots: `${s.range_min}-${s.range_max}`,
        seats: size, used: s.in_use, free: Math.max(0, size - s.in_use), states,
        neverLoggedIn: mine.filter((x) => x.state === "active" && !x.lastLoginAt).length,
        learners: mine,
      };
    }).filter((w) => w.inCatalog || w.learners.length || w.used);
    const states = zero();
    for (const w of workshops) for (const k of STATES) states[k] += w.states[k];
    const sum = (f: (w: StatusWorkshop) => number) => workshops.reduce((n, w) => n + f(w), 0);
    return {
      location: l.name, hubUrl: l.hub_url, slotPool: `${l.slot_min}-${l.slot_max}`, workshops, states,
      seats: sum((w) => w.seats), used: sum((w) => w.used), free: sum((w) => w.free),
    };
  }).filter((b) => !opts.workshop || b.workshops.length);

  const shown = backends.flatMap((b) => b.workshops.flatMap((w) => w.learners));
  const attention = [
    ...shown.filter((x) => x.state === "failed"),
    ...shown.filter((x) => x.state === "releasing" && x.releaseAttempts > 0),
  ];
  const studentServers = opts.workshop || opts.location || config.part?.studentServers === false ? [] : await readServers(pool, config, now);
  const learnerTotals = zero();
  for (const x of shown) learnerTotals[x.state]++;
  const sum = (f: (b: StatusBackend) => number) => backends.reduce((n, b) => n + f(b), 0);
  return {
    stack: opts.stack,
    at: now.toISOString(),
    filter: { ...(opts.workshop ? { workshop: opts.workshop } : {}), ...(opts.location ? { location: opts.location } : {}) },
    totals: {
      backends: backends.length, workshops: new Set(backends.flatMap((b) => b.workshops.map((w) => w.workshop))).size, seats: sum((b) => b.seats), used: sum((b) => b.used), free: sum((b) => b.free),
      learners: learnerTotals, ending: shown.filter((x) => x.ending).length,
      neverLoggedIn: shown.filter((x) => x.state === "active" && !x.lastLoginAt).length,
      studentServers: studentServers.length, serversWarned: studentServers.filter((s) => s.warnedAt).length,
    },
    lastRun: await lastRun(pool, opts.stack),
    attention,
    backends,
    studentServers,
  };
}

/** Live student servers, with when the decision's own rules would reap each. */
async function readServers(pool: Pool, config: StackConfig, now: Date): Promise<StatusServer[]> {
  const snapshot = await readSnapshot(pool);
  const live = snapshot.studentServers.filter((s) => !s.removedAt);
  if (!live.length) return [];
  // The real decision, over the learners and servers only: the same idle and warning rules as a run.
  const desired = desiredState({ catalog: [], snapshot: { ...snapshot, registrations: [], closing: [] }, config, now });
  const kept = new Map(desired.studentServers.map((s) => [s.learnerId, s]));
  const removed = new Map(desired.transitions.removeServers.map((r) => [r.learnerId, r.reason]));
  const emails = new Map(snapshot.learners.map((l) => [l.id, l.email]));
  return live.map((s) => {
    const reap = kept.get(s.learnerId)?.expiresAt ?? null;
    return {
      learnerId: s.learnerId, email: emails.get(s.learnerId) ?? "", ipv4: s.ipv4, region: s.region, createdAt: iso(s.createdAt)!,
      lastSshAt: iso(s.lastSshAt), warnedAt: iso(s.warnedAt), extendedUntil: iso(s.extendedUntil), reapingAt: reap,
      daysUntilReaping: reap ? Math.max(0, Math.floor((new Date(reap).getTime() - now.getTime()) / DAY)) : null,
      removedNextRun: removed.get(s.learnerId) ?? null,
    };
  }).sort((a, b) => (a.reapingAt ?? "").localeCompare(b.reapingAt ?? "") || Number(a.learnerId) - Number(b.learnerId));
}

async function lastRun(pool: Pool, stack: string): Promise<LastRun | null> {
  if (!(await pool.query("select to_regclass('audit_log') is not null as present")).rows[0].present) return null;
  const r = (await pool.query(
    "select at, actor, trigger, outcome, pulumi_version from audit_log where command = 'reconcile' and stack = $1 order by at desc, id desc limit 1",
    [stack],
  )).rows[0];
  return r ? { at: iso(r.at)!, actor: r.actor, trigger: r.trigger, outcome: r.outcome, pulumiVersion: r.pulumi_version } : null;
}
