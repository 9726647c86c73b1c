// A reconcile's audit entry: what started it, what it asked, what it changed, its outcome and the
// Pulumi update it made. Written when the run ends (the audit trail is append-only: a run is one
// entry); the write-back's events, written during the run, carry the same run id.
import type { Pool } from "pg";
import type { Report } from "../reconcile/run";
import { type AuditContext, tryRecordEntry } from "./record";

export type Trigger = "schedule" | "watch" | "pipeline" | "operator";

export async function recordReconcile(
  pool: Pool,
  audit: AuditContext & { trigger: Trigger; request?: Record<string, unknown> },
  r: Report,
  log: (m: string) => void,
): Promise<void> {
  await tryRecordEntry(pool, audit, {
    command: "reconcile",
    stack: r.stack,
    trigger: audit.trigger,
    request: audit.request ?? {},
    changes: {
      ...(r.accounts ? { accounts: r.accounts } : {}),
      ...(Object.keys(r.changes).length ? { resources: r.changes } : {}),
      ...(r.fastPath ? { fastPath: true } : {}),
      ...(r.writeBack ? { writtenBack: r.writeBack } : {}),
      ...(r.removals ? { serversRemoved: r.removals.removed, serverRemovalsFailed: r.removals.failed.length } : {}),
      ...(r.guard.length ? { guard: r.guard } : {}),
      ...(r.rejected.length ? { rejected: r.rejected.length } : {}),
      ...(r.failures.length ? { failed: r.failures.map((f) => f.urn.split("::").pop()) } : {}),
      ...(r.unreachable.length ? { unreachable: r.unreachable.map((u) => u.what) } : {}),
      ...(r.drift ? { drift: r.drift.outcome, drifted: r.drift.findings.length } : {}),
    },
    outcome: r.outcome,
    exitCode: r.exitCode,
    error: r.exitCode === 0 ? undefined : r.message,
    pulumiVersion: r.pulumiVersion,
  }, log);
}

/**
 * What started this run: --every is the schedule, --watch a database change; in GitHub Actions a
 * push is the pipeline, a schedule the schedule and a manual dispatch an operator; WOD_TRIGGER
 * (schedule, watch, pipeline, operator) says it for any other driver. Otherwise an operator.
 */
export function reconcileTrigger(opts: { every?: boolean; watch?: boolean }, env = process.env): { trigger: Trigger; commit?: string } {
  const commit = env.GITHUB_SHA || undefined;
  const given = env.WOD_TRIGGER as Trigger | undefined;
  if (given && ["schedule", "watch", "pipeline", "operator"].includes(given)) return { trigger: given, commit };
  if (opts.watch) return { trigger: "watch" };
  if (opts.every) return { trigger: "schedule" };
  if (env.GITHUB_ACTIONS === "true") {
    const event = env.GITHUB_EVENT_NAME;
    return { trigger: event === "schedule" ? "schedule" : event === "push" ? "pipeline" : "operator", commit };
  }
  return { trigger: "operator" };
}
