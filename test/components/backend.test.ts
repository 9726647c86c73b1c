import { hashFolder } from "../../components/remote";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { T, type Registered, archivePath, byType, installMocks, isSecretValue, plain, settle, valueOf } from "./mocks";
import { ADMIN_CIDR, HOST_DIR, config, desired } from "./fixtures";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
});

async function run(cfg = config()) {
  const outputs = declareStack(desired({ config: cfg }), cfg, { sshPrivateKey: "PRIVATE-KEY-TEXT" }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

const locations = {
  aws: { name: "us", provider: "aws", region: "us-east-1", size: "m6i.2xlarge", image: "ami-0123456789abcdef0", fqdn: "us.wod.test", slotPool: { min: 1, max: 50 } },
  existing: { name: "lab", provider: "existing", host: "10.1.2.3", sshUser: "wod", hubPort: 8443, slotPool: { min: 1, max: 20 } },
};

describe("JupyterHubBackend on DigitalOcean", () => {
  it("creates a droplet with the configured size, region, image, the admins' keys and tags", async () => {
    const { resources } = await run();
    const [droplet] = byType(resources, T.droplet);
    expect(droplet.inputs).toMatchObject({ size: "s-4vcpu-8gb", region: "fra1", image: "debian-12-x64", name: "eu-hub" });
    // A size edit resizes this one backend in place, keeping its disk: reversible, never a rebuild.
    expect(droplet.inputs.resizeDisk).toBe(false);
    expect(droplet.options.ignoreChanges.sort()).toEqual(["ami", "image", "sshKeys", "userData"]);
    expect(droplet.inputs.tags).toEqual(["wod", "wod-role:backend", "wod-location:eu"]);
    const keys = byType(resources, T.sshKey);
    expect(keys).toHaveLength(1);
    expect(droplet.inputs.sshKeys).toEqual([`${keys[0].name}-id`]);
  });

  it("lets SSH in from the admins' CIDRs only and opens the hub port to everyone", async () => {
    const { resources } = await run();
    const [firewall] = byType(resources, T.doFirewall);
    const [droplet] = byType(resources, T.droplet);
    const rules = firewall.inputs.inboundRules as { portRange: string; sourceAddresses: string[] }[];
    expect(rules.find((r) => r.portRange === "22")?.sourceAddresses).toEqual([ADMIN_CIDR]);
    expect(rules.find((r) => r.portRange === "8000")?.sourceAddresses).toEqual(["0.0.0.0/0", "::/0"]);
    expect(rules).toHaveLength(2);
    expect(firewall.inputs.dropletIds).toEqual([Number(droplet.id)]);
  });

  it("copies the host scripts to /opt/wod/bin and bootstraps with the slot pool, token on stdin only", async () => {
    const { resources } = await run();
    // One copy of the whole folder, its contents into /opt/wod/bin (the trailing slash), again when a script changes.
    const [copy] = byType(resources, T.copyToRemote);
    expect(copy.inputs).toMatchObject({ remotePath: "/opt/wod/bin", triggers: [hashFolder(HOST_DIR), "eu-bin-dirs-id"] });
    expect(await archivePath(copy)).toBe(`${HOST_DIR}/`);
    const bootstrap = byType(resources, T.command).find((c) => c.name === "eu-bootstrap")!;
    expect(bootstrap.inputs.create).toBe(
      "timeout --kill-after=60 1830 sh -c 'chmod 0755 /opt/wod/bin/*.sh && bash /opt/wod/bin/bootstrap-backend.sh --slot-min 1 --slot-max 100 --uid-offset 2000 --hub-port 8000'",
    );
    // A command on a machine that is gone is not run: it goes with the droplet.
    const [droplet] = byType(resources, T.droplet);
    for (const r of [bootstrap, copy]) expect(r.options.deletedWith).toContain(`::${droplet.name}`);
    expect(isSecretValue(bootstrap.inputs.stdin)).toBe(true);
    const token = plain(bootstrap.inputs.stdin) as string;
    expect(token).toMatch(/^pw-eu-hub-token/);
    expect(JSON.stringify(plain(bootstrap.inputs.create))).not.toContain(token);
    expect(isSecretValue(bootstrap.inputs.connection)).toBe(true);
    expect(plain(bootstrap.inputs.connection)).toMatchObject({ host: droplet.state.ipv4Address, user: "root", privateKey: "PRIVATE-KEY-TEXT" });
  });

  it("exports the address and the hub URL learners open", async () => {
    const { outputs } = await run();
    expect(await valueOf(outputs.backends.eu.address)).toMatch(/^10\.0\.\d+\.\d+$/);
    expect(await valueOf(outputs.backends.eu.hubUrl)).toBe("http://eu.wod.test:8000");
  });

  it("refuses a cloud backend nobody could reach over SSH, naming adminCidrs", async () => {
    const cfg = config({ adminCidrs: [] });
    expect(() => declareStack(desired({ config: cfg }), cfg, { sshPrivateKey: "k" }, { hostDir: HOST_DIR })).toThrow(/adminCidrs/);
    await settle();
    mocks.take();
  });
});

describe("JupyterHubBackend on AWS", () => {
  it("creates an instance in its region's provider, SSH from admins only, admin keys through cloud-init", async () => {
    const { resources } = await run(config({ locations: [locations.aws] }));
    expect(byType(resources, T.droplet)).toHaveLength(0);
    const [instance] = byType(resources, T.instance);
    expect(instance.inputs).toMatchObject({ ami: "ami-0123456789abcdef0", instanceType: "m6i.2xlarge" });
    // Learners' homes need room: a sized, encrypted root disk, not the AMI's default.
    expect(instance.inputs.rootBlockDevice).toEqual({ volumeSize: 100, volumeType: "gp3", encrypted: true, deleteOnTermination: true });
    expect(plain(instance.inputs.userData)).toContain("AAAAC3NzaC1lZDI1NTE5AAAAIFWlZ6bHx5nAcJm3LC8OmbB/n+eyBCbfac4grMpmCU1z");
    expect(instance.provider).toContain("pulumi:providers:aws::aws-us-east-1");
    const [group] = byType(resources, T.securityGroup);
    const ingress = group.inputs.ingress as { fromPort: number; cidrBlocks: string[] }[];
    expect(ingress.find((r) => r.fromPort === 22)?.cidrBlocks).toEqual([ADMIN_CIDR]);
    expect(ingress.find((r) => r.fromPort === 8000)?.cidrBlocks).toEqual(["0.0.0.0/0"]);
  });
});

describe("JupyterHubBackend on an existing machine", () => {
  it("creates no machine and no firewall, bootstraps the host it is given through sudo", async () => {
    const { outputs, resources } = await run(config({ locations: [locations.existing], studentServers: { enabled: false } }));
    for (const type of [T.droplet, T.instance, T.doFirewall, T.securityGroup, T.sshKey]) expect(byType(resources, type)).toEqual([]);
    const bootstrap = byType(resources, T.command).find((c) => c.name === "lab-bootstrap")!;
    expect(plain(bootstrap.inputs.connection)).toMatchObject({ host: "10.1.2.3", user: "wod" });
    expect(bootstrap.inputs.create).toMatch(/^sudo -n sh -c 'timeout .*--hub-port 8443.*'$/);
    expect(await valueOf(outputs.backends.lab.hubUrl)).toBe("http://10.1.2.3:8443");
  });
});

describe("host keys", () => {
  const cloudConfigOf = (machine: Registered) => parseYaml(String(plain(machine.inputs.userData))) as { ssh_keys: { ecdsa_private: string; ecdsa_public: string } };
  const pinOf = (resources: Registered[], name: string) => (plain(byType(resources, T.command).find((c) => c.name === name)!.inputs.connection) as { hostKey?: string }).hostKey;

  it("gives a new droplet its host key through cloud-init, as a secret, and every connection to it pins that key", async () => {
    const { outputs, resources } = await run();
    const [droplet] = byType(resources, T.droplet);
    expect(isSecretValue(droplet.inputs.userData)).toBe(true);
    const { ssh_keys } = cloudConfigOf(droplet);
    expect(ssh_keys.ecdsa_private).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    expect(ssh_keys.ecdsa_public).toMatch(/^ecdsa-sha2-nistp256 AAAA/);
    for (const c of byType(resources, T.command).filter((c) => c.name.startsWith("eu-"))) expect(pinOf(resources, c.name)).toBe(ssh_keys.ecdsa_public);
    // The reconcile's own reads pin it too: the stack exports it (a public key, not a secret).
    expect(await valueOf(outputs.backends.eu.hostKey)).toBe(ssh_keys.ecdsa_public);
    // The same stack derives the same key on every run: a preview never sees a new key.
    const again = await run();
    expect(cloudConfigOf(byType(again.resources, T.droplet)[0]).ssh_keys.ecdsa_public).toBe(ssh_keys.ecdsa_public);
  });

  it("gives an EC2 backend its key in the same cloud-config as the admins' keys", async () => {
    const { resources } = await run(config({ locations: [locations.aws] }));
    const [instance] = byType(resources, T.instance);
    const doc = cloudConfigOf(instance) as unknown as { ssh_keys: { ecdsa_public: string }; ssh_authorized_keys: string[] };
    expect(doc.ssh_authorized_keys).toHaveLength(1);
    expect(pinOf(resources, "us-bootstrap")).toBe(doc.ssh_keys.ecdsa_public);
  });

  it("pins the configured key of an existing host, and none when the config gives none", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFWlZ6bHx5nAcJm3LC8OmbB/n+eyBCbfac4grMpmCU1z";
    const unpinned = await run(config({ locations: [locations.existing], studentServers: { enabled: false } }));
    expect(pinOf(unpinned.resources, "lab-bootstrap")).toBeUndefined();
    expect(await valueOf(unpinned.outputs.backends.lab.hostKey)).toBe("");
    const pinned = await run(config({ locations: [locations.existing], studentServers: { enabled: false }, hostKeys: { "lab-hub": key } }));
    expect(pinOf(pinned.resources, "lab-bootstrap")).toBe(key);
  });

  it("lets a machine created before keys were pinned keep its own key: pinned from the config, or unpinned", async () => {
    const older = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOlder";
    const pinned = await run(config({ hostKeys: { "eu-hub": older } }));
    expect(pinOf(pinned.resources, "eu-bootstrap")).toBe(older);
    const unpinned = await run(config({ hostKeys: { "eu-hub": "unpinned" } }));
    expect(pinOf(unpinned.resources, "eu-bootstrap")).toBeUndefined();
  });

  it("refuses a host key that is not a public key line, naming the machine", () => {
    expect(() => config({ hostKeys: { "eu-hub": "eu-hub ecdsa-sha2-nistp256 AAAA" } })).toThrow(/hostKeys\.eu-hub/);
    expect(() => config({ hostKeys: { "eu-hub": "-----BEGIN OPENSSH PRIVATE KEY-----" } })).toThrow(/hostKeys\.eu-hub/);
  });
});
