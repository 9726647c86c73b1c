// A workshop's dedicated machine at one location: the machine, the workshop's setup script, and
// one sync of its students (components/host/sync-appliance.py): each live slot gets its share of
// the appliance, a slot that left is released, and what the student script produced for the
// notebooks (tokens, ports) comes back as a secret output the backend's cohort renders from.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { DesiredAppliance, DesiredContent } from "../infra/desired/types";
import { type ConfiguredHostKeys, hostKeyOf } from "./hostKeys";
import { declareMachine } from "./machine";
import { learnerPassword } from "./passwords";
import { BIN_DIR, Connection, asRoot, connectionTo, copyFolder, hostScript, shellQuote, timeLimited } from "./remote";
import { SYNC_SECONDS, parseResults } from "./studentCohort";
import { WorkshopContent } from "./workshopContent";

export const APPLIANCE = "wod:index:Appliance";

export interface ApplianceArgs {
  /** The appliance and its live students with their ports, as the desired state decided them. */
  appliance: DesiredAppliance;
  /** The workshop's folder (holds the setup scripts). */
  content: DesiredContent;
  /** The stack's password seed (secret): each student's appliance account gets their password, on stdin. */
  passwordSeed: pulumi.Input<string>;
  /** uid/gid of student<N> is N + uidOffset (as on the backend). */
  uidOffset: number;
  /** CIDRs allowed to reach SSH. */
  adminCidrs: string[];
  /** Admins' public keys (cloud-init on EC2). */
  adminPublicKeys: string[];
  /** Admins' DigitalOcean SshKey ids (droplets). */
  doSshKeyIds: pulumi.Input<string>[];
  /** Private key the platform connects with (secret). */
  sshPrivateKey: pulumi.Input<string>;
  /** The stack's host-key seed (secret): the machine's host key derives from it (components/hostKeys.ts). */
  hostKeySeed: pulumi.Input<string>;
  /** `wod:hostKeys`: keys to pin for machines that did not get theirs from wod. */
  hostKeys: ConfiguredHostKeys;
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

/** An EC2 appliance's root disk: room for its students' containers and images. */
const APPLIANCE_DISK_GB = 50;

/** `<name>=<base + offset>` port names must stay plain words (they end up in flags). */
const PORT_NAME = /^[a-z][a-z0-9_]*$/;

export class Appliance extends pulumi.ComponentResource {
  /** Public address of the appliance. */
  public readonly address: pulumi.Output<string>;
  /** Per slot, what the student script produced for the notebooks (secret). */
  public readonly values: pulumi.Output<Record<string, Record<string, string>>>;

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
    }

