// The stack's cohorts applied to a real Debian host with JupyterHub: the real decision and
// components under Pulumi's mock runtime, their commands run over SSH as the engine would
// (test/host/apply.ts). Checked as a learner (browser, files), an operator (results, records,
// accounts) and an adversary (old cookies and tokens, leftovers, hostile files) would.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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
const NOW = new Date();
const HOUR = 3_600_000;

const workshop = (fields: Partial<Workshop> = {}): Workshop => ({
  name: "Sample", title: "A sample workshop", description: "", active: true, capacity: 5, priority: 0, range: { min: 1, max: 5 }, reset: false, ldap: false,
  monoappliance: false, multiappliance: false, replayId: null, varpass: true, compile: false, workshopImg: "", badgeImg: "",
  beta: false, category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "", location: "lab", alternateLocation: [],
  folder: "WKSHP-Sample", dir: join(fixtures, "WKSHP-Sample"), locations: ["lab"], contentHash: hashFolder(join(fixtures, "WKSHP-Sample")),
  ...fields,
});

const live = (id: string, slot: number, fields: Partial<RegistrationRow> = {}): RegistrationRow => ({
  id, participantId: id, email: `${id}@example.org`, workshop: "Sample", location: "lab", slot, status: "active", generation: 1,
  releaseAttempts: 0, startsAt: new Date(NOW.getTime() - HOUR), endsAt: new Date(NOW.getTime() + 3 * HOUR), ...fields,
});
const snapshot = (registrations: RegistrationRow[], closing: Snapshot["closing"] = []): Snapshot => ({ registrations, closing, learners: [], studentServers: [] });
const apply = (registrations: RegistrationRow[], closing: Snapshot["closing"] = [], catalog = [workshop()]) => applier.apply(catalog, snapshot(registrations, closing), config);
const cellText = (cell: { source: string | string[] }) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);

