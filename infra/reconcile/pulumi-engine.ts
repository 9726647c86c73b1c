// StackEngine on the Pulumi Automation API (needs the `pulumi` CLI on PATH and a logged-in
// state backend). Per-resource steps come from the engine's event stream.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ConcurrentUpdateError, type EngineEvent, LocalWorkspace, type Stack, StackNotFoundError } from "@pulumi/pulumi/automation";
import { ConcurrentUpdate, type Failure, type Program, type StackEngine, type StateResource, type Step, type StepOp } from "./engine";

const OPS: Record<string, StepOp> = {
  same: "same", create: "create", update: "update", delete: "delete", replace: "replace",
  "create-replacement": "replace", "delete-replaced": "replace",
};

/** The Pulumi stack does not exist in the logged-in backend (a reconcile never creates one). */
export class StackMissing extends Error {}

/** No `pulumi` CLI to drive (the Automation API runs it: @pulumi/pulumi automation/cmd.js, `pulumi version` first). */
export class PulumiUnavailable extends Error {}

/** Selects an existing stack by its fully qualified name (org/project/stack); never creates one. */
async function selectExisting<T>(stack: string, select: () => Promise<T>): Promise<T> {
  try {
    return await select();
  } catch (e) {
    // The SDK wraps the spawn failure in a CommandError whose message holds "spawn pulumi ENOENT".
    if (/spawn \S*pulumi ENOENT/.test((e as Error)?.message ?? "")) {
      throw new PulumiUnavailable("no `pulumi` is on PATH: install it (https://www.pulumi.com/docs/install/) and log in to the stack's backend");
    }
    if (!(e instanceof StackNotFoundError)) throw e;
    throw new StackMissing(`Pulumi stack ${stack} does not exist in the logged-in backend: create it with \`pulumi stack init ${stack}\`, or fix WOD_PULUMI_ORG / --pulumi-stack (a reconcile never creates a stack)`);
  }
}

/** Fails with StackMissing unless the stack exists (a check before a run starts). */
export async function assertStackExists(stack: string, workDir: string): Promise<void> {
  await selectExisting(stack, () => LocalWorkspace.selectStack({ stackName: stack, workDir }));
}

