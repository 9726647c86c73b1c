// Typed stack config: every `wod:` key, its default, and where a bad value is reported.
// The Pulumi program reads it through pulumi.Config; the offline plan reads Pulumi.<stack>.yaml.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const name = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "lower-case letters, digits and dashes");

export const LocationConfig = z.strictObject({
  /** Location (backend) name, as wod.yml `location` / `alternateLocation` use it. */
  name,
  /** Where the backend runs: a DigitalOcean droplet, an AWS EC2 instance, or a machine you already have. */
  provider: z.enum(["digitalocean", "aws", "existing"]).default("digitalocean"),
  /** Cloud region (DigitalOcean slug such as fra1, or AWS region such as eu-west-3). */
  region: z.string().default("fra1"),
  /** Droplet size slug or EC2 instance type. */
  size: z.string().default("s-4vcpu-8gb"),
  /** Droplet image slug or EC2 AMI id. */
  image: z.string().default("debian-12-x64"),
  /** Address of an existing machine (provider: existing). */
  host: z.string().optional(),
  /** SSH user the platform connects as (needs root or passwordless sudo). */
  sshUser: z.string().default("root"),
  /** Public name of the hub, used in learners' URLs and notebooks (WODBEEXTFQDN). */
  fqdn: z.string().optional(),
  /** JupyterHub port. */
  hubPort: z.number().int().min(1).max(65535).default(8000),
  /** Slots this backend offers: Linux users student<min>..student<max>. */
  slotPool: z.strictObject({ min: z.number().int().min(1), max: z.number().int().min(1) }),
  /** uid/gid of studentN is N + uidOffset. */
  uidOffset: z.number().int().min(1000).default(2000),
});
export type LocationConfig = z.infer<typeof LocationConfig>;

export const StudentServersConfig = z.strictObject({
  /** Whether learners get personal student servers at all. */
  enabled: z.boolean().default(false),
  /** Lesson whose pass grants a server. */
  grantLesson: z.string().default("js4"),
  /** Lesson whose pass revokes it. */
  revokeLesson: z.string().default("js5"),
  /** Droplet size slug. */
  size: z.string().default("s-1vcpu-1gb"),
  /** Droplet image slug (Ubuntu LTS). */
  image: z.string().default("ubuntu-24-04-x64"),
  /** Regions learners may pick. */
  allowedRegions: z.array(z.string()).min(1).default(["fra1", "nyc3", "sfo3"]),
  /** Days without an SSH login after which a server is idle. */
  idleDays: z.number().int().min(1).default(14),
  /** Days between the idle warning and the removal. */
  warningDays: z.number().int().min(0).default(3),
  /** Snapshot a server before it is destroyed. */
  snapshotBeforeDestroy: z.boolean().default(true),
});
export type StudentServersConfig = z.infer<typeof StudentServersConfig>;

export const ArchiveConfig = z.strictObject({
  /** Create an S3 bucket for released homes and removed servers' backups. */
  enabled: z.boolean().default(false),
  /** AWS region of the bucket. */
  region: z.string().default("eu-west-3"),
  /** Days after which archived objects expire. */
  expireDays: z.number().int().min(1).default(90),
});

export const GuardConfig = z.strictObject({
  /** A reconcile aborts when it would delete more than this many accounts or servers... */
  maxDeletes: z.number().int().min(0).default(25),
  /** ...and more than this share of the live ones. */
  maxDeleteShare: z.number().min(0).max(1).default(0.2),
});

export const PartConfig = z.strictObject({
  /** Locations this stack runs (all when absent). */
  locations: z.array(name).optional(),
  /** Whether this stack runs the student servers. */
  studentServers: z.boolean().default(true),
  /** Stack (org/wod/name) whose `doAdminKeyIds` output holds the admins' DigitalOcean keys; only one stack creates them. */
  adminKeysFrom: z.string().optional(),
});
export type PartConfig = z.infer<typeof PartConfig>;

export const StackConfig = z.strictObject({
  /** Backends (JupyterHub hosts), one per location. */
  locations: z.array(LocationConfig).min(1),
  /** Admins' SSH public keys, put on every backend, appliance and student server. */
  adminSshKeys: z.array(z.string()).default([]),
  /** CIDRs allowed to reach SSH on the platform's machines. */
  adminCidrs: z.array(z.string()).default([]),
  /** Name shown to learners in notebooks (BRANDING). */
  branding: z.string().default("Workshops-on-Demand"),
  /** Minutes before a registration's end when it enters its warning state. */
  warningMinutes: z.number().int().min(0).default(60),
  /** Catalog folder, relative to the project. */
  workshopsDir: z.string().default("workshops"),
  studentServers: StudentServersConfig.default(StudentServersConfig.parse({})),
  archive: ArchiveConfig.default(ArchiveConfig.parse({})),
  guard: GuardConfig.default(GuardConfig.parse({})),
  /** For a platform split into several stacks: the part this stack runs (everything when absent). */
  part: PartConfig.optional(),
});
export type StackConfig = z.infer<typeof StackConfig>;

export class ConfigError extends Error {}

/** Validates raw `wod:` values; the message names the source, each key path and the reason. */
export function parseStackConfig(raw: Record<string, unknown>, source: string): StackConfig {
  const result = StackConfig.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${source}: wod:${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid stack config:\n${lines.join("\n")}`);
  }
  const config = result.data;
  const problems: string[] = [];
  const seen = new Set<string>();
  config.locations.forEach((l, i) => {
    const at = `${source}: wod:locations.${i}`;
    if (seen.has(l.name)) problems.push(`${at}.name: location "${l.name}" is declared twice`);
    seen.add(l.name);
    if (l.slotPool.min > l.slotPool.max) problems.push(`${at}.slotPool: min ${l.slotPool.min} is above max ${l.slotPool.max}`);
    if (l.provider === "existing" && !l.host) problems.push(`${at}.host: required when provider is "existing"`);
  });
  for (const l of config.part?.locations ?? []) {
    if (!seen.has(l)) problems.push(`${source}: wod:part.locations: location "${l}" is not in wod:locations`);
  }
  if (problems.length) throw new ConfigError(`invalid stack config:\n  ${problems.join("\n  ")}`);
  return config;
}

/** Reads the `wod:` keys of a Pulumi.<stack>.yaml file (how the offline plan gets its config). */
export function readStackFile(file: string): StackConfig {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  const values = ((doc as { config?: Record<string, unknown> } | null)?.config ?? {}) as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith("wod:")) raw[key.slice(4)] = value;
  }
  return parseStackConfig(raw, path.basename(file));
}

/** The location's external hub URL as learners open it. */
export function hubUrl(location: LocationConfig, address?: string): string {
  const host = location.fqdn ?? address ?? `${location.name}.invalid`;
  return `http://${host}:${location.hubPort}`;
}