beforeAll(async () => {
  host = await startTestHost();
  applier = new HostApplier(host);
  config = parseStackConfig({
    locations: [{ name: "lab", provider: "existing", host: host.addr, slotPool: { min: 1, max: 5 } }],
    adminCidrs: ["10.231.0.0/16"], branding: 'ACME "Labs" \\ {{ not a template }}',
  }, "host-test");
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("a cohort applied to a backend", () => {
  let first: Awaited<ReturnType<typeof apply>>;

  it("bootstraps the backend and activates a registration: its password logs in through the hub's form, which starts the server and opens 0-ReadMeFirst.ipynb", async () => {
    first = await apply([live("101", 2)]);
    expect(first.results["lab-WKSHP-Sample-s0"].slots).toEqual({ "2": { registration: "101", generation: 1, status: "active" } });
    const token = (await host.sh("cat /etc/wod/hub-token")).trim();
    expect((await hubApi(host, token, "/users/student2")).json.servers).toEqual({}); // a fresh hub user, no server until the learner comes
    const page = await new Browser(host.hubUrl).login("student2", first.credentials["101"]);
    expect(page.status).toBe(200);
    expect(page.url).toBe("/user/student2/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb");
  }, 900_000);

  it("renders the workshop for this learner as the learner: variables, conditionals, JSON kept valid, files owned by the learner", async () => {
    const dir = "/student/student2/WKSHP-Sample";
    const readme = JSON.parse(await host.sh(`cat ${dir}/0-ReadMeFirst.ipynb`));
    const [welcome, conditional, portal] = readme.cells.map(cellText);
    expect(welcome).toContain("# Welcome to WKSHP-Sample, student2");
    expect(welcome).toContain(`Your password is \`${first.credentials["101"]}\`.`);
    expect(welcome).toContain('Brought to you by ACME "Labs" \\ {{ not a template }}.');
    expect(conditional).toBe("This workshop has no web console.\nNo database for this workshop.");
    expect(portal).toBe(`Back to the portal: http://${host.addr}:8000`);
    // README.md is not a kind WoD renders: copied byte for byte.
    expect(await host.sh(`cat ${dir}/README.md`)).toBe(readFileSync(join(fixtures, "WKSHP-Sample/README.md"), "utf8"));
    const png = readFileSync(join(fixtures, "WKSHP-Sample/pictures/logo.png"));
    expect((await host.sh(`sha256sum ${dir}/pictures/logo.png`)).split(" ")[0]).toBe(createHash("sha256").update(png).digest("hex"));
    expect((await host.sh("find /student/student2 ! -user student2 -o ! -group student2")).trim()).toBe("");
    expect((await host.sh("stat -c %a /student/student2")).trim()).toBe("700");
  });

  it("never puts a password on a command line or in the results", async () => {
    const pw = first.credentials["101"];
    expect(first.ran.join("\n")).not.toContain(pw);
    expect(JSON.stringify(first.results)).not.toContain(pw);
  });

  it("leaves an unchanged learner alone when another joins: same files, same running server", async () => {
    await host.sh("su student2 -c 'echo my notes > /student/student2/WKSHP-Sample/notes.txt'");
    const pid = (await host.sh("pgrep -u student2 -f jupyterhub-singleuser")).trim();
    const second = await apply([live("101", 2), live("102", 3)]);
    expect(second.results["lab-WKSHP-Sample-s0"].summary).toMatchObject({ activated: 1, unchanged: 1 });
    expect((await host.sh("cat /student/student2/WKSHP-Sample/notes.txt")).trim()).toBe("my notes");
    expect((await host.sh("pgrep -u student2 -f jupyterhub-singleuser")).trim()).toBe(pid);
    const peek = await host.ssh("su student3 -c 'ls /student/student2'");
    expect(peek.stderr).toContain("Permission denied");
  }, 600_000);

  it("releases a learner whose registration ended: completion ratio, archive of the home, wiped home, locked account, hub user gone", async () => {
    const lab = "/student/student2/WKSHP-Sample/1-Lab.ipynb";
    await host.sh(`su student2 -c "python3 -" <<'EOF'
import json
nb = json.load(open("${lab}"))
code = [c for c in nb["cells"] if c["cell_type"] == "code"]
for i, cell in enumerate(code[:2]):
    cell["execution_count"] = i + 1
json.dump(nb, open("${lab}", "w"))
EOF`);
    const ended = await apply([live("102", 3)], [{ id: "101", workshop: "Sample", location: "lab", slot: 2, status: "cancelled", generation: 1, releaseAttempts: 0 }]);
    const [record] = ended.results["lab-WKSHP-Sample-s0"].released;
    expect(record).toMatchObject({ registration: "101", slot: 2, codeCells: 4, executedCells: 2, completionRatio: 0.5, archiveTruncated: false });
    expect((await host.sh(`tar -xzOf ${record.archive} student2/WKSHP-Sample/notes.txt`)).trim()).toBe("my notes");
    expect((await host.sh(`stat -c %a ${record.archive}`)).trim()).toBe("600");
    expect((await host.sh("ls -A /student/student2")).trim()).toBe("");
    expect((await host.sh("passwd -S student2")).split(" ")[1]).toBe("L");
    expect((await host.ssh("pgrep -u student2")).code).toBe(1);
    const token = (await host.sh("cat /etc/wod/hub-token")).trim();
    expect((await hubApi(host, token, "/users/student2")).status).toBe(404);
  }, 600_000);
});

describe("interrupted and repeated syncs", () => {
  it("an activation killed half-way is redone from scratch by the next sync", async () => {
    const applied = await apply([live("102", 3), live("103", 4)]);
    const { line, stdin } = applied.syncs["lab-WKSHP-Sample-s0"];
    // Slot 4 again from scratch: a new generation, killed once its state says "activating".
    const again = JSON.parse(stdin);
    again.slots["4"].generation = 2;
    const killed = await host.ssh(
      `setsid ${line} <&0 >/dev/null 2>&1 & pid=$!
       until grep -qs '"generation":2.*"status":"activating"' /var/lib/wod/slots/student4.json; do sleep 0.01; done
       kill -KILL -- -$pid; wait $pid; echo "exit $?"`,
      { input: JSON.stringify(again) },
    );
    expect(killed.stdout.trim()).toBe("exit 137");
    expect((await host.sh("passwd -S student4")).split(" ")[1]).toBe("L"); // never live while half-built
    const redone = await host.ssh(line, { input: JSON.stringify(again) });
    expect(redone.code, redone.stderr).toBe(0);
    expect(JSON.parse(redone.stdout).slots["4"]).toMatchObject({ registration: "103", generation: 2, status: "active" });
    const readme = JSON.parse(await host.sh("cat /student/student4/WKSHP-Sample/0-ReadMeFirst.ipynb"));
    expect(cellText(readme.cells[0])).toContain("You are student 4");
    expect((await new Browser(host.hubUrl).login("student4", applied.credentials["103"])).status).toBe(200);
  }, 600_000);

  it("a release killed after its archive resumes without archiving the wiped home over it", async () => {
    const applied = await apply([live("102", 3), live("103", 4, { generation: 2 })]);
    const { line, stdin } = applied.syncs["lab-WKSHP-Sample-s0"];
    const without4 = JSON.parse(stdin);
    delete without4.slots["4"];
    const state = JSON.parse(await host.sh("cat /var/lib/wod/slots/student4.json"));
    const killed = await host.ssh(
      `setsid ${line} <&0 >/dev/null 2>&1 & pid=$!
       until [ -e /var/lib/wod/released/${state.activation}.json.partial ]; do sleep 0.005; done
       kill -KILL -- -$pid; wait $pid; echo "exit $?"`,
      { input: JSON.stringify(without4) },
    );
    expect(killed.stdout.trim()).toBe("exit 137");
    const archive = await host.sh(`sha256sum /var/lib/wod/archive/${state.activation}.tar.gz`);
    const resumed = await host.ssh(line, { input: JSON.stringify(without4) });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).released.map((r: { activation: string }) => r.activation)).toEqual([state.activation]);
    expect(await host.sh(`sha256sum /var/lib/wod/archive/${state.activation}.tar.gz`)).toBe(archive);
    expect((await host.sh(`tar -tzf /var/lib/wod/archive/${state.activation}.tar.gz`)).split("\n")).toContain("student4/WKSHP-Sample/0-ReadMeFirst.ipynb");
    expect((await host.sh("passwd -S student4")).split(" ")[1]).toBe("L");
  }, 600_000);

  it("never shows a password or the hub token in process lists, environments, logs or files other than their own", async () => {
    await host.sh(`rm -f /root/stop-watch; nohup bash -c 'end=$((SECONDS + 120))
      while ((SECONDS < end)) && [ ! -e /root/stop-watch ]; do
        ps -eo args; cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n"
      done' >/root/watch.log 2>&1 </dev/null &`);
    const applied = await apply([live("102", 3), live("104", 5)]);
    await apply([live("102", 3)], [{ id: "104", workshop: "Sample", location: "lab", slot: 5, status: "cancelled", generation: 1, releaseAttempts: 0 }]);
    await host.sh("touch /root/stop-watch; sleep 0.5");
    const watched = await host.sh("cat /root/watch.log");
    expect(watched).toContain("sync-cohort.py --cohort lab-WKSHP-Sample-s0"); // the sampler did see the syncs
    const token = (await host.sh("cat /etc/wod/hub-token")).trim();
    const secrets = [applied.credentials["104"], token];
    for (const s of secrets) expect(watched).not.toContain(s);
    // grep takes the secrets on stdin (-f -), so the search itself does not leak them.
    const leaks = await host.ssh(
      "grep -rlaF -f - /var/log /root /etc /tmp /run /var/lib/wod/slots /var/lib/wod/released --exclude=hub-token --exclude=watch.log",
      { input: secrets.join("\n") + "\n" },
    );
    expect(leaks.stdout).toBe("");
    expect(leaks.code).toBe(1); // searched and found nothing
  }, 600_000);
});

