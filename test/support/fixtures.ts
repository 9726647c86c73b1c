// Small, readable inputs for tests: stack configs, catalog folders on disk, snapshot rows.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import type { LearnerRow, RegistrationRow, Snapshot, StudentServerRow } from "../../infra/db/snapshot";

export const NOTEBOOK = JSON.stringify({ cells: [{ cell_type: "markdown", metadata: {}, source: ["Hello {{ USERNAME }}"] }], metadata: {}, nbformat: 4, nbformat_minor: 5 });

export const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsoBB1XvutRFFY7+MC+u+3xUw9wKDMLfHfuwhZitVxa a@example.org";
export const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMj7mf4GuIk4gBRKTVRzyzOfQ9gSVqUrLB4+WL1FjJZu b@example.org";

export function stackConfig(overrides: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(
    {
      locations: [
        { name: "eu", slotPool: { min: 1, max: 100 }, fqdn: "eu.example.org" },
        { name: "us", slotPool: { min: 1, max: 100 } },
      ],
      studentServers: { enabled: true, allowedRegions: ["fra1", "nyc3"], idleDays: 14, warningDays: 3 },
      ...overrides,
    },
    "test",
  );
}

/** A minimal valid wod.yml for a workshop hosted on `eu`. */
export function wodYml(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, active: true, capacity: 5, range: [1, 10], duration: 4, category: ["Test"], location: "eu", ...fields };
}

export interface FolderSpec {
  /** wod.yml as an object, or raw text; null for no wod.yml. */
  yml: Record<string, unknown> | string | null;
  /** Extra files; 0-ReadMeFirst.ipynb is added unless set to null. */
  files?: Record<string, string | null>;
}

/** Writes a catalog folder: { "WKSHP-A": spec, ... } → its path. */
export function writeCatalog(folders: Record<string, FolderSpec>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "wod-catalog-"));
  for (const [folder, spec] of Object.entries(folders)) {
    const dir = path.join(root, folder);
    fs.mkdirSync(dir, { recursive: true });
    if (spec.yml !== null) fs.writeFileSync(path.join(dir, "wod.yml"), typeof spec.yml === "string" ? spec.yml : stringify(spec.yml));
    for (const [file, text] of Object.entries({ "0-ReadMeFirst.ipynb": NOTEBOOK, ...spec.files })) {
      if (text === null) continue;
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
  }
  return root;
}

let nextId = 1;
export function registration(fields: Partial<RegistrationRow> & Pick<RegistrationRow, "workshop" | "slot">, now: Date): RegistrationRow {
  const id = String(nextId++);
  return {
    id, participantId: id, email: `p${id}@example.org`, location: "eu", status: "active", generation: 1, releaseAttempts: 0,
    startsAt: new Date(now.getTime() - 3_600_000), endsAt: new Date(now.getTime() + 3 * 3_600_000), ...fields,
  };
}

export function learner(fields: Partial<LearnerRow> = {}): LearnerRow {
  const id = String(nextId++);
  return { id, email: `l${id}@example.org`, sshPublicKey: KEY_A, region: "fra1", passed: {}, ...fields };
}

export function server(learnerId: string, fields: Partial<StudentServerRow> = {}): StudentServerRow {
  return {
    learnerId, dropletId: `d${learnerId}`, ipv4: "192.0.2.1", region: "fra1", createdAt: new Date(0), lastSshAt: null,
    warnedAt: null, extendedUntil: null, revokedAt: null, removedAt: null, ...fields,
  };
}

export const emptySnapshot = (): Snapshot => ({ registrations: [], closing: [], learners: [], studentServers: [] });
