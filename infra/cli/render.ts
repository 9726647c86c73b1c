// The plan as an operator reads it: counts, then a tree per backend, then what was left out.
import type { DesiredState } from "../desired/types";
import type { countDesired } from "../desired/state";

export interface Plan extends DesiredState {
  stack: string;
  decidedAt: string;
  counts: ReturnType<typeof countDesired>;
}

export function renderPlan(p: Plan): string {
  const now = new Date(p.decidedAt).getTime();
  const left = (iso: string) => {
    const m = Math.round((new Date(iso).getTime() - now) / 60_000);
    return m >= 1440 ? `${Math.floor(m / 1440)}d` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
  };
  const c = p.counts;
  const out = [
    `Plan for stack ${p.stack} as of ${p.decidedAt}`,
    `  ${c.backends} backends · ${c.contents} workshop contents · ${c.accounts} student accounts · ` +
      `${c.appliances} appliances · ${c.studentServers} student servers · ${c.rejected} rejected`,
    "",
  ];
  for (const b of p.backends) {
    const where = b.provider === "existing" ? `existing ${b.host}` : `${b.provider} ${b.region} ${b.size}`;
    out.push(`backend ${b.location}  (${where}, slots ${b.slotPool.min}-${b.slotPool.max}, hub port ${b.hubPort})`);
    const contents = p.contents.filter((x) => x.location === b.location);
    for (const [i, content] of contents.entries()) {
      const accounts = p.accounts.filter((a) => a.location === b.location && a.workshop === content.workshop);
      const last = i === contents.length - 1;
      out.push(`${last ? "└─" : "├─"} workshop ${content.workshop}  content ${content.contentHash}  ${accounts.length} accounts`);
      for (const [j, a] of accounts.entries()) {
        const ports = Object.entries(a.ports).map(([n, v]) => `${n}=${v}`).join(" ");
        out.push(
          `${last ? "   " : "│  "}${j === accounts.length - 1 ? "└─" : "├─"} ${a.username.padEnd(10)} registration ${a.registrationId.padEnd(5)}` +
            ` ${a.phase === "ending" ? "ENDING" : "active"}, ${left(a.endsAt)} left${ports ? `  ports ${ports}` : ""}`,
        );
      }
    }
    for (const a of p.appliances.filter((x) => x.location === b.location)) {
      out.push(`   appliance ${a.workshop}  (${a.size} ${a.image}, ${a.students.length} students, ports ${Object.entries(a.portBases).map(([n, v]) => `${n}=${v}+`).join(" ")})`);
    }
    out.push("");
  }
  out.push(`student servers (${p.studentServers.length})`);
  for (const s of p.studentServers) {
    out.push(`  learner ${s.learnerId.padEnd(4)} ${s.email.padEnd(24)} ${s.region} ${s.size}  ${s.keyFingerprint}  ${s.phase === "idle-warning" ? "IDLE, removed" : "active, expires"} in ${left(s.expiresAt)}`);
  }
  out.push("");
  out.push(`rejected inputs (${p.rejected.length})`);
  for (const r of p.rejected) out.push(`  ${r.kind} ${r.id}: ${r.reason}`);
  const t = p.transitions;
  out.push("");
  out.push("on write-back after a successful up");
  out.push(`  release expired registrations: ${t.expiredRegistrations.join(", ") || "none"}`);
  out.push(`  warn idle student servers: ${t.warnServers.join(", ") || "none"}`);
  out.push(`  remove student servers: ${t.removeServers.map((r) => `${r.learnerId} (${r.reason})`).join(", ") || "none"}`);
  return out.join("\n");
}
