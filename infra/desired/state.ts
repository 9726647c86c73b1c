// The decision: (catalog, database snapshot, stack config, now) → what the stack should contain.
// Pure: no I/O, no clock. Every rule users rely on lives here and in the helpers it calls.
import type { LocationConfig, StackConfig } from "../config";
import type { QuarantinedWorkshop } from "../catalog/quarantine";
import type { Workshop } from "../catalog/schema";
import type { LearnerRow, RegistrationRow, Snapshot, StudentServerRow } from "../db/snapshot";
import { cohortName, shardOf } from "../names";
import { slotVariables } from "../catalog/variables";
import { checkSshKey } from "./ssh-key";
import type {
  DesiredAccount, DesiredAppliance, DesiredBackend, DesiredCohort, DesiredContent, DesiredState, DesiredStudentServer, Rejection,
  Transitions,
} from "./types";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface DecisionInput {
  /** Healthy workshops, and quarantined ones kept from their last good sync (`kept: true`). */
  catalog: Workshop[];
  /** Quarantined workshops: a registration for one that is not kept is rejected with the reason. */
  quarantined?: QuarantinedWorkshop[];
  snapshot: Snapshot;
  config: StackConfig;
  now: Date;
}

export function desiredState({ catalog, quarantined = [], snapshot, config, now }: DecisionInput): DesiredState {
  const rejected: Rejection[] = [];
  const notes: Rejection[] = [];
  const transitions: Transitions = { expiredRegistrations: [], closedRegistrations: [], endedCohorts: {}, warnServers: [], removeServers: [] };
  const workshops = new Map(catalog.map((w) => [w.name, w]));
  const locations = new Map(config.locations.map((l) => [l.name, l]));

  const accounts = decideAccounts(snapshot.registrations, workshops, new Set(quarantined.map((q) => q.name)), locations, config, now, rejected, notes, transitions);
  transitions.closedRegistrations = snapshot.closing.map((c) => c.id);
  for (const r of [...snapshot.registrations.filter((x) => transitions.expiredRegistrations.includes(x.id)), ...snapshot.closing]) {
    transitions.endedCohorts[r.id] = cohortName(r.location, `WKSHP-${r.workshop}`, shardOf(r.slot));
  }
  const backends = config.locations.map((l) => backendOf(l, catalog));
  const contents = decideContents(catalog, accounts);
  const cohorts = decideCohorts(catalog, contents, accounts, retriesOf(snapshot, now), notes);
  const appliances = decideAppliances(catalog, accounts, locations);
  const studentServers = config.studentServers.enabled
    ? decideStudentServers(snapshot.learners, snapshot.studentServers, config, now, rejected, transitions)
    : noStudentServers(snapshot.studentServers, transitions);

  return { backends, contents, accounts, cohorts, appliances, studentServers, rejected, notes, transitions };
}

function backendOf(l: LocationConfig, catalog: Workshop[]): DesiredBackend {
  return {
    location: l.name, provider: l.provider, region: l.region, size: l.size, image: l.image, host: l.host, sshUser: l.sshUser,
    fqdn: l.fqdn, hubPort: l.hubPort, slotPool: l.slotPool, uidOffset: l.uidOffset, diskGb: l.diskGb,
    workshops: catalog.filter((w) => w.locations.includes(l.name)).map((w) => w.name),
  };
}

function decideAccounts(
  registrations: RegistrationRow[], workshops: Map<string, Workshop>, quarantined: Set<string>, locations: Map<string, LocationConfig>,
  config: StackConfig, now: Date, rejected: Rejection[], notes: Rejection[], transitions: Transitions,
): DesiredAccount[] {
  const accounts: DesiredAccount[] = [];
  const held = new Map<string, string>(); // location/slot → registration id
  for (const r of [...registrations].sort((a, b) => Number(a.id) - Number(b.id))) {
    const reject = (reason: string) => rejected.push({ kind: "registration", id: r.id, reason });
    if (r.endsAt.getTime() <= now.getTime()) {
      transitions.expiredRegistrations.push(r.id); // CLEANUP: its account leaves the desired state
      continue;
    }
    if (r.startsAt.getTime() > now.getTime()) continue; // booked for later: nothing to do yet
    const w = workshops.get(r.workshop);
    if (!w) {
      reject(quarantined.has(r.workshop) ? `workshop ${r.workshop} is quarantined and has no good catalog sync to keep it from: no seats until it is fixed` : `unknown workshop ${r.workshop}`);
      continue;
    }
    const location = locations.get(r.location);
    if (!location) { reject(`unknown location ${r.location}`); continue; }
    if (!w.locations.includes(r.location)) { reject(`workshop ${w.name} is not hosted on location ${r.location}`); continue; }
    if (r.slot < w.range.min || r.slot > w.range.max) {
      // A catalog edit never takes a slot from a learner mid-workshop: an activated one keeps it until it ends.
      if (r.status !== "active") {
        reject(`slot ${r.slot} is outside the range ${w.range.min}-${w.range.max} of ${w.name}`);
        continue;
      }
      notes.push({ kind: "registration", id: r.id, reason: `slot ${r.slot} is outside the range ${w.range.min}-${w.range.max} of ${w.name}; kept until the registration ends` });
    }
    const key = `${r.location}/${r.slot}`;
    if (held.has(key)) { reject(`slot ${r.slot} on ${r.location} is already held by registration ${held.get(key)}`); continue; }
    held.set(key, r.id);

    const ports = appliancePorts(w, r.slot);
    const username = `student${r.slot}`;
    accounts.push({
      registrationId: r.id, generation: r.generation, cohort: cohortName(r.location, w.folder, shardOf(r.slot)),
      participantId: r.participantId, workshop: w.name, folder: w.folder, location: r.location,
      slot: r.slot, username, uid: r.slot + location.uidOffset,
      startsAt: r.startsAt.toISOString(), endsAt: r.endsAt.toISOString(),
      phase: r.endsAt.getTime() - now.getTime() <= config.warningMinutes * 60_000 ? "ending" : "active",
      contentHash: w.contentHash,
      // Without an fqdn, the hub address, the appliance's address and what its student setup
      // produced are known only at apply time: the cohort adds them (components/studentCohort.ts).
      variables: slotVariables({ workshop: w, location, slot: r.slot, config }),
      ports, reset: w.reset,
    });
  }
  return accounts;
}