describe("through sudo, as a non-root SSH user", () => {
  it("the components' commands run the same through `sudo -n sh -c` for an sshUser that is not root; with startServers the hub starts the learner's server at activation", async () => {
    const key = readFileSync(join(host.dir, "key.pub"), "utf8");
    await host.sh(`id wodadmin >/dev/null 2>&1 || useradd -m -s /bin/bash wodadmin
      install -d -m 700 -o wodadmin -g wodadmin ~wodadmin/.ssh
      cat > ~wodadmin/.ssh/authorized_keys && chown wodadmin: ~wodadmin/.ssh/authorized_keys
      echo 'wodadmin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/wodadmin`, key);
    const sudoConfig = parseStackConfig({
      locations: [{ name: "lab", provider: "existing", host: host.addr, sshUser: "wodadmin", slotPool: { min: 1, max: 5 } }],
      adminCidrs: ["10.231.0.0/16"], startServers: true,
    }, "host-test-sudo");
    const viaSudo = new HostApplier(host);
    const applied = await viaSudo.apply([workshop()], snapshot([live("102", 3), live("105", 1)]), sudoConfig);
    expect(applied.ran.filter((l) => !l.startsWith("copy ")).every((l) => l.startsWith("sudo -n sh -c "))).toBe(true);
    expect(applied.results["lab-WKSHP-Sample-s0"].slots["1"]).toMatchObject({ registration: "105", status: "active" });
    const token = (await host.sh("cat /etc/wod/hub-token")).trim();
    expect((await hubApi(host, token, "/users/student1")).json.servers[""].ready).toBe(true); // before any login
    expect((await new Browser(host.hubUrl).login("student1", applied.credentials["105"])).status).toBe(200);
  }, 900_000);
});