/** opts.stack: the fully qualified name, org/project/stack. */
export function pulumiEngine(opts: { stack: string; workDir: string; log: (m: string) => void }): StackEngine {
  const open = (program: Program): Promise<Stack> =>
    selectExisting(opts.stack, () => LocalWorkspace.selectStack({ stackName: opts.stack, projectName: "wod", program }, { workDir: opts.workDir }));
  const collect = () => {
    const steps = new Map<string, Step>();
    const failures: Failure[] = [];
    const onEvent = (e: EngineEvent) => {
      const meta = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
      if (meta && OPS[meta.op] && meta.type !== "pulumi:pulumi:Stack") {
        const prev = steps.get(meta.urn);
        // replace arrives as several events; keep the strongest
        // The cohort guard reads slot tables from the inputs (StepEventStateMetadata.inputs).
        if (!prev || prev.op === "same") {
          steps.set(meta.urn, { op: OPS[meta.op], type: meta.type, urn: meta.urn, oldInputs: meta.old?.inputs, newInputs: meta.new?.inputs });
        }
      }
      const failed = e.resOpFailedEvent?.metadata;
      if (failed) failures.push({ urn: failed.urn, type: failed.type, message: "operation failed" });
      const diag = e.diagnosticEvent;
      if (diag?.severity === "error" && diag.urn) {
        const f = failures.find((x) => x.urn === diag.urn);
        if (f) f.message = diag.message.trim();
        else failures.push({ urn: diag.urn, type: "", message: diag.message.trim() });
      }
    };
    return { steps, failures, onEvent };
  };
  const concurrent = (e: unknown) => (e instanceof ConcurrentUpdateError ? new ConcurrentUpdate((e as Error).message) : e);

  /** The deployment's resources (`pulumi stack export`, secrets left encrypted); secret outputs stay out. */
  const state = async (): Promise<StateResource[]> => {
    const deployment = (await exportDeployment(opts.stack, opts.workDir)).deployment as { resources?: { urn: string; type: string; outputs?: Record<string, unknown> }[] };
    return (deployment.resources ?? []).map((r) => ({ urn: r.urn, type: r.type, outputs: plainOutputs(r.outputs ?? {}) }));
  };

  return {
    async state() {
      await selectExisting(opts.stack, () => LocalWorkspace.selectStack({ stackName: opts.stack, workDir: opts.workDir }));
      return state();
    },
    async outputs() {
      const stack = await selectExisting(opts.stack, () => LocalWorkspace.selectStack({ stackName: opts.stack, workDir: opts.workDir }));
      return Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    },
    async preview(program) {
      const stack = await open(program);
      const c = collect();
      try {
        await stack.preview({ onEvent: c.onEvent, color: "never" });
      } catch (e) {
        throw concurrent(e);
      }
      return [...c.steps.values()];
    },
    async up(program, { targets, signal } = {}) {
      const stack = await open(program);
      const c = collect();
      let error: string | undefined;
      // The SDK listens to the signal once the CLI is started: one aborted before never reaches it.
      if (signal?.aborted) return { ok: false, steps: [], failures: [], outputs: {}, state: await state(), error: "cancelled before the update started" };
      try {
        // continueOnError: one failed activation must not stop the other registrations.
        // signal: on abort the SDK sends the CLI SIGINT (automation/cmd.js, exec: proc.kill("SIGINT")),
        // which ends the update gracefully after the operations in flight, on every backend; not
        // `stack.cancel()` (`pulumi cancel`: the Pulumi Cloud only, a hard stop that can leave
        // operations pending in the state). showSecrets false: the summary read after the update
        // (`pulumi stack history`, automation/stack.js `info`) is not decrypted for nothing.
        await stack.up({
          onEvent: c.onEvent, target: targets, continueOnError: true, color: "never", onOutput: (m) => opts.log(m.trimEnd()), signal, showSecrets: false,
        });
      } catch (e) {
        const mapped = concurrent(e);
        if (mapped instanceof ConcurrentUpdate) throw mapped;
        error = (e as Error).message;
      }
      // The outputs hold the credentials the write-back records: these are read decrypted.
      const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
      return { ok: !error, steps: [...c.steps.values()], failures: c.failures, outputs, state: await state(), error };
    },
  };
}

/** Outputs without their secret values (an exported secret is an object holding ciphertext). */
function plainOutputs(outputs: Record<string, unknown>): Record<string, unknown> {
  const SECRET = "4dabf18193072939515e22adb298388d";
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => !(v && typeof v === "object" && SECRET in (v as object))));
}

/**
 * `pulumi stack export` without `--show-secrets`: secrets stay encrypted as the checkpoint holds
 * them. The SDK's exportStack always decrypts them (automation/localWorkspace.js, exportStack:
 * "--show-secrets"), and nothing here needs a secret from the state.
 */
async function exportDeployment(stack: string, workDir: string): Promise<{ version: number; deployment: Record<string, unknown> }> {
  try {
    const { stdout } = await promisify(execFile)("pulumi", ["stack", "export", "--stack", stack, "--non-interactive"], {
      cwd: workDir, env: { ...process.env, PULUMI_AUTOMATION_API: "true" }, maxBuffer: 1 << 29,
    });
    return JSON.parse(stdout);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new PulumiUnavailable("no `pulumi` is on PATH: install it (https://www.pulumi.com/docs/install/) and log in to the stack's backend");
    throw new Error(`pulumi stack export --stack ${stack} failed: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/** The stack's checkpoint, to edit it (`wod migrate-state`): `pulumi stack export` / `import`, secrets left encrypted. */
export function stackState(opts: { stack: string; workDir: string }) {
  const select = () => selectExisting(opts.stack, () => LocalWorkspace.selectStack({ stackName: opts.stack, workDir: opts.workDir }));
  return {
    async export(): Promise<{ version: number; deployment: Record<string, unknown> }> {
      await select();
      return exportDeployment(opts.stack, opts.workDir);
    },
    async import(state: { version: number; deployment: Record<string, unknown> }): Promise<void> {
      await (await select()).importStack(state as never);
    },
  };
}
