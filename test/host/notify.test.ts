// End to end on the real Debian test host: a learner registered with `wod register` is activated
// (the real decision and components, applied over SSH: test/host/apply.ts), the write-back records
// it, and `wod notify` mails them through a real SMTP server. The password read from the received
// credentials mail logs in to that learner's JupyterHub; after the slot goes to the next learner,
// the previous learner's mail no longer does, and the new learner's does.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import { hashFolder } from "../../infra/catalog/load";
import type { Workshop } from "../../infra/catalog/schema";
import { syncCatalog } from "../../infra/db/catalog-sync";
import { readSnapshot } from "../../infra/db/snapshot";
import { desiredState } from "../../infra/desired/state";
import { ROOT } from "../../infra/load";
import { notifyOnce } from "../../infra/notify/run";
import { writeBack } from "../../infra/reconcile/writeback";
import { learnerPassword, passwordSeedId } from "../../components/passwords";
import { startPg, type TestPg } from "../support/pg";
import { startSmtp, type TestSmtp } from "../support/smtp";
import { HostApplier } from "./apply";
import { Browser, fixtures, startTestHost, type TestHost } from "./testhost";

let host: TestHost;
let applier: HostApplier;
let pg: TestPg;
let smtp: TestSmtp;
let pool: Pool;
let url: string;
let config: StackConfig;
let workshop: Workshop;
// The seed the applier's mocks give the stack's RandomPassword "password-seed" (test/host/apply.ts).
const SEED = "seed-password-seed-".padEnd(48, "x");

beforeAll(async () => {
  [host, pg, smtp] = await Promise.all([startTestHost(), startPg(), startSmtp()]);
  applier = new HostApplier(host);
  // The sample workshop with one text of its own, and one slot, so the second learner gets the first one's.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-notify-host-"));
  fs.cpSync(path.join(fixtures, "WKSHP-Sample"), path.join(dir, "WKSHP-Sample"), { recursive: true });
  fs.mkdirSync(path.join(dir, "WKSHP-Sample/wod-mail"));
  fs.writeFileSync(path.join(dir, "WKSHP-Sample/wod-mail/credentials-ready.subject"), "Your sample lab is ready, {{ NAME }}");
  const folder = path.join(dir, "WKSHP-Sample");
  workshop = {
    name: "Sample", title: "A sample workshop", description: "", active: true, capacity: 1, priority: 0, range: { min: 1, max: 1 }, reset: false, ldap: false,
    monoappliance: false, multiappliance: false, replayId: null, varpass: true, compile: false, workshopImg: "", badgeImg: "",
    beta: false, category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "", location: "lab", alternateLocation: [],
    folder: "WKSHP-Sample", dir: folder, locations: ["lab"], contentHash: hashFolder(folder),
  };
  config = parseStackConfig({
    locations: [{ name: "lab", provider: "existing", host: host.addr, slotPool: { min: 1, max: 5 } }],
    adminCidrs: ["10.231.0.0/16"], workshopsDir: dir,
    smtp: { url: smtp.url, from: "Workshops <wod@example.org>" },
  }, "host-test");
  pool = await pg.fresh();
  url = pg.url((await pool.query("select current_database() as db")).rows[0].db);
  await syncCatalog(pool, config, [workshop]);
}, 900_000);

afterAll(async () => {
  await smtp?.stop().catch(() => {});
  await pg?.stop();
  await host?.down();
}, 120_000);

/** `wod register` exactly as an operator runs it, on the platform database. */
async function wodRegister(email: string, name: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, "infra/cli/bin.js"), "register", "--email", email, "--workshop", "Sample", "--name", name], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: url },
  });
  return /^registration (\d+):/.exec(stdout)![1];
}

/** One reconcile's work on the real host: decide, apply over SSH, write back what was applied. */
async function converge() {
  const now = new Date();
  const snapshot = await readSnapshot(pool);
  const desired = desiredState({ catalog: [workshop], snapshot, config, now });
  const applied = await applier.apply([workshop], snapshot, config, now);
  await writeBack(pool, {
    desired, now,
    applied: { cohorts: new Map(Object.entries(applied.results)), droplets: new Map() },
    outputs: { credentials: applied.credentials, backends: { lab: { address: host.addr, hubUrl: host.hubUrl } }, passwordSeedId: passwordSeedId(SEED) },
  });
  return applied;
}

const tell = () => notifyOnce({ pool, config, secrets: { smtpPassword: async () => undefined, passwordSeed: async () => SEED } });
const credentialsMailOf = (email: string) => smtp.received.find((r) => r.envelopeTo.includes(email) && String(r.mail.headers.get("x-wod-message")).startsWith("credentials-ready"));
const passwordIn = (text: string) => /Password: {2}(\S+)/.exec(text)?.[1];

describe("a learner is told, and what they are told works", () => {
  let adaPassword: string;

  it("registered with wod register: the welcome mail, then a credentials mail whose password logs in to their JupyterHub", async () => {
    const ada = await wodRegister("ada@example.org", "Ada");
    await tell();
    expect(smtp.received.map((r) => r.envelopeTo[0])).toEqual(["ada@example.org"]);
    expect(smtp.received[0].mail.subject).toBe("Workshops-on-Demand: you are registered for A sample workshop");

    const applied = await converge();
    expect(applied.results["lab-WKSHP-Sample-s0"].slots["1"]).toMatchObject({ registration: ada, status: "active" });
    expect((await tell()).sent).toBe(1);
    const mail = credentialsMailOf("ada@example.org")!;
    expect(mail.mail.subject).toBe("Your sample lab is ready, Ada"); // the workshop's own subject
    expect(mail.mail.text).toContain(`Open:      ${host.hubUrl}`);
    expect(mail.mail.text).toContain("Username:  student1");
    adaPassword = passwordIn(mail.mail.text!)!;
    expect(adaPassword).toBe(learnerPassword(SEED, ada));
    const page = await new Browser(host.hubUrl).login("student1", adaPassword);
    expect(page.status).toBe(200);
    expect(page.url).toBe("/user/student1/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb");
    // The workshop's mail texts never reach the learner's home.
    expect((await host.ssh("test -e /student/student1/WKSHP-Sample/wod-mail")).code).toBe(1);
    expect((await host.ssh("test -e /student/student1/WKSHP-Sample/0-ReadMeFirst.ipynb")).code).toBe(0);
  }, 900_000);

  it("the slot goes to the next learner: the previous learner's mail no longer logs in, the new learner's does", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, "infra/cli/bin.js"), "cancel", (await pool.query("select id::text from registrations order by id limit 1")).rows[0].id], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: url },
    });
    expect(stdout).toMatch(/cancelled/);
    await converge(); // releases slot 1
    const bob = await wodRegister("bob@example.org", "Bob");
    await converge(); // activates it for Bob
    expect((await tell()).sent).toBe(3); // Ada's cancellation, Bob's welcome and credentials
    const bobPassword = passwordIn(credentialsMailOf("bob@example.org")!.mail.text!)!;
    expect(bobPassword).toBe(learnerPassword(SEED, bob));
    expect(bobPassword).not.toBe(adaPassword);
    expect((await new Browser(host.hubUrl).login("student1", adaPassword)).url).toBe("/hub/login");
    expect((await new Browser(host.hubUrl).login("student1", bobPassword)).status).toBe(200);
    // Nothing in the database holds either password.
    const dump = JSON.stringify([(await pool.query("select * from registrations")).rows, (await pool.query("select * from outbox")).rows]);
    expect(dump).not.toContain(adaPassword);
    expect(dump).not.toContain(bobPassword);
  }, 900_000);
});
