// Guards between preview and up: what a reconcile must never apply on its own.
import type { StackConfig } from "../config";
import type { DesiredState } from "../desired/types";
import { ownerName, serverName } from "../names";
import { componentOf, nameOf, type Step } from "./engine";

const BACKEND = "wod:index:JupyterHubBackend";
const ARCHIVE = "wod:index:ArchiveBucket";
const COHORT = "wod:index:StudentCohort";
const DROPLET = "digitalocean:index/droplet:Droplet";
/** Resources whose loss loses data: machines and buckets. */
const HOLDS_DATA = /^(digitalocean:index\/droplet:Droplet|aws:ec2\/instance:Instance|aws:s3\/bucket(V2)?:Bucket(V2)?)$/;

export interface GuardInput {
  steps: Step[];
  desired: DesiredState;
  guard: StackConfig["guard"];
  /** The operator allows a mass delete for this run only. */
  allowMassDelete: boolean;
}

/** What the preview would release, counted from the cohorts' slot tables and the servers' deletes. */
export interface Releases {
  /** Live learner accounts before this run. */
  liveAccounts: number;
  /** Registrations the preview gives a slot. */
  added: string[];
  /** Registrations whose account the preview takes away. */
  released: string[];
  /** Of those, the ones no rule ends: still live, or gone from the database. */
  unexpected: string[];
  liveServers: number;
  /** Student servers the preview destroys that no rule removes. */
  unexpectedServers: string[];
}

/** Reasons to abort; empty when the run may proceed. */
export function checkGuards({ steps, desired, guard, allowMassDelete }: GuardInput): { reasons: string[]; releases: Releases } {
  const reasons: string[] = [];
  const destroying = steps.filter((s) => s.op === "delete" || s.op === "replace");

  for (const type of [BACKEND, ARCHIVE]) {
    const names = new Set(destroying.filter((s) => componentOf(s) === type && (s.type === type || HOLDS_DATA.test(s.type))).map((s) => nameOf(s.urn)));
    for (const name of names) {
      reasons.push(`${type.split(":").pop()} ${name.replace(/-(droplet|instance|bucket)$/, "")} would be destroyed: backends and the archive are never removed by a reconcile`);
    }
  }

  const releases = countReleases(steps, desired);
  for (const name of releases.unexpectedServers) reasons.push(`student server ${name} would be destroyed although no rule removes it`);
  if (!allowMassDelete) {
    const over = (count: number, of: number) => count > guard.maxDeletes && count > guard.maxDeleteShare * of;
    if (over(releases.unexpected.length, releases.liveAccounts)) {
      reasons.push(
        `${releases.unexpected.length} of ${releases.liveAccounts} live learner accounts would be released although their registrations have not ended ` +
          `(more than ${guard.maxDeletes} and more than ${Math.round(guard.maxDeleteShare * 100)} %); re-run with --allow-mass-delete if that is intended`,
      );
    }
  }
  return { reasons, releases };
}

/**
 * Expiries, cancellations and failed activations are expected releases and never count against
 * the guard, however many end at once; a live registration whose account would go (a catalog
 * edit, a lost database row) does.
 */
export function countReleases(steps: Step[], desired: DesiredState): Releases {
  const ended = new Set([...desired.transitions.expiredRegistrations, ...desired.transitions.closedRegistrations]);
  const registrations = (inputs: Record<string, unknown> | undefined) =>
    new Set(Object.values((inputs?.slots ?? {}) as Record<string, string>).map((held) => held.split("#")[0]));
  let liveAccounts = 0;
  const released = new Set<string>();
  const added = new Set<string>();
  for (const s of steps.filter((x) => x.type === COHORT)) {
    const before = s.op === "create" ? new Set<string>() : registrations(s.oldInputs ?? s.newInputs);
    liveAccounts += before.size;
    const after = s.op === "delete" ? new Set<string>() : registrations(s.newInputs);
    for (const id of before) if (!after.has(id)) released.add(id);
    for (const id of after) if (!before.has(id)) added.add(id);
  }
  const removable = new Set(desired.transitions.removeServers.map((r) => serverName(r.learnerId)));
  // A learner's server is the droplet learner-<id>-droplet.
  const servers = steps.filter((s) => s.type === DROPLET && ownerName(nameOf(s.urn)) !== undefined);
  const destroyed = new Set(servers.filter((s) => s.op === "delete" || s.op === "replace").map((s) => ownerName(nameOf(s.urn))!));
  return {
    liveAccounts,
    added: [...added].filter((id) => !released.has(id)).sort(),
    released: [...released].filter((id) => !added.has(id)).sort(),
    unexpected: [...released].filter((id) => !added.has(id) && !ended.has(id)).sort(),
    liveServers: servers.filter((s) => s.op !== "create").length,
    unexpectedServers: [...destroyed].filter((name) => !removable.has(name)).sort(),
  };
}
