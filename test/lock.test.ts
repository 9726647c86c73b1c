// The reconcile lock against a real PostgreSQL whose server drops the lock's connection
// (pg_terminate_backend, as a failover or an operator would): never a crash; the lock is taken
// again when it is free, and reported lost when another run took it meanwhile.
import { Client, type Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../infra/config";
import type { Database } from "../infra/db/connect";
import { register } from "../infra/db/registrations";
import { LockBusy, LockLost, lockStack } from "../infra/reconcile/lock";
import { reconcile } from "../infra/reconcile/run";
import { MockEngine } from "./reconcile/mock-engine";
import { KEY_B, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

void new MockEngine(); // Pulumi's mocks, before the stack program is imported
let pg: TestPg;
let declareStack: typeof import("../infra/stack").declareStack;
beforeAll(async () => {
  ({ declareStack } = await import("../infra/stack"));
  pg = await startPg();
});
afterAll(async () => {
  await pg?.stop();
});

/** Waits for a condition, polling; fails with `what` after timeoutMs. */
async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const dbName = async (pool: Pool) => (await pool.query("select current_database() as db")).rows[0].db as string;

/** Backends holding an advisory lock in this database. */
async function holders(pool: Pool): Promise<number[]> {
  const { rows } = await pg.server.pool.query(
    "select l.pid from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and l.granted and d.datname = $1",
    [await dbName(pool)],
  );
  return rows.map((r) => r.pid as number);
}

const terminate = (pid: number) => pg.server.pool.query("select pg_terminate_backend($1)", [pid]);

describe("the reconcile lock", () => {
  it("a terminated lock connection is not a crash: the lock is taken again on a new connection when it is free", async () => {
    const pool = await pg.fresh();
    const messages: string[] = [];
    const lock = await lockStack(pool, "s", { log: (m) => messages.push(m) });
    const [first] = await holders(pool);
    await terminate(first);
    await until("the lock is held by a new connection", async () => (await holders(pool)).some((pid) => pid !== first));
    await lock.settled();
    expect(() => lock.check()).not.toThrow();
    expect(messages).toEqual([expect.stringMatching(/connection dropped .*taking the lock again/), "reconcile lock of stack s taken again"]);
    await expect(lockStack(pool, "s")).rejects.toBeInstanceOf(LockBusy);
    await lock.release();
    expect(await holders(pool)).toEqual([]);
    await (await lockStack(pool, "s")).release();
  });

  it("when another run takes the lock while the connection is down, check() says the lock is lost", async () => {
    const pool = await pg.fresh();
    const lock = await lockStack(pool, "s", { retryMs: 10 });
    const [first] = await holders(pool);
    // Another run waits on the same lock: it gets it the moment the first session ends.
    const other = new Client({ connectionString: pg.url(await dbName(pool)) });
    await other.connect();
    const waiting = other.query("select pg_advisory_lock(hashtext('wod:reconcile:s'))");
    await until("the other run waits on the lock", async () => {
      const { rows } = await pg.server.pool.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
      return rows[0].n === 1;
    });
    await terminate(first);
    await waiting;
    await until("the first run notices", async () => {
      await lock.settled();
      try {
        lock.check();
        return false;
      } catch (e) {
        return e instanceof LockLost;
      }
    });
    expect(() => lock.check()).toThrow(/lock of stack s was lost .*another run holds it now/);
    await lock.release(); // never throws, never releases the other run's lock
    expect((await holders(pool)).length).toBe(1);
    await other.end();
  });

  it("a reconcile whose lock connection is terminated in the middle of up ends with a report, never a crash", async () => {
    const pool = await pg.fresh();
    const catalogDir = writeCatalog({ "WKSHP-Python": { yml: wodYml("Python", { range: [1, 10] }) } });
    const config = parseStackConfig({
      locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
      adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
    }, "test");
    const { loadCatalog } = await import("../infra/catalog/load");
    const { syncCatalog } = await import("../infra/db/catalog-sync");
    await syncCatalog(pool, config, loadCatalog(catalogDir, config).workshops);
    await register(pool, { email: "ada@example.org", workshop: "Python" });
    const engine = new MockEngine();
    const up = engine.up.bind(engine);
    let terminated = 0;
    engine.up = async (program, opts) => {
      const [pid] = await holders(pool);
      await terminate(pid);
      terminated = pid;
      // The run goes on while the server has dropped the lock's session and the client hears of it.
      await until("the lock's session is gone", async () => !(await holders(pool)).includes(pid));
      await until("the lock is held again", async () => (await holders(pool)).length === 1);
      return up(program, opts);
    };
    const db: Database = { pool, describe: "test", close: async () => {} };
    const report = await reconcile({
      stack: "s", config, db, engine, sleep: async () => {},
      declare: (d, c) => {
        return declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>;
      },
    });
    expect(terminated).toBeGreaterThan(0);
    // Either it converged safely on the lock it took again, or it stopped saying the lock was lost.
    expect(report.exitCode === 0 || /lock of stack s was lost/.test(report.message), report.message).toBe(true);
    expect(await holders(pool)).toEqual([]);
  });
});