/** Per-student ports on the appliance: base + (slot - range.min), one per named port. */
export function appliancePorts(w: Pick<Workshop, "appliance" | "range">, slot: number): Record<string, number> {
  return Object.fromEntries(Object.entries(w.appliance?.ports ?? {}).map(([name, base]) => [name, base + (slot - w.range.min)]));
}

/** Content goes wherever the workshop is open, and stays while an account still uses it. */
function decideContents(catalog: Workshop[], accounts: DesiredAccount[]): DesiredContent[] {
  const inUse = new Set(accounts.map((a) => `${a.workshop}@${a.location}`));
  return catalog.flatMap((w) =>
    w.locations
      .filter((l) => w.active || inUse.has(`${w.name}@${l}`))
      .map((location) => ({ workshop: w.name, folder: w.folder, location, dir: w.dir, contentHash: w.contentHash, ...(w.kept ? { kept: true as const } : {}) })),
  );
}

/**
 * One cohort per shard of slot numbers a workshop's range covers at each location it is shipped
 * to (empty ones included, so a workshop's last learner leaving is an update, not a delete), plus
 * the shards of kept learners outside the range.
 */
function decideCohorts(
  catalog: Workshop[], contents: DesiredContent[], accounts: DesiredAccount[], retries: Map<string, { cohort: string; attempts: number }>,
  notes: Rejection[],
): DesiredCohort[] {
  const byName = new Map<string, DesiredCohort>();
  const workshops = new Map(catalog.map((w) => [w.name, w]));
  const cohort = (c: DesiredContent, shard: number) => {
    const name = cohortName(c.location, c.folder, shard);
    if (!byName.has(name)) {
      const w = workshops.get(c.workshop)!;
      byName.set(name, {
        name, location: c.location, workshop: c.workshop, folder: c.folder, shard, contentHash: c.contentHash,
        passwordInNotebooks: w.varpass || w.ldap, slots: {}, retries: {},
      });
    }
    return byName.get(name)!;
  };
  const contentOf = new Map(contents.map((c) => [`${c.workshop}@${c.location}`, c]));
  for (const c of contents) {
    const w = workshops.get(c.workshop)!;
    for (let shard = shardOf(w.range.min); shard <= shardOf(w.range.max); shard++) cohort(c, shard);
  }
  for (const a of accounts) cohort(contentOf.get(`${a.workshop}@${a.location}`)!, shardOf(a.slot)).slots[String(a.slot)] = `${a.registrationId}#${a.generation}`;
  for (const [registration, { cohort: name, attempts }] of retries) {
    const c = byName.get(name);
    if (c) c.retries[registration] = attempts;
    else notes.push({ kind: "registration", id: registration, reason: `its release failed ${attempts} time(s) and its workshop is no longer shipped to ${name.split("-")[0]}: release it by hand` });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Ended registrations whose release failed before, by the cohort that must try again. */
function retriesOf(snapshot: Snapshot, now: Date): Map<string, { cohort: string; attempts: number }> {
  const out = new Map<string, { cohort: string; attempts: number }>();
  const ended = [
    ...snapshot.registrations.filter((r) => r.endsAt.getTime() <= now.getTime()),
    ...snapshot.closing,
  ];
  for (const r of ended) {
    if (r.releaseAttempts > 0) out.set(r.id, { cohort: cohortName(r.location, `WKSHP-${r.workshop}`, shardOf(r.slot)), attempts: r.releaseAttempts });
  }
  return out;
}

function decideAppliances(catalog: Workshop[], accounts: DesiredAccount[], locations: Map<string, LocationConfig>): DesiredAppliance[] {
  const byWorkshop = new Map<string, DesiredAccount[]>();
  for (const a of accounts) {
    const key = `${a.workshop}@${a.location}`;
    if (!byWorkshop.has(key)) byWorkshop.set(key, []);
    byWorkshop.get(key)!.push(a);
  }
  return catalog.flatMap((w) => {
    if (!w.appliance) return [];
    return w.locations.flatMap((l) => {
      const students = byWorkshop.get(`${w.name}@${l}`) ?? [];
      const location = locations.get(l);
      if (!location || (!w.active && students.length === 0)) return [];
      return [{
        workshop: w.name, folder: w.folder, location: l, provider: location.provider, region: location.region,
        size: w.appliance!.machines[l].size, image: w.appliance!.machines[l].image, setup: w.appliance!.setup, studentSetup: w.appliance!.studentSetup,
        portBases: w.appliance!.ports, reset: w.reset, contentHash: w.contentHash, ...(w.kept ? { kept: true as const } : {}),
        students: students.map((a) => ({ registrationId: a.registrationId, generation: a.generation, slot: a.slot, username: a.username, ports: a.ports })),
      }];
    });
  });
}

function decideStudentServers(
  learners: LearnerRow[], servers: StudentServerRow[], config: StackConfig, now: Date,
  rejected: Rejection[], transitions: Transitions,
): DesiredStudentServer[] {
  const rules = config.studentServers;
  const serverOf = new Map(servers.map((s) => [s.learnerId, s]));
  const desired: DesiredStudentServer[] = [];
  for (const l of learners) {
    const server = serverOf.get(l.id);
    const live = server && !server.removedAt;
    const remove = (reason: Transitions["removeServers"][number]["reason"]) => {
      if (live) transitions.removeServers.push({ learnerId: l.id, reason });
    };
    const granted = l.passed[rules.grantLesson] && l.passed[rules.grantLesson].getTime() <= now.getTime();
    if (!granted) { remove("ineligible"); continue; }
    if (l.passed[rules.revokeLesson]) { remove("revoke-lesson"); continue; }
    if (server?.revokedAt) { remove("admin"); continue; }
    if (server?.removedAt) continue; // removed (idle or admin): an admin restores it, not the clock

    const key = checkSshKey(l.sshPublicKey);
    // A live server keeps its region: changing it would replace the learner's machine.
    const region = live ? server.region : l.region;
    // Not a removal: the reconcile refuses to delete a server that removeServers does not name,
    // so a bad row never destroys a learner's machine.
    const reject = (reason: string) => rejected.push({ kind: "learner", id: l.id, reason });
    if (!key.ok) { reject(key.reason); continue; }
    if (!region) { reject("no region chosen"); continue; }
    if (!rules.allowedRegions.includes(region)) {
      reject(`region ${region} is not allowed (allowed: ${rules.allowedRegions.join(", ")})`);
      continue;
    }

    let phase: DesiredStudentServer["phase"] = "active";
    let expiresAt: number;
    if (live) {
      const lastActivity = Math.max(server.createdAt.getTime(), server.lastSshAt?.getTime() ?? 0);
      const extended = server.extendedUntil && server.extendedUntil.getTime() > now.getTime();
      const idleSince = lastActivity + rules.idleDays * DAY;
      // A warning counts only if nothing happened since: a login after it clears it.
      const warnedAt = server.warnedAt && server.warnedAt.getTime() >= lastActivity ? server.warnedAt.getTime() : undefined;
      if (extended) {
        expiresAt = Math.max(server.extendedUntil!.getTime(), idleSince) + rules.warningDays * DAY;
      } else if (now.getTime() < idleSince) {
        expiresAt = idleSince + rules.warningDays * DAY;
      } else if (warnedAt === undefined) {
        phase = "idle-warning";
        transitions.warnServers.push(l.id);
        expiresAt = now.getTime() + rules.warningDays * DAY;
      } else if (now.getTime() < warnedAt + rules.warningDays * DAY) {
        phase = "idle-warning";
        expiresAt = warnedAt + rules.warningDays * DAY;
      } else {
        remove("idle");
        continue;
      }
    } else {
      expiresAt = now.getTime() + (rules.idleDays + rules.warningDays) * DAY;
    }
    desired.push({
      learnerId: l.id, email: l.email, region, size: rules.size, image: rules.image,
      sshPublicKey: key.key, keyFingerprint: key.fingerprint, phase, expiresAt: new Date(expiresAt).toISOString(),
    });
  }
  return desired;
}

/** Student servers switched off for the stack: every live one is removed. */
function noStudentServers(servers: StudentServerRow[], transitions: Transitions): DesiredStudentServer[] {
  for (const s of servers) if (!s.removedAt) transitions.removeServers.push({ learnerId: s.learnerId, reason: "ineligible" });
  return [];
}

/** Counts per kind, for summaries. */
export function countDesired(d: DesiredState) {
  return {
    backends: d.backends.length, contents: d.contents.length, accounts: d.accounts.length,
    cohorts: d.cohorts.length, appliances: d.appliances.length, studentServers: d.studentServers.length, rejected: d.rejected.length,
  };
}
