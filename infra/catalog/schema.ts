// The wod.yml schema: WoD's 22 fields, its location keys, and what appliance workshops need.
import { z } from "zod";

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
    .tuple([z.number().int().min(1), z.number().int().min(1)], { error: "expected [min, max] or [min-max]" })
    .refine(([min, max]) => min <= max, { error: "min is above max" })
    .transform(([min, max]) => ({ min, max })),
);

const stringList = z.preprocess((v) => (typeof v === "string" ? [v] : v ?? []), z.array(z.string().min(1)));

export const ApplianceSpec = z.object({
  /** Droplet size slug or EC2 instance type of the appliance. */
  size: z.string().default("s-2vcpu-4gb"),
  /** Image of the appliance. */
  image: z.string().default("debian-12-x64"),
  /** Script in the workshop folder run once on the appliance when it is created. */
  setup: z.string().optional(),
  /** Script in the workshop folder run per student at activation and at release (reset workshops). */
  studentSetup: z.string().optional(),
  /** Named per-student port bases: the student in slot S gets base + (S - range.min). */
  ports: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, "port names are lower-case words"), z.number().int().min(1024).max(65535)).default({}),
});

export const WodYml = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, dot, dash, underscore"),
  description: z.string().default(""),
  active: z.boolean(),
  capacity: z.number().int().min(0),
  priority: z.number().int().default(0),
  range: SlotRange,
  reset: z.boolean().default(false),
  ldap: z.boolean().default(false),
  monoappliance: z.boolean().default(false),
  multiappliance: z.boolean().default(false),
  replayId: z.number().int().nullable().default(null),
  varpass: z.boolean().default(false),
  compile: z.union([z.literal(false), stringList]).default(false),
  workshopImg: z.string().default(""),
  badgeImg: z.string().default(""),
  beta: z.boolean().default(false),
  category: stringList,
  /** Hours; WoD workshops last 2 or 4. */
  duration: z.number().positive().max(24),
  presenter: z.string().default(""),
  role: z.string().default(""),
  avatar: z.string().default(""),
  replayLink: z.string().default(""),
  location: z.string().min(1),
  alternateLocation: stringList,
  appliance: ApplianceSpec.optional(),
});
export type WodYml = z.infer<typeof WodYml>;

/** A validated workshop folder. */
export interface Workshop extends WodYml {
  /** Folder name, `WKSHP-<Name>`. */
  folder: string;
  /** Absolute path of the folder. */
  dir: string;
  /** Every location that hosts it: `location` first, then `alternateLocation`. */
  locations: string[];
  /** sha256 over the folder's files: changes when any file of this workshop changes. */
  contentHash: string;
}

/** One problem in the catalog, with where and why. */
export interface CatalogIssue {
  file: string;
  field?: string;
  message: string;
  severity: "error" | "warning";
}

export function formatIssue(i: CatalogIssue): string {
  return `${i.severity}: ${i.file}${i.field ? `: ${i.field}` : ""}: ${i.message}`;
}
