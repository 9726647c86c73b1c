// A student server never keeps billing unseen: the stack declares droplets with retainOnDelete, so
// one the decision removes is only forgotten by the engine. The reconcile removes it through the
// DigitalOcean API (a stand-in here), also in --write-back-only mode (when the Kubernetes operator
// runs the updates), says loudly when it cannot (no token), and reports droplets tagged as this
// stack's student servers that no learner holds.
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../infra/config";
import type { Database } from "../infra/db/connect";
import { register } from "../infra/db/registrations";
import { renderReport } from "../infra/reconcile/report";
import { reconcile, type ReconcileOptions } from "../infra/reconcile/run";
import type { ServerRemover, TaggedDroplet } from "../infra/reconcile/servers";
import { MockEngine } from "./reconcile/mock-engine";
import { KEY_A, KEY_B, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

void new MockEngine(); // installs Pulumi's mocks before the program is imported
let declareStack: typeof import("../infra/stack").declareStack;
let pg: TestPg;
beforeAll(async () => {
  ({ declareStack } = await import("../infra/stack"));
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

const T0 = new Date("2026-11-23T09:00:00Z");
const catalogDir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 20], capacity: 20 }) } });
const config: StackConfig = parseStackConfig({
  locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
  adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
  studentServers: { enabled: true, allowedRegions: ["fra1"], idleDays: 14, warningDays: 3 },
}, "test");

async function platform() {
  const pool = await pg.fresh();
  const { loadCatalog } = await import("../infra/catalog/load");
  const { syncCatalog } = await import("../infra/db/catalog-sync");
  await syncCatalog(pool, config, loadCatalog(config.workshopsDir, config).workshops);
  const r = await register(pool, { email: "keep-the-db-non-empty@example.org", workshop: "Python", startsAt: T0 });
  if (!r.ok) throw new Error(r.message);
  const db: Database = { pool, describe: "test", close: async () => {} };
  const engine = new MockEngine();
  const logged: string[] = [];
  const run = (extra: Partial<ReconcileOptions> = {}) =>
    reconcile({
      stack: "test", config, db, engine, now: () => T0, sleep: async () => {}, log: (m) => logged.push(m),
      declare: (d, c) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>,
      ...extra,
    });
  return { pool, engine, run, logged };
}

async function learner(pool: Pool, email: string): Promise<string> {
  const id = (await pool.query("insert into learners (email, ssh_public_key, region) values ($1, $2, 'fra1') returning id::text", [email, KEY_A])).rows[0].id;
  await pool.query("insert into lesson_progress (learner_id, lesson, passed_at) values ($1, 'js4', $2)", [id, T0]);
  return id;
}

/** The DigitalOcean stand-in: what it is asked, and the droplets it lists by tag. */
function remover(tagged: TaggedDroplet[] = []): ServerRemover & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async snapshot(id, name) {
      calls.push(`snapshot ${id} ${name}`);
      return `snap-${id}`;
    },
    async destroy(id) {
      calls.push(`destroy ${id}`);
    },
    async tagged(tag) {
      calls.push(`list ${tag}`);
      return tagged;
    },
  };
}

const dropletOf = async (pool: Pool, learnerId: string) => (await pool.query("select droplet_id from student_servers where learner_id = $1", [learnerId])).rows[0]?.droplet_id as string;

describe("student servers that could keep billing", () => {
  it("a droplet tagged as this stack's student server that no learner holds is reported, with those of no stack; another stack's and the learners' own are not", async () => {
    const p = await platform();
    const id = await learner(p.pool, "ada@example.org");
    await p.run({ servers: remover() });
    const own = await dropletOf(p.pool, id);
    expect(own).toBeTruthy();
    const tags = (...extra: string[]) => ["wod", "wod-student-server", ...extra];
    const api = remover([
      { id: own, name: `wod-learner-${id}`, tags: tags("wod-stack:test", `wod-owner:${id}`) },
      { id: "9001", name: "wod-learner-77", tags: tags("wod-stack:test", "wod-owner:77") },
      { id: "9002", name: "wod-learner-78", tags: tags("wod-stack:prod", "wod-owner:78") },
      { id: "9003", name: "wod-learner-79", tags: tags("wod-owner:79") },
    ]);
    const r = await p.run({ servers: api });
    expect(r.exitCode).toBe(0);
    expect(api.calls).toEqual(["list wod-student-server"]);
    expect(r.strayDroplets?.map((d) => d.id)).toEqual(["9001", "9003"]);
    expect(renderReport(r)).toMatch(/stray droplet 9001 \(wod-learner-77\): tagged as a student server, held by no learner: it keeps running and billing/);
    expect(p.logged).toContainEqual(expect.stringMatching(/^stray droplet 9003 /));
  });

  it("the droplets wod creates carry their stack's tag, so the search tells stacks sharing an account apart", async () => {
    const p = await platform();
    await learner(p.pool, "ada@example.org");
    await p.run();
    const [droplet] = [...p.engine.applied.values()].filter((x) => x.type === "digitalocean:index/droplet:Droplet" && String(x.inputs.name).startsWith("wod-learner-"));
    expect(droplet.inputs.tags).toEqual(expect.arrayContaining(["wod-student-server", "wod-stack:test"]));
  });

  it("with the operator running the updates, --write-back-only removes the servers the decision removes (snapshot first)", async () => {
    const p = await platform();
    const id = await learner(p.pool, "ada@example.org");
    await p.run();
    const droplet = await dropletOf(p.pool, id);
    await p.pool.query("update student_servers set revoked_at = $2 where learner_id = $1", [id, T0]);
    const api = remover();
    const r = await p.run({ writeBackOnly: true, servers: api });
    expect(r).toMatchObject({ exitCode: 0, removals: { removed: 1, snapshots: 1, failed: [] } });
    expect(api.calls).toEqual([`snapshot ${droplet} wod-learner-${id}-2026-11-23`, `destroy ${droplet}`, "list wod-student-server"]);
    expect((await p.pool.query("select removal_reason, snapshot_id from student_servers where learner_id = $1", [id])).rows[0]).toEqual({ removal_reason: "admin", snapshot_id: `snap-${droplet}` });
  });

  it("without DIGITALOCEAN_TOKEN a server due for removal fails the run (exit 5) saying its droplet keeps running and billing, in both modes", async () => {
    const p = await platform();
    const id = await learner(p.pool, "ada@example.org");
    await p.run();
    await p.pool.query("update student_servers set revoked_at = $2 where learner_id = $1", [id, T0]);
    for (const mode of [{}, { writeBackOnly: true }]) {
      const r = await p.run(mode);
      expect(r.exitCode, JSON.stringify(mode)).toBe(5);
      expect(renderReport(r)).toMatch(new RegExp(`not removed: student server of learner ${id}: DIGITALOCEAN_TOKEN is not set: its droplet keeps running \\(and billing\\)`));
    }
    expect(p.logged).toContainEqual(expect.stringMatching(/^1 student server\(s\) to remove, and DIGITALOCEAN_TOKEN is not set/));
    expect(p.logged).toContainEqual("DIGITALOCEAN_TOKEN is not set: droplets that no learner holds are not looked for");
  });
});
