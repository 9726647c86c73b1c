// The narrow seam between the reconcile job and the Pulumi engine. The real implementation
// (pulumi-engine.ts) drives the Automation API and needs the Pulumi CLI; tests script it.
export type StepOp = "create" | "update" | "delete" | "replace" | "same";

/** One resource the engine would touch (preview) or did touch (up). */
export interface Step {
  op: StepOp;
  /** Resource type token, e.g. wod:index:StudentCohort or command:remote:Command. */
  type: string;
  urn: string;
  /** Inputs before and after, as the engine reports them (a cohort's slot table is here). */
  oldInputs?: Record<string, unknown>;
  newInputs?: Record<string, unknown>;
}

/** A resource as the stack's state holds it: its outputs, secrets left out. */
export interface StateResource {
  urn: string;
  type: string;
  outputs: Record<string, unknown>;
}

export interface Failure {
  urn: string;
  type: string;
  message: string;
}

export interface UpResult {
  ok: boolean;
  /** Steps the engine applied. */
  steps: Step[];
  /** Resources whose operation failed, with the engine's message. */
  failures: Failure[];
  /** Stack outputs as the state now holds them, secrets decrypted (plain values). */
  outputs: Record<string, unknown>;
  /** The resources the state holds after the up: what was really applied. */
  state: StateResource[];
  error?: string;
  /** The stack's update number this up made (the audit trail records it). */
  version?: number;
}

/** The stack program for one run: declares resources, returns the stack outputs. */
export type Program = () => Promise<Record<string, unknown>>;

export interface StackEngine {
  preview(program: Program): Promise<Step[]>;
  /**
   * targets: URNs to apply alone (the fast path); everything when absent. signal: cancels the
   * update (the engine stops at its next step; the result says it was cancelled).
   */
  up(program: Program, opts?: { targets?: string[]; signal?: AbortSignal }): Promise<UpResult>;
  /** Stack outputs as the state holds them, secrets decrypted (for a write-back without an up). */
  outputs(): Promise<Record<string, unknown>>;
  /** The resources the state holds now. */
  state(): Promise<StateResource[]>;
  /** Reads every cloud resource and says which differ from the state, changing nothing (`wod drift`). */
  refreshPreview?(): Promise<{ drifted: CloudDrift[]; resources: number }>;
}

/** A resource whose cloud state differs from the stack's (from a refresh preview). */
export interface CloudDrift {
  urn: string;
  type: string;
  /** update: its properties changed outside Pulumi; delete: it is gone. */
  op: "update" | "delete";
  diffs: string[];
}

/** The engine says another update of this stack is in progress. */
export class ConcurrentUpdate extends Error {}

/** The component a URN belongs to: the first wod:index type on its type chain, or its own type. */
export function componentOf(step: Pick<Step, "urn" | "type">): string {
  const chain = step.urn.split("::")[2] ?? "";
  return chain.split("$").find((t) => t.startsWith("wod:index:")) ?? step.type;
}

/** The resource's name (last URN segment). */
export const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
