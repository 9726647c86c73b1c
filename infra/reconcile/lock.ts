// One reconcile per stack at a time: a session-level PostgreSQL advisory lock held on its own
// connection for the whole run, and retries when the engine reports a concurrent update.
import type { Pool, PoolClient } from "pg";
import { ConcurrentUpdate } from "./engine";

export class LockBusy extends Error {}

export interface StackLock {
  release(): Promise<void>;
}

export async function lockStack(pool: Pool, stack: string): Promise<StackLock> {
  const client: PoolClient = await pool.connect();
  try {
    const { rows } = await client.query("select pg_try_advisory_lock(hashtext($1)) as ok", [`wod:reconcile:${stack}`]);
    if (!rows[0].ok) throw new LockBusy(`another reconcile of stack ${stack} holds the lock; this run did nothing`);
  } catch (e) {
    client.release();
    throw e;
  }
  return {
    async release() {
      await client.query("select pg_advisory_unlock(hashtext($1))", [`wod:reconcile:${stack}`]).catch(() => {});
      client.release();
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
