// Pulumi's mock engine for the component tests: records every resource with its inputs and
// answers the outputs the program reads. Install before importing program code.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";

/** The runtime's marker for a secret value inside mock inputs. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Registered {
  type: string;
  name: string;
  /** Inputs as the engine received them; secrets stay wrapped (see isSecretValue). */
  inputs: Record<string, unknown>;
  /** Provider reference (`urn::id`), "" for a default provider. */
  provider: string;
  /** The id the mock engine gave it. */
  id: string;
  /** Outputs the mock engine answered. */
  state: Record<string, unknown>;
  /** Resource options as the engine received them (the RegisterResource request). */
  options: {
    deletedWith: string;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    additionalSecretOutputs: string[];
    customTimeouts?: { create: string; update: string; delete: string };
    /** Alias specs: what older URNs this resource takes over. */
    aliases: { urn?: string; parentUrn?: string; name?: string; type?: string }[];
  };
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The value with every secret unwrapped: what ends up on a host or in state. */
export function plain(v: unknown): unknown {
  if (isSecretValue(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export function installMocks() {
  let resources: Registered[] = [];
  // Stable per resource name, so two runs of one program see the same machines.
  const numbers = new Map<string, number>();
  const numberOf = (name: string) => numbers.get(name) ?? (numbers.set(name, numbers.size + 1), numbers.size);
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        switch (args.type) {
          case "digitalocean:index/droplet:Droplet":
            state.ipv4Address = `10.0.${numberOf(args.name) >> 8}.${numberOf(args.name) & 255}`;
            break;
          case "aws:ec2/instance:Instance":
            state.publicIp = `10.1.${numberOf(args.name) >> 8}.${numberOf(args.name) & 255}`;
            break;
          case "random:index/randomPassword:RandomPassword":
            state.result = `pw-${args.name}-Xy7`.padEnd(Number(args.inputs.length ?? 16), "z");
            break;
          case "digitalocean:index/sshKey:SshKey":
            state.fingerprint = `md5-of-${args.name}`;
            break;
          case "aws:s3/bucket:Bucket":
            state.bucket = `${args.inputs.bucketPrefix}mock`;
            break;
        }
        // DigitalOcean droplet ids are numbers (firewalls take them as such).
        const id = args.type === "digitalocean:index/droplet:Droplet" ? String(1000 + numberOf(args.name)) : `${args.name}-id`;
        const options = requested.get(`${args.type}::${args.name}`) ?? { deletedWith: "", retainOnDelete: false, deleteBeforeReplace: false, ignoreChanges: [], additionalSecretOutputs: [], aliases: [] };
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider ?? "", id, state, options });
        return { id, state };
      },
      call(args) {
        // Components must not look anything up: an invoke here is a bug to notice.
        throw new Error(`unmocked invoke ${args.token}`);
      },
    },
    "wod",
    "test",
  );
  // The mocks' newResource sees no resource options; read them off the engine's request instead.
  const requested = new Map<string, Registered["options"]>();
  const monitor = (settings as unknown as { getMonitor(): { registerResource(req: any, cb: unknown): unknown } }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    const t = req.getCustomtimeouts();
    requested.set(`${req.getType()}::${req.getName()}`, {
      deletedWith: req.getDeletedwith(), retainOnDelete: !!req.getRetainondelete(), deleteBeforeReplace: !!req.getDeletebeforereplace(),
      ignoreChanges: req.getIgnorechangesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      customTimeouts: t ? { create: t.getCreate(), update: t.getUpdate(), delete: t.getDelete() } : undefined,
      aliases: req.getAliasesList().map((a: any) => {
        const spec = a.getSpec();
        return a.getUrn() ? { urn: a.getUrn() } : { parentUrn: spec.getParenturn() || undefined, name: spec.getName() || undefined, type: spec.getType() || undefined };
      }),
    });
    return register(req, cb);
  };
  return {
    /** Resources registered since the last take(), then forgets them. */
    take(): Registered[] {
      const out = resources;
      resources = [];
      return out;
    },
  };
}

/** Waits until every registration the program started has reached the mock engine. */
export async function settle(): Promise<void> {
  // Internal but stable: what `pulumi.runtime.disconnect` waits on before closing.
  const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

/** The resolved value of an output. */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Resources of one type, by name. */
export function byType(resources: Registered[], type: string): Registered[] {
  return resources.filter((r) => r.type === type);
}

export const T = {
  droplet: "digitalocean:index/droplet:Droplet",
  doFirewall: "digitalocean:index/firewall:Firewall",
  sshKey: "digitalocean:index/sshKey:SshKey",
  doTag: "digitalocean:index/tag:Tag",
  instance: "aws:ec2/instance:Instance",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  command: "command:remote:Command",
  copyToRemote: "command:remote:CopyToRemote",
  localCommand: "command:local:Command",
  password: "random:index/randomPassword:RandomPassword",
  bucket: "aws:s3/bucket:Bucket",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
} as const;

/** The local folder a CopyToRemote uploads (a FileArchive's path is a promise in the SDK). */
export async function archivePath(r: Registered): Promise<string> {
  return await (r.inputs.source as { path: Promise<string> | string }).path;
}
