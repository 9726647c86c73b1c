// Declare: the desired state becomes component resources. Explicit providers only (one
// DigitalOcean, one AWS per region used), so no resource ever lands on an ambient default.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as digitalocean from "@pulumi/digitalocean";
import type { StackConfig } from "./config";
import type { DesiredState } from "./desired/types";
import { accountName, serverName } from "./names";
import { Appliance } from "../components/appliance";
import { ArchiveBucket } from "../components/archiveBucket";
import { JupyterHubBackend } from "../components/jupyterHubBackend";
import { normalizeSshKey, sha256, sshKeyFingerprint } from "../components/remote";
import { StudentAccount } from "../components/studentAccount";
import { StudentServer, loginMonitorUserData, studentServerFirewall } from "../components/studentServer";
import { WorkshopContent } from "../components/workshopContent";

export interface StackSecrets {
  /** Private key the platform reaches its machines with (its public half must be in adminSshKeys). */
  sshPrivateKey: pulumi.Input<string>;
}

export interface DeclareOptions {
  /** Host scripts copied to every machine (default: components/host). */
  hostDir?: string;
  /**
   * DigitalOcean ids of the admins' keys when another stack owns them (split stacks: DigitalOcean
   * refuses a key twice per account, so only one stack may create them). Default: create them here.
   */
  doAdminKeyIds?: pulumi.Input<string>[];
}

// Split stacks: the part one stack declares (components/README.md, "Splitting the stack").
export { selectPart, type StackPart } from "./desired/part";

/** What the stack exports; the write-back reads it into the database. */
export interface StackOutputs {
  /** Per location. */
  backends: Record<string, { address: pulumi.Output<string>; hubUrl: pulumi.Output<string> }>;
  /** Per registration id; the password is a secret. */
  accounts: Record<string, { username: pulumi.Output<string>; hubUrl: pulumi.Output<string>; password: pulumi.Output<string> }>;
  /** Per learner id. */
  studentServers: Record<string, { ipv4: pulumi.Output<string> }>;
  /** Archive bucket name, when the archive is enabled. */
  archiveBucket?: pulumi.Output<string>;
  /** DigitalOcean ids of the admins' keys, when this stack created them (for split stacks). */
  doAdminKeyIds?: pulumi.Output<string>[];
}

