// A workshop's dedicated machine at one location: the machine, the workshop's setup script, and
// per student `appliance-student.sh setup` at activation / `reset` at release (reset workshops).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { DesiredAppliance, DesiredContent } from "../infra/desired/types";
import { declareMachine } from "./machine";
import { BIN_DIR, Connection, asRoot, connectionTo, copyFolder, hashFolder, hostScript, shellQuote } from "./remote";
import { WorkshopContent } from "./workshopContent";

export const APPLIANCE = "wod:index:Appliance";

export interface ApplianceArgs {
  /** The appliance and its live students with their ports, as the desired state decided them. */
  appliance: DesiredAppliance;
  /** The workshop's folder (holds the setup scripts). */
  content: DesiredContent;
  /** Student passwords by registration id (secrets): appliance-student.sh reads them on stdin. */
  passwords: Record<string, pulumi.Output<string>>;
  /** CIDRs allowed to reach SSH. */
  adminCidrs: string[];
  /** Admins' public keys (cloud-init on EC2). */
  adminPublicKeys: string[];
  /** Admins' DigitalOcean SshKey ids (droplets). */
  doSshKeyIds: pulumi.Input<string>[];
  /** Private key the platform connects with (secret). */
  sshPrivateKey: pulumi.Input<string>;
  /** SSH user on the appliance. */
  sshUser: string;
  /** Local folder of host scripts copied to /opt/wod/bin. */
  hostDir: string;
  /** Explicit cloud provider for the machine (DigitalOcean, or AWS of the region). */
  provider?: pulumi.ProviderResource;
  /**
   * An `existing` location has no cloud to create machines in: the appliance then runs on the
   * backend host, whose scripts and workshop content are already there.
   */
  onBackend?: { connection: pulumi.Input<Connection>; address: pulumi.Input<string>; remoteDir: string; ready: pulumi.Input<pulumi.Resource>[] };
}

/** `<name>=<base + offset>` port names must stay plain words (they end up in flags). */
const PORT_NAME = /^[a-z][a-z0-9_]*$/;

export class Appliance extends pulumi.ComponentResource {
  /** Public address of the appliance. */
  public readonly address: pulumi.Output<string>;

  constructor(name: string, args: ApplianceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(APPLIANCE, name, {}, opts);
    const ap = args.appliance;
    for (const [field, script] of [["setup", ap.setup], ["studentSetup", ap.studentSetup]] as const) {
      if (script !== undefined && (script.startsWith("/") || script.split("/").includes(".."))) {
        throw new pulumi.ResourceError(`${field}: "${script}" of ${ap.folder} must be a path inside the workshop folder`, this);
      }
    }
    for (const s of ap.students) {
      for (const [port, value] of Object.entries(s.ports)) {
        if (!PORT_NAME.test(port) || !Number.isInteger(value) || value < 1 || value > 65535) {
          throw new pulumi.ResourceError(`students[${s.registrationId}].ports.${port}: ${value} is not a port`, this);
        }
      }
      if (args.passwords[s.registrationId] === undefined) throw new pulumi.ResourceError(`students: registration ${s.registrationId} has no account`, this);
    }

    let connection: pulumi.Input<Connection>;
    let remoteDir: string;
    let ready: pulumi.Input<pulumi.Resource>[];
    let machineId: pulumi.Input<string> = "backend";
    if (args.onBackend) {
      ({ connection, remoteDir, ready } = args.onBackend);
      this.address = pulumi.output(args.onBackend.address);
    } else {
      if (ap.provider === "existing" || !args.provider) throw new pulumi.ResourceError(`provider: appliance ${ap.folder} at ${ap.location} needs a cloud provider or a backend host`, this);
      const machine = declareMachine(
        name,
        {
          cloud: ap.provider,
          name: `${ap.location}-${ap.folder}`,
          region: ap.region,
          size: ap.size,
          image: ap.image,
          labels: { role: "appliance", location: ap.location, workshop: ap.workshop },
          adminCidrs: args.adminCidrs,
          publicPorts: portRanges(ap),
          doSshKeyIds: args.doSshKeyIds,
          adminPublicKeys: args.adminPublicKeys,
          provider: args.provider,
        },
        this,
      );
      this.address = machine.address;
      connection = connectionTo(machine.address, args.sshUser, args.sshPrivateKey);
      const scripts = copyFolder(
        `${name}-bin`,
        { localDir: args.hostDir, remoteDir: BIN_DIR, connection, sshUser: args.sshUser, removeOnDelete: false, triggers: [machine.id, hashFolder(args.hostDir)] },
        this,
      );
      const content = new WorkshopContent(`${name}-content`, { content: args.content, connection, sshUser: args.sshUser, after: scripts }, { parent: this });
      remoteDir = content.remoteDir;
      ready = [content];
      machineId = machine.id;
    }
    if (ap.setup) {
      // Runs once per machine; new content (a new folder) changes `create` and runs it again.
      const setup = new command.remote.Command(
        `${name}-setup`,
        { connection, create: asRoot(args.sshUser, `cd ${shellQuote(remoteDir)} && bash ./${shellQuote(ap.setup)}`), triggers: [machineId] },
        { parent: this, dependsOn: ready },
      );
      ready = [setup];
    }

    if (ap.studentSetup) {
      const script = `${remoteDir}/${ap.studentSetup}`;
      for (const s of ap.students) {
        const flags = (verb: "setup" | "reset") => [
          verb, "--slot", s.slot, "--script", script,
          ...Object.entries(s.ports).sort(([x], [y]) => x.localeCompare(y)).flatMap(([port, value]) => ["--port", `${port}=${value}`]),
        ];
        // Per slot, like StudentAccount: a new registration on the slot resets before it sets up.
        new command.remote.Command(
          `${name}-student${s.slot}`,
          {
            connection,
            create: asRoot(args.sshUser, hostScript("appliance-student.sh", flags("setup"))),
            delete: ap.reset ? asRoot(args.sshUser, hostScript("appliance-student.sh", flags("reset"))) : undefined,
            stdin: pulumi.secret(args.passwords[s.registrationId]),
            triggers: [s.registrationId],
          },
          { parent: this, dependsOn: ready, deleteBeforeReplace: true },
        );
      }
    }
    this.registerOutputs({ address: this.address });
  }
}

/** Per named port, the range its students' ports fall in ("base" or "base-highest"). */
function portRanges(ap: DesiredAppliance): string[] {
  return Object.entries(ap.portBases).map(([port, base]) => {
    const top = Math.max(base, ...ap.students.map((s) => s.ports[port] ?? base));
    return top === base ? String(base) : `${base}-${top}`;
  });
}
