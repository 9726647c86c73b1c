// Typed stack config: every `wod:` key, its default, and where a bad value is reported.
// The Pulumi program reads it through pulumi.Config (readPulumiConfig); the offline plan reads
// Pulumi.<stack>.yaml (readStackFile). Both end in parseStackConfig, so both refuse the same values.
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type * as pulumiModule from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { plainIssues, type Rules, show } from "./catalog/plain";

/**
 * Highest uid a slot user may get (slot + uidOffset): Debian's UID_MAX for ordinary users, so slot
 * users stay clear of systemd's dynamic users (61184-65519) and of nobody (65534).
 */
export const MAX_SLOT_UID = 60000;

const name = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/);
const word = z.string().regex(/^\S+$/);
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const host = z.string().refine((v) => HOSTNAME.test(v) || net.isIP(v) !== 0, {
  error: "must be a host name (letters, digits, dashes and dots, no spaces) or an IP address, e.g. eu.workshops.example.org",
});

export function isCidr(value: string): boolean {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(value);
  if (!m) return false;
  const family = net.isIP(m[1]);
  return family !== 0 && Number(m[2]) <= (family === 4 ? 32 : 128);
}

/** A value `pulumi config set --secret` wrote into the stack file: present, but only the engine can read it. */
export const SecureValue = z.strictObject({ secure: z.string() });
export type SecureValue = z.infer<typeof SecureValue>;
export const isSecure = (v: unknown): v is SecureValue =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as SecureValue).secure === "string";

export const LocationConfig = z.strictObject({
  /** Location (backend) name, as wod.yml `location` / `alternateLocation` and `wod:defaultLocations` use it. */
  name,
  /** Where the backend runs: a DigitalOcean droplet, an AWS EC2 instance, or a machine you already have. */
  provider: z.enum(["digitalocean", "aws", "existing"]).default("digitalocean"),
  /** Cloud region (DigitalOcean slug such as fra1, or AWS region such as eu-west-3). */
  region: word.default("fra1"),
  /** Droplet size slug or EC2 instance type. */
  size: word.default("s-4vcpu-8gb"),
  /** Droplet image slug or EC2 AMI id. */
  image: word.default("debian-12-x64"),
  /** Address of an existing machine (provider: existing). */
  host: host.optional(),
  /** SSH user the platform connects as (needs root or passwordless sudo). */
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).default("root"),
  /** Public name of the hub, used in learners' URLs and notebooks (WODBEFQDN, WODBEEXTFQDN). */
  fqdn: host.optional(),
  /** JupyterHub port (WODBEPORT). */
  hubPort: z.number().int().min(1).max(65535).default(8000),
  /** Slots this backend offers: Linux users student<min>..student<max>. */
  slotPool: z.strictObject({ min: z.number().int().min(1), max: z.number().int().min(1) }),
  /** uid/gid of studentN is N + uidOffset. */
  uidOffset: z.number().int().min(1000).default(2000),
  /** Root disk of an EC2 backend, in GB (a droplet's disk comes with its size). */
  diskGb: z.number().int().min(8).max(16384).default(100),
  /** Defaults for workshop appliances at this location, where a wod.yml names none for this provider. */
  appliance: z.strictObject({ size: word.optional(), image: word.optional() }).optional(),
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
  size: word.default("s-1vcpu-1gb"),
  /** Droplet image slug (Ubuntu LTS). */
  image: word.default("ubuntu-24-04-x64"),
  /** Regions learners may pick. */
  allowedRegions: z.array(word).min(1).default(["fra1", "nyc3", "sfo3"]),
  /** Days without an SSH login after which a server is idle. */
  idleDays: z.number().int().min(1).max(3650).default(14),
  /** Days between the idle warning and the removal. */
  warningDays: z.number().int().min(0).max(365).default(3),
  /** Snapshot a server before it is destroyed. */
  snapshotBeforeDestroy: z.boolean().default(true),
});
export type StudentServersConfig = z.infer<typeof StudentServersConfig>;

