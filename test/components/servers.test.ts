import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { T, byType, installMocks, settle, valueOf } from "./mocks";
import { ADMIN_KEY, HOST_DIR, config, desired, server, sshKey } from "./fixtures";
import type { DesiredStudentServer } from "../../infra/desired/types";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
let studentServer: typeof import("../../components/studentServer");
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
  studentServer = await import("../../components/studentServer");
});

// The backend runs on an existing machine here, so every droplet, key and firewall is a student server's.
const onPremises = (studentServers: Record<string, unknown> = { enabled: true }) =>
  config({ locations: [{ name: "lab", provider: "existing", host: "10.9.9.9", slotPool: { min: 1, max: 10 } }], studentServers });

async function run(studentServers: DesiredStudentServer[], cfg = onPremises()) {
  const outputs = declareStack(desired({ config: cfg, studentServers }), cfg, { sshPrivateKey: "k" }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

describe("StudentServer", () => {
  it("declares one droplet per learner with the desired size, region and image, and exports its IPv4", async () => {
    const servers = Array.from({ length: 7 }, (_, i) => server(`l${i}`, sshKey(`l${i}`), i % 2 ? "ams3" : "fra1"));
    const { outputs, resources } = await run(servers);
    const droplets = byType(resources, T.droplet);
    expect(droplets.map((d) => d.inputs.name).sort()).toEqual(servers.map((s) => `wod-learner-${s.learnerId}`).sort());
    expect(droplets.find((d) => d.name === "learner-l1-droplet")!.inputs).toMatchObject({ region: "ams3", size: "s-1vcpu-1gb", image: "ubuntu-24-04-x64" });
    const l3 = droplets.find((d) => d.name === "learner-l3-droplet")!;
    expect(await valueOf(outputs.studentServers.l3.ipv4)).toBe(l3.state.ipv4Address);
  });

  it("gives the droplet the admins' DigitalOcean keys and the learner's key through cloud-init, without a DigitalOcean key per learner", async () => {
    const { resources } = await run([server("ada"), server("bob")]);
    const keys = byType(resources, T.sshKey);
    expect(keys.map((k) => k.inputs.publicKey)).toEqual([ADMIN_KEY.split(" ").slice(0, 2).join(" ")]);
    const ada = byType(resources, T.droplet).find((d) => d.name === "learner-ada-droplet")!;
    expect(ada.inputs.sshKeys).toEqual([keys[0].id]);
    const doc = parseYaml(ada.inputs.userData as string) as { ssh_authorized_keys: string[]; write_files: { path: string; content: string }[] };
    expect(doc.ssh_authorized_keys).toEqual([sshKey("ada").split(" ").slice(0, 2).join(" ")]);
    expect(doc.write_files.find((f) => f.path === "/etc/wod/learner-key")!.content).toBe(`${sshKey("ada").split(" ").slice(0, 2).join(" ")}\n`);
  });

  it("is one resource per learner, kept by Pulumi when undeclared (the reconcile snapshots and destroys it), never resized or rebuilt in place", async () => {
    const { resources } = await run([server("ada")]);
    const owned = resources.filter((r) => r.name.startsWith("learner-ada"));
    expect(owned.map((r) => r.type)).toEqual([T.droplet]);
    const droplet = byType(resources, T.droplet)[0];
    // Stacks that declared it inside a StudentServer component keep the same droplet: the engine
    // maps urn:…::wod:index:StudentServer$digitalocean:index/droplet:Droplet::learner-ada-droplet to it.
    expect(droplet.options.aliases).toEqual([{ parentUrn: "urn:pulumi:test::wod::wod:index:StudentServer::learner-ada" }]);
    expect(droplet.options.retainOnDelete).toBe(true);
    expect(droplet.options.ignoreChanges.sort()).toEqual(["image", "size", "sshKeys", "userData"]);
    expect(byType(resources, T.localCommand)).toEqual([]);
  });

  it("tags the droplet with owner and expiry in DigitalOcean's tag alphabet", async () => {
    const warned = { ...server("Learner.Ünï 42"), phase: "idle-warning" as const };
    const { resources } = await run([warned]);
    const tags = byType(resources, T.droplet)[0].inputs.tags as string[];
    expect(tags).toEqual(["wod", "wod-student-server", "wod-stack:test", "wod-owner:learner-n-42", "wod-expires:2025-06-10", "wod-idle-warning"]);
    for (const tag of tags) expect(tag).toMatch(/^[a-z0-9:_-]+$/);
  });

  it("installs the login monitor through cloud-init: two small scripts, far below DigitalOcean's 64 KiB", async () => {
    const { resources } = await run([server("ada")]);
    const userData = byType(resources, T.droplet)[0].inputs.userData as string;
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    const doc = parseYaml(userData) as { write_files: { path: string; encoding?: string; content: string }[]; runcmd: string[][] };
    const file = doc.write_files.find((f) => f.path === "/opt/wod/bin/install-login-monitor.sh")!;
    expect(Buffer.from(file.content, "base64").toString()).toBe(fs.readFileSync(path.join(HOST_DIR, "install-login-monitor.sh"), "utf8"));
    expect(doc.write_files.map((f) => f.path).sort()).toEqual(["/etc/wod/learner-key", "/opt/wod/bin/install-login-monitor.sh", "/opt/wod/bin/record-ssh-login.sh"]);
    expect(doc.runcmd).toEqual([["bash", "/opt/wod/bin/install-login-monitor.sh"]]);
    const real = studentServer.loginMonitorUserData(path.join(__dirname, "..", "..", "components", "host"), sshKey("ada"));
    expect(real.length).toBeLessThan(4 * 1024);
  });

  it("covers every student server with one shared firewall by tag: SSH and web", async () => {
    const { resources } = await run([server("ada"), server("bob")]);
    const firewalls = byType(resources, T.doFirewall);
    expect(firewalls).toHaveLength(1);
    expect(firewalls[0].inputs.tags).toEqual(["wod-student-server"]);
    expect((firewalls[0].inputs.inboundRules as { portRange: string }[]).map((r) => r.portRange)).toEqual(["22", "80", "443"]);
  });

});

