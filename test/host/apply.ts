// The declared stack, applied to a real host: the real decision and the real components run under
// Pulumi's mock runtime, and this applier does what the engine and the command provider would do
// with the commands they register — create, update (`update`, else `create`), replace when
// triggers change, delete what is no longer declared — in registration (dependency) order, over
// SSH as the connection's user, with the very stdin the program gives. So the component → host
// seam is tested as it runs, not through hand-written command lines.
import * as fs from "node:fs";
import * as path from "node:path";
import type { StackConfig } from "../../infra/config";
import type { Snapshot } from "../../infra/db/snapshot";
import type { Workshop } from "../../infra/catalog/schema";
import type { CohortResults } from "../../components/studentCohort";
import { archivePath, installMocks, plain, settle, type Registered } from "../components/mocks";
import type { TestHost } from "./testhost";

const COMMAND = "command:remote:Command";
const COPY_FILE = "command:remote:CopyFile";
const COPY_TO_REMOTE = "command:remote:CopyToRemote";

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

export class HostApplier {
  private mocks = installMocks();
  private applied = new Map<string, { r: Registered; stdout?: string }>();

  constructor(private host: TestHost) {}

  /** Decides (real desiredState) and declares (real declareStack) for these inputs, then applies the difference. */
  async apply(catalog: Workshop[], snapshot: Snapshot, config: StackConfig, now = new Date()): Promise<Applied> {
    const { desiredState } = await import("../../infra/desired/state");
    const { declare } = await import("../../infra/program");
    const desired = desiredState({ catalog, snapshot, config, now });
    if (desired.rejected.length) throw new Error(`rejected: ${JSON.stringify(desired.rejected)}`);
    this.mocks.take();
    const outputs = declare(desired, config, { sshPrivateKey: "unused: the applier logs in with the test host's key" }) as { credentials: { apply(f: (v: unknown) => void): void } };
    const credentials = await new Promise<Record<string, string>>((r) => outputs.credentials.apply((v) => r(v as Record<string, string>)));
    await settle();
    const declared = this.mocks.take().filter((r) => [COMMAND, COPY_FILE, COPY_TO_REMOTE].includes(r.type));
    const ran: string[] = [];
    const names = new Set(declared.map((r) => r.name));
    // Deletes first for what is gone, in reverse order (dependents before what they depend on).
    for (const [name, { r }] of [...this.applied].reverse()) {
      if (names.has(name)) continue;
      if (r.type === COMMAND && r.inputs.delete) await this.exec(r, r.inputs.delete as string, ran);
      this.applied.delete(name);
    }
    for (const r of declared) {
      const before = this.applied.get(r.name);
      const same = before && JSON.stringify(plain(before.r.inputs)) === JSON.stringify(plain(r.inputs));
      if (same) continue;
      const replace = before && JSON.stringify(plain(before.r.inputs.triggers ?? null)) !== JSON.stringify(plain(r.inputs.triggers ?? null));
      if (replace && before.r.type === COMMAND && before.r.inputs.delete) await this.exec(before.r, before.r.inputs.delete as string, ran);
      let stdout: string | undefined;
      if (r.type === COMMAND) stdout = await this.exec(r, (before && !replace ? r.inputs.update ?? r.inputs.create : r.inputs.create) as string, ran);
      else await this.copy(r, ran);
      this.applied.set(r.name, { r, stdout });
    }
    const results: Record<string, CohortResults> = {};
    const syncs: Applied["syncs"] = {};
    for (const [name, { r, stdout }] of this.applied) {
      if (!name.endsWith("-sync")) continue;
      const cohort = name.slice(0, -"-sync".length);
      syncs[cohort] = { line: r.inputs.create as string, stdin: plain(r.inputs.stdin) as string };
      if (stdout) results[cohort] = JSON.parse(stdout.trim().split("\n").pop()!);
    }
    return { results, ran, credentials, syncs };
  }

  private async exec(r: Registered, line: string, ran: string[]): Promise<string> {
    const user = (plain(r.inputs.connection) as { user?: string }).user ?? "root";
    ran.push(line);
    const stdin = r.inputs.stdin === undefined ? "" : (plain(r.inputs.stdin) as string);
    const out = await this.host.ssh(line, { input: stdin, user, timeoutMs: 1_200_000 });
    if (out.code !== 0) throw new Error(`${r.name}: \`${line}\` exited ${out.code}\n${out.stderr.slice(-3000)}`);
    return out.stdout;
  }

  private async copy(r: Registered, ran: string[]) {
    const user = (plain(r.inputs.connection) as { user?: string }).user ?? "root";
    const files: [string, string][] = [];
    if (r.type === COPY_FILE) files.push([r.inputs.localPath as string, r.inputs.remotePath as string]);
    else {
      const local = await archivePath(r);
      const walk = (dir: string, rel = ""): void => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
          const child = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(dir, child);
          else if (e.isFile()) files.push([path.join(dir, child), `${r.inputs.remotePath}/${child}`]);
        }
      };
      walk(local);
    }
    for (const [local, remote] of files) {
      ran.push(`copy ${local} -> ${remote}`);
      const data = fs.readFileSync(local).toString("base64");
      const out = await this.host.ssh(`mkdir -p "$(dirname '${remote}')" && base64 -d > '${remote}'`, { input: data, user });
      if (out.code !== 0) throw new Error(`${r.name}: copying ${local}: ${out.stderr}`);
    }
  }
}
