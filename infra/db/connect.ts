// Opens the platform database: DATABASE_URL when set, otherwise an embedded PostgreSQL
// kept in a local data directory, so the plan runs on a fresh machine without a server.
import * as path from "node:path";
import { Pool } from "pg";
import { EmbeddedFailed, startEmbedded } from "./embedded";

export interface Database {
  pool: Pool;
  /** Where the data lives, for messages (never includes a password). */
  describe: string;
  /** True for the embedded PostgreSQL (demo data, never the platform's). */
  embedded?: boolean;
  close(): Promise<void>;
}

export class DatabaseUnreachable extends Error {}

/** The embedded database's default data directory: `.wod/pgdata` in the checkout (WOD_DATA_DIR overrides it). */
export const DEFAULT_DATA_DIR = path.resolve(__dirname, "../../.wod/pgdata");

export async function openDatabase(opts: { url?: string; dataDir?: string; log?: (m: string) => void } = {}): Promise<Database> {
  const url = opts.url ?? process.env.DATABASE_URL;
  // pg reads anything else as a host name relative to nothing ("garbage" → host "base"); the value
  // may be a secret pasted in the wrong place, so it is not repeated.
  if (url && !/^postgres(ql)?:\/\//.test(url)) throw new DatabaseUnreachable("DATABASE_URL is not a PostgreSQL URL: expected postgres://USER:PASSWORD@HOST[:PORT]/DATABASE");
  if (url) return connect(url, redact(url), false, async () => {});
  return openEmbedded(opts.dataDir ?? (process.env.WOD_DATA_DIR || DEFAULT_DATA_DIR), opts.log ?? (() => {}));
}

/** Starts (initialising on first use) an embedded PostgreSQL in dataDir. */
export async function openEmbedded(dataDir: string, log: (m: string) => void = () => {}): Promise<Database> {
  let server;
  try {
    server = await startEmbedded(dataDir, log);
  } catch (e) {
    throw e instanceof EmbeddedFailed ? new DatabaseUnreachable(e.message) : e;
  }
  return connect(server.url, `embedded PostgreSQL in ${server.dataDir}`, true, server.stop);
}

async function connect(url: string, describe: string, embedded: boolean, stop: () => Promise<void>): Promise<Database> {
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {}); // idle-client errors surface on the next query instead
  // A connection dropped while a client is checked out (a failover, pg_terminate_backend) fails
  // that client's queries; without a listener it would also be an unhandled 'error' event that
  // ends the process.
  pool.on("connect", (client) => client.on("error", () => {}));
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
    embedded,
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
