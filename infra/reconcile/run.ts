// One reconcile: lock → load → decide → preview → guard → up → remove servers → read machines →
// write back → report.
import type { StackConfig } from "../config";
import { quarantineReason } from "../catalog/quarantine";
import type { Database } from "../db/connect";
import { countDesired, desiredState } from "../desired/state";
import type { DesiredState } from "../desired/types";
import { loadInputs } from "../load";
import { registrationLocations, restrictToPart } from "../desired/part";
import { declare as declareProgram } from "../program";
import { componentOf, type Program, type StackEngine, type StateResource, type Step } from "./engine";
import { checkGuards, countReleases } from "./guard";
import { collectHostFacts, type HostFacts, type HostReader } from "./host-facts";
import { LockBusy, lockStack, retryConcurrent } from "./lock";
import { type RemovalSummary, removeServers, type ServerRemover, strayDroplets, type TaggedDroplet } from "./servers";
import { type Applied, appliedFrom, type StackOutputValues, writeBack, type WriteBackSummary } from "./writeback";
import type { AuditContext } from "../audit/record";
import { recordReconcile } from "../audit/reconcile";
import type { DriftReport } from "../drift/check";

/** Exit codes a scheduler can act on. */
export const EXIT = { ok: 0, failed: 1, input: 2, guard: 3, busy: 4, partial: 5 } as const;

export interface ReconcileOptions {
  stack: string;
  config: StackConfig;
  db: Database;
  engine: StackEngine;
  /** Reads last SSH logins and completion records on the machines; skipped when absent. */
  hosts?: HostReader;
  /** Snapshots and destroys the student servers the decision removes, and finds stray droplets; without one they are reported, not removed. */
  servers?: ServerRemover;
  /** The stack's name as the engine knows it (the last part of org/project/stack): the droplets' stack tag. Default: `stack`. */
  pulumiStack?: string;
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
  /**
   * An up still running after this long is cancelled (default 60 min: above every command's own
   * limit), so a stuck machine never holds the stack and its lock.
   */
  upTimeoutMs?: number;
  /** Checks drift after the write-back (`--drift`); its report joins the run's. */
  drift?: () => Promise<DriftReport>;
  /** This run's audit context and what started it: its entry and the events of its write-back (migration 006). */
  audit?: AuditContext & { trigger: "schedule" | "watch" | "pipeline" | "operator"; request?: Record<string, unknown> };
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
  /** Learner accounts the preview showed coming and going (counted per slot, not per cohort). */
  accounts?: { live: number; added: number; released: number; unexpected: number };
  /** Student servers removed this run (snapshot first), and the ones that could not be. */
  removals?: RemovalSummary;
  /** Droplets tagged as this stack's student servers that no learner's server holds: running and billed. */
  strayDroplets?: TaggedDroplet[];
  fastPath: boolean;
  rejected: DesiredState["rejected"];
  /** Workshops with errors of their own: kept as last synced (or without seats), closed for registration; the rest converged without them. */
  quarantined: { workshop: string; active: boolean; errors: number; reason: string; kept: boolean }[];
  guard: string[];
  failures: { urn: string; message: string }[];
  writeBack?: WriteBackSummary;
  unreachable: HostFacts["unreachable"];
  /** Records read on the machines that could not be written back, and why. */
  unusable?: HostFacts["rejected"];
  /** The Pulumi update this run made. */
  pulumiVersion?: number;
  /** The drift check run after the write-back (`--drift`), read only. */
  drift?: DriftReport;
  /** The e-mail pass run after the reconcile (`wod notify --once`), or why it could not run. */
  messages?: import("../notify/run").NotifyReport | { error: string };
}

export async function reconcile(o: ReconcileOptions): Promise<Report> {
  const report = await converge(o);
  // The drift check reads only: after a run that applied, what still differs from the stack.
  if (o.drift && (report.exitCode === EXIT.ok || report.exitCode === EXIT.partial)) report.drift = await o.drift();
  if (o.audit) await recordReconcile(o.db.pool, o.audit, report, o.log ?? (() => {}));
  return report;
}

