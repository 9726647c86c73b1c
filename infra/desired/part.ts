// A split platform: each stack runs a part (some locations, maybe the student servers).
// Its decision, transitions included, must speak for that part only, so that one stack's
// write-back never releases what another stack still holds.
import type { PartConfig } from "../config";
import type { Snapshot } from "../db/snapshot";
import type { DesiredState } from "./types";

/** One part of the platform. */
export interface StackPart {
  /** Locations this stack runs; all when absent. */
  locations?: string[];
  /** Whether this stack runs the student servers. */
  studentServers: boolean;
}

/** The desired resources restricted to one part. */
export function selectPart(desired: DesiredState, part: StackPart): DesiredState {
  const here = (location: string) => !part.locations || part.locations.includes(location);
  return {
    ...desired,
    backends: desired.backends.filter((b) => here(b.location)),
    contents: desired.contents.filter((c) => here(c.location)),
    accounts: desired.accounts.filter((a) => here(a.location)),
    cohorts: desired.cohorts.filter((c) => here(c.location)),
    appliances: desired.appliances.filter((a) => here(a.location)),
    studentServers: part.studentServers ? desired.studentServers : [],
  };
}

/** Where each registration of a snapshot lives, live or closing: what restrictToPart needs. */
export function registrationLocations(snapshot: Snapshot): (registrationId: string) => string | undefined {
  const map = new Map([...snapshot.registrations, ...snapshot.closing].map((r) => [r.id, r.location]));
  return (id) => map.get(id);
}

export function restrictToPart(desired: DesiredState, part: PartConfig | undefined, locationOf: (registrationId: string) => string | undefined): DesiredState {
  if (!part) return desired;
  const here = (location: string | undefined) => !part.locations || (!!location && part.locations.includes(location));
  const t = desired.transitions;
  return {
    ...selectPart(desired, { locations: part.locations, studentServers: part.studentServers }),
    transitions: {
      expiredRegistrations: t.expiredRegistrations.filter((id) => here(locationOf(id))),
      closedRegistrations: t.closedRegistrations.filter((id) => here(locationOf(id))),
      endedCohorts: t.endedCohorts,
      warnServers: part.studentServers ? t.warnServers : [],
      removeServers: part.studentServers ? t.removeServers : [],
    },
  };
}
