// Writing the audit trail (migration 006): one entry per command or run, through audit_record();
// the per-registration and per-server events are written by the database's own triggers, in the
// same transaction as each change, tagged with the run and actor set here.
import { randomUUID } from "node:crypto";
import * as os from "node:os";
import type { Pool, PoolClient } from "pg";

/** Who runs this command, and the id its entry and events share. */
export interface AuditContext {
  run: string;
  actor: string;
  startedAt: Date;
}

export interface AuditEntry {
  command: string;
  stack?: string;
  trigger?: "schedule" | "watch" | "pipeline" | "operator";
  /** What was asked: options and ids, never a secret. */
  request?: Record<string, unknown>;
  /** What changed (counts, ids), or what a read found. */
  changes?: Record<string, unknown>;
  outcome: string;
  exitCode?: number;
  error?: string;
  pulumiVersion?: number;
}

let actorOverride: string | undefined;

/** `--actor NAME` (any command): recorded in place of the OS user. */
export function setActor(actor: string | undefined): void {
  actorOverride = actor;
}

/** --actor, else $WOD_ACTOR, else the OS user (a pipeline passes --actor github:<login>). */
export function currentActor(env = process.env): string {
  const given = actorOverride ?? env.WOD_ACTOR;
  if (given?.trim()) return given.trim().slice(0, 200);
  try {
    return os.userInfo().username || `uid ${process.getuid?.()}`;
  } catch {
    return env.USER || env.LOGNAME || `uid ${process.getuid?.() ?? "?"}`;
  }
}

export function newAuditContext(): AuditContext {
  return { run: randomUUID(), actor: currentActor(), startedAt: new Date() };
}

/** Tags this transaction's changes with the run and its actor (the triggers read them). */
export async function setAuditContext(c: PoolClient, ctx: AuditContext | undefined): Promise<void> {
  if (ctx) await c.query("select set_config('wod.run', $1, true), set_config('wod.actor', $2, true)", [ctx.run, ctx.actor]);
}

type Queryable = Pick<Pool, "query">;

/** Appends the entry; throws when the database refuses. */
export async function recordEntry(db: Queryable, ctx: AuditContext, entry: AuditEntry): Promise<void> {
  await db.query("select audit_record($1::jsonb)", [
    JSON.stringify({ ...entry, error: entry.error?.slice(0, 4000), run: ctx.run, actor: ctx.actor, startedAt: ctx.startedAt.toISOString() }),
  ]);
}

/**
 * Appends the entry, and never fails the command for it: a database without migration 006 or a
 * role refused EXECUTE gets one line on stderr saying so, and the command's own result stands.
 */
export async function tryRecordEntry(db: Queryable, ctx: AuditContext, entry: AuditEntry, log: (m: string) => void): Promise<boolean> {
  try {
    await recordEntry(db, ctx, entry);
    return true;
  } catch (e) {
    log(`audit: ${entry.command} not recorded: ${whyNotRecorded(e)}`);
    return false;
  }
}

function whyNotRecorded(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "42883") return "the database lacks migration 006_audit.sql (the next up or `wod migrate` applies it)";
  if (code === "42501") return "this database role may not call audit_record() (EXECUTE was revoked)";
  if (code === "25006") return "the connection is read only";
  return (e as Error).message?.split("\n")[0] ?? String(e);
}

/**
 * Runs an operator command's work in one transaction tagged with its run, then appends its entry
 * in that same transaction: the change, its events and its entry commit together or not at all.
 * When the work throws, nothing it did is kept and the failure is recorded on its own.
 */
export async function audited<T>(
  pool: Pool,
  ctx: AuditContext,
  base: Omit<AuditEntry, "outcome">,
  work: (c: PoolClient) => Promise<{ result: T; outcome: string; exitCode: number; changes?: Record<string, unknown> }>,
): Promise<T> {
  const c = await pool.connect();
  let done;
  try {
    await c.query("begin");
    await setAuditContext(c, ctx);
    done = await work(c);
    const events = (await c.query("select event, count(*)::int as n from audit_events where run = $1 group by event order by event", [ctx.run])).rows;
    await recordEntry(c, ctx, {
      ...base, outcome: done.outcome, exitCode: done.exitCode,
      changes: { ...done.changes, ...(events.length ? { events: Object.fromEntries(events.map((r) => [r.event, r.n])) } : {}) },
    });
    await c.query("commit");
  } catch (e) {
    await c.query("rollback").catch(() => {});
    c.release();
    await tryRecordEntry(pool, ctx, { ...base, outcome: "failed", exitCode: 2, error: (e as Error).message }, () => {});
    throw e;
  }
  c.release();
  return done.result;
}
