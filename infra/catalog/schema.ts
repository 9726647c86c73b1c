// The wod.yml schema: WoD's 22 fields as WoD publishes them, its location keys, and the
// appliance block. `name` is WoD's display title; the folder `WKSHP-<Name>` is the identity.
import { z } from "zod";
import { VARIABLE_NAME } from "../config";
import type { Rules } from "./plain";

/** `[min, max]`, or the `[min-max]` / `"min-max"` form found in real WoD catalogs. */
const SlotRange = z.preprocess(
  (value) => {
    if (Array.isArray(value) && value.length === 1 && typeof value[0] === "string") value = value[0];
    if (typeof value === "string") {
      const m = /^\s*\[?\s*(\d+)\s*-\s*(\d+)\s*\]?\s*$/.exec(value);
      return m ? [Number(m[1]), Number(m[2])] : value;
    }
    return value;
  },
  z
    .tuple([z.number().int().min(1), z.number().int().min(1)])
    .refine(([min, max]) => min <= max, { error: "the first slot is above the last; write [min, max] with min ≤ max, e.g. range: [1, 20]" })
    .transform(([min, max]) => ({ min, max })),
);

/** Empty YAML values (`replayLink:`) are null: WoD's tools treat them as empty text. */
const text = z.preprocess((v) => (v === null ? undefined : v), z.string().optional()).transform((v) => v ?? "");
const flag = z.preprocess((v) => (v === null ? undefined : v), z.boolean().optional()).transform((v) => v ?? false);
const stringList = z.preprocess((v) => (typeof v === "string" ? [v] : v ?? []), z.array(z.string().min(1)));
const word = z.string().regex(/^\S+$/);

/** A machine size or image: one value, or one per provider. */
const PerProvider = z.union([word, z.strictObject({ digitalocean: word.optional(), aws: word.optional() })]);
export type PerProvider = z.infer<typeof PerProvider>;

/** Port names are plain words: `http` gives HTTPPORT and PORT_HTTP. */
export const PORT_NAME = /^[a-z][a-z0-9_]*$/;

export const ApplianceSpec = z.object({
  /** Machine size: one value, or `{digitalocean: …, aws: …}`; defaults per location. */
  size: PerProvider.optional(),
  /** Machine image: one value, or `{digitalocean: …, aws: …}`; defaults per location. */
  image: PerProvider.optional(),
  /** Script in the workshop folder run once on the appliance when it is created. */
  setup: z.string().min(1).optional(),
  /** Script in the workshop folder run per student: `bash SCRIPT setup|reset|release`. */
  studentSetup: z.string().min(1).optional(),
  /** Named per-student port bases: the student in slot S gets base + (S - range.min). */
  ports: z.record(z.string().regex(PORT_NAME), z.number().int().min(1024).max(65535)).default({}),
  /** Per-student values the student setup writes to $WOD_VALUES (`KEY=VALUE` lines), e.g. SPARKTOK. */
  produces: z.array(z.string().regex(VARIABLE_NAME)).default([]),
});

export const WodYml = z.object({
  /** WoD's display title. */
  name: z.preprocess((v) => (v === null ? undefined : v), z.string().min(1).optional()),
  description: text,
  active: z.boolean(),
  capacity: z.number().int().min(0),
  priority: z.number().int().nullable().default(0),
  range: SlotRange,
  reset: flag,
  ldap: flag,
  monoappliance: flag,
  multiappliance: flag,
  replayId: z.number().int().nullable().default(null),
  varpass: flag,
  /** WoD: false, or script names (a list, or one comma-separated string). */
  compile: z
    .preprocess((v) => (v === null ? false : typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v), z.union([z.literal(false), z.array(z.string().min(1))]).optional())
    .transform((v) => v ?? false),
  workshopImg: text,
  badgeImg: text,
  beta: flag,
  category: stringList,
  /** Whole hours: a registration ends this long after it starts. */
  duration: z.number().positive().max(24).refine((h) => Number.isInteger(h * 60), { error: "hours, more than 0 and at most 24, in whole minutes, e.g. duration: 1.5" }),
  presenter: text,
  role: text,
  avatar: text,
  replayLink: text,
  /** First location hosting it; absent: the stack's `wod:defaultLocations`. */
  location: z.preprocess((v) => (v === null ? undefined : v), z.string().min(1).optional()),
  alternateLocation: stringList,
  appliance: ApplianceSpec.optional(),
});
export type WodYml = z.infer<typeof WodYml>;

