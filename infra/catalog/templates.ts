// The plan's render check: every workshop rendered, as the host will render it, for a sample slot at
// every location hosting it. A template that would fail at activation (an undefined variable, a
// broken tag, a notebook that is no longer notebook JSON once rendered) is a catalog error now.
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultLocations, type StackConfig } from "../config";
import { type Catalog, type Lenient, loadCatalog } from "./load";
import type { CatalogIssue, Workshop } from "./schema";
import { applianceAddressName, SAMPLE, sampleVariables } from "./variables";
import { checkMailTexts } from "../notify/texts";

/** One problem the renderer found: file relative to the workshop folder, 1-based line (0 or absent: the whole file). */
export interface RenderProblem {
  file: string;
  line?: number;
  reason: string;
}

/** components/host/render.js's check: render a folder with these variables, report what fails. */
export type CheckFolder = (srcDir: string, vars: Record<string, string>) => RenderProblem[];

/** The host renderer, shared with activation so the plan checks exactly what the host will run. */
export const RENDERER = path.resolve(__dirname, "../../components/host/render.js");

export function loadRenderer(file = RENDERER): CheckFolder {
  if (!fs.existsSync(file)) throw new Error(`the render check needs the host renderer ${file}, which is missing`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { checkFolder?: CheckFolder };
  if (typeof mod.checkFolder !== "function") throw new Error(`${file} does not export checkFolder(srcDir, vars)`);
  return mod.checkFolder;
}

/** Renders every workshop of the catalog for a sample slot at each location hosting it; problems become errors. */
export function checkTemplates(catalog: Pick<Catalog, "workshops">, config: StackConfig, checkFolder: CheckFolder = loadRenderer()): CatalogIssue[] {
  return catalog.workshops.flatMap((w) => templateIssues(w, config, checkFolder));
}

/**
 * One workshop's render problems as errors. `lenient` names what its wod.yml could not tell (a
 * workshop in error): the sample then offers what that field could have provided.
 */
export function templateIssues(w: Workshop, config: StackConfig, checkFolder: CheckFolder, lenient?: Lenient): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const locations = new Map(config.locations.map((l) => [l.name, l]));
  const placed = w.locations.filter((l) => locations.has(l));
  // A workshop placed nowhere known (an error of its own) is still checked, where it would go by default.
  const hosting = placed.length ? placed : defaultLocations(config).filter((l) => locations.has(l));
  const found = new Map<string, { p: RenderProblem; at: string[] }>();
  for (const name of hosting) {
    let problems: RenderProblem[];
    try {
      const vars = sampleVariables(w, locations.get(name)!, config);
      if (lenient?.password) vars.PASSSTU ??= SAMPLE.password;
      if (lenient?.applianceAddress) vars[applianceAddressName(w)] ??= SAMPLE.applianceAddress;
      problems = checkFolder(w.dir, vars);
    } catch (e) {
      problems = [{ file: ".", reason: `the render check failed: ${(e as Error).message}` }];
    }
    for (const p of problems) {
      const key = `${p.file}\0${p.line ?? ""}\0${p.reason}`;
      if (!found.has(key)) found.set(key, { p, at: [] });
      found.get(key)!.at.push(name);
    }
  }
  for (const { p, at } of found.values()) {
    const where = at.length < hosting.length ? ` (at location ${at.join(", ")})` : "";
    issues.push({
      file: fileOf(w, p.file),
      field: p.line ? `line ${p.line}` : undefined, // 0: about the whole file
      message: `${p.reason}${where}${hint(p.reason, w, config)}`,
      severity: "error",
      workshop: w.folder,
    });
  }
  return issues;
}

/** loadCatalog with the render check of every workshop folder, loaded or not: everything the plan reports about a catalog. */
export function loadCheckedCatalog(dir: string, config: StackConfig, checkFolder: CheckFolder = loadRenderer()): Catalog {
  return loadCatalog(dir, config, (w, lenient) => [...templateIssues(w, config, checkFolder, lenient), ...checkMailTexts([w], config)]);
}