    let connection: pulumi.Input<Connection>;
    let remoteDir: string;
    let ready: pulumi.Input<pulumi.Resource>[];
    let machineId: pulumi.Input<string> = "backend";
    let machine: pulumi.Resource | undefined;
    if (args.onBackend) {
      ({ connection, remoteDir, ready } = args.onBackend);
      this.address = pulumi.output(args.onBackend.address);
    } else {
      if (ap.provider === "existing" || !args.provider) throw new pulumi.ResourceError(`provider: appliance ${ap.folder} at ${ap.location} needs a cloud provider or a backend host`, this);
      const hostKey = hostKeyOf(`${ap.location}-${ap.folder}`, true, args.hostKeySeed, args.hostKeys);
      const created = declareMachine(
        name,
        {
          cloud: ap.provider,
          name: `${ap.location}-${ap.folder}`,
          region: ap.region,
          size: ap.size,
          image: ap.image,
          diskGb: APPLIANCE_DISK_GB,
          hostKey: hostKey.given,
          labels: { role: "appliance", location: ap.location, workshop: ap.workshop },
          adminCidrs: args.adminCidrs,
          publicPorts: portRanges(ap),
          doSshKeyIds: args.doSshKeyIds,
          adminPublicKeys: args.adminPublicKeys,
          provider: args.provider,
        },
        this,
      );
      machine = created.resource;
      this.address = created.address;
      connection = connectionTo(created.address, args.sshUser, args.sshPrivateKey, hostKey.pin);
      const scripts = copyFolder(
        `${name}-bin`,
        { localDir: args.hostDir, remoteDir: BIN_DIR, connection, sshUser: args.sshUser, removeOnDelete: false, triggers: [created.id], machine: created.resource },
        this,
      );
      const content = new WorkshopContent(`${name}-content`, { content: args.content, connection, sshUser: args.sshUser, after: scripts, machine: created.resource }, { parent: this });
      remoteDir = content.remoteDir;
      ready = [content];
      machineId = created.id;
    }
    if (ap.setup) {
      // Runs once per machine; new content (a new folder) changes `create` and runs it again. The
      // provider diffs every input (no Diff of its own in pulumi-command v1.2.1), so a connection
      // change alone (a host key newly pinned) is ignored: a workshop's setup may not be re-runnable.
      const setup = new command.remote.Command(
        `${name}-setup`,
        {
          connection, create: asRoot(args.sshUser, timeLimited(SYNC_SECONDS, `sh -c ${shellQuote(`cd ${shellQuote(remoteDir)} && bash ./${shellQuote(ap.setup)}`)}`)), triggers: [machineId],
          addPreviousOutputInEnv: false,
        },
        // addPreviousOutputInEnv too: on a stack whose setup ran before it existed, the engine drops
        // an ignored input the old inputs lack (sdk/go/common/resource/properties_path.go, Reset), so
        // the setup is not run again for it.
        { parent: this, dependsOn: ready, deletedWith: machine, ignoreChanges: ["connection", "addPreviousOutputInEnv"] },
      );
      ready = [setup];
    }

    this.values = pulumi.secret(pulumi.output<Record<string, Record<string, string>>>({}));
    if (ap.studentSetup) {
      const flags = [
        "--appliance", name, "--script", `${remoteDir}/${ap.studentSetup}`, "--uid-offset", args.uidOffset, "--deadline", SYNC_SECONDS,
        ...(args.onBackend ? ["--on-backend"] : []), ...(ap.reset ? ["--reset"] : []),
      ];
      const stdin = pulumi.secret(pulumi.output(args.passwordSeed).apply((seed) => JSON.stringify({
        slots: Object.fromEntries(ap.students.map((s) => [s.slot, {
          registration: s.registrationId, generation: s.generation, password: learnerPassword(seed, s.registrationId), ports: s.ports,
        }])),
      })));
      const line = (extra: string[]) => asRoot(args.sshUser, timeLimited(SYNC_SECONDS, hostScript("sync-appliance.py", [...flags, ...extra])));
      const students = new command.remote.Command(
        `${name}-students`,
        // The author's script may print what it handles (tokens, passwords): nothing of it is logged.
        { connection, create: line([]), update: line([]), delete: line(["--release-all"]), stdin, logging: "none", addPreviousOutputInEnv: false },
        {
          parent: this, dependsOn: ready, deletedWith: machine,
          // The student script's values (tokens) are secrets.
          additionalSecretOutputs: ["stdout", "stderr"],
          customTimeouts: { create: `${SYNC_SECONDS + 120}s`, update: `${SYNC_SECONDS + 120}s`, delete: `${SYNC_SECONDS + 120}s` },
        },
      );
      this.values = pulumi.secret(students.stdout.apply((out) => {
        const results = parseResults(out) as unknown as { slots?: Record<string, { values?: Record<string, string> }> } | undefined;
        return Object.fromEntries(Object.entries(results?.slots ?? {}).map(([slot, r]) => [slot, r.values ?? {}]));
      }));
    }
    this.registerOutputs({ address: this.address, values: this.values });
  }
}

/** Per named port, the range its students' ports fall in ("base" or "base-highest"). */
function portRanges(ap: DesiredAppliance): string[] {
  return Object.entries(ap.portBases).map(([port, base]) => {
    const top = Math.max(base, ...ap.students.map((s) => s.ports[port] ?? base));
    return top === base ? String(base) : `${base}-${top}`;
  });
}