export const ArchiveConfig = z.strictObject({
  /** Create an S3 bucket for released homes and removed servers' backups. */
  enabled: z.boolean().default(false),
  /** AWS region of the bucket. */
  region: word.default("eu-west-3"),
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

/** The rest of WoD's branding variables (BRANDING itself is `wod:branding`). */
export const BrandConfig = z.strictObject({
  /** BRANDINGWOD: the platform's full name ("Welcome to the …"); `wod:branding` when absent. */
  wod: z.string().optional(),
  /** BRANDINGLOGO: a Markdown line shown at the top of notebooks, e.g. `![logo](https://…/logo.png)`. */
  logo: z.string().default(""),
  /** BRANDINGURL: the community or team page notebooks link to. */
  url: z.string().default("https://github.com/Workshops-on-Demand"),
  /** SURVEYURL: survey linked from conclusion notebooks. */
  surveyUrl: z.string().default(""),
  /** SURVEYCHALURL: quiz linked from challenge conclusions. */
  challengeSurveyUrl: z.string().default(""),
});
export type BrandConfig = z.infer<typeof BrandConfig>;

/** The e-mails learners get (infra/notify/kinds.ts describes each). */
export const MESSAGE_KINDS = [
  "registration-accepted", "credentials-ready", "activation-failed", "registration-cancelled", "registration-reset",
  "ending-soon", "workshop-ended", "server-granted", "server-idle-warning", "server-removed",
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** `ada@example.org` or `Workshops <ada@example.org>`: one line, one address, nothing a header could be split on. */
const MAIL_ADDRESS = /^(?:[^\x00-\x1f\x7f<>"@,;:\\]{0,200}<[^\s@<>,;:"\\]+@[^\s@<>,;:"\\]+>|[^\s@<>,;:"\\]+@[^\s@<>,;:"\\]+)$/;
const mailAddress = z.string().regex(MAIL_ADDRESS);

export const SmtpConfig = z.strictObject({
  /** smtp://host:port (STARTTLS when the server offers it) or smtps://host:port (TLS from the start). */
  url: z.string().regex(/^smtps?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/),
  /** Login user, when the server wants one. */
  user: z.string().min(1).optional(),
  /** Login password: a Pulumi secret (`wod notify` reads it from WOD_SMTP_PASSWORD, or through the Pulumi CLI). */
  password: SecureValue.optional(),
  /** The sender learners see. */
  from: mailAddress,
  /** Where learners' replies go (default: the sender). */
  replyTo: mailAddress.optional(),
});
export type SmtpConfig = z.infer<typeof SmtpConfig>;

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const NotificationsConfig = z.strictObject({
  /** Kinds of e-mail not sent (they are recorded as skipped). */
  off: z.array(z.enum(MESSAGE_KINDS)).default([]),
  /** The ending-soon reminder goes this long before the end (again after an extension). */
  endingSoonMinutes: z.number().int().min(1).max(10080).default(60),
  /** Tries of one message before it is given up (the reason is kept). */
  maxAttempts: z.number().int().min(1).max(100).default(10),
  /** Messages sent at once by one worker. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** A worker's claim on a message expires after this long (a crashed worker's messages go to another). */
  leaseSeconds: z.number().int().min(5).max(3600).default(300),
  /** Times in the texts, an IANA zone such as Europe/Paris. */
  timeZone: z.string().refine(isTimeZone).default("UTC"),
});
export type NotificationsConfig = z.infer<typeof NotificationsConfig>;

/** Names notebooks can use: Jinja identifiers, or WoD's hyphenated hostvars names (`LLM101_API_KEY`, `X-WKSHP-Y`). */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Variables the platform sets for every slot (infra/catalog/variables.ts); wod:variables may not redefine them. */
export const PLATFORM_VARIABLES = [
  "STDID", "USERNAME", "PASSSTU", "WORKSHOP", "MODEWS", "DURATION", "WODBEFQDN", "WODBEEXTFQDN", "WODBEPORT", "WODBEURL",
  "BRANDING", "BRANDINGWOD", "BRANDINGLOGO", "BRANDINGURL", "SURVEYURL", "SURVEYCHALURL", "inventory_hostname", "hostvars",
] as const;

/** A public key line as ssh-keyscan prints it, without the host: `<type> <base64> [comment]`. */
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) AAAA[A-Za-z0-9+/]+={0,2}( [^\n]*)?$/;

export const StackConfig = z.strictObject({
  /** Backends (JupyterHub hosts), one per location. */
  locations: z.array(LocationConfig).min(1),
  /** Where a workshop whose wod.yml has no `location` goes (all locations when absent). */
  defaultLocations: z.array(name).min(1).optional(),
  /** Admins' SSH public keys, put on every backend, appliance and student server. */
  adminSshKeys: z.array(z.string()).default([]),
  /**
   * Host keys to pin, by machine (`<location>-hub`, `<location>-<folder>` for an appliance), for
   * machines whose key wod did not give (components/hostKeys.ts): an existing host, or a machine
   * created before wod pinned keys. "unpinned" accepts any key.
   */
  hostKeys: z.record(z.string(), z.union([z.literal("unpinned"), z.string().regex(HOST_KEY)])).default({}),
  /** CIDRs allowed to reach SSH on the platform's machines. */
  adminCidrs: z.array(z.string().refine(isCidr, { error: "must be an address with a prefix length, e.g. 203.0.113.0/24, or 203.0.113.7/32 for one address" })).default([]),
  /** Name shown to learners in notebooks (BRANDING). */
  branding: z.string().default("Workshops-on-Demand"),
  /** WoD's other branding variables (BRANDINGWOD, BRANDINGLOGO, BRANDINGURL, SURVEYURL, SURVEYCHALURL). */
  brand: BrandConfig.default(BrandConfig.parse({})),
  /** Extra notebook variables (e.g. LLM101_API_KEY); may be secrets; they reach hosts on stdin only. */
  variables: z.record(z.string().regex(VARIABLE_NAME), z.union([z.string(), SecureValue])).default({}),
  /** Minutes before a registration's end when it enters its warning state. */
  warningMinutes: z.number().int().min(0).max(1440).default(60),
  /**
   * Start each learner's notebook server at activation, as WoD does, instead of at their first
   * login (JupyterHub's own way): a started server holds 60-80 MB and a second of CPU for a learner
   * who may not come yet.
   */
  startServers: z.boolean().default(false),
  /** Catalog folder, relative to the project. */
  workshopsDir: z.string().min(1).default("workshops"),
  studentServers: StudentServersConfig.default(StudentServersConfig.parse({})),
  archive: ArchiveConfig.default(ArchiveConfig.parse({})),
  guard: GuardConfig.default(GuardConfig.parse({})),
  /** For a platform split into several stacks: the part this stack runs (everything when absent). */
  part: PartConfig.optional(),
  /** The mail server learners' e-mails go through; without it nothing is sent (messages wait). */
  smtp: SmtpConfig.optional(),
  /** Which e-mails, when, and how hard to try. */
  notifications: NotificationsConfig.default(NotificationsConfig.parse({})),
});
export type StackConfig = z.infer<typeof StackConfig>;

/** Keys that are not part of StackConfig but belong to the stack: read by the program as secrets. */
export const SECRET_KEYS = ["sshPrivateKey"] as const;

/** What each key must hold, in plain words, for messages (`*` = any list index or map key). */
const RULES: Rules = {
  locations: "a list of locations, each with at least name and slotPool, e.g. [{name: eu, slotPool: {min: 1, max: 100}}]",
  "locations.*": "a location: {name, slotPool: {min, max}} plus optional provider, region, size, image, host, sshUser, fqdn, hubPort, uidOffset, appliance",
  "locations.*.name": "lower-case letters, digits and dashes, starting with a letter, at most 40 characters, e.g. eu",
  "locations.*.provider": "one of digitalocean, aws, existing",
  "locations.*.region": "a cloud region without spaces, e.g. fra1 (DigitalOcean) or eu-west-3 (AWS)",
  "locations.*.size": "a machine size without spaces, e.g. s-4vcpu-8gb (DigitalOcean) or m6i.xlarge (AWS)",
  "locations.*.image": "a machine image without spaces, e.g. debian-12-x64 (DigitalOcean) or ami-0123456789abcdef0 (AWS)",
  "locations.*.sshUser": "a Linux user name, e.g. root",
  "locations.*.hubPort": "a whole number from 1 to 65535, e.g. 8000",
  "locations.*.slotPool": "{min, max}: the slots (Linux users student<min>..student<max>) this backend offers, e.g. {min: 1, max: 100}",
  "locations.*.slotPool.min": "a whole number, 1 or more",
  "locations.*.slotPool.max": "a whole number, 1 or more",
  "locations.*.uidOffset": "a whole number, 1000 or more (studentN gets uid N + uidOffset), e.g. 2000",
  "locations.*.diskGb": "a whole number of GB from 8 to 16384, e.g. 100",
  "locations.*.appliance": "{size, image}: defaults for appliances at this location",
  "locations.*.appliance.size": "a machine size without spaces",
  "locations.*.appliance.image": "a machine image without spaces",
  defaultLocations: "a list of location names from wod:locations, e.g. [eu]",
  "defaultLocations.*": "a location name from wod:locations",
  adminSshKeys: "a list of SSH public keys",
  "adminSshKeys.*": "an SSH public key line, e.g. ssh-ed25519 AAAA... admin@example.org",
  hostKeys: "a map of machine name to its SSH host key, e.g. {eu-hub: 'ecdsa-sha2-nistp256 AAAA...'}, or to unpinned",
  "hostKeys.*": "an SSH host key line without the host name (ssh-keyscan -t ecdsa <address> | cut -d' ' -f2-), or unpinned",
  adminCidrs: "a list of CIDRs, e.g. [203.0.113.0/24]",
  branding: "text, e.g. Workshops-on-Demand (quote it when it looks like a number: '2024')",
  brand: "{wod, logo, url, surveyUrl, challengeSurveyUrl}, each text",
  "brand.*": "text",
  variables: "a map of NAME: value, e.g. {LLM101_BASE_URL: 'http://10.0.0.5:8000/v1'}",
  "variables.*": "text, or a secret set with pulumi config set --secret --path 'wod:variables.NAME' VALUE; NAME is letters, digits, _ or -, starting with a letter or _",
  warningMinutes: "a whole number of minutes from 0 to 1440, e.g. 60",
  startServers: "true or false",
  workshopsDir: "a folder path, e.g. workshops",
  studentServers: "{enabled, grantLesson, revokeLesson, size, image, allowedRegions, idleDays, warningDays, snapshotBeforeDestroy}",
  "studentServers.enabled": "true or false",
  "studentServers.grantLesson": "a lesson name, e.g. js4",
  "studentServers.revokeLesson": "a lesson name, e.g. js5",
  "studentServers.size": "a droplet size without spaces, e.g. s-1vcpu-1gb",
  "studentServers.image": "a droplet image without spaces, e.g. ubuntu-24-04-x64",
  "studentServers.allowedRegions": "a non-empty list of regions, e.g. [fra1, nyc3]",
  "studentServers.idleDays": "a whole number of days from 1 to 3650, e.g. 14",
  "studentServers.warningDays": "a whole number of days from 0 to 365, e.g. 3",
  "studentServers.snapshotBeforeDestroy": "true or false",
  archive: "{enabled, region, expireDays}",
  "archive.enabled": "true or false",
  "archive.region": "an AWS region, e.g. eu-west-3",
  "archive.expireDays": "a whole number of days, 1 or more, e.g. 90",
  guard: "{maxDeletes, maxDeleteShare}",
  "guard.maxDeletes": "a whole number, 0 or more, e.g. 25",
  "guard.maxDeleteShare": "a share from 0 to 1, e.g. 0.2",
  part: "{locations, studentServers, adminKeysFrom}",
  "part.locations": "a list of location names from wod:locations",
  "part.studentServers": "true or false",
  "part.adminKeysFrom": "a stack name org/project/stack, e.g. acme/wod/prod-servers",
  smtp: "{url, user, password, from, replyTo}, e.g. {url: 'smtps://mail.example.org:465', from: 'Workshops <wod@example.org>'}",
  "smtp.url": "smtp://host:port or smtps://host:port, without a user or password in it, e.g. smtps://mail.example.org:465",
  "smtp.user": "the login user, text",
  "smtp.password": "a secret: pulumi config set --secret --path 'wod:smtp.password' VALUE (never plain text)",
  "smtp.from": "one address on one line, e.g. wod@example.org or 'Workshops <wod@example.org>'",
  "smtp.replyTo": "one address on one line, e.g. help@example.org",
  notifications: "{off, endingSoonMinutes, maxAttempts, concurrency, leaseSeconds, timeZone}",
  "notifications.off": `a list of kinds of e-mail not to send, from: ${MESSAGE_KINDS.join(", ")}`,
  "notifications.off.*": `one of ${MESSAGE_KINDS.join(", ")}`,
  "notifications.endingSoonMinutes": "a whole number of minutes from 1 to 10080, e.g. 60",
  "notifications.maxAttempts": "a whole number from 1 to 100, e.g. 10",
  "notifications.concurrency": "a whole number from 1 to 64, e.g. 4",
  "notifications.leaseSeconds": "a whole number of seconds from 5 to 3600, e.g. 300",
  "notifications.timeZone": "an IANA time zone, e.g. UTC or Europe/Paris",
};

export class ConfigError extends Error {}

const DO_SIZE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const AWS_SIZE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const AMI = /^ami-[0-9a-f]{8,17}$/;

/** Why a size does not fit a provider, or undefined when it does. */
export function sizeProblem(provider: LocationConfig["provider"], size: string): string | undefined {
  if (provider === "aws" && !AWS_SIZE.test(size)) return `is not an EC2 instance type (an aws location needs one such as t3.medium or m6i.xlarge)`;
  if (provider === "digitalocean" && !DO_SIZE.test(size)) return `is not a DigitalOcean size slug (a digitalocean location needs one such as s-2vcpu-4gb)`;
  return undefined;
}

/** Why an image does not fit a provider, or undefined when it does. */
export function imageProblem(provider: LocationConfig["provider"], image: string): string | undefined {
  if (provider === "aws" && !AMI.test(image)) return `is not an AMI id (an aws location needs one such as ami-0123456789abcdef0, from its region)`;
  if (provider === "digitalocean" && AMI.test(image)) return `is an AWS AMI id (a digitalocean location needs an image slug such as debian-12-x64, or a numeric image id)`;
  return undefined;
}

/** Validates raw `wod:` values; the message names the source, each key path, the value, the rule and the fix. */
export function parseStackConfig(raw: Record<string, unknown>, source: string): StackConfig {
  const result = StackConfig.safeParse(raw);
  if (!result.success) {
    const lines = plainIssues(result.error.issues, raw, RULES).map((i) => `  ${source}: wod:${i.path || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid stack config:\n${lines.join("\n")}`);
  }
  const config = result.data;
  const problems: string[] = [];
  const seen = new Set<string>();
  config.locations.forEach((l, i) => {
    const at = `${source}: wod:locations.${i}`;
    if (seen.has(l.name)) problems.push(`${at}.name: location "${l.name}" is declared twice; give each location its own name`);
    seen.add(l.name);
    if (l.slotPool.min > l.slotPool.max) problems.push(`${at}.slotPool: min ${l.slotPool.min} is above max ${l.slotPool.max}; swap them`);
    if (l.slotPool.max + l.uidOffset > MAX_SLOT_UID) {
      problems.push(
        `${at}.slotPool.max: got ${l.slotPool.max}; slot + uidOffset (${l.uidOffset}) is the slot user's uid and must stay at or below ${MAX_SLOT_UID} ` +
          `(ordinary users, clear of systemd's dynamic users and nobody): use at most ${MAX_SLOT_UID - l.uidOffset}`,
      );
    }
    if (l.provider === "existing" && !l.host) problems.push(`${at}.host: missing; a location with provider "existing" needs the machine's address, e.g. host: 192.0.2.10`);
    if (l.provider !== "existing") {
      const size = sizeProblem(l.provider, l.size);
      if (size) problems.push(`${at}.size: got ${show(l.size)}; ${size}`);
      const image = imageProblem(l.provider, l.image);
      if (image) problems.push(`${at}.image: got ${show(l.image)}; ${image}`);
    }
  });
  for (const key of Object.keys(config.variables)) {
    if ((PLATFORM_VARIABLES as readonly string[]).includes(key)) {
      problems.push(`${source}: wod:variables.${key}: ${key} is set by the platform for every slot (see README, "Notebook variables"); remove it, or choose another name`);
    }
  }
  for (const [key, list] of [["defaultLocations", config.defaultLocations], ["part.locations", config.part?.locations]] as const) {
    for (const l of list ?? []) {
      if (!seen.has(l)) problems.push(`${source}: wod:${key}: location "${l}" is not in wod:locations (known: ${[...seen].join(", ")})`);
    }
  }
  if (problems.length) throw new ConfigError(`invalid stack config:\n  ${problems.join("\n  ")}`);
  return config;
}

/** Where a workshop without `location` goes: `wod:defaultLocations`, or every location. */
export function defaultLocations(config: StackConfig): string[] {
  return config.defaultLocations ?? config.locations.map((l) => l.name);
}

/**
 * Reads the `wod:` keys of a Pulumi.<stack>.yaml file (how the offline plan gets its config).
 * Secrets (`{secure: …}`, written by `pulumi config set --secret`) cannot be decrypted here: they
 * are accepted as present-but-unknown where a secret belongs (wod:sshPrivateKey, wod:variables.*)
 * and refused, naming the key, where a plain value is needed.
 */
export function readStackFile(file: string): StackConfig {
  const source = path.basename(file);
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc !== null && doc !== undefined && (typeof doc !== "object" || Array.isArray(doc))) {
    throw new ConfigError(`${file}: expected a mapping with a config: section`);
  }
  const values = ((doc as { config?: Record<string, unknown> } | null)?.config ?? {}) as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!key.startsWith("wod:")) continue;
    const k = key.slice(4);
    if ((SECRET_KEYS as readonly string[]).includes(k)) {
      if (!isSecure(value)) {
        problems.push(`${source}: ${key}: is stored in plain text; remove it from the file and set it as a secret: pulumi config set --secret ${key} < ~/.ssh/wod_platform`);
      }
      continue;
    }
    raw[k] = stripMisplacedSecrets(asTheEngineReadsIt(k, value), [k], (at) =>
      problems.push(
        at === "variables"
          ? `${source}: wod:variables: is one secret for the whole map; set each variable on its own: pulumi config set --secret --path 'wod:variables.NAME' VALUE`
          : `${source}: wod:${at}: is a secret (set with --secret) but must be a plain value; set it again without --secret: pulumi config set --path 'wod:${at}' VALUE`,
      ),
    );
  }
  const smtp = raw.smtp as Record<string, unknown> | undefined;
  if (smtp && typeof smtp === "object" && smtp.password !== undefined && !isSecure(smtp.password)) {
    // Never echoed: the value is the password.
    problems.push(`${source}: wod:smtp.password: is stored in plain text; remove it from the file and set it as a secret: pulumi config set --secret --path 'wod:smtp.password' VALUE`);
    delete smtp.password;
  }
  let config: StackConfig | undefined;
  try {
    config = parseStackConfig(raw, source);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.message.split("\n").slice(1).map((l) => l.trim()));
  }
  if (problems.length || !config) throw new ConfigError(`invalid stack config:\n  ${problems.join("\n  ")}`);
  return config;
}