/** What to do about an undefined variable, in the author's terms. */
function hint(reason: string, w: Workshop, config: StackConfig): string {
  const name = undefinedName(reason);
  if (!name) return "";
  const variable = (example: string) => `set it in the stack's wod:variables (wod:variables: {${name}: ${example}}; a name may hold '-')`;
  const hasAppliance = !!w.appliance || w.monoappliance || w.multiappliance;
  if (name === "PASSSTU") return ": the password reaches notebooks only when the workshop sets varpass: true (or ldap: true), as in WoD; add varpass: true to wod.yml";
  if (name === applianceAddressName(w)) {
    return hasAppliance
      ? `: ${name} is the address of this workshop's appliance; add an appliance block to wod.yml (it sets ${name})`
      : `: WoD's backend inventory defined ${name}; for a machine of your platform that every learner of this workshop reaches, ${variable("10.0.0.5")}; if the workshop has an appliance of its own, add an appliance block to wod.yml instead (it sets ${name})`;
  }
  if (/^IP-WKSHP-/.test(name)) return `: only this workshop's own appliance address (${applianceAddressName(w)}) is set by its appliance; another machine's address is a value of your platform: ${variable("10.0.0.5")}`;
  if (/^[A-Z0-9_]+PORT\d*-WKSHP-/.test(name)) {
    const own = name.endsWith(`-${w.folder}`);
    return own && hasAppliance
      ? `: the base of a per-student port of this workshop's appliance: declare it in appliance.ports (e.g. ports: {http: 14151} gives HTTPPORT-${w.folder} = 14151 and HTTPPORT = each student's own port)`
      : `: a port WoD's backend inventory defined, the same for every learner: a stack-specific value, not an appliance port: ${variable("8080")}`;
  }
  if (/^PORT_|PORT\d*$/.test(name)) {
    return hasAppliance
      ? `: per-student ports come from appliance.ports (e.g. ports: {http: 14151} gives HTTPPORT, PORT_HTTP and HTTPPORT-${w.folder}); declare the port, or use WODBEPORT for the hub's port; a port that is the same for every learner (a shared service's) is a stack-specific value: ${variable("8080")}`
      : `: this workshop has no appliance, so ${name} is a stack-specific value (a shared service's port, the same for every learner), not an appliance port: ${variable("8080")}; or use WODBEPORT for the hub's port; a per-student port needs an appliance block with ports`;
  }
  if (name in config.variables) return ""; // never expected: every wod:variables key is in the sample
  return hasAppliance
    ? ": declare it in appliance.produces (a value the appliance's student setup writes) or set it in the stack's wod:variables (see README, \"Notebook variables\")"
    : `: a value of your platform: ${variable('"…"')} (see README, "Notebook variables"), or, if an appliance of this workshop produces it, declare it in appliance.produces`;
}

/** The variable an "is undefined" reason names: `'X' is undefined`, `'hostvars[h]['X']' is undefined`, `undefined variable X`. */
function undefinedName(reason: string): string | undefined {
  const expr = /^'(.+)' is undefined/.exec(reason)?.[1] ?? /undefined variable[: ]+['"]?([A-Za-z_][\w-]*)/i.exec(reason)?.[1];
  if (!expr) return undefined;
  const key = /\[\s*['"]([^'"\]]+)['"]\s*\]$/.exec(expr)?.[1];
  if (key) return key;
  return /^[A-Za-z_][\w-]*$/.test(expr) ? expr : undefined;
}

function fileOf(w: Workshop, file: string): string {
  const inFolder = path.isAbsolute(file) ? path.relative(w.dir, file) : file;
  return path.join(path.basename(path.dirname(w.dir)), w.folder, inFolder === "." ? "" : inFolder);
}
