// A drift check's audit entry: its findings are the "last drift" `wod report --html` shows.
import type { Pool } from "pg";
import { type AuditContext, tryRecordEntry } from "../audit/record";
import type { DriftReport } from "./check";

export async function recordDrift(pool: Pool, ctx: AuditContext, r: DriftReport, log: (m: string) => void, request: Record<string, unknown> = {}): Promise<void> {
  await tryRecordEntry(pool, ctx, {
    command: "drift", stack: r.stack, request, outcome: r.outcome, exitCode: driftExit(r),
    changes: { findings: r.findings.slice(0, 500), checked: r.checked, ...(r.unchecked.length ? { unchecked: r.unchecked } : {}) },
  }, log);
}

/** 0 clean, 1 drifted, 5 incomplete (some part could not be checked, nothing drifted in the rest). */
export const driftExit = (r: DriftReport) => (r.outcome === "clean" ? 0 : r.outcome === "drifted" ? 1 : 5);
