// The end-of-run summary an operator (or a scheduler's log) reads.
import { renderPass } from "../notify/report";
import type { Report } from "./run";

export function renderReport(r: Report): string {
  const lines = [`reconcile ${r.stack}: ${r.outcome} (exit ${r.exitCode}) — ${r.message}`];
  if (r.desired) {
    const d = r.desired;
    lines.push(`  desired: ${d.backends} backends, ${d.accounts} learner accounts in ${d.cohorts} cohorts, ${d.appliances} appliances, ${d.studentServers} student servers`);
  }
  if (r.accounts) {
    const a = r.accounts;
    lines.push(`  learner accounts: ${a.live} live before this run, ${a.added} joining, ${a.released} leaving${a.unexpected ? ` (${a.unexpected} whose registration has not ended)` : ""}`);
  }
  const kinds = Object.entries(r.changes);
  lines.push(`  changes${r.fastPath ? " (fast path)" : ""}: ${kinds.length ? kinds.map(([k, ops]) => `${k} ${Object.entries(ops).map(([op, n]) => `${op} ${n}`).join(", ")}`).join("; ") : "none"}`);
  if (r.writeBack) {
    const w = r.writeBack;
    lines.push(`  written back: ${w.activated} activated, ${w.failed} failed, ${w.released} released, ${w.releaseFailed} releases failed, ${w.serversUp} servers up, ${w.serversWarned} warned, ${w.completions} completions, ${w.lastLogins} last logins`);
  }
  if (r.removals) {
    lines.push(`  student servers removed: ${r.removals.removed} (${r.removals.snapshots} snapshots taken)`);
    for (const f of r.removals.failed) lines.push(`  not removed: student server of learner ${f.learnerId}: ${f.reason}`);
  }
  for (const d of r.strayDroplets ?? []) {
    lines.push(`  stray droplet ${d.id} (${d.name}): tagged as a student server, held by no learner: it keeps running and billing; snapshot and destroy it by hand if nobody needs it`);
  }
  if (r.quarantined.length) {
    const active = r.quarantined.filter((q) => q.active).length;
    lines.push(`  quarantined: ${r.quarantined.length} workshop${r.quarantined.length === 1 ? "" : "s"} (${active} active), closed for registration; the rest converged without them (fix them: wod plan lists every error)`);
    for (const q of r.quarantined) lines.push(`  quarantined ${q.workshop} (${q.active ? "active" : "inactive"}, ${q.kept ? "kept as last synced" : "no seats"}): ${q.reason}`);
  }
  for (const g of r.guard) lines.push(`  guard: ${g}`);
  for (const x of r.rejected) lines.push(`  rejected ${x.kind} ${x.id}: ${x.reason}`);
  for (const f of r.failures) lines.push(`  failed ${f.urn.split("::").pop()}: ${f.message}`);
  for (const u of r.unreachable) lines.push(`  unreachable ${u.what} (${u.address}): ${u.reason}`);
  for (const u of r.unusable ?? []) lines.push(`  unusable record from ${u.what} (${u.address}): ${u.reason}`);
  if (r.drift) {
    lines.push(`  drift: ${r.drift.outcome}, ${r.drift.findings.length} finding(s)`);
    for (const f of r.drift.findings) lines.push(`  drifted ${f.what}: ${f.where}${f.detail ? `: ${f.detail}` : ""}`);
    for (const u of r.drift.unchecked) lines.push(`  drift not checked: ${u.what}: ${u.reason}`);
  }
  if (r.messages) lines.push(...("error" in r.messages ? [`e-mails: not sent this run: ${r.messages.error}`] : renderPass(r.messages, !r.messages.noSmtp).split("\n")).map((l) => `  ${l}`));
  lines.push(`  time: ${r.phases.map((p) => `${p.phase} ${(p.ms / 1000).toFixed(1)} s`).join(", ") || "-"}`);
  return lines.join("\n");
}
