import { beforeAll, describe, expect, it } from "vitest";
import { Registered, T, byType, installMocks, isSecretValue, plain, settle } from "./mocks";
import { ADMIN_CIDR, HASH, HOST_DIR, account, config, content, desired, dockerAppliance } from "./fixtures";
import { learnerPassword } from "../../components/passwords";
import type { DesiredState } from "../../infra/desired/types";
import type { StackConfig } from "../../infra/config";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
});

async function run(state: DesiredState, cfg: StackConfig = config()) {
  declareStack(state, cfg, { sshPrivateKey: "PRIVATE-KEY-TEXT" }, { hostDir: HOST_DIR });
  await settle();
  return mocks.take();
}

/** Two Docker learners in slots 41 and 43 at eu, with their appliance. */
function dockerWorkshop(reset = true, cfg = config()): DesiredState {
  const ports = (slot: number) => ({ http: 9000 + slot - 41, ssh: 10000 + slot - 41 });
  return desired({
    config: cfg,
    contents: [content("WKSHP-Docker", "eu", HASH.docker)],
    accounts: [account("401", "WKSHP-Docker", 41, HASH.docker, { ports: ports(41) }), account("403", "WKSHP-Docker", 43, HASH.docker, { ports: ports(43) })],
    appliances: [{ ...dockerAppliance([{ registrationId: "401", slot: 41 }, { registrationId: "403", slot: 43 }], reset), provider: cfg.locations[0].provider }],
  });
}
const students = (resources: Registered[]) => byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Docker-students")!;
const seed = (resources: Registered[]) => byType(resources, T.password).find((p) => p.name === "password-seed")!.state.result as string;

describe("Appliance", () => {
  it("syncs its students with one command running the workshop's script, resetting per-student state only for reset workshops", async () => {
    const resources = await run(dockerWorkshop());
    const script = "/opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3/appliance/student.sh";
    const line = `python3 /opt/wod/bin/sync-appliance.py --appliance eu-WKSHP-Docker --script ${script} --uid-offset 2000 --deadline 1500`;
    expect(students(resources).inputs.create).toBe(`timeout --kill-after=60 1530 ${line} --reset`);
    expect(students(resources).inputs.delete).toBe(`timeout --kill-after=60 1530 ${line} --reset --release-all`);
    expect(students(await run(dockerWorkshop(false))).inputs.create).toBe(`timeout --kill-after=60 1530 ${line}`);
  });

  it("sends each student's ports and account password on stdin as a secret, and keeps what the script prints secret", async () => {
    const resources = await run(dockerWorkshop());
    const cmd = students(resources);
    expect(isSecretValue(cmd.inputs.stdin)).toBe(true);
    expect(JSON.parse(plain(cmd.inputs.stdin) as string)).toEqual({ slots: {
      "41": { registration: "401", generation: 1, password: learnerPassword(seed(resources), "401"), ports: { http: 9000, ssh: 10000 } },
      "43": { registration: "403", generation: 1, password: learnerPassword(seed(resources), "403"), ports: { http: 9002, ssh: 10002 } },
    } });
    expect(JSON.stringify(plain({ ...cmd.inputs, stdin: undefined }))).not.toContain(learnerPassword(seed(resources), "401"));
    expect(cmd.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["stderr", "stdout"]));
  });

  it("hands the notebooks the appliance's address as WoD's IP-WKSHP-<Name>", async () => {
    const resources = await run(dockerWorkshop());
    const droplet = byType(resources, T.droplet).find((d) => d.name === "eu-WKSHP-Docker-droplet")!;
    const cohort = byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Docker-s0-sync")!;
    const stdin = JSON.parse(plain(cohort.inputs.stdin) as string);
    expect(stdin.variables["IP-WKSHP-Docker"]).toBe(droplet.state.ipv4Address);
  });

  it("creates its own droplet and firewall: SSH from admins only, the students' port ranges open", async () => {
    const resources = await run(dockerWorkshop());
    const droplet = byType(resources, T.droplet).find((d) => d.name === "eu-WKSHP-Docker-droplet")!;
    expect(droplet.inputs).toMatchObject({ size: "s-2vcpu-4gb", image: "debian-12-x64", region: "fra1" });
    expect(droplet.inputs.tags).toEqual(["wod", "wod-role:appliance", "wod-location:eu", "wod-workshop:docker"]);
    const firewall = byType(resources, T.doFirewall).find((f) => f.name === "eu-WKSHP-Docker-firewall")!;
    const rules = firewall.inputs.inboundRules as { portRange: string; sourceAddresses: string[] }[];
    expect(rules.map((r) => [r.portRange, r.sourceAddresses[0]])).toEqual([["22", ADMIN_CIDR], ["9000-9002", "0.0.0.0/0"], ["10000-10002", "0.0.0.0/0"]]);
  });

  it("has a host key of its own, given at first boot and pinned by every connection to it", async () => {
    const resources = await run(dockerWorkshop());
    const keyOf = (droplet: string) => /ecdsa_public: (.*)/.exec(String(plain(byType(resources, T.droplet).find((d) => d.name === droplet)!.inputs.userData)))![1];
    const pinOf = (command: string) => (plain(byType(resources, T.command).find((c) => c.name === command)!.inputs.connection) as { hostKey?: string }).hostKey;
    expect(pinOf("eu-WKSHP-Docker-setup")).toBe(keyOf("eu-WKSHP-Docker-droplet"));
    expect(pinOf("eu-WKSHP-Docker-students")).toBe(keyOf("eu-WKSHP-Docker-droplet"));
    expect(keyOf("eu-WKSHP-Docker-droplet")).not.toBe(keyOf("eu-droplet"));
  });

  it("ships the workshop to the appliance and runs its setup script there once", async () => {
    const resources = await run(dockerWorkshop());
    const setup = byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Docker-setup")!;
    expect(setup.inputs.create).toBe("timeout --kill-after=60 1530 sh -c 'cd /opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3 && bash ./appliance/setup.sh'");
    // Once: a new machine replaces it (triggers), a new connection to the same machine does not re-run it.
    expect(setup.inputs.triggers).toEqual([byType(resources, T.droplet).find((d) => d.name === "eu-WKSHP-Docker-droplet")!.id]);
    expect(setup.options.ignoreChanges).toEqual(["connection", "addPreviousOutputInEnv"]);
    const copy = byType(resources, T.copyToRemote).find((c) => c.name === "eu-WKSHP-Docker-content-copy")!;
    expect(copy.inputs.remotePath).toBe("/opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3");
  });

  it("at an existing location runs on the backend host: no machine is created", async () => {
    const cfg = config({ locations: [{ name: "eu", provider: "existing", host: "10.9.9.9", slotPool: { min: 1, max: 100 } }] });
    const resources = await run(dockerWorkshop(true, cfg), cfg);
    expect(byType(resources, T.droplet)).toEqual([]);
    expect(plain(students(resources).inputs.connection)).toMatchObject({ host: "10.9.9.9" });
    expect(students(resources).inputs.create).toContain(" --on-backend");
  });

  it("refuses a setup script outside the workshop folder, naming the field", async () => {
    const state = dockerWorkshop();
    state.appliances[0].setup = "../../../etc/rc.local";
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/setup: "\.\.\/\.\.\/\.\.\/etc\/rc\.local"/);
    await settle();
    mocks.take();
  });
});
