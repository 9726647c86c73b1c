// A learner's personal droplet: their key plus the admins', the login monitor installed by
// cloud-init, owner/expiry tags, and a snapshot taken before the droplet is destroyed.
import * as zlib from "node:zlib";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as digitalocean from "@pulumi/digitalocean";
import type { DesiredStudentServer } from "../infra/desired/types";
import { ANYWHERE } from "./machine";
import { BIN_DIR, doTag, hostname, listFiles } from "./remote";

export const STUDENT_SERVER = "wod:index:StudentServer";
/** Every student server carries this tag; the shared firewall applies to it. */
export const STUDENT_SERVER_TAG = "wod-student-server";

export interface StudentServerArgs {
  /** The learner's server as the desired state decided it. */
  server: DesiredStudentServer;
  /** Id of the learner's DigitalOcean SshKey (shared by learners with the same key). */
  learnerKeyId: pulumi.Input<string>;
  /** Admins' DigitalOcean SshKey ids. */
  adminKeyIds: pulumi.Input<string>[];
  /** The student-server tag, as the stack created it (the droplet waits for it). */
  tag: pulumi.Input<string>;
  /** cloud-init user data installing the login monitor (loginMonitorUserData). */
  userData: string;
  /** Snapshot the droplet before it is destroyed. */
  snapshotBeforeDestroy: boolean;
  /** Explicit DigitalOcean provider. */
  provider: pulumi.ProviderResource;
}

// Replacing a learner's server would lose their work: a new image, key set or login monitor
// applies to new servers only.
const KEEP_SERVER = ["image", "sshKeys", "userData"];

export class StudentServer extends pulumi.ComponentResource {
  /** Public IPv4 address the learner connects to. */
  public readonly ipv4: pulumi.Output<string>;
  /** Droplet id. */
  public readonly dropletId: pulumi.Output<string>;

  constructor(name: string, args: StudentServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(STUDENT_SERVER, name, {}, opts);
    const s = args.server;
    const expires = new Date(s.expiresAt);
    if (Number.isNaN(expires.getTime())) throw new pulumi.ResourceError(`expiresAt: "${s.expiresAt}" of learner ${s.learnerId} is not a date`, this);
    if (!s.region) throw new pulumi.ResourceError(`region: learner ${s.learnerId} has none`, this);

    const droplet = new digitalocean.Droplet(
      `${name}-droplet`,
      {
        name: hostname(`wod-learner-${s.learnerId}`),
        region: s.region,
        size: s.size,
        image: s.image,
        sshKeys: [args.learnerKeyId, ...args.adminKeyIds],
        userData: args.userData,
        monitoring: true,
        tags: [
          "wod",
          args.tag,
          doTag(`wod-owner:${s.learnerId}`),
          doTag(`wod-expires:${expires.toISOString().slice(0, 10)}`),
          ...(s.phase === "idle-warning" ? ["wod-idle-warning"] : []),
        ],
      },
      { parent: this, provider: args.provider, ignoreChanges: KEEP_SERVER },
    );

    if (args.snapshotBeforeDestroy) {
      // Runs on the machine running `pulumi up`, before the droplet goes (it depends on it):
      // a failed snapshot fails the delete and the droplet stays.
      new command.local.Command(
        `${name}-snapshot-on-destroy`,
        {
          interpreter: ["node", "-e"],
          delete: SNAPSHOT_HOOK,
          environment: { DROPLET_ID: droplet.id, SNAPSHOT_NAME: hostname(`wod-learner-${s.learnerId}`) },
          // A replaced droplet replaces the hook too, so the old droplet is snapshotted before it goes.
          triggers: [droplet.id],
        },
        { parent: this },
      );
    }

    this.ipv4 = droplet.ipv4Address;
    this.dropletId = droplet.id;
    this.registerOutputs({ ipv4: this.ipv4, dropletId: this.dropletId });
  }
}

/**
 * Snapshot of a droplet through the DigitalOcean API, waiting until it completes. The token
 * comes from the environment of `pulumi up` (DIGITALOCEAN_TOKEN, as the provider reads it),
 * never from state. Live snapshot, no power-off: removing this hook alone (turning the
 * option off) must not stop a learner's running server.
 */
export const SNAPSHOT_HOOK = `
const api = process.env.WOD_DO_API || "https://api.digitalocean.com/v2";
const token = process.env.DIGITALOCEAN_TOKEN || process.env.DIGITALOCEAN_ACCESS_TOKEN;
const id = process.env.DROPLET_ID;
const name = process.env.SNAPSHOT_NAME + "-" + new Date().toISOString().slice(0, 10);
const poll = Number(process.env.WOD_POLL_MS || 10000);
const call = async (method, path, body) => {
  const res = await fetch(api + path, { method, headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  if (res.status === 404 && method === "GET" && path.startsWith("/droplets/")) return undefined;
  if (!res.ok) throw new Error(method + " " + path + ": " + res.status + " " + (await res.text()));
  return res.json();
};
(async () => {
  if (!token) throw new Error("DIGITALOCEAN_TOKEN is not set: droplet " + id + " is kept, no snapshot could be taken");
  if (!(await call("GET", "/droplets/" + id))) return console.log("droplet " + id + " is already gone: nothing to snapshot");
  let { action } = await call("POST", "/droplets/" + id + "/actions", { type: "snapshot", name });
  while (action.status === "in-progress") {
    await new Promise((r) => setTimeout(r, poll));
    ({ action } = await call("GET", "/actions/" + action.id));
  }
  if (action.status !== "completed") throw new Error("snapshot " + name + " of droplet " + id + ": " + action.status);
  console.log("snapshot " + name + " of droplet " + id + " completed");
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

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

/**
 * cloud-config writing the host scripts to /opt/wod/bin (the login monitor sources lib.sh and
 * installs record-ssh-login.sh) and running install-login-monitor.sh at first boot.
 */
export function loginMonitorUserData(hostDir: string): string {
  const files = listFiles(hostDir).filter((f) => !f.endsWith(".md"));
  if (!files.includes("install-login-monitor.sh")) throw new Error(`${hostDir}: install-login-monitor.sh is missing (student servers install it)`);
  const lines = ["#cloud-config", "write_files:"];
  for (const f of files) {
    const gz = zlib.gzipSync(fs.readFileSync(path.join(hostDir, f)), { level: 9 }).toString("base64");
    lines.push(`  - path: ${BIN_DIR}/${f}`, `    permissions: "0755"`, `    encoding: gz+b64`, `    content: ${gz}`);
  }
  lines.push("runcmd:", `  - [${BIN_DIR}/install-login-monitor.sh]`, "");
  const text = lines.join("\n");
  // DigitalOcean refuses user data above 64 KiB.
  if (text.length > 64 * 1024) throw new Error(`${hostDir}: the login monitor's cloud-config is ${text.length} bytes, above DigitalOcean's 64 KiB`);
  return text;
}
