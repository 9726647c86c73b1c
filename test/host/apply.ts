// The declared stack, applied to a real host: the real decision and the real components run under
// Pulumi's mock runtime, and these mocks do what the engine and the command provider would do with
// each command as it is registered — create, update (`update`, else `create`), replace when its
// triggers change (delete the old, create the new), over SSH as the connection's user, with the
// very stdin the program gives — and answer the real stdout, so outputs flow on to the resources
// that read them (an appliance's produced values into its cohort's stdin). What a run no longer
// declares is deleted at the end. So the component → host seam is tested as it runs, not
// through hand-written command lines.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../infra/config";
import type { Snapshot } from "../../infra/db/snapshot";
import type { Workshop } from "../../infra/catalog/schema";
import type { CohortResults } from "../../components/studentCohort";
import { plain, settle } from "../components/mocks";
import type { TestHost } from "./testhost";

const COMMAND = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";

export interface Applied {
  /** Each cohort's results: the last sync's stdout, as the state would hold it. */
  results: Record<string, CohortResults>;
  /** The command lines that ran, in order (for assertions about what reached the host). */
  ran: string[];
  /** Passwords by registration, as the credentials output holds them. */
  credentials: Record<string, string>;
  /** Each cohort's sync as declared: its command line and stdin, to replay or interrupt by hand. */
  syncs: Record<string, { line: string; stdin: string }>;
}

interface Applied1 {
  type: string;
  inputs: Record<string, unknown>;
  stdout?: string;
  order: number;
}

/** The applier the process-wide mocks currently work for (the mock runtime is one per process). */
let active: HostApplier | undefined;
let mocked = false;

export class HostApplier {
  private applied = new Map<string, Applied1>();
  private run?: { seen: Set<string>; ran: string[]; errors: Error[] };
  private order = 0;

  constructor(private host: TestHost) {
    if (!mocked) {
      mocked = true;
      void pulumi.runtime.setMocks(
        {
          newResource: async (args) => {
            try {
              // A FileArchive's path is a promise: read it before plain() flattens the object.
              const source = args.inputs.source ? { path: await (args.inputs.source as { path: Promise<string> | string }).path } : undefined;
              const inputs = { ...(plain(args.inputs) as Record<string, unknown>), ...(source ? { source } : {}) };
              return { id: `${args.name}-id`, state: await active!.register(args.type, args.name, inputs) };
            } catch (e) {
              active!.run!.errors.push(e as Error);
              throw e;
            }
          },
          call: (args) => {
            throw new Error(`unmocked invoke ${args.token}`);
          },
        },
        "wod",
        "host-test",
      );
    }
  }

  /** Decides (real desiredState) and declares (real declareStack) for these inputs, applying each command as it is registered. */
  async apply(catalog: Workshop[], snapshot: Snapshot, config: StackConfig, now = new Date()): Promise<Applied> {
    const { desiredState } = await import("../../infra/desired/state");
    const { declare } = await import("../../infra/program");
    const desired = desiredState({ catalog, snapshot, config, now });
    if (desired.rejected.length) throw new Error(`rejected: ${JSON.stringify(desired.rejected)}`);
    active = this;
    this.run = { seen: new Set(), ran: [], errors: [] };
    const outputs = declare(desired, config, { sshPrivateKey: "unused: the applier logs in with the test host's key" }) as { credentials: pulumi.Output<Record<string, string>> };
    const credentials = await new Promise<Record<string, string>>((r) => outputs.credentials.apply((v) => r(v)));
    await settle();
    const { seen, ran, errors } = this.run;
    if (errors.length) throw errors[0]; // as the engine would report the first failed resource
    // What this run no longer declares goes, dependents first (the reverse of creation order).
    for (const [name, r] of [...this.applied].sort(([, a], [, b]) => b.order - a.order)) {
      if (seen.has(name)) continue;
      if (r.type === COMMAND && r.inputs.delete) await this.exec(r.inputs, r.inputs.delete as string, ran);
      this.applied.delete(name);
    }
    const results: Record<string, CohortResults> = {};
    const syncs: Applied["syncs"] = {};
    for (const [name, r] of this.applied) {
      if (r.type !== COMMAND || !name.endsWith("-sync")) continue;
      const cohort = name.slice(0, -"-sync".length);
      syncs[cohort] = { line: r.inputs.create as string, stdin: r.inputs.stdin as string };
      if (r.stdout) results[cohort] = JSON.parse(r.stdout.trim().split("\n").pop()!);
    }
    return { results, ran, credentials, syncs };
  }

  /** The engine's part for one registered resource: apply it if it changed, answer its outputs. */
  private async register(type: string, name: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const state: Record<string, unknown> = { ...inputs };
    if (type === "random:index/randomPassword:RandomPassword") state.result = `seed-${name}-`.padEnd(Number(inputs.length ?? 16), "x");
    if (type !== COMMAND && type !== COPY) return state;
    const { seen, ran } = this.run!;
    seen.add(name);
    const before = this.applied.get(name);
    const same = before && JSON.stringify(before.inputs) === JSON.stringify(inputs);
    if (same) return { ...state, stdout: before.stdout };
    const replace = before && JSON.stringify(before.inputs.triggers ?? null) !== JSON.stringify(inputs.triggers ?? null);
    if (replace && before.type === COMMAND && before.inputs.delete) await this.exec(before.inputs, before.inputs.delete as string, ran);
    let stdout: string | undefined;
    if (type === COMMAND) stdout = await this.exec(inputs, (before && !replace ? inputs.update ?? inputs.create : inputs.create) as string, ran);
    else await this.copy(inputs, ran);
    this.applied.set(name, { type, inputs, stdout, order: this.order++ });
    return { ...state, stdout };
  }

  private async exec(inputs: Record<string, unknown>, line: string, ran: string[]): Promise<string> {
    const user = (inputs.connection as { user?: string }).user ?? "root";
    ran.push(line);
    const out = await this.host.ssh(line, { input: (inputs.stdin as string | undefined) ?? "", user, timeoutMs: 1_200_000 });
    if (out.code !== 0) throw new Error(`\`${line}\` exited ${out.code}\n${out.stderr.slice(-3000)}`);
    return out.stdout;
  }

  /** CopyToRemote of a folder ending in "/": its contents into remotePath, over the connection's user. */
  private async copy(inputs: Record<string, unknown>, ran: string[]) {
    const user = (inputs.connection as { user?: string }).user ?? "root";
    const local = (inputs.source as { path: string }).path;
    const files: [string, string][] = [];
    const walk = (rel = ""): void => {
      for (const e of fs.readdirSync(path.join(local, rel), { withFileTypes: true })) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(child);
        else if (e.isFile()) files.push([path.join(local, child), `${inputs.remotePath}/${child}`]);
      }
    };
    walk();
    ran.push(`copy ${local} -> ${inputs.remotePath}`);
    for (const [file, remote] of files) {
      const out = await this.host.ssh(`mkdir -p "$(dirname '${remote}')" && base64 -d > '${remote}'`, { input: fs.readFileSync(file).toString("base64"), user });
      if (out.code !== 0) throw new Error(`copying ${file}: ${out.stderr}`);
    }
  }
}
