// Cross-workshop rules: what makes slots and appliance ports safe to hand out on every backend,
// and the one-per-load report of WoD flags this platform accepts without acting on them.
import { defaultLocations, PLATFORM_VARIABLES, type StackConfig } from "../config";
import type { CatalogIssue, Workshop } from "./schema";
import { applianceVariableNames } from "./variables";

/** The hub's API port on a backend (components/host: 127.0.0.1:8081). */
const HUB_API_PORT = 8081;

/**
 * The rules one workshop must meet against the stack config (locations, slot pools, ports,
 * variable names): an error here is the workshop's own and quarantines it.
 */
export function checkWorkshop(w: Workshop, config: StackConfig, file: string): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const add = (severity: CatalogIssue["severity"]) => (_w: Workshop, field: string, message: string) => issues.push({ file, field, message, severity, workshop: w.folder });
  const error = add("error");
  const warning = add("warning");
  const locations = new Map(config.locations.map((l) => [l.name, l]));
  const defaults = defaultLocations(config);

  if (w.capacity > size(w)) {
    warning(w, "capacity", `capacity ${w.capacity} is above the range size ${size(w)} (${span(w)}): slots are handed out only within the range, so it seats at most ${size(w)} learners per location; lower capacity to ${size(w)} or widen the range`);
  }
  for (const name of w.locations) {
    const fromDefault = !w.location && defaults.includes(name);
    const field = fromDefault || name === w.location ? "location" : "alternateLocation";
    const l = locations.get(name);
    if (!l) {
      error(w, field, `location "${name}" is not in the stack config (known: ${[...locations.keys()].join(", ")}); add it to wod:locations or fix the name`);
    } else if (w.range.min < l.slotPool.min || w.range.max > l.slotPool.max) {
      const why = fromDefault ? ` (placed there by ${config.defaultLocations ? "wod:defaultLocations" : "default: every location"}, as wod.yml has no location)` : "";
      const fix = fromDefault ? "widen that slot pool, move the range, or set location: in wod.yml / wod:defaultLocations in the stack" : "widen that slot pool or move the range";
      error(w, "range", `range ${span(w)} is outside the slot pool ${l.slotPool.min}-${l.slotPool.max} of location ${name}${why}; ${fix}`);
    }
    // An `existing` location runs every appliance on its backend, next to the hub.
    if (l?.provider === "existing") {
      for (const [port, base] of Object.entries(w.appliance?.ports ?? {})) {
        const last = base + size(w) - 1;
        for (const reserved of [l.hubPort, HUB_API_PORT]) {
          if (reserved >= base && reserved <= last) {
            error(w, `appliance.ports.${port}`, `ports ${base}-${last} include port ${reserved}, which the hub uses on location ${name} (an existing machine runs appliances on the backend); move the base`);
          }
        }
      }
    }
  }
  checkPorts(w, error);
  checkVariableNames(w, config, error);
  return issues;
}

/**
 * The rules between workshops, checked among the healthy ones: slot ranges on one backend, and
 * appliance ports where appliances share the backend machine. A conflict between two active
 * workshops is an error of both (each message names the other), so both are quarantined:
 * neither can be planned as it is without the other being wrong.
 */
