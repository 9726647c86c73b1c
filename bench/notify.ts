// E-mails: how fast `wod notify` empties an outbox of 10,000 due messages into a local SMTP server
// (target ≥ 200/s on the project's 2-core machine), and how long the worker's scan (claim) and
// the plan's count take with 100,000 messages stored. Runnable alone: npx tsx bench/notify.ts
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { parseStackConfig } from "../infra/config";
import { syncCatalog } from "../infra/db/catalog-sync";
import { openEmbedded } from "../infra/db/connect";
import { migrate } from "../infra/db/migrate";
import { claimDue, countMessages } from "../infra/notify/outbox";
import { notifyOnce } from "../infra/notify/run";

const DUE = Number(process.env.WOD_BENCH_MAILS ?? 10_000);
const SMTP_SERVER = `
const { SMTPServer } = require("smtp-server");
let n = 0;
const server = new SMTPServer({ authOptional: true, disabledCommands: ["STARTTLS"], logger: false,
  onData(stream, _s, cb) { stream.on("data", () => {}); stream.on("end", () => { n++; cb(); }); } });
server.listen(0, "127.0.0.1", () => console.log("port " + server.server.address().port));
setInterval(() => console.log("n " + n), 1000);
`;
const STORED = 100_000;

export async function benchNotify(log: (line: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-bench-notify-"));
  fs.chmodSync(dir, 0o755);
  const db = await openEmbedded(path.join(dir, "pg"));
  // The SMTP server in its own process, as a real one would be: it does not share the worker's event loop.
  const server = spawn(process.execPath, ["-e", SMTP_SERVER], { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "inherit"] });
  let received = 0;
  const port = await new Promise<number>((resolve) => {
    server.stdout.setEncoding("utf8");
    server.stdout.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        if (line.startsWith("port ")) resolve(Number(line.slice(5)));
        else if (line.startsWith("n ")) received = Number(line.slice(2));
      }
    });
  });
  const receivedNow = async () => {
    const before = received;
    server.stdout.once("data", () => {});
    await new Promise((r) => setTimeout(r, 1200));
    return Math.max(before, received);
  };
  try {
    await migrate(db.pool);
    const config = parseStackConfig({
      locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
      smtp: { url: `smtp://127.0.0.1:${port}`, from: "Workshops <wod@example.org>" },
      notifications: { concurrency: Number(process.env.WOD_BENCH_CONCURRENCY ?? 16) },
    }, "bench");
    await syncCatalog(db.pool, config, [{
      name: "W", title: "Workshop W", description: "", active: true, capacity: 100, priority: 0, range: { min: 1, max: 100 }, reset: false, ldap: false,
      monoappliance: false, multiappliance: false, replayId: null, varpass: false, compile: false, workshopImg: "", badgeImg: "", beta: false,
      category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "", location: "eu", alternateLocation: [],
      folder: "WKSHP-W", dir: path.join(dir, "WKSHP-W"), locations: ["eu"], contentHash: "h",
    }]);
    // 10,000 registrations (cancelled: no seat, two messages each: the welcome and the cancellation), through the triggers.
    log(`   outbox: ${DUE} due messages from ${DUE / 2} registrations…`);
    const t0 = performance.now();
    await db.pool.query(`insert into participants (email, name) select 'learner' || i || '@example.org', 'Learner ' || i from generate_series(1, $1) i`, [DUE / 2]);
    await db.pool.query(
      `insert into registrations (participant_id, workshop, location, slot, starts_at, ends_at, status)
       select id, 'W', 'eu', 1, now(), now() + interval '4 hours', 'cancelled' from participants`,
    );
    log(`   triggers recorded ${DUE} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const secrets = { smtpPassword: async () => undefined, passwordSeed: async () => undefined };
    const t1 = performance.now();
    const r = await notifyOnce({ pool: db.pool, config, secrets, log });
    const s = (performance.now() - t1) / 1000;
    log(`   sent ${r.sent} (received ${await receivedNow()}) in ${s.toFixed(1)} s: ${Math.round(r.sent / s)} mails/s (target ≥ 200/s; ${config.notifications.concurrency} at once)`);

    // 100,000 stored: the sent ones plus older history, and 100 due.
    await db.pool.query(
      `insert into outbox (kind, dedupe_key, learner_id, registration_id, recipient, facts, due_at, state, sent_at)
       select 'registration-accepted', 'bench:' || i, null, (select min(id) from registrations), 'old' || i || '@example.org', '{}', now() - interval '30 days', 'sent', now() - interval '30 days'
         from generate_series(1, $1) i`,
      [STORED - DUE - 100],
    );
    await db.pool.query(
      `insert into outbox (kind, dedupe_key, registration_id, recipient, facts, due_at)
       select 'registration-accepted', 'bench-due:' || i, (select min(id) from registrations), 'due' || i || '@example.org', '{}', now() from generate_series(1, 100) i`,
    );
    await db.pool.query("analyze outbox");
    const stored = (await db.pool.query("select count(*)::int as n from outbox")).rows[0].n;
    const time = async (work: () => Promise<unknown>) => {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await work();
        runs.push(performance.now() - t);
      }
      return runs.sort((a, b) => a - b)[2];
    };
    const scan = await time(async () => {
      const c = await db.pool.connect();
      try {
        await c.query("begin");
        await claimDue(c as never, { now: new Date(), endingSoonMinutes: 60, limit: 100, worker: "bench", leaseSeconds: 300, messageIdDomain: "example.org" });
        await c.query("rollback"); // the same 100 each time
      } finally {
        c.release();
      }
    });
    const count = await time(() => countMessages(db.pool, new Date(), 60));
    log(`   outbox scan (claim 100 due) at ${stored.toLocaleString("en")} stored: ${scan.toFixed(1)} ms (target < 50 ms); counts for the plan: ${count.toFixed(1)} ms`);
  } finally {
    server.kill();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchNotify((l) => console.log(l)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
