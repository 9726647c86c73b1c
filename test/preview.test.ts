// The stack program under Pulumi's mock runtime against a real PostgreSQL: `pulumi preview`
// (a dry run) only reads the database — a pull request's preview may hold a SELECT-only role,
// and its unmerged catalog must never reach production — while the update of `pulumi up`
// migrates and syncs.
import * as pulumi from "@pulumi/pulumi";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { register } from "../infra/db/registrations";
import { KEY_B, stackConfig, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    const state: Record<string, unknown> = { ...args.inputs };
    if (args.type === "digitalocean:index/droplet:Droplet") state.ipv4Address = "192.0.2.10";
    if (args.type === "random:index/randomPassword:RandomPassword") state.result = `pw-${args.name}`.padEnd(Number(args.inputs.length ?? 16), "z");
    if (args.type === "digitalocean:index/sshKey:SshKey") state.fingerprint = `fp-${args.name}`;
    return { id: args.type === "digitalocean:index/droplet:Droplet" ? "1001" : `${args.name}-id`, state };
  },
  call(args) {
    throw new Error(`unmocked invoke ${args.token}`);
  },
};
const dryRun = (preview: boolean) => pulumi.runtime.setMocks(mocks, "wod", "test", preview);
void dryRun(true);

/** The catalog merged on main (A and B), and a branch's (A changed, B gone). */
const mainCatalog = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { range: [1, 10] }) }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) } });
const branchCatalog = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { range: [1, 10], capacity: 8 }) } });
/** A branch that breaks A (its live learner's workshop) and keeps B. */
const brokenCatalog = writeCatalog({
  "WKSHP-A": { yml: wodYml("A", { range: [1, 10] }), files: { "1-Lab.ipynb": '{"cells": [], "nbformat": 4, "x": "{{ NOT_DEFINED }}"}' } },
  "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) },
});

function configure(workshopsDir: string) {
  pulumi.runtime.setAllConfig(
    {
      "wod:locations": JSON.stringify([{ name: "eu", slotPool: { min: 1, max: 100 }, fqdn: "eu.example.org" }]),
      "wod:adminSshKeys": JSON.stringify([KEY_B]),
      "wod:adminCidrs": JSON.stringify(["198.51.100.0/24"]),
      "wod:workshopsDir": workshopsDir,
      "wod:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    },
    ["wod:sshPrivateKey"],
  );
}

let pg: TestPg;
let program: typeof import("../infra/program").program;
beforeAll(async () => {
  ({ program } = await import("../infra/program"));
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
  delete process.env.DATABASE_URL;
});

/** The platform's database as main left it, and URLs for its owner and a SELECT-only role. */
async function platform() {
  const pool = await pg.fresh();
  const config = stackConfig();
  await syncCatalog(pool, config, loadCatalog(mainCatalog, config).workshops);
  await register(pool, { email: "ada@example.org", workshop: "A" });
  const db = (await pool.query("select current_database() as db")).rows[0].db as string;
  await pool.query(`create role ro_${db} login password 'ro'`);
  await pool.query(`grant select on all tables in schema public to ro_${db}`);
  const owner = pg.url(db);
  return { pool, owner, reader: owner.replace(/\/\/[^@]+@/, `//ro_${db}:ro@`) };
}

const workshops = async (pool: Pool) => (await pool.query("select name, capacity, active, in_catalog, synced_at from workshops order by name")).rows;

describe("the stack program", () => {
  it("pulumi preview with a SELECT-only role declares the stack, writes nothing, and logs what the next up will sync", async () => {
    const { pool, reader } = await platform();
    const before = await workshops(pool);
    await dryRun(true);
    configure(branchCatalog);
    process.env.DATABASE_URL = reader;
    const info = vi.spyOn(pulumi.log, "info");
    const outputs = (await program()) as unknown as Record<string, unknown>;
    expect(Object.keys(outputs)).toContain("cohorts");
    const logged = info.mock.calls.map((c) => c[0]);
    expect(logged).toContainEqual(expect.stringMatching(/^the next up will sync: workshop A: capacity 5 → 8, content /));
    expect(logged).toContain("the next up will sync: workshop B: leaves the catalog (closed for registration)");
    expect(await workshops(pool)).toEqual(before);
    info.mockRestore();
  });

  it("with a writable role, a preview of a branch's catalog still leaves the database's workshops as they are", async () => {
    const { pool, owner } = await platform();
    const before = await workshops(pool);
    await dryRun(true);
    configure(branchCatalog);
    process.env.DATABASE_URL = owner;
    await program();
    expect(await workshops(pool)).toEqual(before);
  });

  it("a quarantined workshop is a warning, never a stop: preview and up declare the rest and keep its learner's cohort", async () => {
    for (const preview of [true, false]) {
      const { pool, owner } = await platform();
      const before = (await pool.query("select content_hash, catalog from workshops where name = 'A'")).rows[0];
      await dryRun(preview);
      configure(brokenCatalog);
      process.env.DATABASE_URL = owner;
      const warn = vi.spyOn(pulumi.log, "warn");
      const outputs = (await program()) as unknown as { cohorts: Record<string, unknown> };
      expect(Object.keys(outputs.cohorts).sort(), `preview ${preview}`).toEqual(["eu-WKSHP-A-s0", "eu-WKSHP-B-s0"]);
      expect(warn.mock.calls.map((c) => c[0])).toContainEqual(
        expect.stringMatching(/^quarantined: workshop A \(active\): 1 error in WKSHP-A, first: .*1-Lab\.ipynb: line 1: 'NOT_DEFINED' is undefined.*; kept as last synced \(content [0-9a-f]{12}\), closed for registration$/),
      );
      warn.mockRestore();
      // Neither a preview nor the up's sync rewrites what A's last good sync left.
      expect((await pool.query("select content_hash, catalog from workshops where name = 'A'")).rows[0]).toEqual(before);
      expect((await pool.query("select count(*)::int as n from quarantined_workshops")).rows[0].n).toBe(preview ? 0 : 1);
    }
  });

  it("the update of pulumi up (not a dry run) syncs the catalog", async () => {
    const { pool, owner } = await platform();
    await dryRun(false);
    configure(branchCatalog);
    process.env.DATABASE_URL = owner;
    await program();
    expect((await workshops(pool)).map(({ synced_at: _, ...w }) => w)).toEqual([
      { name: "A", capacity: 8, active: true, in_catalog: true },
      { name: "B", capacity: 5, active: false, in_catalog: false },
    ]);
  });
});