/**
 * A top-level value as the program sees it under the engine: `pulumi config set wod:warningMinutes 30`
 * stores the text "30", which getObject parses; `wod:branding: 2024` written unquoted reaches `get`
 * as the text "2024". The plan reads the file the same way, so both accept and refuse alike.
 */
function asTheEngineReadsIt(key: string, value: unknown): unknown {
  if (STRING_KEYS.includes(key)) return typeof value === "number" || typeof value === "boolean" ? String(value) : value;
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Secrets are allowed only as wod:variables values; elsewhere they are reported and dropped. */
function stripMisplacedSecrets(value: unknown, at: string[], report: (path: string) => void): unknown {
  const allowed = (at.length === 2 && at[0] === "variables") || at.join(".") === "smtp.password";
  if (isSecure(value)) {
    if (allowed) return value;
    report(at.join("."));
    return undefined;
  }
  if (Array.isArray(value)) return value.map((v, i) => stripMisplacedSecrets(v, [...at, String(i)], report));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripMisplacedSecrets(v, [...at, k], report)]));
  }
  return value;
}

function pulumiSdk(): typeof pulumiModule {
  // Loaded on use: the offline plan and the tests that never touch the engine skip its start-up cost.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@pulumi/pulumi") as typeof pulumiModule;
}

