// `wod report --html FILE`: one self-contained page (no script, no external asset) with the live
// view, the last runs and the last drift check. Everything the database or a learner wrote is
// escaped: a name holding HTML shows as text.
import type { HistoryEntry } from "./history";
import { STATES, type Status, type StatusLearner, type StatusWorkshop } from "./status";

export interface ReportData {
  status: Status;
  runs: HistoryEntry[];
  drift: HistoryEntry | null;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const e = escapeHtml;
const when = (iso: string | null) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "–");
const pct = (r: number | null) => (r === null ? "unknown" : `${Math.round(r * 100)}%`);

export function renderHtml({ status: s, runs, drift }: ReportData): string {
  const t = s.totals;
  const num = (id: string, value: number) => `<span class="n" data-total="${e(id)}">${value}</span>`;
  const totals = `
<section id="totals"><h2>Totals</h2><div class="cards">
  <div class="card"><b>${num("used", t.used)}</b> / ${num("seats", t.seats)} seats used</div>
  <div class="card"><b>${num("free", t.free)}</b> seats free</div>
  ${STATES.map((st) => `<div class="card state-${st}"><b>${num(st, t.learners[st])}</b> ${st}</div>`).join("\n  ")}
  <div class="card"><b>${num("neverLoggedIn", t.neverLoggedIn)}</b> active, never logged in</div>
  <div class="card"><b>${num("studentServers", t.studentServers)}</b> student servers (${num("serversWarned", t.serversWarned)} warned)</div>
</div></section>`;
  const attention = s.attention.length
    ? `<section id="attention"><h2>Needs attention (${s.attention.length})</h2>${learnerTable(s.attention, true)}</section>`
    : `<section id="attention"><h2>Needs attention</h2><p>No failed learner and no failed release.</p></section>`;
  const seats = `<section id="seats"><h2>Seats per workshop</h2><table class="bars">
<tr><th>backend</th><th>workshop</th><th>slots</th><th>seats</th><th></th></tr>
${s.backends.flatMap((b) => b.workshops.map((w) => seatRow(w))).join("\n")}
</table></section>`;
  const backends = s.backends.map((b) => `
<section class="backend" data-location="${e(b.location)}"><h2>Backend ${e(b.location)}</h2>
<p>${b.hubUrl ? `hub <code>${e(b.hubUrl)}</code>, ` : ""}slot pool ${e(b.slotPool)}: <span data-backend-used="${e(b.location)}">${b.used}</span>/${b.seats} seats used, ${b.free} free</p>
${b.workshops.map((w) => `<details${w.learners.some((x) => x.state === "failed" || x.state === "releasing") ? " open" : ""}><summary>${e(w.workshop)}: ${w.used}/${w.seats} used, ${w.free} free — ${STATES.filter((st) => w.states[st]).map((st) => `${w.states[st]} ${st}`).join(", ") || "no learners"}</summary>
${w.learners.length ? learnerTable(sortForAttention(w.learners), false) : "<p>No learner.</p>"}</details>`).join("\n")}
</section>`).join("\n");
  const servers = s.studentServers.length ? `<section id="servers"><h2>Student servers (${s.studentServers.length})</h2><table>
<tr><th>learner</th><th>e-mail</th><th>address</th><th>region</th><th>last SSH login</th><th>reaped in</th></tr>
${s.studentServers.map((v) => `<tr><td>${e(v.learnerId)}</td><td>${e(v.email)}</td><td>${e(v.ipv4 ?? "not up yet")}</td><td>${e(v.region)}</td><td>${e(when(v.lastSshAt))}</td><td>${e(v.removedNextRun ? `next run (${v.removedNextRun})` : v.daysUntilReaping === null ? "–" : `${v.daysUntilReaping} day(s)${v.warnedAt ? ", warned" : ""}`)}</td></tr>`).join("\n")}
</table></section>` : "";
  const runRows = runs.map((r) => `<tr class="outcome-${e(r.outcome)}"><td>${e(when(r.at))}</td><td>${e(r.command)}${r.stack ? ` ${e(r.stack)}` : ""}</td><td>${e(r.trigger ?? "")}</td><td>${e(r.actor)}</td><td>${e(r.outcome)}${r.pulumiVersion ? `, update ${r.pulumiVersion}` : ""}</td><td>${e(summary(r.changes))}${r.error ? `<br><span class="error">${e(r.error.slice(0, 300))}</span>` : ""}</td></tr>`);
  const lastRuns = `<section id="runs"><h2>Last runs</h2>${runRows.length ? `<table><tr><th>ended</th><th>command</th><th>trigger</th><th>by</th><th>outcome</th><th>changed</th></tr>\n${runRows.join("\n")}</table>` : "<p>No run recorded.</p>"}</section>`;
  const driftSection = `<section id="drift"><h2>Drift</h2>${driftHtml(drift)}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>wod: ${e(s.stack)} at ${e(when(s.at))} UTC</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ccc;border-radius:4px;padding:6px 10px}
.state-failed b,.error{color:#b00020}.state-releasing b{color:#a15c00}tr.learner-failed{background:#fde7ea}tr.learner-releasing{background:#fff3df}
.bar{width:240px;height:14px;background:#eee;border-radius:3px;overflow:hidden}.bar span{display:block;height:100%;background:#2f7ed8}
.bar.full span{background:#b00020}code{background:#f4f4f4;padding:0 3px}details{margin:.3em 0}
</style></head><body>
<h1>wod: stack ${e(s.stack)}</h1>
<p>At ${e(when(s.at))} UTC${Object.keys(s.filter).length ? ` (filtered: ${e(Object.entries(s.filter).map(([k, v]) => `${k} ${v}`).join(", "))})` : ""}; ${s.lastRun ? `last reconcile ${e(when(s.lastRun.at))} UTC (${e(s.lastRun.trigger ?? "?")}, by ${e(s.lastRun.actor)}: ${e(s.lastRun.outcome)})` : "no reconcile recorded"}.</p>
${totals}
${attention}
${seats}
${lastRuns}
${driftSection}
${backends}
${servers}
</body></html>
`;
}

