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

  it("bootstraps the backend and activates a registration: its password logs in through the hub's form and opens 0-ReadMeFirst.ipynb", async () => {
    first = await apply([live("101", 2)]);
    expect(first.results["lab-WKSHP-Sample-s0"].slots).toEqual({ "2": { registration: "101", generation: 1, status: "active" } });
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
