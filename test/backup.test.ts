// Backups, as the README tells an operator to take and restore them: `pg_dump --format=custom`
// of the platform database, `pg_restore --no-owner` into an empty database, and the restored
// platform plans the same state (`wod plan --json`), keeps its audit trail (still append-only)
// and goes on numbering registrations after the restored ones.
// The dump tools must match the server's major version: this test runs Debian's PostgreSQL 15
// server and client (.ci/run installs postgresql-15) rather than the embedded PostgreSQL 18, whose
// package ships no pg_dump.
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { migrate } from "../infra/db/migrate";
import { cancel, register } from "../infra/db/registrations";
import { seedDemo } from "../infra/db/seed";
import { ROOT } from "../infra/load";

const PG = "/usr/lib/postgresql/15/bin";
const BIN = path.join(ROOT, "infra/cli/bin.js");
const NOW = "2026-12-01T10:00:00.000Z";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-backup-"));
const data = path.join(dir, "data");
let port = 0;
const url = (db: string) => `postgres://wod@127.0.0.1:${port}/${db}`;
const asPostgres = (cmd: string, args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", path.join(PG, cmd), ...args], { encoding: "utf8" });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function wod(args: string[], db: string) {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url(db) }, maxBuffer: 64 << 20 });
  return stdout;
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(PG, "pg_dump"))) throw new Error(`${PG}/pg_dump is missing: apt-get install postgresql-15 (.ci/run does)`);
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(data);
  execFileSync("chown", ["postgres:postgres", data]);
  port = await freePort();
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "wod", "--no-sync"]);
  asPostgres("pg_ctl", ["-D", data, "-l", path.join(data, "log"), "-w", "-o", `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  for (const db of ["wod", "restored"]) asPostgres("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "wod", db]);
}, 120_000);

afterAll(async () => {
  try {
    asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
  } catch {}
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a platform restored from its backup", () => {
  it("plans the same state, keeps its audit trail append-only, and numbers new registrations after the restored ones", async () => {
    const pool = new Pool({ connectionString: url("wod") });
    const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    await migrate(pool);
    await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
    await seedDemo(pool, new Date(NOW));
    const late = await register(pool, { email: "late@example.net", workshop: "GitIntro", startsAt: new Date(NOW) });
    if (!late.ok) throw new Error(late.message);
    await cancel(pool, late.id);
    await pool.query("update registrations set status = 'active', username = 'student' || slot where id in (1, 2)");
    const before = await wod(["plan", "--json", "--now", NOW], "wod");
    const trail = (await pool.query("select count(*)::int as n from audit_events")).rows[0].n;
    await pool.end();

    // The README's backup and restore, verbatim.
    const dump = path.join(dir, "wod.dump");
    execFileSync(path.join(PG, "pg_dump"), ["--format=custom", `--file=${dump}`, url("wod")]);
    execFileSync(path.join(PG, "pg_restore"), ["--no-owner", "--exit-on-error", `--dbname=${url("restored")}`, dump]);

    const restored = new Pool({ connectionString: url("restored") });
    try {
      expect(JSON.parse(await wod(["plan", "--json", "--now", NOW], "restored"))).toEqual(JSON.parse(before));
      // The trail came back whole (restoring fired no trigger twice) and is still append-only.
      expect((await restored.query("select count(*)::int as n from audit_events")).rows[0].n).toBe(trail);
      await expect(restored.query("delete from audit_events")).rejects.toThrow(/append-only/);
      // Sequences came back too: a new registration gets the next id, and its story is recorded.
      const next = await register(restored, { email: "new@example.net", workshop: "Python101" });
      expect(next.ok && Number(next.id)).toBe(Number(late.id) + 1);
      expect((await restored.query("select event from audit_events where registration_id = $1", [next.ok ? next.id : 0])).rows).toEqual([{ event: "registered" }]);
    } finally {
      await restored.end();
    }
  }, 180_000);
});
