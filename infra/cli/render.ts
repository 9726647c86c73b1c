// The plan as an operator reads it: counts, then a tree per backend (each workshop with its
// seats, its appliance and its accounts), then what was left out and what the next up writes.
// `--summary` keeps the counts and seat figures only, for platforms with hundreds of accounts.
import type { Workshop } from "../catalog/schema";
import type { RegistrationRow } from "../db/snapshot";
import { peakOverlap } from "../desired/seats";
import type { countDesired } from "../desired/state";
import type { DesiredState } from "../desired/types";
import type { NextSync } from "../load";
import type { MessageCounts } from "../notify/outbox";
import { renderCounts } from "../notify/report";

/** Seats of one workshop on one location: live accounts against its capacity there. */
export interface SeatFigure {
  workshop: string;
  location: string;
  /** Live student accounts (registrations that get an account in this plan). */
  used: number;
  /** Seats on this location: the workshop's capacity (never more than its range). */
  seats: number;
  /** Of the used seats, those in their last warning period. */
  ending: number;
  /** The workshop's slot range. */
  slots: string;
  /** Bookings here that start after the plan's time (their seats are taken then, not now). */
  later: number;
  /** The most seats held at once from the plan's time on, by the live accounts and the later bookings. */
  peak: number;
}

/** A workshop with errors of its own, as the plan lists it. */
export interface PlanQuarantine {
  workshop: string;
  folder: string;
  /** As its wod.yml says: an active one makes the plan exit 1. */
  active: boolean;
  /** Declared as its last good sync left it (its live learners keep their accounts); false: no seats. */
  kept: boolean;
  /** The content its learners keep (when kept). */
  contentHash?: string;
  /** Live student accounts it keeps in this plan. */
  accounts: number;
  /** Every error of its own (warnings for an inactive workshop), as `severity: file: field: reason`. */
  errors: string[];
}

export interface Plan extends DesiredState {
  stack: string;
  decidedAt: string;
  counts: ReturnType<typeof countDesired>;
  seats: SeatFigure[];
  /** Workshops with errors of their own: not planned from their folders, closed for registration. */
  quarantined: PlanQuarantine[];
  /** What the next up would migrate and sync before deciding (a plan never writes it). */
  nextSync: NextSync;
  /** Learners' e-mails in the outbox (absent before migration 003); smtp: whether wod:smtp is set. */
  messages?: MessageCounts & { smtp: boolean };
}

/**
 * Seat figures for every workshop content the plan ships, in backend then workshop order. A seat is
 * taken for a booking's window (infra/desired/seats.ts): bookings that start later are counted
 * apart, with the most seats they and the live accounts hold at once.
 */
export function seatFigures(d: DesiredState, catalog: Workshop[], registrations: RegistrationRow[] = [], now?: Date): SeatFigure[] {
  const byName = new Map(catalog.map((w) => [w.name, w]));
  return d.contents.map((c) => {
    const w = byName.get(c.workshop);
    const accounts = d.accounts.filter((a) => a.workshop === c.workshop && a.location === c.location);
    const later = now ? registrations.filter((r) => r.workshop === c.workshop && r.location === c.location && r.startsAt.getTime() > now.getTime()) : [];
    const windows = [
      ...accounts.map((a) => ({ start: Date.parse(a.startsAt), end: Date.parse(a.endsAt) })),
      ...later.map((r) => ({ start: r.startsAt.getTime(), end: r.endsAt.getTime() })),
    ];
    return {
      workshop: c.workshop, location: c.location, used: accounts.length,
      seats: w ? Math.min(w.capacity, w.range.max - w.range.min + 1) : 0,
      ending: accounts.filter((a) => a.phase === "ending").length,
      slots: w ? `${w.range.min}-${w.range.max}` : "?",
      later: later.length,
      peak: peakOverlap(windows, now ? { start: now.getTime(), end: Infinity } : undefined),
    };
  });
}

/** The plan as `--summary --json` prints it: counts and seat figures, no per-account data. */
export function summarize(p: Plan) {
  const t = p.transitions;
  return {
    stack: p.stack, decidedAt: p.decidedAt, counts: p.counts, seats: p.seats,
    quarantined: p.quarantined.map(({ errors, ...q }) => ({ ...q, errors: errors.length })),
    studentServers: countBy(p.studentServers.map((s) => s.phase)),
    rejected: countBy(p.rejected.map((r) => r.kind)),
    transitions: { expiredRegistrations: t.expiredRegistrations.length, warnServers: t.warnServers.length, removeServers: t.removeServers.length },
    nextSync: { migrations: p.nextSync.migrations.length, catalog: p.nextSync.catalog.length },
    messages: p.messages,
  };
}

