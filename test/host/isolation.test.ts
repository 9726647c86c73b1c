// Learner isolation on a real backend, tested as an adversarial learner and workshop author would:
// once a slot is released nothing of its learner remains reachable, the next learner of the slot
// inherits nothing, and no file a learner or author writes runs as root or stalls the platform.
import { join } from "node:path";
import { mkdtempSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import type { Workshop } from "../../infra/catalog/schema";
import type { RegistrationRow, Snapshot } from "../../infra/db/snapshot";
import { hashFolder } from "../../infra/catalog/load";
import { HostApplier } from "./apply";
import { Browser, fixtures, hubApi, startTestHost, type TestHost } from "./testhost";

let host: TestHost;
let applier: HostApplier;
let config: StackConfig;
let token: string;
const NOW = new Date();
const HOUR = 3_600_000;
const COHORT = "lab-WKSHP-Sample-s0";

const workshop = (dir = join(fixtures, "WKSHP-Sample"), fields: Partial<Workshop> = {}): Workshop => ({
  name: "Sample", title: "A sample workshop", description: "", active: true, capacity: 9, priority: 0, range: { min: 1, max: 9 },
  reset: false, ldap: false, monoappliance: false, multiappliance: false, replayId: null, varpass: true, compile: false,
  workshopImg: "", badgeImg: "", beta: false, category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "",
  location: "lab", alternateLocation: [], folder: "WKSHP-Sample", dir, locations: ["lab"], contentHash: hashFolder(dir), ...fields,
});
const live = (id: string, slot: number, fields: Partial<RegistrationRow> = {}): RegistrationRow => ({
  id, participantId: id, email: `${id}@example.org`, workshop: "Sample", location: "lab", slot, status: "active", generation: 1,
  releaseAttempts: 0, startsAt: new Date(NOW.getTime() - HOUR), endsAt: new Date(NOW.getTime() + 3 * HOUR), ...fields,
});
const ended = (id: string, slot: number): Snapshot["closing"][number] => ({ id, workshop: "Sample", location: "lab", slot, status: "cancelled", generation: 1, releaseAttempts: 0 });
const apply = (registrations: RegistrationRow[], closing: Snapshot["closing"] = [], catalog = [workshop()]) =>
  applier.apply(catalog, { registrations, closing, learners: [], studentServers: [] }, config);
/** Runs a shell command as the learner on the host, as their own processes would. */
async function asLearner(slot: number, script: string) {
  const r = await host.ssh(`su student${slot} -s /bin/bash`, { input: script });
  if (r.code !== 0) throw new Error(`as student${slot}: ${script}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  host = await startTestHost();
  applier = new HostApplier(host);
  config = parseStackConfig({
    locations: [{ name: "lab", provider: "existing", host: host.addr, slotPool: { min: 1, max: 9 } }],
    adminCidrs: ["10.231.0.0/16"],
  }, "isolation");
  await apply([]); // bootstrap
  token = (await host.sh("cat /etc/wod/hub-token")).trim();
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("release ends every way back in", () => {
  it("a released learner's hub cookie, API token and notebook session all fail, and reach nothing of the slot's next learner", async () => {
    const a = await apply([live("201", 1)]);
    const browser = new Browser(host.hubUrl);
    expect((await browser.login("student1", a.credentials["201"])).url).toBe("/user/student1/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb");
    const own = await browser.request("/user/student1/api/contents/WKSHP-Sample");
    expect(own.status, `${own.url} ${own.body.slice(0, 300)} trail ${browser.trail.join(" ")}`).toBe(200);
    // A token the learner makes for themselves with their session, as the hub's token page does.
    const made = await browser.api("/hub/api/users/student1/tokens", { note: "mine" });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    const learnerToken = (made.json as { token: string }).token;
    expect((await fetch(`${host.hubUrl}/hub/api/user`, { headers: { authorization: `token ${learnerToken}` } })).status).toBe(200);

    // Slot 1 passes from registration 201 to 202 in one run: released, then activated for the next learner.
    const b = await apply([live("202", 1)], [ended("201", 1)]);
    expect(b.results[COHORT].released.map((r) => r.registration)).toEqual(["201"]);

    // The next learner logs in: their server runs, with their password in their notebook.
    const next = new Browser(host.hubUrl);
    expect((await next.login("student1", b.credentials["202"])).url).toBe("/user/student1/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb");
    expect((await next.request("/user/student1/api/contents/WKSHP-Sample/0-ReadMeFirst.ipynb")).body).toContain(b.credentials["202"]);

    // The old session reaches nothing: not the hub, not the server, not the new learner's files.
    expect((await browser.request("/hub/home")).url).toMatch(/^\/hub\/login/);
    const files = await browser.request("/user/student1/api/contents/WKSHP-Sample/0-ReadMeFirst.ipynb");
    expect(files.url.startsWith("/hub/login") || files.status === 403, `${files.status} ${files.url}`).toBe(true);
    expect(files.body).not.toContain(b.credentials["202"]);
    expect((await browser.request("/hub/spawn")).url).toMatch(/^\/hub\/login/);
    expect((await fetch(`${host.hubUrl}/hub/api/user`, { headers: { authorization: `token ${learnerToken}` } })).status).toBe(403);
    expect((await new Browser(host.hubUrl).login("student1", a.credentials["201"])).url).toBe("/hub/login");
  }, 900_000);

  it("the hub refuses a server to a slot whose account is locked, whoever asks", async () => {
    await host.sh("usermod -L student1");
    const stop = await fetch(`${host.hubUrl}/hub/api/users/student1/server`, { method: "DELETE", headers: { authorization: `token ${token}` } });
    expect([202, 204]).toContain(stop.status);
    const deadline = Date.now() + 60_000;
    while ((await hubApi(host, token, "/users/student1")).json.servers[""] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const start = await fetch(`${host.hubUrl}/hub/api/users/student1/server`, { method: "POST", headers: { authorization: `token ${token}` } });
    expect(start.status).toBeGreaterThanOrEqual(400);
    expect((await host.ssh("pgrep -u student1 -f jupyterhub-singleuser")).code).toBe(1);
    await host.sh("usermod -U student1");
  }, 180_000);

  it("files in /tmp, /var/tmp and /dev/shm, cron and at spool entries and SysV IPC objects of the learner are gone after release", async () => {
    await apply([live("203", 2)]);
    const uid = (await host.sh("id -u student2")).trim();
    await asLearner(2, "echo secret > /tmp/notes-a; mkdir /tmp/mine && echo x > /tmp/mine/f; echo y > /var/tmp/keep; echo z > /dev/shm/shared; ipcmk -M 4096 && ipcmk -Q && ipcmk -S 1");
    // What `crontab` and `at` would leave in their spools for this learner.
    await host.sh(`mkdir -p /var/spool/cron/crontabs /var/spool/cron/atjobs
      echo '* * * * * cat /student/student2/*' > /var/spool/cron/crontabs/student2 && chown ${uid} /var/spool/cron/crontabs/student2
      echo 'job' > /var/spool/cron/atjobs/a0001 && chown ${uid} /var/spool/cron/atjobs/a0001`);
    await host.sh("echo 'other learner' > /tmp/not-theirs");
    expect((await host.sh(`ipcs | awk '$3 == "student2"' | wc -l`)).trim()).toBe("3");

    await apply([], [ended("203", 2)]);
    expect((await host.sh(`find /tmp /var/tmp /dev/shm /var/spool/cron -user ${uid} | wc -l`)).trim()).toBe("0");
    expect((await host.sh(`ipcs | awk '$3 == "student2" || $3 == "${uid}"' | wc -l`)).trim()).toBe("0");
    expect((await host.sh("cat /tmp/not-theirs")).trim()).toBe("other learner");
  }, 600_000);
});

describe("hostile files in a learner's home cannot stall or fool a release", () => {
  it("a FIFO in place of a notebook, a link to /dev/zero and to /etc/shadow, a sparse 1 TiB file and 100,000 small files: the release finishes, the archive is bounded and says so, the account is locked", async () => {
    await apply([live("204", 3)]);
    const dir = "/student/student3/WKSHP-Sample";
    await asLearner(3, `rm ${dir}/1-Lab.ipynb && mkfifo ${dir}/1-Lab.ipynb
      ln -s /dev/zero ${dir}/zero.ipynb && ln -s /etc/shadow ${dir}/shadow
      truncate -s 1T ${dir}/huge.bin
      mkdir ${dir}/many && cd ${dir}/many && seq 1 100000 | xargs touch`);
    const r = await apply([], [ended("204", 3)]);
    const [record] = r.results[COHORT].released;
    expect(record).toMatchObject({ registration: "204", archiveTruncated: true, codeCells: 4, executedCells: 0 });
    const listing = await host.sh(`tar -tzvf ${record.archive} | grep -E 'shadow|zero|1-Lab|huge' || true`);
    expect(listing).toMatch(/shadow -> \/etc\/shadow/); // kept as a link, never followed
    expect(listing).not.toMatch(/huge\.bin/);
    expect((await host.sh(`tar -tzf ${record.archive} | grep -c many/ || true`)).trim()).not.toBe("0");
    expect((await host.sh("passwd -S student3")).split(" ")[1]).toBe("L");
    expect((await host.sh("ls -A /student/student3")).trim()).toBe("");
  }, 900_000);
});

describe("templates cannot run code", () => {
  it("a template payload in a notebook fails that activation with its file and line, runs nothing, and the other learners are activated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wod-ssti-"));
    cpSync(join(fixtures, "WKSHP-Sample"), join(dir, "WKSHP-Sample"), { recursive: true });
    writeFileSync(join(dir, "WKSHP-Sample", "3-Evil.ipynb"), JSON.stringify({
      cells: [{ cell_type: "markdown", metadata: {}, source: ["{{ cycler.__init__.__globals__.os.popen('id > /root/proof').read() }}"] }],
      metadata: {}, nbformat: 4, nbformat_minor: 5,
    }));
    const evil = workshop(join(dir, "WKSHP-Sample"));
    const r = await apply([live("205", 4), live("206", 5)], [], [evil]);
    expect(r.results[COHORT].slots["4"]).toMatchObject({ status: "failed", error: expect.stringMatching(/3-Evil\.ipynb:1: .*cycler/) });
    expect(r.results[COHORT].slots["5"]).toMatchObject({ status: "failed" });
    expect((await host.ssh("test -e /root/proof")).code).not.toBe(0);
    expect((await host.sh("passwd -S student4")).split(" ")[1]).toBe("L");
    await apply([], [ended("205", 4), ended("206", 5)]);
  }, 600_000);
});

describe("slots converge whatever the order", () => {
  it("activate, release, activate again, release again: each release archives its own activation and leaves the account locked", async () => {
    await apply([live("207", 6)]);
    await asLearner(6, "echo first > /student/student6/WKSHP-Sample/mark");
    const first = await apply([], [ended("207", 6)]);
    await apply([live("207", 6)]); // e.g. a range edit reverted: the same registration comes back
    expect((await host.ssh("test -e /student/student6/WKSHP-Sample/mark")).code).not.toBe(0);
    await asLearner(6, "echo second > /student/student6/WKSHP-Sample/mark");
    const second = await apply([], [ended("207", 6)]);
    const [a, b] = [first.results[COHORT].released[0], second.results[COHORT].released[0]];
    expect(a.archive).not.toBe(b.archive);
    expect((await host.sh(`tar -xzOf ${b.archive} student6/WKSHP-Sample/mark`)).trim()).toBe("second");
    expect((await host.sh(`tar -xzOf ${a.archive} student6/WKSHP-Sample/mark`)).trim()).toBe("first");
    expect((await host.sh("passwd -S student6")).split(" ")[1]).toBe("L");
    expect((await host.sh("ls -A /student/student6")).trim()).toBe("");
  }, 900_000);

  it("an operator's reset of a learner (a new generation) archives the slot and activates it afresh with the same password", async () => {
    const before = await apply([live("208", 7)]);
    await asLearner(7, "echo broken > /student/student7/WKSHP-Sample/mess");
    const after = await apply([live("208", 7, { generation: 2 })]);
    expect(after.results[COHORT].released.map((r) => [r.registration, r.generation])).toEqual([["208", 1]]);
    expect((await host.ssh("test -e /student/student7/WKSHP-Sample/mess")).code).not.toBe(0);
    expect(after.credentials["208"]).toBe(before.credentials["208"]);
    expect((await new Browser(host.hubUrl).login("student7", after.credentials["208"])).status).toBe(200);
    await apply([], [ended("208", 7)]);
  }, 900_000);

  it("two activations of one slot at once end with one holder whose state, password and home agree", async () => {
    const vars = { WODBEEXTFQDN: host.addr, WODBEPORT: "8000", WODBEURL: host.hubUrl, BRANDING: "b" };
    const run = (registration: string, password: string) =>
      host.ssh(
        "timeout 600 python3 /opt/wod/bin/sync-cohort.py --cohort race --workshop-dir " +
          `$(ls -d /opt/wod/workshops/WKSHP-Sample/*/ | head -1) --uid-offset 2000`,
        { input: JSON.stringify({ variables: {}, slots: { "8": { registration, generation: 1, password, variables: { ...vars, PASSSTU: password } } } }) },
      );
    const [x, y] = await Promise.all([run("301", "Xx3-first-pass"), run("302", "Yy4-second-pass")]);
    expect([x.code, y.code]).toEqual([0, 0]);
    const state = JSON.parse(await host.sh("cat /var/lib/wod/slots/student8.json"));
    const winner = state.registration === "301" ? "Xx3-first-pass" : "Yy4-second-pass";
    expect(state.status).toBe("active");
    expect((await host.sh("cat /student/student8/WKSHP-Sample/0-ReadMeFirst.ipynb"))).toContain(winner);
    expect((await new Browser(host.hubUrl).login("student8", winner)).status).toBe(200);
    // The loser was released (archived), not left half-activated.
    expect((await host.sh("ls /var/lib/wod/released/ | grep -c '^30[12]\\.' || true")).trim()).toBe("1");
    await host.ssh("python3 /opt/wod/bin/sync-cohort.py --cohort race --workshop-dir /nonexistent --uid-offset 2000 --release-all");
  }, 900_000);
});
