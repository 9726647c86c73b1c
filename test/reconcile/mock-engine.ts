// A StackEngine for tests: the real stack program runs under Pulumi's mock runtime, and this
// engine plays the part of the Pulumi engine and of the machines — it diffs what the program
// declares against what it applied before (inputs, as the engine does), applies (all, or only
// targets), fails what a test says fails, and answers each cohort's sync the way
// sync-cohort.py does (every table slot active, slots that left released), from the very stdin
// the program gives it. The host side itself is tested on a real host (test/host).
import * as pulumi from "@pulumi/pulumi";
import { ConcurrentUpdate, type Program, type StackEngine, type StateResource, type Step, type UpResult } from "../../infra/reconcile/engine";
import { installMocks, plain, settle } from "../components/mocks";

interface Resource {
  type: string;
  inputs: Record<string, unknown>;
  /** The resource option: these inputs keep their applied values, once there are some. */
  ignoreChanges: string[];
  /** Inputs as text: what a diff compares. */
  text: string;
  triggers: string;
  outputs: Record<string, unknown>;
}

export class MockEngine implements StackEngine {
  /** What the engine has applied, by URN. */
  applied = new Map<string, Resource>();
  previews = 0;
  ups: { targets?: string[] }[] = [];
  /** Resources (by URN substring) whose operation fails, with the message. */
  failing = new Map<string, string>();
  /** Registrations whose activation the host reports failed, with the host's message. */
  failActivations = new Map<string, string>();
  /** Registrations whose release the host reports failed. */
  failReleases = new Set<string>();
  /** The next N calls meet another update in progress. */
  busy = 0;
  /** The next up hangs (a machine that never answers) until it is cancelled. */
  hangs = false;
  private outputs_: Record<string, unknown> = {};

  constructor(private mocks = installMocks()) {}

  async preview(program: Program): Promise<Step[]> {
    this.previews++;
    this.meetBusy();
    const { resources } = await this.evaluate(program);
    return this.diff(resources);
  }

  async up(program: Program, opts: { targets?: string[]; signal?: AbortSignal } = {}): Promise<UpResult> {
    this.ups.push({ targets: opts.targets });
    this.meetBusy();
    if (this.hangs) {
      this.hangs = false;
      await new Promise<void>((resolve) => opts.signal?.addEventListener("abort", () => resolve(), { once: true }));
      return { ok: false, steps: [], failures: [], outputs: this.outputs_, state: await this.state(), error: "update canceled" };
    }
    const { resources, outputs } = await this.evaluate(program);
    const steps = this.diff(resources).filter((s) => s.op === "same" || !opts.targets || opts.targets.includes(s.urn));
    const done: Step[] = [];
    const failures: UpResult["failures"] = [];
    for (const s of steps) {
      const failure = [...this.failing].find(([part]) => s.urn.includes(part));
      if (failure && s.op !== "same") {
        failures.push({ urn: s.urn, type: s.type, message: failure[1] });
        continue;
      }
      if (s.op === "delete") this.applied.delete(s.urn);
      else if (s.op !== "same") this.applied.set(s.urn, this.apply(s.urn, resources.get(s.urn)!));
      done.push(s);
    }
    // Stack outputs are written only by a complete update, as Pulumi does.
    if (failures.length === 0) this.outputs_ = outputs;
    return { ok: failures.length === 0, steps: done, failures, outputs: this.outputs_, state: await this.state(), error: failures.length ? "update failed" : undefined };
  }

  async outputs(): Promise<Record<string, unknown>> {
    return this.outputs_;
  }

  async state(): Promise<StateResource[]> {
    return [...this.applied].map(([urn, r]) => ({ urn, type: r.type, outputs: r.outputs }));
  }

  /** URNs of applied resources, for assertions. */
  urns(part = ""): string[] {
    return [...this.applied.keys()].filter((u) => u.includes(part)).sort();
  }

  /** The host's answer to a sync command (create or update), from its stdin; other resources keep their inputs as outputs. */
  private apply(urn: string, r: Resource): Resource {
    if (r.type !== "command:remote:Command" || !urn.includes("wod:index:StudentCohort$")) return r;
    const before = this.applied.get(urn)?.outputs.stdout as string | undefined;
    const held = new Map(Object.entries((before ? JSON.parse(before) : { slots: {} }).slots as Record<string, { registration: string; generation: number; status: string }>));
    const table = (JSON.parse(r.inputs.stdin as string) as { slots: Record<string, { registration: string; generation: number }> }).slots;
    const results = { slots: {} as Record<string, unknown>, released: [] as unknown[] };
    for (const [slot, old] of held) {
      if (table[slot]?.registration === old.registration && table[slot]?.generation === old.generation) continue;
      if (this.failReleases.has(old.registration)) {
        results.slots[slot] = { ...old, status: "release-failed", error: `slot ${slot} (registration ${old.registration}): release failed: disk full` };
      } else if (old.status !== "release-failed" || !table[slot]) {
        results.released.push({ registration: old.registration, generation: old.generation, slot: Number(slot), completionRatio: 0.5, releasedAt: "now" });
      }
    }
    for (const [slot, entry] of Object.entries(table)) {
      const error = this.failActivations.get(entry.registration);
      results.slots[slot] = { registration: entry.registration, generation: entry.generation, status: error ? "failed" : "active", ...(error ? { error } : {}) };
    }
    return { ...r, outputs: { ...r.outputs, stdout: JSON.stringify(results) } };
  }

