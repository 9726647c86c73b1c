// `wod history`: what every run and command did, or one learner's story as a timeline.
import type { HistoryEntry, HistoryEvent, Timeline } from "../view/history";

export const HISTORY_USAGE = `usage: wod history [--registration N | --learner EMAIL | --since T] [--all] [--limit N] [--json]
  the audit trail: every reconcile (its trigger, who, outcome, changes, Pulumi update), plan, drift check and
  operator command, newest last; or one learner's story as one timeline
  --registration N   that registration's timeline: registered, activated, extended, reset, released with completion
  --learner EMAIL    every registration of that e-mail and their student server, as one timeline
  --since T          entries since T: ISO 8601 (2026-11-22T18:00Z) or a span back from now (90m, 12h, 7d)
  --all              also the read-only views (status, history, report), which are recorded but left out
  --limit N          at most the N newest entries (default 30 without --since)
exit codes: 0 shown, 1 nothing recorded for that registration or learner, 2 bad input or database error`;

const at = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

export function renderEntries(entries: HistoryEntry[], since?: Date): string {
  if (!entries.length) return `no entries${since ? ` since ${since.toISOString()}` : ""}`;
  return entries.map((e) => {
    const who = `by ${e.actor}${e.dbRole ? ` (role ${e.dbRole})` : ""}`;
    const head = [at(e.at), e.command + (e.stack ? ` ${e.stack}` : ""), e.trigger, who].filter(Boolean).join("  ");
    const result = `${e.outcome}${e.exitCode !== null ? ` (exit ${e.exitCode})` : ""}${e.pulumiVersion ? `, update ${e.pulumiVersion}` : ""}`;
    const asked = describe(e.request);
    const changed = describe(e.changes);
    return [
      `${head}: ${result}`,
      asked && `    asked: ${asked}`,
      changed && `    changed: ${changed}`,
      e.error && `    error: ${e.error.split("\n").join(" | ").slice(0, 500)}`,
    ].filter(Boolean).join("\n");
  }).join("\n");
}

export function renderTimeline(t: Timeline): string {
  const regs = t.registrations.map((r) => `${r.id} (${r.workshop} slot ${r.slot} on ${r.location})`).join(", ");
  const lines = [`history of ${t.subject}${regs ? `: registration(s) ${regs}` : ""}${t.learner ? `; learner ${t.learner}` : ""}`];
  if (!t.events.length) lines.push("  nothing recorded");
  for (const e of merged(t.events)) {
    const subject = e.registration ? `#${e.registration}` : `learner ${e.learner}`;
    const by = `by ${e.actor}${e.command ? ` (${e.command}${e.trigger ? `, ${e.trigger}` : ""})` : ""}`;
    lines.push(`  ${at(e.at)}  ${subject.padEnd(6)}  ${e.event.padEnd(15)} ${eventText(e)}  ${by}`.replace(/\s+$/, ""));
  }
  return lines.join("\n");
}

/** A completion recorded right after its release reads as part of the release. */
function merged(events: HistoryEvent[]): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const e of events) {
    const prev = out[out.length - 1];
    if (e.event === "completion" && prev?.event === "released" && prev.registration === e.registration && prev.detail.completion === undefined) {
      prev.detail = { ...prev.detail, completion: e.detail.completion };
      continue;
    }
    out.push({ ...e });
  }
  return out;
}

function eventText(e: HistoryEvent): string {
  const d = e.detail as Record<string, unknown>;
  const t = (v: unknown) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) ? at(new Date(v).toISOString()) : String(v));
  const pct = (v: unknown) => (v === undefined || v === null ? "completion unknown" : `completion ${Math.round(Number(v) * 100)}%`);
  switch (e.event) {
    case "registered": return `${d.email ?? ""} in ${d.workshop} slot ${d.slot} on ${d.location}, ${t(d.startsAt)} until ${t(d.endsAt)}`;
    case "activated": return `${d.username ?? ""}${d.hubUrl ? ` at ${d.hubUrl}` : ""}`;
    case "failed": return String(d.reason ?? "").slice(0, 300);
    case "released": return `${pct(d.completion)}${d.status && d.status !== "released" ? ` (${d.status})` : ""}`;
    case "completion": return pct(d.completion);
    case "extended": return `until ${t(d.to)} (was ${t(d.from)})`;
    case "reset": return `generation ${d.generation}: archived and activated afresh`;
    case "release-failed": return `attempt ${d.attempts}: ${String(d.error ?? "").slice(0, 300)}`;
    case "sent": return String(d.message ?? "");
    case "server-up": case "server-address": return `${d.ipv4 ?? ""}${d.region ? ` in ${d.region}` : ""}`;
    case "server-extended": return `kept until ${t(d.until)}`;
    case "server-removed": return `${d.reason ?? ""}${d.snapshotId ? `, snapshot ${d.snapshotId}` : ""}`;
    default: return describe(d);
  }
}

/** Flat `key value` pairs of a small object, for one line. */
function describe(o: Record<string, unknown> | null | undefined): string {
  if (!o) return "";
  return Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => (v === true ? k : `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`))
    .join(", ")
    .slice(0, 800);
}
