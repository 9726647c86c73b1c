// `wod notify` against a real PostgreSQL and a real SMTP server (smtp-server), every message
// parsed as a mail client reads it (mailparser): each kind once, to the right learner, with the
// right words and links; an SMTP server that is down, two workers, a worker killed between send and
// record; hostile names and addresses; the credentials mail's password is the one the stack set.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import * as path from "node:path";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { loadCheckedCatalog } from "../infra/catalog/templates";
import type { Database } from "../infra/db/connect";
import { syncCatalog } from "../infra/db/catalog-sync";
import { cancel, extend, register, resetRegistration } from "../infra/db/registrations";
import { ROOT } from "../infra/load";
import { listMessages } from "../infra/notify/outbox";
import { notifyAfterRun, notifyOnce } from "../infra/notify/run";
import { renderReport } from "../infra/reconcile/report";
import { formatTime } from "../infra/notify/worker";
import type { NotifySecrets } from "../infra/notify/secrets";
import { reconcile } from "../infra/reconcile/run";
import { learnerPassword, passwordSeedId } from "../components/passwords";
import { MockEngine } from "./reconcile/mock-engine";
import { KEY_B, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";
import { type Received, startSmtp, type TestSmtp } from "./support/smtp";

void new MockEngine(); // Pulumi's mocks before the stack program is imported (the reconcile case)

const SEED = "s3cr3t-password-seed-for-tests-0123456789abcdef";
// Registrations start now (to the minute): the triggers date events with the database's clock, and
// `--now` only ever looks ahead of it.
const T0 = new Date(Math.floor(Date.now() / 60_000) * 60_000);
const HOUR = 3_600_000;

let pg: TestPg;
let smtp: TestSmtp;
beforeAll(async () => {
  pg = await startPg();
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.stop().catch(() => {});
  await pg?.stop();
});

const catalogDir = writeCatalog({
  "WKSHP-Python": {
    yml: wodYml("Python", { name: "Python 101", range: [1, 30], capacity: 30, description: "Lists, loops and functions.", badgeImg: "https://example.org/badges/python.png", replayLink: "https://example.org/replays/python" }),
  },
  "WKSHP-Git": {
    yml: wodYml("Git", { range: [31, 40], capacity: 10, duration: 2 }),
    files: {
      "wod-mail/credentials-ready.subject": "Git time, {{ NAME }}!",
      "wod-mail/credentials-ready.txt": "Your Git lab: {{ HUBURL }} as {{ USERNAME }} / {{ PASSWORD }}. Bring a terminal.\n",
    },
  },
});

function rawConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }],
    adminSshKeys: [KEY_B], adminCidrs: ["198.51.100.0/24"], workshopsDir: catalogDir,
    studentServers: { enabled: true, allowedRegions: ["fra1", "ams3"], idleDays: 14, warningDays: 3 },
    brand: { surveyUrl: "https://example.org/survey" },
    smtp: { url: smtp.url, from: "Workshops <wod@example.org>", replyTo: "help@example.org" },
    ...extra,
  };
}
const configOf = (extra: Record<string, unknown> = {}) => parseStackConfig(rawConfig(extra), "test");
const secrets = (seed: string | undefined): NotifySecrets => ({ smtpPassword: async () => undefined, passwordSeed: async () => seed });

async function platform(config = configOf()): Promise<{ pool: Pool; url: string }> {
  const pool = await pg.fresh();
  await syncCatalog(pool, config, loadCatalog(catalogDir, config).workshops);
  return { pool, url: pg.url((await pool.query("select current_database() as db")).rows[0].db) };
}

async function book(pool: Pool, email: string, opts: { name?: string; workshop?: string } = {}) {
  const r = await register(pool, { email, name: opts.name, workshop: opts.workshop ?? "Python", startsAt: T0 });
  if (!r.ok) throw new Error(r.message);
  return r;
}

/** What the write-back does when the cohort's sync says the slot is active. */
const activate = (pool: Pool, id: string, slot: number, seed = SEED) =>
  pool.query("update registrations set status = 'active', username = $2, hub_url = 'http://eu.example.org:8000', password_seed_id = $3 where id = $1", [id, `student${slot}`, passwordSeedId(seed)]);

