// Desired-state time and database read time for 1k / 10k / 100k live registrations on the
// embedded PostgreSQL, so growth can be watched from the start.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig } from "../infra/config";
import type { Workshop } from "../infra/catalog/schema";
import { syncCatalog } from "../infra/db/catalog-sync";
import { openEmbedded } from "../infra/db/connect";
import { migrate } from "../infra/db/migrate";
import { readSnapshot } from "../infra/db/snapshot";
import { desiredState } from "../infra/desired/state";

const SIZES = [1_000, 10_000, 100_000];
const PER_WORKSHOP = 1_000;
/** Slots per location: uid = slot + 2000 stays an ordinary uid (≤ 60000), so 100k live learners span two locations. */
const PER_LOCATION = 50_000;

export async function benchFoundation(log: (line: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-bench-"));
  fs.chmodSync(dir, 0o755);
  const db = await openEmbedded(path.join(dir, "pg"));
  try {
    await migrate(db.pool);
    const max = Math.max(...SIZES);
    const locations = Array.from({ length: Math.ceil(max / PER_LOCATION) }, (_, i) => `loc${i}`);
    const config = parseStackConfig({
      locations: locations.map((name) => ({ name, slotPool: { min: 1, max: PER_LOCATION } })),
      studentServers: { enabled: true, allowedRegions: ["fra1"] },
    }, "bench");
    const perLocation = PER_LOCATION / PER_WORKSHOP;
    const catalog: Workshop[] = Array.from({ length: max / PER_WORKSHOP }, (_, i) => ({
      name: `W${i}`, title: `W${i}`, description: "", active: true, capacity: PER_WORKSHOP, priority: 0,
      range: { min: (i % perLocation) * PER_WORKSHOP + 1, max: ((i % perLocation) + 1) * PER_WORKSHOP }, reset: false, ldap: false, monoappliance: false,
      multiappliance: false, replayId: null, varpass: false, compile: false, workshopImg: "", badgeImg: "", beta: false,
      category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "",
      location: locations[Math.floor(i / perLocation)], alternateLocation: [],
      appliance: i % 10 === 0 ? { machines: { [locations[Math.floor(i / perLocation)]]: { size: "s", image: "i" } }, produces: [], ports: { web: 30000 } } : undefined,
      folder: `WKSHP-W${i}`, dir: `/catalog/WKSHP-W${i}`, locations: [locations[Math.floor(i / perLocation)]], contentHash: `h${i}`,
    }));
    await syncCatalog(db.pool, config, catalog);
    log(`figure                          ${SIZES.map((n) => `${n / 1000}k`.padStart(9)).join("")}`);
    const reads: string[] = [];
    const decides: string[] = [];
    let have = 0;
    for (const n of SIZES) {
      log(`  loading ${n} registrations and ${n / 10} learners…`);
      await db.pool.query(
        `insert into participants (email) select 'p' || s || '@example.org' from generate_series($1::int + 1, $2::int) s`,
        [have, n],
      );
      await db.pool.query(
        `insert into registrations (participant_id, workshop, location, slot, ends_at)
         select p.id, 'W' || ((s - 1) / ${PER_WORKSHOP}), 'loc' || ((s - 1) / ${PER_LOCATION}), (s - 1) % ${PER_LOCATION} + 1, now() + interval '2 hours'
           from generate_series($1::int + 1, $2::int) s join participants p on p.email = 'p' || s || '@example.org'`,
        [have, n],
      );
      await db.pool.query(
        `insert into learners (email, ssh_public_key, region)
         select 'l' || s || '@example.org', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsoBB1XvutRFFY7+MC+u+3xUw9wKDMLfHfuwhZitVxa', 'fra1'
           from generate_series($1::int / 10 + 1, $2::int / 10) s`,
        [have, n],
      );
      await db.pool.query(
        `insert into lesson_progress (learner_id, lesson, passed_at) select id, 'js4', now() from learners on conflict do nothing`,
      );
      await db.pool.query("analyze");
      have = n;
      const t0 = performance.now();
      const snapshot = await readSnapshot(db.pool);
      const t1 = performance.now();
      const desired = desiredState({ catalog, snapshot, config, now: new Date() });
      const t2 = performance.now();
      if (desired.accounts.length !== n) throw new Error(`expected ${n} accounts, decided ${desired.accounts.length}`);
      reads.push(`${(t1 - t0).toFixed(0)} ms`);
      decides.push(`${(t2 - t1).toFixed(0)} ms`);
    }
    log(`database read (snapshot)        ${reads.map((s) => s.padStart(9)).join("")}`);
    log(`desired state                   ${decides.map((s) => s.padStart(9)).join("")}`);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) benchFoundation(console.log);
