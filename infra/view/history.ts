// Reading the audit trail (migration 006): runs and commands, and a learner's story as one
// timeline. Read only.
import type { Pool } from "pg";

export interface HistoryEntry {
  at: string;
  startedAt: string;
  run: string;
  actor: string;
  dbRole: string;
  command: string;
  trigger: string | null;
  stack: string | null;
  request: Record<string, unknown>;
  changes: Record<string, unknown>;
  outcome: string;
  exitCode: number | null;
  error: string | null;
  pulumiVersion: number | null;
}

export interface HistoryEvent {
  at: string;
  registration: string | null;
  learner: string | null;
  event: string;
  actor: string;
  /** The command or run that made the change (null: made outside wod, or its entry is missing). */
  command: string | null;
  trigger: string | null;
  run: string | null;
  detail: Record<string, unknown>;
}

export interface Timeline {
  subject: string;
  registrations: { id: string; workshop: string; location: string; slot: number }[];
  learner: string | null;
  events: HistoryEvent[];
}

/** Views of the database and of the trail itself: recorded, but left out of `wod history` unless --all. */
export const VIEWS = new Set(["status", "history", "report"]);

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export async function readEntries(pool: Pool, opts: { since?: Date; limit?: number; all?: boolean; command?: string }): Promise<HistoryEntry[]> {
  const r = await pool.query(
    `select * from (
       select at, started_at, run::text, actor, db_role, command, trigger, stack, request, changes, outcome, exit_code, error, pulumi_version, id
         from audit_log
        where ($1::timestamptz is null or at >= $1) and ($3 or command <> all($4::text[])) and ($5::text is null or command = $5)
        order by at desc, id desc limit $2) newest
      order by at, id`,
    [opts.since ?? null, opts.limit ?? (opts.since ? 10_000 : 30), !!opts.all, [...VIEWS], opts.command ?? null],
  );
  return r.rows.map((e) => ({
    at: iso(e.at)!, startedAt: iso(e.started_at)!, run: e.run, actor: e.actor, dbRole: e.db_role, command: e.command, trigger: e.trigger,
    stack: e.stack, request: e.request, changes: e.changes, outcome: e.outcome, exitCode: e.exit_code, error: e.error, pulumiVersion: e.pulumi_version,
  }));
}

/** One registration's story, or a learner's (every registration of that e-mail, and their student server). */
export async function readTimeline(pool: Pool, subject: { registration: string } | { learner: string }): Promise<Timeline> {
  const byEmail = "learner" in subject;
  const email = byEmail ? subject.learner.trim().toLowerCase() : undefined;
  const regs = (await pool.query(
    byEmail
      ? "select r.id::text, r.workshop, r.location, r.slot from registrations r join participants p on p.id = r.participant_id where p.email = $1 order by r.id"
      : "select id::text, workshop, location, slot from registrations where id = $1",
    [byEmail ? email : subject.registration],
  )).rows;
  // A registration the database no longer holds still has its story in the trail.
  const ids = byEmail ? regs.map((r) => r.id) : [subject.registration];
  const learner = byEmail ? ((await pool.query("select id::text from learners where email = $1", [email])).rows[0]?.id ?? null) : null;
  const rows = (await pool.query(
    `select e.at, e.registration_id::text, e.learner_id::text, e.event, e.actor, e.run::text, e.detail, l.command, l.trigger
       from audit_events e left join audit_log l on l.run = e.run
      where e.registration_id = any($1::bigint[]) or e.learner_id = $2::bigint
      order by e.at, e.id`,
    [ids, learner],
  )).rows;
  const events: HistoryEvent[] = rows.map((e) => ({
    at: iso(e.at)!, registration: e.registration_id, learner: e.learner_id, event: e.event, actor: e.actor,
    command: e.command ?? null, trigger: e.trigger ?? null, run: e.run, detail: e.detail,
  }));
  events.push(...(await sentMessages(pool, ids, learner)));
  events.sort((a, b) => a.at.localeCompare(b.at));
  return { subject: byEmail ? email! : `registration ${subject.registration}`, registrations: regs, learner, events };
}

/**
 * Messages the learner was sent ("credentials sent"), from the notification outbox when this
 * database has one (issue 15's migration): part of the same story.
 */
async function sentMessages(pool: Pool, registrations: string[], learner: string | null): Promise<HistoryEvent[]> {
  const present = (await pool.query("select to_regclass('outbox') is not null as present")).rows[0].present;
  if (!present) return [];
  try {
    const rows = (await pool.query(
      `select sent_at, registration_id::text, learner_id::text, kind from outbox
        where sent_at is not null and (registration_id = any($1::bigint[]) or learner_id = $2::bigint)`,
      [registrations, learner],
    )).rows;
    return rows.map((m) => ({
      at: iso(m.sent_at)!, registration: m.registration_id, learner: m.learner_id, event: "sent", actor: "wod notify",
      command: "notify", trigger: null, run: null, detail: { message: m.kind },
    }));
  } catch {
    return []; // an outbox of another shape: the rest of the story still reads
  }
}

/** `--since`: an ISO 8601 time, or a span back from now (`90m`, `12h`, `7d`). */
export function parseSince(text: string, now: Date): Date | undefined {
  const span = /^(\d+)(m|h|d)$/.exec(text.trim());
  if (span) return new Date(now.getTime() - Number(span[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as "m" | "h" | "d"]);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
