// A cloud machine for a backend or an appliance: a droplet or an EC2 instance, with its firewall.
// A plain function, not a component: the caller's component is the parent of what it creates.
import * as pulumi from "@pulumi/pulumi";
import * as digitalocean from "@pulumi/digitalocean";
import * as aws from "@pulumi/aws";
import { type HostKey, hostKeyCloudConfig } from "./hostKeys";
import { doTag, hostname, normalizeSshKey } from "./remote";

export const ANYWHERE = ["0.0.0.0/0", "::/0"];

export interface MachineArgs {
  /** Cloud that runs the machine. */
  cloud: "digitalocean" | "aws";
  /** Droplet name, EC2 `Name` tag. */
  name: string;
  /** DigitalOcean region slug or AWS region (the AWS region is the provider's). */
  region: string;
  /** Droplet size slug or EC2 instance type. */
  size: string;
  /** Droplet image slug or EC2 AMI id. */
  image: string;
  /** EC2 root disk in GB (droplets come with their size's disk). */
  diskGb: number;
  /** The machine's SSH host key, given by cloud-init at first boot so connections can pin it. */
  hostKey?: pulumi.Input<HostKey>;
  /** Labels, as DO tags `wod-<key>:<value>` and AWS tags `wod:<key>`. */
  labels: Record<string, string>;
  /** CIDRs allowed to reach SSH; nobody else can. */
  adminCidrs: string[];
  /** TCP ports open to everyone ("8000" or "9000-9059"). */
  publicPorts: string[];
  /** Admins' DigitalOcean SshKey ids (droplets). */
  doSshKeyIds: pulumi.Input<string>[];
  /** Admins' public keys (EC2 takes them from cloud-init: an instance has a single key pair). */
  adminPublicKeys: string[];
  /** Explicit provider: DigitalOcean, or AWS of the machine's region. */
  provider: pulumi.ProviderResource;
}

export interface Machine {
  /** Cloud id: changes when the machine is replaced. */
  id: pulumi.Output<string>;
  /** Public IPv4 address. */
  address: pulumi.Output<string>;
  /** The droplet or instance itself: commands on it are deleted with it (deletedWith). */
  resource: pulumi.Resource;
}

// Changing these would replace the machine and lose every learner's home on it. New admin keys
// and images apply to new machines; rebuild one on purpose with `pulumi up --replace <urn>`.
const KEEP_MACHINE = ["image", "ami", "sshKeys", "userData"];

export function declareMachine(name: string, args: MachineArgs, parent: pulumi.Resource): Machine {
  if (args.adminCidrs.length === 0) {
    throw new pulumi.ResourceError(`adminCidrs: at least one CIDR must reach SSH on machine "${args.name}" (the platform itself connects over SSH)`, parent);
  }
  const opts = { parent, provider: args.provider, ignoreChanges: KEEP_MACHINE };
  // cloud-config for the machine: its host key when given (a secret: the private half).
  const cloudConfig = (lines: string[]) =>
    pulumi.secret(pulumi.output(args.hostKey).apply((key) => ["#cloud-config", ...lines, ...(key ? hostKeyCloudConfig(key) : []), ""].join("\n")));
  if (args.cloud === "digitalocean") {
    const droplet = new digitalocean.Droplet(
      `${name}-droplet`,
      {
        name: hostname(args.name),
        region: args.region,
        size: args.size,
        // A resize keeps the disk, so it can be undone; growing a disk cannot.
        resizeDisk: false,
        image: args.image,
        sshKeys: args.doSshKeyIds,
        ...(args.hostKey ? { userData: cloudConfig([]) } : {}),
        tags: ["wod", ...Object.entries(args.labels).map(([k, v]) => doTag(`wod-${k}:${v}`))],
        monitoring: true,
        ipv6: true,
      },
      opts,
    );
    new digitalocean.Firewall(
      `${name}-firewall`,
      {
        name: hostname(`wod-${args.name}`),
        dropletIds: [droplet.id.apply(Number)],
        inboundRules: [
          { protocol: "tcp", portRange: "22", sourceAddresses: args.adminCidrs },
          ...args.publicPorts.map((portRange) => ({ protocol: "tcp", portRange, sourceAddresses: ANYWHERE })),
        ],
        outboundRules: [
          { protocol: "tcp", portRange: "1-65535", destinationAddresses: ANYWHERE },
          { protocol: "udp", portRange: "1-65535", destinationAddresses: ANYWHERE },
          { protocol: "icmp", destinationAddresses: ANYWHERE },
        ],
      },
      { parent, provider: args.provider },
    );
    return { id: droplet.id, address: droplet.ipv4Address, resource: droplet };
  }

  const ports = (range: string) => range.split("-").map(Number) as [number, number?];
  const group = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      description: `wod ${args.name}: SSH from admins, service ports public`,
      ingress: [
        { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: args.adminCidrs.filter((c) => !c.includes(":")), ipv6CidrBlocks: args.adminCidrs.filter((c) => c.includes(":")) },
        ...args.publicPorts.map((r) => {
          const [from, to] = ports(r);
          return { protocol: "tcp", fromPort: from, toPort: to ?? from, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] };
        }),
      ],
      egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      tags: { Name: `wod-${args.name}` },
    },
    { parent, provider: args.provider },
  );
  // root gets the admins' keys too (disable_root: false): the host scripts run as root.
  const userData = cloudConfig([
    "disable_root: false",
    "ssh_authorized_keys:",
    ...args.adminPublicKeys.map((k) => `  - ${JSON.stringify(normalizeSshKey(k))}`),
  ]);
  const instance = new aws.ec2.Instance(
    `${name}-instance`,
    {
      ami: args.image,
      instanceType: args.size,
      // Learners' homes live here: a disk sized for them, not the AMI's default (often 8 GB).
      rootBlockDevice: { volumeSize: args.diskGb, volumeType: "gp3", encrypted: true, deleteOnTermination: true },
      vpcSecurityGroupIds: [group.id],
      associatePublicIpAddress: true,
      userData,
      metadataOptions: { httpTokens: "required" },
      tags: { Name: `wod-${args.name}`, ...Object.fromEntries(Object.entries(args.labels).map(([k, v]) => [`wod:${k}`, v])) },
    },
    opts,
  );
  return { id: instance.id, address: instance.publicIp, resource: instance };
}
