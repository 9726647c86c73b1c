// A real SMTP server for tests (the smtp-server package), every received message parsed with
// mailparser as a mail client would read it.
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface Received {
  /** The envelope: who the server was asked to deliver to (what really decides recipients). */
  envelopeTo: string[];
  envelopeFrom: string;
  mail: ParsedMail;
  raw: string;
}

export interface TestSmtp {
  port: number;
  url: string;
  received: Received[];
  /** Recipients the server refuses with 550 at RCPT TO. */
  refuse: Set<string>;
  /** Called with each message before the server answers 250 (throw to answer 451). */
  onMessage?: (r: Received) => void | Promise<void>;
  stop(): Promise<void>;
  /** Starts again on the same port (after stop). */
  start(): Promise<void>;
  /** Waits until n messages have arrived (no fixed sleep). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

export async function startSmtp(opts: Partial<SMTPServerOptions> = {}, port = 0): Promise<TestSmtp> {
  const t: TestSmtp = {
    port, url: "", received: [], refuse: new Set(),
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
    },
    async start() {
      server = make();
      await listen(t.port);
    },
    async waitFor(n, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (t.received.length < n) {
        if (Date.now() > end) throw new Error(`expected ${n} messages, got ${t.received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  const make = () =>
    new SMTPServer({
      authOptional: true, disabledCommands: ["STARTTLS"], logger: false, size: 10 << 20,
      onRcptTo(address, _session, cb) {
        if (t.refuse.has(address.address.toLowerCase())) return cb(Object.assign(new Error("5.1.1 no such mailbox"), { responseCode: 550 }));
        cb();
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", async () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          try {
            const r: Received = {
              envelopeTo: session.envelope.rcptTo.map((a) => a.address), envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              mail: await simpleParser(raw), raw,
            };
            await t.onMessage?.(r);
            t.received.push(r);
            cb();
          } catch (e) {
            cb(Object.assign(new Error(`4.3.0 ${(e as Error).message}`), { responseCode: 451 }));
          }
        });
      },
      ...opts,
    });
  let server = make();
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        t.port = (server.server.address() as AddressInfo).port;
        t.url = `smtp://127.0.0.1:${t.port}`;
        resolve();
      });
    });
  await listen(port);
  return t;
}
