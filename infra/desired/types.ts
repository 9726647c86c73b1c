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
  /** Workshops hosted here, by name. */
  workshops: string[];
}

/** A workshop's folder shipped to one backend. */
export interface DesiredContent {
  workshop: string;
  /** `WKSHP-<Name>` */
  folder: string;
  location: string;
  /** Absolute path of the folder on the machine running the program. */
  dir: string;
  contentHash: string;
}

/** A live registration: one Linux slot user activated for one participant. */
export interface DesiredAccount {
  registrationId: string;
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
  /** Content the account was rendered from: a new hash re-activates the account. */
  contentHash: string;
  /** Template variables for the workshop's notebooks, without the password (PASSSTU is added on the host). */
  variables: Record<string, string>;
  /** Per-student appliance ports, by port name. */
  ports: Record<string, number>;
  /** The workshop restores per-student state at release. */
  reset: boolean;
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
  /** Live students on it with their ports. */
  students: { registrationId: string; slot: number; username: string; ports: Record<string, number> }[];
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

/** An input that was left out of the desired state, and why. */
export interface Rejection {
  kind: "registration" | "learner" | "workshop" | "location";
  id: string;
  reason: string;
}

/** Database changes the decision implies, applied by the write-back after a successful up. */
export interface Transitions {
  /** Registrations past their end: released once their account is gone. */
  expiredRegistrations: string[];
  /** Student servers entering the idle warning now. */
  warnServers: string[];
  /** Student servers that are no longer desired, by learner, with the reason. */
  removeServers: { learnerId: string; reason: "revoke-lesson" | "idle" | "admin" | "ineligible" }[];
}

export interface DesiredState {
  backends: DesiredBackend[];
  contents: DesiredContent[];
  accounts: DesiredAccount[];
  appliances: DesiredAppliance[];
  studentServers: DesiredStudentServer[];
  rejected: Rejection[];
  transitions: Transitions;
}
