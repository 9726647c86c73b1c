// Loads workshops/WKSHP-*/ folders into validated workshops, collecting every problem
// (file, field, reason) instead of stopping at the first. Takes WoD's wod.yml as WoD publishes it.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, parseDocument } from "yaml";
import { defaultLocations, imageProblem, type LocationConfig, sizeProblem, type StackConfig } from "../config";
import { plainIssues, show } from "./plain";
import { checkCatalog, reportFlags } from "./rules";
import { type Appliance, ApplianceSpec, type CatalogIssue, type Machine, type PerProvider, WOD_RULES, type Workshop, WodYml } from "./schema";

export interface Catalog {
  workshops: Workshop[];
  issues: CatalogIssue[];
}

export const hasErrors = (issues: CatalogIssue[]) => issues.some((i) => i.severity === "error");

/** The part after `WKSHP-` is the workshop's identity: the database and commands key on it. */
const FOLDER = /^WKSHP-([A-Za-z0-9][A-Za-z0-9_.-]*)$/;
/** A wod.yml is a few hundred bytes; anything this large is not one. */
const MAX_WOD_YML_BYTES = 64 * 1024;
/** YAML aliases a wod.yml may expand (an alias bomb expands to gigabytes from a few lines). */
const MAX_ALIASES = 50;

/** Appliance sizes used when neither the wod.yml nor the location names one. */
export const DEFAULT_APPLIANCE_SIZE = { digitalocean: "s-2vcpu-4gb", aws: "t3.medium" } as const;

/** Loads and checks every workshop folder under dir against the stack config. */
export function loadCatalog(dir: string, config: StackConfig): Catalog {
  const issues: CatalogIssue[] = [];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return { workshops: [], issues: [{ file: dir, message: "catalog folder not found; check wod:workshopsDir or --workshops", severity: "error" }] };
  }
  const workshops: Workshop[] = [];
  const raws = new Map<string, Record<string, unknown>>();
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
    const loaded = loadWorkshop(dir, folder, config, issues);
    if (loaded) {
      workshops.push(loaded.workshop);
      raws.set(loaded.workshop.name, loaded.raw);
    }
  }
  issues.push(...checkCatalog(workshops, config, (w) => rel(dir, path.join(w.dir, "wod.yml"))));
  issues.push(...reportFlags(workshops, raws, path.basename(dir)));
  return { workshops, issues };
}

function loadWorkshop(root: string, folder: string, config: StackConfig, issues: CatalogIssue[]): { workshop: Workshop; raw: Record<string, unknown> } | undefined {
  const file = rel(root, path.join(folder, "wod.yml"));
  const problems: CatalogIssue[] = [];
  const error = (message: string, field?: string, at = file) => problems.push({ file: at, field, message, severity: "error" });
  const done = () => (issues.push(...problems), undefined);

  const folderName = path.basename(folder);
  const id = FOLDER.exec(folderName)?.[1];
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
  warnUnknownKeys(raw, Object.keys(WodYml.shape), "", file, issues);
  if (raw.appliance && typeof raw.appliance === "object" && !Array.isArray(raw.appliance)) {
    warnUnknownKeys(raw.appliance as Record<string, unknown>, Object.keys(ApplianceSpec.shape), "appliance.", file, issues);
  }
  const parsed = WodYml.safeParse(raw);
  if (!parsed.success) {
    for (const i of plainIssues(parsed.error.issues, raw, WOD_RULES)) error(i.message, i.path || undefined);
    return done();
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
  if (!id || problems.length) return done();

  const locations = yml.location ? [yml.location] : [...defaultLocations(config)];
  for (const l of yml.alternateLocation) if (!locations.includes(l)) locations.push(l);
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
  issues.push(...problems);
  if (problems.length) return undefined;
  const { name: title, appliance: _spec, priority, ...fields } = yml;
  return {
    raw,
    workshop: { ...fields, name: id, title: title ?? id, priority: priority ?? 0, folder: folderName, dir: folder, locations, appliance, contentHash: hashFolder(folder) },
  };
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

function warnUnknownKeys(raw: Record<string, unknown>, known: string[], prefix: string, file: string, issues: CatalogIssue[]) {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) issues.push({ file, field: prefix + key, message: "unknown field, ignored: not one of wod.yml's fields (check the spelling)", severity: "warning" });
  }
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
