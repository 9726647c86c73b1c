// Upgrading a stack from per-account resources to cohorts: what `wod migrate-state` takes out of
// the checkpoint before the first up, so that up runs no release, snapshot or reset.
import { describe, expect, it } from "vitest";
import { migrateDeployment } from "../infra/reconcile/migrate-state";

const stack = "urn:pulumi:prod::wod::pulumi:pulumi:Stack::wod-prod";
const urn = (chain: string, name: string) => `urn:pulumi:prod::wod::${chain}::${name}`;
/** A checkpoint as the per-account version left it (parents before children, as Pulumi writes it). */
const resources = [
  { urn: stack, type: "pulumi:pulumi:Stack" },
  { urn: urn("wod:index:JupyterHubBackend", "eu"), type: "wod:index:JupyterHubBackend", parent: stack },
  { urn: urn("wod:index:JupyterHubBackend$digitalocean:index/droplet:Droplet", "eu-droplet"), type: "digitalocean:index/droplet:Droplet", parent: urn("wod:index:JupyterHubBackend", "eu") },
  { urn: urn("wod:index:StudentAccount", "eu-student1"), type: "wod:index:StudentAccount", parent: stack },
  { urn: urn("wod:index:StudentAccount$random:index/randomPassword:RandomPassword", "eu-student1-password"), type: "random:index/randomPassword:RandomPassword", parent: urn("wod:index:StudentAccount", "eu-student1") },
  { urn: urn("wod:index:StudentAccount$command:remote:Command", "eu-student1-activation"), type: "command:remote:Command", parent: urn("wod:index:StudentAccount", "eu-student1") },
  { urn: urn("wod:index:Appliance", "eu-WKSHP-Docker101"), type: "wod:index:Appliance", parent: stack },
  { urn: urn("wod:index:Appliance$command:remote:Command", "eu-WKSHP-Docker101-setup"), type: "command:remote:Command", parent: urn("wod:index:Appliance", "eu-WKSHP-Docker101") },
  { urn: urn("wod:index:Appliance$command:remote:Command", "eu-WKSHP-Docker101-student41"), type: "command:remote:Command", parent: urn("wod:index:Appliance", "eu-WKSHP-Docker101") },
  { urn: urn("wod:index:StudentServer", "learner-7"), type: "wod:index:StudentServer", parent: stack },
  { urn: urn("wod:index:StudentServer$digitalocean:index/droplet:Droplet", "learner-7-droplet"), type: "digitalocean:index/droplet:Droplet", parent: urn("wod:index:StudentServer", "learner-7") },
  { urn: urn("wod:index:StudentServer$command:local:Command", "learner-7-snapshot-on-destroy"), type: "command:local:Command", parent: urn("wod:index:StudentServer", "learner-7") },
];

describe("wod migrate-state", () => {
  it("takes out the accounts (with their children), the snapshot hooks and the appliances' per-student commands, and nothing else", () => {
    const { deployment, removed } = migrateDeployment({ manifest: { time: "t" }, resources });
    expect(removed.map((r) => r.urn.split("::").pop())).toEqual([
      "eu-student1", "eu-student1-password", "eu-student1-activation", "eu-WKSHP-Docker101-student41", "learner-7-snapshot-on-destroy",
    ]);
    const kept = deployment.resources!.map((r) => r.urn.split("::").pop());
    // Every machine stays: backends, and learners' droplets (which the new program takes over by alias).
    expect(kept).toEqual(["wod-prod", "eu", "eu-droplet", "eu-WKSHP-Docker101", "eu-WKSHP-Docker101-setup", "learner-7", "learner-7-droplet"]);
    expect(deployment.manifest).toEqual({ time: "t" });
    expect(removed.find((r) => r.urn.endsWith("snapshot-on-destroy"))!.why).toMatch(/would snapshot the server/);
  });

  it("is safe to run twice: a migrated checkpoint has nothing left to take out", () => {
    const once = migrateDeployment({ resources }).deployment;
    expect(migrateDeployment(once).removed).toEqual([]);
  });
});
