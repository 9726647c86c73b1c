// Applies infra/db/migrations/*.sql in order, each once, each in its own transaction.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Pool } from "pg";

const DIR = path.join(__dirname, "migrations");
const LOCK = 0x776f64; // advisory lock id ("wod"): two migrators never interleave

const files = () => fs.readdirSync(DIR).filter((f) => f.endsWith(".sql")).sort();

/** Migrations this code has and the database lacks, read without writing (previews and plans). */
export async function pendingMigrations(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query("select to_regclass('schema_migrations') is not null as present");
  const done = rows[0].present ? new Set((await pool.query("select version from schema_migrations")).rows.map((r) => r.version as string)) : new Set<string>();
  return files().filter((f) => !done.has(f));
}

export async function migrate(pool: Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [LOCK]);
    await client.query("create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())");
    const done = new Set((await client.query("select version from schema_migrations")).rows.map((r) => r.version as string));
    const applied: string[] = [];
    for (const file of files()) {
      if (done.has(file)) continue;
      await client.query("begin");
      try {
        await client.query(fs.readFileSync(path.join(DIR, file), "utf8"));
        await client.query("insert into schema_migrations (version) values ($1)", [file]);
        await client.query("commit");
      } catch (e) {
        await client.query("rollback");
        throw new Error(`migration ${file} failed: ${(e as Error).message}`);
      }
      applied.push(file);
    }
    return applied;
  } finally {
    await client.query("select pg_advisory_unlock($1)", [LOCK]).catch(() => {});
    client.release();
  }
}
