// One reconcile: lock → load → decide → preview → guard → up → write back → report.
import type { StackConfig } from "../config";
import type { Database } from "../db/connect";
import { countDesired, desiredState } from "../desired/state";
import type { DesiredState } from "../desired/types";
import { loadInputs } from "../load";
import { restrictToPart } from "../desired/part";
import { declare as declareProgram } from "../program";
import { componentOf, type Program, type StackEngine, type Step, type UpResult } from "./engine";
import { checkGuards } from "./guard";
import { collectHostFacts, type HostFacts, type HostReader } from "./host-facts";
import { LockBusy, lockStack, retryConcurrent } from "./lock";
import { type StackOutputValues, writeBack, type WriteBackSummary } from "./writeback";

/** Exit codes a scheduler can act on. */
export const EXIT = { ok: 0, failed: 1, input: 2, guard: 3, busy: 4, partial: 5 } as const;

export interface ReconcileOptions {
  stack: string;
  config: StackConfig;
  db: Database;
  engine: StackEngine;
  /** Reads last SSH logins and completion records on the machines; skipped when absent. */
  hosts?: HostReader;
  now?: () => Date;
  allowMassDelete?: boolean;
  /** Skip preview and up: sync the database from the stack's current outputs (when another
   *  driver, such as the Pulumi Kubernetes Operator, runs the updates). */
  writeBackOnly?: boolean;
  /** Apply only new accounts when nothing else changes (default on). */
  fastPath?: boolean;
  /** Declares the resources; defaults to the real components (tests may pass their own). */
  declare?: (desired: DesiredState, config: StackConfig) => Record<string, unknown>;
  log?: (m: string) => void;
  /** Test hook: sleep between retries. */
  sleep?: (ms: number) => Promise<void>;
}

export interface Report {
  stack: string;
  exitCode: number;
  outcome: "converged" | "nothing-to-do" | "partial" | "failed" | "aborted" | "busy" | "invalid-input";
  message: string;
  phases: { phase: string; ms: number }[];
  desired?: ReturnType<typeof countDesired>;
  /** Changes by component kind and operation. */
  changes: Record<string, Partial<Record<Step["op"], number>>>;
  fastPath: boolean;
  rejected: DesiredState["rejected"];
  guard: string[];
  failures: { urn: string; message: string }[];
  writeBack?: WriteBackSummary;
  unreachable: HostFacts["unreachable"];
}

