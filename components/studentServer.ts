// A learner's personal droplet: the admins' DigitalOcean keys plus the learner's key through
// cloud-init (no SshKey resource per learner), the login monitor, owner/expiry tags. One
// resource per server. Declared with retainOnDelete: when the stack stops declaring it, Pulumi
// only forgets it — the reconcile job snapshots and destroys it (infra/reconcile/servers.ts), so
// no `pulumi up` can destroy a learner's machine without its snapshot.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as digitalocean from "@pulumi/digitalocean";
import type { DesiredStudentServer } from "../infra/desired/types";
import { ANYWHERE } from "./machine";
import { BIN_DIR, doTag, hostname, normalizeSshKey } from "./remote";

/** The component older stacks declared each droplet in (kept as the droplets' alias). */
export const STUDENT_SERVER = "wod:index:StudentServer";
/** Every student server carries this tag; the shared firewall applies to it. */
export const STUDENT_SERVER_TAG = "wod-student-server";

/**
 * The tag naming the stack a student server belongs to: two stacks may share one DigitalOcean
 * account, and the reconcile looks for stray droplets among its own stack's only.
 */
export function stackTag(stack: string): string {
  return doTag(`wod-stack:${stack}`);
}

export interface StudentServerArgs {
  /** The learner's server as the desired state decided it. */
  server: DesiredStudentServer;
  /** Admins' DigitalOcean SshKey ids. */
  adminKeyIds: pulumi.Input<string>[];
  /** The student-server tag, as the stack created it (the droplet waits for it). */
  tag: pulumi.Input<string>;
  /** Local folder of the host scripts (the login monitor comes from there). */
  hostDir: string;
  /** Explicit DigitalOcean provider. */
  provider: pulumi.ProviderResource;
}

// Replacing or resizing a learner's server would lose their work or power it off: a new image,
// key set, login monitor or size applies to new servers only.
const KEEP_SERVER = ["image", "sshKeys", "userData", "size"];

/**
 * Declares the droplet itself, without a component around it: at a thousand servers every resource
 * counts (each costs the engine and the checkpoint), and a server is one cloud resource. Stacks that
 * declared it inside a `wod:index:StudentServer` component keep the same droplet through the alias.
 */
export function declareStudentServer(name: string, args: StudentServerArgs): digitalocean.Droplet {
  const s = args.server;
  const expires = new Date(s.expiresAt);
  if (Number.isNaN(expires.getTime())) throw new Error(`student server ${name}: expiresAt "${s.expiresAt}" of learner ${s.learnerId} is not a date`);
  if (!s.region) throw new Error(`student server ${name}: learner ${s.learnerId} has no region`);
  return new digitalocean.Droplet(
    `${name}-droplet`,
    {
      name: hostname(`wod-learner-${s.learnerId}`),
      region: s.region,
      size: s.size,
      image: s.image,
      sshKeys: args.adminKeyIds,
      userData: loginMonitorUserData(args.hostDir, s.sshPublicKey),
      monitoring: true,
      tags: [
        "wod",
        args.tag,
        stackTag(pulumi.getStack()),
        doTag(`wod-owner:${s.learnerId}`),
        doTag(`wod-expires:${expires.toISOString().slice(0, 10)}`),
        ...(s.phase === "idle-warning" ? ["wod-idle-warning"] : []),
      ],
    },
    {
      provider: args.provider,
      ignoreChanges: KEEP_SERVER,
      retainOnDelete: true,
      aliases: [{ parent: pulumi.createUrn(name, STUDENT_SERVER) }],
    },
  );
}

/** The shared firewall of all student servers, by tag: SSH and web open, the learner's home IP is unknown. */
export function studentServerFirewall(provider: pulumi.ProviderResource): digitalocean.Tag {
  const tag = new digitalocean.Tag("student-servers", { name: STUDENT_SERVER_TAG }, { provider });
  new digitalocean.Firewall(
    "student-servers",
    {
      name: "wod-student-servers",
      tags: [tag.name],
      inboundRules: ["22", "80", "443"].map((portRange) => ({ protocol: "tcp", portRange, sourceAddresses: ANYWHERE })),
      outboundRules: [
        { protocol: "tcp", portRange: "1-65535", destinationAddresses: ANYWHERE },
        { protocol: "udp", portRange: "1-65535", destinationAddresses: ANYWHERE },
        { protocol: "icmp", destinationAddresses: ANYWHERE },
      ],
    },
    { provider },
  );
  return tag;
}

/** The monitor's scripts, read once per stack rather than once per server. */
const scripts = new Map<string, string>();

/**
 * cloud-config giving root the learner's key and installing the login monitor (two small scripts)
 * at first boot: about 2 KB, far below DigitalOcean's 64 KiB.
 */
export function loginMonitorUserData(hostDir: string, learnerKey: string): string {
  const file = (name: string) => {
    const p = path.join(hostDir, name);
    if (!scripts.has(p)) {
      if (!fs.existsSync(p)) throw new Error(`${hostDir}: ${name} is missing (student servers install it)`);
      scripts.set(p, fs.readFileSync(p).toString("base64"));
    }
    return scripts.get(p)!;
  };
  const key = normalizeSshKey(learnerKey);
  return [
    "#cloud-config",
    "ssh_authorized_keys:",
    `  - ${key}`,
    "write_files:",
    "  - path: /etc/wod/learner-key",
    `    permissions: "0644"`,
    `    content: "${key}\\n"`,
    ...["record-ssh-login.sh", "install-login-monitor.sh"].flatMap((f) => [
      `  - path: ${BIN_DIR}/${f}`, `    permissions: "0755"`, "    encoding: b64", `    content: ${file(f)}`,
    ]),
    "runcmd:",
    `  - [bash, ${BIN_DIR}/install-login-monitor.sh]`,
    "",
  ].join("\n");
}
