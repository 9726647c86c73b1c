// Small, hand-built desired states for the component tests, following infra/desired/types.ts.
import * as crypto from "node:crypto";
import * as path from "node:path";
import { parseStackConfig, type LocationConfig, type StackConfig } from "../../infra/config";
import { checkSshKey } from "../../infra/desired/ssh-key";
import type { DesiredAccount, DesiredAppliance, DesiredBackend, DesiredCohort, DesiredContent, DesiredState, DesiredStudentServer } from "../../infra/desired/types";
import { cohortName, shardOf } from "../../infra/names";

export const FIXTURES = path.join(__dirname, "fixtures");
export const HOST_DIR = path.join(FIXTURES, "host");
export const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFWlZ6bHx5nAcJm3LC8OmbB/n+eyBCbfac4grMpmCU1z admin@wod.example";
export const ADMIN_CIDR = "198.51.100.0/24";
export const HASH = { alpha: "a1a1a1a1a1a1a1a1", beta: "b2b2b2b2b2b2b2b2", docker: "d3d3d3d3d3d3d3d3" };

/** A well-formed ed25519 public key, different per seed. */
export function sshKey(seed: string, comment = `${seed}@example.org`): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(crypto.createHash("sha256").update(seed).digest())]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}

export function config(overrides: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(
    {
      locations: [{ name: "eu", region: "fra1", size: "s-4vcpu-8gb", fqdn: "eu.wod.test", slotPool: { min: 1, max: 100 } }],
      adminSshKeys: [ADMIN_KEY],
      adminCidrs: [ADMIN_CIDR],
      studentServers: { enabled: true, allowedRegions: ["fra1", "ams3"] },
      ...overrides,
    },
    "fixture",
  );
}

/** The backend desiredState() makes of a configured location. */
export function backendOf(l: LocationConfig, workshops: string[] = []): DesiredBackend {
  return {
    location: l.name, provider: l.provider, region: l.region, size: l.size, image: l.image, host: l.host, sshUser: l.sshUser,
    fqdn: l.fqdn, hubPort: l.hubPort, slotPool: l.slotPool, uidOffset: l.uidOffset, diskGb: l.diskGb, workshops,
  };
}

export function content(folder: string, location = "eu", contentHash = HASH.alpha): DesiredContent {
  return { workshop: folder.replace(/^WKSHP-/, ""), folder, location, dir: path.join(FIXTURES, "workshops", folder), contentHash };
}

export function account(registrationId: string, folder: string, slot: number, contentHash: string, extra: Partial<DesiredAccount> = {}): DesiredAccount {
  const location = extra.location ?? "eu";
  return {
    registrationId, generation: 1, cohort: cohortName(location, folder, shardOf(slot)),
    participantId: `p-${registrationId}`, workshop: folder.replace(/^WKSHP-/, ""), folder, location,
    slot, username: `student${slot}`, uid: slot + 2000,
    startsAt: "2025-05-20T08:00:00.000Z", endsAt: "2025-05-20T12:00:00.000Z", phase: "active", contentHash,
    variables: { STDID: String(slot), USERNAME: `student${slot}`, BRANDING: "Workshops-on-Demand", WODBEEXTFQDN: "eu.wod.test", HTTPPORT: "8000" },
    ports: {}, reset: false,
    ...extra,
  };
}

export function server(learnerId: string, publicKey = sshKey(learnerId), region = "fra1"): DesiredStudentServer {
  const key = checkSshKey(publicKey);
  if (!key.ok) throw new Error(`fixture key of ${learnerId}: ${key.reason}`);
  return {
    learnerId, email: `${learnerId}@example.org`, region, size: "s-1vcpu-1gb", image: "ubuntu-24-04-x64",
    sshPublicKey: key.key, keyFingerprint: key.fingerprint, phase: "active", expiresAt: "2025-06-10T09:30:00.000Z",
  };
}

/** WKSHP-Docker's appliance at eu, with the given students (slot → registration). */
export function dockerAppliance(students: { registrationId: string; slot: number }[], reset = true): DesiredAppliance {
  return {
    workshop: "Docker", folder: "WKSHP-Docker", location: "eu", provider: "digitalocean", region: "fra1", size: "s-2vcpu-4gb",
    image: "debian-12-x64", setup: "appliance/setup.sh", studentSetup: "appliance/student.sh",
    portBases: { http: 9000, ssh: 10000 }, reset, contentHash: HASH.docker,
    // Range of WKSHP-Docker starts at slot 41: ports are base + (slot - 41).
    students: students.map((s) => ({ ...s, generation: 1, username: `student${s.slot}`, ports: { http: 9000 + s.slot - 41, ssh: 10000 + s.slot - 41 } })),
  };
}

/** The cohorts holding these accounts, one per (location, folder, shard), as the decision makes them. */
export function cohortsOf(accounts: DesiredAccount[], contents: DesiredContent[]): DesiredCohort[] {
  const byName = new Map<string, DesiredCohort>();
  for (const a of accounts) {
    const c = contents.find((x) => x.folder === a.folder && x.location === a.location);
    const cohort = byName.get(a.cohort) ?? {
      name: a.cohort, location: a.location, workshop: a.workshop, folder: a.folder, shard: shardOf(a.slot),
      contentHash: c?.contentHash ?? a.contentHash, passwordInNotebooks: false, slots: {}, retries: {},
    };
    cohort.slots[String(a.slot)] = `${a.registrationId}#${a.generation}`;
    byName.set(a.cohort, cohort);
  }
  return [...byName.values()];
}

export function desired(parts: Partial<DesiredState> & { config?: StackConfig } = {}): DesiredState {
  const { config: cfg = config(), ...rest } = parts;
  return {
    backends: cfg.locations.map((l) => backendOf(l)),
    contents: [], accounts: [], appliances: [], studentServers: [], rejected: [], notes: [],
    cohorts: cohortsOf(rest.accounts ?? [], rest.contents ?? []),
    transitions: { expiredRegistrations: [], closedRegistrations: [], endedCohorts: {}, warnServers: [], removeServers: [] },
    ...rest,
  };
}

/** One DO backend, workshops Alpha (two learners) and Beta (one learner). */
export function twoWorkshops(hashes: { alpha?: string; beta?: string } = {}): DesiredState {
  const alpha = hashes.alpha ?? HASH.alpha;
  const beta = hashes.beta ?? HASH.beta;
  return desired({
    contents: [content("WKSHP-Alpha", "eu", alpha), content("WKSHP-Beta", "eu", beta)],
    accounts: [account("101", "WKSHP-Alpha", 1, alpha), account("102", "WKSHP-Alpha", 2, alpha), account("201", "WKSHP-Beta", 11, beta)],
  });
}
