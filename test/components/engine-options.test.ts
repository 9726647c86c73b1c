// What the engine and pulumi-command v1.2.1 do with each remote command, read in their sources:
// - addPreviousOutputInEnv: unless false, every run sends the previous run's stdout and stderr to
//   the host as PULUMI_COMMAND_STDOUT/STDERR through SSH setenv, and warns when sshd refuses them
//   (provider/pkg/provider/remote/commandOutputs.go, `if c.AddPreviousOutputInEnv == nil || *c...`;
//   Debian's sshd accepts only LANG and LC_*). A cohort's stdout is its per-slot results: never sent back.
// - triggers are the only replaceOnChanges input (provider/pkg/provider/common/inputs.go), and a
//   replacement is created before the old resource is deleted unless deleteBeforeReplace is set
//   (@pulumi/pulumi resource.d.ts, CustomResourceOptions.deleteBeforeReplace). A content folder's
//   `-dirs` command deletes its folder: replaced in place (`pulumi up --replace`, a trigger edit),
//   the old delete would run last and wipe the folder its replacement just made.
import { beforeAll, describe, expect, it } from "vitest";
import { T, byType, installMocks, plain, settle } from "./mocks";
import { HASH, HOST_DIR, account, config, content, desired, dockerAppliance } from "./fixtures";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
});

/** A backend with a workshop and an appliance workshop: every kind of remote command there is. */
async function resources() {
  const cfg = config();
  const state = desired({
    config: cfg,
    contents: [content("WKSHP-Alpha", "eu", HASH.alpha), content("WKSHP-Docker", "eu", HASH.docker)],
    accounts: [account("101", "WKSHP-Alpha", 1, HASH.alpha), account("401", "WKSHP-Docker", 41, HASH.docker, { ports: { http: 9000, ssh: 10000 } })],
    appliances: [dockerAppliance([{ registrationId: "401", slot: 41 }])],
  });
  declareStack(state, cfg, { sshPrivateKey: "PRIVATE-KEY-TEXT" }, { hostDir: HOST_DIR });
  await settle();
  return mocks.take();
}

describe("remote commands as the engine runs them", () => {
  it("no remote command pushes its previous output into the host's environment", async () => {
    const commands = byType(await resources(), T.command);
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(["eu-bootstrap", "eu-bin-dirs", "eu-WKSHP-Alpha-dirs", "eu-WKSHP-Docker-setup", "eu-WKSHP-Docker-students", "eu-WKSHP-Alpha-s0-sync"]));
    for (const c of commands) expect(plain(c.inputs.addPreviousOutputInEnv), c.name).toBe(false);
    // A workshop's setup runs once per machine: the new input does not re-run it on existing stacks.
    const setup = commands.find((c) => c.name === "eu-WKSHP-Docker-setup")!;
    expect(setup.options.ignoreChanges).toEqual(expect.arrayContaining(["connection", "addPreviousOutputInEnv"]));
  });

  it("a content folder replaced in place is deleted before it is made again, and its copy is made again after", async () => {
    const all = await resources();
    // Workshop folders on the backend and on the appliance (the host scripts' folder is never deleted).
    const dirs = byType(all, T.command).filter((c) => /rm -rf \/opt\/wod\/workshops\//.test(String(plain(c.inputs.delete) ?? "")));
    expect(dirs.map((c) => c.name).sort()).toEqual(["eu-WKSHP-Alpha-dirs", "eu-WKSHP-Docker-content-dirs", "eu-WKSHP-Docker-dirs"]);
    for (const d of dirs) {
      expect(d.options.deleteBeforeReplace, d.name).toBe(true);
      // The copy is replaced whenever its folder is (a new id of the -dirs command is a new trigger).
      const copy = byType(all, T.copyToRemote).find((c) => c.name === d.name.replace(/-dirs$/, "-copy"))!;
      expect(plain(copy.inputs.triggers), copy.name).toEqual(expect.arrayContaining([d.id]));
    }
  });
});
