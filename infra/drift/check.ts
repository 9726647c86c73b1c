// Drift: what differs from the stack, found without changing anything. Two sources:
// - the cloud: a refresh in preview mode (the engine's `refreshPreview`, Automation API
//   `Stack.previewRefresh`, i.e. `pulumi refresh --preview-only`);
// - each backend: components/host/check-backend.py, the host syncs' check mode, told what the
//   stack's last applied syncs hold there (each cohort's per-slot results, the workshop folders).
import * as fs from "node:fs";
import * as path from "node:path";
import type { StackConfig } from "../config";
import type { Workshop } from "../catalog/schema";
import { listFiles } from "../catalog/load";
import { asRoot, hostScript, sha256, WORKSHOPS_DIR } from "../../components/remote";
import { type CloudDrift, nameOf, type StackEngine, type StateResource } from "../reconcile/engine";
import type { HostReader } from "../reconcile/host-facts";
import { appliedFrom, type StackOutputValues } from "../reconcile/writeback";

export interface DriftFinding {
  /** The backend (or `cloud`) and the slot, folder or resource. */
  where: string;
  what: string;
  detail?: string;
}

export interface DriftReport {
  stack: string;
  at: string;
  /** clean: nothing differs; drifted: findings; incomplete: some part could not be checked (and nothing drifted in the rest). */
  outcome: "clean" | "drifted" | "incomplete";
  findings: DriftFinding[];
  checked: { cloudResources: number | null; backends: string[] };
  unchecked: { what: string; reason: string }[];
}

/** What the check on one backend is told (check-backend.py's stdin) and how to reach it. */
export interface BackendTarget {
  location: string;
  address: string;
  hostKey?: string;
  sshUser: string;
  uidOffset: number;
  slotPool: { min: number; max: number };
  slots: Record<string, { registration: string; generation: number; status: string }>;
  contents: { dir: string; files: Record<string, string> | null }[];
}

/** The engine's optional part for drift (pulumi-engine.ts implements it). */
export interface DriftEngine extends Pick<StackEngine, "outputs" | "state"> {
  refreshPreview?(): Promise<{ drifted: CloudDrift[]; resources: number }>;
}

/** Per backend of this stack's part: what its applied cohort syncs hold, the folders shipped there. */
export function backendTargets(config: StackConfig, outputs: StackOutputValues & { cohorts?: Record<string, { location: string }> }, state: StateResource[], catalog: Workshop[]): BackendTarget[] {
  const applied = appliedFrom(state);
  const local = new Map(catalog.map((w) => [w.folder, w]));
  return config.locations
    .filter((l) => !config.part?.locations || config.part.locations.includes(l.name))
    .flatMap((l) => {
      const backend = outputs.backends?.[l.name];
      if (!backend?.address) return [];
      const slots: BackendTarget["slots"] = {};
      for (const [cohort, results] of applied.cohorts) {
        const where = outputs.cohorts?.[cohort]?.location ?? (cohort.startsWith(`${l.name}-WKSHP-`) ? l.name : undefined);
        if (where !== l.name) continue;
        for (const [slot, r] of Object.entries(results?.slots ?? {})) slots[slot] = { registration: r.registration, generation: r.generation, status: r.status };
      }
      const contents = state
        .filter((r) => r.type === "command:remote:CopyToRemote" && nameOf(r.urn).startsWith(`${l.name}-WKSHP-`) && r.urn.includes("wod:index:WorkshopContent$"))
        .map((r) => String(r.outputs.remotePath ?? ""))
        .filter((dir) => dir.startsWith(`${WORKSHOPS_DIR}/`))
        .map((dir) => {
          // The checkout's folder, when it still is what was shipped, tells which file changed.
          const [folder, hash] = dir.slice(WORKSHOPS_DIR.length + 1).split("/");
          const w = local.get(folder);
          return { dir, files: w && w.contentHash === hash ? manifest(w.dir) : null };
        });
      return [{ location: l.name, address: backend.address, hostKey: backend.hostKey || undefined, sshUser: l.sshUser, uidOffset: l.uidOffset, slotPool: l.slotPool, slots, contents }];
    });
}

/** sha256 of each file of a workshop folder, by relative path (the files hashFolder covers). */
export function manifest(dir: string): Record<string, string> {
  return Object.fromEntries(listFiles(dir).map((f) => [f, sha256(fs.readFileSync(path.join(dir, f)))]));
}