  private meetBusy() {
    if (this.busy > 0) {
      this.busy--;
      throw new ConcurrentUpdate("[409] Conflict: Another update is currently in progress.");
    }
  }

  private async evaluate(program: Program) {
    this.mocks.take();
    // The mock runtime's monitor knows each resource's URN (with its parent's type).
    const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as { getMonitor(): { resources: Map<string, { urn: string; state: unknown }> } };
    const monitor = settings.getMonitor();
    monitor.resources.clear();
    const outputs = await resolve(await program());
    await settle();
    const registered = new Map(this.mocks.take().map((r) => [`${r.type}::${r.name}`, r]));
    const resources = new Map<string, Resource>();
    for (const [urn, r] of monitor.resources) {
      const type = urn.split("::")[2].split("$").pop()!;
      const inputs = plain(registered.get(`${type}::${urn.split("::").pop()}`)?.inputs ?? {}) as Record<string, unknown>;
      const state = plain(r.state) as Record<string, unknown>;
      const id = (r as { id?: string }).id ?? urn;
      const ignoreChanges = registered.get(`${type}::${urn.split("::").pop()}`)?.options.ignoreChanges ?? [];
      resources.set(urn, { type, inputs, ignoreChanges, ...texts(inputs), outputs: { ...state, id } });
    }
    return { resources, outputs: outputs as Record<string, unknown> };
  }

  /**
   * Like the engine: new → create, gone → delete, changed → update, or replace when its
   * triggers/keepers changed. As the engine, an input named in ignoreChanges takes its applied
   * value back before the diff, and keeps it in what is applied; a new resource takes the program's
   * (pulumi/pulumi pkg/resource/deploy/step_generator.go, generateSteps: `if hasOld { inputs =
   * processIgnoreChanges(inputs, oldInputs, goal.IgnoreChanges) }`).
   */
  private diff(next: Map<string, Resource>): Step[] {
    const steps: Step[] = [];
    for (const [urn, declared] of next) {
      const before = this.applied.get(urn);
      const r = before && declared.ignoreChanges.length ? ignoring(declared, before) : declared;
      next.set(urn, r);
      const op = !before ? "create" : before.text === r.text ? "same" : before.triggers !== r.triggers ? "replace" : "update";
      steps.push({ op, type: r.type, urn, oldInputs: before?.inputs, newInputs: r.inputs });
    }
    for (const [urn, r] of this.applied) if (!next.has(urn)) steps.push({ op: "delete", type: r.type, urn, oldInputs: r.inputs });
    return steps;
  }
}

/** What a diff compares: all inputs, and the ones whose change replaces. */
function texts(inputs: Record<string, unknown>) {
  return { text: JSON.stringify(inputs), triggers: JSON.stringify(inputs.triggers ?? inputs.keepers ?? null) };
}

/** The declared resource with its ignored inputs (top-level names or dotted paths) as applied before. */
function ignoring(declared: Resource, before: Resource): Resource {
  const inputs = structuredClone(declared.inputs);
  for (const path of declared.ignoreChanges) {
    const keys = path.split(".");
    let from: unknown = before.inputs;
    let to: Record<string, unknown> = inputs;
    for (const k of keys.slice(0, -1)) {
      from = (from as Record<string, unknown> | undefined)?.[k];
      if (!to[k] || typeof to[k] !== "object") to[k] = {};
      to = to[k] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    const old = (from as Record<string, unknown> | undefined)?.[last];
    if (old === undefined) delete to[last];
    else to[last] = structuredClone(old);
  }
  return { ...declared, inputs, ...texts(inputs) };
}

/** Resolves nested Outputs to plain values (secrets unwrapped, as `stack.outputs()` gives them). */
async function resolve(v: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(v)) return resolve(await new Promise((r) => (v as pulumi.Output<unknown>).apply((x) => r(x))));
  if (Array.isArray(v)) return Promise.all(v.map(resolve));
  if (v && typeof v === "object") return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolve(x)])));
  return v;
}