export function checkBetween(workshops: Workshop[], config: StackConfig, fileOf: (w: Workshop) => string): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const add = (severity: CatalogIssue["severity"]) => (w: Workshop, field: string, message: string) => issues.push({ file: fileOf(w), field, message, severity, workshop: w.folder });
  const error = add("error");
  const warning = add("warning");
  const locations = new Map(config.locations.map((l) => [l.name, l]));

  // Ranges hosted on one backend: a slot user belongs to one workshop at a time. One message per
  // pair of workshops, naming every location where they meet.
  const pairs = new Map<string, { a: Workshop; b: Workshop; at: string[] }>();
  for (const name of locations.keys()) {
    for (const [a, b] of overlapping(workshops.filter((w) => w.locations.includes(name)), (w) => [w.range.min, w.range.max])) {
      const key = `${a.name}\0${b.name}`;
      if (!pairs.has(key)) pairs.set(key, { a, b, at: [] });
      pairs.get(key)!.at.push(name);
    }
  }
  for (const { a, b, at } of pairs.values()) {
    const where = `on location${at.length > 1 ? "s" : ""} ${at.join(", ")}`;
    const head = `range ${span(b)} overlaps ${a.name} (${span(a)}) ${where}`;
    const shared = `${Math.max(a.range.min, b.range.min)}-${Math.min(a.range.max, b.range.max)}`;
    if (a.active && b.active) {
      error(b, "range", `${head}: both are active, so one slot could be offered by two workshops; move one range so they share no slot`);
      error(a, "range", `range ${span(a)} overlaps ${b.name} (${span(b)}) ${where}: both are active, so one slot could be offered by two workshops; move one range so they share no slot`);
    } else if (a.active || b.active) {
      const [off, on] = a.active ? [b, a] : [a, b];
      warning(b, "range", `${head}: ${off.name} is inactive, so it takes no registrations and slots ${shared} serve ${on.name} (a slot an earlier ${off.name} learner still holds stays theirs until released); activating ${off.name} as it is would be an error: move one range first`);
    } else {
      warning(b, "range", `${head}: both are inactive, so neither hands out slots; activating both as they are would be an error: move one range first`);
    }
  }

  for (const name of locations.keys()) {
    // An `existing` location runs every appliance on its backend: their ports share one machine.
    if (locations.get(name)!.provider !== "existing") continue;
    const hosted = workshops.filter((w) => w.locations.includes(name));
    const ports = hosted.flatMap((w) => Object.entries(w.appliance?.ports ?? {}).map(([port, base]) => ({ w, port, base, last: base + size(w) - 1 })));
    for (const [a, b] of overlapping(ports, (p) => [p.base, p.last])) {
      if (a.w === b.w) continue; // reported by checkPorts
      const head = `ports ${b.base}-${b.last} overlap ${a.w.name} appliance.ports.${a.port} (${a.base}-${a.last}) on location ${name}, where both appliances run on the backend machine`;
      if (a.w.active && b.w.active) {
        error(b.w, `appliance.ports.${b.port}`, `${head}: two students would get one port; move one base`);
        error(a.w, `appliance.ports.${a.port}`, `ports ${a.base}-${a.last} overlap ${b.w.name} appliance.ports.${b.port} (${b.base}-${b.last}) on location ${name}, where both appliances run on the backend machine: two students would get one port; move one base`);
      } else {
        warning(b.w, `appliance.ports.${b.port}`, `${head}: harmless while one is inactive; activating both as they are would be an error: move one base first`);
      }
    }
  }
  return issues;
}

const span = (w: Workshop) => `${w.range.min}-${w.range.max}`;
const size = (w: Workshop) => w.range.max - w.range.min + 1;

/** Pairs [a, b] whose [first, last] intervals share a value, a starting no later than b. */
function overlapping<T>(items: T[], bounds: (t: T) => [number, number]): [T, T][] {
  const sorted = [...items].sort((x, y) => bounds(x)[0] - bounds(y)[0]);
  const pairs: [T, T][] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && bounds(sorted[j])[0] <= bounds(sorted[i])[1]; j++) pairs.push([sorted[i], sorted[j]]);
  }
  return pairs;
}

/** Each student's ports: inside 1-65535, and distinct between the appliance's port names. */
function checkPorts(w: Workshop, error: (w: Workshop, field: string, m: string) => void) {
  const size = w.range.max - w.range.min + 1;
  const ports = Object.entries(w.appliance?.ports ?? {}).map(([port, base]) => ({ port, base, last: base + size - 1 }));
  for (const p of ports) {
    if (p.last > 65535) {
      error(w, `appliance.ports.${p.port}`, `base ${p.base} + ${size} slots (${w.range.min}-${w.range.max}) reaches port ${p.last}, above 65535; use a base of at most ${65536 - size}`);
    }
  }
  for (const [a, b] of overlapping(ports, (p) => [p.base, p.last])) {
    error(w, `appliance.ports.${b.port}`, `ports ${b.base}-${b.last} overlap appliance.ports.${a.port} (${a.base}-${a.last}) on the same appliance, so two students would get one port; space the bases at least ${size} apart`);
  }
}

