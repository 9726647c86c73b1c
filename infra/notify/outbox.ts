// The outbox's queries (infra/db/migrations/003_outbox.sql): claim what is due, record how each
// try went, count and list messages. Claims are leased: a worker that dies mid-send loses its claim
// when the lease ends, and another worker sends the message (at worst once more, never not at all).
import type { Pool } from "pg";
import type { MessageKind } from "../config";

export type MessageState = "due" | "failing" | "sent" | "undeliverable" | "given-up" | "skipped";

export interface OutboxMessage {
  id: string;
  kind: MessageKind;
  dedupeKey: string;
  registrationId: string | null;
  learnerId: string | null;
  recipient: string;
  recipientName: string;
  facts: Record<string, unknown>;
  dueAt: Date;
  state: MessageState;
  attempts: number;
  retryAt: Date | null;
  lastError: string | null;
  messageId: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** What the registration is now (registration kinds). */
  registration?: { status: string; startsAt: Date; endsAt: Date; completion: number | null };
  /** The workshop as the catalog sync stored it (registration kinds). */
  workshop?: { folder: string; catalog: Record<string, unknown> };
}

const COLUMNS = `o.id::text, o.kind, o.dedupe_key, o.registration_id::text, o.learner_id::text, o.recipient, o.recipient_name, o.facts,
  o.due_at, o.state, o.attempts, o.retry_at, o.last_error, o.message_id, o.created_at, o.sent_at`;

function toMessage(r: Record<string, any>): OutboxMessage {
  return {
    id: r.id, kind: r.kind, dedupeKey: r.dedupe_key, registrationId: r.registration_id, learnerId: r.learner_id, recipient: r.recipient,
    recipientName: r.recipient_name, facts: r.facts ?? {}, dueAt: r.due_at, state: r.state, attempts: r.attempts, retryAt: r.retry_at,
    lastError: r.last_error, messageId: r.message_id, createdAt: r.created_at, sentAt: r.sent_at,
    registration: r.r_status ? { status: r.r_status, startsAt: r.r_starts_at, endsAt: r.r_ends_at, completion: r.r_completion === null ? null : Number(r.r_completion) } : undefined,
    workshop: r.w_folder ? { folder: r.w_folder, catalog: r.w_catalog ?? {} } : undefined,
  };
}

/** When a waiting message is due: its retry time, else its due time (ending-soon: minus the lead time). */
const sendAt = (leadParam: string) => `coalesce(o.retry_at, case when o.kind = 'ending-soon' then o.due_at - make_interval(mins => ${leadParam}::int) else o.due_at end)`;
const SEND_AT = sendAt("$2");

/**
 * Claims up to `limit` messages due at `now` that no live lease holds, for `worker`, for
 * `leaseSeconds` of real time. Row locks (skip locked) keep two workers' claims apart; the lease
 * keeps them apart after the claim's transaction ends, until the message is recorded.
 */
export async function claimDue(
  pool: Pool,
  o: { now: Date; endingSoonMinutes: number; limit: number; worker: string; leaseSeconds: number; messageIdDomain: string },
): Promise<OutboxMessage[]> {
  const { rows } = await pool.query(
    `with picked as (
       select o.id from outbox o
        where o.state in ('due', 'failing')
          and o.due_at <= $1::timestamptz + make_interval(mins => $2::int)
          and ${SEND_AT} <= $1
          and (o.lease_until is null or o.lease_until < clock_timestamp())
        order by o.due_at, o.id
        limit $3
        for update skip locked),
     claimed as (
       update outbox o set lease_owner = $4, lease_until = clock_timestamp() + make_interval(secs => $5::int),
              message_id = coalesce(o.message_id, '<wod.' || o.id || '.' || left(md5(o.dedupe_key || o.created_at::text), 10) || '@' || $6 || '>')
         from picked where o.id = picked.id
       returning o.*)
     select ${COLUMNS}, r.status as r_status, r.starts_at as r_starts_at, r.ends_at as r_ends_at, r.completion as r_completion,
            w.folder as w_folder, w.catalog as w_catalog
       from claimed o
       left join registrations r on r.id = o.registration_id
       left join workshops w on w.name = r.workshop
      order by o.due_at, o.id`,
    [o.now, o.endingSoonMinutes, o.limit, o.worker, o.leaseSeconds, o.messageIdDomain],
  );
  return rows.map(toMessage);
}

/** The messages claimDue would take, without claiming them (a dry run changes nothing). */
export async function peekDue(pool: Pool, o: { now: Date; endingSoonMinutes: number; limit: number }): Promise<OutboxMessage[]> {
  const { rows } = await pool.query(
    `select ${COLUMNS}, r.status as r_status, r.starts_at as r_starts_at, r.ends_at as r_ends_at, r.completion as r_completion,
            w.folder as w_folder, w.catalog as w_catalog
       from outbox o
       left join registrations r on r.id = o.registration_id
       left join workshops w on w.name = r.workshop
      where o.state in ('due', 'failing') and o.due_at <= $1::timestamptz + make_interval(mins => $2::int) and ${SEND_AT} <= $1
      order by o.due_at, o.id limit $3`,
    [o.now, o.endingSoonMinutes, o.limit],
  );
  return rows.map(toMessage);
}