const pass = (pool: Pool, o: { now?: Date; config?: StackConfig; seed?: string | null; worker?: string } = {}) =>
  notifyOnce({ pool, config: o.config ?? configOf(), secrets: secrets(o.seed === null ? undefined : (o.seed ?? SEED)), now: () => o.now ?? new Date(), worker: o.worker });

const utc = (t: Date, plus = 0) => formatTime(new Date(t.getTime() + plus), "UTC");
const to = (address: string) => smtp.received.filter((r) => r.envelopeTo.includes(address));
const kindOf = (r: Received) => String(r.mail.headers.get("x-wod-message")).split(" ")[0];

describe("wod notify", () => {
  it("delivers every kind once, to its learner, with the workshop's words, links and the working password", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    const ada = await book(pool, "ada@example.org", { name: "Ada Lovelace" });
    await activate(pool, ada.id, ada.slot);
    await resetRegistration(pool, ada.id);
    expect((await pass(pool)).sent).toBe(3);
    await pool.query("update registrations set status = 'released', released_at = now(), completion = 0.5 where id = $1", [ada.id]);
    const bob = await book(pool, "bob@example.org");
    await cancel(pool, bob.id);
    const cy = await book(pool, "cy@example.org");
    await pool.query("update registrations set status = 'failed', failure_reason = 'activation did not finish within 10 minutes' where id = $1", [cy.id]);
    const dee = await book(pool, "dee@example.org");
    await activate(pool, dee.id, dee.slot);
    const lin = (await pool.query("insert into learners (email, region) values ('lin@example.org', 'fra1') returning id::text")).rows[0].id;
    await pool.query("insert into student_servers (learner_id, droplet_id, ipv4, region) values ($1, 'd1', '192.0.2.7', 'fra1')", [lin]);
    await pool.query("update student_servers set warned_at = $2 where learner_id = $1", [lin, T0]);
    await pool.query("update student_servers set snapshot_id = 'snap-42', removed_at = now(), removal_reason = 'idle', ipv4 = null where learner_id = $1", [lin]);
    const lou = (await pool.query("insert into learners (email, region) values ('lou@example.org', 'ams3') returning id::text")).rows[0].id;
    await pool.query("insert into student_servers (learner_id, droplet_id, ipv4, region) values ($1, 'd2', '192.0.2.8', 'ams3')", [lou]);
    await pool.query("update student_servers set warned_at = $2 where learner_id = $1", [lou, T0]);

    const first = await pass(pool);
    // The reminder is due one hour before the end (4 h workshop): not yet.
    const reminder = await pass(pool, { now: new Date(T0.getTime() + 3 * HOUR + 60_000) });
    const again = await pass(pool, { now: new Date(T0.getTime() + 3 * HOUR + 60_000) });
    expect(first).toMatchObject({ givenUp: 0, undeliverable: 0, failed: 0 });
    expect(reminder.sent).toBe(1);
    expect(again.sent).toBe(0);

    const got = (address: string) => to(address).map(kindOf);
    expect(got("ada@example.org")).toEqual(["registration-accepted", "credentials-ready", "registration-reset", "workshop-ended"]);
    expect(got("bob@example.org")).toEqual(["registration-accepted", "registration-cancelled"]);
    expect(got("cy@example.org")).toEqual(["registration-accepted", "activation-failed"]);
    expect(got("dee@example.org")).toEqual(["registration-accepted", "credentials-ready", "ending-soon"]);
    expect(got("lin@example.org")).toEqual(["server-removed"]); // granted and warned were superseded before any pass
    expect(got("lou@example.org")).toEqual(["server-granted", "server-idle-warning"]);

    const [welcome, credentials, reset, ended] = to("ada@example.org");
    expect(welcome.mail.subject).toBe("Workshops-on-Demand: you are registered for Python 101");
    expect(welcome.mail.to).toMatchObject({ value: [{ name: "Ada Lovelace", address: "ada@example.org" }] });
    expect(welcome.mail.from?.value[0]).toEqual({ name: "Workshops", address: "wod@example.org" });
    expect(welcome.mail.replyTo?.value[0].address).toBe("help@example.org");
    expect(welcome.mail.text).toContain(`from ${utc(T0)} to ${utc(T0, 4 * HOUR)} (4 hours)`);
    const password = learnerPassword(SEED, ada.id);
    expect(credentials.mail.text).toContain("Open:      http://eu.example.org:8000");
    expect(credentials.mail.text).toContain(`Username:  student${ada.slot}`);
    expect(credentials.mail.text).toContain(`Password:  ${password}`);
    expect(credentials.mail.text).toContain("Lists, loops and functions.");
    expect(credentials.mail.html).toContain(`<a href="http://eu.example.org:8000">`);
    expect(reset.mail.text).toContain("Your username and password stay the same");
    expect(reset.mail.text).not.toContain(password);
    expect(ended.mail.text).toContain("You ran 50% of its exercises.");
    expect(ended.mail.text).toContain("https://example.org/badges/python.png");
    expect(ended.mail.text).toContain("https://example.org/replays/python");
    expect(ended.mail.html).toContain('href="https://example.org/survey"');
    expect(to("dee@example.org")[2].mail.text).toContain(`ends in about 59 minutes, at ${utc(T0, 4 * HOUR)}`);
    const [granted, warning] = to("lou@example.org");
    expect(granted.mail.text).toContain("ssh root@192.0.2.8");
    expect(warning.mail.subject).toBe(`Workshops-on-Demand: your student server will be removed on ${utc(T0, 3 * 24 * HOUR)}`);
    expect(to("lin@example.org")[0].mail.text).toMatch(/192\.0\.2\.7 has been removed \(nobody logged in to it for too long\)[\s\S]*snap-42/);
    // Every message is auto-generated (no vacation replies) and has its own stable Message-ID.
    const ids = smtp.received.map((r) => r.mail.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(smtp.received.every((r) => r.mail.headers.get("auto-submitted") === "auto-generated")).toBe(true);
    const stored = await listMessages(pool, { registration: ada.id });
    expect(stored.filter((m) => m.state === "sent").map((m) => m.messageId)).toEqual(to("ada@example.org").map((r) => r.mail.messageId));
    // The outbox holds no password.
    expect(JSON.stringify((await pool.query("select * from outbox")).rows)).not.toContain(password);
  });

  it("a workshop's own texts replace the defaults (plain text only when it words only the text); kinds switched off are skipped", async () => {
    smtp.received.length = 0;
    const config = configOf({ notifications: { off: ["registration-accepted"] } });
    const { pool } = await platform(config);
    const r = await book(pool, "gia@example.org", { name: "Gia", workshop: "Git" });
    await activate(pool, r.id, r.slot);
    expect(await pass(pool, { config })).toMatchObject({ sent: 1, skipped: 1 });
    const [mail] = to("gia@example.org");
    expect(mail.mail.subject).toBe("Git time, Gia!");
    expect(mail.mail.text).toBe(`Your Git lab: http://eu.example.org:8000 as student${r.slot} / ${learnerPassword(SEED, r.id)}. Bring a terminal.\n`);
    expect(mail.mail.html).toBe(false);
    expect((await listMessages(pool, { registration: r.id }))[0]).toMatchObject({ kind: "registration-accepted", state: "skipped", lastError: expect.stringMatching(/switched off/) });
  });

  it("the plan checks a workshop's mail texts like notebooks: an undefined variable is an error naming the file and line", () => {
    const dir = writeCatalog({
      "WKSHP-Bad": { yml: wodYml("Bad"), files: { "wod-mail/ending-soon.txt": "Hi {{ NAME }},\nsee {{ HUB_URL }}\n", "wod-mail/welcome.txt": "hello" } },
    });
    const issues = loadCheckedCatalog(dir, configOf()).issues.filter((i) => i.severity === "error");
    expect(issues).toHaveLength(2);
    expect(issues).toEqual(expect.arrayContaining([
      { file: `${path.basename(dir)}/WKSHP-Bad/wod-mail/ending-soon.txt`, field: "line 2", message: expect.stringMatching(/'HUB_URL' is undefined: a ending-soon text may use .*HUBURL/), severity: "error", workshop: "WKSHP-Bad" },
      { file: `${path.basename(dir)}/WKSHP-Bad/wod-mail/welcome.txt`, message: expect.stringMatching(/not a mail text/), severity: "error", workshop: "WKSHP-Bad" },
    ]));
  });

  it("no password seed, or another stack's: the credentials mail waits (the reason is shown) and is sent once the right seed is given", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    const r = await book(pool, "hal@example.org");
    await activate(pool, r.id, r.slot);
    expect(await pass(pool, { seed: null })).toMatchObject({ sent: 1, waiting: 1 });
    const wrong = "another-stack-seed-0123456789abcdefghijklmnopqrstuv";
    await pass(pool, { seed: wrong, now: new Date(T0.getTime() + 10 * 60_000) });
    const waiting = (await listMessages(pool, { registration: r.id })).find((m) => m.kind === "credentials-ready")!;
    expect(waiting).toMatchObject({ state: "due", attempts: 0, lastError: expect.stringMatching(/not the one this learner's password came from/) });
    await pass(pool, { now: new Date(T0.getTime() + 20 * 60_000) });
    expect(to("hal@example.org").map(kindOf)).toEqual(["registration-accepted", "credentials-ready"]);
    expect(to("hal@example.org")[1].mail.text).toContain(learnerPassword(SEED, r.id));
  });

  it("hostile names and addresses stay inert: no added header, recipient or markup; a refused address is undeliverable and the rest go on", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    const evil = "Eve\r\nBcc: victim@example.org\r\nSubject: pwned <script>alert(1)</script>" + "A".repeat(1000);
    await book(pool, "eve@example.org", { name: evil });
    await book(pool, "nobody@example.org", { name: "Nobody" });
    await book(pool, "fay@example.org", { name: "Fay" });
    smtp.refuse.add("nobody@example.org");
    // An address another application wrote, that no mail server should be handed.
    const p = (await pool.query("insert into participants (email) values ('x@y') returning id")).rows[0].id;
    await pool.query("update participants set email = 'a@b>, c@d' where id = $1", [p]).catch(() => {}); // the table's own check may refuse it
    await pool.query("insert into learners (email) values ('bad address@example.org') on conflict do nothing").catch(() => {});
    const lid = (await pool.query("select id from learners where email = 'bad address@example.org'")).rows[0]?.id;
    if (lid) await pool.query("insert into student_servers (learner_id, droplet_id, ipv4, region) values ($1, 'd9', '192.0.2.9', 'fra1')", [lid]);

    const r = await pass(pool);
    smtp.refuse.clear();
    expect(r).toMatchObject({ sent: 2, undeliverable: lid ? 2 : 1 });
    expect(smtp.received.map((x) => x.envelopeTo).sort()).toEqual([["eve@example.org"], ["fay@example.org"]]);
    const eve = to("eve@example.org")[0];
    expect(eve.mail.bcc).toBeUndefined();
    expect(eve.mail.headers.has("bcc")).toBe(false);
    expect(eve.mail.to).toMatchObject({ value: [{ address: "eve@example.org" }] });
    expect(eve.mail.to && "value" in eve.mail.to ? eve.mail.to.value : []).toHaveLength(1);
    expect(eve.mail.subject).toBe("Workshops-on-Demand: you are registered for Python 101");
    expect(eve.raw).not.toMatch(/^Bcc:/im);
    expect(eve.raw).not.toMatch(/^Subject: pwned/im);
    expect(eve.mail.html).not.toContain("<script>");
    expect(eve.mail.html).toContain("&#60;script&#62;");
    expect(String(eve.mail.to && "value" in eve.mail.to ? eve.mail.to.value[0].name : "").length).toBeLessThanOrEqual(64);
    const refused = (await listMessages(pool, { email: "nobody@example.org" })).find((m) => m.kind === "registration-accepted")!;
    expect(refused).toMatchObject({ state: "undeliverable", lastError: expect.stringMatching(/550.*no such mailbox/) });
    if (lid) expect((await listMessages(pool, { learner: lid }))[0]).toMatchObject({ state: "undeliverable", lastError: expect.stringMatching(/not a deliverable e-mail address/) });
  });

  it("a refusal for now is retried with backoff, and given up after maxAttempts with the reason kept", async () => {
    smtp.received.length = 0;
    const config = configOf({ notifications: { maxAttempts: 3 } });
    const { pool } = await platform(config);
    await book(pool, "ivy@example.org");
    smtp.onMessage = (m) => {
      if (m.envelopeTo.includes("ivy@example.org")) throw new Error("mailbox busy, try later");
    };
    try {
      let t = Date.now() + 1000;
      expect(await pass(pool, { config, now: new Date(t) })).toMatchObject({ failed: 1 });
      expect(await pass(pool, { config, now: new Date(t + 30_000) })).toMatchObject({ failed: 0, sent: 0 }); // not before its retry time
      const [m] = await listMessages(pool, { email: "ivy@example.org" });
      expect(m).toMatchObject({ state: "failing", attempts: 1, lastError: expect.stringMatching(/451.*mailbox busy/) });
      expect(m.retryAt!.getTime() - t).toBe(60_000);
      t += 61_000;
      expect(await pass(pool, { config, now: new Date(t) })).toMatchObject({ failed: 1 });
      t += 121_000;
      expect(await pass(pool, { config, now: new Date(t) })).toMatchObject({ givenUp: 1 });
      expect((await listMessages(pool, { email: "ivy@example.org" }))[0]).toMatchObject({ state: "given-up", attempts: 3, lastError: expect.stringMatching(/mailbox busy/) });
      expect(await pass(pool, { config, now: new Date(t + 24 * HOUR) })).toMatchObject({ sent: 0, failed: 0, givenUp: 0 });
    } finally {
      smtp.onMessage = undefined;
    }
  });

  it("SMTP server down during a pass: nothing is lost, no try is counted; once it is back every due message arrives once", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    for (let i = 0; i < 12; i++) await book(pool, `down${i}@example.org`);
    await smtp.stop();
    try {
      const r = await pass(pool);
      expect(r.sent).toBe(0);
      expect(r.serverDown).toMatch(/SMTP server cannot be used/);
      expect(r.counts).toMatchObject({ due: 12, sent: 0, failing: 0, givenUp: 0 });
      expect((await pool.query("select max(attempts)::int as n from outbox")).rows[0].n).toBe(0);
    } finally {
      await smtp.start();
    }
    const after = await pass(pool);
    expect(after).toMatchObject({ sent: 12, counts: { due: 0, sent: 12 } });
    const addresses = smtp.received.map((x) => x.envelopeTo[0]).sort();
    expect(addresses).toEqual(Array.from({ length: 12 }, (_, i) => `down${i}@example.org`).sort());
  });

  it("two workers on one database never send a message twice", async () => {
    smtp.received.length = 0;
    const config = configOf({ notifications: { concurrency: 3 } });
    const { pool, url } = await platform(config);
    await pool.query(
      `insert into participants (email, name) select 'w' || i || '@example.org', 'W ' || i from generate_series(1, 300) i`,
    );
    await pool.query(
      `insert into registrations (participant_id, workshop, location, slot, starts_at, ends_at, status)
       select p.id, 'Python', 'eu', 1, $1, $1::timestamptz + interval '4 hours', 'cancelled' from participants p`,
      [T0],
    );
    const other = new Pool({ connectionString: url, max: 10 });
    try {
      const [a, b] = await Promise.all([pass(pool, { config, worker: "a" }), pass(other, { config, worker: "b" })]);
      expect(a.sent + b.sent).toBe(600); // a welcome and a cancellation each
      expect(a.sent).toBeGreaterThan(0);
      expect(b.sent).toBeGreaterThan(0);
    } finally {
      await other.end();
    }
    const ids = smtp.received.map((r) => r.mail.messageId);
    expect(ids).toHaveLength(600);
    expect(new Set(ids).size).toBe(600);
  });

  it("a database connection killed between send and record: the record is made on a new connection, nothing is sent twice", async () => {
    smtp.received.length = 0;
    const { pool, url } = await platform();
    for (let i = 0; i < 5; i++) await book(pool, `kill${i}@example.org`);
    const worker = new Pool({ connectionString: url, max: 4, application_name: "wod-notify-killed" });
    worker.on("error", () => {});
    let killed = 0;
    smtp.onMessage = async (m) => {
      if (m.envelopeTo[0] !== "kill2@example.org") return;
      killed = (await pool.query("select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = 'wod-notify-killed'")).rows[0].n;
    };
    try {
      expect(await pass(worker)).toMatchObject({ sent: 5 });
    } finally {
      smtp.onMessage = undefined;
      await worker.end();
    }
    expect(killed).toBeGreaterThan(0);
    expect(smtp.received.map((r) => r.envelopeTo[0]).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `kill${i}@example.org`));
    expect((await pool.query("select count(*)::int as n from outbox where state = 'sent'")).rows[0].n).toBe(5);
  });

  it("a worker killed between send and record: its claim expires and another worker sends that one message again (same Message-ID), never losing one", async () => {
    smtp.received.length = 0;
    const raw = rawConfig({ notifications: { concurrency: 1, leaseSeconds: 5 } });
    const config = parseStackConfig(raw, "test");
    const { pool, url } = await platform(config);
    for (let i = 0; i < 5; i++) await book(pool, `crash${i}@example.org`);
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/support/notify-child.ts")], {
      env: { ...process.env, WOD_TEST_NOTIFY: JSON.stringify({ url, config: raw, seed: SEED, worker: "doomed" }) }, stdio: "pipe",
    });
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const locker = await pool.connect();
    try {
      smtp.onMessage = async (m) => {
        if (m.envelopeTo[0] !== "crash2@example.org") return;
        // Hold the message's row so its record cannot land, accept the message, then kill the worker.
        const id = String(m.mail.headers.get("x-wod-message")).split(" ")[1];
        await locker.query("begin");
        await locker.query("select 1 from outbox where id = $1 for update", [id]);
        setTimeout(() => child.kill("SIGKILL"), 300);
      };
      await exited;
      // The dead worker's blocked record dies with its machine (its backend would otherwise finish it).
      await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'doomed'");
      await locker.query("rollback");
      smtp.onMessage = undefined;
      expect(smtp.received.map((r) => r.envelopeTo[0])).toEqual(["crash0@example.org", "crash1@example.org", "crash2@example.org"]);
      // While the dead worker's claim lasts, nobody else sends its messages.
      const early = await pass(pool, { config, now: new Date() });
      expect(early.sent).toBe(0);
      // Once it has expired, the next passes send them: the one in flight again, the others once.
      const end = Date.now() + 30_000;
      let sent = 0;
      while (sent < 3 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        sent += (await pass(pool, { config, now: new Date() })).sent;
      }
      expect(sent).toBe(3);
    } finally {
      smtp.onMessage = undefined;
      locker.release();
      child.kill("SIGKILL");
    }
    const byAddress = (a: string) => smtp.received.filter((r) => r.envelopeTo[0] === a);
    expect(byAddress("crash2@example.org")).toHaveLength(2);
    expect(byAddress("crash2@example.org")[0].mail.messageId).toBe(byAddress("crash2@example.org")[1].mail.messageId);
    for (const i of [0, 1, 3, 4]) expect(byAddress(`crash${i}@example.org`)).toHaveLength(1);
    expect((await pool.query("select count(*)::int as n from outbox where kind = 'registration-accepted' and state = 'sent'")).rows[0].n).toBe(5);
  }, 120_000);

  it("an extension moves the reminder: the old one never goes, the new one goes before the new end", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    const r = await book(pool, "jo@example.org");
    await extend(pool, r.id, 2);
    expect((await pass(pool, { now: new Date(T0.getTime() + 3 * HOUR + 60_000) })).sent).toBe(1); // only the welcome
    expect((await pass(pool, { now: new Date(T0.getTime() + 5 * HOUR + 60_000) })).sent).toBe(1);
    const [, reminder] = to("jo@example.org");
    expect(reminder.mail.subject).toBe(`Workshops-on-Demand: Python 101 ends at ${utc(T0, 6 * HOUR)}`);
  });

  it("registered, activated by a reconcile, told: the credentials mail's password is the one the stack gave the host, and no database row holds a live learner's password", async () => {
    smtp.received.length = 0;
    const config = configOf();
    const { pool } = await platform(config);
    const { declareStack } = await import("../infra/stack");
    const engine = new MockEngine();
    const db: Database = { pool, describe: "test", close: async () => {} };
    const regs = [await book(pool, "kim@example.org"), await book(pool, "lee@example.org")];
    const report = await reconcile({
      stack: "test", config, db, engine, now: () => T0, sleep: async () => {},
      declare: (d, c) => declareStack(d, c, { sshPrivateKey: "PRIVATE KEY" }) as unknown as Record<string, unknown>,
    });
    expect(report.exitCode).toBe(0);
    const outputs = (await engine.outputs()) as { credentials: Record<string, string>; passwordSeed: string };
    const r = await notifyOnce({ pool, config, secrets: secrets(outputs.passwordSeed) });
    expect(r.sent).toBe(4);
    for (const reg of regs) {
      const mail = to(reg.id === regs[0].id ? "kim@example.org" : "lee@example.org").find((m) => kindOf(m) === "credentials-ready")!;
      expect(/Password: {2}(\S+)/.exec(mail.mail.text!)![1]).toBe(outputs.credentials[reg.id]);
    }
    // A dump of every table (what pg_dump's data section holds) contains no live password.
    const tables = (await pool.query("select tablename from pg_tables where schemaname = 'public'")).rows.map((t) => t.tablename);
    let dump = "";
    for (const t of tables) dump += JSON.stringify((await pool.query(`select * from "${t}"`)).rows);
    for (const password of Object.values(outputs.credentials)) expect(dump).not.toContain(password);
    expect(Object.keys(outputs.credentials)).toHaveLength(2);
  });

  it("the reconcile's closing pass takes the seed from WOD_PASSWORD_SEED when the Pulumi CLI cannot give it, and its report says what went", async () => {
    smtp.received.length = 0;
    const { pool } = await platform();
    const r = await book(pool, "max@example.org");
    await activate(pool, r.id, r.slot);
    const before = process.env.WOD_PASSWORD_SEED;
    process.env.WOD_PASSWORD_SEED = SEED;
    let messages;
    try {
      messages = await notifyAfterRun(pool, configOf(), "acme/wod/nosuch", () => {});
    } finally {
      if (before === undefined) delete process.env.WOD_PASSWORD_SEED;
      else process.env.WOD_PASSWORD_SEED = before;
    }
    expect(messages).toMatchObject({ sent: 2 });
    expect(to("max@example.org")[1].mail.text).toContain(learnerPassword(SEED, r.id));
    const text = renderReport({ stack: "test", exitCode: 0, outcome: "converged", message: "ok", phases: [], changes: {}, fastPath: false, rejected: [], quarantined: [], guard: [], failures: [], unreachable: [], messages });
    expect(text).toMatch(/notify: 2 sent, 0 failed .*\n {2}e-mails: 0 due, 1 scheduled, 0 failing, 2 sent/);
  });

  it("as an operator types it: wod notify --dry-run prints and changes nothing, --once without wod:smtp sends nothing and says so, wod messages lists a learner's mails", async () => {
    const { pool, url } = await platform(parseStackConfig({ ...rawConfig(), smtp: undefined, workshopsDir: "workshops" }, "test"));
    const dev = (await import("../infra/config")).readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    await syncCatalog(pool, dev, loadCatalog(path.join(ROOT, "workshops"), dev).workshops);
    const w = (await pool.query("select name from workshops where active order by name limit 1")).rows[0].name;
    const reg = await register(pool, { email: "ops@example.org", name: "Ops", workshop: w });
    if (!reg.ok) throw new Error(reg.message);
    const wod = async (args: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, "infra/cli/bin.js"), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } });
        return { code: 0, stdout, stderr };
      } catch (e) {
        return e as { code: number; stdout: string; stderr: string };
      }
    };
    const dry = await wod(["notify", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/registration-accepted to ops@example.org: Workshops-on-Demand: you are registered for/);
    expect(dry.stdout).toMatch(/notify \(dry run\): 1 would be sent, nothing was sent or changed/);
    const once = await wod(["notify", "--once"]);
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/wod:smtp is not set: nothing sent, messages wait/);
    expect(once.stdout).toMatch(/e-mails: 1 due, 1 scheduled, 0 failing, 0 sent/);
    const list = await wod(["messages", "--email", "OPS@example.org"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`registration-accepted +due +registration ${reg.id} +to ops@example.org`));
    expect(list.stdout).toMatch(/ending-soon +due/);
    expect((await wod(["messages", "--registration", "999999"])).code).toBe(1);
    expect((await wod(["messages"])).stderr).toMatch(/exactly one of --registration, --learner, --email/);
    expect((await wod(["notify", "--now", "tomorrow", "--once"])).code).toBe(2);
  }, 120_000);
});
