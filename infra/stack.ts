// Declare: the desired state becomes component resources. Explicit providers only (one
// DigitalOcean, one AWS per region used), so no resource ever lands on an ambient default.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as digitalocean from "@pulumi/digitalocean";
import * as random from "@pulumi/random";
import type { StackConfig } from "./config";
import type { DesiredAccount, DesiredState } from "./desired/types";
import { serverName } from "./names";
import { Appliance } from "../components/appliance";
import { ArchiveBucket } from "../components/archiveBucket";
import { JupyterHubBackend } from "../components/jupyterHubBackend";
import { normalizeSshKey, sha256, sshKeyFingerprint } from "../components/remote";
import { passwordSeedId } from "../components/passwords";
import { type CohortResults, StudentCohort } from "../components/studentCohort";
import { declareStudentServer, studentServerFirewall } from "../components/studentServer";
import { WorkshopContent } from "../components/workshopContent";

export interface StackSecrets {
  /** Private key the platform reaches its machines with (its public half must be in adminSshKeys). */
  sshPrivateKey: pulumi.Input<string>;
  /** Stack-level notebook variables (`wod:variables`; may hold secrets): they reach hosts on stdin only. */
  variables?: pulumi.Input<Record<string, string>>;
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
  /** hostKey: the key connections pin ("" when none: an existing host whose key the config does not give). */
  backends: Record<string, { address: pulumi.Output<string>; hubUrl: pulumi.Output<string>; hostKey: pulumi.Output<string> }>;
  /** Per cohort: where it is and the per-slot results of its last applied sync. */
  cohorts: Record<string, { location: string; workshop: string; results: pulumi.Output<CohortResults | undefined> }>;
  /** Learners' passwords by registration id (secret): the write-back confirms activations with it. */
  credentials: pulumi.Output<Record<string, string>>;
  /** The seed every learner password derives from (secret): `wod notify` derives the credentials mail's password from it. */
  passwordSeed: pulumi.Output<string>;
  /** Which seed that is (components/passwords.ts passwordSeedId, no secret): the database records it per activation. */
  passwordSeedId: pulumi.Output<string>;
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

