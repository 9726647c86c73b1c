// Moving a stack from per-account resources to cohorts without touching a learner: the resources
// the new program no longer declares, and whose delete would run something on a machine, are taken
// out of the state first (`wod migrate-state`), so the first `up` never runs them.
//  - wod:index:StudentAccount and its children: their delete is release-slot.sh — every live
//    learner would be released. The hosts keep the accounts; the first cohort sync adopts each
//    slot it finds active for the same registration (and sets the learner's new password).
//  - <learner>-snapshot-on-destroy (command:local:Command): deleting it takes a snapshot of every
//    live server at once. The reconcile now snapshots a server itself before removing it.
//  - an Appliance's per-student commands (<appliance>-student<N>): their delete resets a student.
// Droplets keep their identity through aliases (components/studentServer.ts); everything else the
// new program drops deletes harmlessly (per-file copies, learners' DigitalOcean keys).

export interface DeploymentResource {
  urn: string;
  type: string;
  parent?: string;
  [key: string]: unknown;
}

export interface Deployment {
  resources?: DeploymentResource[];
  [key: string]: unknown;
}

export interface Migration {
  deployment: Deployment;
  removed: { urn: string; why: string }[];
}

const nameOf = (urn: string) => urn.split("::").pop() ?? urn;

export function migrateDeployment(deployment: Deployment): Migration {
  const resources = deployment.resources ?? [];
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const why = (r: DeploymentResource): string | undefined => {
    if (r.type === "wod:index:StudentAccount") return "per-account resources are now cohorts; the first sync adopts this account as it is";
    if (r.type === "command:local:Command" && nameOf(r.urn).endsWith("-snapshot-on-destroy")) {
      return "deleting this hook would snapshot the server; the reconcile snapshots before it removes a server";
    }
    if (r.type === "command:remote:Command" && /-student\d+$/.test(nameOf(r.urn)) && r.parent && byUrn.get(r.parent)?.type === "wod:index:Appliance") {
      return "appliance students are now one sync per appliance; deleting this would reset the student";
    }
    return undefined;
  };
  const removed: Migration["removed"] = [];
  const gone = new Set<string>();
  // Parents come before children in a deployment: a child of something removed goes with it.
  for (const r of resources) {
    const reason = why(r) ?? (r.parent && gone.has(r.parent) ? `part of ${nameOf(r.parent)}` : undefined);
    if (reason) {
      gone.add(r.urn);
      removed.push({ urn: r.urn, why: reason });
    }
  }
  return { deployment: { ...deployment, resources: resources.filter((r) => !gone.has(r.urn)) }, removed };
}
