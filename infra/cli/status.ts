// `wod status`: the live view as text (totals first, then what needs attention, then each backend,
// workshop and learner, sorted by slot), or as pure JSON with --json.
import { type LearnerState, STATES, type Status, type StatusLearner } from "../view/status";

export const STATUS_USAGE = `usage: wod status [--stack NAME] [--workshop W] [--location L] [--json]
  who is on which seat: per backend and workshop the seats used and free; per learner the registration,
  e-mail, slot, since, until, state (pending, active, failed, releasing; released in the last 24 h with
  completion) and last login; student servers with their address, last login and days until reaping
  --stack NAME   the stack file Pulumi.NAME.yaml (its locations, warning period, idle rules; default dev)
  --json         the same as JSON on stdout, nothing else
  reads DATABASE_URL (a SELECT-only role is enough), or the embedded demo database
exit codes: 0 shown, 2 bad input, config or database error`;

/** `MM-DD HH:MM` UTC: short enough for a table, unambiguous across midnight. */
export const when = (iso: string | null) => (iso ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : "-");

const count = (states: Record<LearnerState, number>) =>
  STATES.filter((s) => states[s]).map((s) => `${states[s]} ${s}`).join(", ") || "no learners";

export function renderStatus(s: Status): string {
  const t = s.totals;
  const out: string[] = [];
  const filter = Object.entries(s.filter).map(([k, v]) => `${k} ${v}`).join(", ");
  const run = s.lastRun
    ? `last reconcile ${when(s.lastRun.at)} UTC (${s.lastRun.trigger ?? "?"}, by ${s.lastRun.actor}: ${s.lastRun.outcome}${s.lastRun.pulumiVersion ? `, update ${s.lastRun.pulumiVersion}` : ""})`
    : "no reconcile recorded";
  out.push(`wod status: stack ${s.stack}${filter ? ` (${filter})` : ""} at ${when(s.at)} UTC; ${run}`);
  out.push(
    `totals: ${t.backends} backend(s), ${t.workshops} workshop(s): ${t.used}/${t.seats} seats used, ${t.free} free; ` +
      `learners: ${count(t.learners)}${t.ending ? ` (${t.ending} ending)` : ""}; ${t.neverLoggedIn} active never logged in` +
      (s.studentServers.length || t.studentServers ? `; ${t.studentServers} student server(s), ${t.serversWarned} warned` : ""),
  );
  if (s.attention.length) {
    out.push("", `needs attention (${s.attention.length}):`);
    for (const x of s.attention) {
      out.push(`  ${x.state.padEnd(9)} registration ${x.registration} ${x.email}, ${x.workshop} slot ${x.slot} on ${x.location}${x.releaseAttempts ? ` (${x.releaseAttempts} failed release attempt(s))` : ""}: ${oneLine(x.error ?? "no reason recorded")}`);
    }
  }
  for (const b of s.backends) {
    out.push("", `backend ${b.location}${b.hubUrl ? ` (${b.hubUrl})` : ""}, slot pool ${b.slotPool}: ${b.used}/${b.seats} seats used, ${b.free} free; ${count(b.states)}`);
    for (const w of b.workshops) {
      const flags = [!w.active && "inactive", !w.inCatalog && "not in the catalog"].filter(Boolean).join(", ");
      out.push(`  ${w.workshop}${flags ? ` (${flags})` : ""}, slots ${w.slots}: ${w.used}/${w.seats} used, ${w.free} free ${bar(w.used, w.seats)} ${count(w.states)}; ${w.neverLoggedIn} never logged in`);
      if (!w.learners.length) continue;
      const rows = w.learners.map((x) => [
        String(x.slot), x.username, `#${x.registration}`, learnerName(x), x.state + (x.ending ? " (ending)" : ""),
        when(x.since), when(x.until), x.state === "released" ? `completion ${pct(x.completion)}` : x.lastLoginAt ? when(x.lastLoginAt) : "never/unknown",
      ]);
      out.push(...table(["slot", "user", "reg", "learner", "state", "since", "until", "last login"], rows).map((l) => `    ${l}`));
    }
  }
  if (s.studentServers.length) {
    out.push("", `student servers (${s.studentServers.length}), soonest reaped first:`);
    out.push(...table(["learner", "e-mail", "address", "region", "last ssh login", "reaped in"], s.studentServers.map((v) => [
      v.learnerId, v.email, v.ipv4 ?? "(not up yet)", v.region, when(v.lastSshAt),
      v.removedNextRun ? `next run (${v.removedNextRun})` : v.daysUntilReaping === null ? "-" : `${v.daysUntilReaping} day(s)${v.warnedAt ? ", warned" : ""}`,
    ])).map((l) => `  ${l}`));
  }
  return out.join("\n");
}

export const learnerName = (x: Pick<StatusLearner, "email" | "name">) => (x.name ? `${x.email} (${oneLine(x.name)})` : x.email);
export const pct = (ratio: number | null) => (ratio === null ? "unknown" : `${Math.round(ratio * 100)}%`);
const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 300);

function bar(used: number, seats: number): string {
  const width = 20;
  const filled = seats ? Math.min(width, Math.round((used / seats) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)];
}
