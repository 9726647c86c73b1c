// One JupyterHub backend per location: the machine, its firewall, and the bootstrap that installs
// the hub and the slot users through components/host/bootstrap-backend.sh.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import type { DesiredBackend } from "../infra/desired/types";
import { hubUrl } from "../infra/config";
import { type ConfiguredHostKeys, hostKeyOf } from "./hostKeys";
import { declareMachine } from "./machine";
import { BIN_DIR, Connection, asRoot, connectionTo, copyFolder, hashFolder, hostScript, shellQuote, timeLimited } from "./remote";

/** A bootstrap installs packages on a fresh machine: it may take a while, never forever. */
const BOOTSTRAP_SECONDS = 1800;

export const JUPYTERHUB_BACKEND = "wod:index:JupyterHubBackend";

export interface JupyterHubBackendArgs {
  /** The backend as the desired state describes it (machine, hub port, slot pool). */
  backend: DesiredBackend;
  /** CIDRs allowed to reach SSH on cloud machines. */
  adminCidrs: string[];
  /** Admins' public keys (cloud-init on EC2). */
  adminPublicKeys: string[];
  /** Admins' DigitalOcean SshKey ids (droplets). */
  doSshKeyIds: pulumi.Input<string>[];
  /** Private key the platform connects with (secret). */
  sshPrivateKey: pulumi.Input<string>;
  /** The stack's host-key seed (secret): a cloud machine's host key derives from it (components/hostKeys.ts). */
  hostKeySeed: pulumi.Input<string>;
  /** `wod:hostKeys`: keys to pin for machines that did not get theirs from wod. */
  hostKeys: ConfiguredHostKeys;
  /** Local folder of host scripts copied to /opt/wod/bin. */
  hostDir: string;
  /** Explicit provider for the machine: DigitalOcean, or AWS of the region; none for an existing machine. */
  provider?: pulumi.ProviderResource;
}

export class JupyterHubBackend extends pulumi.ComponentResource {
  /** Public address of the backend. */
  public readonly address: pulumi.Output<string>;
  /** URL learners open. */
  public readonly hubUrl: pulumi.Output<string>;
  /** The host key every connection to the machine pins (none: any key is accepted). */
  public readonly hostKey: pulumi.Output<string | undefined>;
  /** SSH connection for the components working on this backend (secret: holds the private key). */
  public readonly connection: pulumi.Output<Connection>;
  /** The bootstrap: accounts and content wait for it. */
  public readonly ready: pulumi.Resource;
  /** The cloud machine (none for an existing host): commands on it are deleted with it. */
  public readonly machine?: pulumi.Resource;

  constructor(name: string, args: JupyterHubBackendArgs, opts?: pulumi.ComponentResourceOptions) {
    super(JUPYTERHUB_BACKEND, name, {}, opts);
    const b = args.backend;
    if (b.slotPool.min > b.slotPool.max) throw new pulumi.ResourceError(`slotPool: min ${b.slotPool.min} is above max ${b.slotPool.max}`, this);
    if (b.provider === "existing" && !b.host) throw new pulumi.ResourceError(`host: required for location "${b.location}" (provider existing)`, this);
    if (b.provider !== "existing" && !args.provider) throw new pulumi.ResourceError(`provider: location "${b.location}" runs on ${b.provider} and needs its provider`, this);

    const hostKey = hostKeyOf(`${b.location}-hub`, b.provider !== "existing", args.hostKeySeed, args.hostKeys);
    const machine =
      b.provider === "existing"
        ? { id: pulumi.output(b.host!), address: pulumi.output(b.host!), resource: undefined }
        : declareMachine(
            name,
            {
              cloud: b.provider,
              name: `${b.location}-hub`,
              region: b.region,
              size: b.size,
              image: b.image,
              diskGb: b.diskGb,
              hostKey: hostKey.given,
              labels: { role: "backend", location: b.location },
              adminCidrs: args.adminCidrs,
              publicPorts: [String(b.hubPort)],
              doSshKeyIds: args.doSshKeyIds,
              adminPublicKeys: args.adminPublicKeys,
              provider: args.provider!,
            },
            this,
          );
    this.address = machine.address;
    this.machine = machine.resource;
    this.hubUrl = machine.address.apply((a) => hubUrl({ ...b, name: b.location, host: b.host }, a));
    this.hostKey = pulumi.output(hostKey.pin);
    this.connection = connectionTo(machine.address, b.sshUser, args.sshPrivateKey, hostKey.pin);

    const scriptsHash = hashFolder(args.hostDir);
    const scripts = copyFolder(
      `${name}-bin`,
      { localDir: args.hostDir, remoteDir: BIN_DIR, connection: this.connection, sshUser: b.sshUser, removeOnDelete: false, triggers: [machine.id], machine: machine.resource },
      this,
    );
    // The hub's API token for the platform's `wod` service; it reaches the host on stdin only.
    const hubToken = new random.RandomPassword(`${name}-hub-token`, { length: 48, special: false }, { parent: this });
    const bootstrap = [
      `chmod 0755 ${BIN_DIR}/*.sh`,
      hostScript("bootstrap-backend.sh", ["--slot-min", b.slotPool.min, "--slot-max", b.slotPool.max, "--uid-offset", b.uidOffset, "--hub-port", b.hubPort]),
    ].join(" && ");
    this.ready = new command.remote.Command(
      `${name}-bootstrap`,
      {
        connection: this.connection,
        create: asRoot(b.sshUser, timeLimited(BOOTSTRAP_SECONDS, `sh -c ${shellQuote(bootstrap)}`)),
        stdin: pulumi.secret(hubToken.result),
        // A new machine or new scripts run the (idempotent) bootstrap again; a new pool changes `create`.
        triggers: [machine.id, scriptsHash],
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: scripts, deletedWith: machine.resource, customTimeouts: { create: `${BOOTSTRAP_SECONDS + 120}s`, update: `${BOOTSTRAP_SECONDS + 120}s` } },
    );

    this.registerOutputs({ address: this.address, hubUrl: this.hubUrl, hostKey: this.hostKey, connection: this.connection });
  }
}

