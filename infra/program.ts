// The stack program as a function: load → decide → declare. `infra/index.ts` runs it under
// the Pulumi CLI; the reconcile job runs the same steps through the Automation API.
import * as pulumi from "@pulumi/pulumi";
import { readPulumiConfig, readSecretVariables, readSshPrivateKey, type StackConfig } from "./config";
import { openDatabase } from "./db/connect";
import { desiredState } from "./desired/state";
import { EmptyDatabase, loadInputs } from "./load";
import { registrationLocations, restrictToPart } from "./desired/part";
import type { DesiredState } from "./desired/types";
import { declareStack, type StackSecrets } from "./stack";

export async function program() {
  const config = readPulumiConfig();
  const url = process.env.DATABASE_URL;
  // A real run never falls back to an empty embedded database: that would destroy everything.
  if (!url) throw new Error("DATABASE_URL is not set: the program needs the platform database (see README, 'Running for real')");
  const db = await openDatabase({ url });
  try {
    // `pulumi preview` reads only (a pull request's preview may hold a read-only role, and its
    // unmerged catalog must never reach the database); the update of `pulumi up` migrates and syncs.
    const readOnly = pulumi.runtime.isDryRun();
    // A quarantined workshop is a warning here: the others are planned and applied (README, "Quarantine").
    const { catalog, kept, snapshot } = await loadInputs({ config, db, readOnly, log: (m) => pulumi.log.info(m), warn: (m) => pulumi.log.warn(m) });
    if (snapshot.registrations.length === 0 && snapshot.learners.length === 0 && process.env.WOD_ALLOW_EMPTY !== "1") {
      throw new EmptyDatabase(`${db.describe} has no registrations and no learners; refusing to plan a stack without them (set WOD_ALLOW_EMPTY=1 if that is really wanted)`);
    }
    const now = process.env.WOD_NOW ? new Date(process.env.WOD_NOW) : new Date();
    const desired = restrictToPart(desiredState({ catalog: [...catalog.workshops, ...kept], quarantined: catalog.quarantined, snapshot, config, now }), config.part, registrationLocations(snapshot));
    for (const r of desired.rejected) pulumi.log.warn(`rejected ${r.kind} ${r.id}: ${r.reason}`);
    // Under a plain `pulumi up` (the Kubernetes operator, by hand) a server no longer declared is
    // only forgotten (retainOnDelete): say so, so it never keeps billing unseen.
    for (const r of desired.transitions.removeServers) {
      pulumi.log.warn(`student server of learner ${r.learnerId} is no longer declared (${r.reason}): its droplet is kept running until \`wod reconcile\` with DIGITALOCEAN_TOKEN snapshots and removes it`);
    }
    return declare(desired, config);
  } finally {
    await db.close();
  }
}

/**
 * Declares the stack's resources; a split stack takes the admins' DigitalOcean keys from the stack
 * that owns them. Secrets come from the stack's config unless given (benchmarks, tests).
 */
export function declare(desired: DesiredState, config: StackConfig, secrets?: StackSecrets) {
  const from = config.part?.adminKeysFrom;
  // A stack that owns no keys (or exports another number of them) is a clear error, not a crash.
  const ids = from
    ? new pulumi.StackReference(from).requireOutput("doAdminKeyIds").apply((all: unknown) => {
        if (!Array.isArray(all) || all.length !== config.adminSshKeys.length) {
          throw new Error(`wod:part.adminKeysFrom: stack ${from} exports ${Array.isArray(all) ? all.length : "no"} doAdminKeyIds for the ${config.adminSshKeys.length} wod:adminSshKeys; that stack must own the admins' keys (no adminKeysFrom there) and list the same keys`);
        }
        return all as string[];
      })
    : undefined;
  const given = secrets ?? { sshPrivateKey: readSshPrivateKey(), variables: readSecretVariables() };
  // The Node SDK captures a stack trace for every promise it makes (dozens per resource, all alive
  // while the stack is declared synchronously): half the CPU of a large declaration. Source
  // positions are not affected; errors thrown while declaring still carry their message.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return declareStack(desired, config, given, {
      doAdminKeyIds: ids ? config.adminSshKeys.map((_, i) => ids.apply((all: string[]) => all[i])) : undefined,
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