async function converge(o: ReconcileOptions): Promise<Report> {
  const log = o.log ?? (() => {});
  const now = (o.now ?? (() => new Date()))();
  const report: Report = {
    stack: o.stack, exitCode: EXIT.ok, outcome: "converged", message: "", phases: [], changes: {}, fastPath: false,
    rejected: [], quarantined: [], guard: [], failures: [], unreachable: [],
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
    lock = await lockStack(o.db.pool, o.stack, { log });
  } catch (e) {
    if (e instanceof LockBusy) return end("busy", EXIT.busy, e.message);
    return end("invalid-input", EXIT.input, `nothing applied: cannot reach the database: ${(e as Error).message}`);
  }
  try {
    // Load and decide: any failure here stops the run before the engine is touched.
    let desired: DesiredState;
    let emptyDatabase = false;
    try {
      const { catalog, kept, snapshot } = await phase("load", () => loadInputs({ config: o.config, db: o.db, log }));
      emptyDatabase = snapshot.registrations.length === 0 && snapshot.learners.length === 0;
      // One broken workshop never stops the run: it is reported, kept as last synced, and the rest converges.
      report.quarantined = catalog.quarantined.map((q) => ({
        workshop: q.name, active: q.active, errors: q.errors.length, reason: quarantineReason(q), kept: kept.some((w) => w.name === q.name),
      }));
      desired = await phase("decide", async () =>
        restrictToPart(desiredState({ catalog: [...catalog.workshops, ...kept], quarantined: catalog.quarantined, snapshot, config: o.config, now }), o.config.part, registrationLocations(snapshot)));
    } catch (e) {
      return end("invalid-input", EXIT.input, `nothing applied: ${(e as Error).message}`);
    }
    report.desired = countDesired(desired);
    report.rejected = desired.rejected;
    const declare = o.declare ?? ((d, c) => declareProgram(d, c) as unknown as Record<string, unknown>);
    const program: Program = async () => declare(desired, o.config);
    const retry = <T>(work: () => Promise<T>) => retryConcurrent(work, { log, sleep: o.sleep });
    // Read the machines, then sync the database from what the stack holds.
    const writeBackFrom = async (outputs: StackOutputValues, state: StateResource[]) => {
      const applied = appliedFrom(state);
      const facts = o.hosts ? await phase("read machines", () => collectHostFacts(o.hosts!, hostTargets(outputs, applied), { log })) : undefined;
      report.unreachable = facts?.unreachable ?? [];
      report.unusable = facts?.rejected ?? [];
      await lock.settled();
      lock.check(); // never write back under a lock that another run may hold now
      report.writeBack = await phase("write back", () => writeBack(o.db.pool, { desired, applied, outputs, facts, now, audit: o.audit }));
    };

    // A droplet the stack no longer declares is only forgotten (retainOnDelete): remove it, or say
    // loudly that it keeps running; and look for droplets nobody holds.
    const servers = async (state: StateResource[]) => {
      const removals = desired.transitions.removeServers;
      if (removals.length && o.servers) {
        report.removals = await phase("remove servers", () => removeServers(o.db.pool, o.servers!, removals, { snapshot: o.config.studentServers.snapshotBeforeDestroy, now, log, audit: o.audit }));
      } else if (removals.length) {
        const why = "DIGITALOCEAN_TOKEN is not set: its droplet keeps running (and billing) until a reconcile with the token snapshots and removes it";
        report.removals = { removed: 0, snapshots: 0, failed: removals.map((r) => ({ learnerId: r.learnerId, reason: why })) };
        log(`${removals.length} student server(s) to remove, and ${why.replace("its droplet keeps", "each keeps")}`);
      }
      if (!o.config.studentServers.enabled || o.config.part?.studentServers === false) return;
      if (!o.servers) return log("DIGITALOCEAN_TOKEN is not set: droplets that no learner holds are not looked for");
      const inState = [...appliedFrom(state).droplets.values()].map((d) => d.id);
      report.strayDroplets = await phase("stray droplets", () => strayDroplets(o.db.pool, o.servers!, { stack: o.pulumiStack ?? o.stack, inState, now }));
      for (const d of report.strayDroplets) log(`stray droplet ${d.id} (${d.name}): tagged as a student server, held by no learner: it keeps running and billing`);
    };

    if (o.writeBackOnly) {
      const [outputs, state] = await phase("read state", () => Promise.all([o.engine.outputs(), o.engine.state()]));
      await servers(state);
      await writeBackFrom(outputs as StackOutputValues, state);
      if (report.removals?.failed.length) return end("partial", EXIT.partial, `database synced from the stack's state; ${report.removals.failed.length} server removal(s) failed`);
      return end("converged", EXIT.ok, "database synced from the stack's state");
    }
    const steps = await phase("preview", () => retry(() => o.engine.preview(program)));
    const changed = steps.filter((s) => s.op !== "same");
    const slots = countReleases(steps, desired);
    report.accounts = { live: slots.liveAccounts, added: slots.added.length, released: slots.released.length, unexpected: slots.unexpected.length };
    if (emptyDatabase && slots.liveAccounts + slots.liveServers > 0) {
      return end("invalid-input", EXIT.input, `nothing applied: the database returned no registrations and no learners while the stack holds ${slots.liveAccounts} accounts and ${slots.liveServers} student servers`);
    }
    report.guard = checkGuards({ steps, desired, guard: o.config.guard, allowMassDelete: !!o.allowMassDelete }).reasons;
    if (report.guard.length) return end("aborted", EXIT.guard, `guard: nothing applied:\n  ${report.guard.join("\n  ")}`);

    // Fast path: when the only change is learners joining cohorts, apply just those cohorts.
    const onlyJoins = changed.length > 0 && slots.released.length === 0 && changed.every((s) => componentOf(s) === COHORT && s.op !== "delete" && s.op !== "replace");
    report.fastPath = onlyJoins && o.fastPath !== false;
    log(`preview: ${changed.length} change(s), ${slots.added.length} learner(s) joining, ${slots.released.length} leaving${report.fastPath ? "; fast path: only the cohorts that gained learners" : ""}`);
    await lock.settled();
    lock.check();
    // Up runs even without changes: its outputs are what the write-back syncs from.
    const limit = o.upTimeoutMs ?? 60 * 60_000;
    const deadline = AbortSignal.timeout(limit);
    const up = await phase("up", () => retry(() => o.engine.up(program, { ...(report.fastPath ? { targets: changed.map((s) => s.urn) } : {}), signal: deadline })));
    if (deadline.aborted && !up.ok) up.error = `the up was cancelled after ${Math.round(limit / 1000)} s (a machine did not answer in time); what was applied is written back: ${up.error ?? ""}`;
    report.failures = up.failures.map((f) => ({ urn: f.urn, message: f.message }));
    report.pulumiVersion = up.version;
    for (const s of up.steps.filter((x) => x.op !== "same")) {
      const kind = componentOf(s).split(":").pop()!;
      report.changes[kind] ??= {};
      report.changes[kind][s.op] = (report.changes[kind][s.op] ?? 0) + 1;
    }

    await servers(up.state);
    await writeBackFrom(up.outputs as StackOutputValues, up.state);

    if (!up.ok && up.failures.length === 0) return end("failed", EXIT.failed, `the engine failed: ${up.error}`);
    if (!up.ok || up.failures.length || report.removals?.failed.length) {
      return end("partial", EXIT.partial, `${up.failures.length} resource(s) and ${report.removals?.failed.length ?? 0} server removal(s) failed; the rest was applied and written back`);
    }
    return end(changed.length ? "converged" : "nothing-to-do", EXIT.ok, changed.length ? `applied ${changed.length} change(s)` : "already converged");
  } catch (e) {
    return end("failed", EXIT.failed, (e as Error).message);
  } finally {
    await lock.release();
  }
}

const COHORT = "wod:index:StudentCohort";

function hostTargets(outputs: StackOutputValues, applied: Applied) {
  return {
    servers: [...applied.droplets].filter(([, d]) => d.ipv4).map(([learnerId, d]) => ({ learnerId, ipv4: d.ipv4! })),
    backends: Object.entries(outputs.backends ?? {}).filter(([, b]) => b.address).map(([location, b]) => ({ location, address: b.address, hostKey: b.hostKey || undefined })),
  };
}