/** The names an appliance adds never hide another value: one name, one source. */
function checkVariableNames(w: Workshop, config: StackConfig, error: (w: Workshop, field: string, m: string) => void) {
  const seen = new Set<string>();
  for (const name of applianceVariableNames(w)) {
    const field = w.appliance!.produces.includes(name) ? "appliance.produces" : "appliance.ports";
    if (seen.has(name)) error(w, field, `${name} is defined twice by this appliance (two port names give the same variable, or a produced value has a port's name); rename one`);
    seen.add(name);
    if ((PLATFORM_VARIABLES as readonly string[]).includes(name)) error(w, field, `${name} is set by the platform for every slot; choose another name`);
    if (name in config.variables) error(w, field, `${name} is also in the stack's wod:variables; one name, one source: rename one`);
  }
}

interface FlagRule {
  field: string;
  severity: "info" | "warning";
  applies: (w: Workshop, raw: Record<string, unknown>) => boolean;
  reason: string;
}

const PORTAL_FIELDS = ["description", "category", "workshopImg", "badgeImg", "presenter", "role", "avatar", "replayLink"];

/** WoD flags accepted without effect here (or with a different one), each with its reason. */
export const FLAG_RULES: FlagRule[] = [
  {
    field: "ldap", severity: "info", applies: (w) => w.ldap,
    reason: "accepted, no effect here: no LDAP directory is managed; learners log in to the hub with their slot's password. As in WoD, ldap (like varpass) makes PASSSTU available to the notebooks",
  },
  {
    field: "compile", severity: "info", applies: (w) => w.compile !== false,
    reason: "accepted, no effect here: WoD runs the named scripts from its backend's script folders at each booking; nothing runs on the backend per booking here: do per-student work in appliance.studentSetup",
  },
  {
    field: "beta", severity: "info", applies: (w) => w.beta,
    reason: "accepted, no effect here: a label for WoD's portal; registrations treat beta workshops like any other",
  },
  {
    field: "replayId", severity: "info", applies: (w) => w.replayId !== null,
    reason: "accepted, no effect here: links WoD's portal to a replay video; stored with the workshop in the database for a portal to read",
  },
  {
    field: "priority", severity: "info", applies: (_w, raw) => raw.priority !== undefined && raw.priority !== null,
    reason: "accepted, no effect here: orders WoD's portal listing; stored with the workshop in the database, nothing is placed or ordered by it here",
  },
  {
    field: PORTAL_FIELDS.join(", "), severity: "info", applies: (_w, raw) => PORTAL_FIELDS.some((f) => raw[f] !== undefined && raw[f] !== null && raw[f] !== ""),
    reason: "accepted, no effect here: shown by WoD's portal; stored with the workshop in the database (workshops.catalog) for a portal to read",
  },
  {
    field: "reset", severity: "info", applies: (w) => w.reset && !w.appliance,
    reason: "accepted, no effect here: reset restores per-student appliance state at release, and these workshops have no appliance (a learner's home is wiped at release anyway)",
  },
  {
    field: "multiappliance", severity: "warning", applies: (w) => w.multiappliance,
    reason: "accepted, works differently here: WoD gives each student a machine of their own; here one appliance per location serves all of the workshop's students, each on their own ports",
  },
];

/** One line per flag for the whole catalog, naming the workshops that set it. */
export function reportFlags(workshops: Workshop[], raws: Map<string, Record<string, unknown>>, catalog: string): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  for (const rule of FLAG_RULES) {
    const who = workshops.filter((w) => rule.applies(w, raws.get(w.name) ?? {})).map((w) => w.name);
    if (!who.length) continue;
    const list = who.length === workshops.length && who.length > 1 ? `all ${who.length} workshops` : `workshops: ${who.join(", ")}`;
    issues.push({ file: catalog, field: rule.field, message: `${rule.reason} (${list})`, severity: rule.severity });
  }
  return issues;
}