/** What each wod.yml field must hold, in plain words, for messages. */
export const WOD_RULES: Rules = {
  name: "the title learners see, as text, e.g. name: 'Python 101 - A simple introduction to Python'",
  description: "text",
  active: "true (open for registration) or false, e.g. active: true",
  capacity: "a whole number of seats, 0 or more, e.g. capacity: 20",
  priority: "a whole number, e.g. priority: 1",
  range: "the workshop's slots as [min, max] or [min-max], whole numbers from 1, e.g. range: [1, 20]",
  reset: "true or false",
  ldap: "true or false",
  monoappliance: "true or false",
  multiappliance: "true or false",
  varpass: "true or false",
  beta: "true or false",
  replayId: "a whole number, or nothing",
  compile: "false, or script names (a list, or one comma-separated text)",
  workshopImg: "text",
  badgeImg: "text",
  presenter: "text",
  role: "text",
  avatar: "text",
  replayLink: "text",
  category: "a list of text, or one text, e.g. category: ['Open Source']",
  duration: "hours, more than 0 and at most 24, in whole minutes, e.g. duration: 2 or duration: 1.5 (WoD workshops last 2 or 4 hours)",
  location: "a location name from the stack's wod:locations, e.g. location: eu; leave it out to use wod:defaultLocations",
  alternateLocation: "a list of location names from the stack's wod:locations, e.g. alternateLocation: [us]",
  appliance: "a block with ports, setup, studentSetup, produces, size and image (see README, wod.yml)",
  "appliance.size": "a machine size, or one per provider, e.g. size: {digitalocean: s-2vcpu-4gb, aws: t3.medium}",
  "appliance.image": "a machine image, or one per provider, e.g. image: {digitalocean: debian-12-x64, aws: ami-0123456789abcdef0}",
  "appliance.setup": "the path of a script inside the workshop folder, e.g. setup: appliance/setup.sh",
  "appliance.studentSetup": "the path of a script inside the workshop folder, e.g. studentSetup: appliance/student.sh",
  "appliance.ports": "a map of port names to base ports, e.g. ports: {http: 14151, ssh: 14101}",
  "appliance.ports.*": "a port name (lower-case letters, digits and _, starting with a letter) with a whole-number base from 1024 to 65535, e.g. http: 14151",
  "appliance.produces": "a list of the variable names the student setup writes, e.g. produces: [SPARKTOK]",
  "appliance.produces.*": "a variable name: letters, digits, _ or -, starting with a letter or _, e.g. SPARKTOK",
};

export interface Machine {
  /** Droplet size slug or EC2 instance type. */
  size: string;
  /** Droplet image slug or EC2 AMI id. */
  image: string;
}

/** A workshop's appliance, with its machine resolved for every location that hosts it. */
export interface Appliance {
  setup?: string;
  studentSetup?: string;
  ports: Record<string, number>;
  produces: string[];
  /** Machine size and image per location name (the provider's own kind of value). */
  machines: Record<string, Machine>;
}

/** A validated workshop folder. */
export interface Workshop extends Omit<WodYml, "name" | "appliance" | "priority"> {
  /** The identity: the folder `WKSHP-<name>` without its prefix, e.g. Python101 (database, registrations, commands). */
  name: string;
  /** WoD's display title (wod.yml `name`); the identity when wod.yml has none. */
  title: string;
  priority: number;
  /** Folder name, `WKSHP-<Name>`. */
  folder: string;
  /** Absolute path of the folder. */
  dir: string;
  /** Every location that hosts it: `location` (or `wod:defaultLocations`), then `alternateLocation`. */
  locations: string[];
  /** sha256 over the folder's files: changes when any file of this workshop changes. */
  contentHash: string;
  appliance?: Appliance;
  /** Quarantined: declared as its last good catalog sync left it (never from its folder, `dir` is empty). */
  kept?: true;
}

/** One problem in the catalog, with where and why. */
export interface CatalogIssue {
  file: string;
  field?: string;
  message: string;
  /** error: its workshop is quarantined; warning: planned, but not as the author may expect (or an inactive workshop's error); info: worth knowing. */
  severity: "error" | "warning" | "info";
  /** The workshop folder (`WKSHP-<Name>`) it belongs to; absent for the catalog as a whole. */
  workshop?: string;
}

export function formatIssue(i: CatalogIssue): string {
  return `${i.severity}: ${i.file}${i.field ? `: ${i.field}` : ""}: ${i.message}`;
}