export function renderPlan(p: Plan, opts: { summary?: boolean } = {}): string {
  const now = new Date(p.decidedAt).getTime();
  const left = (iso: string) => {
    const m = Math.round((new Date(iso).getTime() - now) / 60_000);
    return m >= 1440 ? `${Math.floor(m / 1440)}d` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
  };
  const c = p.counts;
  const out = [
    `Plan for stack ${p.stack} as of ${p.decidedAt}${opts.summary ? " (summary)" : ""}`,
    `  ${n(c.backends, "backend")} · ${n(c.contents, "workshop content")} · ${n(c.accounts, "student account")} in ${n(c.cohorts, "cohort")} · ` +
      `${n(c.appliances, "appliance")} · ${n(c.studentServers, "student server")} · ${c.rejected} rejected`,
    "",
  ];
  if (p.quarantined.length) {
    const active = p.quarantined.filter((q) => q.active).length;
    out.push(`quarantined workshops (${p.quarantined.length}: ${active} active, ${p.quarantined.length - active} inactive): not planned from their folders, closed for registration`);
    for (const q of p.quarantined) {
      const held = q.kept ? `kept as last synced (content ${q.contentHash!.slice(0, 12)}, ${n(q.accounts, "live student account")})` : "no good sync of it to keep: no seats";
      out.push(`  ${q.workshop} (${q.active ? "active" : "inactive"}): ${held}; ${n(q.errors.length, "error")}${q.active ? "" : " (warnings: it is inactive)"}${opts.summary ? "" : ":"}`);
      if (!opts.summary) for (const e of q.errors) out.push(`    ${e}`);
    }
    out.push("");
  }
  for (const b of p.backends) {
    const where = b.provider === "existing" ? `existing ${b.host}` : `${b.provider} ${b.region} ${b.size}`;
    const seats = p.seats.filter((s) => s.location === b.location);
    const used = seats.reduce((sum, s) => sum + s.used, 0);
    const total = seats.reduce((sum, s) => sum + s.seats, 0);
    out.push(`backend ${b.location}  (${where}, slots ${b.slotPool.min}-${b.slotPool.max}, hub port ${b.hubPort})  ${used}/${total} seats used`);
    const contents = p.contents.filter((x) => x.location === b.location);
    for (const [i, content] of contents.entries()) {
      const last = i === contents.length - 1;
      const s = seats.find((x) => x.workshop === content.workshop);
      const seatText = s
        ? `${s.used}/${s.seats} seats used${s.ending ? ` (${s.ending} ending)` : ""}${s.later ? `, ${n(s.later, "booking")} later (at most ${s.peak} seats at once)` : ""}, slots ${s.slots}`
        : "";
      out.push(`${last ? "└─" : "├─"} workshop ${content.workshop}  ${seatText}  content ${content.contentHash.slice(0, 12)}${content.kept ? "  QUARANTINED: kept as last synced" : ""}`);
      if (opts.summary) continue;
      const indent = last ? "   " : "│  ";
      const appliance = p.appliances.find((a) => a.location === b.location && a.workshop === content.workshop);
      const accounts = p.accounts.filter((a) => a.location === b.location && a.workshop === content.workshop);
      const children = [
        ...(appliance
          ? [`appliance  ${appliance.size} ${appliance.image}, ${n(appliance.students.length, "student")}, ports ${Object.entries(appliance.portBases).map(([k, v]) => `${k}=${v}+`).join(" ") || "none"}`]
          : []),
        ...accounts.map((a) => {
          const ports = Object.entries(a.ports).map(([k, v]) => `${k}=${v}`).join(" ");
          return `${a.username.padEnd(10)} registration ${a.registrationId.padEnd(5)} ${a.phase === "ending" ? "ENDING" : "active"}, ${left(a.endsAt)} left${ports ? `  ports ${ports}` : ""}`;
        }),
      ];
      children.forEach((line, j) => out.push(`${indent}${j === children.length - 1 ? "└─" : "├─"} ${line}`));
    }
    out.push("");
  }

  const phases = countBy(p.studentServers.map((s) => s.phase));
  out.push(`student servers (${p.studentServers.length}${p.studentServers.length ? `: ${Object.entries(phases).map(([k, v]) => `${v} ${k}`).join(", ")}` : ""})`);
  if (!opts.summary) {
    for (const s of p.studentServers) {
      out.push(`  learner ${s.learnerId.padEnd(4)} ${s.email.padEnd(24)} ${s.region} ${s.size}  ${s.keyFingerprint}  ${s.phase === "idle-warning" ? "IDLE, removed" : "active, expires"} in ${left(s.expiresAt)}`);
    }
  }
  out.push("");
  const kinds = countBy(p.rejected.map((r) => r.kind));
  out.push(`rejected inputs (${p.rejected.length}${p.rejected.length ? `: ${Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(", ")}` : ""})`);
  if (!opts.summary) for (const r of p.rejected) out.push(`  ${r.kind} ${r.id}: ${r.reason}`);

  const t = p.transitions;
  out.push("");
  out.push("on write-back after a successful up");
  out.push(`  release ${n(t.expiredRegistrations.length, "expired registration")}${opts.summary ? "" : ids(t.expiredRegistrations.map((id) => `registration ${id}`))}`);
  out.push(`  warn ${n(t.warnServers.length, "idle student server")}${opts.summary ? "" : ids(t.warnServers.map((id) => `learner ${id}`))}`);
  out.push(`  remove ${n(t.removeServers.length, "student server")}${opts.summary ? "" : ids(t.removeServers.map((r) => `learner ${r.learnerId} (${r.reason})`))}`);

  const sync = p.nextSync;
  const pending = sync.migrations.length + sync.catalog.length;
  out.push("");
  if (!pending) out.push("the next up will sync: nothing (the database matches this catalog)");
  else {
    out.push(`the next up will sync (${pending})`);
    if (sync.migrations.length) out.push(`  migrations: ${sync.migrations.join(", ")}`);
    if (opts.summary) out.push(`  ${n(sync.catalog.length, "catalog change")}`);
    else for (const line of sync.catalog) out.push(`  ${line}`);
  }
  if (p.messages) {
    out.push("");
    out.push(renderCounts(p.messages, p.messages.smtp));
  }
  return out.join("\n");
}

/** "1 student account", "3 student accounts". */
const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;

/** ": a, b, c" with long lists cut ("… and 40 more"); "" for none. */
function ids(items: string[], max = 10): string {
  if (!items.length) return "";
  return `: ${items.slice(0, max).join(", ")}${items.length > max ? `, … and ${items.length - max} more` : ""}`;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
