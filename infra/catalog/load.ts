// Loads workshops/WKSHP-*/ folders into validated workshops, collecting every problem
// (file, field, reason) instead of stopping at the first.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, parseDocument } from "yaml";
import type { StackConfig } from "../config";
import { checkCatalog } from "./rules";
import { ApplianceSpec, type CatalogIssue, type Workshop, WodYml } from "./schema";

export interface Catalog {
  workshops: Workshop[];
  issues: CatalogIssue[];
}

export const hasErrors = (issues: CatalogIssue[]) => issues.some((i) => i.severity === "error");

/** Loads and checks every workshop folder under dir against the stack config. */
export function loadCatalog(dir: string, config: StackConfig): Catalog {
  const issues: CatalogIssue[] = [];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return { workshops: [], issues: [{ file: dir, message: "catalog folder not found", severity: "error" }] };
  }
  const workshops: Workshop[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const folder = path.join(dir, entry.name);
    if (!entry.name.startsWith("WKSHP-")) {
      issues.push({ file: rel(dir, folder), message: "not a workshop folder (expected WKSHP-<Name>), ignored", severity: "warning" });
      continue;
    }
    const workshop = loadWorkshop(dir, folder, issues);
    if (workshop) workshops.push(workshop);
  }
  issues.push(...checkCatalog(workshops, config, (w) => rel(dir, path.join(w.dir, "wod.yml"))));
  return { workshops, issues };
}

function loadWorkshop(root: string, folder: string, issues: CatalogIssue[]): Workshop | undefined {
  const file = rel(root, path.join(folder, "wod.yml"));
  const problems: CatalogIssue[] = [];
  const error = (message: string, field?: string, at = file) => problems.push({ file: at, field, message, severity: "error" });

  checkFolderFiles(root, folder, error);

  const ymlPath = path.join(folder, "wod.yml");
  if (!fs.existsSync(ymlPath)) {
    error("missing wod.yml");
    issues.push(...problems);
    return undefined;
  }
  const doc = parseDocument(fs.readFileSync(ymlPath, "utf8"), { prettyErrors: true });
  if (doc.errors.length) {
    for (const e of doc.errors) error(`invalid YAML at line ${e.linePos?.[0].line ?? "?"}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:$/, "")}`);
    issues.push(...problems);
    return undefined;
  }
  if (!isMap(doc.contents)) {
    error("expected a mapping of wod.yml fields");
    issues.push(...problems);
    return undefined;
  }
  const raw = doc.toJS() as Record<string, unknown>;
  warnUnknownKeys(raw, Object.keys(WodYml.shape), "", file, issues);
  if (raw.appliance && typeof raw.appliance === "object") {
    warnUnknownKeys(raw.appliance as Record<string, unknown>, Object.keys(ApplianceSpec.shape), "appliance.", file, issues);
  }
  const parsed = WodYml.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) error(i.message, i.path.join(".") || undefined);
    issues.push(...problems);
    return undefined;
  }
  const yml = parsed.data;
  const folderName = path.basename(folder);
  if (folderName !== `WKSHP-${yml.name}`) error(`folder is ${folderName} but name says WKSHP-${yml.name}`, "name");
  if ((yml.monoappliance || yml.multiappliance) && !yml.appliance) error("monoappliance/multiappliance workshops need an appliance block", "appliance");
  for (const script of [yml.appliance?.setup, yml.appliance?.studentSetup]) {
    if (script && !fs.existsSync(path.join(folder, script))) error(`script ${script} not found in the workshop folder`, "appliance");
  }
  issues.push(...problems);
  if (problems.length) return undefined;
  return {
    ...yml,
    folder: folderName,
    dir: folder,
    locations: [yml.location, ...yml.alternateLocation.filter((l) => l !== yml.location)],
    contentHash: hashFolder(folder),
  };
}

/** WoD's folder rules: a ReadMeFirst notebook, and notebooks that Jupyter can open. */
function checkFolderFiles(root: string, folder: string, error: (m: string, f?: string, at?: string) => void) {
  if (!fs.existsSync(path.join(folder, "0-ReadMeFirst.ipynb"))) error("missing 0-ReadMeFirst.ipynb", undefined, rel(root, folder));
  for (const file of listFiles(folder).filter((f) => f.endsWith(".ipynb"))) {
    const at = rel(root, path.join(folder, file));
    try {
      const nb = JSON.parse(fs.readFileSync(path.join(folder, file), "utf8"));
      if (!Array.isArray(nb?.cells) || typeof nb?.nbformat !== "number") error("not a notebook: needs nbformat and a cells list", undefined, at);
    } catch (e) {
      error(`invalid notebook JSON: ${(e as Error).message}`, undefined, at);
    }
  }
}

function warnUnknownKeys(raw: Record<string, unknown>, known: string[], prefix: string, file: string, issues: CatalogIssue[]) {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) issues.push({ file, field: prefix + key, message: "unknown field, ignored", severity: "warning" });
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

/** sha256 over each file's relative path and bytes: one edited notebook changes one workshop's hash. */
export function hashFolder(dir: string): string {
  const h = createHash("sha256");
  for (const f of listFiles(dir)) {
    h.update(f).update("\0").update(fs.readFileSync(path.join(dir, f))).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

const rel = (root: string, p: string) => path.join(path.basename(root), path.relative(root, p));