const innerType = (s: z.ZodType): z.ZodType => {
  const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
  return (def.type === "default" || def.type === "optional") && def.innerType ? innerType(def.innerType) : s;
};
/** Keys whose value is text: read with `get` (JSON-parsing them turns `wod:branding: "2024"` into a number). */
export const STRING_KEYS = Object.entries(StackConfig.shape)
  .filter(([, s]) => (innerType(s as z.ZodType) as unknown as { def: { type: string } }).def.type === "string")
  .map(([k]) => k);

/**
 * The `wod:` keys as the Pulumi engine holds them: `get` for text keys, `getObject` for the
 * structured ones. wod:variables values never enter the StackConfig here (they are masked as
 * secrets): read them with readSecretVariables().
 */
export function readPulumiConfig(): StackConfig {
  const pulumi = pulumiSdk();
  const cfg = new pulumi.Config("wod");
  const source = `Pulumi.${pulumi.getStack()}.yaml`;
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of Object.keys(StackConfig.shape)) {
    try {
      const value = STRING_KEYS.includes(key) ? cfg.get(key) : cfg.getObject<unknown>(key);
      if (value !== undefined) raw[key] = value;
    } catch {
      problems.push(`${source}: wod:${key}: got ${show(cfg.get(key))}; not valid YAML/JSON structure: ${RULES[key] ?? "see README, Stack config"}`);
    }
  }
  for (const full of Object.keys(pulumi.runtime.allConfig())) {
    if (!full.startsWith("wod:")) continue;
    const key = full.slice(4);
    if (!(key in StackConfig.shape) && !(SECRET_KEYS as readonly string[]).includes(key)) {
      problems.push(`${source}: ${full}: unknown key; known keys: ${[...Object.keys(StackConfig.shape), ...SECRET_KEYS].join(", ")} (check the spelling, or remove it)`);
    }
  }
  if (raw.variables && typeof raw.variables === "object" && !Array.isArray(raw.variables)) {
    raw.variables = Object.fromEntries(Object.keys(raw.variables).map((k) => [k, { secure: "" }]));
  }
  // The program never sends mail: the SMTP password stays a secret it does not read.
  if (raw.smtp && typeof raw.smtp === "object" && !Array.isArray(raw.smtp) && "password" in raw.smtp) raw.smtp = { ...raw.smtp, password: { secure: "" } };
  if (problems.length) throw new ConfigError(`invalid stack config:\n  ${problems.join("\n  ")}`);
  return parseStackConfig(raw, source);
}