describe("upgrading from per-account resources", () => {
  it("a slot an older version activated is adopted as it is: the learner keeps their files and gets the password the write-back records; its release works", async () => {
    // What activate-slot.sh left: the state file of the old format, a home with work in it.
    const dir = (await host.sh("ls -d /opt/wod/workshops/WKSHP-Sample/*/ | head -1")).trim().replace(/\/$/, "");
    await host.sh(`usermod -U -e '' student5 2>/dev/null; echo 'student5:OldPassw0rd' | chpasswd
      mkdir -p /student/student5/WKSHP-Sample && cp ${dir}/*.ipynb /student/student5/WKSHP-Sample/
      echo 'old work' > /student/student5/WKSHP-Sample/mine.txt && chown -R student5: /student/student5
      printf '{"registration":"900","slot":5,"user":"student5","workshop":"WKSHP-Sample","workshopDir":"${dir}","status":"active"}\\n' > /var/lib/wod/slots/student5.json`);
    const adopted = await apply([live("102", 3), live("900", 5)]);
    expect(adopted.results["lab-WKSHP-Sample-s0"].slots["5"]).toMatchObject({ registration: "900", status: "active" });
    expect(adopted.results["lab-WKSHP-Sample-s0"].summary).toMatchObject({ unchanged: 2 });
    expect((await host.sh("cat /student/student5/WKSHP-Sample/mine.txt")).trim()).toBe("old work");
    expect((await new Browser(host.hubUrl).login("student5", adopted.credentials["900"])).status).toBe(200);
    expect((await new Browser(host.hubUrl).login("student5", "OldPassw0rd")).url).toBe("/hub/login");
    const released = await apply([live("102", 3)], [{ id: "900", workshop: "Sample", location: "lab", slot: 5, status: "cancelled", generation: 1, releaseAttempts: 0 }]);
    expect(released.results["lab-WKSHP-Sample-s0"].released).toMatchObject([{ registration: "900", codeCells: 4 }]);
    expect((await host.sh("passwd -S student5")).split(" ")[1]).toBe("L");
  }, 600_000);
});
