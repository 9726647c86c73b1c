// What the stack should contain: the output of desiredState(), the input of the components.
import type { LocationConfig } from "../config";

/** A JupyterHub backend: one per configured location. */
export interface DesiredBackend {
  location: string;
  provider: LocationConfig["provider"];
  region: string;
  size: string;
  image: string;
  /** Address of an existing machine (provider "existing"). */
  host?: string;
  sshUser: string;
  fqdn?: string;
  hubPort: number;
  slotPool: { min: number; max: number };
  uidOffset: number;
  /** EC2 root disk, GB. */
  diskGb: number;
  /** Workshops hosted here, by name. */
  workshops: string[];
}

/** A workshop's folder shipped to one backend. */
export interface DesiredContent {
  workshop: string;
  /** `WKSHP-<Name>` */
  folder: string;
  location: string;
  /** Absolute path of the folder on the machine running the program ("" when kept). */
  dir: string;
  contentHash: string;
  /** A quarantined workshop's content: kept on the machine as last applied, never read from the folder again. */
  kept?: true;
}

/** A live registration: one Linux slot user activated for one participant. */
export interface DesiredAccount {
  registrationId: string;
  /** Bumped by an operator's reset of the learner: a new generation is a fresh activation. */
  generation: number;
  /** The cohort (one resource) whose slot table holds this account. */
  cohort: string;
  participantId: string;
  workshop: string;
  /** `WKSHP-<Name>` */
  folder: string;
  location: string;
  slot: number;
  /** `student<slot>` */
  username: string;
  uid: number;
  startsAt: string;
  endsAt: string;
  /** "ending": less than the warning period left. */
  phase: "active" | "ending";
  /** Content new activations render from (an active learner keeps what they got). */
  contentHash: string;
  /** Template variables for the workshop's notebooks, without secrets (those travel on stdin). */
  variables: Record<string, string>;
  /** Per-student appliance ports, by port name. */
  ports: Record<string, number>;
  /** The workshop restores per-student state at release. */
  reset: boolean;
}

/**
 * The live slots of one workshop at one location, one shard of 100 slot numbers (slots
 * 100·shard … 100·shard+99): the unit Pulumi manages, one host-side sync each. Its slot table is
 * a plain input, so a preview shows per slot which registration comes and goes.
 */
export interface DesiredCohort {
  /** `<location>-<WKSHP-Name>-s<shard>`, see names.ts. */
  name: string;
  location: string;
  workshop: string;
  folder: string;
  shard: number;
  /** Content new activations render from. */
  contentHash: string;
  /** Notebooks get the password as PASSSTU (WoD's `varpass`, or `ldap`). */
  passwordInNotebooks: boolean;
  /** slot → "<registration>#<generation>", the slot table. */
  slots: Record<string, string>;
  /** Registrations whose release failed → the attempt count: a new attempt changes the cohort, so its sync runs again. */
  retries: Record<string, number>;
}

/** A dedicated machine for an appliance workshop at one location. */
export interface DesiredAppliance {
  workshop: string;
  folder: string;
  location: string;
  provider: LocationConfig["provider"];
  region: string;
  size: string;
  image: string;
  /** Setup and per-student scripts, as paths inside the workshop folder. */
  setup?: string;
  studentSetup?: string;
  /** Port bases by name. */
  portBases: Record<string, number>;
  reset: boolean;
  contentHash: string;
  /** A quarantined workshop's appliance: its content is kept as last applied. */
  kept?: true;
  /** Live students on it with their ports. */
  students: { registrationId: string; generation: number; slot: number; username: string; ports: Record<string, number> }[];
}

/** A learner's personal droplet. */
export interface DesiredStudentServer {
  learnerId: string;
  email: string;
  region: string;
  size: string;
  image: string;
  sshPublicKey: string;
  /** SHA256 fingerprint of the learner's key, as `ssh-keygen -lf` prints it. */
  keyFingerprint: string;
  /** "idle-warning": idle past the limit, warned, removed after the warning period. */
  phase: "active" | "idle-warning";
  /** When the server will be removed unless the learner logs in or an admin extends it. */
  expiresAt: string;
}

/** An input that was left out of the desired state (or, for a note, kept against a rule), and why. */
export interface Rejection {
  kind: "registration" | "learner" | "workshop" | "location";
  id: string;
  reason: string;
}

/** Database changes the decision implies, applied by the write-back after a successful up. */
export interface Transitions {
  /** Registrations past their end: released once their account is gone. */
  expiredRegistrations: string[];
  /** Cancelled and failed registrations waiting for the backend to confirm their release. */
  closedRegistrations: string[];
  /** The cohort each of those ended registrations was (or would have been) held in. */
  endedCohorts: Record<string, string>;
  /** Student servers entering the idle warning now. */
  warnServers: string[];
  /** Student servers that are no longer desired, by learner, with the reason. */
  removeServers: { learnerId: string; reason: "revoke-lesson" | "idle" | "admin" | "ineligible" }[];
}

export interface DesiredState {
  backends: DesiredBackend[];
  contents: DesiredContent[];
  accounts: DesiredAccount[];
  cohorts: DesiredCohort[];
  appliances: DesiredAppliance[];
  studentServers: DesiredStudentServer[];
  rejected: Rejection[];
  /** Inputs kept although a rule would leave them out (e.g. a live learner outside a shrunk range). */
  notes: Rejection[];
  transitions: Transitions;
}
