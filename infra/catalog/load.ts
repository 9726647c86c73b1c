// Loads workshops/WKSHP-*/ folders into validated workshops, collecting every problem
// (file, field, reason) instead of stopping at the first. Takes WoD's wod.yml as WoD publishes it.
// A workshop with errors of its own is quarantined (quarantine.ts); the others load as usual.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, parseDocument } from "yaml";
import type { z } from "zod";
import { defaultLocations, imageProblem, type LocationConfig, sizeProblem, type StackConfig } from "../config";
import { plainIssues, show } from "./plain";
import { quarantine, type QuarantinedWorkshop } from "./quarantine";
import { checkBetween, checkWorkshop, reportFlags } from "./rules";
import { type Appliance, ApplianceSpec, type CatalogIssue, type Machine, type PerProvider, WOD_RULES, type Workshop, WodYml } from "./schema";

export interface Catalog {
  /** Workshops without errors of their own: planned from their folders. */
  workshops: Workshop[];
  /** Workshops with errors of their own: never planned from their folders (see quarantine.ts). */
  quarantined: QuarantinedWorkshop[];
  /** Every problem found, in one list: errors (each an active workshop's, or the catalog's), warnings, info. */
  issues: CatalogIssue[];
}

export const hasErrors = (issues: CatalogIssue[]) => issues.some((i) => i.severity === "error");

/** Errors of the catalog as a whole (its folder cannot be read): nothing can be planned from it. */
export const catalogErrors = (c: Pick<Catalog, "issues">) => c.issues.filter((i) => i.severity === "error" && !i.workshop);

/** The part after `WKSHP-` is the workshop's identity: the database and commands key on it. */
const FOLDER = /^WKSHP-([A-Za-z0-9][A-Za-z0-9_.-]*)$/;
/** A wod.yml is a few hundred bytes; anything this large is not one. */
const MAX_WOD_YML_BYTES = 64 * 1024;
/** YAML aliases a wod.yml may expand (an alias bomb expands to gigabytes from a few lines). */
const MAX_ALIASES = 50;

/** Appliance sizes used when neither the wod.yml nor the location names one. */
export const DEFAULT_APPLIANCE_SIZE = { digitalocean: "s-2vcpu-4gb", aws: "t3.medium" } as const;

/** What a workshop's wod.yml could not say, so a render check of its templates assumes the lenient value. */
export interface Lenient {
  /** varpass or ldap could not be read: PASSSTU may be available. */
  password: boolean;
  /** The appliance block could not be read: the workshop may have an appliance address. */
  applianceAddress: boolean;
  /** The range (or the placement) could not be read: the rules about slots and ports cannot be checked. */
  range: boolean;
}

/** The render check of one workshop (its templates' problems as errors), given by loadCheckedCatalog. */
export type TemplateCheck = (w: Workshop, lenient?: Lenient) => CatalogIssue[];

/** One workshop folder as loaded: the workshop when its wod.yml holds, and its own problems either way. */
interface Loaded {
  name: string;
  folder: string;
  workshop?: Workshop;
  raw?: Record<string, unknown>;
  /** What the render check renders with: the workshop, or what its wod.yml could tell. */
  draft: Workshop;
  lenient?: Lenient;
  /** Its own errors (and warnings), every one. */
  issues: CatalogIssue[];
}

/**
 * Loads and checks every workshop folder under dir against the stack config. A workshop with
 * errors of its own (folder, wod.yml, templates when checkTemplates is given, the rules it breaks
 * against the config) is quarantined; the rules between workshops apply among the others.
 */
