import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { Registered, T, byType, installMocks, isSecretValue, plain, settle, valueOf } from "./mocks";
import { HASH, HOST_DIR, account, config, content, desired, twoWorkshops } from "./fixtures";
import type { DesiredState } from "../../infra/desired/types";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
});

async function run(state: DesiredState) {
  const outputs = declareStack(state, config(), { sshPrivateKey: "PRIVATE-KEY-TEXT" }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

const activation = (resources: Registered[], slot: number) => byType(resources, T.command).find((c) => c.name === `eu-student${slot}-activation`)!;
/** Every resource's inputs by type and name, secrets unwrapped, to compare two runs. */
const snapshot = (resources: Registered[]) => new Map(resources.map((r) => [`${r.type}::${r.name}`, JSON.stringify(plain(r.inputs))]));

describe("StudentAccount", () => {
  it("activates the slot with its registration, uid offset, content folder and variables as flags", async () => {
    const { resources } = await run(twoWorkshops());
    expect(activation(resources, 1).inputs.create).toBe(
      "bash /opt/wod/bin/activate-slot.sh --registration 101 --slot 1 --uid-offset 2000 --workshop-dir /opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1" +
        " --var BRANDING=Workshops-on-Demand --var HTTPPORT=8000 --var STDID=1 --var USERNAME=student1 --var WODBEEXTFQDN=eu.wod.test --var WODBEURL=http://eu.wod.test:8000",
    );
    expect(activation(resources, 1).inputs.delete).toBe("bash /opt/wod/bin/release-slot.sh --registration 101 --slot 1 --uid-offset 2000");
  });

  it("without a public name decided upstream, the notebooks get the backend's hub address", async () => {
    const a = account("302", "WKSHP-Alpha", 4, HASH.alpha, { variables: { STDID: "4", USERNAME: "student4" } });
    const { resources } = await run(desired({ contents: [content("WKSHP-Alpha")], accounts: [a] }));
    expect(activation(resources, 4).inputs.create).toContain("--var WODBEEXTFQDN=eu.wod.test --var WODBEURL=http://eu.wod.test:8000");
  });

  it("quotes variable values so a space or quote cannot split or inject flags", async () => {
    const a = account("301", "WKSHP-Alpha", 3, HASH.alpha, { variables: { BRANDING: "O'Reilly Labs; rm -rf /" } });
    const { resources } = await run(desired({ contents: [content("WKSHP-Alpha")], accounts: [a] }));
    expect(activation(resources, 3).inputs.create).toContain(`--var 'BRANDING=O'\\''Reilly Labs; rm -rf /'`);
  });

  it("gives each registration a secret password that never appears in any command text or trigger", async () => {
    const { outputs, resources } = await run(twoWorkshops());
    const passwords = byType(resources, T.password).map((p) => p.state.result as string);
    expect(passwords).toHaveLength(4); // three learners and the hub token
    for (const id of ["101", "102", "201"]) expect(await pulumi.isSecret(outputs.accounts[id].password)).toBe(true);
    expect(await valueOf(outputs.accounts["101"].password)).toBe("pw-eu-student1-password-Xy7");
    for (const c of [...byType(resources, T.command), ...byType(resources, T.localCommand), ...byType(resources, T.copyFile)]) {
      const { stdin, ...rest } = c.inputs;
      const visible = JSON.stringify(plain(rest));
      for (const pw of passwords) expect(visible).not.toContain(pw);
      if (stdin !== undefined) expect(isSecretValue(stdin)).toBe(true);
    }
    expect(plain(activation(resources, 2).inputs.stdin)).toBe("pw-eu-student2-password-Xy7");
  });

  it("keys the password on the registration, and names the account by slot so a slot handover is one replacement", async () => {
    const { resources } = await run(twoWorkshops());
    const pw = byType(resources, T.password).find((p) => p.name === "eu-student1-password")!;
    expect(pw.inputs.keepers).toEqual({ registration: "101" });
    expect(activation(resources, 1).inputs.triggers).toEqual(["101"]);
  });

  it("exports username and hub URL per registration", async () => {
    const { outputs } = await run(twoWorkshops());
    expect(await valueOf(outputs.accounts["201"].username)).toBe("student11");
    expect(await valueOf(outputs.accounts["201"].hubUrl)).toBe("http://eu.wod.test:8000");
  });

  it("changing one workshop's content changes that workshop's content and accounts, nothing of the other", async () => {
    const before = snapshot((await run(twoWorkshops())).resources);
    const after = snapshot((await run(twoWorkshops({ alpha: "a9a9a9a9a9a9a9a9" }))).resources);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort();
    expect(changed).toEqual([
      "command:remote:Command::eu-WKSHP-Alpha-dirs",
      "command:remote:Command::eu-student1-activation",
      "command:remote:Command::eu-student2-activation",
      "command:remote:CopyFile::eu-WKSHP-Alpha-0-ReadMeFirst.ipynb",
      "command:remote:CopyFile::eu-WKSHP-Alpha-1-Lab.ipynb",
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

  it("refuses an account rendered from content that is not shipped", async () => {
    const a = account("301", "WKSHP-Alpha", 3, "ffffffffffffffff");
    expect(() => declareStack(desired({ contents: [content("WKSHP-Alpha")], accounts: [a] }), config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/accounts\[301\]: contentHash/);
    await settle();
    mocks.take();
  });
});

describe("WorkshopContent", () => {
  it("ships every file of the folder under /opt/wod/workshops/<folder>/<hash>/ and removes that folder on delete", async () => {
    const { resources } = await run(twoWorkshops());
    const alpha = byType(resources, T.copyFile).filter((c) => c.name.startsWith("eu-WKSHP-Alpha-"));
    expect(alpha.map((c) => c.inputs.remotePath).sort()).toEqual([
      "/opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1/0-ReadMeFirst.ipynb",
      "/opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1/1-Lab.ipynb",
    ]);
    const dirs = byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Alpha-dirs")!;
    expect(dirs.inputs.delete).toBe("rm -rf /opt/wod/workshops/WKSHP-Alpha/a1a1a1a1a1a1a1a1");
    expect(dirs.inputs.triggers).toEqual([HASH.alpha]);
  });

  it("refuses a content hash that is not a plain hash (it ends up in rm -rf)", async () => {
    const state = desired({ contents: [content("WKSHP-Alpha", "eu", "../../etc")] });
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/contentHash/);
    await settle();
    mocks.take();
  });
});
