// The long-running worker's wait: until the next message is due, or until the outbox's trigger
// says a message was added (LISTEN wod_outbox), whichever comes first. Its own small listener: a
// dedicated connection, reconnected with backoff; a wake-up missed while disconnected costs at
// most the wait's upper bound, since every pass reads the table itself.
import { Client } from "pg";

export interface Waker {
  /** Resolves on a wake-up or after ms. */
  wait(ms: number): Promise<"woken" | "timeout">;
  close(): Promise<void>;
}

export function listenWaker(url: string, log: (m: string) => void = () => {}): Waker {
  let client: Client | undefined;
  let closed = false;
  let woken = false;
  let wake: (() => void) | undefined;
  let backoff = 1000;
  let connecting = false;
  const connect = async () => {
    if (connecting) return;
    connecting = true;
    while (!closed && !client) {
      const c = new Client({ connectionString: url, application_name: "wod-notify-listen" });
      c.on("error", () => {});
      c.on("end", () => {
        if (client !== c) return; // a connection that never got going: the loop retries
        client = undefined;
        if (!closed) setTimeout(() => void connect(), backoff);
      });
      c.on("notification", () => {
        woken = true;
        wake?.();
      });
      try {
        await c.connect();
        await c.query("listen wod_outbox");
        client = c;
        backoff = 1000;
        woken = true; // catch up on what was added while not listening
        wake?.();
      } catch (e) {
        log(`notify: cannot listen for new messages (${(e as Error).message}); retrying in ${backoff / 1000} s`);
        await c.end().catch(() => {});
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 60_000);
      }
    }
    connecting = false;
  };
  void connect();
  return {
    wait(ms) {
      if (woken) {
        woken = false;
        return Promise.resolve("woken");
      }
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          wake = undefined;
          resolve("timeout");
        }, ms);
        wake = () => {
          clearTimeout(t);
          wake = undefined;
          woken = false;
          resolve("woken");
        };
      });
    },
    async close() {
      closed = true;
      wake?.();
      await client?.end().catch(() => {});
    },
  };
}