export async function reconcile(o: ReconcileOptions): Promise<Report> {
  const log = o.log ?? (() => {});
  const now = (o.now ?? (() => new Date()))();
  const report: Report = {
    stack: o.stack, exitCode: EXIT.ok, outcome: "converged", message: "", phases: [], changes: {}, fastPath: false,
    rejected: [], guard: [], failures: [], unreachable: [],
  };
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    log(`${name}…`);
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      report.phases.push({ phase: name, ms: Math.round(performance.now() - t0) });
    }
  };
  const end = (outcome: Report["outcome"], exitCode: number, message: string) => Object.assign(report, { outcome, exitCode, message });

  let lock;
  try {
    lock = await lockStack(o.db.pool, o.stack);
  } catch (e) {
    if (e instanceof LockBusy) return end("busy", EXIT.busy, e.message);
    return end("invalid-input", EXIT.input, `nothing applied: cannot reach the database: ${(e as Error).message}`);
  }
  try {
    // Load and decide: any failure here stops the run before the engine is touched.
    let desired: DesiredState;
    let emptyDatabase = false;
    try {
      const { catalog, snapshot } = await phase("load", () => loadInputs({ config: o.config, db: o.db, log }));
      emptyDatabase = snapshot.registrations.length === 0 && snapshot.learners.length === 0;
      const locationOf = new Map(snapshot.registrations.map((r) => [r.id, r.location]));
      desired = await phase("decide", async () =>
        restrictToPart(desiredState({ catalog: catalog.workshops, snapshot, config: o.config, now }), o.config.part, (id) => locationOf.get(id)));
    } catch (e) {
      return end("invalid-input", EXIT.input, `nothing applied: ${(e as Error).message}`);
    }
    report.desired = countDesired(desired);
    report.rejected = desired.rejected;
    const declare = o.declare ?? ((d, c) => declareProgram(d, c) as unknown as Record<string, unknown>);
    const program: Program = async () => declare(desired, o.config);
    const retry = <T>(work: () => Promise<T>) => retryConcurrent(work, { log, sleep: o.sleep });
    // Read the machines, then sync the database from what the stack holds.
    const writeBackFrom = async (outputs: StackOutputValues, failures: UpResult["failures"]) => {
      const facts = o.hosts ? await phase("read machines", () => collectHostFacts(o.hosts!, hostTargets(outputs), { log })) : undefined;
      report.unreachable = facts?.unreachable ?? [];
      report.writeBack = await phase("write back", () => writeBack(o.db.pool, { desired, outputs, failures, facts, now, locations: o.config.part?.locations }));
    };

    if (o.writeBackOnly) {
      await writeBackFrom((await phase("read outputs", () => o.engine.outputs())) as StackOutputValues, []);
      return end("converged", EXIT.ok, "database synced from the stack outputs");
    }
    const steps = await phase("preview", () => retry(() => o.engine.preview(program)));
    const changed = steps.filter((s) => s.op !== "same");
    const live = liveCounts(steps);
    if (emptyDatabase && live.accounts + live.studentServers > 0) {
      return end("invalid-input", EXIT.input, `nothing applied: the database returned no registrations and no learners while the stack holds ${live.accounts} accounts and ${live.studentServers} student servers`);
    }
    report.guard = checkGuards({ steps, desired, live, guard: o.config.guard, allowMassDelete: !!o.allowMassDelete });
    if (report.guard.length) return end("aborted", EXIT.guard, `guard: nothing applied:\n  ${report.guard.join("\n  ")}`);

    // Fast path: when only new accounts appear, apply just them; nothing unrelated is touched.
    const onlyNewAccounts = changed.length > 0 && changed.every((s) => s.op === "create" && componentOf(s) === "wod:index:StudentAccount");
    report.fastPath = onlyNewAccounts && o.fastPath !== false;
    log(`preview: ${changed.length} change(s)${report.fastPath ? ", fast path: new accounts only" : ""}`);
    // Up runs even without changes: its outputs are what the write-back syncs from.
    const up = await phase("up", () => retry(() => o.engine.up(program, report.fastPath ? { targets: changed.map((s) => s.urn) } : {})));
    report.failures = up.failures.map((f) => ({ urn: f.urn, message: f.message }));
    for (const s of up.steps.filter((x) => x.op !== "same")) {
      const kind = componentOf(s).split(":").pop()!;
      report.changes[kind] ??= {};
      report.changes[kind][s.op] = (report.changes[kind][s.op] ?? 0) + 1;
    }

    await writeBackFrom(up.outputs as StackOutputValues, up.failures);

    if (!up.ok && up.failures.length === 0) return end("failed", EXIT.failed, `the engine failed: ${up.error}`);
    if (!up.ok || up.failures.length) return end("partial", EXIT.partial, `${up.failures.length} resource(s) failed; the rest was applied and written back`);
    return end(changed.length ? "converged" : "nothing-to-do", EXIT.ok, changed.length ? `applied ${changed.length} change(s)` : "already converged");
  } catch (e) {
    return end("failed", EXIT.failed, (e as Error).message);
  } finally {
    await lock.release();
  }
}

/** Accounts and servers the stack holds before this run: every component the preview does not create. */
function liveCounts(steps: Step[]) {
  const count = (type: string) => steps.filter((s) => s.type === type && s.op !== "create").length;
  return { accounts: count("wod:index:StudentAccount"), studentServers: count("wod:index:StudentServer") };
}

function hostTargets(outputs: StackOutputValues) {
  return {
    servers: Object.entries(outputs.studentServers ?? {}).filter(([, s]) => s.ipv4).map(([learnerId, s]) => ({ learnerId, ipv4: s.ipv4 })),
    backends: Object.entries(outputs.backends ?? {}).filter(([, b]) => b.address).map(([location, b]) => ({ location, address: b.address })),
  };
}
