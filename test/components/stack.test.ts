import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { T, byType, installMocks, settle, valueOf } from "./mocks";
import { HASH, HOST_DIR, account, backendOf, cohortsOf, config, content, desired, server } from "./fixtures";
import { readStackFile, type StackConfig } from "../../infra/config";
import type { DesiredState } from "../../infra/desired/types";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
let selectPart: typeof import("../../infra/stack").selectPart;
beforeAll(async () => {
  ({ declareStack, selectPart } = await import("../../infra/stack"));
});

const ROOT = path.join(__dirname, "..", "..");

async function run(state: DesiredState, cfg: StackConfig) {
  const outputs = declareStack(state, cfg, { sshPrivateKey: "PRIVATE-KEY-TEXT" }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

/** Each location hosts WKSHP-Alpha with one learner; one student server when the stack has them. */
function stateFor(cfg: StackConfig): DesiredState {
  const contents = cfg.locations.map((l) => content("WKSHP-Alpha", l.name, HASH.alpha));
  const accounts = cfg.locations.map((l, i) => ({ ...account(`r${i}`, "WKSHP-Alpha", 1, HASH.alpha, { location: l.name }), uid: 1 + l.uidOffset }));
  return {
    backends: cfg.locations.map((l) => backendOf(l, ["Alpha"])),
    contents, accounts, cohorts: cohortsOf(accounts, contents),
    appliances: [],
    studentServers: cfg.studentServers.enabled ? [server("ada", undefined, cfg.studentServers.allowedRegions[0])] : [],
    rejected: [], notes: [],
    transitions: { expiredRegistrations: [], closedRegistrations: [], endedCohorts: {}, warnServers: [], removeServers: [] },
  };
}

describe("the stack files", () => {
  it("Pulumi.dev.yaml loads through readStackFile and declares one DigitalOcean backend and a student server", async () => {
    const cfg = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    const { outputs, resources } = await run(stateFor(cfg), cfg);
    expect(byType(resources, T.droplet).map((d) => d.inputs.name).sort()).toEqual(["dev-hub", "wod-learner-ada"]);
    expect(byType(resources, T.bucket)).toEqual([]);
    expect(outputs.archiveBucket).toBeUndefined();
    expect(Object.keys(outputs.backends)).toEqual(["dev"]);
  });

  it("Pulumi.prod.yaml loads and declares a droplet at eu, an EC2 instance at us and the archive bucket", async () => {
    const cfg = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    const { outputs, resources } = await run(stateFor(cfg), cfg);
    expect(byType(resources, T.droplet).map((d) => d.inputs.name).sort()).toEqual(["eu-hub", "wod-learner-ada"]);
    expect(byType(resources, T.instance)).toHaveLength(1);
    expect(await valueOf(outputs.backends.us.hubUrl)).toBe("http://us.workshops.example.org:8000");
    expect(await valueOf(outputs.archiveBucket!)).toBe("wod-archive-mock");
    // One AWS provider per region used: the us backend and the archive.
    expect(resources.filter((r) => r.type === "pulumi:providers:aws").map((r) => r.inputs.region).sort()).toEqual(["eu-west-3", "us-east-1"]);
  });
});

describe("declareStack", () => {
  it("puts every cloud resource on an explicit provider, never an ambient default", async () => {
    const cfg = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    const { resources } = await run(stateFor(cfg), cfg);
    const cloud = resources.filter((r) => /^(digitalocean|aws):/.test(r.type));
    expect(cloud.length).toBeGreaterThan(10);
    for (const r of cloud) expect(r.provider, `${r.type} ${r.name}`).toMatch(/::pulumi:providers:(digitalocean::digitalocean|aws::aws-[a-z0-9-]+)::/);
  });

  it("exports per location, per cohort (results), the credentials as one secret, and per learner", async () => {
    const cfg = config();
    const state = { ...stateFor(cfg), studentServers: [server("ada"), server("bob")] };
    const { outputs } = await run(state, cfg);
    expect(Object.keys(outputs.backends)).toEqual(["eu"]);
    expect(Object.keys(outputs.cohorts)).toEqual(["eu-WKSHP-Alpha-s0"]);
    expect(outputs.cohorts["eu-WKSHP-Alpha-s0"]).toMatchObject({ location: "eu", workshop: "Alpha" });
    expect(await pulumi.isSecret(outputs.credentials)).toBe(true);
    expect(Object.keys(await valueOf(outputs.credentials))).toEqual(["r0"]);
    expect(Object.keys(outputs.studentServers).sort()).toEqual(["ada", "bob"]);
  });

  it("refuses a cohort at a location that has no backend, naming it", async () => {
    const state = desired({ contents: [content("WKSHP-Alpha")], accounts: [account("9", "WKSHP-Alpha", 1, HASH.alpha, { location: "mars" })] });
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/cohorts\[mars-WKSHP-Alpha-s0\]: location "mars"/);
    await settle();
    mocks.take();
  });
});

describe("ArchiveBucket", () => {
  it("is private, encrypted at rest, and expires archives after expireDays", async () => {
    const cfg = config({ archive: { enabled: true, region: "eu-west-3", expireDays: 30 } });
    const { resources } = await run(desired({ config: cfg }), cfg);
    const [bucket] = byType(resources, T.bucket);
    expect(bucket.inputs.forceDestroy).toBeUndefined();
    expect(bucket.provider).toContain("aws::aws-eu-west-3");
    const [block] = byType(resources, T.publicAccessBlock);
    expect(block.inputs).toMatchObject({ bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    const [encryption] = byType(resources, T.encryption);
    expect(encryption.inputs).toMatchObject({ bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] });
    const [lifecycle] = byType(resources, T.lifecycle);
    expect(lifecycle.inputs).toMatchObject({ bucket: bucket.id, rules: [{ status: "Enabled", expiration: { days: 30 } }] });
  });

  it("does not exist when the archive is off", async () => {
    const cfg = config();
    const { resources } = await run(desired({ config: cfg }), cfg);
    expect(byType(resources, T.bucket)).toEqual([]);
  });
});

describe("splitting the stack per location", () => {
  const cfg = () => readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));

  it("a location's stack declares only that location's backend, content and accounts", async () => {
    const part = selectPart(stateFor(cfg()), { locations: ["us"], studentServers: false });
    const { outputs, resources } = await run(part, cfg());
    expect(Object.keys(outputs.backends)).toEqual(["us"]);
    expect(Object.keys(await valueOf(outputs.credentials))).toEqual(["r1"]);
    expect(byType(resources, T.droplet)).toEqual([]);
    expect(byType(resources, T.instance)).toHaveLength(1);
    expect(outputs.studentServers).toEqual({});
  });

  it("a servers-only stack owns the admins' keys by its config, not by what it declares: with no server left it keeps them", async () => {
    const serversOnly = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    serversOnly.part = { locations: [], studentServers: true };
    const empty = selectPart({ ...stateFor(serversOnly), studentServers: [] }, { locations: [], studentServers: true });
    const { outputs, resources } = await run(empty, serversOnly);
    expect(byType(resources, T.droplet)).toEqual([]);
    expect(byType(resources, T.sshKey)).toHaveLength(1);
    expect(outputs.doAdminKeyIds).toHaveLength(1);
  });

  it("uses the admin keys another stack owns instead of creating them again", async () => {
    const part = selectPart(stateFor(cfg()), { locations: ["eu"], studentServers: true });
    const { outputs, resources } = await run(part, cfg());
    expect(outputs.doAdminKeyIds).toHaveLength(1);
    mocks.take();
    const shared = declareStack(part, cfg(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR, doAdminKeyIds: ["4242"] });
    await settle();
    const again = mocks.take();
    expect(byType(again, T.sshKey)).toHaveLength(byType(resources, T.sshKey).length - 1);
    expect(byType(again, T.droplet).find((d) => d.inputs.name === "eu-hub")!.inputs.sshKeys).toEqual(["4242"]);
    expect(shared.doAdminKeyIds).toBeUndefined();
  });
});