  // The admins' DigitalOcean keys: DigitalOcean refuses a public key twice per account, so one
  // stack owns them (one SshKey per fingerprint, named by it so it never moves) and split stacks
  // read them (`wod:part.adminKeysFrom`). Ownership follows the config, never what this run
  // happens to declare: a servers-only stack with no server left must not delete them.
  const ownsAdminKeys = !opts.doAdminKeyIds && usesDigitalOcean(config);
  if (opts.doAdminKeyIds && opts.doAdminKeyIds.length !== config.adminSshKeys.length) {
    throw new Error(`doAdminKeyIds: ${opts.doAdminKeyIds.length} ids for ${config.adminSshKeys.length} adminSshKeys, in the same order`);
  }
  const keyIds = new Map<string, pulumi.Input<string>>(); // by fingerprint: a key listed twice is one SshKey
  const adminKeyIds: pulumi.Input<string>[] = opts.doAdminKeyIds ?? (ownsAdminKeys ? config.adminSshKeys.map((publicKey) => {
    const fingerprint = sshKeyFingerprint(publicKey);
    if (!keyIds.has(fingerprint)) {
      const id = sha256(fingerprint).slice(0, 12);
      keyIds.set(fingerprint, new digitalocean.SshKey(`ssh-key-${id}`, { name: `wod-admin-${id}`, publicKey: normalizeSshKey(publicKey) }, { provider: digitaloceanProvider(), deleteBeforeReplace: true }).id);
    }
    return keyIds.get(fingerprint)!;
  }) : []);
  // Every cloud machine's SSH host key derives from this seed (components/hostKeys.ts): a
  // replaced seed would no longer match the machines' keys, so nothing ever replaces it.
  const hostKeySeed = new random.RandomPassword("host-key-seed", { length: 48, special: false }).result;
  const machineArgs = { adminCidrs: config.adminCidrs, adminPublicKeys: config.adminSshKeys, doSshKeyIds: adminKeyIds, sshPrivateKey, hostDir, hostKeySeed, hostKeys: config.hostKeys };

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
    contents.set(`${c.workshop}@${c.location}`, new WorkshopContent(`${c.location}-${c.folder}`, { content: c, connection: backend.connection, sshUser: spec.sshUser, after: [backend.ready], machine: backend.machine }));
  }
  const contentOf = (workshop: string, location: string, contentHash: string, what: string) => {
    const content = contents.get(`${workshop}@${location}`);
    if (!content) throw new Error(`${what}: workshop ${workshop} has no content at location "${location}"`);
    if (content.contentHash !== contentHash) throw new Error(`${what}: contentHash ${contentHash} is not the shipped ${content.contentHash} of ${workshop}`);
    return content;
  };

  // One secret for every learner password (components/passwords.ts); replacing it rotates them all.
  const passwordSeed = new random.RandomPassword("password-seed", { length: 48, special: false }).result;
  const variables = pulumi.secret(pulumi.output(secrets.variables ?? {}));
  const outputs: StackOutputs = {
    backends: {}, cohorts: {}, credentials: pulumi.secret(pulumi.output<Record<string, string>>({})), studentServers: {},
    passwordSeed: pulumi.secret(passwordSeed), passwordSeedId: pulumi.unsecret(passwordSeed.apply(passwordSeedId)),
  };

  const appliances = new Map<string, Appliance>();
  for (const ap of desired.appliances) {
    const what = `appliances[${ap.folder}@${ap.location}]`;
    const { backend, spec } = backendOf(ap.location, what);
    const content = contentOf(ap.workshop, ap.location, ap.contentHash, what);
    const shipped = desired.contents.find((c) => c.workshop === ap.workshop && c.location === ap.location)!;
    appliances.set(`${ap.workshop}@${ap.location}`, new Appliance(`${ap.location}-${ap.folder}`, {
      appliance: ap, content: shipped, passwordSeed, uidOffset: spec.uidOffset, ...machineArgs,
      sshUser: ap.provider === "existing" ? spec.sshUser : "root",
      provider: providerFor(ap.provider, ap.region),
      onBackend: ap.provider === "existing" ? { connection: backend.connection, address: backend.address, remoteDir: content.remoteDir, ready: [backend.ready, content] } : undefined,
    }));
  }

  const accountsOf = new Map<string, DesiredAccount[]>();
  for (const a of desired.accounts) {
    if (!accountsOf.has(a.cohort)) accountsOf.set(a.cohort, []);
    accountsOf.get(a.cohort)!.push(a);
  }
  const cohorts: StudentCohort[] = [];
  for (const c of desired.cohorts) {
    const what = `cohorts[${c.name}]`;
    const { backend, spec } = backendOf(c.location, what);
    const content = contentOf(c.workshop, c.location, c.contentHash, what);
    const appliance = appliances.get(`${c.workshop}@${c.location}`);
    const cohort = new StudentCohort(c.name, {
      cohort: c, accounts: accountsOf.get(c.name) ?? [], uidOffset: spec.uidOffset, sshUser: spec.sshUser,
      connection: backend.connection, hubUrl: backend.hubUrl, workshopDir: content.remoteDir, passwordSeed,
      passwordInNotebooks: c.passwordInNotebooks, startServers: config.startServers, variables,
      appliance: appliance && { address: appliance.address, values: appliance.values },
      machine: backend.machine, after: [backend.ready, content],
    });
    cohorts.push(cohort);
    outputs.cohorts[c.name] = { location: c.location, workshop: c.workshop, results: cohort.results };
  }
  // One merge over the cohorts (about one per workshop and location), never one output per learner.
  outputs.credentials = pulumi.secret(pulumi.all(cohorts.map((c) => c.passwords)).apply((maps): Record<string, string> => Object.assign({}, ...maps)));

  if (desired.studentServers.length > 0) {
    const provider = digitaloceanProvider();
    const tag = studentServerFirewall(provider);
    for (const s of desired.studentServers) {
      const droplet = declareStudentServer(serverName(s.learnerId), { server: s, adminKeyIds, tag: tag.name, hostDir, provider });
      outputs.studentServers[s.learnerId] = { ipv4: droplet.ipv4Address };
    }
  }

  for (const [location, b] of backends) outputs.backends[location] = { address: b.address, hubUrl: b.hubUrl, hostKey: b.hostKey.apply((k) => k ?? "") };
  if (ownsAdminKeys) outputs.doAdminKeyIds = adminKeyIds.map((id) => pulumi.output(id));
  if (config.archive.enabled) {
    outputs.archiveBucket = new ArchiveBucket("archive", { expireDays: config.archive.expireDays, provider: awsProvider(config.archive.region) }).bucketName;
  }
  return outputs;
}

/** Whether the stack's config puts anything on DigitalOcean (its part's locations, or student servers). */
function usesDigitalOcean(config: StackConfig): boolean {
  const here = (l: string) => !config.part?.locations || config.part.locations.includes(l);
  return config.locations.some((l) => l.provider === "digitalocean" && here(l.name)) ||
    (config.studentServers.enabled && config.part?.studentServers !== false);
}
