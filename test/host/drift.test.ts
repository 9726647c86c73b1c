// The drift check on a real backend (test/host): the stack's cohorts applied by the real decision
// and components (test/host/apply.ts), then components/host/check-backend.py run over SSH as
// `wod drift` runs it, told what the applied syncs hold. A clean host reports nothing; each planted
// drift — an unlocked released account, a leftover hub user, a changed notebook, a released
// slot's process, an unknown student user — is found and named; the check itself writes nothing.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import type { Workshop } from "../../infra/catalog/schema";
import type { RegistrationRow } from "../../infra/db/snapshot";
import { hashFolder } from "../../infra/catalog/load";
import { type BackendTarget, checkBackends, manifest } from "../../infra/drift/check";
import type { HostReader } from "../../infra/reconcile/host-facts";
import { type Applied, HostApplier } from "./apply";
import { collectHostFacts } from "../../infra/reconcile/host-facts";
import { Browser, fixtures, hubApi, startTestHost, type TestHost } from "./testhost";

let host: TestHost;
let applier: HostApplier;
let config: StackConfig;
const NOW = new Date();
const HOUR = 3_600_000;
const DIR = join(fixtures, "WKSHP-Sample");

const workshop: Workshop = {
  name: "Sample", title: "A sample workshop", description: "", active: true, capacity: 5, priority: 0, range: { min: 1, max: 5 }, reset: false, ldap: false,
  monoappliance: false, multiappliance: false, replayId: null, varpass: true, compile: false, workshopImg: "", badgeImg: "",
  beta: false, category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "", location: "lab", alternateLocation: [],
  folder: "WKSHP-Sample", dir: DIR, locations: ["lab"], contentHash: hashFolder(DIR),
};
const CONTENT = `/opt/wod/workshops/WKSHP-Sample/${workshop.contentHash}`;

const live = (id: string, slot: number): RegistrationRow => ({
  id, participantId: id, email: `${id}@example.org`, workshop: "Sample", location: "lab", slot, status: "active", generation: 1,
  releaseAttempts: 0, startsAt: new Date(NOW.getTime() - HOUR), endsAt: new Date(NOW.getTime() + 3 * HOUR),
});

/** The test host as the drift check reaches a backend: the command over SSH, the expected state on stdin. */
const reader = (): HostReader => ({
  async read(_address, command, _hostKey, input) {
    const r = await host.ssh(command, { input });
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  },
});

/** What the stack's last applied syncs hold on the backend, as `wod drift` derives it from the state. */
function target(applied: Applied): BackendTarget {
  const slots: BackendTarget["slots"] = {};
  for (const r of Object.values(applied.results)) for (const [slot, s] of Object.entries(r.slots)) slots[slot] = s;
  return { location: "lab", address: host.addr, sshUser: "root", uidOffset: 2000, slotPool: { min: 1, max: 5 }, slots, contents: [{ dir: CONTENT, files: manifest(DIR) }] };
}

/** Everything the check could write: wod's state, accounts, hub's users, the workshop folders. */
const footprint = async () =>
  host.sh(`(ls -lR --time-style=full-iso /var/lib/wod /opt/wod/workshops; sha256sum /etc/shadow /etc/passwd; find /var/lib/wod -type f -exec sha256sum {} +) 2>&1 | sha256sum`);

