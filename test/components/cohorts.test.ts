import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { Registered, T, archivePath, byType, installMocks, isSecretValue, plain, settle, valueOf } from "./mocks";
import { HASH, HOST_DIR, account, config, content, desired, twoWorkshops } from "./fixtures";
import type { DesiredState } from "../../infra/desired/types";
import { learnerPassword } from "../../components/passwords";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
});

async function run(state: DesiredState, variables: Record<string, string> = {}) {
  const outputs = declareStack(state, config(), { sshPrivateKey: "PRIVATE-KEY-TEXT", variables }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

const COHORT = "wod:index:StudentCohort";
const sync = (resources: Registered[], cohort: string) => byType(resources, T.command).find((c) => c.name === `${cohort}-sync`)!;
const stdinOf = (resources: Registered[], cohort: string) => JSON.parse(plain(sync(resources, cohort).inputs.stdin) as string);
const seed = (resources: Registered[]) => byType(resources, T.password).find((p) => p.name === "password-seed")!.state.result as string;
/** Every resource's inputs by type and name, secrets unwrapped, to compare two runs. */
const snapshot = (resources: Registered[]) => new Map(resources.map((r) => [`${r.type}::${r.name}`, JSON.stringify(plain(r.inputs))]));

describe("StudentCohort", () => {
  it("is one component per workshop shard whose input is the slot table, with one sync command running the cohort's script", async () => {
    const { resources } = await run(twoWorkshops());
    const cohorts = byType(resources, COHORT).sort((a, b) => a.name.localeCompare(b.name));
    expect(cohorts.map((c) => [c.name, c.inputs.slots])).toEqual([
      ["eu-WKSHP-Alpha-s0", { "1": "101#1", "2": "102#1" }],
      ["eu-WKSHP-Beta-s0", { "11": "201#1" }],
    ]);
    const alpha = sync(resources, "eu-WKSHP-Alpha-s0");
    const line = "python3 /opt/wod/bin/sync-cohort.py --cohort eu-WKSHP-Alpha-s0 --workshop-dir /opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1 --uid-offset 2000 --deadline 1500";
    expect(alpha.inputs.create).toBe(`timeout --kill-after=60 1530 ${line}`);
    expect(alpha.inputs.update).toBe(alpha.inputs.create);
    expect(alpha.inputs.delete).toBe(`timeout --kill-after=60 1530 ${line} --release-all`);
    // 3 learners, 2 cohorts: 2 components and 2 commands, not one resource tree per learner.
    expect(byType(resources, T.command).filter((c) => c.name.endsWith("-sync"))).toHaveLength(2);
  });

  it("gives the engine a time limit above the host's, and lets a command go with its machine", async () => {
    const { resources } = await run(twoWorkshops());
    const alpha = sync(resources, "eu-WKSHP-Alpha-s0");
    expect(alpha.options.customTimeouts).toEqual({ create: "1620s", update: "1620s", delete: "1620s" });
    const droplet = byType(resources, T.droplet).find((d) => d.name === "eu-droplet")!;
    expect(alpha.options.deletedWith).toContain(`::${droplet.name}`);
  });

  it("sends each slot's registration, generation, password and variables on stdin only, as a secret", async () => {
    const { resources } = await run(twoWorkshops(), { SURVEYURL: "https://survey.example.org/s?x=1;y='2'" });
    const alpha = sync(resources, "eu-WKSHP-Alpha-s0");
    expect(isSecretValue(alpha.inputs.stdin)).toBe(true);
    const stdin = stdinOf(resources, "eu-WKSHP-Alpha-s0");
    // What the cohort's slots share is sent once (the stack's variables included); the host sets STDID, USERNAME and WORKSHOP.
    expect(stdin.variables).toMatchObject({ SURVEYURL: "https://survey.example.org/s?x=1;y='2'", WODBEURL: "http://eu.wod.test:8000", WODBEEXTFQDN: "eu.wod.test", BRANDING: "Workshops-on-Demand" });
    expect(stdin.slots["2"]).toEqual({ registration: "102", generation: 1, password: learnerPassword(seed(resources), "102"), variables: {} });
    // The password reaches notebooks only for workshops that ask for it.
    expect(JSON.stringify(stdin)).not.toContain("PASSSTU");
    // Nothing secret anywhere but stdin: command text, triggers, the component's inputs.
    const passwords = ["101", "102", "201"].map((id) => learnerPassword(seed(resources), id));
    for (const r of [...byType(resources, T.command), ...byType(resources, COHORT)]) {
      const visible = JSON.stringify(plain({ ...r.inputs, stdin: undefined, connection: undefined }));
      for (const pw of passwords) expect(visible).not.toContain(pw);
      expect(visible).not.toContain("survey.example.org");
    }
  });

  it("puts the password in the notebooks' variables when the workshop has varpass", async () => {
    const state = twoWorkshops();
    state.cohorts[0].passwordInNotebooks = true;
    const { resources } = await run(state);
    const stdin = stdinOf(resources, "eu-WKSHP-Alpha-s0");
    expect(stdin.slots["1"].variables.PASSSTU).toBe(stdin.slots["1"].password);
  });

  it("derives a different password for every registration, stable across runs, and exports them as one secret map", async () => {
    const { outputs, resources } = await run(twoWorkshops());
    expect(await pulumi.isSecret(outputs.credentials)).toBe(true);
    const credentials = await valueOf(outputs.credentials);
    expect(Object.keys(credentials).sort()).toEqual(["101", "102", "201"]);
    expect(new Set(Object.values(credentials)).size).toBe(3);
    for (const pw of Object.values(credentials)) expect(pw).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*[2-9])[a-zA-Z2-9]{12}$/);
    expect(stdinOf(resources, "eu-WKSHP-Beta-s0").slots["11"].password).toBe(credentials["201"]);
    const again = await valueOf((await run(twoWorkshops())).outputs.credentials);
    expect(again).toEqual(credentials);
    // One seed resource for every learner, not one RandomPassword each (the others: the hub's token, the host keys' seed).
    expect(byType(resources, T.password).map((p) => p.name).sort()).toEqual(["eu-hub-token", "host-key-seed", "password-seed"]);
  });

  it("a new registration changes one cohort (its slot table and stdin), nothing else", async () => {
    const before = snapshot((await run(twoWorkshops())).resources);
    const more = twoWorkshops();
    more.accounts.push(account("103", "WKSHP-Alpha", 3, HASH.alpha));
    more.cohorts[0].slots["3"] = "103#1";
    const after = snapshot((await run(more)).resources);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort();
    expect(changed).toEqual(["command:remote:Command::eu-WKSHP-Alpha-s0-sync", "wod:index:StudentCohort::eu-WKSHP-Alpha-s0"]);
  });

  it("changing one workshop's content changes that workshop's content and cohort, nothing of the other", async () => {
    const before = snapshot((await run(twoWorkshops())).resources);
    const after = snapshot((await run(twoWorkshops({ alpha: "a9a9a9a9a9a9a9a9" }))).resources);
    const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort();
    expect(changed).toEqual([
      "command:remote:Command::eu-WKSHP-Alpha-dirs",
      "command:remote:Command::eu-WKSHP-Alpha-s0-sync",
      "command:remote:CopyToRemote::eu-WKSHP-Alpha-copy",
    ]);
  });

  it("an account entering its ending phase changes nothing on the host", async () => {
    const before = snapshot((await run(twoWorkshops())).resources);
    const ending = twoWorkshops();
    ending.accounts[0].phase = "ending";
    const after = snapshot((await run(ending)).resources);
    expect([...after].filter(([k, v]) => before.get(k) !== v)).toEqual([]);
  });

  it("refuses PASSSTU among the variables, naming the field", async () => {
    const a = account("301", "WKSHP-Alpha", 3, HASH.alpha, { variables: { PASSSTU: "x" } });
    expect(() => declareStack(desired({ contents: [content("WKSHP-Alpha")], accounts: [a] }), config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/variables: PASSSTU/);
    await settle();
    mocks.take();
  });

  it("refuses a uid that is not slot + uidOffset, naming the field", async () => {
    const a = account("301", "WKSHP-Alpha", 3, HASH.alpha, { uid: 5003 });
    expect(() => declareStack(desired({ contents: [content("WKSHP-Alpha")], accounts: [a] }), config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/uid: 5003/);
    await settle();
    mocks.take();
  });

  it("refuses an account missing from its cohort's slot table", async () => {
    const state = twoWorkshops();
    state.cohorts[0].slots["2"] = "999#1";
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/registration 102 on slot 2 is not in the slot table/);
    await settle();
    mocks.take();
  });

  it("refuses a cohort rendered from content that is not shipped", async () => {
    const state = twoWorkshops();
    state.cohorts[0].contentHash = "ffffffffffffffff";
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/cohorts\[eu-WKSHP-Alpha-s0\]: contentHash/);
    await settle();
    mocks.take();
  });
});

describe("WorkshopContent", () => {
  it("ships every file of the folder under /opt/wod/workshops/<folder>/<hash>/ and removes that folder on delete", async () => {
    const { resources } = await run(twoWorkshops());
    const alpha = byType(resources, T.copyToRemote).find((c) => c.name === "eu-WKSHP-Alpha-copy")!;
    expect(alpha.inputs.remotePath).toBe("/opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1");
    expect(await archivePath(alpha)).toBe(`${content("WKSHP-Alpha").dir}/`);
    const dirs = byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Alpha-dirs")!;
    expect(dirs.inputs.delete).toBe("timeout --kill-after=60 630 rm -rf /opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1");
    expect(dirs.inputs.triggers).toEqual([HASH.alpha]);
  });

  it("refuses a content hash that is not a plain hash (it ends up in rm -rf)", async () => {
    const state = desired({ contents: [content("WKSHP-Alpha", "eu", "../../etc")] });
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/contentHash/);
    await settle();
    mocks.take();
  });
});