export function declareStack(desired: DesiredState, config: StackConfig, secrets: StackSecrets, opts: DeclareOptions = {}): StackOutputs {
  const hostDir = opts.hostDir ?? path.join(__dirname, "..", "components", "host");
  const sshPrivateKey = pulumi.secret(secrets.sshPrivateKey);

  let doProvider: digitalocean.Provider | undefined;
  const digitaloceanProvider = () => (doProvider ??= new digitalocean.Provider("digitalocean", {}));
  const awsProviders = new Map<string, aws.Provider>();
  const awsProvider = (region: string) => {
    if (!awsProviders.has(region)) awsProviders.set(region, new aws.Provider(`aws-${region}`, { region: region as aws.Region }));
    return awsProviders.get(region)!;
  };
  const providerFor = (cloud: "digitalocean" | "aws" | "existing", region: string) =>
    cloud === "digitalocean" ? digitaloceanProvider() : cloud === "aws" ? awsProvider(region) : undefined;

  // DigitalOcean refuses the same public key twice in an account: one SshKey per fingerprint,
  // shared by every admin and learner holding it. Named by fingerprint so it never moves.
  const doKeyIds = new Map<string, pulumi.Input<string>>();
  const doKey = (publicKey: string, fingerprint: string, who: string) => {
    if (!doKeyIds.has(fingerprint)) {
      const id = sha256(fingerprint).slice(0, 12);
      const key = new digitalocean.SshKey(
        `ssh-key-${id}`,
        { name: `wod-${who}-${id}`, publicKey: normalizeSshKey(publicKey) },
        { provider: digitaloceanProvider(), deleteBeforeReplace: true },
      );
      doKeyIds.set(fingerprint, key.id);
    }
    return doKeyIds.get(fingerprint)!;
  };
  const usesDigitalOcean =
    desired.studentServers.length > 0 ||
    desired.backends.some((b) => b.provider === "digitalocean") ||
    desired.appliances.some((a) => a.provider === "digitalocean");
  const ownsAdminKeys = usesDigitalOcean && !opts.doAdminKeyIds;
  if (opts.doAdminKeyIds && opts.doAdminKeyIds.length !== config.adminSshKeys.length) {
    throw new Error(`doAdminKeyIds: ${opts.doAdminKeyIds.length} ids for ${config.adminSshKeys.length} adminSshKeys, in the same order`);
  }
  // Keys another stack owns are known by the same fingerprints, so a learner holding one shares it.
  opts.doAdminKeyIds?.forEach((id, i) => doKeyIds.set(sshKeyFingerprint(config.adminSshKeys[i]), id));
  const adminKeyIds = opts.doAdminKeyIds ?? (ownsAdminKeys ? config.adminSshKeys.map((k) => doKey(k, sshKeyFingerprint(k), "admin")) : []);
  const machineArgs = { adminCidrs: config.adminCidrs, adminPublicKeys: config.adminSshKeys, doSshKeyIds: adminKeyIds, sshPrivateKey, hostDir };

  const backends = new Map<string, JupyterHubBackend>();
  for (const b of desired.backends) {
    backends.set(b.location, new JupyterHubBackend(b.location, { backend: b, ...machineArgs, provider: providerFor(b.provider, b.region) }));
  }
  const backendOf = (location: string, what: string) => {
    const backend = backends.get(location);
    if (!backend) throw new Error(`${what}: location "${location}" has no backend in the desired state`);
    return { backend, spec: desired.backends.find((b) => b.location === location)! };
  };

  const contents = new Map<string, WorkshopContent>();
  for (const c of desired.contents) {
    const { backend, spec } = backendOf(c.location, `contents[${c.folder}]`);
    contents.set(`${c.workshop}@${c.location}`, new WorkshopContent(`${c.location}-${c.folder}`, { content: c, connection: backend.connection, sshUser: spec.sshUser, after: [backend.ready] }));
  }
  const contentOf = (workshop: string, location: string, contentHash: string, what: string) => {
    const content = contents.get(`${workshop}@${location}`);
    if (!content) throw new Error(`${what}: workshop ${workshop} has no content at location "${location}"`);
    if (content.contentHash !== contentHash) throw new Error(`${what}: contentHash ${contentHash} is not the shipped ${content.contentHash} of ${workshop}`);
    return content;
  };

  const accounts = new Map<string, StudentAccount>();
  const outputs: StackOutputs = { backends: {}, accounts: {}, studentServers: {} };
  for (const a of desired.accounts) {
    const what = `accounts[${a.registrationId}]`;
    const { backend, spec } = backendOf(a.location, what);
    const content = contentOf(a.workshop, a.location, a.contentHash, what);
    const account = new StudentAccount(accountName(a.location, a.slot), {
      account: a, uidOffset: spec.uidOffset, sshUser: spec.sshUser, connection: backend.connection, hubUrl: backend.hubUrl,
      workshopDir: content.remoteDir, after: [backend.ready, content],
    });
    accounts.set(a.registrationId, account);
    outputs.accounts[a.registrationId] = { username: account.username, hubUrl: account.hubUrl, password: account.password };
  }

  for (const ap of desired.appliances) {
    const what = `appliances[${ap.folder}@${ap.location}]`;
    const { backend, spec } = backendOf(ap.location, what);
    const content = contentOf(ap.workshop, ap.location, ap.contentHash, what);
    const passwords = Object.fromEntries(ap.students.filter((s) => accounts.has(s.registrationId)).map((s) => [s.registrationId, accounts.get(s.registrationId)!.password]));
    const shipped = desired.contents.find((c) => c.workshop === ap.workshop && c.location === ap.location)!;
    new Appliance(`${ap.location}-${ap.folder}`, {
      appliance: ap, content: shipped, passwords, ...machineArgs,
      sshUser: ap.provider === "existing" ? spec.sshUser : "root",
      provider: providerFor(ap.provider, ap.region),
      onBackend: ap.provider === "existing" ? { connection: backend.connection, address: backend.address, remoteDir: content.remoteDir, ready: [backend.ready, content] } : undefined,
    });
  }

  if (desired.studentServers.length > 0) {
    const provider = digitaloceanProvider();
    const tag = studentServerFirewall(provider);
    const userData = loginMonitorUserData(hostDir);
    for (const s of desired.studentServers) {
      const server = new StudentServer(serverName(s.learnerId), {
        server: s, learnerKeyId: doKey(s.sshPublicKey, s.keyFingerprint, "learner"), adminKeyIds, tag: tag.name, userData,
        snapshotBeforeDestroy: config.studentServers.snapshotBeforeDestroy, provider,
      });
      outputs.studentServers[s.learnerId] = { ipv4: server.ipv4 };
    }
  }

  for (const [location, b] of backends) outputs.backends[location] = { address: b.address, hubUrl: b.hubUrl };
  if (ownsAdminKeys) outputs.doAdminKeyIds = adminKeyIds.map((id) => pulumi.output(id));
  if (config.archive.enabled) {
    outputs.archiveBucket = new ArchiveBucket("archive", { expireDays: config.archive.expireDays, provider: awsProvider(config.archive.region) }).bucketName;
  }
  return outputs;
}