beforeAll(async () => {
  host = await startTestHost();
  applier = new HostApplier(host);
  config = parseStackConfig({ locations: [{ name: "lab", provider: "existing", host: host.addr, slotPool: { min: 1, max: 5 } }], adminCidrs: ["10.231.0.0/16"] }, "drift-test");
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("the drift check on a backend", () => {
  let applied: Applied;

  it("reports nothing on a host that matches the stack (learners active, one released), and writes nothing", async () => {
    await applier.apply([workshop], { registrations: [live("101", 2), live("102", 3)], closing: [], learners: [], studentServers: [] }, config, NOW);
    applied = await applier.apply([workshop], {
      registrations: [live("102", 3)], closing: [{ id: "101", workshop: "Sample", location: "lab", slot: 2, status: "cancelled", generation: 1, releaseAttempts: 0 }],
      learners: [], studentServers: [],
    }, config, NOW);
    expect(applied.results["lab-WKSHP-Sample-s0"].released.map((r) => r.registration)).toEqual(["101"]);
    const before = await footprint();
    const r = await checkBackends([target(applied)], reader());
    expect(r).toEqual({ findings: [], checked: ["lab"], unchecked: [] });
    expect(await footprint()).toBe(before);
  }, 900_000);

  it("the hub's last sign of a learner is read for the live view: none before they log in, their login after", async () => {
    const facts = () => collectHostFacts(reader(), { servers: [], backends: [{ location: "lab", address: host.addr }] });
    expect((await facts()).hubLogins).toEqual({});
    const before = Date.now();
    const page = await new Browser(host.hubUrl).login("student3", applied.credentials["102"]);
    expect(page.status).toBe(200);
    const seen = (await facts()).hubLogins!["102"];
    expect(seen.getTime()).toBeGreaterThan(before - 60_000); // the test host's clock is this machine's
    expect(Object.keys((await facts()).hubLogins!)).toEqual(["102"]);
  }, 600_000);

  it("finds each planted drift: an unlocked released account, a leftover hub user, a changed notebook, a released slot's process, an unknown student user", async () => {
    const token = (await host.sh("cat /etc/wod/hub-token")).trim();
    await host.sh("usermod -U student2"); // released slot 2: its old password works again
    expect((await hubApi(host, token, "/users/student4", "POST")).status).toBe(201); // a hub user for a slot nobody holds
    await host.sh(`printf ' ' >> ${CONTENT}/1-Lab.ipynb`); // the shipped notebook, edited on the machine
    await host.sh("setpriv --reuid=2005 --regid=2005 --clear-groups sleep 900 </dev/null >/dev/null 2>&1 &"); // a process of released slot 5's uid
    await host.sh("useradd -M -u 4999 student999"); // outside the slot pool
    const before = await footprint();
    const r = await checkBackends([target(applied)], reader());
    expect(r.unchecked).toEqual([]);
    expect(r.findings.map((f) => [f.what, f.where])).toEqual([
      ["unknown-user", "backend lab: student999"],
      ["account-unlocked", "backend lab: slot 2 (student2)"],
      ["hub-user", "backend lab: slot 4 (student4)"],
      ["processes", "backend lab: slot 5 (student5)"],
      ["content-altered", `backend lab: ${CONTENT}`],
    ]);
    expect(r.findings.find((f) => f.what === "content-altered")!.detail).toBe("changed: 1-Lab.ipynb");
    expect(r.findings.find((f) => f.what === "processes")!.detail).toBe("1 process(es) of student5 are running");
    expect(await footprint()).toBe(before);

    // Without the checkout's file list (the catalog moved on), the folder's own hash still tells.
    const blind = await checkBackends([{ ...target(applied), contents: [{ dir: CONTENT, files: null }] }], reader());
    expect(blind.findings.find((f) => f.what === "content-altered")!.detail).toMatch(/hash to [0-9a-f]{16}, not to the /);
  }, 600_000);

  it("an active learner's slot the host lost, and a folder gone, are drift too; an unreachable backend is reported unchecked, never clean", async () => {
    await host.sh(`rm /var/lib/wod/slots/student3.json && mv ${CONTENT} ${CONTENT}.moved`);
    const r = await checkBackends([target(applied)], reader());
    expect(r.findings.filter((f) => f.what === "slot-state" || f.what === "content-missing").map((f) => [f.what, f.where])).toEqual([
      ["slot-state", "backend lab: slot 3 (student3)"],
      ["content-missing", `backend lab: ${CONTENT}`],
    ]);
    await host.sh(`mv ${CONTENT}.moved ${CONTENT}`);
    const down: HostReader = { read: async () => Promise.reject(new Error("ssh: connect to host 192.0.2.1 port 22: Connection timed out")) };
    const unreachable = await checkBackends([{ ...target(applied), address: "192.0.2.1" }], down);
    expect(unreachable).toEqual({ findings: [], checked: [], unchecked: [{ what: "backend lab (192.0.2.1)", reason: "ssh: connect to host 192.0.2.1 port 22: Connection timed out" }] });
  }, 600_000);
});
