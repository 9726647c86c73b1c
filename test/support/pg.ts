// A real PostgreSQL for database tests: one embedded server per test file, one fresh
// database per test, migrated.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Pool } from "pg";
import { type Database, openEmbedded } from "../../infra/db/connect";
import { migrate } from "../../infra/db/migrate";

export interface TestPg {
  server: Database;
  /** A new, migrated database on the server. */
  fresh(): Promise<Pool>;
  /** Connection URL of a database on the server. */
  url(db: string): string;
  stop(): Promise<void>;
}

export async function startPg(): Promise<TestPg> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-pg-"));
  fs.chmodSync(dir, 0o755); // the postgres system user must reach the data dir below it
  const server = await openEmbedded(path.join(dir, "data"));
  const base = (server.pool.options as { connectionString: string }).connectionString;
  const pools: Pool[] = [];
  let n = 0;
  const url = (db: string) => base.replace(/\/wod$/, `/${db}`);
  return {
    server,
    url,
    async fresh() {
      const name = `t${process.pid}_${++n}`;
      await server.pool.query(`create database ${name}`);
      const pool = new Pool({ connectionString: url(name), max: 10 });
      pool.on("error", () => {}); // the server stopping at the end of the file is not a test failure
      pools.push(pool);
      await migrate(pool);
      return pool;
    },
    async stop() {
      await Promise.all(pools.map((p) => p.end()));
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
