// Guards between preview and up: what a reconcile must never apply on its own.
import type { StackConfig } from "../config";
import type { DesiredState } from "../desired/types";
import { ownerName, serverName } from "../names";
import { componentOf, nameOf, type Step } from "./engine";

const BACKEND = "wod:index:JupyterHubBackend";
const ARCHIVE = "wod:index:ArchiveBucket";
const ACCOUNT = "wod:index:StudentAccount";
const SERVER = "wod:index:StudentServer";
/** Resources whose loss loses data: machines and buckets. */
const HOLDS_DATA = /^(digitalocean:index\/droplet:Droplet|aws:ec2\/instance:Instance|aws:s3\/bucket(V2)?:Bucket(V2)?)$/;

export interface GuardInput {
  steps: Step[];
  desired: DesiredState;
  /** Live accounts and servers in the stack before this run. */
  live: { accounts: number; studentServers: number };
  guard: StackConfig["guard"];
  /** The operator allows a mass delete for this run only. */
  allowMassDelete: boolean;
}

/** Reasons to abort; empty when the run may proceed. */
export function checkGuards({ steps, desired, live, guard, allowMassDelete }: GuardInput): string[] {
  const reasons: string[] = [];
  // Steps that destroy something a component owns: the component itself, or a child holding data.
  const destroying = steps.filter((s) => s.op === "delete" || s.op === "replace");
  const owners = (type: string, child: (s: Step) => boolean) =>
    new Set(destroying.filter((s) => componentOf(s) === type && (s.type === type || child(s))).map((s) => ownerOf(s)));

  for (const type of [BACKEND, ARCHIVE]) {
    for (const name of owners(type, (s) => HOLDS_DATA.test(s.type))) {
      reasons.push(`${type.split(":").pop()} ${name} would be destroyed: backends and the archive are never removed by a reconcile`);
    }
  }

  // A learner's server goes only when the decision says so; never because a row went bad or missing.
  const allowed = new Set(desired.transitions.removeServers.map((r) => serverName(r.learnerId)));
  const servers = owners(SERVER, (s) => HOLDS_DATA.test(s.type));
  for (const name of servers) {
    if (!allowed.has(name)) reasons.push(`student server ${name} would be destroyed although no rule removes it`);
  }

  // An account is released when its component or its activation command goes or is replaced.
  const accounts = owners(ACCOUNT, (s) => s.type === "command:remote:Command");
  if (!allowMassDelete) {
    for (const [what, count, of] of [["student accounts", accounts.size, live.accounts], ["student servers", servers.size, live.studentServers]] as const) {
      if (count > guard.maxDeletes && count > guard.maxDeleteShare * of) {
        reasons.push(`${count} of ${of} live ${what} would be released or destroyed (more than ${guard.maxDeletes} and more than ${Math.round(guard.maxDeleteShare * 100)} %); re-run with --allow-mass-delete if that is intended`);
      }
    }
  }
  return reasons;
}

/** learner-7-droplet → learner-7, eu-student3-activation → eu-student3; a backend's machine by its own name. */
function ownerOf(s: Step): string {
  const name = nameOf(s.urn);
  return ownerName(name) ?? name.replace(/-(droplet|instance|bucket|machine)$/, "");
}