export function loadCatalog(dir: string, config: StackConfig, checkTemplates?: TemplateCheck): Catalog {
  const issues: CatalogIssue[] = [];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return { workshops: [], quarantined: [], issues: [{ file: dir, message: "catalog folder not found; check wod:workshopsDir or --workshops", severity: "error" }] };
  }
  const loaded: Loaded[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".")) continue;
    const folder = path.join(dir, entry.name);
    if (entry.isSymbolicLink() && entry.name.startsWith("WKSHP-")) {
      issues.push({ file: rel(dir, folder), message: "is a symbolic link, ignored: a workshop must be a real folder inside the catalog", severity: "warning" });
      continue;
    }
    if (!entry.isDirectory()) continue;
    if (!entry.name.startsWith("WKSHP-")) {
      issues.push({ file: rel(dir, folder), message: "not a workshop folder (expected WKSHP-<Name>), ignored", severity: "warning" });
      continue;
    }
    loaded.push(loadWorkshop(dir, folder, config));
  }
  for (const l of loaded) {
    // The rules against the config too, as far as a wod.yml in error tells: every error at once.
    if (l.workshop || !l.lenient?.range) l.issues.push(...checkWorkshop(l.draft, config, rel(dir, path.join(l.draft.dir, "wod.yml"))));
    // A wod.yml error never hides the templates' errors: they are rendered with what it could tell.
    if (checkTemplates) l.issues.push(...checkTemplates(l.draft, l.lenient));
  }
  const own = (l: Loaded) => !l.workshop || hasErrors(l.issues);
  const between = checkBetween(loaded.filter((l) => !own(l)).map((l) => l.workshop!), config, (w) => rel(dir, path.join(w.dir, "wod.yml")));
  for (const l of loaded) l.issues.push(...between.filter((i) => i.workshop === l.folder));

  const workshops: Workshop[] = [];
  const quarantined: QuarantinedWorkshop[] = [];
  for (const l of loaded) {
    if (!hasErrors(l.issues)) {
      workshops.push(l.workshop!);
      issues.push(...l.issues);
      continue;
    }
    const q = quarantine(l.name, l.folder, l.draft.active, l.issues);
    quarantined.push(q);
    issues.push(...q.issues);
  }
  const raws = new Map(loaded.filter((l) => l.raw).map((l) => [l.name, l.raw!]));
  issues.push(...reportFlags(workshops, raws, path.basename(dir)));
  return { workshops, quarantined, issues };
}

function loadWorkshop(root: string, folder: string, config: StackConfig): Loaded {
  const file = rel(root, path.join(folder, "wod.yml"));
  const folderName = path.basename(folder);
  const id = FOLDER.exec(folderName)?.[1];
  const name = id ?? folderName.slice("WKSHP-".length);
  const issues: CatalogIssue[] = [];
  const error = (message: string, field?: string, at = file) => issues.push({ file: at, field, message, severity: "error", workshop: folderName });
  const done = (raw?: Record<string, unknown>): Loaded => ({ name, folder: folderName, raw, issues, ...draftOf(name, folder, raw, config) });

  if (!id) error(`folder name ${folderName}: the part after WKSHP- is the workshop's id and may hold only letters, digits, dot, dash and underscore; rename the folder, e.g. WKSHP-Python101`, undefined, rel(root, folder));
  const readme = path.join(folder, "0-ReadMeFirst.ipynb");
  if (!fs.existsSync(readme) || !fs.lstatSync(readme).isFile()) {
    error("missing 0-ReadMeFirst.ipynb: every workshop opens on this notebook; add it to the folder", undefined, rel(root, folder));
  }

  const text = readWodYml(folder, error);
  if (text === undefined) return done();
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    for (const e of doc.errors) error(`invalid YAML at line ${e.linePos?.[0].line ?? "?"}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:$/, "")}; fix the YAML syntax there`);
    return done();
  }
  if (!isMap(doc.contents)) {
    error("expected a mapping of wod.yml fields (name: …, active: …, capacity: …), found something else");
    return done();
  }
  let raw: Record<string, unknown>;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES }) as Record<string, unknown>;
  } catch (e) {
    error(`YAML aliases expand too far (${(e as Error).message.split("\n")[0]}): write the values out instead of repeating aliases`);
    return done();
  }
  const warn = (field: string) => issues.push({ file, field, message: "unknown field, ignored: not one of wod.yml's fields (check the spelling)", severity: "warning", workshop: folderName });
  warnUnknownKeys(raw, Object.keys(WodYml.shape), "", warn);
  if (raw.appliance && typeof raw.appliance === "object" && !Array.isArray(raw.appliance)) {
    warnUnknownKeys(raw.appliance as Record<string, unknown>, Object.keys(ApplianceSpec.shape), "appliance.", warn);
  }
  const parsed = WodYml.safeParse(raw);
  if (!parsed.success) {
    for (const i of plainIssues(parsed.error.issues, raw, WOD_RULES)) error(i.message, i.path || undefined);
    return done(raw);
  }
  const yml = parsed.data;
  if ((yml.monoappliance || yml.multiappliance) && !yml.appliance) {
    error(
      `${yml.monoappliance ? "monoappliance" : "multiappliance"} is true but there is no appliance block: WoD defines appliances in its backend ` +
        `(create-${folderName}.sh, IP-/…PORT-${folderName} entries); here wod.yml declares them: add appliance: with its ports (e.g. ports: {http: 14151}), ` +
        `setup and studentSetup scripts (see README, "Migrating a WoD catalog")`,
      "appliance",
    );
  }
  for (const key of ["setup", "studentSetup"] as const) {
    const script = yml.appliance?.[key];
    if (script) checkScript(folder, script, (m) => error(m, `appliance.${key}`));
  }
  if (!id || hasErrors(issues)) return done(raw);

  const locations = placement(yml.location, yml.alternateLocation, config);
  let appliance: Appliance | undefined;
  if (yml.appliance) {
    const { size, image, ...rest } = yml.appliance;
    const machines: Record<string, Machine> = {};
    for (const l of config.locations.filter((x) => locations.includes(x.name))) {
      const m = resolveMachine(l, size, image, (field, m) => error(m, `appliance.${field}`));
      if (m) machines[l.name] = m;
    }
    appliance = { ...rest, machines };
  }
  if (hasErrors(issues)) return done(raw);
  const { name: title, appliance: _spec, priority, ...fields } = yml;
  const workshop: Workshop = { ...fields, name: id, title: title ?? id, priority: priority ?? 0, folder: folderName, dir: folder, locations, appliance, contentHash: hashFolder(folder) };
  return { name, folder: folderName, raw, issues, workshop, draft: workshop };
}