/** Runs the check on each backend (16 at a time); an unreachable one is reported, never taken as clean. */
export async function checkBackends(targets: BackendTarget[], reader: HostReader, log: (m: string) => void = () => {}): Promise<{ findings: DriftFinding[]; checked: string[]; unchecked: DriftReport["unchecked"] }> {
  const findings: DriftFinding[] = [];
  const checked: string[] = [];
  const unchecked: DriftReport["unchecked"] = [];
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const t = targets[next++];
      const input = JSON.stringify({ uidOffset: t.uidOffset, slotPool: t.slotPool, slots: t.slots, contents: t.contents });
      try {
        log(`drift: checking backend ${t.location} (${t.address})…`);
        const out = await reader.read(t.address, asRoot(t.sshUser, hostScript("check-backend.py", [])), t.hostKey, input);
        const parsed = JSON.parse(out.trim().split("\n").pop() ?? "") as { findings: DriftFinding[] };
        for (const f of parsed.findings) findings.push({ where: `backend ${t.location}: ${f.where}`, what: f.what, detail: f.detail });
        checked.push(t.location);
      } catch (e) {
        unchecked.push({ what: `backend ${t.location} (${t.address})`, reason: (e as Error).message.split("\n")[0].slice(0, 300) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, targets.length) }, worker));
  return { findings, checked: checked.sort(), unchecked };
}

/** The whole check: the cloud through a refresh preview, then every backend of the stack. */
export async function checkDrift(o: {
  stack: string;
  config: StackConfig;
  engine: DriftEngine;
  catalog: Workshop[];
  /** Reaches the backends; without one they are reported as unchecked. */
  hosts?: HostReader;
  now?: Date;
  log?: (m: string) => void;
}): Promise<DriftReport> {
  const log = o.log ?? (() => {});
  const report: DriftReport = { stack: o.stack, at: (o.now ?? new Date()).toISOString(), outcome: "clean", findings: [], checked: { cloudResources: null, backends: [] }, unchecked: [] };
  if (o.engine.refreshPreview) {
    try {
      log("drift: refresh preview of the cloud resources…");
      const cloud = await o.engine.refreshPreview();
      report.checked.cloudResources = cloud.resources;
      for (const d of cloud.drifted) {
        report.findings.push({ where: `cloud: ${nameOf(d.urn)} (${d.type})`, what: d.op === "delete" ? "cloud-resource-gone" : "cloud-resource-changed", detail: d.op === "delete" ? "no longer exists in the cloud" : `changed outside Pulumi: ${d.diffs.join(", ") || "properties differ"}` });
      }
    } catch (e) {
      report.unchecked.push({ what: "cloud resources (refresh preview)", reason: (e as Error).message.split("\n")[0].slice(0, 300) });
    }
  } else {
    report.unchecked.push({ what: "cloud resources", reason: "this engine cannot refresh" });
  }
  const [outputs, state] = await Promise.all([o.engine.outputs(), o.engine.state()]);
  const targets = backendTargets(o.config, outputs as StackOutputValues, state, o.catalog);
  if (o.hosts) {
    const hosts = await checkBackends(targets, o.hosts, log);
    report.findings.push(...hosts.findings);
    report.checked.backends = hosts.checked;
    report.unchecked.push(...hosts.unchecked);
  } else if (targets.length) {
    report.unchecked.push(...targets.map((t) => ({ what: `backend ${t.location} (${t.address})`, reason: "no SSH key: set WOD_SSH_KEY_FILE to check the backends" })));
  }
  report.outcome = report.findings.length ? "drifted" : report.unchecked.length ? "incomplete" : "clean";
  return report;
}

export function renderDrift(r: DriftReport): string {
  const lines = [`drift ${r.stack}: ${r.outcome} — ${r.findings.length} finding(s); checked ${r.checked.cloudResources ?? "no"} cloud resource(s), backend(s) ${r.checked.backends.join(", ") || "none"}`];
  for (const f of r.findings) lines.push(`  ${f.what}: ${f.where}${f.detail ? `: ${f.detail}` : ""}`);
  for (const u of r.unchecked) lines.push(`  not checked: ${u.what}: ${u.reason}`);
  return lines.join("\n");
}