function seatRow(w: StatusWorkshop): string {
  const share = w.seats ? Math.min(100, Math.round((w.used / w.seats) * 100)) : 0;
  return `<tr class="seat" data-workshop="${e(w.workshop)}" data-location="${e(w.location)}"><td>${e(w.location)}</td><td>${e(w.workshop)}${w.active ? "" : " (inactive)"}</td><td>${e(w.slots)}</td>` +
    `<td><span class="used">${w.used}</span>/<span class="seats">${w.seats}</span> (<span class="free">${w.free}</span> free)</td>` +
    `<td><div class="bar${w.free === 0 ? " full" : ""}" title="${share}%"><span style="width:${share}%"></span></div></td></tr>`;
}

const order = (x: StatusLearner) => STATES.indexOf(x.state);
const sortForAttention = (list: StatusLearner[]) => [...list].sort((a, b) => order(a) - order(b) || a.slot - b.slot);

function learnerTable(list: StatusLearner[], withWorkshop: boolean): string {
  return `<table class="learners"><tr><th>slot</th>${withWorkshop ? "<th>workshop</th><th>backend</th>" : ""}<th>registration</th><th>learner</th><th>state</th><th>since</th><th>until</th><th>last login</th><th>completion / error</th></tr>
${list.map((x) => `<tr class="learner learner-${e(x.state)}" data-registration="${e(x.registration)}"><td>${x.slot}</td>${withWorkshop ? `<td>${e(x.workshop)}</td><td>${e(x.location)}</td>` : ""}<td>${e(x.registration)}</td>` +
    `<td><span class="email">${e(x.email)}</span>${x.name ? ` <span class="name">${e(x.name)}</span>` : ""}</td><td>${e(x.state)}${x.ending ? " (ending)" : ""}</td>` +
    `<td>${e(when(x.since))}</td><td>${e(when(x.until))}</td><td>${e(x.lastLoginAt ? when(x.lastLoginAt) : "never / unknown")}</td>` +
    `<td>${x.error ? `<span class="error">${e(x.error.slice(0, 300))}</span>` : x.state === "released" ? e(pct(x.completion)) : ""}</td></tr>`).join("\n")}
</table>`;
}

function summary(changes: Record<string, unknown>): string {
  return Object.entries(changes ?? {}).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ").slice(0, 400);
}

function driftHtml(drift: HistoryEntry | null): string {
  if (!drift) return "<p>No drift check recorded (run <code>wod drift --stack NAME</code>, or the reconcile with <code>--drift</code>).</p>";
  const findings = (drift.changes.findings ?? []) as { where: string; what: string; detail?: string }[];
  const head = `<p>Checked ${e(when(drift.at))} UTC by ${e(drift.actor)}: <b>${e(drift.outcome)}</b>${drift.error ? ` <span class="error">${e(drift.error)}</span>` : ""}.</p>`;
  if (!findings.length) return head;
  return `${head}<table><tr><th>where</th><th>what</th><th>detail</th></tr>\n${findings.map((f) => `<tr><td>${e(f.where)}</td><td>${e(f.what)}</td><td>${e(f.detail ?? "")}</td></tr>`).join("\n")}</table>`;
}