/** `location` (or `wod:defaultLocations`), then `alternateLocation`. */
function placement(location: string | undefined, alternates: string[], config: StackConfig): string[] {
  const locations = location ? [location] : [...defaultLocations(config)];
  for (const l of alternates) if (!locations.includes(l)) locations.push(l);
  return locations;
}

/**
 * What a wod.yml with errors can still tell the render check: each field that holds is used as it
 * is, a field in error takes the value that makes the fewest template errors (PASSSTU and the
 * appliance address available), so a wod.yml error never hides its templates' errors nor adds false ones.
 */
function draftOf(name: string, folder: string, raw: Record<string, unknown> | undefined, config: StackConfig): { draft: Workshop; lenient: Lenient } {
  const field = <S extends z.ZodType>(schema: S, key: string): { value: z.output<S> } | undefined => {
    if (!raw) return undefined;
    const r = schema.safeParse(raw[key]);
    return r.success ? { value: r.data } : undefined;
  };
  const s = WodYml.shape;
  const varpass = field(s.varpass, "varpass");
  const ldap = field(s.ldap, "ldap");
  const spec = field(s.appliance, "appliance");
  const location = field(s.location, "location");
  const alternates = field(s.alternateLocation, "alternateLocation");
  const range = field(s.range, "range");
  const { size: _size, image: _image, ...appliance } = spec?.value ?? { ports: {}, produces: [] };
  const draft: Workshop = {
    name, title: name, description: "", active: field(s.active, "active")?.value ?? true, capacity: field(s.capacity, "capacity")?.value ?? 0, priority: 0,
    range: range?.value ?? { min: 1, max: 1 }, reset: false, ldap: ldap?.value ?? false,
    monoappliance: field(s.monoappliance, "monoappliance")?.value ?? false, multiappliance: field(s.multiappliance, "multiappliance")?.value ?? false,
    replayId: null, varpass: varpass?.value ?? false, compile: false, workshopImg: "", badgeImg: "", beta: false, category: [],
    duration: field(s.duration, "duration")?.value ?? 2, presenter: "", role: "", avatar: "", replayLink: "", location: location?.value,
    alternateLocation: alternates?.value ?? [],
    folder: path.basename(folder), dir: folder, locations: [], contentHash: "",
    appliance: spec?.value ? { ...appliance, machines: {} } : undefined,
  };
  draft.locations = placement(location?.value, draft.alternateLocation, config);
  return { draft, lenient: { password: !varpass || !ldap, applianceAddress: !spec, range: !range || !location || !alternates || !spec } };
}