/** wod:variables with their values, as one secret: what the hosts receive on stdin. */
export function readSecretVariables(): pulumiModule.Output<Record<string, string>> {
  const pulumi = pulumiSdk();
  const values = new pulumi.Config("wod").getSecretObject<Record<string, unknown>>("variables");
  return pulumi.secret(values ?? {}).apply((v) => Object.fromEntries(Object.entries(v ?? {}).map(([k, x]) => [k, String(x)])));
}

/**
 * The platform's SSH private key (secret). Missing: a ConfigError that says how to set it. Not a
 * private key (e.g. a path was stored instead of the file's content): the program fails naming the key.
 */
export function readSshPrivateKey(): pulumiModule.Output<string> {
  const pulumi = pulumiSdk();
  const key = new pulumi.Config("wod").getSecret("sshPrivateKey");
  if (key === undefined) {
    throw new ConfigError(
      `wod:sshPrivateKey is not set for stack ${pulumi.getStack()}: run \`pulumi config set --secret wod:sshPrivateKey < ~/.ssh/wod_platform\` ` +
        `(or provide it from an ESC environment, or the Kubernetes operator's secretsRef); see README, "Running for real"`,
    );
  }
  return key.apply((k) => {
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(k)) {
      throw new ConfigError("wod:sshPrivateKey does not hold a private key (expected the file's content, '-----BEGIN … PRIVATE KEY-----', not its path): set it with `pulumi config set --secret wod:sshPrivateKey < FILE`");
    }
    return k;
  });
}

/** The location's external hub URL as learners open it. */
export function hubUrl(location: LocationConfig, address?: string): string {
  const host = location.fqdn ?? address ?? `${location.name}.invalid`;
  return `http://${host}:${location.hubPort}`;
}