/** What became of one try. */
export type Outcome =
  | { state: "sent" }
  | { state: "undeliverable" | "skipped"; reason: string }
  /** A try that failed for this message: retried at retryAt, or given up after maxAttempts. */
  | { state: "failed"; reason: string; retryAt: Date; maxAttempts: number }
  /** Not tried (no SMTP server, no password seed, a dry run): the claim is released; retryAt: not before. */
  | { state: "waiting"; reason?: string; retryAt?: Date };

/**
 * Records a try. Only a message still waiting is changed: when a lease expired and another worker
 * sent it too, the first record stands.
 */
export async function record(pool: Pool, id: string, outcome: Outcome, now: Date): Promise<void> {
  const release = "lease_owner = null, lease_until = null";
  switch (outcome.state) {
    case "sent":
      await pool.query(`update outbox set state = 'sent', sent_at = $2, attempts = attempts + 1, last_error = null, retry_at = null, ${release} where id = $1 and state in ('due', 'failing')`, [id, now]);
      return;
    case "undeliverable":
    case "skipped":
      await pool.query(
        `update outbox set state = $2, last_error = $3, retry_at = null, attempts = attempts + $4, ${release} where id = $1 and state in ('due', 'failing')`,
        [id, outcome.state, outcome.reason.slice(0, 2000), outcome.state === "undeliverable" ? 1 : 0],
      );
      return;
    case "failed":
      await pool.query(
        `update outbox set attempts = attempts + 1, last_error = $2,
                state = case when attempts + 1 >= $4 then 'given-up' else 'failing' end,
                retry_at = case when attempts + 1 >= $4 then null else $3::timestamptz end, ${release}
          where id = $1 and state in ('due', 'failing')`,
        [id, outcome.reason.slice(0, 2000), outcome.retryAt, outcome.maxAttempts],
      );
      return;
    case "waiting":
      await pool.query(
        `update outbox set ${release}, last_error = coalesce($2, last_error), retry_at = coalesce($3, retry_at) where id = $1 and state in ('due', 'failing')`,
        [id, outcome.reason?.slice(0, 2000) ?? null, outcome.retryAt ?? null],
      );
  }
}

/** How long to wait before the next try after `attempts` failed ones: 1, 2, 4 … minutes, at most 6 hours. */
export function backoffMs(attempts: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 6 * 3_600_000);
}

/** When the next waiting message is due (undefined: none waits). */
export async function nextDue(pool: Pool, endingSoonMinutes: number): Promise<Date | undefined> {
  const { rows } = await pool.query(
    `select min(greatest(${sendAt("$1")}, coalesce(o.lease_until, '-infinity'))) as at from outbox o where o.state in ('due', 'failing')`,
    [endingSoonMinutes],
  );
  return rows[0]?.at ?? undefined;
}

export interface MessageCounts {
  /** Due now (or at --now), not yet sent. */
  due: number;
  /** Scheduled for later (reminders, retries). */
  later: number;
  /** Tried and failed at least once, still retried. */
  failing: number;
  sent: number;
  givenUp: number;
  undeliverable: number;
  skipped: number;
}

export async function countMessages(pool: Pool, now: Date, endingSoonMinutes: number): Promise<MessageCounts> {
  const { rows } = await pool.query(
    `select count(*) filter (where o.state in ('due', 'failing') and ${SEND_AT} <= $1)::int as due,
            count(*) filter (where o.state in ('due', 'failing') and ${SEND_AT} > $1)::int as later,
            count(*) filter (where o.state = 'failing')::int as failing,
            count(*) filter (where o.state = 'sent')::int as sent,
            count(*) filter (where o.state = 'given-up')::int as given_up,
            count(*) filter (where o.state = 'undeliverable')::int as undeliverable,
            count(*) filter (where o.state = 'skipped')::int as skipped
       from outbox o`,
    [now, endingSoonMinutes],
  );
  const r = rows[0];
  return { due: r.due, later: r.later, failing: r.failing, sent: r.sent, givenUp: r.given_up, undeliverable: r.undeliverable, skipped: r.skipped };
}

/** The outbox exists (a database migrated to 003 or later). */
export async function hasOutbox(pool: Pool): Promise<boolean> {
  return (await pool.query("select to_regclass('outbox') is not null as present")).rows[0].present;
}

/** One learner's messages, oldest first: by registration, by learner (student servers) or by e-mail address. */
export async function listMessages(pool: Pool, who: { registration?: string; learner?: string; email?: string }): Promise<OutboxMessage[]> {
  const { rows } = await pool.query(
    `select ${COLUMNS} from outbox o
      where ($1::bigint is not null and o.registration_id = $1) or ($2::bigint is not null and o.learner_id = $2) or ($3::text is not null and o.recipient = $3)
      order by o.created_at, o.id`,
    [who.registration ?? null, who.learner ?? null, who.email?.trim().toLowerCase() ?? null],
  );
  return rows.map(toMessage);
}
