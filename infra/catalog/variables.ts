// What a slot's notebooks see: WoD's variable set with WoD's meanings, plus ours. The one place
// that defines it, used by the plan's render check (sampleVariables) and by the desired state
// (slotVariables + secretVariableNames for what arrives on stdin).
import { hubUrl, type LocationConfig, type StackConfig } from "../config";
import type { Workshop } from "./schema";

export interface SlotVariableInput {
  workshop: Workshop;
  location: LocationConfig;
  slot: number;
  config: StackConfig;
  /** Hub address when the location has no fqdn (known only once the machine exists). */
  hubAddress?: string;
  /** The workshop's appliance address at this location, when it has one. */
  applianceAddress?: string;
  /** Values the appliance's per-student setup produced for this slot (e.g. SPARKTOK). */
  produced?: Record<string, string>;
  /** "WKSHP" (default) or "CHLG" for a challenge booking. */
  mode?: "WKSHP" | "CHLG";
}

/** Stand-ins the plan renders with where the real value exists only on the host. */
export const SAMPLE = { password: "Sample-Pa55", hubAddress: "192.0.2.1", applianceAddress: "192.0.2.10" } as const;

/**
 * WoD's name for a per-student appliance port: `http` → HTTPPORT, `ssh` → SSHPORT; a name that
 * already ends in port or portN keeps it (`sparkport2` → SPARKPORT2).
 */
export function wodPortName(port: string): string {
  const upper = port.toUpperCase();
  return /PORT\d*$/.test(upper) ? upper : `${upper}PORT`;
}

/** The appliance address as WoD names it, read with hostvars[inventory_hostname]['IP-WKSHP-<Name>']. */
export const applianceAddressName = (w: Pick<Workshop, "folder">) => `IP-${w.folder}`;

/**
 * Per-student ports: for each appliance port, `PORT_<NAME>` and WoD's `<NAME>PORT` are the
 * student's own port (base + slot - range.min); `<NAME>PORT-WKSHP-<Name>` is the base, as WoD's
 * hostvars hold it.
 */
export function portVariables(w: Pick<Workshop, "appliance" | "range" | "folder">, slot: number): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, base] of Object.entries(w.appliance?.ports ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const port = String(base + (slot - w.range.min));
    vars[`PORT_${name.toUpperCase()}`] = port;
    vars[wodPortName(name)] = port;
    vars[`${wodPortName(name)}-${w.folder}`] = String(base);
  }
  return vars;
}

/** Names a workshop's appliance adds to its notebooks' variables (ports, address, produced values). */
export function applianceVariableNames(w: Pick<Workshop, "appliance" | "range" | "folder">): string[] {
  if (!w.appliance) return [];
  return [...Object.keys(portVariables(w, w.range.min)), applianceAddressName(w), ...w.appliance.produces];
}

/** Everything a slot's notebooks see except the secrets (PASSSTU and wod:variables, which reach the host on stdin only). */
export function slotVariables(v: SlotVariableInput): Record<string, string> {
  const { workshop: w, location: l, slot, config } = v;
  const hub = l.fqdn ?? v.hubAddress;
  const produced = Object.fromEntries((w.appliance?.produces ?? []).filter((n) => v.produced?.[n] !== undefined).map((n) => [n, v.produced![n]]));
  return {
    ...produced,
    ...portVariables(w, slot),
    ...(w.appliance && v.applianceAddress !== undefined ? { [applianceAddressName(w)]: v.applianceAddress } : {}),
    STDID: String(slot),
    USERNAME: `student${slot}`,
    WORKSHOP: w.folder,
    MODEWS: v.mode ?? "WKSHP",
    DURATION: String(w.duration),
    WODBEPORT: String(l.hubPort),
    ...(hub ? { WODBEFQDN: hub, WODBEEXTFQDN: hub, WODBEURL: hubUrl(l, v.hubAddress) } : {}),
    BRANDING: config.branding,
    BRANDINGWOD: config.brand.wod ?? config.branding,
    BRANDINGLOGO: config.brand.logo,
    BRANDINGURL: config.brand.url,
    SURVEYURL: config.brand.surveyUrl,
    SURVEYCHALURL: config.brand.challengeSurveyUrl,
    inventory_hostname: l.name,
  };
}

/** Names of the variables that come from stdin on the host: PASSSTU (only when varpass/ldap) and every wod:variables key. */
export function secretVariableNames(workshop: Workshop, config: StackConfig): string[] {
  return [...(workshop.varpass || workshop.ldap ? ["PASSSTU"] : []), ...Object.keys(config.variables).sort()];
}

/** Full sample context for the plan's render check: first slot of the range, placeholders for secrets, appliance address and produced values. */
export function sampleVariables(workshop: Workshop, location: LocationConfig, config: StackConfig): Record<string, string> {
  const vars = slotVariables({
    workshop, location, slot: workshop.range.min, config,
    hubAddress: location.fqdn ? undefined : SAMPLE.hubAddress,
    applianceAddress: workshop.appliance ? SAMPLE.applianceAddress : undefined,
    produced: Object.fromEntries((workshop.appliance?.produces ?? []).map((n) => [n, `sample-${n}`])),
  });
  for (const name of secretVariableNames(workshop, config)) {
    const plain = config.variables[name];
    vars[name] = name === "PASSSTU" ? SAMPLE.password : typeof plain === "string" ? plain : `sample-${name}`;
  }
  return vars;
}
