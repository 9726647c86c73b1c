import { beforeAll, describe, expect, it } from "vitest";
import { Registered, T, byType, installMocks, isSecretValue, plain, settle } from "./mocks";
import { ADMIN_CIDR, HASH, HOST_DIR, account, config, content, desired, dockerAppliance } from "./fixtures";
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
const studentCommand = (resources: Registered[], slot: number) => byType(resources, T.command).find((c) => c.name === `eu-WKSHP-Docker-student${slot}`)!;

describe("Appliance", () => {
  it("runs appliance-student.sh setup per student with that student's ports, and reset on release", async () => {
    const resources = await run(dockerWorkshop());
    const script = "/opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3/appliance/student.sh";
    expect(studentCommand(resources, 43).inputs.create).toBe(`bash /opt/wod/bin/appliance-student.sh setup --slot 43 --script ${script} --port http=9002 --port ssh=10002`);
    expect(studentCommand(resources, 43).inputs.delete).toBe(`bash /opt/wod/bin/appliance-student.sh reset --slot 43 --script ${script} --port http=9002 --port ssh=10002`);
    expect(studentCommand(resources, 41).inputs.create).toContain("--port http=9000 --port ssh=10000");
  });

  it("passes the student's account password on stdin as a secret, never in the command", async () => {
    const resources = await run(dockerWorkshop());
    const cmd = studentCommand(resources, 41);
    expect(isSecretValue(cmd.inputs.stdin)).toBe(true);
    expect(plain(cmd.inputs.stdin)).toBe("pw-eu-student41-password-Xy7");
    expect(JSON.stringify(plain({ ...cmd.inputs, stdin: undefined }))).not.toContain("pw-eu-student41-password-Xy7");
  });

  it("leaves per-student state alone at release when the workshop does not reset", async () => {
    const resources = await run(dockerWorkshop(false));
    expect(studentCommand(resources, 41).inputs.delete).toBeUndefined();
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

  it("ships the workshop to the appliance and runs its setup script there once", async () => {
    const resources = await run(dockerWorkshop());
    const setup = byType(resources, T.command).find((c) => c.name === "eu-WKSHP-Docker-setup")!;
    expect(setup.inputs.create).toBe("cd /opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3 && bash ./appliance/setup.sh");
    const copied = byType(resources, T.copyFile).filter((c) => c.name.startsWith("eu-WKSHP-Docker-content-")).map((c) => c.inputs.remotePath);
    expect(copied).toContain("/opt/wod/workshops/WKSHP-Docker/d3d3d3d3d3d3d3d3/appliance/student.sh");
  });

  it("at an existing location runs on the backend host: no machine is created", async () => {
    const cfg = config({ locations: [{ name: "eu", provider: "existing", host: "10.9.9.9", slotPool: { min: 1, max: 100 } }] });
    const resources = await run(dockerWorkshop(true, cfg), cfg);
    expect(byType(resources, T.droplet)).toEqual([]);
    expect(plain(studentCommand(resources, 41).inputs.connection)).toMatchObject({ host: "10.9.9.9" });
  });

  it("refuses a setup script outside the workshop folder, naming the field", async () => {
    const state = dockerWorkshop();
    state.appliances[0].setup = "../../../etc/rc.local";
    expect(() => declareStack(state, config(), { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/setup: "\.\.\/\.\.\/\.\.\/etc\/rc\.local"/);
    await settle();
    mocks.take();
  });
});
