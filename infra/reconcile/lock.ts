// One reconcile per stack at a time: a session-level PostgreSQL advisory lock held on its own
// connection for the whole run, and retries when the engine reports a concurrent update.
//
// The lock's connection can drop mid-run (a failover, `pg_terminate_backend`, a network cut):
// PostgreSQL then releases the lock with the session. That is never a crash: the lock is taken
// again on a new connection when nobody else took it meanwhile, and otherwise (or when the
// database stays unreachable) `check()` says the lock is lost, so the run stops before writing.
import type { Pool, PoolClient } from "pg";
import { ConcurrentUpdate } from "./engine";

export class LockBusy extends Error {}

/** The lock's connection dropped and the lock could not be taken again: another run may be active. */
export class LockLost extends Error {}

export interface StackLock {
  /** Throws LockLost if the lock was lost; call before each step that writes (up, write-back). */
  check(): void;
  /** Resolves when no re-acquisition is in progress (after a dropped connection). */
  settled(): Promise<void>;
  release(): Promise<void>;
}

export async function lockStack(
  pool: Pool,
  stack: string,
  opts: { log?: (m: string) => void; retries?: number; retryMs?: number } = {},
): Promise<StackLock> {
  const key = `wod:reconcile:${stack}`;
  const log = opts.log ?? (() => {});
  const { retries = 5, retryMs = 1000 } = opts;
  let client: PoolClient | undefined;
  let lost: LockLost | undefined;
  let releasing = false;
  let reacquiring: Promise<void> = Promise.resolve();

  /** Takes the lock on a new connection; true when held. */
  const take = async (): Promise<boolean> => {
    const c = await pool.connect();
    watch(c);
    try {
      const { rows } = await c.query("select pg_try_advisory_lock(hashtext($1)) as ok", [key]);
      if (rows[0].ok) {
        client = c;
        return true;
      }
      c.release();
      return false;
    } catch (e) {
      c.release(e as Error);
      throw e;
    }
  };

  const dropped = (c: PoolClient, why: string) => {
    if (c !== client || releasing) return;
    client = undefined;
    c.release(new Error(why)); // never back into the pool
    log(`the reconcile lock's database connection dropped (${why}); taking the lock again`);
    reacquiring = (async () => {
      for (let attempt = 1; attempt <= retries; attempt++) {
        try {
          if (await take()) return log(`reconcile lock of stack ${stack} taken again`);
          lost = new LockLost(`the reconcile lock of stack ${stack} was lost when its database connection dropped (${why}), and another run holds it now`);
          return log(lost.message);
        } catch (e) {
          if (attempt === retries) {
            lost = new LockLost(`the reconcile lock of stack ${stack} was lost when its database connection dropped (${why}), and it could not be taken again: ${(e as Error).message}`);
            return log(lost.message);
          }
          await new Promise((r) => setTimeout(r, retryMs * attempt));
        }
      }
    })();
  };

  // Without a listener, a connection error on a checked-out client is an unhandled 'error' event.
  function watch(c: PoolClient) {
    c.on("error", (e: Error) => dropped(c, e.message));
    c.on("end", () => dropped(c, "connection closed"));
  }

  if (!(await take())) throw new LockBusy(`another reconcile of stack ${stack} holds the lock; this run did nothing`);

  return {
    check() {
      if (lost) throw lost;
    },
    settled: () => reacquiring,
    async release() {
      await reacquiring;
      releasing = true;
      const c = client;
      client = undefined;
      if (!c) return;
      try {
        await c.query("select pg_advisory_unlock(hashtext($1))", [key]);
        c.release();
      } catch (e) {
        c.release(e as Error);
      }
    },
  };
}

/** Retries work while the engine says another update is running: exponential backoff with jitter. */
export async function retryConcurrent<T>(
  work: () => Promise<T>,
  opts: { attempts?: number; baseMs?: number; log?: (m: string) => void; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const { attempts = 5, baseMs = 2000, log = () => {}, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) } = opts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      if (!(e instanceof ConcurrentUpdate)) throw e;
      if (attempt >= attempts) throw new ConcurrentUpdate(`the stack was still being updated by someone else after ${attempts} attempts: ${e.message}`);
      const wait = Math.round(baseMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
      log(`stack busy (concurrent update), retry ${attempt}/${attempts - 1} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }
}