/** wod.yml's text, or undefined after reporting why it cannot be read. */
function readWodYml(folder: string, error: (m: string) => void): string | undefined {
  const p = path.join(folder, "wod.yml");
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    error("missing wod.yml: every workshop folder needs one (name, active, capacity, range, duration)");
    return undefined;
  }
  if (st.isSymbolicLink()) {
    if (!inside(folder, p)) {
      error("wod.yml is a symbolic link leading outside the workshop folder; replace it with the file itself");
      return undefined;
    }
    st = fs.statSync(p);
  }
  if (st.isDirectory()) {
    error("wod.yml is a folder; it must be a file");
    return undefined;
  }
  if (!st.isFile()) {
    error("wod.yml is not a regular file; it must be a file");
    return undefined;
  }
  if (st.size > MAX_WOD_YML_BYTES) {
    error(`wod.yml is ${st.size} bytes; a wod.yml holds a few fields (over ${MAX_WOD_YML_BYTES} bytes is refused)`);
    return undefined;
  }
  return fs.readFileSync(p, "utf8");
}

/** An appliance script is a file inside the folder: no absolute path, no `..`, no link leading out. */
function checkScript(folder: string, script: string, error: (m: string) => void) {
  if (path.isAbsolute(script) || script.split(/[\\/]/).includes("..")) {
    error(`got ${show(script)}; must be a path inside the workshop folder (no leading /, no ..), e.g. appliance/setup.sh`);
    return;
  }
  const p = path.join(folder, script);
  if (!fs.existsSync(p)) {
    error(`script ${script} not found in the workshop folder; add it or fix the path`);
  } else if (!inside(folder, p)) {
    error(`script ${script} is a symbolic link leading outside the workshop folder; copy the script into the folder`);
  } else if (!fs.statSync(p).isFile()) {
    error(`script ${script} is not a file`);
  }
}

/** The appliance machine at one location: the wod.yml's value for its provider, else the location's default. */
function resolveMachine(l: LocationConfig, size: PerProvider | undefined, image: PerProvider | undefined, error: (field: string, m: string) => void): Machine | undefined {
  // An `existing` location runs appliances on its backend machine: no machine is created.
  if (l.provider === "existing") return { size: l.size, image: l.image };
  const provider = l.provider;
  const pick = (v: PerProvider | undefined) => (typeof v === "string" ? { value: v, from: "wod.yml" } : v?.[provider] ? { value: v[provider]!, from: `wod.yml (${provider})` } : undefined);
  const s = pick(size) ?? (l.appliance?.size ? { value: l.appliance.size, from: `wod:locations ${l.name} appliance.size` } : { value: DEFAULT_APPLIANCE_SIZE[provider], from: "default" });
  const i = pick(image) ?? (l.appliance?.image ? { value: l.appliance.image, from: `wod:locations ${l.name} appliance.image` } : { value: l.image, from: `the image of location ${l.name}` });
  let ok = true;
  const sp = sizeProblem(l.provider, s.value);
  if (sp) {
    ok = false;
    error("size", `${show(s.value)} from ${s.from} ${sp} at location ${l.name}: write size: {digitalocean: …, ${l.provider}: …}, or set wod:locations ${l.name} appliance.size`);
  }
  const ip = imageProblem(l.provider, i.value);
  if (ip) {
    ok = false;
    error("image", `${show(i.value)} from ${i.from} ${ip} at location ${l.name}: write image: {digitalocean: …, ${l.provider}: …}, or set wod:locations ${l.name} appliance.image`);
  }
  return ok ? { size: s.value, image: i.value } : undefined;
}

function inside(folder: string, p: string): boolean {
  try {
    const real = fs.realpathSync(p);
    const base = fs.realpathSync(folder);
    return real === base || real.startsWith(base + path.sep);
  } catch {
    return false;
  }
}

function warnUnknownKeys(raw: Record<string, unknown>, known: string[], prefix: string, warn: (field: string) => void) {
  for (const key of Object.keys(raw)) if (!known.includes(key)) warn(prefix + key);
}

/** Relative paths of all files in a folder, sorted, so hashes are stable across machines. */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const p = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/**
 * sha256 over each file's relative path and bytes: one edited notebook changes one workshop's hash.
 * Its e-mail texts (wod-mail/) are not content learners get: editing one re-renders nobody.
 */
export function hashFolder(dir: string): string {
  const h = createHash("sha256");
  for (const f of listFiles(dir)) {
    if (f.startsWith("wod-mail/")) continue;
    h.update(f).update("\0").update(fs.readFileSync(path.join(dir, f))).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

const rel = (root: string, p: string) => path.join(path.basename(root), path.relative(root, p));
