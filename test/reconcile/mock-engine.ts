// A StackEngine for tests: the real stack program runs under Pulumi's mock runtime, and this
// engine plays the part of the Pulumi engine — it diffs what the program declares against
// what it applied before, applies (all, or only targets), fails what a test says fails, and
// reports outputs for what is applied. The only stand-in is the engine and the clouds.
import * as pulumi from "@pulumi/pulumi";
import { ConcurrentUpdate, componentOf, type Program, type StackEngine, type Step, type UpResult } from "../../infra/reconcile/engine";
import type { DesiredState } from "../../infra/desired/types";
import { accountName, serverName } from "../../infra/names";
import { installMocks, plain, settle } from "../components/mocks";

interface Resource {
  type: string;
  inputs: string;
  triggers: string;
}

export class MockEngine implements StackEngine {
  /** What the engine has applied, by URN. */
  applied = new Map<string, Resource>();
  previews = 0;
  ups: { targets?: string[] }[] = [];
  /** Resources (by URN substring) whose operation fails, with the message. */
  failing = new Map<string, string>();
  /** The next N calls meet another update in progress. */
  busy = 0;
  /** The last desired state the program declared (to map outputs to what is applied). */
  lastDesired?: DesiredState;
  private outputs_: Record<string, unknown> = {};

  constructor(private mocks = installMocks()) {}

  async preview(program: Program): Promise<Step[]> {
    this.previews++;
    this.meetBusy();
    const { resources } = await this.evaluate(program);
    return this.diff(resources);
  }

  async up(program: Program, opts: { targets?: string[] } = {}): Promise<UpResult> {
    this.ups.push(opts);
    this.meetBusy();
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
      else this.applied.set(s.urn, resources.get(s.urn)!);
      done.push(s);
    }
    this.outputs_ = this.appliedOutputs(outputs);
    return { ok: failures.length === 0, steps: done, failures, outputs: this.outputs_, error: failures.length ? "update failed" : undefined };
  }

  async outputs(): Promise<Record<string, unknown>> {
    return this.outputs_;
  }

  /** URNs of applied resources, for assertions. */
  urns(part = ""): string[] {
    return [...this.applied.keys()].filter((u) => u.includes(part)).sort();
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
    const resources = new Map<string, Resource>();
    for (const [urn, r] of monitor.resources) {
      const type = urn.split("::")[2].split("$").pop()!;
      const state = plain(r.state) as Record<string, unknown>;
      resources.set(urn, { type, inputs: JSON.stringify(state), triggers: JSON.stringify(state?.triggers ?? state?.keepers ?? null) });
    }
    return { resources, outputs: outputs as Record<string, unknown> };
  }

  /** Like the engine: new → create, gone → delete, changed → update, or replace when its triggers/keepers changed. */
  private diff(next: Map<string, Resource>): Step[] {
    const steps: Step[] = [];
    for (const [urn, r] of next) {
      const before = this.applied.get(urn);
      const op = !before ? "create" : before.inputs === r.inputs ? "same" : before.triggers !== r.triggers ? "replace" : "update";
      steps.push({ op, type: r.type, urn });
    }
    for (const [urn, r] of this.applied) if (!next.has(urn)) steps.push({ op: "delete", type: r.type, urn });
    return steps;
  }

  /** Outputs as the state holds them: an account or server appears once its resources are applied. */
  private appliedOutputs(outputs: Record<string, unknown>) {
    const d = this.lastDesired;
    const has = (name: string, type: string) => [...this.applied.keys()].some((u) => u.endsWith(`::${name}`) && componentOf({ urn: u, type: "" }) === type);
    const accounts = Object.fromEntries(
      Object.entries((outputs.accounts ?? {}) as Record<string, unknown>).filter(([id]) => {
        const a = d?.accounts.find((x) => x.registrationId === id);
        return a && has(`${accountName(a.location, a.slot)}-activation`, "wod:index:StudentAccount");
      }),
    );
    const studentServers = Object.fromEntries(
      Object.entries((outputs.studentServers ?? {}) as Record<string, unknown>).filter(([id]) => has(`${serverName(id)}-droplet`, "wod:index:StudentServer")),
    );
    return { ...outputs, accounts, studentServers };
  }
}

/** Resolves nested Outputs to plain values (secrets unwrapped, as `stack.outputs()` gives them). */
async function resolve(v: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(v)) return resolve(await new Promise((r) => (v as pulumi.Output<unknown>).apply((x) => r(x))));
  if (Array.isArray(v)) return Promise.all(v.map(resolve));
  if (v && typeof v === "object") return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolve(x)])));
  return v;
}
